"""CONDSTORE (RFC 7162 §3.1) for the commands it extends: mod-sequence arguments, the FETCH and
STORE modifiers, SEARCH's and SORT's `(MODSEQ n)`, and the first CONDSTORE-enabling command's
`OK [HIGHESTMODSEQ n]`. The commands call these; QRESYNC's parts are in `qresync`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from elektromail.imap import format as fmt
from elektromail.imap.dispatch import Argument, Bad, Context
from elektromail.imap.fetchitems import SIMPLE_ITEMS
from elektromail.imap.search import SearchProgram, format_esearch
from elektromail.imap.search_parse import And, Key, ModseqKey, Not, Or
from elektromail.imap.seqset import format_sequence_set
from elektromail.imap.tokens import Atom, shown

SIMPLE_ITEMS["MODSEQ"] = True  # the FETCH item (RFC 7162 §3.1.4.2), in both dialects

# RFC 7162 §7: mod-sequence-value = 1*DIGIT, 1 <= n <= 9,223,372,036,854,775,807;
# mod-sequence-valzer allows 0 too.
MAX_MODSEQ = 2**63 - 1


def parse_modseq(token: object, what: str, *, zero: bool = True) -> int:
    """A mod-sequence argument; Bad when it is not a number of 63 bits (or is 0, unless
    `zero`: mod-sequence-valzer)."""
    text = token if isinstance(token, Atom) else None
    if text is None or not (text.isascii() and text.isdigit()):
        raise Bad(f"invalid {what} mod-sequence {shown(token)}")
    if len(text.lstrip("0")) > 19 or int(text) > MAX_MODSEQ:
        raise Bad(f"{what} mod-sequence {text} is too large")
    value = int(text)
    if value == 0 and not zero:
        raise Bad(f"{what} mod-sequence must not be 0")
    return value


@dataclass(frozen=True, slots=True)
class FetchModifiers:
    changedsince: int | None = None
    vanished: bool = False  # QRESYNC (RFC 7162 §3.2.6)


FETCH_MODIFIERS = frozenset({"CHANGEDSINCE", "VANISHED"})


def is_fetch_modifiers(token: Argument) -> bool:
    """Whether the last FETCH argument is a modifier list rather than the items."""
    return (
        isinstance(token, list)
        and bool(token)
        and isinstance(token[0], Atom)
        and token[0].upper() in FETCH_MODIFIERS
    )


def parse_fetch_modifiers(token: Argument) -> FetchModifiers:
    """`(CHANGEDSINCE n [VANISHED])` (RFC 7162 §3.1.4.1, §3.2.6); Bad otherwise."""
    if not isinstance(token, list) or not token:
        raise Bad("FETCH modifiers must be a non-empty parenthesized list")
    changedsince, vanished = None, False
    pos = 0
    while pos < len(token):
        name = token[pos].upper() if isinstance(token[pos], Atom) else None
        if name == "CHANGEDSINCE" and changedsince is None:
            if pos + 1 >= len(token):
                raise Bad("CHANGEDSINCE needs a mod-sequence")
            changedsince = parse_modseq(token[pos + 1], "CHANGEDSINCE")
            pos += 2
        elif name == "VANISHED" and not vanished:
            vanished = True
            pos += 1
        else:
            raise Bad(f"unknown or repeated FETCH modifier {shown(token[pos])}")
    return FetchModifiers(changedsince, vanished)


def parse_unchangedsince(token: Argument) -> int:
    """`(UNCHANGEDSINCE n)` (RFC 7162 §3.1.3); Bad otherwise."""
    if not (isinstance(token, list) and len(token) == 2 and isinstance(token[0], Atom)):
        raise Bad("the STORE modifier must be (UNCHANGEDSINCE mod-sequence)")
    if token[0].upper() != "UNCHANGEDSINCE":
        raise Bad(f"unknown STORE modifier {shown(token[0])}")
    return parse_modseq(token[1], "UNCHANGEDSINCE")


def modified_code(view, uids: list[int], *, uid: bool) -> bytes:
    """`[MODIFIED set]`: the messages UNCHANGEDSINCE refused, as UIDs after UID STORE, else
    as sequence numbers (RFC 7162 §3.1.3)."""
    numbers = uids if uid else [seq for seq in map(view.seq_of, uids) if seq is not None]
    return fmt.format_response_code(fmt.MODIFIED, format_sequence_set(numbers))


async def start_condstore(ctx: Context) -> None:
    """The session becomes CONDSTORE-aware. RFC 7162 §3.1: "A first CONDSTORE enabling
    command executed in the session with a mailbox selected MUST cause the server to return
    HIGHESTMODSEQ ... for the mailbox"."""
    session = ctx.session
    if session.dialect.condstore:
        return
    session.dialect.condstore = True
    view = session.view
    if view is None:
        return
    row = await ctx.services.postoffice.find_mailbox(session.user, view.name)
    if row is not None and row.id == view.mailbox_id:
        ctx.write(highestmodseq_response(row.highestmodseq))


async def highestmodseq_code(ctx: Context) -> bytes | None:
    """`[HIGHESTMODSEQ n]` of the selected mailbox as the store has it now."""
    session = ctx.session
    row = await ctx.services.postoffice.find_mailbox(session.user, session.view.name)
    if row is None or row.id != session.view.mailbox_id:
        return None
    return fmt.format_response_code(fmt.HIGHESTMODSEQ, b"%d" % row.highestmodseq)


def highestmodseq_response(modseq: int) -> bytes:
    """`* OK [HIGHESTMODSEQ n] Highest` (RFC 7162 §3.1.2.1; Dovecot's text)."""
    return fmt.untagged_status(
        fmt.OK, "Highest", fmt.format_response_code(fmt.HIGHESTMODSEQ, b"%d" % modseq)
    )


def uses_modseq(key: Key) -> bool:
    """Whether a search key tree holds a MODSEQ key (RFC 7162 §3.1.5, §3.1.6)."""
    stack = [key]
    while stack:
        each = stack.pop()
        if isinstance(each, ModseqKey):
            return True
        if isinstance(each, Not):
            stack.append(each.key)
        elif isinstance(each, And | Or):
            stack.extend(each.keys)
    return False


def modseq_basis(program: SearchProgram, ordered: Sequence[int]) -> list[int]:
    """The messages whose highest mod-sequence a SEARCH or SORT with MODSEQ reports, of the
    matches in the answer's order (ascending for SEARCH, sorted for SORT). RFC 4731 §3.2:
    with a single MIN or MAX that message, with MIN and MAX and no ALL/COUNT those two,
    "Otherwise ... all messages being returned". As Dovecot: PARTIAL (RFC 5267 §4.4) returns
    only its range (plus MIN's and MAX's message), and SAVE or UPDATE alone return all."""
    if not program.esearch:
        return list(ordered)
    returns = program.returns
    if program.partial is not None:
        first, last = program.partial
        basis = list(ordered[first - 1 : last])
    elif returns & {"ALL", "COUNT"} or not returns & {"MIN", "MAX"}:
        return list(ordered)
    else:
        basis = []
    if ordered and "MIN" in returns:
        basis.append(ordered[0])
    if ordered and "MAX" in returns:
        basis.append(ordered[-1])
    return basis


async def highest_modseq_of(ctx: Context, uids: list[int]) -> int:
    """The largest mod-sequence of the selected mailbox's messages `uids`, 0 for none."""
    if not uids:
        return 0
    return await ctx.services.postoffice.highest_modseq_of(ctx.session.view.mailbox_id, uids)


def with_modseq(
    response: bytes, program: SearchProgram, modseq: int, *, tag: str, uid: bool
) -> bytes:
    """A SEARCH, SORT or ESEARCH response with the mod-sequence added: `* SEARCH 2 5 (MODSEQ
    9)` (§3.1.6), `* SORT 5 2 (MODSEQ 9)` (§3.1.9), `* ESEARCH (TAG "a") ALL 2,5 MODSEQ 9`
    (§3.1.10); none when nothing matched (`modseq` 0). RETURN (SAVE) alone, which answers
    nothing (RFC 5182 §2.1), answers `* ESEARCH (TAG "a") MODSEQ 9` with MODSEQ, as Dovecot."""
    if program.esearch and not response:
        response = format_esearch((), frozenset(), tag=tag, uid=uid)
    if not modseq or not response:
        return response
    suffix = b" MODSEQ %d" % modseq if program.esearch else b" (MODSEQ %d)" % modseq
    return response[:-2] + suffix + fmt.CRLF
