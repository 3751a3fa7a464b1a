"""Resumable IMAP command reader: bytes in, command events out (sans-I/O, no reactor).

`CommandReader.feed()` accepts any chunking of the client stream (one byte at a time gives the
same events as everything at once), tokenizes each command into atoms, strings and lists
(tokens.py), and handles literals ({N}, {N+}, ~{N}), size limits and resynchronisation after
bad input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from elektromail.imap.tokens import (
    DEFAULT_MAX_DEPTH,
    HUGE_LITERAL,
    CommandSyntaxError,
    Literal8String,
    LiteralString,
    String,
    literal_size,
    scan_tokens,
)

__all__ = [
    "CommandReader",
    "Event",
    "LineTooLong",
    "LiteralTooBig",
    "NeedContinuation",
    "ParseError",
    "ParsedCommand",
    "RawLine",
]

DEFAULT_MAX_LINE = 64 * 1024
DEFAULT_MAX_LITERAL = 64 * 1024 * 1024
DEFAULT_MAX_DISCARD = 2**31
DEFAULT_PAUSE_AFTER = ("AUTHENTICATE", "IDLE", "STARTTLS")

# Bytes of a skipped line kept to spot a literal announced at its end.
_TAIL_KEEP = 64


@dataclass(slots=True)  # not frozen: one is made per command, and a frozen one costs more
class ParsedCommand:
    """A complete command as the client sent it: `name` upper-cased, `args` the tokens after it."""

    tag: str
    name: str
    args: list
    raw_size: int


@dataclass(frozen=True, slots=True)
class NeedContinuation:
    """A synchronising literal was announced: write "+ ..." (or call reject_literal())."""

    size: int
    tag: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class LiteralTooBig:
    """A literal over max_literal; the command was dropped. fatal: say BYE and close."""

    tag: str | None
    size: int
    synchronizing: bool
    fatal: bool = False
    whole_command: bool = False  # over max_command, the literals of one command together


@dataclass(frozen=True, slots=True)
class ParseError:
    """A malformed command; the rest of it was skipped. Answer BAD (untagged if tag is None)."""

    tag: str | None
    message: str


@dataclass(frozen=True, slots=True)
class LineTooLong:
    """A command line over max_line; it was discarded without buffering."""

    tag: str | None


@dataclass(frozen=True, slots=True)
class RawLine:
    """The line requested by expect_raw_line(), without its CRLF."""

    data: bytes


Event = ParsedCommand | NeedContinuation | LiteralTooBig | ParseError | LineTooLong | RawLine


# Tags: ASTRING-CHAR except "+" (so no "*", "%", "(", ")", "{", DQUOTE, "\", SP, CTL, 8-bit).
_TAG = re.compile(rb'[^\x00-\x20\x7f-\xff(){%*"\\+]+')
_NAME = re.compile(rb'[^\x00-\x20\x7f-\xff(){%*"\\\[\]]+')
# A line's tag, one space and its name, followed by a space or the line's end: what
# _start_command accepts, for the one-line path (_one_line).
_HEAD = re.compile(b"(" + _TAG.pattern + b") (" + _NAME.pattern + rb")(?= |\Z)")
_LITERAL_AT_END = re.compile(rb"(~?)\{([0-9]+)(\+?)\}\r?\Z")
_DIGITS_PLUS_AT_END = re.compile(rb"[0-9]+\+\}\r?\Z")


def _skipped_literal_size(tail: bytes) -> int | None:
    """Size of a {N+} announced at the end of a skipped line (whose bytes will follow)."""
    match = _LITERAL_AT_END.search(tail)
    if match is not None:
        return literal_size(match.group(2)) if match.group(3) else None
    # The "{" fell out of the kept tail: only an absurdly long number does that.
    match = _DIGITS_PLUS_AT_END.match(tail)
    return HUGE_LITERAL if match is not None and len(tail) >= _TAIL_KEEP else None


class _Partial:
    """A command whose line continues after one or more literals."""

    __slots__ = ("line_bytes", "name", "raw_size", "stack", "tag")

    def __init__(self, tag: str, name: str) -> None:
        self.tag = tag
        self.name = name
        self.stack: list[list] = [[]]
        self.raw_size = 0
        self.line_bytes = 0


_LINE, _RAW, _LITERAL_DATA, _DISCARD, _SKIP, _DEAD = range(6)


class CommandReader:
    """Turns the client byte stream into events; see the module docstring.

    The reader pauses itself after a command named in `pause_after` (the bytes that follow
    mean something else: IDLE's DONE, SASL responses, TLS) and after each RawLine; the server
    then calls `expect_raw_line()` or `resume()`, which return the events of buffered input.
    """

    def __init__(
        self,
        *,
        max_line: int = DEFAULT_MAX_LINE,
        max_literal: int = DEFAULT_MAX_LITERAL,
        max_discard: int = DEFAULT_MAX_DISCARD,
        max_depth: int = DEFAULT_MAX_DEPTH,
        pause_after: Iterable[str] = DEFAULT_PAUSE_AFTER,
        max_command: int | None = None,
    ) -> None:
        self._steps = {
            _LINE: self._step_line,
            _RAW: self._step_raw,
            _LITERAL_DATA: self._step_literal,
            _DISCARD: self._step_discard,
            _SKIP: self._step_skip,
        }
        self.max_line = max_line
        self.max_literal = max_literal
        self.max_discard = max_discard
        self.max_depth = max_depth
        # the bytes of one command, its literals included (MULTIAPPEND sends many); None: any
        self.max_command = max_command
        self.pause_after = frozenset(name.upper() for name in pause_after)
        self._buf = bytearray()
        self._pos = 0
        self._scan = 0  # where the search for the next LF resumes
        self._mode = _LINE
        self._paused = False
        self._cmd: _Partial | None = None
        self._left = 0  # bytes still expected in the current literal / discard
        self._chunks: list[bytes] = []
        self._literal_cls: type[String] = LiteralString
        self._pending: Event | None = None  # reported once the skipped command ends
        self._reported = False  # ... or already, when a literal of it began to be discarded
        self._skip_literals = True
        self._tail = b""

    # -- public API ---------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def mid_command(self) -> bool:
        """Part of a command arrived and the rest has not: a line without its end, a literal
        still short, or the line that goes on after a literal (while not paused)."""
        if self._paused or self._mode == _DEAD:
            return False
        return self._mode != _LINE or self._cmd is not None or len(self._buf) > self._pos

    @property
    def buffered(self) -> int:
        """Bytes received but not yet consumed (the limit checks bound it by one line)."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes) -> list[Event]:
        """Add received bytes; return the events they complete, in order."""
        if self._mode == _DEAD:
            return []
        data = bytes(data)
        if self._pos == len(self._buf) and self._mode == _LINE and not self._paused:
            # Nothing buffered, between commands: most often `data` is one whole command line
            # (a one-at-a-time client's), parsed here without the buffer and the line steps.
            events = self._one_line(data)
            if events is not None:
                return events
        if not self._paused and self._pos == len(self._buf) and self._left:
            data = self._take_direct(data)
        self._buf += data
        return self._run()

    def resume(self) -> list[Event]:
        """Leave the paused state in command mode; return events from buffered input."""
        if self._mode == _RAW:
            self._mode = _LINE
        self._paused = False
        return self._run()

    def expect_raw_line(self) -> list[Event]:
        """Deliver the next line as RawLine (then pause again); return buffered events."""
        if self._mode not in (_LINE, _RAW) or self._cmd is not None:
            raise RuntimeError("expect_raw_line() called in the middle of a command")
        self._mode = _RAW
        self._paused = False
        return self._run()

    def reject_literal(self) -> None:
        """The server answered NO/BAD instead of "+" to a NeedContinuation: drop the command."""
        if self._mode != _LITERAL_DATA:
            raise RuntimeError("no synchronising literal is pending")
        self._reset_command()

    def discard_buffered(self) -> int:
        """Drop unconsumed input (after STARTTLS); return how many bytes were dropped."""
        dropped = len(self._buf) - self._pos
        self._buf.clear()
        self._pos = self._scan = 0
        return dropped

    def _one_line(self, data: bytes) -> list[Event] | None:
        """The events of `data` when it is exactly one complete, well-formed command line
        without a literal, else None (then the general path takes `data`, and gives the same
        events for such a line: test_reader compares the two)."""
        end = len(data) - 2
        if self._cmd is not None or end < 0 or end > self.max_line or data.find(b"\n") != end + 1:
            return None
        if data[end] != 0x0D:
            return None
        segment = data[:end]
        head = _HEAD.match(segment)
        if head is None:
            return None
        stack: list[list] = [[]]
        try:
            if scan_tokens(segment, head.end(), stack, True, self.max_depth) is not None:
                return None  # a literal: the general path asks for it
        except CommandSyntaxError:
            return None  # the general path words the error, and skips what it must
        if len(stack) > 1:
            return None
        args = stack[0]
        name = head.group(2).decode("ascii").upper()
        if name in self.pause_after:
            self._paused = True
        return [ParsedCommand(head.group(1).decode("ascii"), name, args, len(data))]

    # -- driver -------------------------------------------------------------------------

    def _run(self) -> list[Event]:
        events: list[Event] = []
        steps = self._steps
        while not self._paused and self._mode != _DEAD and steps[self._mode](events):
            pass
        self._compact()
        return events

    def _compact(self) -> None:
        if self._pos:
            del self._buf[: self._pos]
            self._scan -= self._pos
            self._pos = 0

    def _take_direct(self, data: bytes) -> bytes:
        """Consume literal / discarded bytes straight from `data`, without the line buffer."""
        count = min(self._left, len(data))
        if self._mode == _LITERAL_DATA:
            self._chunks.append(data if count == len(data) else data[:count])
        self._left -= count
        rest = data[count:] if count < len(data) else b""
        if not self._left:
            finish = self._literal_done if self._mode == _LITERAL_DATA else self._discard_done
            finish()
        return rest

    def _consume_line(self, lf: int) -> bytes:
        line = bytes(self._buf[self._pos : lf])
        self._pos = self._scan = lf + 1
        return line[:-1] if line.endswith(b"\r") else line

    def _find_lf(self, used: int) -> int | None:
        """Index of the next LF, -1 when the line is over the limit, None when incomplete."""
        lf = self._buf.find(b"\n", self._scan)
        if lf < 0:
            self._scan = len(self._buf)
            if used + len(self._buf) - self._pos > self.max_line + 1:
                return -1
            return None
        length = lf - self._pos
        if length and self._buf[lf - 1] == 0x0D:
            length -= 1
        return -1 if used + length > self.max_line else lf

    # -- modes --------------------------------------------------------------------------

    def _step_line(self, events: list[Event]) -> bool:
        lf = self._find_lf(self._cmd.line_bytes if self._cmd else 0)
        if lf is None:
            return False
        if lf < 0:
            self._start_skip(LineTooLong(self._current_tag()))
            return True
        start = self._pos
        segment = self._consume_line(lf)
        if self._cmd is None:
            if segment:
                self._start_command(segment, self._pos - start, events)
        else:
            self._cmd.raw_size += self._pos - start
            self._cmd.line_bytes += len(segment)
            self._continue_command(segment, 0, True, events)
        return True

    def _step_raw(self, events: list[Event]) -> bool:
        lf = self._find_lf(0)
        if lf is None:
            return False
        if lf < 0:
            self._skip_literals = False
            self._start_skip(LineTooLong(None))
            return True
        events.append(RawLine(self._consume_line(lf)))
        self._mode = _LINE
        self._paused = True
        return True

    def _step_literal(self, events: list[Event]) -> bool:
        available = len(self._buf) - self._pos
        if not available:
            return False
        count = min(self._left, available)
        self._chunks.append(bytes(self._buf[self._pos : self._pos + count]))
        self._pos += count
        self._scan = self._pos
        self._left -= count
        if not self._left:
            self._literal_done()
        return True

    def _step_discard(self, events: list[Event]) -> bool:
        count = min(self._left, len(self._buf) - self._pos)
        if not count:
            return False
        self._pos += count
        self._scan = self._pos
        self._left -= count
        if not self._left:
            self._discard_done()
        return True

    def _step_skip(self, events: list[Event]) -> bool:
        lf = self._buf.find(b"\n", self._pos)
        if lf < 0:
            if self._pos == len(self._buf):
                return False
            start = max(self._pos, len(self._buf) - _TAIL_KEEP)
            self._tail = (self._tail + bytes(self._buf[start:]))[-_TAIL_KEEP:]
            self._pos = self._scan = len(self._buf)
            return False
        tail = (self._tail + bytes(self._buf[max(self._pos, lf - _TAIL_KEEP) : lf]))[-_TAIL_KEEP:]
        self._tail = b""
        self._pos = self._scan = lf + 1
        self._end_of_skipped_line(tail, events)
        return True

    # -- commands -----------------------------------------------------------------------

    def _start_command(self, segment: bytes, raw: int, events: list[Event]) -> None:
        tag_match = _TAG.match(segment)
        after = tag_match.end() if tag_match else 0
        if tag_match is None or segment[after : after + 1] not in (b" ", b""):
            message = "missing tag" if segment[:1] == b" " else "invalid tag"
            return self._syntax_error(None, message, segment, events)
        tag = tag_match.group().decode("ascii")
        i = after + 1
        if segment[i : i + 1] == b" ":
            return self._syntax_error(tag, "extraneous space", segment, events)
        name_match = _NAME.match(segment, i)
        if name_match is None:
            return self._syntax_error(tag, "missing command name", segment, events)
        if segment[name_match.end() : name_match.end() + 1] not in (b" ", b""):
            return self._syntax_error(tag, "invalid command name", segment, events)
        self._cmd = _Partial(tag, name_match.group().decode("ascii").upper())
        self._cmd.raw_size = raw
        self._cmd.line_bytes = len(segment)
        self._continue_command(segment, name_match.end(), True, events)

    def _continue_command(
        self, segment: bytes, i: int, need_sep: bool, events: list[Event]
    ) -> None:
        cmd = self._cmd
        assert cmd is not None
        try:
            literal = scan_tokens(segment, i, cmd.stack, need_sep, self.max_depth)
            if literal is None and len(cmd.stack) > 1:
                raise CommandSyntaxError("unbalanced parentheses: missing ')'")
        except CommandSyntaxError as exc:
            self._reset_command()
            return self._syntax_error(cmd.tag, str(exc), segment, events)
        if literal is None:
            self._reset_command()
            events.append(ParsedCommand(cmd.tag, cmd.name, cmd.stack[0], cmd.raw_size))
            if cmd.name in self.pause_after:
                self._paused = True
            return None
        return self._announce_literal(*literal, events)

    def _announce_literal(self, size: int, sync: bool, binary: bool, events: list[Event]) -> None:
        cmd = self._cmd
        assert cmd is not None
        whole = self.max_command is not None and cmd.raw_size + size > self.max_command
        if size > self.max_literal or whole:
            alone = size <= self.max_literal  # too big only with the literals before it
            event = LiteralTooBig(cmd.tag, size, sync, whole_command=whole and alone)
            if sync:
                self._reset_command()
                events.append(event)
            else:
                self._discard_literal(event, events)
            return
        if sync:
            events.append(NeedContinuation(size, cmd.tag, cmd.name))
        self._mode = _LITERAL_DATA
        self._left = size
        self._chunks = []
        self._literal_cls = Literal8String if binary else LiteralString
        cmd.raw_size += size
        if not size:
            self._literal_done()

    def _literal_done(self) -> None:
        cmd = self._cmd
        assert cmd is not None
        chunks, self._chunks = self._chunks, []
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        cmd.stack[-1].append(self._literal_cls(data))
        self._mode = _LINE

    def _reset_command(self) -> None:
        self._cmd = None
        self._mode = _LINE
        self._left = 0
        self._chunks = []

    def _current_tag(self) -> str | None:
        if self._cmd is not None:
            return self._cmd.tag
        # Only as far as the line limit: the same answer however the line arrived in pieces.
        head = bytes(self._buf[self._pos : self._pos + min(256, self.max_line)])
        match = _TAG.match(head)
        if match and head[match.end() : match.end() + 1] == b" ":
            return match.group().decode("ascii")
        return None

    # -- error recovery -----------------------------------------------------------------

    def _syntax_error(self, tag: str | None, message: str, segment: bytes, events: list) -> None:
        """Report a bad command once its line ends, or when a {N+} literal it announced starts
        to be discarded; its rest may still carry more of them."""
        self._pending = ParseError(tag, message)
        self._skip_literals = True
        self._end_of_skipped_line(segment[-_TAIL_KEEP:], events)

    def _start_skip(self, event: Event) -> None:
        self._reset_command()
        self._pending = event
        self._tail = b""
        self._mode = _SKIP

    def _discard_literal(self, event: LiteralTooBig, events: list[Event]) -> None:
        self._cmd = None
        if event.size > self.max_discard:
            events.append(LiteralTooBig(event.tag, event.size, False, fatal=True))
            self._mode = _DEAD
            self._buf.clear()
            self._pos = self._scan = 0
            return
        if self._pending is None:
            self._pending = event
        if not self._reported:
            # RFC 7888 §4: the answer may go before the literal is read, so the client learns
            # at once that the bytes it streams are wasted (2 GB of them, maybe).
            events.append(self._pending)
            self._reported = True
        self._mode = _DISCARD
        self._left = event.size
        if not self._left:
            self._discard_done()

    def _discard_done(self) -> None:
        self._mode = _SKIP
        self._tail = b""

    def _end_of_skipped_line(self, tail: bytes, events: list[Event]) -> None:
        size = _skipped_literal_size(tail) if self._skip_literals else None
        if size is not None:
            tag = getattr(self._pending, "tag", None)
            self._discard_literal(LiteralTooBig(tag, size, False), events)
            return
        pending, self._pending = self._pending, None
        reported, self._reported = self._reported, False
        was_raw = not self._skip_literals
        self._skip_literals = True
        self._reset_command()
        if pending is not None and not reported:
            events.append(pending)
        if was_raw:
            self._paused = True
