"""The text IMAP SEARCH's keys read, computed from one parse: the envelope's address lists and
subject as FROM/TO/CC/BCC/SUBJECT match them, the Date: as SENTBEFORE/ON/SINCE read it, the
top-level header fields HEADER looks in, and the decoded text BODY and TEXT look in, all
decoded and casefolded.

Pure code. imap/search_eval tests messages with these functions, and the store keeps their
results per body (written at delivery) so that SQL answers the same keys with `instr()`:
one definition, so both agree by construction. Texts go to SQL as UTF-8 bytes
(`surrogatepass`: header bytes that are not UTF-8 may leave lone surrogates), where a byte
substring is exactly a character substring.
"""

from __future__ import annotations

import datetime
import email.utils
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from elektromail import mime

__all__ = [
    "ADDRESS_FIELDS",
    "SearchFields",
    "address_text",
    "body_text",
    "full_text",
    "header_fields",
    "search_fields",
    "search_fields_from_json",
    "sent_day",
    "subject_text",
    "to_blob",
]

ADDRESS_FIELDS = ("from", "to", "cc", "bcc")
_ENVELOPE_MEMBERS = {"from": "from_", "to": "to", "cc": "cc", "bcc": "bcc"}
_IDENTITY_CHARSETS = frozenset({"us-ascii", "ascii", "utf-8", "utf8"})
_FIELD_RE = re.compile(rb"^([^\s:]+)[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)", re.M)


def to_blob(text: str) -> bytes:
    """`text` as the bytes the store keeps and `instr()` compares."""
    return text.encode("utf-8", "surrogatepass")


def address_text(envelope: mime.Envelope, field: str) -> str:
    """The envelope's `field` ("from", "to", "cc", "bcc") addresses as SEARCH reads them:
    written out (mime.write_addresses), RFC 2047-decoded, casefolded."""
    addresses = getattr(envelope, _ENVELOPE_MEMBERS[field])
    return mime.decode_header(mime.write_addresses(addresses)).casefold()


def subject_text(envelope: mime.Envelope) -> str | None:
    """The envelope's subject, RFC 2047-decoded and casefolded; None when there is none."""
    subject = envelope.subject
    return None if subject is None else mime.decode_header(subject).casefold()


def sent_day(header: str | None) -> datetime.date | None:
    """The calendar date written in a Date: header (time and zone disregarded); None when
    there is none or it does not parse."""
    if not header:
        return None
    try:
        parts = email.utils.parsedate_tz(header)
        return None if parts is None else datetime.date(parts[0], parts[1], parts[2])
    except (ValueError, TypeError, IndexError, OverflowError):
        return None


def header_fields(block: bytes) -> Iterator[tuple[str, str]]:
    """(name, decoded value) of each field in a header block, values unfolded."""
    for m in _FIELD_RE.finditer(block):
        value = m.group(2)
        if b"\n" in value:
            value = value.replace(b"\r\n", b"").replace(b"\n", b"")
        text = value.strip().decode("utf-8", "surrogateescape")
        yield m.group(1).decode("latin-1"), mime.decode_header(text)


def body_text(raw: bytes, parsed: mime.ParsedMessage) -> str:
    """What SEARCH BODY reads, casefolded: every text/* leaf part (nested messages included),
    transfer encoding undone and the charset decoded (unknown charsets, and 8-bit bytes
    labelled US-ASCII: UTF-8, else latin-1), parts joined by a newline."""
    texts = (_part_text(raw, part) for part in _walk(parsed.body) if _is_text(part))
    return "\n".join(texts).casefold()


def full_text(raw: bytes, parsed: mime.ParsedMessage, body: str | None = None) -> str:
    """What SEARCH TEXT reads, casefolded: the header fields of every entity, one
    `name: value` line each, a newline, then `body` (body_text, computed when not given)."""
    lines = [
        f"{name}: {value}"
        for part in _walk(parsed.body)
        for name, value in header_fields(raw[part.start : part.body_start])
    ]
    if body is None:
        body = body_text(raw, parsed)
    return "\n".join(lines).casefold() + "\n" + body


def _walk(root: mime.BodyPart) -> Iterator[mime.BodyPart]:
    """Every entity, depth first in order; iterative (mime.parse bounds the depth anyway)."""
    stack = [root]
    while stack:
        part = stack.pop()
        yield part
        children = [*part.parts, *((part.message,) if part.message is not None else ())]
        stack.extend(reversed(children))


def _is_text(part: mime.BodyPart) -> bool:
    return part.type.lower() == "text" and not part.parts and part.message is None


def _part_text(raw: bytes, part: mime.BodyPart) -> str:
    data = raw[part.body_start : part.end]
    decoded = mime.decode_body(data, part.encoding)
    return _decode_charset(data if decoded is None else decoded, part)


def _decode_charset(data: bytes, part: mime.BodyPart) -> str:
    charset = (mime.param_value(part.params, "charset") or "").strip().strip('"').lower()
    if charset and charset not in _IDENTITY_CHARSETS:
        try:
            return data.decode(charset, "replace")
        except (LookupError, ValueError):
            pass  # unknown, or not a text codec ("base64"): fall back below
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


@dataclass(frozen=True, slots=True)
class SearchFields:
    """What the store keeps of one body for SEARCH's header keys.

    `addresses` in ADDRESS_FIELDS order; `sent` the ISO date of the Date: header (ISO dates
    compare as text in date order); `fields` (lower-case name, casefolded value) of each
    top-level header field, in order."""

    subject: str | None
    addresses: tuple[str, str, str, str]
    sent: str | None
    fields: tuple[tuple[str, str], ...]


def search_fields(raw: bytes, parsed: mime.ParsedMessage) -> SearchFields:
    """The SearchFields of a parsed message."""
    envelope = parsed.envelope
    day = sent_day(envelope.date)
    fields = tuple(
        (name.lower(), value.casefold()) for name, value in header_fields(raw[: parsed.header_end])
    )
    addresses = tuple(address_text(envelope, field) for field in ADDRESS_FIELDS)
    return SearchFields(
        subject_text(envelope),
        addresses,  # type: ignore[arg-type]
        None if day is None else day.isoformat(),
        fields,
    )


def search_fields_from_json(raw: bytes, structure: str) -> SearchFields:
    """`search_fields` for a message known by its stored structure (mime.to_json)."""
    return search_fields(raw, mime.from_json(structure))


def blobs(values: Iterable[str | None]) -> list[bytes | None]:
    return [None if value is None else to_blob(value) for value in values]
