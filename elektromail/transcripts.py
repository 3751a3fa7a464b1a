"""SMTP transcripts as data: one mail transaction's exchange (client and server lines, stamped in
seconds since the session began), the session facts around it (peer, EHLO name, TLS, AUTH), the
compact form stored with each delivered message, the JSON form the API shows, and the bounded
ring of the latest transactions, accepted or refused. Pure code: the SMTP server records
(smtp/transcript.py), the post office keeps the ring, the HTTP API renders.
"""

from __future__ import annotations

import marshal
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

# Directions of a line; the data of DATA is an entry of its own, holding only its size.
CLIENT, SERVER, NOTE, DATA_KEPT, DATA_DISCARDED = 0, 1, 2, 3, 4
DIRECTIONS = ("client", "server", "note", "note", "note")

# Bounds, so a hostile client cannot make a transcript (or the ring) big: a part of a
# transcript (the session preamble; one transaction with the lines leading into it) keeps at
# most MAX_LINES lines; lines up to SHORT_LINE octets are kept as they are, longer ones are
# shown up to MAX_LINE_SHOWN octets and, together, up to MAX_LONG_OCTETS a part. What comes
# past a bound is counted, not kept.
MAX_LINES = 400
SHORT_LINE = 128
MAX_LINE_SHOWN = 1000
MAX_LONG_OCTETS = 16 * 1024

ACCEPTED, REFUSED = "accepted", "refused"
OUTCOMES = (ACCEPTED, REFUSED)
DEFAULT_RING_SIZE = 1000

# The stored form of a message the server made itself (a DSN), which has no SMTP transcript.
DSN_MARK = b"dsn"
# The stored form: _MAGIC, then marshal of (Facts.stored(), size or None, lines cut, the preamble's
# entries, the transaction's entries, the final reply's entry). marshal: one C call for what
# is written for every message (SMTP ingest speed matters); only this server writes it.
_MAGIC = b"ET2"

Entry = tuple[float, int, Any]  # (monotonic clock, direction, bytes; octets for DATA_*)
# A ring entry: (facts, log, preamble end, transaction start, end, cut, size, outcome, reason):
# the transaction is log[:preamble end] + log[transaction start:end] of its session's log.
RingEntry = tuple

_CONTROL = {c: f"\\x{c:02x}" for c in range(32) if c != 9}
_CONTROL[127] = "\\x7f"


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

    def data(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "t0": self.t0,
            "client": [self.host, self.port],
            "helo": self.helo,
            "esmtp": self.esmtp,
            "tls": self.tls,
            "auth": self.auth,
        }

    def stored(self) -> tuple:
        """The facts as the stored form keeps them (see `encode`)."""
        return (
            self.started,
            self.t0,
            self.host,
            self.port,
            self.helo,
            self.esmtp,
            self.tls,
            self.auth,
        )


def shorten(text: bytes) -> bytes:
    if len(text) <= MAX_LINE_SHOWN:
        return text
    more = len(text) - MAX_LINE_SHOWN
    return text[:MAX_LINE_SHOWN] + b" ... (%d more octets)" % more


def encode(
    facts: tuple,
    size: int | None,
    cut: int,
    preamble: list[Entry],
    transaction: list[Entry],
    last: Entry | None,
) -> bytes:
    """The stored form of a transcript."""
    return _MAGIC + marshal.dumps((facts, size, cut, preamble, transaction, last), 2)


def decode(blob: bytes) -> dict[str, Any]:
    """The data `render` takes, from a stored form; ValueError when it is not one."""
    if blob[:3] != _MAGIC:
        raise ValueError("not a stored transcript")
    try:
        facts, size, cut, preamble, transaction, last = marshal.loads(blob[3:])
        data = Facts(*facts).data()
        entries = list(preamble) + list(transaction) + ([last] if last else [])
        data["lines"] = stored_lines(data.pop("t0", 0.0), entries)
    except (EOFError, TypeError, ValueError, KeyError, IndexError) as e:
        raise ValueError(f"unreadable stored transcript: {e}") from None
    data["size"] = size
    data["cut"] = cut
    return data


class NoTranscript(Exception):
    """The message has no SMTP transcript; the text says why."""


def from_stored(blob: bytes | None) -> dict[str, Any]:
    """The API's form of a stored transcript; NoTranscript for a message that has none."""
    if blob is None:
        raise NoTranscript(
            "it was not received over SMTP (injected over HTTP, appended over IMAP, or"
            " preloaded), or transcripts were off (--smtp-transcripts 0) or not kept yet when"
            " it came"
        )
    blob = bytes(blob)
    if blob == DSN_MARK:
        raise NoTranscript("it is a delivery status notification (bounce) the server made itself")
    try:
        data = decode(blob)
    except ValueError as e:
        raise NoTranscript(str(e)) from None
    data.setdefault("outcome", ACCEPTED)
    return render(data)


def stored_lines(t0: float, entries: Sequence[Entry]) -> list[tuple[float, int, str]]:
    """(ms since the session began, direction, text) per line; a server write of several reply
    lines (EHLO's) gives one each, the message data a note with its size."""
    out = []
    for when, direction, text in entries:
        ms = round(max(0.0, when - t0) * 1000, 1)
        if direction == SERVER:
            for part in text.split(b"\r\n"):
                if part:
                    out.append((ms, SERVER, text_of(part)))
        elif direction == DATA_KEPT:
            out.append((ms, NOTE, f"<{text} octets of message data>"))
        elif direction == DATA_DISCARDED:
            out.append((ms, NOTE, f"<{text} octets of message data, discarded>"))
        else:
            out.append((ms, direction, text_of(text)))
    return out


def ring_json(entry: RingEntry, id: int) -> dict[str, Any]:
    """The API's JSON of a ring entry."""
    facts, log, pre_end, tx_start, end, cut, size, outcome, reason = entry
    data = facts.data()
    data.update(id=id, outcome=outcome, reason=reason, size=size, cut=cut)
    data["lines"] = stored_lines(data.pop("t0"), log[:pre_end] + log[tx_start:end])
    return render(data)


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
                "text": f"<transcript cut: {cut} more lines not kept (a part keeps"
                f" {MAX_LINES} lines, long lines {MAX_LONG_OCTETS // 1024} KiB)>",
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
    """The latest transactions, accepted and refused, newest first; at most `size` kept. An
    entry's id is its number in the order added."""

    def __init__(self, size: int = DEFAULT_RING_SIZE) -> None:
        self.size = size
        self._kept: deque[RingEntry] = deque(maxlen=size or None)
        self.added = 0

    def __len__(self) -> int:
        return len(self._kept)

    def add(self, entry: RingEntry) -> None:
        if self.size:
            self._kept.append(entry)
            self.added += 1

    def clear(self) -> None:
        self._kept.clear()

    def newest_first(self, outcome: str | None = None) -> Iterator[tuple[int, RingEntry]]:
        """(id, entry) pairs."""
        kept = self._kept
        newest = self.added
        for back in range(len(kept)):
            entry = kept[-1 - back]
            if outcome is None or entry[7] == outcome:
                yield newest - back, entry

    def page(
        self,
        limit: int,
        offset: int = 0,
        outcome: str | None = None,
        keep: Callable[[dict[str, Any]], bool] | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """(up to `limit` transcripts' JSON from the `offset`-th newest on, how many match);
        with `keep`, only the transcripts whose JSON it keeps (a namespace's)."""
        matching = list(self.newest_first(outcome))
        if keep is not None:
            kept = [item for item in (ring_json(e, id) for id, e in matching) if keep(item)]
            return kept[offset : offset + limit], len(kept)
        page = matching[offset : offset + limit]
        return [ring_json(entry, id) for id, entry in page], len(matching)
