"""A raw-socket IMAP test client: sends exactly the bytes a test asks for and reads responses
(untagged, continuation requests, literals) until the tagged one, with a timeout as a safety
net only. It interprets nothing beyond framing, so tests can send malformed input and see
every byte of the answer. Optional implicit TLS and STARTTLS."""

from __future__ import annotations

import itertools
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field

from tests.rfc9051.response import (
    Response,
    is_single_line,
    literal_length,
    parse_response,
)

DEFAULT_TIMEOUT = 10.0


class ConnectionClosed(ConnectionError):
    """The server closed the connection while a response was expected."""


class ResponseTimeout(AssertionError):
    """No complete response in time: the server is stuck or waits for more input."""


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
        self.host = host
        self.port = port
        self.timeout = timeout
        self.label = label
        self.transcript: list[tuple[str, bytes]] = []
        self._buffer = bytearray()
        self._tags = itertools.count(1)
        self._prefix = "t"
        self.tls = False
        self.closed = False
        self.dialect: str | None = None  # "rev1" / "rev2" when a fixture chose one
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        if tls:
            self.sock = tls_context().wrap_socket(self.sock, server_hostname=host)
            self.tls = True
        self.greeting = self.read_response()

    def set_timeout(self, seconds: float) -> None:
        """How long to wait for the server before failing (a safety net, not a sleep)."""
        self.timeout = seconds
        self.sock.settimeout(seconds)

    # --- raw I/O ----------------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        self.transcript.append(("C", data))
        self.sock.sendall(data)

    def _fill(self) -> None:
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            raise ResponseTimeout(
                f"no complete response within {self.timeout}s\n{self.tail()}"
            ) from None
        except (ConnectionResetError, ssl.SSLError) as e:
            self.closed = True
            raise ConnectionClosed(f"connection failed: {e}\n{self.tail()}") from None
        if not chunk:
            self.closed = True
            raise ConnectionClosed(f"server closed the connection\n{self.tail()}")
        self._buffer += chunk

    def read_line(self) -> bytes:
        """One line, CRLF included."""
        while True:
            end = self._buffer.find(b"\r\n")
            if end >= 0:
                line = bytes(self._buffer[: end + 2])
                del self._buffer[: end + 2]
                return line
            self._fill()

    def read_exact(self, count: int) -> bytes:
        while len(self._buffer) < count:
            self._fill()
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data

    def read_response(self) -> Response:
        """One complete response, with the literals it announces."""
        raw = self.read_line()
        if not is_single_line(raw):
            while (size := literal_length(raw)) is not None:
                raw += self.read_exact(size)
                raw += self.read_line()
        self.transcript.append(("S", raw))
        return parse_response(raw)

    def pending(self) -> bool:
        """Whether the server sent bytes not read yet (checked without waiting)."""
        return bool(self._buffer)

    def wait_closed(self, timeout: float | None = None) -> bytes:
        """Read until the server closes the connection; returns what came meanwhile.
        Raises ResponseTimeout when the connection stays open."""
        self.sock.settimeout(timeout or self.timeout)
        received = bytes(self._buffer)
        self._buffer.clear()
        try:
            while True:
                try:
                    chunk = self.sock.recv(65536)
                except TimeoutError:
                    raise ResponseTimeout(
                        f"connection still open after {timeout or self.timeout}s\n{self.tail()}"
                    ) from None
                except (ConnectionResetError, ssl.SSLError, OSError):
                    chunk = b""
                if not chunk:
                    self.closed = True
                    return received
                received += chunk
                self.transcript.append(("S", chunk))
        finally:
            if not self.closed:
                self.sock.settimeout(self.timeout)

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
        """STARTTLS; on OK the socket is wrapped before anything else is read."""
        result = self.command("STARTTLS")
        if result.status == "OK":
            if self._buffer:
                raise AssertionError(
                    f"cleartext data after the STARTTLS OK: {bytes(self._buffer)!r}"
                )
            self.sock = tls_context().wrap_socket(self.sock, server_hostname=self.host)
            self.tls = True
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
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass

    def tail(self, lines: int = 40) -> str:
        """The end of the conversation, for failure messages."""
        shown = []
        for who, data in self.transcript[-lines:]:
            text = data.decode("utf-8", "replace")
            if len(text) > 600:
                text = text[:600] + f"... ({len(data)} bytes)"
            shown.append(f"{who}: {text.rstrip()}")
        name = f" {self.label}" if self.label else ""
        return f"--- transcript{name} ---\n" + "\n".join(shown)


def tls_context() -> ssl.SSLContext:
    """TLS without certificate checks: test servers use self-signed certificates."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
