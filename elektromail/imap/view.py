"""The selected mailbox as one session sees it: sequence numbers <-> UIDs, flags, and the
changes other sessions made that this session has not been told about yet.

Pure code. UIDs live in the store; sequence numbers exist only here. A change from elsewhere
is queued and applied when the protocol may report it (RFC 9051 §7: EXISTS at any response,
EXPUNGE never during FETCH, STORE or SEARCH).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain


@dataclass
class Pending:
    added: dict[int, tuple[str, ...]] = field(default_factory=dict)  # uid -> flags
    recent: set[int] = field(default_factory=set)  # of `added`, the ones recent here
    flags: dict[int, tuple[str, ...]] = field(default_factory=dict)  # uid -> new flags
    expunged: set[int] = field(default_factory=set)
    modseqs: dict[int, int] = field(default_factory=dict)  # of `flags`, uid -> mod-sequence


class MailboxView:
    """UIDs in ascending order (index + 1 is the sequence number) and their flags."""

    def __init__(
        self,
        mailbox_id: int,
        name: str,
        uidvalidity: int,
        uidnext: int,
        messages: Iterable[tuple[int, Sequence[str]]] | dict[int, tuple[str, ...]],
        readonly: bool,
        first_recent: int | None = None,
    ) -> None:
        """`messages`: (uid, flags) in UID order, or uid -> flags tuple (the view keeps that
        dict). `first_recent`: messages from this UID on are \\Recent in this session (RFC 3501
        §2.3.2); None where the dialect has no \\Recent (IMAP4rev2)."""
        self.mailbox_id = mailbox_id
        self.name = name
        self.uidvalidity = uidvalidity
        self.uidnext = uidnext
        self.readonly = readonly
        # built by comprehensions, not a loop of appends: SELECT of 100,000 messages; a dict
        # of tuples in UID order (what SELECT builds) is taken as it is
        self.flags: dict[int, tuple[str, ...]] = (
            messages
            if isinstance(messages, dict)
            else {uid: tuple(flags) for uid, flags in messages}
        )
        self.uids: list[int] = list(self.flags)
        self.recent: set[int] = set()
        if first_recent is not None:
            self.recent.update(self.uids[bisect_left(self.uids, first_recent) :])
        self.pending = Pending()
        # the keywords the session was told of in FLAGS (lower case -> spelling); it only
        # grows, so a keyword once announced stays valid in this session
        self.announced: dict[str, str] = {word.lower(): word for word in self.keywords()}
        self.saved: list[int] = []  # UIDs of the SEARCH result saved as `$` (RFC 5182)
        # lower-case flag -> the UIDs of `flags` that have it: built by the first SEARCH for a
        # flag and kept in step wherever `flags` changes, so SEEN needs no pass over the mailbox
        self._having: dict[str, set[int]] | None = None
        # UIDs added or whose flags changed since last taken, while SEARCH RETURN (UPDATE)
        # contexts watch (imap/contexts.py); None: nobody watches, nothing is kept
        self.touched: set[int] | None = None
        # Grows whenever `uids` does or shrinks: what is cached by it (SORT's order, THREAD's
        # rows) stays valid while it stays, as a message's sort and thread keys never change
        self.generation = 0

    # --- lookups ----------------------------------------------------------------------------

    @property
    def exists(self) -> int:
        return len(self.uids)

    def largest_uid(self) -> int:
        return self.uids[-1] if self.uids else 0

    def seq_of(self, uid: int) -> int | None:
        i = bisect_left(self.uids, uid)
        return i + 1 if i < len(self.uids) and self.uids[i] == uid else None

    def uids_in_seq_ranges(self, ranges: Iterable[tuple[int, int]]) -> list[int]:
        """UIDs of the messages whose sequence numbers fall in the (lo, hi) ranges."""
        one = _one_range(ranges)
        if one is not None:
            return self.uids[max(one[0], 1) - 1 : min(one[1], len(self.uids))]
        out: list[int] = []
        for lo, hi in ranges:
            out.extend(self.uids[max(lo, 1) - 1 : min(hi, len(self.uids))])
        return _sorted_unique(out)

    def uids_in_uid_ranges(self, ranges: Iterable[tuple[int, int]]) -> list[int]:
        """The existing UIDs that fall in the (lo, hi) UID ranges."""
        one = _one_range(ranges)
        if one is not None:
            return self.uids[bisect_left(self.uids, one[0]) : bisect_left(self.uids, one[1] + 1)]
        out: list[int] = []
        for lo, hi in ranges:
            out.extend(self.uids[bisect_left(self.uids, lo) : bisect_left(self.uids, hi + 1)])
        return _sorted_unique(out)

    def unseen(self) -> int:
        return sum(1 for uid in self.uids if "\\Seen" not in self.flags[uid])

    def first_unseen(self) -> int | None:
        for seq, uid in enumerate(self.uids, 1):
            if "\\Seen" not in self.flags[uid]:
                return seq
        return None

    def uids_with_flag(self, flag: str) -> Set[int]:
        """The UIDs whose flags (as applied here, pending changes not) include `flag`, any
        case; a subset of `uids`. The set is the view's own: read it, never change it."""
        if self._having is None:
            self._having = _flag_index(self.flags)
        return self._having.get(flag.lower(), _NONE)

    def may_hold_deleted(self) -> bool:
        """Whether a message here may be flagged \\Deleted, as applied or in a change not yet
        reported. Every change of flags reaches the view through events as it commits, so
        False means EXPUNGE has nothing to remove and need not ask the store."""
        if self._having is not None:
            if self._having.get("\\deleted"):
                return True
        # flags come from the store (and STORE, APPEND) in their canonical spelling; one pass
        # here is cheaper than a flag index kept in step with every change of flags
        elif any(DELETED in flags for flags in self.flags.values()):
            return True
        pending = self.pending
        return any(
            flag.lower() == "\\deleted"
            for flags in chain(pending.added.values(), pending.flags.values())
            for flag in flags
        )

    def shown_flags(self, uid: int, flags: Sequence[str]) -> Sequence[str]:
        """`flags` as this session reports them: with \\Recent when the message is recent
        here (the store never holds \\Recent)."""
        if uid not in self.recent:
            return flags
        return _with_recent(tuple(flags))

    def keywords(self) -> list[str]:
        """Keywords in use in this mailbox, for the FLAGS response."""
        seen: dict[str, str] = {}
        # each distinct set of flags once, in UID order of first use (which spelling of a
        # keyword wins): most messages share a few
        for flags in dict.fromkeys(self.flags.values()):
            for flag in flags:
                if not flag.startswith("\\"):
                    seen.setdefault(flag.lower(), flag)
        return sorted(seen.values(), key=str.lower)

    def announce(self, flags: Iterable[str]) -> bool:
        """Note the keywords of `flags` the session has not been told of; True when there
        were any, and FLAGS (and PERMANENTFLAGS) must be sent again before they are used."""
        grew = False
        # each flag once, in the order first seen (the first spelling of a keyword is the
        # one told): FETCH of many messages passes each message's flags, mostly the same few
        for flag in dict.fromkeys(flags):
            if not flag.startswith("\\") and flag.lower() not in self.announced:
                self.announced[flag.lower()] = flag
                grew = True
        return grew

    def announced_keywords(self) -> list[str]:
        return sorted(self.announced.values(), key=str.lower)

    # --- changes made elsewhere -------------------------------------------------------------

    def is_new(self, uid: int) -> bool:
        """True when a message added elsewhere with this UID is not known here yet."""
        pending = self.pending
        return uid not in self.flags and uid not in pending.expunged and uid not in pending.added

    def note_added(self, uid: int, flags: Sequence[str], *, recent: bool = False) -> None:
        if uid not in self.flags and uid not in self.pending.expunged:
            self.pending.added[uid] = tuple(flags)
            if recent:
                self.pending.recent.add(uid)

    def note_flags(self, uid: int, flags: Sequence[str], modseq: int = 0) -> None:
        if uid in self.pending.added:
            self.pending.added[uid] = tuple(flags)
        elif uid in self.flags:
            self.pending.flags[uid] = tuple(flags)
            if modseq:
                self.pending.modseqs[uid] = modseq

    def saved_uids(self) -> list[int]:
        """`$` as UIDs that still exist (expunged ones drop out, RFC 5182 §2.1)."""
        return [uid for uid in self.saved if uid in self.flags]

    def note_expunged(self, uid: int) -> None:
        self.pending.recent.discard(uid)
        if self.pending.added.pop(uid, None) is None and uid in self.flags:
            self.pending.expunged.add(uid)
        self.pending.flags.pop(uid, None)

    def set_flags(self, uid: int, flags: Sequence[str]) -> None:
        """A change this session made itself (and reports in its own response)."""
        if uid in self.flags:
            self._reindex(uid, self.flags[uid], flags)
            self.flags[uid] = tuple(flags)
            self.pending.flags.pop(uid, None)
            if self.touched is not None:
                self.touched.add(uid)

    def take_expunges(self) -> list[int]:
        """Apply pending expunges; returns the sequence numbers to report, in the order
        they must be sent (each number is valid after the previous EXPUNGE)."""
        seqs = []
        for uid in sorted(self.pending.expunged, reverse=True):
            seq = self.seq_of(uid)
            if seq is not None:
                del self.uids[seq - 1]
                self._reindex(uid, self.flags.pop(uid), ())
                self.recent.discard(uid)
                seqs.append(seq)
        self.pending.expunged.clear()
        if seqs:
            self.generation += 1
        return seqs

    def take_added(self) -> bool:
        """Apply pending new messages; True when EXISTS grew."""
        if not self.pending.added:
            return False
        self.generation += 1
        for uid in sorted(self.pending.added):
            if uid > self.largest_uid():
                self.uids.append(uid)
                self.flags[uid] = self.pending.added[uid]
                self._reindex(uid, (), self.flags[uid])
                self.uidnext = max(self.uidnext, uid + 1)
                if uid in self.pending.recent:
                    self.recent.add(uid)
        if self.touched is not None:
            self.touched.update(self.pending.added)
        self.pending.added.clear()
        self.pending.recent.clear()
        return True

    def take_flag_changes(self) -> list[tuple[int, int, tuple[str, ...]]]:
        """Apply pending flag changes; returns (seq, uid, flags) to report."""
        out = []
        for uid in sorted(self.pending.flags):
            seq = self.seq_of(uid)
            if seq is not None:
                self._reindex(uid, self.flags[uid], self.pending.flags[uid])
                self.flags[uid] = self.pending.flags[uid]
                out.append((seq, uid, self.flags[uid]))
        if self.touched is not None:
            self.touched.update(uid for _, uid, _ in out)
        self.pending.flags.clear()
        return out

    def _reindex(self, uid: int, old: Sequence[str], new: Sequence[str]) -> None:
        """Keep `uids_with_flag` in step with a change of `uid`'s flags from `old` to `new`."""
        having = self._having
        if having is None or old == new:
            return
        before = {flag.lower() for flag in old}
        after = {flag.lower() for flag in new}
        for flag in before - after:
            having[flag].discard(uid)
        for flag in after - before:
            having.setdefault(flag, set()).add(uid)


DELETED = "\\Deleted"
_NONE: Set[int] = frozenset()  # what uids_with_flag gives for a flag no message has


def _flag_index(flags: dict[int, tuple[str, ...]]) -> dict[str, set[int]]:
    """lower-case flag -> UIDs, grouped by distinct set of flags first: a mailbox has few."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for uid, each in flags.items():
        groups.setdefault(each, []).append(uid)
    having: dict[str, set[int]] = {}
    for each, uids in groups.items():
        for flag in {flag.lower() for flag in each}:
            having.setdefault(flag, set()).update(uids)
    return having


def _sorted_unique(values: list[int]) -> list[int]:
    return sorted(set(values)) if values else values


def _one_range(ranges: Iterable[tuple[int, int]]) -> tuple[int, int] | None:
    """The range when `ranges` holds exactly one (1:*, the usual set): its slice of the
    view's UIDs is already ascending and unique, with no set to build and sort."""
    if isinstance(ranges, list | tuple) and len(ranges) == 1:
        return ranges[0]
    return None


# A mailbox's messages share a few sets of flags: each set with \Recent is made once.
@lru_cache(maxsize=1024)
def _with_recent(flags: tuple[str, ...]) -> tuple[str, ...]:
    """`flags` with \\Recent after the system flags, before the keywords, as Dovecot writes
    them."""
    system = [flag for flag in flags if flag.startswith("\\")]
    return (*system, "\\Recent", *(flag for flag in flags if not flag.startswith("\\")))
