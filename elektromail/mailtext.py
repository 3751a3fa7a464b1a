"""What a person reads in a message, from the structure parsed at delivery: the first inline
text/plain and text/html bodies decoded to text, the other leaves as attachments, and the one
search text (subject, addresses and body, case-folded) the control API's `q` looks in.

Pure code over `mime`'s parse; the HTTP view and the store's search index share it, so the
attachment count in a listing and the attachments of a message view always agree.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass

from elektromail import mime
from elektromail.searchtext import SearchFields, search_fields
from elektromail.sortkeys import SortFields, sort_fields

# The body text kept for search: a 50 MB message must not double its size in the index.
SEARCH_TEXT_LIMIT = 1 << 20  # characters
_HIDDEN_OPEN_RE = re.compile(r"<(?:script|style)\b", re.I)
_HIDDEN_CLOSE_RE = re.compile(r"</(?:script|style)\s*>", re.I)
_TAG_RE = re.compile(r"<[^>]*>")
_SPACE_RE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Contents:
    text: str | None  # the first inline text/plain body
    html: str | None  # the first inline text/html body
    attachments: tuple[mime.BodyPart, ...]  # every other leaf, in order


def contents(raw: bytes, root: mime.BodyPart) -> Contents:
    """Split a message into its readable bodies and its attachments."""
    text = html_body = None
    attachments = []
    for part in leaves(root):
        kind = f"{part.type}/{part.subtype}"
        inline = filename(part) is None and (
            part.disposition is None or part.disposition[0] != "attachment"
        )
        if inline and kind == "text/plain" and text is None:
            text = part_text(raw, part)
        elif inline and kind == "text/html" and html_body is None:
            html_body = part_text(raw, part)
        else:
            attachments.append(part)
    return Contents(text, html_body, tuple(attachments))


def leaves(part: mime.BodyPart) -> Iterator[mime.BodyPart]:
    """Every part that is not a multipart container; an attached message is one leaf."""
    if part.parts:
        for child in part.parts:
            yield from leaves(child)
    elif part.type != "multipart":
        yield part


def filename(part: mime.BodyPart) -> str | None:
    """The part's file name (Content-Disposition filename, else Content-Type name)."""
    if part.disposition is not None:
        name = mime.param_value(part.disposition[1], "filename")
        if name:
            return name
    return mime.param_value(part.params, "name") or None


def part_data(raw: bytes, part: mime.BodyPart) -> bytes | None:
    """The part's body with its transfer encoding undone; None for an unknown encoding."""
    return mime.decode_body(raw[part.body_start : part.end], part.encoding)


def part_text(raw: bytes, part: mime.BodyPart) -> str:
    """A text part decoded by its charset (leniently: bad bytes become U+FFFD)."""
    data = part_data(raw, part)
    if data is None:  # an unknown transfer encoding: show it as it stands
        data = raw[part.body_start : part.end]
    charset = (mime.param_value(part.params, "charset") or "utf-8").strip().lower()
    if charset in ("us-ascii", "ascii"):  # 8-bit text labelled ASCII is most often UTF-8
        charset = "utf-8"
    try:
        return data.decode(charset, "replace")
    except (LookupError, ValueError):  # unknown, not text ("base64"), or holding a NUL
        return data.decode("utf-8", "replace")


def html_to_text(markup: str) -> str:
    """Rough visible text of an HTML body (tags, scripts and styles dropped), for search.
    Linear in the markup whatever it holds: it runs at delivery, on what anyone may send."""
    visible, pos = [], 0
    while (start := _HIDDEN_OPEN_RE.search(markup, pos)) is not None:
        visible.append(markup[pos : start.start()])
        end = _HIDDEN_CLOSE_RE.search(markup, start.end())
        pos = len(markup) if end is None else end.end()  # unclosed: hidden to the end
    visible.append(markup[pos:])
    text = " ".join(visible)
    # Tags only up to the last ">": a "<" after it opens no tag, and trying each one against
    # the rest of the text would cost its length squared.
    last = text.rfind(">") + 1
    text = _TAG_RE.sub(" ", text[:last]) + text[last:]
    return _SPACE_RE.sub(" ", html.unescape(text)).strip()


def _shown(value: str | None) -> str:
    return "" if value is None else mime.decode_header(value)


def _shown_addresses(addresses: tuple[mime.Address, ...] | None) -> str:
    return "" if addresses is None else mime.decoded_addresses(addresses)


@dataclass(frozen=True, slots=True)
class Index:
    """What the store keeps beside a body for listings and search."""

    attachments: int
    search: str  # case-folded
    fields: SearchFields | None = None  # what IMAP SEARCH's header keys read (searchtext)
    sort: SortFields | None = None  # what IMAP SORT orders by (sortkeys)


def index(raw: bytes, parsed: mime.ParsedMessage) -> Index:
    """The attachment count and the search text of a parsed message."""
    found = contents(raw, parsed.body)
    body = found.text if found.text is not None else html_to_text(found.html or "")
    envelope = parsed.envelope
    fields = (
        _shown(envelope.subject),
        _shown_addresses(envelope.from_),
        _shown_addresses(envelope.to),
        _shown_addresses(envelope.cc),
        body[:SEARCH_TEXT_LIMIT],
    )
    return Index(
        len(found.attachments),
        "\n".join(fields).casefold(),
        search_fields(raw, parsed),
        sort_fields(envelope, raw[: parsed.header_end]),
    )


def index_from_json(raw: bytes, structure: str) -> Index:
    """`index` for a message known by its stored structure (mime.to_json)."""
    return index(raw, mime.from_json(structure))
