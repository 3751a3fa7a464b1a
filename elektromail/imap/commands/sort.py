"""SORT and UID SORT (RFC 5256 §3), with SORT=DISPLAY (RFC 5957), ESORT (RFC 5267 §3) and
CONDSTORE's MODSEQ key (RFC 7162 §3.1.9, §3.1.10).

The search criteria are SEARCH's (commands/search.py); the order comes from the store, which
keeps each body's SORT keys (sortkeys.py) and answers one ordered query.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from elektromail.imap import format as fmt
from elektromail.imap.args import astring
from elektromail.imap.commands.condstore import (
    highest_modseq_of,
    modseq_basis,
    start_condstore,
    uses_modseq,
    with_modseq,
)
from elektromail.imap.commands.search import matching_uids
from elektromail.imap.dispatch import SELECTED, Argument, Bad, Context, Done, No, advertise, command
from elektromail.imap.search import BADCHARSET_CODE, CHARSETS, format_partial, parse_search
from elektromail.imap.seqset import format_sequence_set
from elektromail.imap.tokens import Atom, shown
from elektromail.imap.viewcache import cached

advertise("SORT", "SORT=DISPLAY", "ESORT", "CONTEXT=SORT")

# RFC 5256 §3 and RFC 5957 §3: the keys a sort criterion may name.
SORT_KEYS = frozenset(
    {"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"}
)

Order = tuple[tuple[str, bool], ...]


@command("SORT", SELECTED, uid=True, allows_expunge=False)
async def sort(ctx: Context, args: list[Argument]) -> Done:
    returning, order, charset, keys = _parse(args)
    session = ctx.session
    view = session.view
    save = bool(returning) and any(
        isinstance(item, Atom) and item.upper() == "SAVE" for item in returning[1]
    )
    if charset.upper() not in CHARSETS:
        if save:  # RFC 5182 §2.1: a NO to a command with RETURN (SAVE) empties $
            view.saved = []
        raise No("unsupported charset", BADCHARSET_CODE)
    try:
        # SORT names its charset before the keys, where SEARCH says CHARSET; a UTF8=ACCEPT
        # session may still name one here (RFC 6855 §3 restricts SEARCH's CHARSET only).
        # RETURN's options are SEARCH's (RFC 5267 §3.1), SAVE too (RFC 5182 §1).
        program = parse_search(
            [*returning, Atom("CHARSET"), Atom(charset), *keys],
            rev2=session.dialect.rev2,
            utf8=False,
        )
    except ValueError as e:
        raise Bad(f"invalid SORT: {e}") from None
    # SORT's answer is ESEARCH only with RETURN, in both dialects (RFC 5267 §3.2)
    program = dataclasses.replace(program, esearch=bool(returning))
    modseq = uses_modseq(program.key)
    if modseq:  # a CONDSTORE enabling command, as SEARCH with MODSEQ (RFC 7162 §3.1)
        await start_condstore(ctx)
    matched = set(await matching_uids(ctx, program))
    ordered = await cached(
        view, ("sort", order), lambda: ctx.services.postoffice.sorted_uids(view.mailbox_id, order)
    )
    uids = [uid for uid in ordered if uid in matched]
    if program.save:
        view.saved = _saved(program.returns, uids)
    numbers = uids if ctx.uid else [seq for seq in map(view.seq_of, uids) if seq is not None]
    response = b""
    if not returning:
        response = _format_sort(numbers)
    elif program.returns - {"SAVE"}:  # RETURN (SAVE) alone answers nothing (RFC 5182 §2.1)
        response = _format_esort(
            numbers, program.returns, tag=ctx.tag, uid=ctx.uid, partial=program.partial
        )
    if modseq:  # RFC 7162 §3.1.9, §3.1.10: the highest mod-sequence of what is returned
        highest = await highest_modseq_of(ctx, modseq_basis(program, uids))
        response = with_modseq(response, program, highest, tag=ctx.tag, uid=ctx.uid)
    if response:
        ctx.write(response)
    if "UPDATE" in program.returns:
        # RFC 5267 §4.3.1: a server may refuse to keep a context up to date, and sorted ones
        # cost most; Dovecot keeps none for SORT. The other options are honoured.
        code = fmt.format_response_code(fmt.NOUPDATE, fmt.string(ctx.tag))
        ctx.write(fmt.untagged_status(fmt.NO, "Sort results are not updated", code))
    return Done(f"{ctx.name} completed")


def _saved(returns: frozenset[str], uids: list[int]) -> list[int]:
    """What $ holds after SORT RETURN (SAVE ...) (RFC 5182 §2.1's table, MIN and MAX read in
    sort order as ESORT reads them), ascending."""
    if not uids or returns & {"ALL", "COUNT"} or not returns & {"MIN", "MAX"}:
        return sorted(uids)
    picked = set()
    if "MIN" in returns:
        picked.add(uids[0])
    if "MAX" in returns:
        picked.add(uids[-1])
    return sorted(picked)


def _parse(args: list[Argument]) -> tuple[list[Argument], Order, str, list[Argument]]:
    """([RETURN, its options] or [], sort criteria, charset, search keys) of SORT's
    arguments."""
    returning: list[Argument] = []
    pos = 0
    if args and isinstance(args[0], Atom) and args[0].upper() == "RETURN":
        if len(args) < 2 or not isinstance(args[1], list):
            raise Bad("invalid SORT: RETURN needs a parenthesised list of options")
        returning = args[:2]
        pos = 2
    if pos >= len(args) or not isinstance(args[pos], list):
        raise Bad("invalid SORT: sort criteria must be a parenthesised list")
    order = _criteria(args[pos])
    if pos + 1 >= len(args) or isinstance(args[pos + 1], list):
        raise Bad("invalid SORT: a charset must follow the sort criteria")
    charset = astring(args[pos + 1], "charset")
    if pos + 2 >= len(args):
        raise Bad("invalid SORT: at least one search key is needed")
    return returning, order, charset, list(args[pos + 2 :])


def _criteria(items: list[Argument]) -> Order:
    """RFC 5256 §4: sort-criterion = ["REVERSE" SP] sort-key, at least one. As Dovecot: a
    second REVERSE cancels the first, and a key named again adds nothing."""
    if not items:
        raise Bad("invalid SORT: empty sort criteria")
    order: list[tuple[str, bool]] = []
    reverse = last_reverse = False
    for item in items:
        # astrings, as Dovecot reads them
        name = None if isinstance(item, list) else astring(item, "sort key").upper()
        last_reverse = name == "REVERSE"
        if last_reverse:
            reverse = not reverse
            continue
        if name not in SORT_KEYS:
            raise Bad(f"invalid SORT: unknown sort key {shown(item)}")
        if any(key == name for key, _ in order):
            continue
        order.append((name, reverse))
        reverse = False
    if last_reverse:
        raise Bad("invalid SORT: REVERSE must be followed by a sort key")
    return tuple(order)


def _format_sort(numbers: Sequence[int]) -> bytes:
    """`* SORT 3 1 2\\r\\n` (`* SORT\\r\\n` when nothing matched)."""
    if not numbers:
        return b"* SORT" + fmt.CRLF
    return b"* SORT " + " ".join(map(str, numbers)).encode("ascii") + fmt.CRLF


def _format_esort(
    numbers: Sequence[int],
    returns: frozenset[str],
    *,
    tag: str,
    uid: bool,
    partial: tuple[int, int] | None = None,
) -> bytes:
    """ESORT's `* ESEARCH (TAG "a") UID MIN 3 MAX 2 COUNT 3 ALL 3:4,2` (RFC 5267 §3.2): MIN and
    MAX are the first and the last in sort order, ALL and PARTIAL (§4.4) keep the sort order."""
    out = [b"* ESEARCH (TAG " + fmt.string(tag) + b")"]
    if uid:
        out.append(b"UID")
    if numbers and "MIN" in returns:
        out.append(b"MIN %d" % numbers[0])
    if numbers and "MAX" in returns:
        out.append(b"MAX %d" % numbers[-1])
    if "COUNT" in returns:
        out.append(b"COUNT %d" % len(numbers))
    if numbers and "ALL" in returns:
        out.append(b"ALL " + format_sequence_set(numbers, sort=False).encode("ascii"))
    if partial is not None:
        out.append(format_partial(numbers, partial, sort=False))
    return b" ".join(out) + fmt.CRLF
