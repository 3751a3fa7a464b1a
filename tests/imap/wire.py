"""The suite's one raw IMAP client: sends exactly the bytes a test gives and reads the server's
responses byte for byte (literals included) up to a tagged line, over cleartext, STARTTLS or
implicit TLS. Framing only, so malformed input and every byte of the answer stay visible;
tests/rfc9051/client.py parses responses on top of it."""

from __future__ import annotations

import collections
import itertools
import re
import socket
import ssl
import struct
from types import TracebackType

DEFAULT_TIMEOUT = 10.0
_CHUNK = 1 << 16
_STATUS_KINDS = frozenset({b"OK", b"NO", b"BAD", b"BYE", b"PREAUTH"})
_LITERAL_AT_END = re.compile(rb"~?\{(\d+)\+?\}\r\n\Z")
_SHOWN = 600  # bytes of each exchange kept for failure messages


class ConnectionClosed(ConnectionError):
    """The server closed (or reset) the connection while a response was expected."""


class _StreamEnded(ConnectionClosed):
    """The server ended the stream cleanly (a FIN), between two reads."""


class ResponseTimeout(AssertionError):
    """Nothing more came in time: the server is stuck or waits for more input."""


def literal_length(line: bytes) -> int | None:
    """The octet count of the literal (`{n}`, `{n+}`, `~{n}`) announced at the end of `line`
    (which ends in CRLF), or None when the line ends without one."""
    match = _LITERAL_AT_END.search(line)
    return int(match.group(1)) if match else None


def is_single_line(first_line: bytes) -> bool:
    """Status responses and continuation requests carry free text, never literals: a `{5}` at
    the end of their text is text (an echoed bad command, say)."""
    words = first_line.split(b" ", 2)
    if words[0] == b"+":
        return True
    return len(words) > 1 and words[1].upper().rstrip(b"\r\n") in _STATUS_KINDS


def unverified_tls() -> ssl.SSLContext:
    """TLS without certificate checks: test servers use self-signed certificates."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class ImapWire:
    """One connection. `greeting` is the server's first response (b"" with `greeting=False`,
    for connections that must not read first: TLS handshakes, other protocols' ports).

    Reading: `line()` is one response with its CRLF and the literals it announces;
    `until(tag)` / `responses(line)` / `command(line)` read up to the tagged response.
    Every wait fails with ResponseTimeout after `timeout` seconds (a safety net, not a sleep).
    """

    def __init__(
        self,
        port: int,
        host: str = "127.0.0.1",
        *,
        tls: ssl.SSLContext | bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        greeting: bool = True,
        label: str = "",
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.label = label
        self.closed = False  # the server ended the stream (or we closed it)
        self.transcript: collections.deque[tuple[str, bytes, int]] = collections.deque(maxlen=80)
        self._buffer = bytearray()
        self._tags = itertools.count(1)
        self.sock: socket.socket = socket.create_connection((host, port), timeout=timeout)
        self.tls = False
        if tls:
            self._wrap(unverified_tls() if tls is True else tls)
        self.greeting = self.read_response() if greeting else b""

    def __enter__(self) -> ImapWire:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def set_timeout(self, seconds: float) -> None:
        self.timeout = seconds
        self.sock.settimeout(seconds)

    # --- bytes ------------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Exactly `data`, in one write."""
        self._record("C", data)
        self.sock.sendall(data)

    def receive(self) -> bool:
        """Wait for more bytes from the server; False once it has ended the stream."""
        try:
            chunk = self.sock.recv(_CHUNK)
        except TimeoutError:
            raise ResponseTimeout(f"nothing more within {self.timeout}s\n{self.tail()}") from None
        except (ConnectionResetError, ssl.SSLError) as e:
            self.closed = True
            raise ConnectionClosed(f"connection failed: {e}\n{self.tail()}") from None
        if not chunk:
            self.closed = True
            return False
        self._buffer += chunk
        return True

    def pending(self) -> bool:
        """Whether bytes came that no read has taken yet (checked without waiting)."""
        return bool(self._buffer)

    def read_exact(self, count: int) -> bytes:
        """Exactly `count` bytes; ConnectionClosed when the stream ends first."""
        while len(self._buffer) < count:
            self._receive_or_fail()
        return self._take(count)

    def read_some(self, count: int) -> bytes:
        """Up to `count` bytes: `count` of them unless the stream ends first."""
        while len(self._buffer) < count and self.receive():
            pass
        return self._take(min(count, len(self._buffer)))

    def read_chunk(self) -> bytes:
        """What has come and not been read, or else the next bytes to arrive; b"" at the end
        of the stream (a single `recv`, for answers whose framing is not IMAP's)."""
        if not self._buffer:
            self.receive()
        return self._take(len(self._buffer))

    def read_line(self) -> bytes:
        """One line, CRLF included, literals or not; ConnectionClosed when the stream ends."""
        searched = 0
        while (end := self._buffer.find(b"\r\n", searched)) < 0:
            searched = max(0, len(self._buffer) - 1)
            self._receive_or_fail()
        return self._take(end + 2)

    # --- responses --------------------------------------------------------------------------

    def read_response(self) -> bytes:
        """One response: its first line and every literal it announces, CRLFs included.
        ConnectionClosed when the stream ends first."""
        raw = self.read_line()
        if not is_single_line(raw):
            try:
                while (size := literal_length(raw)) is not None:
                    raw += self.read_exact(size)
                    raw += self.read_line()
            except _StreamEnded:
                raise ConnectionClosed(f"stream ended inside a literal\n{self.tail()}") from None
        self._record("S", raw)
        return raw

    def line(self) -> bytes:
        """One response as `read_response` reads it; once the server has closed the
        connection, what it left unterminated (b"" when nothing)."""
        try:
            return self.read_response()
        except _StreamEnded:
            return self._take(len(self._buffer))

    def lines_until(self, prefix: bytes) -> list[bytes]:
        """Responses up to and including the first that starts with `prefix`."""
        lines = [self.read_response()]
        while not lines[-1].startswith(prefix):
            lines.append(self.read_response())
        return lines

    def until(self, tag: bytes) -> bytes:
        """Every response up to and including the one tagged `tag`, joined."""
        return b"".join(self.lines_until(tag + b" "))

    def responses(self, line: bytes) -> list[bytes]:
        """Send a command line (its tag is its first word, CRLF is added); its responses, the
        tagged one last."""
        self.send(line + b"\r\n")
        return self.lines_until(line.split(b" ", 1)[0] + b" ")

    def command(self, line: bytes) -> bytes:
        """`responses(line)`, joined: the bytes exactly as the server sent them."""
        return b"".join(self.responses(line))

    def next_tag(self) -> bytes:
        return b"w%d" % next(self._tags)

    def tagged(self, text: str | bytes) -> list[bytes]:
        """`text` sent under a fresh tag; its responses, the tagged one last."""
        data = text.encode() if isinstance(text, str) else text
        return self.responses(self.next_tag() + b" " + data)

    def status(self, text: str | bytes) -> bytes:
        """The tagged response to `text` (sent under a fresh tag), without tag and CRLF."""
        return self.tagged(text)[-1].split(b" ", 1)[1].removesuffix(b"\r\n")

    def login(self, user: str | bytes = b"user", password: str | bytes = b"pass") -> bytes:
        """LOGIN with atoms, tagged `l`; the response, which must be OK."""
        user = user.encode() if isinstance(user, str) else user
        password = password.encode() if isinstance(password, str) else password
        responses = self.responses(b"l LOGIN " + user + b" " + password)
        assert responses[-1].startswith(b"l OK"), responses
        return b"".join(responses)

    # --- TLS --------------------------------------------------------------------------------

    def start_tls(self, context: ssl.SSLContext | None = None) -> None:
        """Start TLS (after the tagged OK to STARTTLS). No cleartext may have come after that
        OK: it would be a response to plaintext the server should have dropped."""
        assert not self._buffer, f"cleartext after the STARTTLS OK: {bytes(self._buffer)!r}"
        self.sock.setblocking(False)
        try:
            early = self.sock.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            early = b""
        finally:
            self.sock.settimeout(self.timeout)
        assert not early, f"cleartext after the STARTTLS OK: {early!r}"
        self._wrap(context or unverified_tls())

    def _wrap(self, context: ssl.SSLContext) -> None:
        self.sock = context.wrap_socket(self.sock, server_hostname=self.host)
        self.tls = True

    # --- the end of the connection ----------------------------------------------------------

    def rest(self, timeout: float | None = None) -> bytes:
        """Everything the server sends until it closes the connection; ResponseTimeout while
        it stays open, ConnectionClosed when it resets it."""
        self._until_closed(timeout, lenient=False)
        return self._take(len(self._buffer))

    def dropped(self, timeout: float | None = None) -> bytes:
        """What the server sent before it closed or reset the connection."""
        self._until_closed(timeout, lenient=True)
        return self._take(len(self._buffer))

    def at_eof(self) -> bool:
        """The server closed the connection and sent nothing more."""
        return self.rest() == b""

    def shutdown_write(self) -> None:
        """Half-close: the server reads end of stream, and may still answer."""
        self.sock.shutdown(socket.SHUT_WR)

    def reset(self) -> None:
        """Vanish abruptly: close with an RST, dropping whatever is unread or unsent."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close()

    def close(self) -> None:
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass

    def tail(self) -> str:
        """The end of the conversation, for failure messages."""
        shown = []
        for who, data, size in self.transcript:
            text = data.decode("utf-8", "replace").rstrip()
            shown.append(f"{who}: {text}" + (f"... ({size} bytes)" if size > len(data) else ""))
        name = f" {self.label}" if self.label else ""
        return f"--- transcript{name} ---\n" + "\n".join(shown)

    # --- internals --------------------------------------------------------------------------

    def _receive_or_fail(self) -> None:
        if not self.receive():
            raise _StreamEnded(f"server closed the connection\n{self.tail()}")

    def _take(self, count: int) -> bytes:
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data

    def _record(self, who: str, data: bytes) -> None:
        self.transcript.append((who, data[:_SHOWN], len(data)))

    def _until_closed(self, timeout: float | None, *, lenient: bool) -> None:
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            while self.receive():
                pass
        except ResponseTimeout:
            raise ResponseTimeout(
                f"connection still open after {timeout or self.timeout}s\n{self.tail()}"
            ) from None
        except (ConnectionClosed, OSError):
            if not lenient:
                raise
        finally:
            if timeout is not None and not self.closed:
                self.sock.settimeout(self.timeout)
