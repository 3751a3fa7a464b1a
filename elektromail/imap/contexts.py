"""SEARCH RETURN (UPDATE) contexts (RFC 5267 §4.3): searches whose results the session keeps
up to date, telling the client ADDTO and REMOVEFROM as messages arrive, change flags or go.

Pure code. A context holds its bound search key and the UIDs it matched; the session reports,
as Dovecot does, with context position 0 and sets in mailbox order: REMOVEFROM of expunged
results before the EXPUNGE responses (their sequence numbers are still valid then), and, for
messages added or whose flags changed, a fresh evaluation of those messages alone, reported
after the EXISTS and FETCH responses that carry the cause (§4.3.3).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from elektromail.imap import format as fmt
from elektromail.imap.seqset import format_sequence_set
from elektromail.imap.view import MailboxView

# As Dovecot (CLIENT_MAX_SEARCH_UPDATES): more are refused with NO [NOUPDATE] (§4.3.1).
MAX_CONTEXTS = 10

# Evaluates a context's search on some UIDs of the view: the UIDs that match.
Evaluate = Callable[[set[int]], Awaitable[set[int]]]


# Fetches messages for the client (RFC 5465 §7 UPDATE's fetch-att): their FETCH responses.
FetchNew = Callable[[list[int]], Awaitable[bytes]]


@dataclass
class UpdateContext:
    tag: str
    evaluate: Evaluate  # the search as bound when it was given (its sequence sets then)
    uid: bool  # UID SEARCH: report UIDs, else sequence numbers
    results: set[int] = field(default_factory=set)  # UIDs
    # RFC 5465 §7: arrivals that join the result are fetched with UPDATE's fetch-att list
    # first (not messages that join by a change of flags); `known_to`: the largest UID looked
    # at so far, beyond which a message is an arrival
    fetch: FetchNew | None = None
    known_to: int = 0


class Contexts:
    """The selected mailbox's update contexts, by tag."""

    def __init__(self) -> None:
        self._by_tag: dict[str, UpdateContext] = {}

    def __bool__(self) -> bool:
        return bool(self._by_tag)

    def __contains__(self, tag: str) -> bool:
        return tag in self._by_tag

    def full(self) -> bool:
        return len(self._by_tag) >= MAX_CONTEXTS

    def add(self, context: UpdateContext) -> None:
        self._by_tag[context.tag] = context

    def cancel(self, tag: str) -> bool:
        return self._by_tag.pop(tag, None) is not None

    def clear(self) -> None:
        self._by_tag.clear()

    def removed_by_expunge(self, view: MailboxView, expunged: Iterable[int]) -> bytes:
        """REMOVEFROM for the results among `expunged` UIDs, to send before the EXPUNGE
        responses while `view` still holds them."""
        gone = set(expunged)
        out = []
        for context in self._by_tag.values():
            removed = context.results & gone
            if removed:
                context.results -= removed
                out.append(_esearch(context, view, removed, set()))
        return b"".join(out)

    async def changed(self, view: MailboxView, uids: set[int]) -> bytes:
        """ADDTO and REMOVEFROM after messages `uids` were added or had their flags changed:
        each context's key evaluated on those of them the view still holds."""
        present = {uid for uid in uids if uid in view.flags}
        if not present:
            return b""
        out = []
        for context in list(self._by_tag.values()):
            matched = await context.evaluate(present)
            if self._by_tag.get(context.tag) is not context:
                continue  # cancelled meanwhile
            added = matched - context.results
            removed = (present - matched) & context.results
            arrived = sorted(uid for uid in added if uid > context.known_to)
            context.known_to = max(context.known_to, max(present))
            if arrived and context.fetch is not None:
                # as Dovecot and the example of RFC 5465 §7 order them: EXISTS, FETCH, ESEARCH
                out.append(await context.fetch(arrived))
            if added or removed:
                context.results |= added
                context.results -= removed
                out.append(_esearch(context, view, removed, added))
        return b"".join(out)


def _esearch(
    context: UpdateContext, view: MailboxView, removed: set[int], added: set[int]
) -> bytes:
    """`* ESEARCH (TAG "a") UID REMOVEFROM (0 3) ADDTO (0 5:6)` (RFC 5267 §4.3.3, §4.3.4)."""
    out = [b"* ESEARCH (TAG " + fmt.string(context.tag) + b")"]
    if context.uid:
        out.append(b"UID")
    for name, uids in ((b"REMOVEFROM", removed), (b"ADDTO", added)):
        if not uids:
            continue
        numbers = sorted(uids) if context.uid else sorted(_seqs(view, uids))
        if numbers:
            out.append(name + b" (0 " + format_sequence_set(numbers).encode("ascii") + b")")
    if len(out) == (2 if context.uid else 1):
        return b""  # none of them has a sequence number any more
    return b" ".join(out) + fmt.CRLF


def _seqs(view: MailboxView, uids: Iterable[int]) -> list[int]:
    return [seq for seq in map(view.seq_of, uids) if seq is not None]
