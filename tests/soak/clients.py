"""The soak test's clients: small hand-written IMAP, SMTP and HTTP/1.1 clients over asyncio
streams, cheap enough that one Python thread drives 200 IMAP sessions, 20 SMTP connections and
the API at once, and `Outcome`, the record of what they were told.

Only what a client can know is recorded: which messages were acknowledged, every EXISTS a
selected or idling session was told, every answer that was not the one expected, and latencies.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

HOST = "127.0.0.1"
PASSWORD = "soak-pw"
TOKEN = "soak-token"
STREAM_LIMIT = 4 * 1024 * 1024  # one response line (a long SEARCH) may be large

_EXISTS = re.compile(rb"^\* (\d+) EXISTS\r\n$")
_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")
_TAGGED = re.compile(rb"^(\S+) (OK|NO|BAD)\b(.*)\r\n$", re.S)
_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")


@dataclass
class Outcome:
    """What the clients were told, and how long it took."""

    # (user, mailbox) -> Message-IDs acknowledged into it, in the order of acknowledgement
    acked: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    # (user, mailbox, client) -> (UID, Message-ID) the server named in APPENDUID or an
    # /inject answer, in the order that client was told
    named: dict[tuple[str, str, str], list[tuple[int, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    errors: list[str] = field(default_factory=list)
    imap_latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    smtp_latency: list[float] = field(default_factory=list)
    http_latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    # (idler, (user, mailbox), EXISTS values it was told in order)
    idle_seen: list[tuple[str, tuple[str, str], list[int]]] = field(default_factory=list)
    smtp_seconds: float = 0.0
    load_seconds: float = 0.0

    def error(self, text: str) -> None:
        if len(self.errors) < 1000:
            self.errors.append(text)

    def acknowledge(self, user: str, mailbox: str, message_id: str) -> None:
        self.acked[(user, mailbox)].append(message_id)

    def acked_count(self) -> int:
        return sum(len(ids) for ids in self.acked.values())


# --- the IMAP client --------------------------------------------------------------------------


class ImapError(Exception):
    pass


class ImapClient:
    """One IMAP connection: a reader task dispatches responses; `command` sends one command
    and waits for its tagged answer. Every EXISTS of the current selection is kept, and any
    answer that was not expected is reported to `outcome.errors`."""

    def __init__(self, name: str, outcome: Outcome) -> None:
        self.name = name
        self.outcome = outcome
        self.selected: str | None = None
        self.readonly = False
        self.exists_seen: list[int] = []  # EXISTS values of the current selection, in order
        self.changed = asyncio.Event()  # set on every EXISTS
        self.untagged: list[bytes] | None = None  # when a list, untagged responses go there
        self._tag = 0
        self._pending: tuple[str, asyncio.Future] | None = None
        self._continuation: asyncio.Future | None = None
        self._leaving = False
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pump: asyncio.Task | None = None

    @property
    def exists(self) -> int:
        return self.exists_seen[-1] if self.exists_seen else 0

    async def connect(self, port: int) -> None:
        self._reader, self._writer = await asyncio.open_connection(HOST, port, limit=STREAM_LIMIT)
        greeting = await self._reader.readline()
        if not greeting.startswith(b"* OK"):
            raise ImapError(f"{self.name}: greeting {greeting!r}")
        self._pump = asyncio.create_task(self._read_responses())

    async def login(self, user: str, rev2: bool = False) -> None:
        await self.command(f'LOGIN {user} "{PASSWORD}"', kind="LOGIN")
        if rev2:
            await self.command("ENABLE IMAP4rev2", kind="ENABLE")

    async def select(self, mailbox: str, readonly: bool = False) -> None:
        self.exists_seen = []
        self.selected = None
        await self.command(f'{"EXAMINE" if readonly else "SELECT"} "{mailbox}"')
        self.selected, self.readonly = mailbox, readonly

    async def command(self, text: str, expect: str = "OK", kind: str | None = None) -> bytes:
        """Send `text`; fires with the tagged line. An answer other than `expect` is an error
        (raised as ImapError after it is recorded)."""
        self._tag += 1
        tag = f"t{self._tag}"
        future = asyncio.get_running_loop().create_future()
        self._pending = (tag, future)
        started = time.perf_counter()
        self._writer.write(f"{tag} {text}\r\n".encode())
        line = await future
        self.outcome.imap_latency[kind or text.split(" ", 1)[0].upper()].append(
            time.perf_counter() - started
        )
        tagged = _TAGGED.match(line)
        if tagged is None or tagged.group(2).decode() != expect:
            self.outcome.error(f"{self.name}: {text[:60]!r} -> {line[:200]!r}")
            raise ImapError(line.decode(errors="replace"))
        return line

    async def append(self, mailbox: str, raw: bytes) -> int:
        """APPEND with a synchronising literal; fires with the UID from APPENDUID."""
        self._tag += 1
        tag = f"t{self._tag}"
        loop = asyncio.get_running_loop()
        future, self._continuation = loop.create_future(), loop.create_future()
        self._pending = (tag, future)
        started = time.perf_counter()
        self._writer.write(f'{tag} APPEND "{mailbox}" (\\Seen) {{{len(raw)}}}\r\n'.encode())
        go_ahead = asyncio.ensure_future(self._continuation)
        done, _ = await asyncio.wait({go_ahead, future}, return_when=asyncio.FIRST_COMPLETED)
        if future in done:  # refused before the literal
            go_ahead.cancel()
        else:
            self._writer.write(raw + b"\r\n")
        line = await future
        self.outcome.imap_latency["APPEND"].append(time.perf_counter() - started)
        found = _APPENDUID.search(line)
        if not line.startswith(tag.encode() + b" OK") or found is None:
            self.outcome.error(f"{self.name}: APPEND -> {line[:200]!r}")
            raise ImapError(line.decode(errors="replace"))
        return int(found.group(2))

    async def idle(self, until: Callable[[], bool] | asyncio.Event) -> None:
        """IDLE until `until` (an event, or a condition checked at every EXISTS) holds."""
        self._tag += 1
        tag = f"t{self._tag}"
        loop = asyncio.get_running_loop()
        future, self._continuation = loop.create_future(), loop.create_future()
        self._pending = (tag, future)
        started = time.perf_counter()
        self._writer.write(f"{tag} IDLE\r\n".encode())
        await asyncio.wait({self._continuation, future}, return_when=asyncio.FIRST_COMPLETED)
        if future.done():
            line = future.result()
            self.outcome.error(f"{self.name}: IDLE -> {line[:200]!r}")
            raise ImapError(line.decode(errors="replace"))
        self.outcome.imap_latency["IDLE (to +)"].append(time.perf_counter() - started)
        if isinstance(until, asyncio.Event):
            await until.wait()
        else:
            while not until():
                self.changed.clear()
                await self.changed.wait()
        started = time.perf_counter()
        self._writer.write(b"DONE\r\n")
        line = await future
        self.outcome.imap_latency["DONE"].append(time.perf_counter() - started)
        if not line.startswith(tag.encode() + b" OK"):
            self.outcome.error(f"{self.name}: IDLE DONE -> {line[:200]!r}")
            raise ImapError(line.decode(errors="replace"))

    async def logout(self) -> None:
        self._leaving = True
        try:
            await self.command("LOGOUT")
        finally:
            await self.close()

    async def close(self) -> None:
        self._leaving = True
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except OSError:
                pass
        if self._pump is not None:
            await asyncio.gather(self._pump, return_exceptions=True)

    async def _read_response(self) -> bytes:
        """One response line with its literals."""
        reader = self._reader
        line = await reader.readline()
        if not line.endswith(b"\n"):
            raise ConnectionError("connection closed")
        parts = [line]
        while (literal := _LITERAL.search(line)) is not None:
            parts.append(await reader.readexactly(int(literal.group(1))))
            line = await reader.readline()
            if not line.endswith(b"\n"):
                raise ConnectionError("connection closed in a response")
            parts.append(line)
        return b"".join(parts)

    async def _read_responses(self) -> None:
        try:
            while True:
                response = await self._read_response()
                self._dispatch(response)
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as e:
            if not self._leaving:
                self.outcome.error(f"{self.name}: connection lost: {e!r}")
            self._fail_pending(ConnectionError(f"{self.name}: connection lost"))

    def _fail_pending(self, error: Exception) -> None:
        for future in (self._continuation, self._pending[1] if self._pending else None):
            if future is not None and not future.done():
                future.set_exception(error)
                future.exception()  # retrieved: a caller that left is not warned about

    def _dispatch(self, response: bytes) -> None:
        if response.startswith(b"+"):
            if self._continuation is not None and not self._continuation.done():
                self._continuation.set_result(response)
            else:
                self.outcome.error(f"{self.name}: unexpected continuation {response[:80]!r}")
            return
        if response.startswith(b"* "):
            self._untagged(response)
            return
        if self._pending is not None and response.startswith(self._pending[0].encode() + b" "):
            future = self._pending[1]
            self._pending = None
            if not future.done():
                future.set_result(response)
            return
        self.outcome.error(f"{self.name}: unexpected response {response[:120]!r}")

    def _untagged(self, response: bytes) -> None:
        exists = _EXISTS.match(response)
        if exists is not None:
            count = int(exists.group(1))
            if self.exists_seen and count < self.exists_seen[-1]:
                self.outcome.error(
                    f"{self.name}: EXISTS went from {self.exists_seen[-1]} down to {count} "
                    f"in {self.selected}, though nothing was expunged"
                )
            self.exists_seen.append(count)
            self.changed.set()
            return
        if self.untagged is not None:
            self.untagged.append(response)
        word = response[2:].split(b" ", 2)
        kind = word[1] if word[0].isdigit() and len(word) > 1 else word[0]
        if kind in (b"NO", b"BAD") or (kind == b"BYE" and not self._leaving):
            self.outcome.error(f"{self.name}: {response[:200]!r}")
        elif kind == b"EXPUNGE":
            self.outcome.error(f"{self.name}: {response[:80]!r} though nothing was expunged")


# --- SMTP and HTTP -----------------------------------------------------------------------------


async def smtp_reply(reader: asyncio.StreamReader) -> bytes:
    lines = []
    while True:
        line = await reader.readline()
        if not line.endswith(b"\n"):
            raise ConnectionError("SMTP connection closed")
        lines.append(line)
        if line[3:4] != b"-":
            return b"".join(lines)


class Http:
    """HTTP/1.1 with keep-alive: one request at a time, Content-Length or chunked answers."""

    def __init__(self, port: int, token: str | None = TOKEN) -> None:
        self.port = port
        self.token = token
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: object = None) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(
                HOST, self.port, limit=STREAM_LIMIT
            )
        data = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
        if self.token is not None:
            head += f"Authorization: Bearer {self.token}\r\n"
        if body is not None:
            head += "Content-Type: application/json\r\n"
        head += f"Content-Length: {len(data)}\r\n\r\n"
        self._writer.write(head.encode() + data)
        status_line = await self._reader.readline()
        if not status_line:
            raise ConnectionError("HTTP connection closed")
        status = int(status_line.split()[1])
        headers = {}
        while (line := await self._reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            payload = await self._reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            payload = await self._chunked()
        else:
            payload = await self._reader.read()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, payload

    async def _chunked(self) -> bytes:
        parts = []
        while True:
            size = int((await self._reader.readline()).split(b";")[0], 16)
            if size == 0:
                await self._reader.readline()
                return b"".join(parts)
            parts.append(await self._reader.readexactly(size))
            await self._reader.readline()

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass
