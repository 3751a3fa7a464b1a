"""QRESYNC (RFC 7162 §3.2): SELECT/EXAMINE's QRESYNC and CONDSTORE parameters, the
`* VANISHED (EARLIER)` of a resync and of UID FETCH's VANISHED modifier, and what a resync
sends after the SELECT responses. Live VANISHED is in the session's updates."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass

from elektromail.imap import format as fmt
from elektromail.imap.commands.condstore import (
    MAX_MODSEQ,
    FetchModifiers,
    parse_modseq,
    start_condstore,
)
from elektromail.imap.dispatch import Argument, Bad, Context, advertise
from elektromail.imap.fetchitems import FetchItem
from elektromail.imap.seqset import MAX_NUMBER, format_ranges, parse_sequence_set
from elektromail.imap.tokens import Atom, shown
from elektromail.imap.view import MailboxView

# Both here: condstore is imported first by ENABLE, whose module advertises the base list.
advertise("CONDSTORE", "QRESYNC")

Ranges = list[tuple[int, int]]


@dataclass(frozen=True, slots=True)
class Resync:
    """A QRESYNC parameter: the client's last UIDVALIDITY and mod-sequence, the UIDs it
    knows (None: all of them, "1:<maxuid>"), and its sequence match data (RFC 7162 §3.2.5.2;
    empty: none), used, as Dovecot does, only when the expunges asked about are older than
    those the server keeps (store/modseq.py)."""

    uidvalidity: int
    modseq: int
    known: Ranges | None = None
    match_seqs: tuple[tuple[int, int], ...] = ()
    match_uids: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class SelectOptions:
    condstore: bool = False
    resync: Resync | None = None


def parse_select_options(token: Argument, *, qresync_enabled: bool) -> SelectOptions:
    """SELECT/EXAMINE's parameter list: `(CONDSTORE)` (RFC 7162 §3.1.8) and
    `(QRESYNC (uidvalidity modseq [known-uids [(seqs uids)]]))` (§3.2.5); Bad otherwise,
    before anything is selected."""
    if not isinstance(token, list) or not token:
        raise Bad("SELECT parameters must be a non-empty parenthesized list")
    condstore, resync = False, None
    pos = 0
    while pos < len(token):
        name = token[pos].upper() if isinstance(token[pos], Atom) else None
        if name == "CONDSTORE" and not condstore:
            condstore = True
            pos += 1
        elif name == "QRESYNC" and resync is None:
            if not qresync_enabled:
                # RFC 7162 §3.2.5: "A server MUST respond with a tagged BAD response if the
                # Quick Resynchronization parameter ... is specified and the client hasn't
                # issued "ENABLE QRESYNC""
                raise Bad("QRESYNC not enabled")
            if pos + 1 >= len(token):
                raise Bad("QRESYNC needs (uidvalidity modseq [known-uids])")
            resync = parse_resync(token[pos + 1])
            pos += 2
        else:
            raise Bad(f"unknown or repeated SELECT parameter {shown(token[pos])}")
    return SelectOptions(condstore, resync)


def _nz_number(token: object, what: str) -> int:
    text = token if isinstance(token, Atom) else ""
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or not 0 < int(text) <= MAX_NUMBER:
        raise Bad(f"invalid {what} {shown(token)}")
    return int(text)


def _uid_ranges(token: object, what: str) -> Ranges:
    text = token if isinstance(token, Atom) else None
    if text is None:
        raise Bad(f"invalid {what} {shown(token)}")
    try:
        seqset = parse_sequence_set(text)
        return seqset.ranges(MAX_NUMBER)  # `$` raises ValueError: it has no place here
    except ValueError as e:
        raise Bad(f"invalid {what} {shown(token)}: {e}") from None


def parse_resync(token: object) -> Resync:
    if not isinstance(token, list) or not 2 <= len(token) <= 4:
        raise Bad("QRESYNC needs (uidvalidity modseq [known-uids [(seqs uids)]])")
    uidvalidity = _nz_number(token[0], "QRESYNC UIDVALIDITY")
    modseq = parse_modseq(token[1], "QRESYNC", zero=False)
    known = None
    seqs: Ranges = []
    uids: Ranges = []
    if len(token) >= 3:
        if isinstance(token[2], list):
            raise Bad("QRESYNC's known UIDs come before the sequence match data")
        known = _uid_ranges(token[2], "QRESYNC known UIDs")
    if len(token) == 4:
        match = token[3]
        if not isinstance(match, list) or len(match) != 2:
            raise Bad("QRESYNC's sequence match data is (sequence-set uid-set)")
        seqs = _uid_ranges(match[0], "QRESYNC known sequence set")
        uids = _uid_ranges(match[1], "QRESYNC known UID set")
        if sum(b - a + 1 for a, b in seqs) != sum(b - a + 1 for a, b in uids):
            raise Bad("QRESYNC's sequence set and UID set differ in length")
    return Resync(uidvalidity, modseq, known, tuple(seqs), tuple(uids))


def _within(uid: int, ranges: Ranges) -> bool:
    i = bisect_left(ranges, (uid + 1,)) - 1
    return i >= 0 and ranges[i][0] <= uid <= ranges[i][1]


def _as_ranges(uids: list[int]) -> Ranges:
    ranges: Ranges = []
    for uid in uids:
        if ranges and ranges[-1][1] + 1 == uid:
            ranges[-1] = (ranges[-1][0], uid)
        else:
            ranges.append((uid, uid))
    return ranges


def _vanished(ranges: Ranges) -> bytes:
    """`* VANISHED (EARLIER) 3:5,9` (RFC 7162 §3.2.10.1), or b"" for none."""
    if not ranges:
        return b""
    return fmt.untagged(b"VANISHED (EARLIER) " + format_ranges(ranges).encode("ascii"))


def _numbers(ranges) -> Iterator[int]:
    for low, high in ranges:
        yield from range(low, high + 1)


def _matched_up_to(view: MailboxView, seqs, uids) -> int:
    """RFC 7162 §3.2.5.2: "If a pair matches, then the client knows of any expunges up to,
    and including, the message": the UID of the last pair that matches, before the first
    that does not (0: none). Walks no further than the mailbox's messages."""
    known = 0
    for seq, uid in zip(_numbers(seqs), _numbers(uids), strict=False):
        if seq > len(view.uids) or view.uids[seq - 1] != uid:
            break
        known = uid
    return known


def _gone(view: MailboxView, known: Ranges, above: int = 0) -> Ranges:
    """The UIDs of `known` above `above` and below UIDNEXT that the mailbox does not hold, as
    ranges: what VANISHED (EARLIER) reports when the expunges asked about are older than those
    kept."""
    uids, top = view.uids, max(view.uidnext - 1, view.largest_uid())
    out: Ranges = []
    for low, high in known:
        low, high = max(low, above + 1), min(high, top)
        i, start = bisect_left(uids, low), low
        while i < len(uids) and uids[i] <= high:
            if uids[i] > start:
                out.append((start, uids[i] - 1))
            start = uids[i] + 1
            i += 1
        if start <= high:
            out.append((start, high))
    return out


async def _expunged(
    ctx: Context, view: MailboxView, modseq: int, known: Ranges, match: Resync | None = None
) -> Ranges:
    found = await ctx.services.postoffice.expunged_since(view.mailbox_id, modseq)
    if found is None:
        # RFC 7162 §3.2.6: "A server that receives a mod-sequence smaller than <minmodseq>,
        # where <minmodseq> is the value of the smallest expunged mod-sequence it remembers
        # minus one, MUST behave as if it was requested to report all expunged messages from
        # the provided UID set parameter." Dovecot does the same when its log has rotated,
        # and there narrows the report by the sequence match data (§3.2.5.2).
        above = _matched_up_to(view, match.match_seqs, match.match_uids) if match else 0
        return _gone(view, known, above)
    return _as_ranges([uid for uid in found if _within(uid, known) and uid not in view.flags])


async def resync(ctx: Context, view: MailboxView, wanted: Resync, highestmodseq: int) -> None:
    """After a SELECT's responses: what changed since the client's mod-sequence, as
    `UID FETCH known-uids (FLAGS) (CHANGEDSINCE modseq VANISHED)` would answer (§3.2.5.1).
    A UIDVALIDITY that does not match, or a mod-sequence not below the mailbox's, has none."""
    if wanted.uidvalidity != view.uidvalidity or wanted.modseq >= highestmodseq:
        return
    known = wanted.known if wanted.known is not None else [(1, max(view.uidnext - 1, 1))]
    out = [_vanished(await _expunged(ctx, view, wanted.modseq, known, wanted))]
    uids = [uid for uid in view.uids if _within(uid, known)]
    rows = await ctx.services.postoffice.fetch_messages(
        view.mailbox_id, uids, changedsince=wanted.modseq
    )
    for row in rows:
        seq = view.seq_of(row.uid)
        if seq is not None:
            flags = fmt.format_flags(view.shown_flags(row.uid, view.flags.get(row.uid, row.flags)))
            items = [
                (b"UID", b"%d" % row.uid),
                (b"FLAGS", flags),
                (b"MODSEQ", b"(%d)" % row.modseq),
            ]
            out.append(fmt.format_fetch(seq, items))
    ctx.write(b"".join(out))


async def start_changedsince(
    ctx: Context, items: list[FetchItem], modifiers: FetchModifiers, sequence_set: Argument
) -> tuple[list[FetchItem], int | None]:
    """The FETCH items with MODSEQ added (CHANGEDSINCE "implicitly adds the MODSEQ FETCH
    message data item", RFC 7162 §3.1.4.1) and the CHANGEDSINCE value; VANISHED's
    `* VANISHED (EARLIER)` is written here, before the FETCH responses (§3.2.6)."""
    changedsince = modifiers.changedsince
    if modifiers.vanished:
        # RFC 7162 §3.2.6: BAD unless in UID FETCH, with CHANGEDSINCE, after ENABLE QRESYNC
        if not ctx.uid:
            raise Bad("VANISHED is for UID FETCH only")
        if not ctx.session.dialect.qresync:
            raise Bad("VANISHED needs ENABLE QRESYNC")
        if changedsince is None:
            raise Bad("VANISHED needs CHANGEDSINCE")
    if changedsince is None:
        raise Bad("FETCH modifiers need CHANGEDSINCE")
    await start_condstore(ctx)
    if modifiers.vanished:
        view = ctx.session.view
        largest = max(view.uidnext - 1, view.largest_uid())
        try:
            known = parse_sequence_set(str(sequence_set)).ranges(largest)
        except ValueError:  # `$`: the saved UIDs
            known = [(uid, uid) for uid in view.saved_uids()]
        ctx.write(_vanished(await _expunged(ctx, view, changedsince, known)))
    if not any(item.name == "MODSEQ" for item in items):
        items = [*items, FetchItem("MODSEQ")]
    return items, changedsince


__all__ = ["MAX_MODSEQ", "Resync", "SelectOptions", "parse_select_options", "resync"]
