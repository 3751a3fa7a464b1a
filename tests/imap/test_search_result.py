"""SEARCH answers: `* SEARCH` (IMAP4rev1), `* ESEARCH` (RFC 4731 / IMAP4rev2), and what
RETURN (SAVE) leaves in `$` (RFC 5182)."""

from __future__ import annotations

import pytest

from elektromail.imap.search import (
    MessageInfo,
    SearchContext,
    bind,
    format_search,
    parse_search,
    saved_result,
    search_response,
)
from elektromail.imap.tokens import parse_arguments


def program(text: str, rev2: bool):
    return parse_search(parse_arguments(text.encode()), rev2=rev2, utf8=False)


@pytest.mark.parametrize(
    ("numbers", "expected"),
    [
        pytest.param([], b"* SEARCH\r\n", id="empty"),
        pytest.param([7], b"* SEARCH 7\r\n", id="one"),
        pytest.param([2, 3, 7], b"* SEARCH 2 3 7\r\n", id="several"),
        pytest.param((9, 1, 4), b"* SEARCH 9 1 4\r\n", id="any-order-any-sequence"),
        pytest.param(
            [65535, 65536, 4294967295], b"* SEARCH 65535 65536 4294967295\r\n", id="large"
        ),
        pytest.param(
            list(range(1, 1001)),
            b"* SEARCH " + b" ".join(b"%d" % n for n in range(1, 1001)) + b"\r\n",
            id="many",
        ),
    ],
)
def test_format_search(numbers: list[int], expected: bytes) -> None:
    assert format_search(numbers) == expected


@pytest.mark.parametrize(
    ("text", "rev2", "numbers", "uid", "expected"),
    [
        pytest.param("ALL", False, [2, 3, 7], False, b"* SEARCH 2 3 7\r\n", id="rev1"),
        pytest.param("ALL", False, [], False, b"* SEARCH\r\n", id="rev1-empty"),
        pytest.param("ALL", False, [4, 9], True, b"* SEARCH 4 9\r\n", id="rev1-uid"),
        pytest.param(
            "ALL", True, [2, 10, 11], False, b'* ESEARCH (TAG "A1") ALL 2,10:11\r\n', id="rev2"
        ),
        pytest.param("ALL", True, [], False, b'* ESEARCH (TAG "A1")\r\n', id="rev2-empty"),
        pytest.param("ALL", True, [], True, b'* ESEARCH (TAG "A1") UID\r\n', id="rev2-uid-empty"),
        pytest.param(
            "ALL", True, [4, 5, 6, 8], True, b'* ESEARCH (TAG "A1") UID ALL 4:6,8\r\n', id="uid"
        ),
        pytest.param(
            "RETURN () ALL", False, [2, 10, 11], False,
            b'* ESEARCH (TAG "A1") ALL 2,10:11\r\n', id="rfc4731-return-empty-list",
        ),
        pytest.param(
            "RETURN (MIN COUNT) ALL", False, [2, 10, 11], False,
            b'* ESEARCH (TAG "A1") MIN 2 COUNT 3\r\n', id="rfc4731-min-count",
        ),
        pytest.param(
            "RETURN (ALL COUNT MAX MIN) ALL", True, [1, 2, 3, 9], True,
            b'* ESEARCH (TAG "A1") UID MIN 1 MAX 9 COUNT 4 ALL 1:3,9\r\n', id="every-option",
        ),
        pytest.param(
            "RETURN (MIN MAX COUNT ALL) ALL", True, [], False,
            b'* ESEARCH (TAG "A1") COUNT 0\r\n', id="no-match-keeps-only-count",
        ),
        pytest.param(
            "RETURN (MIN MAX) ALL", False, [], True,
            b'* ESEARCH (TAG "A1") UID\r\n', id="no-match-min-max",
        ),
        pytest.param(
            "RETURN (MAX) ALL", True, [7, 3, 5], False,
            b'* ESEARCH (TAG "A1") MAX 7\r\n', id="max-of-unordered",
        ),
        pytest.param(
            "RETURN (ALL) ALL", True, [7, 3, 5, 4], False,
            b'* ESEARCH (TAG "A1") ALL 3:5,7\r\n', id="all-is-compact-and-sorted",
        ),
        pytest.param("RETURN (SAVE) ALL", True, [1, 2], False, b"", id="save-alone-is-silent"),
        pytest.param("RETURN (SAVE) ALL", False, [1, 2], True, b"", id="save-alone-rev1"),
        pytest.param("RETURN (SAVE) ALL", True, [], False, b"", id="save-alone-empty"),
        pytest.param(
            "RETURN (SAVE MIN) ALL", True, [4, 8], False,
            b'* ESEARCH (TAG "A1") MIN 4\r\n', id="save-with-min",
        ),
        pytest.param(
            "RETURN (COUNT SAVE) ALL", False, [4, 8], True,
            b'* ESEARCH (TAG "A1") UID COUNT 2\r\n', id="save-with-count",
        ),
    ],
)  # fmt: skip
def test_search_response(
    text: str, rev2: bool, numbers: list[int], uid: bool, expected: bytes
) -> None:
    assert search_response(program(text, rev2), numbers, tag="A1", uid=uid) == expected


@pytest.mark.parametrize(
    ("returns", "uids", "saved"),
    [
        pytest.param("SAVE", [9, 3, 5], [3, 5, 9], id="save-alone-keeps-all"),
        pytest.param("SAVE MIN", [9, 3, 5], [3], id="min"),
        pytest.param("SAVE MAX", [9, 3, 5], [9], id="max"),
        pytest.param("SAVE MIN MAX", [9, 3, 5], [3, 9], id="min-max"),
        pytest.param("SAVE MIN MAX", [4], [4], id="min-max-same-message"),
        pytest.param("SAVE ALL", [9, 3], [3, 9], id="all"),
        pytest.param("SAVE COUNT", [9, 3], [3, 9], id="count"),
        pytest.param("SAVE COUNT MIN", [9, 3, 5], [3, 5, 9], id="count-and-min-keeps-all"),
        pytest.param("SAVE ALL MAX", [9, 3, 5], [3, 5, 9], id="all-and-max-keeps-all"),
        pytest.param("SAVE MIN", [], [], id="no-match"),
    ],
)
def test_saved_result_follows_rfc5182_table(returns: str, uids: list[int], saved: list[int]):
    assert saved_result(program(f"RETURN ({returns}) ALL", True), uids) == saved


def handle(line: str, *, rev2: bool, saved: frozenset[int]) -> tuple[bytes, list | None]:
    """What the SEARCH handler does, on a metadata-only mailbox: seq n is UIDS[n - 1]."""
    tag, command = line.split(" ", 1)
    uid = command.startswith("UID ")
    rest = command.split("SEARCH ", 1)[1]
    prog = parse_search(parse_arguments(rest.encode()), rev2=rev2, utf8=False)
    matcher = bind(prog, SearchContext(UIDS, saved))
    uids = matcher.candidates(FLAGS)
    if matcher.needs_store:
        uids = [m.uid for m in ROWS if m.uid in set(uids) and matcher(m)]
    numbers = uids if uid else [UIDS.index(u) + 1 for u in uids]
    new_saved = saved_result(prog, uids) if prog.save else None
    return search_response(prog, numbers, tag=tag, uid=uid), new_saved


UIDS = [10, 20, 30, 40, 50]
FLAGS = {10: ("\\Seen",), 20: (), 30: ("\\Seen", "\\Flagged"), 40: (), 50: ("\\Seen",)}
SIZES = {10: 100, 20: 5000, 30: 200, 40: 7000, 50: 300}
ROWS = [MessageInfo(u, FLAGS[u], size=SIZES[u]) for u in UIDS]


@pytest.mark.parametrize(
    ("line", "rev2", "response", "saved"),
    [
        pytest.param("a SEARCH SEEN", False, b"* SEARCH 1 3 5\r\n", None, id="rev1-seq"),
        pytest.param(
            "a UID SEARCH SEEN", False, b"* SEARCH 10 30 50\r\n", None, id="rev1-uid"
        ),
        pytest.param(
            "b SEARCH LARGER 1000", True, b'* ESEARCH (TAG "b") ALL 2,4\r\n', None,
            id="rev2-seq-size",
        ),
        pytest.param(
            "c UID SEARCH RETURN (MIN MAX COUNT) UNSEEN", True,
            b'* ESEARCH (TAG "c") UID MIN 20 MAX 40 COUNT 2\r\n', None, id="rev2-uid-return",
        ),
        pytest.param(
            "d SEARCH RETURN (SAVE) SEEN 2:*", False, b"", [30, 50], id="save-only",
        ),
        pytest.param(
            "e UID SEARCH RETURN (SAVE MAX) $ SMALLER 250", True,
            b'* ESEARCH (TAG "e") UID MAX 30\r\n', [30], id="search-in-saved-and-save-max",
        ),
        pytest.param(
            "f SEARCH NOT $", True, b'* ESEARCH (TAG "f") ALL 2,4:5\r\n', None,
            id="not-saved-in-seq-numbers",
        ),
    ],
)  # fmt: skip
def test_handler_flow(line: str, rev2: bool, response: bytes, saved: list[int] | None) -> None:
    assert handle(line, rev2=rev2, saved=frozenset({10, 30})) == (response, saved)
