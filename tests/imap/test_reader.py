"""CommandReader: tokens, literals, limits, resynchronisation, pausing, any chunking."""

from __future__ import annotations

import random

import pytest

from elektromail.imap.reader import (
    CommandReader,
    LineTooLong,
    LiteralTooBig,
    NeedContinuation,
    ParsedCommand,
    ParseError,
    RawLine,
)
from elektromail.imap.tokens import Atom, Literal8String, LiteralString, String


def feed_all(data: bytes, **limits) -> list:
    return CommandReader(**limits).feed(data)


def feed_bytewise(data: bytes, **limits) -> list:
    reader = CommandReader(**limits)
    events = []
    for i in range(len(data)):
        events += reader.feed(data[i : i + 1])
    return events


def cmd(line: bytes, tag: str, name: str, args: list) -> ParsedCommand:
    return ParsedCommand(tag, name, args, len(line))


# -- commands that parse ---------------------------------------------------------------------

VALID = [
    pytest.param(b"a1 NOOP\r\n", "a1", "NOOP", [], id="no-arguments"),
    pytest.param(b"a1 noop\r\n", "a1", "NOOP", [], id="name-upper-cased"),
    pytest.param(b"A.1 select iNbOx\r\n", "A.1", "SELECT", [Atom("iNbOx")], id="atom-keeps-case"),
    pytest.param(b"a1 NOOP\n", "a1", "NOOP", [], id="bare-lf-line-end"),
    pytest.param(b"t] NOOP\r\n", "t]", "NOOP", [], id="tag-may-contain-bracket"),
    pytest.param(
        b'a LOGIN "us\\"er" "p\\\\w"\r\n',
        "a",
        "LOGIN",
        [b'us"er', b"p\\w"],
        id="quoted-escapes",
    ),
    pytest.param(b'a LOGIN "" ""\r\n', "a", "LOGIN", [b"", b""], id="empty-quoted"),
    pytest.param(
        'a SELECT "Entwürfe"\r\n'.encode(),
        "a",
        "SELECT",
        ["Entwürfe".encode()],
        id="utf8-in-quoted",
    ),
    pytest.param(b'a X "tab\there"\r\n', "a", "X", [b"tab\there"], id="tab-is-a-quoted-text-char"),
    pytest.param(b"a X NIL nil\r\n", "a", "X", [Atom("NIL"), Atom("nil")], id="nil-is-an-atom"),
    pytest.param(
        b"a STORE 1:* +FLAGS.SILENT (\\Seen $Junk)\r\n",
        "a",
        "STORE",
        [Atom("1:*"), Atom("+FLAGS.SILENT"), [Atom("\\Seen"), Atom("$Junk")]],
        id="flags-and-star",
    ),
    pytest.param(
        b'a LIST "" [Gmail]/%\r\n',
        "a",
        "LIST",
        [b"", Atom("[Gmail]/%")],
        id="list-pattern-with-brackets",
    ),
    pytest.param(
        b"a FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100>)\r\n",
        "a",
        "FETCH",
        [Atom("1"), [Atom("FLAGS"), Atom("BODY.PEEK[HEADER.FIELDS (From To)]<0.100>")]],
        id="fetch-section-is-one-atom",
    ),
    pytest.param(
        b"a FETCH 1 BODY[]\r\n", "a", "FETCH", [Atom("1"), Atom("BODY[]")], id="empty-section"
    ),
    pytest.param(
        b"a UID FETCH 1:4 FLAGS\r\n",
        "a",
        "UID",
        [Atom("FETCH"), Atom("1:4"), Atom("FLAGS")],
        id="uid-prefix-is-the-name",
    ),
    pytest.param(
        b"a SEARCH (OR (SEEN) ((DELETED)))\r\n",
        "a",
        "SEARCH",
        [[Atom("OR"), [Atom("SEEN")], [[Atom("DELETED")]]]],
        id="nested-lists",
    ),
    pytest.param(b"a X ()\r\n", "a", "X", [[]], id="empty-list"),
    pytest.param(b"a X foo[\r\n", "a", "X", [Atom("foo[")], id="unclosed-bracket-in-atom"),
]


@pytest.mark.parametrize(("line", "tag", "name", "args"), VALID)
def test_command_is_tokenized(line: bytes, tag: str, name: str, args: list) -> None:
    assert feed_all(line) == [cmd(line, tag, name, args)]


def test_token_types_say_how_strings_were_sent() -> None:
    data = b'a X atom "quoted" {3+}\r\nlit ~{2+}\r\n\x00\x01\r\n'
    [command] = feed_all(data)
    atom, quoted, lit, lit8 = command.args
    assert type(atom) is Atom and atom == "atom"
    assert type(quoted) is String and not quoted.literal and not quoted.binary
    assert type(lit) is LiteralString and lit.literal and not lit.binary and lit == b"lit"
    assert type(lit8) is Literal8String and lit8.binary and lit8 == b"\x00\x01"


def test_pipelined_commands_come_out_in_order() -> None:
    data = b"a1 NOOP\r\na2 CAPABILITY\r\na3 LOGOUT\r\n"
    assert [e.tag for e in feed_all(data)] == ["a1", "a2", "a3"]


def test_blank_lines_between_commands_are_ignored() -> None:
    assert feed_all(b"\r\n\na NOOP\r\n") == [ParsedCommand("a", "NOOP", [], 8)]


# -- literals --------------------------------------------------------------------------------


def test_synchronizing_literal_asks_for_continuation_then_completes() -> None:
    reader = CommandReader()
    assert reader.feed(b"a LOGIN {4}\r\n") == [NeedContinuation(4, "a", "LOGIN")]
    assert reader.feed(b"user {4}\r\n") == [NeedContinuation(4, "a", "LOGIN")]
    events = reader.feed(b"pass\r\n")
    assert events == [ParsedCommand("a", "LOGIN", [b"user", b"pass"], 29)]


def test_non_synchronizing_literal_needs_no_continuation() -> None:
    data = b"a APPEND INBOX (\\Seen) {12+}\r\nhello\r\nworld\r\n"
    assert feed_all(data) == [
        ParsedCommand(
            "a", "APPEND", [Atom("INBOX"), [Atom("\\Seen")], b"hello\r\nworld"], len(data)
        )
    ]


def test_zero_length_literal_completes_at_once() -> None:
    reader = CommandReader()
    assert reader.feed(b"a LOGIN {0}\r\n x\r\n") == [
        NeedContinuation(0, "a", "LOGIN"),
        ParsedCommand("a", "LOGIN", [b"", Atom("x")], 17),
    ]


def test_literal_inside_a_list() -> None:
    data = b"a X (a {1+}\r\nb c)\r\n"
    assert feed_all(data) == [ParsedCommand("a", "X", [[Atom("a"), b"b", Atom("c")]], len(data))]


def test_big_literal_in_chunks_is_delivered_exactly() -> None:
    payload = bytes(range(256)) * 20000  # 5 MB with every byte value
    reader = CommandReader()
    assert reader.feed(b"a APPEND INBOX {%d}\r\n" % len(payload)) == [
        NeedContinuation(len(payload), "a", "APPEND")
    ]
    events = []
    for start in range(0, len(payload), 65536):
        events += reader.feed(payload[start : start + 65536])
    events += reader.feed(b"\r\n")
    assert len(events) == 1
    assert events[0].args[1] == payload


def test_reject_literal_returns_to_command_mode() -> None:
    reader = CommandReader()
    assert reader.feed(b"a APPEND nosuch {5}\r\n") == [NeedContinuation(5, "a", "APPEND")]
    reader.reject_literal()
    assert reader.feed(b"b NOOP\r\n") == [ParsedCommand("b", "NOOP", [], 8)]


def test_reject_literal_without_pending_literal_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        CommandReader().reject_literal()


# -- malformed commands ----------------------------------------------------------------------

ERRORS = [
    pytest.param(b" NOOP\r\n", None, "missing tag", id="missing-tag"),
    pytest.param(b"* NOOP\r\n", None, "invalid tag", id="star-tag"),
    pytest.param(b"+ NOOP\r\n", None, "invalid tag", id="plus-tag"),
    pytest.param(b"a(b NOOP\r\n", None, "invalid tag", id="paren-in-tag"),
    pytest.param(b"a\r\n", "a", "missing command name", id="missing-name"),
    pytest.param(b'a "NOOP"\r\n', "a", "missing command name", id="quoted-name"),
    pytest.param(b"a NO(OP\r\n", "a", "invalid command name", id="bad-name"),
    pytest.param(b"a X (1 2\r\n", "a", "missing ')'", id="unclosed-list"),
    pytest.param(b"a X 1)\r\n", "a", "unexpected ')'", id="extra-close"),
    pytest.param(b'a X "abc\r\n', "a", "unterminated quoted string", id="unterminated-quote"),
    pytest.param(b'a X "a\\qb"\r\n', "a", "invalid escape", id="bad-escape"),
    pytest.param(b'a X "a\\', "a", "invalid escape", id="escape-at-end-of-line"),
    pytest.param(b'a X "a\rb"\r\n', "a", "CR in quoted", id="cr-in-quoted"),
    pytest.param(b'a X "a\x00b"\r\n', "a", "NUL in quoted", id="nul-in-quoted"),
    pytest.param(b'a X "\xff"\r\n', "a", "not valid UTF-8", id="bad-utf8-in-quoted"),
    pytest.param(b"a X \x00\r\n", "a", "NUL character", id="nul"),
    pytest.param(b"a X caf\xc3\xa9\r\n", "a", "8-bit", id="8bit-atom"),
    pytest.param(b"a X \x01\r\n", "a", "control character", id="ctl"),
    pytest.param(b"a X {3} x\r\n", "a", "must end the line", id="literal-mid-line"),
    pytest.param(b"a X {x}\r\n", "a", "invalid literal", id="bad-literal"),
    pytest.param(b'a X "a""b"\r\n', "a", "missing space", id="strings-not-separated"),
    pytest.param(b"a X (A)(B)\r\n", "a", "missing space", id="lists-not-separated"),
]


@pytest.mark.parametrize(("line", "tag", "fragment"), ERRORS)
def test_malformed_command_is_a_parse_error(line: bytes, tag: str | None, fragment: str) -> None:
    if not line.endswith(b"\n"):
        line += b"\r\n"
    [event] = feed_all(line)
    assert isinstance(event, ParseError)
    assert event.tag == tag
    assert fragment in event.message


@pytest.mark.parametrize(("line", "tag", "fragment"), ERRORS)
def test_reader_resyncs_after_a_parse_error(line: bytes, tag: str | None, fragment: str) -> None:
    if not line.endswith(b"\n"):
        line += b"\r\n"
    events = feed_all(line + b"z NOOP\r\n")
    assert events[-1] == ParsedCommand("z", "NOOP", [], 8)
    assert len(events) == 2


def test_parse_error_skips_a_following_non_synchronizing_literal() -> None:
    # The client sends the literal anyway: its bytes must not be read as commands.
    data = b'a X "bad\\q" {12+}\r\nb LOGOUT\r\n\r\n tail\r\nc NOOP\r\n'
    assert feed_all(data) == [
        ParseError("a", "invalid escape in quoted string"),
        ParsedCommand("c", "NOOP", [], 8),
    ]


@pytest.mark.parametrize(
    "line",
    [b"a  X 1\r\n", b"a X  1\r\n", b"a X 1 \r\n", b"a X \r\n", b"a X ( 1)\r\n", b"a X (1 )\r\n"],
)
def test_extraneous_spaces_are_a_syntax_error(line: bytes) -> None:
    """RFC 9051 §2.2.1: "It is a syntax error to send a command with missing or extraneous
    spaces or arguments." """
    [event] = CommandReader().feed(line)
    assert isinstance(event, ParseError) and event.tag == "a"


def test_parse_error_before_a_synchronizing_literal_answers_at_once() -> None:
    # The client waits for "+" that never comes; it reads our BAD instead.
    reader = CommandReader()
    assert reader.feed(b"a X ) {5}\r\n") == [
        ParseError("a", "unbalanced parentheses: unexpected ')'")
    ]
    assert reader.feed(b"b NOOP\r\n") == [ParsedCommand("b", "NOOP", [], 8)]


def test_parse_error_after_a_literal_keeps_the_tag() -> None:
    data = b"a X {1+}\r\nx )\r\nb NOOP\r\n"
    assert feed_all(data) == [
        ParseError("a", "unbalanced parentheses: unexpected ')'"),
        ParsedCommand("b", "NOOP", [], 8),
    ]


def test_deeply_nested_lists_are_a_parse_error_not_a_recursion_error() -> None:
    data = b"a X " + b"(" * 10000 + b")" * 10000 + b"\r\nb NOOP\r\n"
    events = feed_all(data)
    assert isinstance(events[0], ParseError) and "nested" in events[0].message
    assert events[1] == ParsedCommand("b", "NOOP", [], 8)


def test_nesting_up_to_the_limit_is_accepted() -> None:
    data = b"a X " + b"(" * 5 + b")" * 5 + b"\r\n"
    [event] = feed_all(data, max_depth=5)
    assert event.args == [[[[[[]]]]]]
    [event] = feed_all(b"a X " + b"(" * 6 + b")" * 6 + b"\r\n", max_depth=5)
    assert isinstance(event, ParseError)


# -- limits ----------------------------------------------------------------------------------


def test_synchronizing_literal_over_the_limit_is_refused_without_reading_it() -> None:
    reader = CommandReader(max_literal=1000)
    assert reader.feed(b"a APPEND INBOX {4294967296}\r\n") == [LiteralTooBig("a", 4294967296, True)]
    assert reader.feed(b"b NOOP\r\n") == [ParsedCommand("b", "NOOP", [], 8)]


def test_absurd_synchronizing_literal_is_not_fatal() -> None:
    reader = CommandReader()
    assert reader.feed(b"a APPEND INBOX {99999999999999999999}\r\n") == [
        LiteralTooBig("a", 99999999999999999999, True)
    ]
    assert reader.feed(b"b NOOP\r\n") == [ParsedCommand("b", "NOOP", [], 8)]


def test_non_synchronizing_literal_over_the_limit_is_discarded_as_it_streams() -> None:
    reader = CommandReader(max_literal=10)
    # Answered at once (RFC 7888 §4 allows the NO before the literal is read).
    assert reader.feed(b"a APPEND INBOX {300000+}\r\n") == [LiteralTooBig("a", 300000, False)]
    for _ in range(3):
        assert reader.feed(b"x" * 100000) == []
        assert reader.buffered == 0
    # The rest of the command line, with another {N+} literal, is skipped too, silently.
    assert reader.feed(b" more {3+}\r\nabc\r\nb NOOP\r\n") == [ParsedCommand("b", "NOOP", [], 8)]


@pytest.mark.parametrize("feed", [feed_all, feed_bytewise], ids=["at-once", "bytewise"])
def test_literals_of_one_command_over_max_command_are_dropped_together(feed) -> None:
    """MULTIAPPEND (RFC 3502) sends many literals in one command, each under max_literal: the
    command as a whole is bounded too, and what is left of it skipped."""
    data = b"a APPEND INBOX {6+}\r\n123456 {6+}\r\n123456 {3+}\r\nabc\r\nb NOOP\r\n"
    assert feed(data, max_literal=10, max_command=30) == [
        LiteralTooBig("a", 6, False, whole_command=True),
        ParsedCommand("b", "NOOP", [], 8),
    ]


def test_a_synchronizing_literal_over_max_command_is_refused_unread() -> None:
    reader = CommandReader(max_literal=10, max_command=30)
    assert reader.feed(b"a APPEND INBOX {6+}\r\n123456 {6}\r\n") == [
        LiteralTooBig("a", 6, True, whole_command=True)
    ]
    assert reader.feed(b"b NOOP\r\n") == [ParsedCommand("b", "NOOP", [], 8)]


def test_literals_within_max_command_make_one_command() -> None:
    [command] = feed_all(b"a APPEND INBOX {3+}\r\nabc {3+}\r\nxyz\r\n", max_command=60)
    assert command.args == ["INBOX", b"abc", b"xyz"]


def test_a_bad_command_is_answered_before_its_literal_is_discarded() -> None:
    reader = CommandReader(max_literal=10)
    assert reader.feed(b'a X "\\q" {300000+}\r\n') == [
        ParseError("a", "invalid escape in quoted string")
    ]
    assert reader.feed(b"x" * 300000 + b" {5+}\r\n12345\r\nb NOOP\r\n") == [
        ParsedCommand("b", "NOOP", [], 8)
    ]


@pytest.mark.parametrize(
    "announcement",
    [b"{99999999999999999999+}", b"~{4294967296+}", b"{" + b"9" * 5000 + b"+}"],
    ids=["20-digits", "literal8-over-discard-limit", "5000-digits"],
)
def test_absurd_non_synchronizing_literal_is_fatal_at_once(announcement: bytes) -> None:
    reader = CommandReader(max_discard=2**31)
    [event] = reader.feed(b"a APPEND INBOX " + announcement + b"\r\n")
    assert isinstance(event, LiteralTooBig)
    assert event.fatal and not event.synchronizing and event.tag == "a"
    assert reader.feed(b"b NOOP\r\n") == []


def test_absurd_literal_announced_by_a_skipped_line_is_fatal() -> None:
    reader = CommandReader()
    [event] = reader.feed(b'a X "\\q" {' + b"9" * 200 + b"+}\r\n")
    assert isinstance(event, LiteralTooBig) and event.fatal


def test_one_megabyte_line_is_discarded_without_buffering() -> None:
    reader = CommandReader(max_line=1024)
    events = reader.feed(b"a1 APPEND ")
    for _ in range(16):
        events += reader.feed(b"x" * 65536)
        assert reader.buffered <= 1100
    events += reader.feed(b"\r\nb NOOP\r\n")
    assert events == [LineTooLong("a1"), ParsedCommand("b", "NOOP", [], 8)]


def test_one_megabyte_line_in_one_feed() -> None:
    events = feed_all(b"a1 X " + b"y" * 2**20 + b"\r\nb NOOP\r\n")
    assert events == [LineTooLong("a1"), ParsedCommand("b", "NOOP", [], 8)]


def test_line_too_long_without_a_tag() -> None:
    assert feed_all(b"x" * 200 + b"\r\n", max_line=100) == [LineTooLong(None)]


def test_line_exactly_at_the_limit_is_accepted() -> None:
    line = b"a X " + b"y" * 96
    assert feed_all(line + b"\r\n", max_line=100) == [
        ParsedCommand("a", "X", [Atom("y" * 96)], 102)
    ]
    assert feed_all(line + b"y\r\n", max_line=100) == [LineTooLong("a")]


def test_line_limit_counts_every_line_of_a_command_but_not_literals() -> None:
    ok = b"a X " + b"{100+}\r\n" + b"z" * 100 + b" " + b"y" * 50 + b"\r\n"
    assert isinstance(feed_all(ok, max_line=80)[0], ParsedCommand)
    long = b"a X " + b"y" * 50 + b" {1+}\r\nz " + b"y" * 50 + b"\r\nb NOOP\r\n"
    assert feed_all(long, max_line=80) == [LineTooLong("a"), ParsedCommand("b", "NOOP", [], 8)]


def test_too_long_line_ending_in_a_non_synchronizing_literal_skips_the_literal() -> None:
    data = b"a X " + b"y" * 200 + b" {5+}\r\nb NOP\r\nc NOOP\r\n"
    assert feed_all(data, max_line=100) == [LineTooLong("a"), ParsedCommand("c", "NOOP", [], 8)]


# -- pausing: IDLE, AUTHENTICATE, STARTTLS -----------------------------------------------------


def test_idle_pauses_until_the_server_asks_for_the_done_line() -> None:
    reader = CommandReader()
    assert reader.feed(b"a IDLE\r\nDONE\r\nb NOOP\r\n") == [ParsedCommand("a", "IDLE", [], 8)]
    assert reader.paused
    assert reader.expect_raw_line() == [RawLine(b"DONE")]
    assert reader.paused
    assert reader.resume() == [ParsedCommand("b", "NOOP", [], 8)]


def test_raw_line_arriving_later_comes_from_feed() -> None:
    reader = CommandReader()
    reader.feed(b"a IDLE\r\n")
    assert reader.expect_raw_line() == []
    assert reader.feed(b"DO") == []
    assert reader.feed(b"NE\r\nb NOOP\r\n") == [RawLine(b"DONE")]
    assert reader.resume() == [ParsedCommand("b", "NOOP", [], 8)]


def test_authenticate_exchanges_several_raw_lines() -> None:
    reader = CommandReader()
    assert reader.feed(b"a AUTHENTICATE PLAIN\r\n") == [
        ParsedCommand("a", "AUTHENTICATE", [Atom("PLAIN")], 22)
    ]
    assert reader.expect_raw_line() == []
    assert reader.feed(b"dXNlcgB1c2VyAHBhc3M=\r\n") == [RawLine(b"dXNlcgB1c2VyAHBhc3M=")]
    assert reader.feed(b"*\r\n") == []
    assert reader.expect_raw_line() == [RawLine(b"*")]
    assert reader.resume() == []


def test_raw_line_is_not_tokenized() -> None:
    reader = CommandReader()
    reader.feed(b"a AUTHENTICATE X\r\n")
    assert reader.expect_raw_line() == []
    assert reader.feed(b'"( {5}\r\n') == [RawLine(b'"( {5}')]


def test_raw_line_too_long_is_reported_and_pauses() -> None:
    reader = CommandReader(max_line=10)
    reader.feed(b"a IDLE\r\n")
    reader.expect_raw_line()
    assert reader.feed(b"x" * 50 + b" {5+}\r\nb NOOP\r\n") == [LineTooLong(None)]
    assert reader.paused
    assert reader.resume() == [ParsedCommand("b", "NOOP", [], 8)]


def test_starttls_pauses_so_plaintext_after_it_can_be_discarded() -> None:
    reader = CommandReader()
    assert reader.feed(b"a STARTTLS\r\nb LOGIN x y\r\n") == [ParsedCommand("a", "STARTTLS", [], 12)]
    assert reader.discard_buffered() == 13
    assert reader.resume() == []
    assert reader.feed(b"c NOOP\r\n") == [ParsedCommand("c", "NOOP", [], 8)]


def test_a_paused_reader_buffers_input_until_resumed() -> None:
    reader = CommandReader(pause_after=("IDLE",))
    assert [e.tag for e in reader.feed(b"i IDLE\r\n")] == ["i"]
    assert reader.feed(b"a NOOP\r\nb NOOP\r\n") == []
    assert reader.buffered == 16
    assert [e.tag for e in reader.resume()] == ["a", "b"]


def test_expect_raw_line_in_the_middle_of_a_command_is_an_error() -> None:
    reader = CommandReader()
    reader.feed(b"a LOGIN {3}\r\n")
    with pytest.raises(RuntimeError):
        reader.expect_raw_line()


# -- any chunking gives the same events --------------------------------------------------------

TRANSCRIPT = (
    b"a1 CAPABILITY\r\n"
    b'a2 LOGIN "us\\"er" {4}\r\npass\r\n'
    b"a3 SELECT iNbOx\n"
    b"a4 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100>)\r\n"
    b"a5 APPEND INBOX (\\Seen) {11+}\r\nhi\r\nthere\r\n\r\n\r\n"
    b"a6 X ~{3}\r\n\x00\x01\x02 {0+}\r\n\r\n"
    b'a7 X "bad\\q" {4+}\r\nabcd tail\r\n'
    b"a8 X (1 2\r\n"
    b"a9 X {50+}\r\n" + b"L" * 50 + b"\r\n"
    b"b1 X " + b"w" * 100 + b" {3+}\r\nxyz\r\n"
    b"b2 X {9999}\r\n"
    b'b3 SEARCH (OR SEEN (UNSEEN)) SUBJECT "caf\xc3\xa9"\r\n'
    b"* bad\r\n"
    b"b4 NOOP\r\n"
)
LIMITS = {"max_line": 90, "max_literal": 40}


def test_transcript_gives_the_expected_events() -> None:
    kinds = [type(e).__name__ for e in feed_all(TRANSCRIPT, **LIMITS)]
    assert kinds == [
        "ParsedCommand",
        "NeedContinuation",
        "ParsedCommand",
        "ParsedCommand",
        "ParsedCommand",
        "ParsedCommand",
        "NeedContinuation",
        "ParsedCommand",
        "ParseError",
        "ParseError",
        "LiteralTooBig",
        "LineTooLong",
        "LiteralTooBig",
        "ParsedCommand",
        "ParseError",
        "ParsedCommand",
    ]


# repr() also compares the token types (String == LiteralString as bytes).
def test_feeding_one_byte_at_a_time_gives_identical_events() -> None:
    assert repr(feed_bytewise(TRANSCRIPT, **LIMITS)) == repr(feed_all(TRANSCRIPT, **LIMITS))


def test_splitting_at_every_position_gives_identical_events() -> None:
    expected = repr(feed_all(TRANSCRIPT, **LIMITS))
    for cut in range(1, len(TRANSCRIPT)):
        reader = CommandReader(**LIMITS)
        events = reader.feed(TRANSCRIPT[:cut]) + reader.feed(TRANSCRIPT[cut:])
        assert repr(events) == expected, f"split at {cut}"


@pytest.mark.parametrize("seed", range(20))
def test_random_chunking_gives_identical_events(seed: int) -> None:
    rng = random.Random(seed)
    expected = repr(feed_all(TRANSCRIPT, **LIMITS))
    reader = CommandReader(**LIMITS)
    events, i = [], 0
    while i < len(TRANSCRIPT):
        step = rng.randint(1, 40)
        events += reader.feed(TRANSCRIPT[i : i + step])
        i += step
    assert repr(events) == expected


def test_raw_size_counts_every_byte_of_the_command() -> None:
    data = b"a APPEND INBOX {5+}\r\nhello\r\n"
    [event] = feed_all(data)
    assert event.raw_size == len(data)


# --- mid_command: is the rest of a command awaited? (for tcp.quick_ack) ----------------------


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        pytest.param([b"a NOOP\r\n"], False, id="whole-command"),
        pytest.param([b"a NO"], True, id="line-without-its-end"),
        pytest.param([b"a APPEND INBOX {5}\r\n"], True, id="literal-announced"),
        pytest.param([b"a APPEND INBOX {5}\r\n", b"hel"], True, id="literal-short"),
        pytest.param([b"a APPEND INBOX {5}\r\n", b"hello"], True, id="line-after-literal"),
        pytest.param([b"a APPEND INBOX {5}\r\n", b"hello\r\n"], False, id="all-of-it"),
        pytest.param([], False, id="nothing"),
    ],
)
def test_mid_command_says_whether_the_rest_is_awaited(chunks, expected):
    reader = CommandReader(pause_after=())
    for chunk in chunks:
        reader.feed(chunk)
    assert reader.mid_command is expected


# --- the one-line path: a whole command line in one feed -------------------------------------

ONE_LINES = [
    *(param.values[0] for param in VALID),
    *(param.values[0] for param in ERRORS),
    b"a  X 1\r\n",
    b"a X 1 \r\n",
    b"a X ( 1)\r\n",
    b"a NOOP\r\r\n",
    b"a NOOP \r\n",
    b"a\tNOOP\r\n",
    b"\r\n",
    b"a IDLE\r\n",
    b"a STARTTLS\r\n",
    b"a AUTHENTICATE PLAIN\r\n",
    b"a APPEND INBOX {3}\r\n",
    b"a APPEND INBOX {3+}\r\n",
    b"a APPEND INBOX ~{3}\r\n",
    b"a LOGIN {4}\r\n",
    b"a FETCH 1 (BODY[HEADER.FIELDS (A B)] BODY.PEEK[1.MIME]<0.5>)\r\n",
    b"a FETCH 1:* (FLAGS) (CHANGEDSINCE 5)\r\n",
    b"a UID STORE 5 +FLAGS (\\Flagged $Work)\r\n",
    b"a X (A B) C ()\r\n",
    b"a X [a]b[c] BODY[]<0.5> BINARY.PEEK[1]\r\n",
    b"a X (foo[) a]b ~x *%\r\n",
    b"a X (a) (b)\r\n",
    b"a X ((a))\r\n",
    b"a X (a (b))\r\n",
    b"a X (a)(b)\r\n",
    b"a X (a\r\n",
    b"a X a)\r\n",
    b"a X (a )\r\n",
    b"a X ~{3}\r\n",
    b"a X BODY[1 2]\r\n",
    b"a X BODY[HEADER.FIELDS (A)]x[y]\r\n",
    b"a X " + b"y" * 84 + b"\r\n",  # max_line (90) exactly
    b"a X " + b"y" * 85 + b"\r\n",  # one over
]


@pytest.mark.parametrize("depth", [100, 1, 0])
@pytest.mark.parametrize("line", ONE_LINES)
def test_one_line_in_one_feed_gives_what_the_general_path_gives(line: bytes, depth: int) -> None:
    """A line that comes alone in one feed is read by a shorter path; what it makes of the
    line, and of what follows, is what the line's steps make of it in two pieces."""
    whole = CommandReader(max_line=90, max_depth=depth)
    pieces = CommandReader(max_line=90, max_depth=depth)
    after = b"z NOOP\r\n"
    got = whole.feed(line)
    expected = pieces.feed(line[:1]) + pieces.feed(line[1:])
    assert repr(got) == repr(expected)
    assert whole.paused == pieces.paused and whole.mid_command == pieces.mid_command
    if not whole.paused:
        assert repr(whole.feed(after)) == repr(pieces.feed(after))


@pytest.mark.parametrize("data", [b"", b"\n", b"\r", b"x"])
def test_a_feed_shorter_than_a_line_end_reads_as_octet_by_octet(data: bytes) -> None:
    """The one-line path must not index before the start of a feed of under two octets (an
    empty feed raised IndexError there; the property tests found it): such a feed, and the
    line after it, read as the general path reads them one octet at a time."""
    after = b"a NOOP\r\n"
    whole = CommandReader(max_line=90)
    got = whole.feed(data) + whole.feed(after)
    pieces = CommandReader(max_line=90)
    expected = [event for octet in data + after for event in pieces.feed(bytes([octet]))]
    assert repr(got) == repr(expected)
