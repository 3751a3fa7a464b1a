"""The SEARCH engine in one import: parse (search_parse), evaluate (search_eval), and the
answers, `* SEARCH` (IMAP4rev1) or `* ESEARCH` (RFC 4731, IMAP4rev2), and `$` (RFC 5182).

A handler, in outline::

    program = parse_search(args, rev2=..., utf8=...)   # ValueError: BAD; BadCharset: NO
    matcher = bind(program, SearchContext.from_view(view, saved))   # ValueError: BAD
    uids = matcher.candidates(view.flags)
    if matcher.needs_store:  # load in chunks; raw+structure only if needs & CONTENT
        uids = [row.uid for row in rows if matcher(row)]
    numbers = uids if uid_command else [view.seq_of(u) for u in uids]
    write(search_response(program, numbers, tag=tag, uid=uid_command))
    if program.save: saved = saved_result(program, uids)
"""

from __future__ import annotations

from collections.abc import Sequence

from elektromail.imap import format as fmt
from elektromail.imap.search_eval import (
    CONTENT,
    Matcher,
    MessageInfo,
    MissingData,
    SearchContext,
    SearchMessage,
    bind,
    evaluate,
)
from elektromail.imap.search_parse import (
    CHARSETS,
    MAX_DEPTH,
    BadCharset,
    SearchProgram,
    parse_search,
)
from elektromail.imap.seqset import format_sequence_set

__all__ = [
    "BADCHARSET_CODE",
    "CHARSETS",
    "CONTENT",
    "MAX_DEPTH",
    "BadCharset",
    "Matcher",
    "MessageInfo",
    "MissingData",
    "SearchContext",
    "SearchMessage",
    "SearchProgram",
    "bind",
    "evaluate",
    "format_esearch",
    "format_search",
    "parse_search",
    "saved_result",
    "search_response",
]

# `NO [BADCHARSET (UTF-8 US-ASCII)] ...` for a BadCharset (RFC 9051 §7.1).
BADCHARSET_CODE = fmt.format_response_code(fmt.BADCHARSET, "(" + " ".join(CHARSETS) + ")")


def format_search(numbers: Sequence[int]) -> bytes:
    """IMAP4rev1 `* SEARCH 2 3 7\\r\\n` (`* SEARCH\\r\\n` when nothing matched)."""
    if not numbers:
        return b"* SEARCH" + fmt.CRLF
    largest = max(numbers)
    if largest < _NUMBER_TEXTS_UP_TO:
        texts = _NUMBER_TEXTS
        if largest >= len(texts):
            texts.extend(b"%d" % n for n in range(len(texts), largest + 1))
        return b"* SEARCH " + b" ".join(map(texts.__getitem__, numbers)) + fmt.CRLF
    # a list's repr writes its numbers in C: "[2, 3, 7]" -> "2 3 7", quicker than a join of str()
    text = repr(numbers if type(numbers) is list else list(numbers))[1:-1].replace(",", "")
    return b"* SEARCH " + text.encode("ascii") + fmt.CRLF


# b"%d" % n at index n, made once up to the largest number answered (below _NUMBER_TEXTS_UP_TO):
# turning an int into decimal costs ~470 instructions, a lookup ~30 (UID SEARCH of 1,000)
_NUMBER_TEXTS: list[bytes] = []
_NUMBER_TEXTS_UP_TO = 1 << 16


def format_esearch(
    numbers: Sequence[int],
    returns: frozenset[str] | set[str],
    *,
    tag: str,
    uid: bool,
    partial: tuple[int, int] | None = None,
) -> bytes:
    """`* ESEARCH (TAG "a") UID MIN 1 MAX 9 COUNT 3 ALL 1:3,9\\r\\n` (RFC 4731 §3.1).

    MIN, MAX and ALL are left out when nothing matched; COUNT is always there when asked;
    PARTIAL (RFC 5267 §4.4) too, NIL when no result is at those positions.
    """
    out = [b"* ESEARCH (TAG " + fmt.string(tag) + b")"]
    if uid:
        out.append(b"UID")
    if numbers and "MIN" in returns:
        out.append(b"MIN %d" % min(numbers))
    if numbers and "MAX" in returns:
        out.append(b"MAX %d" % max(numbers))
    if "COUNT" in returns:
        out.append(b"COUNT %d" % len(numbers))
    if numbers and "ALL" in returns:
        out.append(b"ALL " + format_sequence_set(numbers).encode("ascii"))
    if partial is not None:
        out.append(format_partial(sorted(numbers), partial, sort=True))
    return b" ".join(out) + fmt.CRLF


def format_partial(ordered: Sequence[int], partial: tuple[int, int], *, sort: bool) -> bytes:
    """`PARTIAL (2:4 7,9:10)`: the results at positions first..last of `ordered` (from 1),
    or NIL (RFC 5267 §4.4); `sort` False keeps SORT's order in the set, as ESORT's ALL."""
    first, last = partial
    picked = ordered[first - 1 : last]
    shown = format_sequence_set(picked, sort=sort).encode("ascii") if picked else b"NIL"
    return b"PARTIAL (%d:%d %s)" % (first, last, shown)


def search_response(
    program: SearchProgram, numbers: Sequence[int], *, tag: str, uid: bool
) -> bytes:
    """The untagged answer to a SEARCH, or b"" when there is none.

    `numbers` are what matched, as the client asked for them: UIDs for UID SEARCH (`uid`),
    message sequence numbers otherwise. RETURN (SAVE) alone suppresses the ESEARCH response
    (RFC 5182 §2.1, RFC 9051 §6.4.4).
    """
    if not program.esearch:
        return format_search(numbers)
    shown = program.returns - {"SAVE"}
    if not shown:
        return b""
    return format_esearch(numbers, shown, tag=tag, uid=uid, partial=program.partial)


def saved_result(program: SearchProgram, uids: Sequence[int]) -> list[int]:
    """What `$` holds after a successful SEARCH with RETURN (SAVE) (RFC 5182 §2.1 table):

    SAVE alone, or with ALL or COUNT: every match; with MIN and/or MAX only: those messages.
    Pass the matching UIDs (ascending order is not required); the result is ascending.
    Sequence numbers follow UID order, so MIN/MAX pick the same message either way.
    """
    if not uids:
        return []
    returns = program.returns
    if returns & {"ALL", "COUNT"} or not returns & {"MIN", "MAX"}:
        return sorted(uids)
    picked = set()
    if "MIN" in returns:
        picked.add(min(uids))
    if "MAX" in returns:
        picked.add(max(uids))
    return sorted(picked)
