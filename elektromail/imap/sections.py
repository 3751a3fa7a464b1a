"""The octets of a message's BODY[section] (RFC 9051 §6.4.5) from its stored bytes and
structure: FETCH answers them, CATENATE's URLs (RFC 4469) copy them."""

from __future__ import annotations

from elektromail import mime
from elektromail.imap.fetchitems import Section


def section_data(section: Section, raw: bytes, parsed) -> bytes | None:
    """The octets of BODY[section] (RFC 9051 §6.4.5), None when the message has no such part;
    `parsed` may be None for a section of the whole message (no part number: BODY[],
    BODY[HEADER.FIELDS (...)], BODY[TEXT]), which needs only the bytes (mime.top_level_range).
    CATENATE's URLs take the same."""
    text = section.text
    if parsed is None and not text:  # BODY[] of the whole message
        return raw
    if text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        span = _range(section, raw, parsed, "HEADER")
        if span is None:
            return None
        header = raw[span[0] : span[1]]
        return mime.filter_header_fields(header, section.fields, text == "HEADER.FIELDS.NOT")
    span = _range(section, raw, parsed, text)
    return None if span is None else raw[span[0] : span[1]]


def needs_structure(section: Section) -> bool:
    """Whether section_data needs the message's parse for `section`: a part of it does."""
    return bool(section.part)


def _range(section: Section, raw: bytes, parsed, spec: str) -> tuple[int, int] | None:
    if parsed is None:
        assert not section.part, "a body part needs the message's structure"
        return mime.top_level_range(raw, spec)
    return mime.section_range(parsed, section.part, spec)
