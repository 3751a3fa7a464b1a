"""Messages as the control API shows them: list items, the substring filters, and the full view
with headers, text and HTML bodies, attachments and the raw bytes. Pure code over what the store
keeps (the structure computed at delivery), so the list never re-parses a message."""

from __future__ import annotations

import base64
import datetime
import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from elektromail import mailtext, mime

_HEADER_LINE_RE = re.compile(rb"([^\s:]+)[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)")
_FOLD_RE = re.compile(r"\r?\n(?=[ \t])")


def iso_time(internal_date: float, tz_minutes: int) -> str:
    zone = datetime.timezone(datetime.timedelta(minutes=tz_minutes))
    return datetime.datetime.fromtimestamp(int(internal_date), zone).isoformat()


def list_item(summary: Any) -> dict[str, Any]:
    """The fields every message listing shows."""
    return _item(summary, _shown_envelope(summary.structure))


# A long-poll lists the same messages again after each delivery: their envelopes are decoded
# once. Keyed by a digest of the stored structure text (which names a message's headers
# completely), not by the text itself, which would keep ~1.7 KB per message alive.
_ENVELOPES: OrderedDict[bytes, tuple[str | None, ...]] = OrderedDict()
ENVELOPE_CACHE_SIZE = 10_000
CACHED_STRUCTURE_SIZE = 64 * 1024  # characters; a common message's structure is ~1-2 K


def _shown_envelope(structure: str) -> tuple[str | None, ...]:
    key = hashlib.blake2b(structure.encode(), digest_size=16).digest()
    fields = _ENVELOPES.get(key)
    if fields is not None:
        _ENVELOPES.move_to_end(key)
        return fields
    fields = _envelope_fields(mime.envelope_from_json(structure))
    if len(structure) <= CACHED_STRUCTURE_SIZE:  # a 10 MB subject is decoded, not kept
        _ENVELOPES[key] = fields
        if len(_ENVELOPES) > ENVELOPE_CACHE_SIZE:
            _ENVELOPES.popitem(last=False)
    return fields


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
        "modseq": summary.modseq,
        "internal_date": iso_time(summary.internal_date, summary.tz_minutes),
        "size": summary.size,
        "subject": subject,
        "from": from_,
        "to": to,
        "cc": cc,
        "date": date,
        "message_id": message_id,
        "attachment_count": summary.attachments,
        "preview": summary.preview,
    }


def _decoded(value: str | None) -> str | None:
    return None if value is None else mime.decode_header(value)


def _addresses(addresses: tuple[mime.Address, ...] | None) -> str | None:
    return None if addresses is None else mime.decoded_addresses(addresses)


def detail(summary: Any, *, base64_always: bool = False) -> dict[str, Any]:
    """One message in full: the list fields, headers, bodies, attachments and raw. `raw` is the
    bytes decoded as UTF-8, U+FFFD for each byte that is not; `raw_base64` (the exact bytes)
    comes with it when that replaced any, or always with `base64_always`: most mail is UTF-8
    (or ASCII), so the common answer is not more than doubled by a base64 copy nobody needs, and
    whenever `raw_base64` is absent, `raw` encoded as UTF-8 is the exact bytes."""
    raw: bytes = summary.raw
    parsed = mime.from_json(summary.structure)
    out = _item(summary, _envelope_fields(parsed.envelope))
    out["headers"] = headers(raw[: parsed.header_end])
    found = mailtext.contents(raw, parsed.body)
    out["text"], out["html"] = found.text, found.html
    out["attachments"] = _attachments(raw, found)
    try:
        out["raw"] = raw.decode("utf-8")
    except UnicodeDecodeError:
        out["raw"] = raw.decode("utf-8", "replace")
        base64_always = True
    if base64_always:
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


def _attachments(raw: bytes, found: mailtext.Contents) -> list[dict[str, Any]]:
    out = []
    for index, part in enumerate(found.attachments):
        data = mailtext.part_data(raw, part)
        out.append(
            {
                "index": index,
                "filename": mailtext.filename(part),
                "content_type": f"{part.type}/{part.subtype}",
                "size": part.size if data is None else len(data),
                "content_id": _content_id(part.id),
            }
        )
    return out


def _content_id(value: str | None) -> str | None:
    """A Content-ID without its angle brackets, as a cid: URL names it (RFC 2392)."""
    if value is None:
        return None
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    return value or None


@dataclass(frozen=True, slots=True)
class Attachment:
    """One attachment's decoded bytes, for download."""

    filename: str | None
    content_type: str
    data: bytes


def attachment(summary: Any, index: int) -> Attachment | None:
    """Attachment `index` (as `detail` numbers them) of a message read with its raw bytes."""
    raw: bytes = summary.raw
    parsed = mime.from_json(summary.structure)
    found = mailtext.contents(raw, parsed.body).attachments
    if not 0 <= index < len(found):
        return None
    part = found[index]
    data = mailtext.part_data(raw, part)
    if data is None:  # an unknown transfer encoding: the bytes as they stand
        data = raw[part.body_start : part.end]
    return Attachment(mailtext.filename(part), f"{part.type}/{part.subtype}", data)
