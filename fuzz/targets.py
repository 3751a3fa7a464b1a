"""Fuzz targets: one function per parser that takes any bytes and fails (raises something other
than the protocol's own errors, or breaks an invariant) only on a bug.

Plain Python, no atheris: `fuzz/run.py` imports this module under atheris' instrumentation,
and tests/property/test_fuzz_targets.py runs the targets on the seed corpus in the suite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from elektromail import dates, mailtext, mime
from elektromail.imap import args as imap_args
from elektromail.imap import format as fmt
from elektromail.imap.dispatch import Bad, No
from elektromail.imap.fetchitems import parse_fetch_items
from elektromail.imap.reader import CommandReader, ParsedCommand
from elektromail.imap.search import BadCharset, MessageInfo, SearchContext, bind, parse_search
from elektromail.imap.seqset import parse_sequence_set
from elektromail.imap.session import Dialect
from elektromail.imap.tokens import Atom
from elektromail.smtp import params
from elektromail.smtp.session import DataReader, LineBuffer, split_command

__all__ = ["TARGETS", "delivery", "imap", "mime_message", "smtp"]


# -- MIME ---------------------------------------------------------------------------------------


def _walk(part: mime.BodyPart) -> Iterator[mime.BodyPart]:
    stack = [part]
    while stack:
        part = stack.pop()
        yield part
        stack.extend(part.parts)
        if part.message is not None:
            stack.append(part.message)


def _paths(parsed: mime.ParsedMessage) -> Iterator[tuple[int, ...]]:
    yield ()
    frontier: list[tuple[tuple[int, ...], mime.BodyPart]] = [((), parsed.body)]
    for _ in range(3):
        nxt = []
        for path, part in frontier:
            inner = part.message if path and part.message is not None else part
            children = inner.parts or (inner,)
            for number in range(1, min(len(children), 3) + 2):
                yield (*path, number)
                if number <= len(children):
                    nxt.append(((*path, number), children[number - 1]))
        frontier = nxt


def mime_message(data: bytes) -> None:
    """mime.parse never raises; every range is inside the message; storage round-trips; the
    IMAP renderings and the decoding helpers never raise."""
    parsed = mime.parse(data)
    size = len(data)
    assert parsed.size == size and 0 <= parsed.header_end <= size
    for part in _walk(parsed.body):
        assert 0 <= part.start <= part.body_start <= part.end <= size, part
        assert part.size == part.end - part.body_start
        for child in part.parts:
            assert part.body_start <= child.start <= child.end <= part.end
    assert mime.from_json(mime.to_json(parsed)) == parsed
    fmt.render_fetch_data(parsed)
    fmt.format_bodystructure(parsed.body, True, utf8_ok=True)
    fmt.format_envelope(parsed.envelope, utf8_ok=True)
    for path in _paths(parsed):
        for spec in ("", "HEADER", "TEXT", "MIME"):
            found = mime.section_range(parsed, path, spec)
            if found is not None:
                start, end = found
                assert 0 <= start <= end <= size
                if spec == "HEADER":
                    mime.filter_header_fields(data[start:end], ("subject", "to"), spec == "")
    env = parsed.envelope
    for text in (env.subject, env.date):
        if text is not None:
            mime.decode_header(text)
    for addresses in (env.from_, env.to, env.cc):
        mime.decoded_addresses(addresses)
    for part in _walk(parsed.body):
        mime.param_value(part.params, "filename")
        if part.disposition is not None:
            mime.param_value(part.disposition[1], "filename")
        mime.decode_body(data[part.body_start : part.end], part.encoding)


def delivery(data: bytes) -> None:
    """Everything the post office computes from a message's bytes before it stores them (the
    parse, and mailtext's attachment count and search text): no exception, in bounded time."""
    parsed = mime.parse(data)
    mailtext.index(data, parsed)


# -- IMAP ---------------------------------------------------------------------------------------

_SEARCH_MESSAGES = [
    MessageInfo(2, ("\\Seen",), 0.0, 0, 40, None, b"Subject: a\r\n\r\nbody"),
    MessageInfo(5, (), 86400.0, 60, 90, None, b"From: b@c\r\nDate: x\r\n\r\ntext"),
]
_EXPECTED = (ValueError, BadCharset, Bad, No)


def _command_arguments(command: ParsedCommand) -> None:
    """Run each command's arguments through the parsers its handler would use."""
    name, args = command.name, list(command.args)
    if name == "UID" and args and isinstance(args[0], Atom):
        name, args = args[0].upper(), args[1:]
    rev2 = len(command.tag) % 2 == 0
    dialect = Dialect(rev2=rev2, utf8=len(command.tag) % 3 == 0)
    try:
        if name in ("FETCH", "STORE", "COPY", "MOVE", "EXPUNGE") and args:
            if isinstance(args[0], Atom | bytes):
                parse_sequence_set(args[0])
        if name == "FETCH":
            parse_fetch_items(args[1:], rev2=rev2)
        elif name == "SEARCH":
            program = parse_search(args, rev2=rev2, utf8=dialect.utf8)
            matcher = bind(program, SearchContext([2, 5], {5}))
            for message in _SEARCH_MESSAGES:
                matcher(message)
        elif name == "APPEND" and len(args) > 2 and isinstance(args[-2], bytes):
            dates.parse_date_time(args[-2])
        elif name in ("SELECT", "EXAMINE", "CREATE", "DELETE", "STATUS", "SUBSCRIBE") and args:
            imap_args.new_mailbox_name(imap_args.mailbox_name(args[0], dialect))
        elif name in ("LIST", "LSUB") and len(args) > 1:
            imap_args.list_pattern(args[0], dialect, "reference")
            imap_args.list_pattern(args[1], dialect, "pattern")
    except _EXPECTED:
        pass


def imap(data: bytes) -> None:
    """The command reader gives only events, the same for any chunking, with a bounded
    buffer; each command's arguments raise only the protocol's errors."""
    limits = {"max_line": 512, "max_literal": 256, "max_discard": 4096, "max_depth": 12}
    whole = CommandReader(pause_after=(), **limits).feed(data)
    cut = data[0] % (len(data) + 1) if data else 0
    reader = CommandReader(pause_after=(), **limits)
    chunked = reader.feed(data[:cut])
    assert reader.buffered <= limits["max_line"] + 1
    chunked += reader.feed(data[cut:])
    assert reader.buffered <= limits["max_line"] + 1
    assert repr(chunked) == repr(whole), (chunked, whole)
    for event in CommandReader(pause_after=()).feed(data):
        if isinstance(event, ParsedCommand):
            _command_arguments(event)


# -- SMTP ---------------------------------------------------------------------------------------


def _lines(data: bytes, cuts: tuple[int, ...]) -> list:
    buffer = LineBuffer(256)
    out = []
    start = 0
    for cut in (*cuts, len(data)):
        buffer.feed(data[start:cut])
        start = cut
        while (line := buffer.next_line()) is not None:
            out.append(line)
        assert len(buffer) <= 257
    return out


def _data(data: bytes, cuts: tuple[int, ...]) -> tuple[bytes, bool, object]:
    buffer = LineBuffer(256)
    reader = DataReader(4096)
    start = 0
    done = False
    for cut in (*cuts, len(data)):
        buffer.feed(data[start:cut])
        start = cut
        done = done or reader.take(buffer)
    return reader.message(), done, reader.failure


def smtp(data: bytes) -> None:
    """Command lines and DATA are read the same in any chunking; MAIL and RCPT arguments
    parse or are Refused."""
    cut = data[0] % (len(data) + 1) if data else 0
    lines = _lines(data, ())
    assert lines == _lines(data, (cut,))
    assert _data(data, ()) == _data(data, (cut,))
    for line in lines:
        if not isinstance(line, bytes):
            continue
        verb, argument = split_command(line)
        try:
            if verb == b"MAIL":
                params.parse_mail(argument, 10_000)
            elif verb == b"RCPT":
                params.parse_rcpt(argument, len(line) % 2 == 0)
        except params.Refused:
            pass


TARGETS: dict[str, Callable[[bytes], None]] = {
    "mime": mime_message,
    "delivery": delivery,
    "imap": imap,
    "smtp": smtp,
}
