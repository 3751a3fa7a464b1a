"""Messages as the control API shows them: list items, the substring filters, and the full view
with headers, text and HTML bodies, attachments and the raw bytes. Pure code over what the store
keeps (the structure computed at delivery), so the list never re-parses a message."""

from __future__ import annotations

import base64
import datetime
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from elektromail import mime

FILTERS = ("subject", "from", "to")
_HEADER_LINE_RE = re.compile(rb"([^\s:]+)[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)")
_FOLD_RE = re.compile(r"\r?\n(?=[ \t])")


@dataclass(frozen=True, slots=True)
class Filters:
    """Case-insensitive substrings every listed message must contain (None: any)."""

    subject: str | None = None
    from_: str | None = None
    to: str | None = None

    def __bool__(self) -> bool:
        return any(value is not None for value in (self.subject, self.from_, self.to))

    def match(self, item: dict[str, Any]) -> bool:
        for wanted, field in ((self.subject, "subject"), (self.from_, "from"), (self.to, "to")):
            if wanted is not None and wanted.casefold() not in (item[field] or "").casefold():
                return False
        return True


def iso_time(internal_date: float, tz_minutes: int) -> str:
    zone = datetime.timezone(datetime.timedelta(minutes=tz_minutes))
    return datetime.datetime.fromtimestamp(int(internal_date), zone).isoformat()


def list_item(summary: Any) -> dict[str, Any]:
    """The fields every message listing shows."""
    return _item(summary, _shown_envelope(summary.structure))


# A long-poll lists the same messages again after each delivery: their envelopes are decoded
# once. Keyed by the stored structure text, which names a message's headers completely.
@functools.lru_cache(maxsize=10_000)
def _shown_envelope(structure: str) -> tuple[str | None, ...]:
    return _envelope_fields(mime.envelope_from_json(structure))


def _envelope_fields(envelope: mime.Envelope) -> tuple[str | None, ...]:
    return (
        _decoded(envelope.subject),
        _addresses(envelope.from_),
        _addresses(envelope.to),
        _addresses(envelope.cc),
        _decoded(envelope.date),
        _decoded(envelope.message_id),
    )


def _item(summary: Any, fields: tuple[str | None, ...]) -> dict[str, Any]:
    subject, from_, to, cc, date, message_id = fields
    return {
        "uid": summary.uid,
        "user": summary.user,
        "mailbox": summary.mailbox,
        "flags": list(summary.flags),
        "internal_date": iso_time(summary.internal_date, summary.tz_minutes),
        "size": summary.size,
        "subject": subject,
        "from": from_,
        "to": to,
        "cc": cc,
        "date": date,
        "message_id": message_id,
    }


def _decoded(value: str | None) -> str | None:
    return None if value is None else mime.decode_header(value)


def _addresses(addresses: tuple[mime.Address, ...] | None) -> str | None:
    return None if addresses is None else mime.decoded_addresses(addresses)


def detail(summary: Any) -> dict[str, Any]:
    """One message in full: the list fields, headers, bodies, attachments and raw."""
    raw: bytes = summary.raw
    parsed = mime.from_json(summary.structure)
    out = _item(summary, _envelope_fields(parsed.envelope))
    out["headers"] = headers(raw[: parsed.header_end])
    text, html, attachments = _contents(raw, parsed.body)
    out["text"], out["html"], out["attachments"] = text, html, attachments
    try:
        out["raw"] = raw.decode("utf-8")
    except UnicodeDecodeError:
        out["raw"] = raw.decode("utf-8", "replace")
        out["raw_base64"] = base64.b64encode(raw).decode("ascii")
    return out


def headers(block: bytes) -> dict[str, list[str]]:
    """Header fields in order, unfolded and decoded: {name as first written: [values]}."""
    out: dict[str, list[str]] = {}
    names: dict[str, str] = {}  # lower-case name -> the spelling shown
    for m in _HEADER_LINE_RE.finditer(block):
        name = m.group(1).decode("utf-8", "surrogateescape")
        value = _FOLD_RE.sub("", m.group(2).decode("utf-8", "surrogateescape")).strip()
        shown = names.setdefault(name.lower(), mime.decode_header(name))
        out.setdefault(shown, []).append(mime.decode_header(value))
    return out


def _contents(
    raw: bytes, root: mime.BodyPart
) -> tuple[str | None, str | None, list[dict[str, Any]]]:
    """The first inline text/plain and text/html bodies, and the other leaves as attachments."""
    text = html = None
    attachments = []
    for part in _leaves(root):
        kind = f"{part.type}/{part.subtype}"
        filename = _filename(part)
        inline = filename is None and (
            part.disposition is None or part.disposition[0] != "attachment"
        )
        if inline and kind == "text/plain" and text is None:
            text = _text(raw, part)
        elif inline and kind == "text/html" and html is None:
            html = _text(raw, part)
        else:
            data = _data(raw, part)
            attachments.append(
                {
                    "filename": filename,
                    "content_type": kind,
                    "size": part.size if data is None else len(data),
                }
            )
    return text, html, attachments


def _leaves(part: mime.BodyPart) -> Iterator[mime.BodyPart]:
    """Every part that is not a multipart container; an attached message is one leaf."""
    if part.parts:
        for child in part.parts:
            yield from _leaves(child)
    elif part.type != "multipart":
        yield part


def _filename(part: mime.BodyPart) -> str | None:
    if part.disposition is not None:
        name = mime.param_value(part.disposition[1], "filename")
        if name:
            return name
    return mime.param_value(part.params, "name") or None


def _data(raw: bytes, part: mime.BodyPart) -> bytes | None:
    return mime.decode_body(raw[part.body_start : part.end], part.encoding)


def _text(raw: bytes, part: mime.BodyPart) -> str:
    data = _data(raw, part)
    if data is None:  # an unknown transfer encoding: show it as it stands
        data = raw[part.body_start : part.end]
    charset = (mime.param_value(part.params, "charset") or "utf-8").strip().lower()
    if charset in ("us-ascii", "ascii"):  # 8-bit text labelled ASCII is most often UTF-8
        charset = "utf-8"
    try:
        return data.decode(charset, "replace")
    except (LookupError, UnicodeError):  # unknown, or not text (such as "base64")
        return data.decode("utf-8", "replace")
