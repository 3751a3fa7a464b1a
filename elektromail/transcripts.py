"""SMTP transcripts as data: one mail transaction's exchange (client and server lines, stamped in
seconds since the session began), the session facts around it (peer, EHLO name, TLS, AUTH), the
compact form stored with each delivered message, the JSON form the API shows, and the bounded
ring of the latest transactions, accepted or refused. Pure code: the SMTP server records
(smtp/transcript.py), the post office keeps the ring, the HTTP API renders.
"""

from __future__ import annotations

import itertools
import json
import struct
from array import array
from collections import deque
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from time import monotonic
from typing import Any

# Directions of a line.
CLIENT, SERVER, NOTE = 0, 1, 2
DIRECTIONS = ("client", "server", "note")

# Bounds, so a hostile client cannot make a transcript (or the ring) big: a line is shown up
# to MAX_LINE_SHOWN octets, a part of a transcript (the session preamble, the lines between
# transactions, one transaction) keeps at most MAX_LINES lines and MAX_OCTETS octets.
MAX_LINE_SHOWN = 1000
MAX_LINES = 400
MAX_OCTETS = 32 * 1024

ACCEPTED, REFUSED = "accepted", "refused"
OUTCOMES = (ACCEPTED, REFUSED)
DEFAULT_RING_SIZE = 1000

# The stored form of a message the server made itself (a DSN), which has no SMTP transcript.
DSN_MARK = b"dsn"

# The stored form: a header (struct _HEAD), the session facts as JSON, one direction byte per
# line, the lines' times (float64, seconds on the monotonic clock; the facts hold the clock at
# the session's start) and the lines' texts joined by NUL. Columns rather than JSON per line:
# storing costs a few C calls per message whatever its length (SMTP ingest speed matters).
_MAGIC = b"ET1"
_HEAD = struct.Struct("<3sBIIqI")  # magic, flags, facts length, lines, size (-1: none), cut
_ESCAPED = 1  # a text held NUL or backslash: texts are escaped (\\ and \0)

_CONTROL = {c: f"\\x{c:02x}" for c in range(32) if c != 9}
_CONTROL[127] = "\\x7f"


class Part:
    """A bounded run of lines, in columns: what comes past the bounds is counted, not kept."""

    __slots__ = ("cut", "dirs", "octets", "texts", "times")

    def __init__(self) -> None:
        self.texts: list[bytes] = []
        self.times = array("d")
        self.dirs = bytearray()
        self.octets = 0
        self.cut = 0  # lines not kept

    def add(self, direction: int, text: bytes) -> None:
        texts = self.texts
        if len(texts) >= MAX_LINES or self.octets >= MAX_OCTETS:
            self.cut += 1
            return
        if len(text) > MAX_LINE_SHOWN:
            more = len(text) - MAX_LINE_SHOWN
            text = text[:MAX_LINE_SHOWN] + b" ... (%d more octets)" % more
        self.octets += len(text)
        texts.append(text)
        self.times.append(monotonic())
        self.dirs.append(direction)

    def pop(self) -> tuple[int, float, bytes] | None:
        """Take back the last line, when it is the client's."""
        if not self.dirs or self.dirs[-1] != CLIENT:
            return None
        text = self.texts.pop()
        self.octets -= len(text)
        return self.dirs.pop(), self.times.pop(), text

    def put(self, line: tuple[int, float, bytes]) -> None:
        direction, when, text = line
        self.texts.append(text)
        self.times.append(when)
        self.dirs.append(direction)
        self.octets += len(text)


class Facts:
    """What a transcript says of its session besides the lines."""

    __slots__ = ("auth", "esmtp", "helo", "host", "port", "started", "t0", "tls")

    def __init__(
        self,
        started: float,
        t0: float,
        host: str,
        port: int | None,
        helo: str | None = None,
        esmtp: bool = False,
        tls: tuple[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> None:
        self.started = started  # wall clock at the session's start, seconds since the epoch
        self.t0 = t0  # the monotonic clock then
        self.host = host
        self.port = port
        self.helo = helo
        self.esmtp = esmtp
        self.tls = tls  # (version, cipher)
        self.auth = auth  # (mechanism, user)

    def key(self) -> tuple:
        return (self.helo, self.esmtp, self.tls, self.auth)

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "started": self.started,
                "t0": self.t0,
                "client": [self.host, self.port],
                "helo": self.helo,
                "esmtp": self.esmtp,
                "tls": self.tls,
                "auth": self.auth,
            },
            separators=(",", ":"),
        ).encode("utf-8")


class Transcript:
    """One transaction as the server saw it (the session's preamble included), accepted or
    refused; or a session that ended with no transaction. Lines stay bytes until rendered."""

    __slots__ = ("cut", "dirs", "facts", "id", "outcome", "reason", "size", "texts", "times")

    def __init__(
        self,
        facts: Facts,
        texts: list[bytes],
        times: array,
        dirs: bytearray,
        cut: int,
        size: int | None,
        outcome: str = ACCEPTED,
        reason: str | None = None,
    ) -> None:
        self.id: int | None = None
        self.facts = facts
        self.texts = texts
        self.times = times
        self.dirs = dirs
        self.cut = cut
        self.size = size  # octets of message data, when DATA got that far
        self.outcome = outcome
        self.reason = reason

    def to_json(self) -> dict[str, Any]:
        f = self.facts
        return render(
            {
                "id": self.id,
                "outcome": self.outcome,
                "reason": self.reason,
                "started": f.started,
                "client": [f.host, f.port],
                "helo": f.helo,
                "esmtp": f.esmtp,
                "tls": f.tls,
                "auth": f.auth,
                "size": self.size,
                "cut": self.cut,
                "lines": stored_lines(f.t0, self.texts, self.times, self.dirs),
            }
        )


def encode(
    facts_json: bytes,
    texts: list[bytes],
    times: array,
    dirs: bytes | bytearray,
    size: int | None,
    cut: int,
) -> bytes:
    """The stored form of a transcript (see _HEAD)."""
    flags = 0
    joined = b"\0".join(texts)
    if joined.count(b"\0") != len(texts) - 1 or b"\\" in joined:  # rare: escape each text
        flags |= _ESCAPED
        joined = b"\0".join(t.replace(b"\\", b"\\\\").replace(b"\0", b"\\0") for t in texts)
    head = _HEAD.pack(_MAGIC, flags, len(facts_json), len(texts), -1 if size is None else size, cut)
    return b"".join((head, facts_json, dirs, times.tobytes(), joined))


def decode(blob: bytes) -> dict[str, Any]:
    """The data `render` takes, from a stored form."""
    magic, flags, facts_length, count, size, cut = _HEAD.unpack_from(blob)
    if magic != _MAGIC:
        raise ValueError("not a stored transcript")
    at = _HEAD.size
    data = json.loads(blob[at : at + facts_length])
    at += facts_length
    dirs = blob[at : at + count]
    at += count
    times = array("d")
    times.frombytes(blob[at : at + 8 * count])
    at += 8 * count
    rest = blob[at:]
    if flags & _ESCAPED:
        texts = [_unescape(t) for t in rest.split(b"\0")]
    else:
        texts = rest.split(b"\0") if count else []
    data["size"] = None if size < 0 else size
    data["cut"] = cut
    data["lines"] = stored_lines(data.pop("t0", 0.0), texts, times, dirs)
    return data


def _unescape(text: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == 0x5C and i + 1 < len(text):
            nxt = text[i + 1]
            out.append(0 if nxt == 0x30 else nxt)
            i += 2
        else:
            out.append(c)
            i += 1
    return bytes(out)


class NoTranscript(Exception):
    """The message has no SMTP transcript; the text says why."""


def from_stored(blob: bytes | None) -> dict[str, Any]:
    """The API's form of a stored transcript; NoTranscript for a message that has none."""
    if blob is None:
        raise NoTranscript(
            "it was not received over SMTP (injected over HTTP, appended over IMAP, or"
            " preloaded), or it was stored before transcripts were kept"
        )
    blob = bytes(blob)
    if blob == DSN_MARK:
        raise NoTranscript("it is a delivery status notification (bounce) the server made itself")
    data = decode(blob)
    data.setdefault("outcome", ACCEPTED)
    return render(data)


def stored_lines(
    t0: float, texts: Sequence[bytes], times: Sequence[float], dirs: bytes | bytearray
) -> list[tuple[float, int, str]]:
    """(ms since the session began, direction, text) per line; a server write of several reply
    lines (EHLO's) gives one each."""
    out = []
    for text, when, direction in zip(texts, times, dirs, strict=True):
        ms = round(max(0.0, when - t0) * 1000, 1)
        if direction == SERVER:
            for part in text.split(b"\r\n"):
                if part:
                    out.append((ms, SERVER, text_of(part)))
        else:
            out.append((ms, direction, text_of(text)))
    return out


def text_of(line: bytes) -> str:
    """A line as text: UTF-8 where it is, `\\xNN` for other bytes and for control characters."""
    text = line.decode("utf-8", "backslashreplace")
    if not text.isprintable():
        text = text.translate(_CONTROL)
    return text


def render(data: dict[str, Any]) -> dict[str, Any]:
    """The API's JSON of a transcript's data (the facts, plus outcome, reason and id for the
    ring, and the lines): MAIL FROM and RCPT TO with their parameters and replies, and every
    line with its time and direction."""
    host, port = data.get("client") or (None, None)
    tls, auth = data.get("tls"), data.get("auth")
    lines = [
        {"ms": ms, "direction": DIRECTIONS[direction], "text": text}
        for ms, direction, text in data.get("lines") or ()
    ]
    mail_from, recipients = _envelope(lines)
    cut = data.get("cut") or 0
    if cut:
        lines.append(
            {
                "ms": lines[-1]["ms"] if lines else 0.0,
                "direction": "note",
                "text": f"<transcript cut: {cut} more lines not kept (the limit is"
                f" {MAX_LINES} lines or {MAX_OCTETS // 1024} KiB)>",
            }
        )
    return {
        "id": data.get("id"),
        "outcome": data.get("outcome", ACCEPTED),
        "reason": data.get("reason"),
        "started": _iso(data.get("started")),
        "client": {"address": host, "port": port},
        "helo": data.get("helo"),
        "esmtp": bool(data.get("esmtp")),
        "tls": None if not tls else {"version": tls[0], "cipher": tls[1]},
        "auth": None if not auth else {"mechanism": auth[0], "user": auth[1]},
        "mail_from": mail_from,
        "recipients": recipients,
        "size": data.get("size"),
        "truncated": bool(cut),
        "lines": lines,
    }


def _iso(when: float | None) -> str | None:
    if when is None:
        return None
    return (
        datetime.fromtimestamp(when, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _path_and_parameters(rest: str) -> tuple[str, dict[str, str | None]]:
    """`<a@b> SIZE=10 BODY=8BITMIME` -> ("a@b", {"SIZE": "10", "BODY": "8BITMIME"})."""
    rest = rest.strip()
    if rest.startswith("<") and ">" in rest:
        end = rest.index(">")
        path, tail = rest[1:end], rest[end + 1 :]
    else:
        path, _, tail = rest.partition(" ")
    parameters: dict[str, str | None] = {}
    for word in tail.split():
        key, eq, value = word.partition("=")
        parameters[key.upper()] = value if eq else None
    return path, parameters


def _envelope(
    lines: list[dict[str, Any]],
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """MAIL FROM and the RCPT TOs found in the lines, each with the reply it got."""
    mail_from: dict[str, Any] | None = None
    recipients: list[dict[str, Any]] = []
    waiting: dict[str, Any] | None = None  # the command whose reply comes next
    for line in lines:
        direction, text = line["direction"], line["text"]
        if direction == "client":
            head = text[:10].upper()
            waiting = None
            if head == "MAIL FROM:":
                address, parameters = _path_and_parameters(text[10:])
                waiting = mail_from = {"address": address, "parameters": parameters}
            elif head[:8] == "RCPT TO:":
                address, parameters = _path_and_parameters(text[8:])
                waiting = {"address": address, "parameters": parameters}
                recipients.append(waiting)
        elif direction == "server" and waiting is not None:
            if "reply" not in waiting:
                waiting["reply"] = text
                waiting["accepted"] = text[:1] == "2"
            if text[3:4] != "-":
                waiting = None
    for entry in ([mail_from] if mail_from else []) + recipients:
        entry.setdefault("reply", None)
        entry.setdefault("accepted", False)
    return mail_from, recipients


class Ring:
    """The latest transcripts, accepted and refused, newest first; at most `size` kept."""

    def __init__(self, size: int = DEFAULT_RING_SIZE) -> None:
        self.size = size
        self._kept: deque[Transcript] = deque(maxlen=size or None)
        self._ids = itertools.count(1)

    def __len__(self) -> int:
        return len(self._kept)

    def add(self, transcript: Transcript) -> None:
        if not self.size:
            return
        transcript.id = next(self._ids)
        self._kept.append(transcript)

    def clear(self) -> None:
        self._kept.clear()

    def newest_first(self, outcome: str | None = None) -> Iterator[Transcript]:
        for transcript in reversed(self._kept):
            if outcome is None or transcript.outcome == outcome:
                yield transcript

    def page(
        self, limit: int, offset: int = 0, outcome: str | None = None
    ) -> tuple[list[Transcript], int]:
        """(up to `limit` transcripts from the `offset`-th newest on, how many match)."""
        matching = list(self.newest_first(outcome))
        return matching[offset : offset + limit], len(matching)
