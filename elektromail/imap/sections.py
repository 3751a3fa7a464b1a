"""The octets of a message's BODY[section] (RFC 9051 §6.4.5) from its stored bytes and
structure: FETCH answers them, CATENATE's URLs (RFC 4469) copy them."""

from __future__ import annotations

from elektromail import mime
from elektromail.imap.fetchitems import Section


def section_data(section: Section, raw: bytes, parsed) -> bytes | None:
    """The octets of BODY[section] (RFC 9051 §6.4.5), None when the message has no such part;
    `parsed` may be None only for the whole message (BODY[]). CATENATE's URLs take the same."""
    if parsed is None:  # BODY[] of the whole message needs no structure
        return raw
    text = section.text
    if text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        span = mime.section_range(parsed, section.part, "HEADER")
        if span is None:
            return None
        header = raw[span[0] : span[1]]
        return mime.filter_header_fields(header, section.fields, text == "HEADER.FIELDS.NOT")
    span = mime.section_range(parsed, section.part, text)
    return None if span is None else raw[span[0] : span[1]]
