"""SEARCH arguments into a key tree: every key, RETURN, CHARSET, errors and hostile input."""

from __future__ import annotations

import datetime

import pytest

from elektromail.imap.search import BADCHARSET_CODE, BadCharset, SearchProgram, parse_search
from elektromail.imap.search_parse import (
    MAX_DEPTH,
    AddressKey,
    And,
    BodyKey,
    DateKey,
    Everything,
    FlagKey,
    HeaderKey,
    Not,
    Or,
    RecentKey,
    SetKey,
    SizeKey,
    SubjectKey,
)
from elektromail.imap.seqset import SequenceSet
from elektromail.imap.tokens import Atom, Literal8String, LiteralString, String, parse_arguments


def parse(text: str, *, rev2: bool = False, utf8: bool = False) -> SearchProgram:
    return parse_search(parse_arguments(text.encode()), rev2=rev2, utf8=utf8)


def day(text: str) -> datetime.date:
    return datetime.datetime.strptime(text, "%Y-%m-%d").date()


def seq(*items: tuple[int | None, int | None]) -> SequenceSet:
    return SequenceSet(tuple(items))


SEEN = FlagKey("\\Seen")
FLAGGED = FlagKey("\\Flagged")
DRAFT = FlagKey("\\Draft")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        pytest.param("ALL", Everything(), id="all"),
        pytest.param("ANSWERED", FlagKey("\\Answered"), id="answered"),
        pytest.param("BCC eve", AddressKey("bcc", "eve"), id="bcc"),
        pytest.param("BEFORE 1-Feb-2024", DateKey("before", day("2024-02-01")), id="before"),
        pytest.param('BODY "two words"', BodyKey("two words"), id="body-quoted"),
        pytest.param("CC dave", AddressKey("cc", "dave"), id="cc"),
        pytest.param("DELETED", FlagKey("\\Deleted"), id="deleted"),
        pytest.param("DRAFT", DRAFT, id="draft"),
        pytest.param("FLAGGED", FLAGGED, id="flagged"),
        pytest.param("FROM alice@example.com", AddressKey("from", "alice@example.com"), id="from"),
        pytest.param("HEADER X-Mailer Test", HeaderKey("x-mailer", "Test"), id="header"),
        pytest.param('HEADER "List-Id" ""', HeaderKey("list-id", ""), id="header-empty-string"),
        pytest.param("KEYWORD $Forwarded", FlagKey("$Forwarded"), id="keyword"),
        pytest.param("LARGER 1024", SizeKey(True, 1024), id="larger"),
        pytest.param("NOT DELETED", FlagKey("\\Deleted", False), id="not-flag-is-unflag"),
        pytest.param("NOT LARGER 5", Not(SizeKey(True, 5)), id="not"),
        pytest.param("ON 01-Feb-2024", DateKey("on", day("2024-02-01")), id="on-two-digit-day"),
        pytest.param("OR SEEN FLAGGED", Or((SEEN, FLAGGED)), id="or"),
        pytest.param("SEEN", SEEN, id="seen"),
        pytest.param("SENTBEFORE 1-Jan-2000", DateKey("before", day("2000-01-01"), True), id="sb"),
        pytest.param('SENTON "5-Feb-2024"', DateKey("on", day("2024-02-05"), True), id="senton"),
        pytest.param("SENTSINCE 29-Feb-2024", DateKey("since", day("2024-02-29"), True), id="ss"),
        pytest.param("SINCE 31-dec-1999", DateKey("since", day("1999-12-31")), id="since"),
        pytest.param("SMALLER 0", SizeKey(False, 0), id="smaller"),
        pytest.param("SUBJECT report", SubjectKey("subject", "report"), id="subject"),
        pytest.param("TEXT hello", BodyKey("hello", headers=True), id="text"),
        pytest.param("TO bob", AddressKey("to", "bob"), id="to"),
        pytest.param("UID 3:*", SetKey(seq((3, None)), uid=True), id="uid"),
        pytest.param("UID $", SetKey(SequenceSet(saved=True), uid=True), id="uid-saved"),
        pytest.param("UNANSWERED", FlagKey("\\Answered", False), id="unanswered"),
        pytest.param("UNDELETED", FlagKey("\\Deleted", False), id="undeleted"),
        pytest.param("UNDRAFT", FlagKey("\\Draft", False), id="undraft"),
        pytest.param("UNFLAGGED", FlagKey("\\Flagged", False), id="unflagged"),
        pytest.param("UNKEYWORD Junk", FlagKey("Junk", False), id="unkeyword"),
        pytest.param("UNSEEN", FlagKey("\\Seen", False), id="unseen"),
        pytest.param("2,4:7,9:*", SetKey(seq((2, 2), (4, 7), (9, None))), id="sequence-set"),
        pytest.param("*", SetKey(seq((None, None))), id="star"),
        pytest.param("$", SetKey(SequenceSet(saved=True)), id="saved-result"),
        pytest.param("SEEN FLAGGED", And((SEEN, FLAGGED)), id="implicit-and"),
        pytest.param("(SEEN FLAGGED)", And((SEEN, FLAGGED)), id="group"),
        pytest.param("((SEEN))", SEEN, id="group-of-one-is-the-key"),
        pytest.param("SEEN (DRAFT (FLAGGED))", And((SEEN, DRAFT, FLAGGED)), id="groups-flatten"),
        pytest.param(
            "OR SEEN (DRAFT FLAGGED)", Or((SEEN, And((DRAFT, FLAGGED)))), id="or-of-group"
        ),
        pytest.param("OR SEEN OR DRAFT FLAGGED", Or((SEEN, DRAFT, FLAGGED)), id="or-chain"),
        pytest.param("OR OR SEEN DRAFT FLAGGED", Or((SEEN, DRAFT, FLAGGED)), id="or-left-chain"),
        pytest.param("OR (OR SEEN DRAFT) FLAGGED", Or((SEEN, DRAFT, FLAGGED)), id="or-in-group"),
        pytest.param("NOT NOT SEEN", SEEN, id="double-negation"),
        pytest.param("NOT NOT NOT LARGER 1", Not(SizeKey(True, 1)), id="triple-negation"),
        pytest.param(
            "NOT OR SEEN NOT (LARGER 1 SMALLER 9)",
            Not(Or((SEEN, Not(And((SizeKey(True, 1), SizeKey(False, 9))))))),
            id="nested-not-or",
        ),
        pytest.param(
            "OR NOT SEEN SEEN FLAGGED",
            And((Or((FlagKey("\\Seen", False), SEEN)), FLAGGED)),
            id="or-takes-two-keys",
        ),
        pytest.param(
            "seen uid 1 Subject x",
            And((SEEN, SetKey(seq((1, 1)), True), SubjectKey("subject", "x"))),
            id="case-insensitive",
        ),
        pytest.param("LARGER 007", SizeKey(True, 7), id="leading-zeros"),
        pytest.param("LARGER 9223372036854775807", SizeKey(True, 2**63 - 1), id="largest-number64"),
        pytest.param("SUBJECT NIL", SubjectKey("subject", "NIL"), id="nil-is-a-word"),
        pytest.param('SUBJECT "Grüße"', SubjectKey("subject", "Grüße"), id="utf8-quoted"),
    ],
)
def test_parse_key(text: str, key: object) -> None:
    assert parse(text).key == key


def test_literal_argument_is_decoded_as_utf8() -> None:
    args = [Atom("SUBJECT"), LiteralString("Grüße aus München".encode())]
    assert parse_search(args, rev2=True, utf8=False).key == SubjectKey(
        "subject", "Grüße aus München"
    )


@pytest.mark.parametrize(
    ("text", "key"),
    [
        pytest.param("RECENT", RecentKey(), id="recent"),
        pytest.param("NEW", And((RecentKey(), FlagKey("\\Seen", False))), id="new"),
        pytest.param("OLD", Not(RecentKey()), id="old"),
    ],
)
def test_rev1_recent_keys(text: str, key: object) -> None:
    """RFC 3501 §6.4.4: NEW 'is functionally equivalent to "(RECENT UNSEEN)"', OLD to
    '"NOT RECENT"'."""
    assert parse(text, rev2=False).key == key


@pytest.mark.parametrize("name", ["RECENT", "NEW", "OLD"])
def test_recent_keys_are_unknown_in_rev2(name: str) -> None:
    with pytest.raises(ValueError, match="IMAP4rev1 key"):
        parse(name, rev2=True)


@pytest.mark.parametrize(
    ("text", "rev2", "returns", "esearch"),
    [
        pytest.param("ALL", False, {"ALL"}, False, id="rev1-plain-search"),
        pytest.param("ALL", True, {"ALL"}, True, id="rev2-always-esearch"),
        pytest.param("RETURN () ALL", False, {"ALL"}, True, id="rev1-empty-return-is-all"),
        pytest.param("RETURN () ALL", True, {"ALL"}, True, id="rev2-empty-return-is-all"),
        pytest.param(
            "RETURN (min Max COUNT) ALL",
            False,
            {"MIN", "MAX", "COUNT"},
            True,
            id="case-insensitive-options",
        ),
        pytest.param("RETURN (SAVE) ALL", True, {"SAVE"}, True, id="save"),
        pytest.param("RETURN (ALL ALL) ALL", True, {"ALL"}, True, id="duplicates"),
    ],
)
def test_return_options(text: str, rev2: bool, returns: set[str], esearch: bool) -> None:
    program = parse(text, rev2=rev2)
    assert (program.returns, program.esearch) == (returns, esearch)
    assert program.save == ("SAVE" in returns)


@pytest.mark.parametrize(
    ("text", "charset"),
    [
        pytest.param("CHARSET UTF-8 ALL", "UTF-8", id="utf8"),
        pytest.param("CHARSET utf-8 ALL", "UTF-8", id="lower-case"),
        pytest.param('CHARSET "US-ASCII" ALL', "US-ASCII", id="quoted-us-ascii"),
        pytest.param("RETURN (COUNT) CHARSET us-ascii ALL", "US-ASCII", id="after-return"),
        pytest.param("ALL", None, id="none"),
    ],
)
def test_supported_charsets(text: str, charset: str | None) -> None:
    assert parse(text).charset == charset


@pytest.mark.parametrize(
    ("text", "save"),
    [
        pytest.param("CHARSET ISO-8859-1 ALL", False, id="latin1"),
        pytest.param('CHARSET "KOI8-R" SUBJECT x', False, id="quoted"),
        pytest.param("RETURN (SAVE) CHARSET UTF-16 ALL", True, id="save-requested"),
        pytest.param("CHARSET X-UNKNOWN", False, id="before-missing-keys"),
    ],
)
def test_unsupported_charset_is_badcharset(text: str, save: bool) -> None:
    with pytest.raises(BadCharset) as info:
        parse(text)
    assert info.value.save is save
    assert info.value.supported == ("UTF-8", "US-ASCII")
    assert not isinstance(info.value, ValueError)  # NO [BADCHARSET], not BAD


def test_badcharset_response_code() -> None:
    assert BADCHARSET_CODE == b"[BADCHARSET (UTF-8 US-ASCII)]"


def test_charset_is_refused_after_utf8_accept() -> None:
    with pytest.raises(ValueError, match="UTF8=ACCEPT"):
        parse("CHARSET UTF-8 ALL", rev2=True, utf8=True)
    assert parse("SUBJECT x", rev2=True, utf8=True).charset is None


@pytest.mark.parametrize(
    ("text", "needs"),
    [
        pytest.param("ALL", set(), id="all"),
        pytest.param("1:3 UID 4 $", set(), id="sets"),
        pytest.param("SEEN KEYWORD x", {"flags"}, id="flags"),
        pytest.param("LARGER 5", {"size"}, id="size"),
        pytest.param("SINCE 1-Jan-2024", {"date"}, id="internal-date"),
        pytest.param("SENTSINCE 1-Jan-2024", {"headers"}, id="sent-date"),
        pytest.param("HEADER X-A b", {"headers"}, id="header"),
        pytest.param("BODY x", {"body"}, id="body"),
        pytest.param("TEXT x", {"headers", "body"}, id="text"),
        pytest.param("OR SEEN NOT BODY x", {"flags", "body"}, id="or-not"),
        pytest.param("(UNSEEN SMALLER 9) FROM a", {"flags", "size", "headers"}, id="group"),
    ],
)
def test_needs_says_what_to_load(text: str, needs: set[str]) -> None:
    assert parse(text).needs == needs


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param("", "at least one search key", id="empty"),
        pytest.param("RETURN (ALL)", "at least one search key", id="return-without-keys"),
        pytest.param("CHARSET UTF-8", "at least one search key", id="charset-without-keys"),
        pytest.param("FOO", "unknown search key 'FOO'", id="unknown-key"),
        # MODSEQ was the example here until CONDSTORE came (issue 16); FUZZY is RFC 6203
        pytest.param("FUZZY TEXT x", "unknown search key", id="unsupported-extension"),
        pytest.param("SUBJECT", "SUBJECT needs a string", id="missing-string"),
        pytest.param("(SUBJECT) x", "SUBJECT needs a string", id="string-outside-group"),
        pytest.param("SUBJECT (x)", "SUBJECT needs a string", id="list-as-string"),
        pytest.param("HEADER", "HEADER needs a header field name", id="header-no-field"),
        pytest.param("HEADER X-Foo", "HEADER needs a string", id="header-no-string"),
        pytest.param('HEADER "" x', "HEADER needs a field name", id="header-empty-field"),
        pytest.param("BEFORE", "BEFORE needs a date", id="missing-date"),
        pytest.param("BEFORE (1-Feb-2024)", "BEFORE needs a date", id="date-list"),
        pytest.param("ON 1-Feb-24", "invalid date", id="two-digit-year"),
        pytest.param("ON 30-Feb-2024", "invalid date", id="no-such-day"),
        pytest.param("ON 0-Feb-2024", "invalid date", id="day-zero"),
        pytest.param("ON 1-Foo-2024", "invalid month", id="bad-month"),
        pytest.param("ON 1-Feb-0000", "invalid date", id="year-zero"),
        pytest.param("SINCE 2024-02-01", "invalid date", id="iso-date"),
        pytest.param("LARGER", "LARGER needs a number", id="missing-number"),
        pytest.param("LARGER -1", "needs a number", id="negative-number"),
        pytest.param("SMALLER 1e3", "needs a number", id="float-number"),
        pytest.param('LARGER "5"', "needs a number", id="quoted-number"),
        pytest.param("LARGER 9223372036854775808", "too large", id="over-number64"),
        pytest.param("LARGER " + "9" * 5000, "too large", id="huge-number"),
        pytest.param("UID", "UID needs a sequence set", id="uid-no-set"),
        pytest.param("UID x", "invalid UID set", id="uid-bad-set"),
        pytest.param("UID 1,$", "invalid UID set", id="uid-dollar-mixed"),
        pytest.param("1:0", "invalid sequence set", id="zero"),
        pytest.param("4294967296", "invalid sequence set", id="over-32-bits"),
        pytest.param("9" * 5000, "invalid sequence set", id="huge-sequence-number"),
        pytest.param("1x", "invalid sequence set", id="junk-after-number"),
        pytest.param("KEYWORD", "KEYWORD needs a keyword", id="keyword-missing"),
        pytest.param('KEYWORD "x"', "KEYWORD needs a keyword", id="keyword-string"),
        pytest.param('"SEEN"', "must be an atom", id="string-as-key"),
        pytest.param("NOT", "NOT needs a search key", id="not-alone"),
        pytest.param("SEEN NOT NOT", "NOT needs a search key", id="double-not-alone"),
        pytest.param("OR SEEN", "OR needs a search key", id="or-one-key"),
        pytest.param("OR OR SEEN DRAFT", "OR needs a search key", id="or-chain-short"),
        pytest.param("(NOT) SEEN", "NOT needs a search key", id="not-at-group-end"),
        pytest.param("()", "empty parenthesised list", id="empty-group"),
        pytest.param("SEEN ()", "empty parenthesised list", id="empty-shared-group"),
        pytest.param("OR () SEEN", "empty parenthesised list", id="empty-operand"),
        pytest.param("RETURN", "RETURN needs", id="return-alone"),
        pytest.param("RETURN ALL", "RETURN needs", id="return-not-a-list"),
        pytest.param("RETURN (PARTIAL 1:5 ALL) ALL", "PARTIAL conflicts with ALL", id="partial"),
        pytest.param("RETURN ((ALL)) ALL", "unknown RETURN option", id="return-nested"),
        pytest.param("ALL RETURN (ALL)", "unknown search key 'RETURN'", id="return-after-keys"),
        pytest.param("CHARSET", "CHARSET needs", id="charset-alone"),
        pytest.param("CHARSET (UTF-8) ALL", "CHARSET needs", id="charset-list"),
        pytest.param("ALL CHARSET UTF-8", "unknown search key 'CHARSET'", id="charset-late"),
        pytest.param(
            "CHARSET UTF-8 RETURN (ALL) ALL", "unknown search key 'RETURN'", id="return-late"
        ),
    ],
)
def test_invalid_search_is_value_error(args: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(")):
        parse(args)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param([Atom("SUBJECT"), LiteralString(b"caf\xe9")], id="latin1-literal"),
        pytest.param([Atom("BODY"), String(b"\xff\xfe")], id="junk-string"),
    ],
)
def test_search_string_must_be_utf8(args: list) -> None:
    with pytest.raises(ValueError, match="not valid UTF-8"):
        parse_search(args, rev2=False, utf8=False)


def test_binary_literal_is_not_a_search_string() -> None:
    with pytest.raises(ValueError, match="needs a string"):
        parse_search([Atom("BODY"), Literal8String(b"x")], rev2=True, utf8=False)


# -- hostile input ------------------------------------------------------------------------

N = 100_000


def test_many_nots_in_a_row_cost_no_depth() -> None:
    assert parse_search([Atom("NOT")] * N + [Atom("SEEN")], rev2=True, utf8=False).key == SEEN
    odd = [Atom("NOT")] * (N + 1) + [Atom("LARGER"), Atom("1")]
    assert parse_search(odd, rev2=True, utf8=False).key == Not(SizeKey(True, 1))


def test_long_or_chains_are_flattened() -> None:
    right = [Atom("OR"), Atom("SEEN")] * N + [Atom("DRAFT")]
    assert len(parse_search(right, rev2=True, utf8=False).key.keys) == N + 1
    left = [Atom("OR")] * N + [Atom("SEEN")] * (N + 1)
    assert len(parse_search(left, rev2=True, utf8=False).key.keys) == N + 1


def test_alternating_not_or_is_refused_when_too_deep() -> None:
    depth_ok = [Atom("NOT"), Atom("OR"), Atom("SEEN")] * (MAX_DEPTH // 2 - 1) + [Atom("DRAFT")]
    assert parse_search(depth_ok, rev2=True, utf8=False).key.depth <= MAX_DEPTH
    hostile = [Atom("NOT"), Atom("OR"), Atom("SEEN")] * N + [Atom("DRAFT")]
    with pytest.raises(ValueError, match="nested deeper"):
        parse_search(hostile, rev2=True, utf8=False)


def nested(depth: int, wrap) -> list:
    tokens: list = [Atom("SEEN")]
    for _ in range(depth):
        tokens = wrap(tokens)
    return tokens


@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda inner: [inner], id="parentheses"),
        pytest.param(lambda inner: [Atom("NOT"), inner], id="not-of-list"),
        pytest.param(lambda inner: [Atom("OR"), inner, Atom("DRAFT")], id="or-of-list"),
        pytest.param(lambda inner: [Atom("DRAFT"), inner], id="and-of-list"),
    ],
)
def test_deeply_nested_lists_are_refused_without_recursion(wrap) -> None:
    with pytest.raises(ValueError, match="nested deeper"):
        parse_search(nested(N, wrap), rev2=True, utf8=False)


def test_lists_as_deep_as_the_tokenizer_allows_are_accepted() -> None:
    text = "(" * MAX_DEPTH + "SEEN" + ")" * MAX_DEPTH
    assert parse(text).key == SEEN


def test_wide_search_is_linear() -> None:
    tokens = [Atom("SUBJECT"), Atom("x")] * N
    assert len(parse_search(tokens, rev2=True, utf8=False).key.keys) == N
