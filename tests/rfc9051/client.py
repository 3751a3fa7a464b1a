"""The compliance harness's IMAP client: commands made of parts (atoms, quoted strings,
literals that wait for "+"), read until the tagged response and parsed into `Result`s. The
bytes travel through the suite's raw client (tests/imap/wire.py), which interprets nothing
beyond framing, so tests can send malformed input and see every byte of the answer."""

from __future__ import annotations

import itertools
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field

from tests.imap.wire import DEFAULT_TIMEOUT, ImapWire, ResponseTimeout
from tests.imap.wire import ConnectionClosed as ConnectionClosed
from tests.rfc9051.response import Response, parse_response


@dataclass(frozen=True)
class Literal:
    """A command argument sent as a literal: `{n}` (synchronizing, waits for `+`), `{n+}`
    (LITERAL+ / LITERAL-) when `plus` is set, or literal8 `~{n}` when `binary` is set."""

    data: bytes
    plus: bool = False
    binary: bool = False

    def header(self) -> bytes:
        prefix = b"~" if self.binary else b""
        return prefix + b"{%d%s}\r\n" % (len(self.data), b"+" if self.plus else b"")


Part = str | bytes | Literal


def _encode(part: str | bytes) -> bytes:
    return part.encode() if isinstance(part, str) else part


def quote(text: str | bytes) -> bytes:
    """An IMAP quoted string (UTF-8 inside, backslash and double quote escaped)."""
    raw = text.encode() if isinstance(text, str) else text
    return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


@dataclass
class Result:
    """Everything a command brought back, in order, up to and including its tagged response."""

    tag: str
    tagged: Response
    responses: list[Response] = field(default_factory=list)  # untagged and "+", in order

    @property
    def status(self) -> str:
        return self.tagged.kind

    @property
    def untagged(self) -> list[Response]:
        return [r for r in self.responses if r.tag == "*"]

    @property
    def continuations(self) -> list[Response]:
        return [r for r in self.responses if r.tag == "+"]

    def of(self, kind: str) -> list[Response]:
        """The untagged responses of one kind ("LIST", "EXISTS", "OK"...)."""
        kind = kind.upper()
        return [r for r in self.untagged if r.kind == kind]

    def codes(self) -> list[str]:
        """The response codes of the untagged and tagged status responses."""
        return [r.code for r in [*self.untagged, self.tagged] if r.code]

    def __str__(self) -> str:
        return "\n".join(str(r) for r in [*self.responses, self.tagged])


class ImapClient:
    """One connection. `command(...)` sends a tagged command and returns its `Result`."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        label: str = "",
    ) -> None:
        self.wire = ImapWire(port, host, tls=tls, timeout=timeout, greeting=False, label=label)
        self.host = host
        self.port = port
        self.label = label
        self._tags = itertools.count(1)
        self._prefix = "t"
        self.dialect: str | None = None  # "rev1" / "rev2" when a fixture chose one
        self.greeting = self.read_response()

    @property
    def sock(self) -> socket.socket:
        return self.wire.sock

    @sock.setter
    def sock(self, sock: socket.socket) -> None:
        self.wire.sock = sock

    @property
    def tls(self) -> bool:
        return self.wire.tls

    @tls.setter
    def tls(self, value: bool) -> None:
        self.wire.tls = value

    @property
    def closed(self) -> bool:
        return self.wire.closed

    @property
    def timeout(self) -> float:
        return self.wire.timeout

    def set_timeout(self, seconds: float) -> None:
        """How long to wait for the server before failing (a safety net, not a sleep)."""
        self.wire.set_timeout(seconds)

    # --- raw I/O ----------------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        self.wire.send(data)

    def read_line(self) -> bytes:
        """One line, CRLF included."""
        return self.wire.read_line()

    def read_exact(self, count: int) -> bytes:
        return self.wire.read_exact(count)

    def read_response(self) -> Response:
        """One complete response, with the literals it announces."""
        return parse_response(self.wire.read_response())

    def pending(self) -> bool:
        """Whether the server sent bytes not read yet (checked without waiting)."""
        return self.wire.pending()

    def wait_closed(self, timeout: float | None = None) -> bytes:
        """Read until the server closes the connection; returns what came meanwhile.
        Raises ResponseTimeout when the connection stays open."""
        return self.wire.dropped(timeout)

    # --- commands ---------------------------------------------------------------------------

    def next_tag(self) -> str:
        return f"{self._prefix}{next(self._tags):03d}"

    def send_command(self, *parts: Part, tag: str | None = None) -> tuple[str, list[Response]]:
        """Send a tagged command made of `parts` joined by spaces. Synchronizing literals wait
        for the server's "+"; responses read meanwhile are returned. When the server answers
        the command instead of "+", the rest is not sent and that answer is returned last."""
        tag = tag or self.next_tag()
        early: list[Response] = []
        pending = tag.encode()
        last = pending
        for part in parts:
            raw = part.header() if isinstance(part, Literal) else _encode(part)
            # "(" then a literal, or a literal then ")": no space in between (RFC 6855 UTF8 (~{n}))
            if not (last.endswith(b"(") or raw.startswith(b")")):
                pending += b" "
            last = part.data if isinstance(part, Literal) else raw
            if isinstance(part, Literal):
                pending += part.header()
                if not part.plus:
                    self.send_raw(pending)
                    pending = b""
                    while True:
                        response = self.read_response()
                        early.append(response)
                        if response.tag == "+":
                            break
                        if response.tag == tag:
                            return tag, early
                pending += part.data
            else:
                pending += raw
        self.send_raw(pending + b"\r\n")
        return tag, early

    def read_until_tagged(self, tag: str, early: Iterable[Response] = ()) -> Result:
        responses = list(early)
        if responses and responses[-1].tag == tag:
            return Result(tag, responses[-1], responses[:-1])
        while True:
            response = self.read_response()
            if response.tag == tag:
                return Result(tag, response, responses)
            responses.append(response)

    def command(self, *parts: Part) -> Result:
        """Send one command and read everything up to its tagged response."""
        tag, early = self.send_command(*parts)
        return self.read_until_tagged(tag, early)

    def send_line(self, line: bytes | str) -> None:
        """A client line outside a command (an AUTHENTICATE response, DONE...)."""
        self.send_raw((line.encode() if isinstance(line, str) else line) + b"\r\n")

    # --- conveniences -----------------------------------------------------------------------

    def capabilities(self) -> set[str]:
        """The upper-cased capability names from a CAPABILITY command."""
        result = self.command("CAPABILITY")
        if result.status != "OK":
            raise AssertionError(f"CAPABILITY failed:\n{result}")
        names: set[str] = set()
        for response in result.of("CAPABILITY"):
            names.update(str(name).upper() for name in response.data)
        return names

    def login(self, user: str, password: str) -> Result:
        return self.command("LOGIN", quote(user), quote(password))

    def starttls(self) -> Result:
        """STARTTLS; on OK the socket is wrapped before anything else is read (and no
        cleartext may have come after the OK)."""
        result = self.command("STARTTLS")
        if result.status == "OK":
            self.wire.start_tls()
        return result

    def create(self, name: str, *extra: Part) -> Result:
        return self.command("CREATE", quote(name), *extra)

    def delete(self, name: str) -> Result:
        return self.command("DELETE", quote(name))

    def select(self, name: str, examine: bool = False) -> Result:
        return self.command("EXAMINE" if examine else "SELECT", quote(name))

    def list(self, reference: str, pattern: str) -> Result:
        return self.command("LIST", quote(reference), quote(pattern))

    def status(self, name: str, items: str) -> Result:
        return self.command("STATUS", quote(name), f"({items})")

    def append(
        self,
        name: str,
        message: bytes,
        flags: str | None = None,
        date: str | None = None,
        plus: bool = False,
    ) -> Result:
        parts: list[Part] = [quote(name)]
        if flags is not None:
            parts.append(f"({flags})")
        if date is not None:
            parts.append(quote(date))
        parts.append(Literal(message, plus=plus))
        return self.command("APPEND", *parts)

    def logout(self) -> None:
        """Polite LOGOUT, tolerant of an already closed connection."""
        if self.closed:
            return
        try:
            self.command("LOGOUT")
        except (ConnectionError, OSError, ResponseTimeout):
            pass

    def close(self) -> None:
        self.wire.close()

    def tail(self) -> str:
        """The end of the conversation, for failure messages."""
        return self.wire.tail()
