"""FETCH and UID FETCH (RFC 9051 §6.4.5, §7.5.2), answered from what delivery stored:
no message is parsed again here."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from operator import attrgetter

from twisted.internet.defer import Deferred, succeed

from elektromail import mime
from elektromail.imap import format as fmt
from elektromail.imap.commands.common import resolve_uids, selected
from elektromail.imap.commands.condstore import (
    is_fetch_modifiers,
    parse_fetch_modifiers,
    start_condstore,
)
from elektromail.imap.commands.qresync import start_changedsince
from elektromail.imap.dispatch import (
    SELECTED,
    Argument,
    Bad,
    Context,
    Done,
    No,
    Services,
    advertise,
    command,
)
from elektromail.imap.fetchitems import FetchItem, parse_fetch_items
from elektromail.imap.objectids import EXTRA_ITEMS, extra_value, wanted_extras
from elektromail.imap.sections import needs_structure, section_data
from elektromail.imap.seqset import format_sequence_set
from elektromail.imap.session import Session, flags_responses
from elektromail.imap.tokens import Atom
from elektromail.store import MessageRow

advertise("BINARY")  # RFC 3516; part of IMAP4rev2, announced for rev1 clients

# Messages per store round trip, and the bytes of message bodies read at once: bounds memory
# on 1:* of a huge mailbox of large messages (50 MB each is allowed).
CHUNK_WITH_BODIES = 250
CHUNK = 2000
BODY_BYTES = 8 << 20
RENDERED_ITEMS = {"ENVELOPE", "BODY", "BODYSTRUCTURE"}  # rendered at delivery
STRUCTURE_ITEMS = {"BINARY", "BINARY.SIZE"}
RAW_ITEMS = {"RFC822", "RFC822.HEADER", "RFC822.TEXT", "BINARY", "BINARY.SIZE"}


@dataclass(frozen=True, slots=True)
class FetchPlan:
    """What a FETCH's items need, worked out once per item list (clients send the same few
    lists again and again): the items answered, their response labels, the store columns to
    read, and whether \\Seen may be set and FLAGS shown."""

    items: tuple[FetchItem, ...]
    labels: tuple[bytes, ...]
    structure: bool
    raw: bool
    rendered: bool
    # of the renderings only ENVELOPE: a body not parsed yet needs only its header parsed
    envelope_only: bool
    sets_seen: bool
    flags: bool
    extras: bool | None  # imap/objectids.wanted_extras of the items
    modseq: bool  # MODSEQ is among the items asked for (or added after the UID prefix)
    # For a plan of UID, FLAGS, MODSEQ and RFC822.SIZE only (a sync client's FETCH 1:* (FLAGS),
    # CHANGEDSINCE): the response line as a %-template, and what fills it (_PLAIN_VALUES)
    line: bytes | None = None
    fills: tuple[int, ...] = ()


@lru_cache(maxsize=256)
def fetch_plan(items: tuple[FetchItem, ...], *, uid: bool) -> FetchPlan:
    """The plan of `items`; after the UID prefix, UID goes first unless asked for."""
    if uid and not any(item.name == "UID" for item in items):
        items = (FetchItem("UID"), *items)
    labels = tuple(item.label().encode() for item in items)
    line, fills = _plain_line(items, labels)
    renderings = {i.name for i in items if i.name in RENDERED_ITEMS and i.section is None}
    return FetchPlan(
        items=items,
        labels=labels,
        structure=any(_needs_structure(item) for item in items),
        raw=any(item.section is not None or item.name in RAW_ITEMS for item in items),
        rendered=bool(renderings),
        envelope_only=renderings == {"ENVELOPE"},
        sets_seen=any(item.sets_seen for item in items),
        flags=any(item.name == "FLAGS" for item in items),
        extras=wanted_extras(items),
        modseq=any(item.name == "MODSEQ" for item in items),
        line=line,
        fills=fills,
    )


def _items_and_plan(
    tokens: list[Argument], rev2: bool, uid: bool
) -> tuple[list[FetchItem], FetchPlan]:
    """The items of a FETCH and their plan: looked up by the tokens themselves when they are a
    macro or a list of atoms (what clients send, the same few again and again), which hash
    faster than the items they make; raises ValueError for invalid items."""
    key = _items_key(tokens)
    if key is None:
        items = parse_fetch_items(tokens, rev2=rev2)
        return items, fetch_plan(tuple(items), uid=uid)
    items, plan = _plan_by_tokens(key, rev2, uid)
    return list(items), plan


def _items_key(tokens: list[Argument]) -> tuple | None:
    """`(atom,)` for a single atom, `(None, *atoms)` for a list of atoms, else None."""
    if len(tokens) != 1:
        return None
    spec = tokens[0]
    if isinstance(spec, Atom):
        return (spec,)
    if isinstance(spec, list) and all(isinstance(token, Atom) for token in spec):
        return (None, *spec)
    return None


@lru_cache(maxsize=256)
def _plan_by_tokens(key: tuple, rev2: bool, uid: bool) -> tuple[tuple[FetchItem, ...], FetchPlan]:
    tokens = [key[0]] if key[0] is not None else [list(key[1:])]
    items = tuple(parse_fetch_items(tokens, rev2=rev2))
    return items, fetch_plan(items, uid=uid)


def _plan_with_modseq(plan: FetchPlan, items: list[FetchItem], uid: bool) -> FetchPlan:
    """The plan of `items`: `plan`'s items and the MODSEQ CHANGEDSINCE adds to them (RFC 7162
    §3.1.4.1), kept by `plan` (a sync client sends the same FETCH 1:* (FLAGS) (CHANGEDSINCE n)
    again and again)."""
    if plan.modseq:  # nothing was added
        return plan
    found = _MODSEQ_PLANS.get(id(plan))
    if found is None or found[0] is not plan:
        if len(_MODSEQ_PLANS) >= 256:
            _MODSEQ_PLANS.clear()
        found = _MODSEQ_PLANS[id(plan)] = (plan, fetch_plan(tuple(items), uid=uid))
    return found[1]


# id(plan) -> (plan, the plan with MODSEQ): the plan is kept with its id, which stays its own
_MODSEQ_PLANS: dict[int, tuple[FetchPlan, FetchPlan]] = {}


_FLAGS_OF = attrgetter("flags")  # of a MessageRow

# The items a plain line answers: how each is written, and what fills it (see _plain_lines).
_PLAIN_VALUES = {
    "UID": (b"%d", 0),
    "FLAGS": (b"%b", 1),
    "MODSEQ": (b"(%d)", 2),
    "RFC822.SIZE": (b"%d", 3),
}


def _plain_line(items, labels) -> tuple[bytes | None, tuple[int, ...]]:
    if not all(item.name in _PLAIN_VALUES and item.section is None for item in items):
        return None, ()
    parts = [
        label + b" " + _PLAIN_VALUES[item.name][0]
        for label, item in zip(labels, items, strict=True)
    ]
    fills = tuple(_PLAIN_VALUES[item.name][1] for item in items)
    return b"* %d FETCH (" + b" ".join(parts) + b")\r\n", fills


@command("FETCH", SELECTED, uid=True, allows_expunge=False)
async def fetch(ctx: Context, args: list[Argument]) -> Done:
    if len(args) < 2:
        raise Bad("expected FETCH sequence-set items")
    session = ctx.session
    view = session.view
    modifiers = None
    if len(args) > 2 and is_fetch_modifiers(args[-1]):  # RFC 7162 §3.1.4.1, §3.2.6
        modifiers = parse_fetch_modifiers(args[-1])
        args = args[:-1]
    try:
        parsed_items, plan = _items_and_plan(args[1:], session.dialect.rev2, ctx.uid)
    except ValueError as e:
        raise Bad(f"invalid FETCH items: {e}") from None
    uids = resolve_uids(args[0], view, ctx.uid)
    changedsince = None
    if modifiers is not None:
        parsed_items, changedsince = await start_changedsince(ctx, parsed_items, modifiers, args[0])
        plan = _plan_with_modseq(plan, parsed_items, ctx.uid)
    elif plan.modseq and not session.dialect.condstore:
        await start_condstore(ctx)
    items = plan.items
    need_structure, need_raw, need_rendered = plan.structure, plan.raw, plan.rendered
    set_seen = plan.sets_seen and not view.readonly
    shows_flags = set_seen or plan.flags
    dialect = session.dialect
    postoffice = ctx.services.postoffice
    extras_parse = plan.extras
    # Bodies are read in runs of at most CHUNK_WITH_BODIES messages and BODY_BYTES bytes
    # (a larger message alone), chosen by the store from their sizes in the same round
    # trip; without bodies, CHUNK messages at a time.
    budget = (CHUNK_WITH_BODIES, BODY_BYTES) if need_raw else None
    rest = uids
    new_modseqs: list[bytes] = []  # `* n FETCH (MODSEQ (m))` of what this FETCH marked \Seen
    with ctx.paced() as pacing:
        while rest:
            if ctx.closed:  # the client left: reading the rest would keep the store busy
                break
            # With CHANGEDSINCE, what changed is mostly a few of many: the store looks through
            # all that is left at once and reads at most CHUNK of the changed messages.
            part = rest if changedsince is not None else rest[:CHUNK]
            rows = await postoffice.fetch_messages(
                view.mailbox_id,
                part,
                structure=need_structure,
                raw=need_raw,
                rendered=need_rendered,
                budget=budget,
                changedsince=changedsince,
                limit=None if changedsince is None else CHUNK,
                envelope_only=plan.envelope_only,
            )
            # the store answered a prefix of `part`: all of it, unless a budget or the limit
            # cut it after the last row
            limited = changedsince is not None and len(rows) == CHUNK
            cut = bool(rows) and (budget is not None or limited)
            rest = rest[bisect_right(part, rows[-1].uid) if cut else len(part) :]
            if need_rendered and not need_structure:
                rows = await _add_structure_where_unrendered(ctx, rows)
            extras = None
            if extras_parse is not None:  # EMAILID, SAVEDATE, PREVIEW (imap/objectids.py)
                extras = await postoffice.message_extras(
                    view.mailbox_id, [row.uid for row in rows], parse=extras_parse
                )
            if shows_flags and view.announce(chain.from_iterable(map(_FLAGS_OF, rows))):
                # a keyword another session set, not told of yet: FLAGS goes first
                ctx.write(b"".join(flags_responses(view)))
            if plan.line is not None:  # nothing to refuse, no \Seen to set: one template
                ctx.write(_plain_lines(rows, plan.line, plan.fills, view))
                await pacing.sent()
                continue
            refusals: list[No] = []
            answers = _answers(rows, plan, view, dialect, refusals, extras)
            changed: dict[int, tuple[tuple[str, ...], int]] = {}
            if set_seen:  # the whole batch first: \Seen only where something set it
                answers = list(answers)
                changed = await _mark_seen(ctx, _seen_rows(answers, items))
                if dialect.condstore:
                    new_modseqs.extend(_modseq_responses(view, changed, uid=dialect.qresync))
            ctx.write(
                b"".join(
                    _response(seq, row, values, _shown(view, row.uid, changed.get(row.uid)))
                    for seq, row, values in answers
                )
            )
            if refusals:  # Dovecot's answer too: what was answered so far goes out, then NO
                ctx.write(b"".join(new_modseqs))
                raise refusals[0]
            # A client reading slower than the store gives: wait, rather than hold the
            # whole answer in memory.
            await pacing.sent()
    ctx.write(b"".join(new_modseqs))
    return Done(f"{ctx.name} completed")


async def _add_structure_where_unrendered(ctx: Context, rows: list[MessageRow]) -> list[MessageRow]:
    """Bodies stored before renderings were kept (schema < 3) are rendered from their
    structure instead."""
    stale = [row.uid for row in rows if row.envelope is None]
    if not stale:
        return rows
    view = ctx.session.view
    found = await ctx.services.postoffice.fetch_messages(view.mailbox_id, stale, structure=True)
    structures = {row.uid: row.structure for row in found}
    return [
        row._replace(structure=structures.get(row.uid)) if row.envelope is None else row
        for row in rows
    ]


def _needs_structure(item: FetchItem) -> bool:
    if item.name in STRUCTURE_ITEMS:
        return True
    return item.section is not None and needs_structure(item.section)


async def _mark_seen(
    ctx: Context, rows: list[MessageRow]
) -> dict[int, tuple[tuple[str, ...], int]]:
    """Set \\Seen on the rows lacking it; their new flags and mod-sequence by UID."""
    unseen = [row.uid for row in rows if "\\Seen" not in row.flags]
    if not unseen:
        return {}
    session = ctx.session
    stored, _ = await ctx.services.postoffice.store_flags(
        selected(session), unseen, "add", ["\\Seen"], origin=session
    )
    for uid, flags, _ in stored:
        session.view.set_flags(uid, flags)
    return {uid: (flags, modseq) for uid, flags, modseq in stored}


def _modseq_responses(
    view, changed: dict[int, tuple[tuple[str, ...], int]], *, uid: bool
) -> Iterator[bytes]:
    """`* 3 FETCH (MODSEQ (8))` for each message this FETCH marked \\Seen, sent after the
    FETCH's own responses as Dovecot does (the MODSEQ those showed is the one before), with
    the UID first in a QRESYNC-aware session. RFC 7162 §3.2.4: the server "MUST
    automatically include both UID and mod-sequence data in all subsequent untagged FETCH
    responses ... whether they were caused by ... a FETCH/UID FETCH that implicitly set the
    \\Seen flag"; §3.1.4.2 asks CONDSTORE-only servers to comply too."""
    for each in sorted(changed):
        seq = view.seq_of(each)
        if seq is None:
            continue
        items = [(b"UID", b"%d" % each)] if uid else []
        items.append((b"MODSEQ", b"(%d)" % changed[each][1]))
        yield fmt.format_fetch(seq, items)


Answer = tuple[int, MessageRow, list[tuple[bytes, bytes]]]


def _plain_lines(rows: list[MessageRow], line: bytes, fills: tuple[int, ...], view) -> bytes:
    """The responses of a plan that has a plain line: what `_answers` and `_response` make of
    the same rows, without their per-item steps (a sync client's FETCH 1:* (FLAGS)); the
    view's lookups are spelled out, as this runs for every message of a resync."""
    out = []
    uids, recent = view.uids, view.recent
    count = len(uids)
    shown, flags_of = view.shown_flags, fmt.format_flags
    at = 0  # rows come in UID order: each is looked for after the one before
    for row in rows:
        uid = row.uid
        at = bisect_left(uids, uid, at)
        if at == count or uids[at] != uid:  # expunged here since: no sequence number
            continue
        values: list = [at + 1]
        for fill in fills:
            if fill == 1:
                flags = row.flags
                values.append(flags_of(shown(uid, flags) if uid in recent else flags))
            elif fill == 0:
                values.append(uid)
            elif fill == 2:
                values.append(row.modseq)
            else:
                values.append(row.size)
        out.append(line % tuple(values))
    return b"".join(out)


def _answers(
    rows: list[MessageRow], plan: FetchPlan, view, dialect, refusals: list[No], extras=None
) -> Iterator[Answer]:
    """(seq, row, a (label, value) per item) for each row, made as they are read, up to the
    first item that cannot be answered. Then, as Dovecot does by default, the FETCH stops:
    that message keeps the items before it, and its refusal goes into `refusals`."""
    utf8 = dialect.utf8_names
    rev2 = dialect.rev2
    labelled = tuple(zip(plan.labels, plan.items, strict=True))
    for row in rows:
        seq = view.seq_of(row.uid)
        if seq is None:
            continue
        parsed = mime.from_json(row.structure) if row.structure is not None else None
        values: list[tuple[bytes, bytes]] = []
        try:
            for label, item in labelled:
                if item.name == "FLAGS":  # as this session shows them: with \\Recent
                    flags = fmt.format_flags(view.shown_flags(row.uid, row.flags))
                    values.append((label, flags))
                elif item.name in EXTRA_ITEMS:
                    values.append((label, extra_value(item, extras.get(row.uid), utf8)))
                else:
                    values.append((label, _item(item, row, parsed, utf8, rev2)))
        except No as refusal:
            refusals.append(refusal)
            yield seq, row, values
            return
        yield seq, row, values


def _shown(view, uid: int, change: tuple[tuple[str, ...], int] | None):
    return None if change is None else view.shown_flags(uid, change[0])


def _seen_rows(answered: list[Answer], items: list[FetchItem]) -> list[MessageRow]:
    """The rows to mark \\Seen: those with an answered item that sets it."""
    return [row for _, row, values in answered if any(i.sets_seen for i in items[: len(values)])]


def _response(seq: int, row: MessageRow, values: list, new_flags: tuple[str, ...] | None) -> bytes:
    """The FETCH response; `new_flags` are the flags after this FETCH set \\Seen (RFC 9051
    §6.4.5: "if this causes the flags to change, they SHOULD be included as part of the FETCH
    responses")."""
    if not values:  # refused at the first item; RFC 9051 §9 has msg-att hold one: Dovecot's UID
        values = [(b"UID", b"%d" % row.uid)]
    if new_flags is not None:
        flags = fmt.format_flags(new_flags)
        if any(label == b"FLAGS" for label, _ in values):
            values = [(label, flags if label == b"FLAGS" else value) for label, value in values]
        else:
            values = [*values, (b"FLAGS", flags)]
    return fmt.format_fetch(seq, values)


def _item(item: FetchItem, row: MessageRow, parsed, utf8: bool, rev2: bool) -> bytes:
    """The value of one FETCH data item (RFC 9051 §7.5.2); its label is `item.label()`."""
    name = item.name
    if name == "UID":
        return b"%d" % row.uid
    if name == "MODSEQ":  # RFC 7162 §3.1.4.2
        return b"(%d)" % row.modseq
    if name == "INTERNALDATE":
        return fmt.format_internaldate(row.internal_date, row.tz_minutes)
    if name == "RFC822.SIZE":
        return b"%d" % row.size
    if name == "ENVELOPE":
        if row.envelope is not None:
            return row.envelope
        return fmt.format_envelope(parsed.envelope, utf8_ok=utf8)
    if name in ("BODY", "BODYSTRUCTURE") and item.section is None:
        extended = name == "BODYSTRUCTURE"
        rendered = row.bodystructure if extended else row.body
        if rendered is None:
            rendered = fmt.format_bodystructure(parsed.body, extended, utf8_ok=utf8)
        return rendered
    if name in ("RFC822", "RFC822.HEADER", "RFC822.TEXT"):
        return _text_literal(_rfc822(name, row.raw, parsed))
    if name in ("BINARY", "BINARY.SIZE"):
        return _binary(item, row.raw, parsed, rev2)
    return _body_section(item, row.raw, parsed)


def _rfc822(name: str, raw: bytes, parsed) -> bytes:
    if name == "RFC822":
        return raw
    # the parse's header end, with or without the parse: a header ended by a bare-LF blank
    # line ends there, as BODY[HEADER]'s does
    header_end = parsed.header_end if parsed is not None else mime.header_end(raw)
    return raw[:header_end] if name == "RFC822.HEADER" else raw[header_end:]


def _window(data: bytes, partial: tuple[int, int] | None) -> bytes:
    if partial is None:
        return data
    offset, count = partial
    return data[offset : offset + count]


def _text_literal(data: bytes) -> bytes:
    """A literal of message text, which may hold NUL only in a literal8 (RFC 9051 §4.3.1:
    "unencoded binary strings are not permitted, unless returned in a <literal8> in response to
    a BINARY.PEEK[...] or BINARY[...]"). Mail with NUL still arrives by SMTP and the API, so each
    NUL goes out as 0x80, as Dovecot sends it: one octet for one, so RFC822.SIZE, partial
    offsets and BODYSTRUCTURE sizes stay true. The stored bytes are not changed."""
    if 0 in data:  # one memchr (`b"\\0" in data` costs six times as much)
        data = data.replace(b"\x00", b"\x80")
    return fmt.literal(data)


# The answer for a section the message does not have: `BODY[3]` of a two-part message,
# `BODY[1.HEADER]` of a part that is no message... RFC 9051 leaves it open; Dovecot sends the
# empty string, so do we.
NO_SUCH_SECTION = fmt.literal(b"")


def _body_section(item: FetchItem, raw: bytes, parsed) -> bytes:
    data = section_data(item.section, raw, parsed)
    if data is None:
        return NO_SUCH_SECTION
    return _text_literal(_window(data, item.partial))


def _binary(item: FetchItem, raw: bytes, parsed, rev2: bool) -> bytes:
    path = item.section.part
    part = mime.section_part(parsed, path)
    if part is None:  # as for BODY[...]: Dovecot's empty string, and a size of 0
        return b"0" if item.name == "BINARY.SIZE" else NO_SUCH_SECTION
    if rev2 and not mime.is_leaf(part):
        # RFC 9051 §6.4.5: "this data item can only be requested for leaf body parts: those
        # that have media types other than multipart/*, message/rfc822, or message/global."
        # RFC 3516, which rev1 sessions follow, has no such rule.
        raise No("BINARY takes only leaf body parts in IMAP4rev2")
    try:
        data = mime.binary_section(raw, parsed, path)
    except mime.UnknownEncoding:
        # RFC 9051 §7.5.2: "it MUST fail the request and issue a "NO" response that contains
        # the "UNKNOWN-CTE" response code."
        raise No("Unknown Content-Transfer-Encoding", fmt.UNKNOWN_CTE) from None
    if item.name == "BINARY.SIZE":
        return b"%d" % len(data)
    data = _window(data, item.partial)
    # RFC 9051 §7.5.2: literal8 only when the data holds NUL; other 8-bit data is a string
    return fmt.literal(data, binary=b"\x00" in data)


# --- FETCH responses no client asked for -----------------------------------------------------


async def unsolicited_fetch(
    session: Session, services: Services, closed: Callable[[], bool], uids: list[int], items
) -> bytes:
    """The FETCH responses of `UID FETCH uids items` (items as a FETCH takes them), to go out
    unasked: a new message's for NOTIFY (RFC 5465 §5.2) and SEARCH RETURN (UPDATE (...)) (§7).
    A refusal keeps what was answered, as FETCH does."""
    request = _UnsolicitedFetch(session, services, closed)
    uidset = Atom(format_sequence_set(uids))
    try:
        await fetch(request, [uidset, list(items)])
    except No:
        pass
    return b"".join(request.out)


class _Pacing:
    def __enter__(self) -> _Pacing:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def sent(self) -> Deferred[None]:
        return succeed(None)


class _UnsolicitedFetch:
    """A UID FETCH no client sent (dispatch.Context): its responses are collected, to go out
    as unsolicited ones."""

    tag = "*"
    name = "UID FETCH"
    uid = True

    def __init__(self, session: Session, services: Services, closed: Callable[[], bool]) -> None:
        self.session = session
        self.services = services
        self._closed = closed
        self.out: list[bytes] = []

    @property
    def closed(self) -> bool:
        return self._closed()

    def write(self, data: bytes) -> None:
        self.out.append(data)

    def paced(self) -> _Pacing:
        return _Pacing()
