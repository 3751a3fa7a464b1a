"""IMAP body sections of a parsed message (RFC 9051 §6.4.5): which part, which bytes, which fields.

FETCH BODY[...] and BINARY[...] read the raw message through these offsets; nothing is re-parsed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from elektromail.caches import emptied_on_release
from elektromail.mime.model import BodyPart, ParsedMessage
from elektromail.mime.parse import header_end

_HEADER_SPECS = frozenset(("HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT"))
_FIELD_LINES_RE = re.compile(rb"^([^\s:]+)[ \t]*:[^\n]*(?:\n[ \t][^\n]*)*\n?", re.M)


def section_part(msg: ParsedMessage, path: tuple[int, ...]) -> BodyPart | None:
    """The part IMAP section number `path` names (RFC 9051 §6.4.5); () is the whole message.

    Inside a message (the top one or an encapsulated one) a non-multipart root is its own part 1.
    """
    part, at_root = msg.body, True
    for number in path:
        if part.message is not None and not at_root:
            part, at_root = part.message, True
        if part.parts:
            siblings = part.parts
        elif at_root:
            siblings = (part,)
        else:
            return None
        if not 1 <= number <= len(siblings):
            return None
        part, at_root = siblings[number - 1], False
    return part


def section_range(msg: ParsedMessage, path: tuple[int, ...], spec: str) -> tuple[int, int] | None:
    """The byte range in raw of BODY[path.spec], spec one of "", "HEADER[.FIELDS[.NOT]]",
    "TEXT", "MIME"; None when that section does not exist."""
    part = section_part(msg, path)
    if part is None:
        return None
    spec = spec.upper()
    if not spec:
        return (part.body_start, part.end) if path else (0, msg.size)
    if spec == "MIME":
        return (part.start, part.body_start) if path else None
    message = part.message if path else part
    if message is None:
        return None
    if spec in _HEADER_SPECS:
        return message.start, message.body_start
    return (message.body_start, message.end) if spec == "TEXT" else None


def top_level_range(raw: bytes, spec: str) -> tuple[int, int] | None:
    """`section_range(parse(raw), (), spec)` from the bytes alone: a section of the whole
    message (BODY[], BODY[HEADER...], BODY[TEXT]) needs only where its header ends, so a FETCH
    of it (a client's list view: BODY.PEEK[HEADER.FIELDS (From Subject ...)]) need not wait
    for the message's parse."""
    spec = spec.upper()
    if not spec:
        return 0, len(raw)
    if spec in _HEADER_SPECS:
        return 0, header_end(raw)
    return (header_end(raw), len(raw)) if spec == "TEXT" else None


def filter_header_fields(header_block: bytes, names: Iterable[str], exclude: bool) -> bytes:
    """BODY[HEADER.FIELDS (names)], or .NOT when exclude: the matching fields as exact bytes,
    then the blank line, which RFC 9051 §6.4.5 leaves out only when the header has none."""
    wanted = {name.encode("utf-8", "surrogateescape").lower() for name in names}
    fields, blank = _header_fields(bytes(header_block))
    out = [field for name, field in fields if (name in wanted) != exclude]
    if blank:
        out.append(b"\r\n")
    return b"".join(out)


# Clients ask for a few fields of the same messages again and again (a list view, imaptest's
# FETCH): a header block's fields are split once and kept for a while.
@lru_cache(maxsize=256)
def _header_fields(header_block: bytes) -> tuple[tuple[tuple[bytes, bytes], ...], bool]:
    """(lower-case name, the field's exact bytes, ending in a line end) of each field, and
    whether the block ends in the blank line."""
    fields = []
    for m in _FIELD_LINES_RE.finditer(header_block):
        field = m.group()
        fields.append((m.group(1).lower(), field if field.endswith(b"\n") else field + b"\r\n"))
    blank = header_block.endswith((b"\n\n", b"\n\r\n")) or header_block in (b"\r\n", b"\n")
    return tuple(fields), blank


emptied_on_release(_header_fields.cache_clear)
