"""Properties of the SMTP command parser: MAIL/RCPT arguments (smtp/params.py) and the line
splitting, command splitting and DATA reading of smtp/session.py.

- Any argument bytes give arguments or `Refused` (which holds the reply); nothing else.
- Generated valid paths and parameters parse back to what was written (RFC 5321 §4.1.2,
  RFC 1870 SIZE, RFC 1652 BODY, RFC 3461 xtext, ENVID, NOTIFY and ORCPT).
- LineBuffer gives the same lines in any chunking and never holds more than one line; DataReader
  undoes dot-stuffing (RFC 5321 §4.5.2) in any chunking and keeps nothing of a message over
  the size limit.
"""

from __future__ import annotations

import itertools
import re

from hypothesis import given
from hypothesis import strategies as st

from elektromail.smtp import params, replies
from elektromail.smtp.params import MailArguments, RcptArguments, Refused
from elektromail.smtp.session import LINE_TOO_LONG, DataReader, LineBuffer, split_command
from tests.property.budget import budget

FRAGMENTS = [
    b"FROM:",
    b"TO:",
    b"<",
    b">",
    b"<>",
    b"@",
    b"a@b.c",
    b'"q s"@x',
    b"@r1,@r2:",
    b"[1.2.3.4]",
    b" ",
    b"SIZE=",
    b"BODY=8BITMIME",
    b"SMTPUTF8",
    b"RET=HDRS",
    b"ENVID=a+2Bb",
    b"NOTIFY=SUCCESS,FAILURE",
    b"NOTIFY=NEVER",
    b"ORCPT=rfc822;a+40b",
    b"ORCPT=utf-8;\\x{110000}",
    b"AUTH=<>",
    b"=",
    b"+",
    b"+ZZ",
    b"99999999999999999999999",
    b"\\",
    b'"',
    "ü".encode(),
    b"\xff",
    b"\x00",
]
arguments = st.one_of(
    st.binary(max_size=60),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.binary(max_size=3)), max_size=14).map(
        b"".join
    ),
)


@budget(1.5)
@given(argument=arguments, smtputf8=st.booleans(), max_size=st.integers(0, 10**9))
def test_any_argument_parses_or_is_refused(argument: bytes, smtputf8: bool, max_size: int):
    for prefix in (b"FROM:", b"TO:", b""):
        try:
            mail = params.parse_mail(prefix + argument, max_size)
        except Refused as e:
            assert e.reply.code >= 500
        else:
            assert isinstance(mail, MailArguments) and isinstance(mail.sender, str)
            assert mail.size is None or mail.size <= max_size
        try:
            rcpt = params.parse_rcpt(prefix + argument, smtputf8)
        except Refused as e:
            assert e.reply.code >= 500
        else:
            assert isinstance(rcpt, RcptArguments) and rcpt.recipient


@budget()
@given(line=arguments)
def test_any_command_line_splits(line: bytes) -> None:
    verb, argument = split_command(line)
    words = line.split()
    assert verb == (words[0].upper() if words else b"")
    assert argument == argument.strip() and argument.split() == words[1:]


# -- what is written parses back ----------------------------------------------------------------

ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-"
atoms = st.text(ATEXT, min_size=1, max_size=10)
labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
domains = st.lists(labels, min_size=1, max_size=4).map(".".join)
local_parts = st.one_of(
    st.lists(atoms, min_size=1, max_size=3).map(".".join),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=10).map(
        lambda text: '"' + re.sub(r'(["\\])', r"\\\1", text) + '"'
    ),
)
addresses = st.builds(lambda local, domain: f"{local}@{domain}", local_parts, domains)


# paths next to the plain form's edges
EDGES = ["", "a@-b", "a@b-", ".a@b", "a.@b", "a..b@c", "a@b..c", "a@b.", "@b", "a@", "a",
         "a@b@c", "a@[1.2.3.4]", '"q"@b', "ü@b", "a@ü", "a b@c", "a@b c", "@r:a@b", "a@b>",
         "<a@b"]  # fmt: skip


def outcome(parse, *args):  # what a parser answers: its arguments, or the reply it refuses with
    try:
        return parse(*args)
    except Refused as e:
        return (e.reply, e.values)


@budget(1.5)
@given(
    argument=st.one_of(
        arguments,
        st.builds(lambda a, b: f"<{a}>{b}".encode(), st.one_of(st.sampled_from(EDGES), addresses),
                  st.sampled_from(["", " ", " SIZE=1", ">", "x"])),
    ),
    smtputf8=st.booleans(),
)  # fmt: skip
def test_the_shortcut_for_plain_paths_answers_as_the_full_parser(argument: bytes, smtputf8: bool):
    for prefix in (b"FROM:", b"from:", b"TO:", b"To:", b"FROM: ", b""):
        line = prefix + argument
        assert outcome(params.parse_mail, line, 100) == outcome(params.parse_mail_fully, line, 100)
        rcpt = outcome(params.parse_rcpt, line, smtputf8)
        assert rcpt == outcome(params.parse_rcpt_fully, line, smtputf8)


def test_the_shortcut_takes_the_plain_forms() -> None:
    assert params._PLAIN_MAIL.fullmatch(b"FROM:<a.b@c-d.example>")
    assert params._PLAIN_MAIL.fullmatch(b"from:<>")
    assert params._PLAIN_RCPT.fullmatch(b"TO:<a@b>")
    assert not params._PLAIN_RCPT.fullmatch(b"TO:<>")


def to_xtext(text: str) -> str:
    """RFC 3461 §4: xchar as it is, everything else (and "+", "=") as +HH."""
    return "".join(
        c if 0x21 <= ord(c) <= 0x7E and c not in "+=" else f"+{ord(c):02X}" for c in text
    )


@budget()
@given(
    address=addresses,
    size=st.one_of(st.none(), st.integers(0, 10**6)),
    body=st.sampled_from([None, "7BIT", "8BITMIME"]),
    ret=st.sampled_from([None, "FULL", "HDRS"]),
    envid=st.one_of(
        st.none(),
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=100),
    ),
    route=st.booleans(),
)
def test_written_mail_arguments_parse_back(address, size, body, ret, envid, route) -> None:
    path = f"<@relay.example,@b.example:{address}>" if route else f"<{address}>"
    words = [f"FROM:{path}"]
    words += [] if size is None else [f"SIZE={size}"]
    words += [] if body is None else [f"BODY={body.lower()}"]
    words += [] if ret is None else [f"RET={ret}"]
    words += [] if envid is None else [f"ENVID={to_xtext(envid)}"]
    parsed = params.parse_mail(" ".join(words).encode(), 10**6)
    assert parsed == MailArguments(address, size, body, False, ret, envid)


@budget()
@given(
    address=addresses,
    notify=st.one_of(
        st.none(),
        st.just(["NEVER"]),
        st.lists(st.sampled_from(["SUCCESS", "FAILURE", "DELAY"]), min_size=1, unique=True),
    ),
    original=st.one_of(
        st.none(),
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=30),
    ),
)
def test_written_rcpt_arguments_parse_back(address, notify, original) -> None:
    words = [f"TO:<{address}>"]
    words += [] if notify is None else ["NOTIFY=" + ",".join(notify)]
    words += [] if original is None else [f"ORCPT=rfc822;{to_xtext(original)}"]
    parsed = params.parse_rcpt(" ".join(words).encode(), False)
    assert parsed.recipient == address
    assert parsed.notify == (None if notify is None else frozenset(notify))
    assert parsed.orcpt == (None if original is None else f"rfc822;{original}")


@budget()
@given(text=st.text(min_size=1, max_size=40))
def test_xtext_round_trips(text: str) -> None:
    encoded = to_xtext(text.encode("utf-8").decode("latin-1")).encode("ascii")
    assert params.xtext(encoded, "X").encode("latin-1") == text.encode("utf-8")


@budget()
@given(size=st.integers(0, 10**12), limit=st.integers(0, 10**12))
def test_size_over_the_limit_is_552(size: int, limit: int) -> None:
    """RFC 1870 §6.1: a declared SIZE over the limit is 552 5.3.4 at MAIL."""
    try:
        params.parse_mail(b"FROM:<a@b.c> SIZE=%d" % size, limit)
    except Refused as e:
        assert size > limit and e.reply is replies.SIZE_EXCEEDED
    else:
        assert size <= limit


# -- lines and DATA -----------------------------------------------------------------------------

MAX_LINE = 40
streams = st.lists(
    st.one_of(
        st.sampled_from([b"\r\n", b"\r", b"\n", b".", b"..", b"\r\n.\r\n", b"x" * 45, b"MAIL"]),
        st.binary(max_size=8),
    ),
    max_size=40,
).map(b"".join)


def reference_lines(data: bytes) -> list:
    *complete, rest = data.split(b"\r\n")
    out: list = [LINE_TOO_LONG if len(line) > MAX_LINE else line for line in complete]
    if len(rest.removesuffix(b"\r")) > MAX_LINE:
        out.append(LINE_TOO_LONG)
    return out


def drain(buffer: LineBuffer) -> list:
    out = []
    while (line := buffer.next_line()) is not None:
        out.append(line)
    return out


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    edges = sorted({min(cut, len(data)) for cut in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(edges)]


@budget()
@given(data=streams, cuts=st.lists(st.integers(0, 400), max_size=10))
def test_lines_are_the_same_in_any_chunking(data: bytes, cuts: list[int]) -> None:
    """RFC 5321 §4.5.3.1.4: a command line has a limit; one over it is refused, not kept."""
    buffer = LineBuffer(MAX_LINE)
    lines = []
    for chunk in chunked(data, cuts):
        buffer.feed(chunk)
        lines += drain(buffer)
        assert len(buffer) <= MAX_LINE + 1
    assert lines == reference_lines(data)


message_lines = st.lists(
    st.one_of(
        st.sampled_from([b"", b".", b"..", b".x", b"x.", b"\r", b"\n.", b"a\nb"]),
        st.binary(max_size=10).filter(
            lambda line: b"\r\n" not in line and not line.endswith(b"\r")
        ),
    ),
    max_size=15,
)


def stuff(lines: list[bytes]) -> bytes:
    return b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines)


def read_data(
    stream: bytes, cuts: list[int], max_bytes: int
) -> tuple[DataReader, LineBuffer, bool]:
    """Feed `stream` in chunks to a DataReader until the end of data, the rest to the buffer."""
    buffer = LineBuffer(MAX_LINE)
    reader = DataReader(max_bytes)
    done = False
    for chunk in chunked(stream, cuts):
        buffer.feed(chunk)
        if not done:
            done = reader.take(buffer)
            assert len(buffer) <= max(MAX_LINE, max_bytes) + 2 or done
    return reader, buffer, done


@budget()
@given(
    lines=message_lines,
    cuts=st.lists(st.integers(0, 300), max_size=10),
    after=st.binary(max_size=10),
)
def test_dot_stuffing_is_undone_in_any_chunking(lines: list[bytes], cuts: list[int], after: bytes):
    """RFC 5321 §4.5.2; what follows the end of data is the next command (RFC 2920)."""
    message = b"".join(line + b"\r\n" for line in lines)
    reader, buffer, done = read_data(stuff(lines) + b".\r\n" + after, cuts, 10**6)
    assert done and reader.failure is None
    assert reader.message() == message
    assert drain(buffer) == reference_lines(after)


@budget()
@given(
    lines=message_lines.filter(lambda ls: len(stuff(ls)) > 30),
    cuts=st.lists(st.integers(0, 300), max_size=10),
)
def test_a_message_over_the_limit_keeps_nothing(lines: list[bytes], cuts: list[int]) -> None:
    """RFC 1870 §6.2: a client must handle a 552 "after transfer of the message"; none of it
    is kept (the reader drops it as it streams)."""
    message = b"".join(line + b"\r\n" for line in lines)
    reader, buffer, done = read_data(stuff(lines) + b".\r\n", cuts, 20)
    assert done
    if len(message) > 20:
        assert reader.failure is replies.MESSAGE_TOO_BIG and reader.message() == b""
    assert len(buffer) == 0
