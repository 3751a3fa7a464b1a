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
_C_SPACE = " \t\n\v\f\r"
_C_SPACE_RE = re.compile(r"[ \t\n\v\f\r]+")


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
    return _SPACE_RE.sub(" ", _html_visible(markup)).strip()


def _html_visible(markup: str) -> str:
    """html_to_text before its white space is collapsed (entities decoded: &nbsp; is U+00A0,
    which PREVIEW keeps, as Dovecot does)."""
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
    return html.unescape(text)


# RFC 8970 §3.1: "no more than 256 characters"; Dovecot makes 200 (index-mail.c), so do we.
PREVIEW_CHARS = 200
_PREVIEW_SOURCE_LIMIT = 64 * 1024  # characters of a text read for it: enough for 200 shown


def preview(raw: bytes, root: mime.BodyPart) -> str:
    """The PREVIEW text of a message, as Dovecot makes it (lib-mail's message-snippet): one
    text part (`preview_part`), text/html with its markup taken away, white space runs made
    one space and none at either end, at most PREVIEW_CHARS characters. Lines quoting another
    message (starting with ">") count only when nothing else is there; that preview starts
    with ">". No text part, or one with nothing in it: the empty string."""
    part = preview_part(root)
    if part is None:
        return ""
    text = part_text(raw, part)[:_PREVIEW_SOURCE_LIMIT]
    if part.subtype == "html":
        text = _html_visible(text)
    return _snippet(text)


def preview_part(part: mime.BodyPart) -> mime.BodyPart | None:
    """The part a preview is made of, chosen as Dovecot chooses it (index-mail.c): a text part
    itself; in a multipart/alternative the text/plain child, else the text/html one, else
    another text child; in another multipart the first child that has such a part."""
    if part.type == "text":
        return part
    if part.type != "multipart":
        return None
    if part.subtype == "alternative":
        texts = [child for child in part.parts if child.type == "text"]
        for wanted in ("plain", "html"):
            for child in texts:
                if child.subtype == wanted:
                    return child
        return texts[0] if texts else None
    for child in part.parts:
        found = preview_part(child)
        if found is not None:
            return found
    return None


def _snippet(text: str) -> str:
    text = text.replace("\ufeff", "").replace("\x00", "")
    own: list[str] = []
    quoted: list[str] = []
    own_length = quoted_length = -1  # of " ".join(...): the first word adds no space
    for line in text.split("\n"):  # C's isspace() white space, as Dovecot: not U+00A0
        if not line.startswith(">"):
            own_length = _take_words(line, 0, own, own_length, PREVIEW_CHARS)
            if own_length >= PREVIEW_CHARS:
                break
        elif quoted_length < PREVIEW_CHARS - 1:
            quoted_length = _take_words(line, 1, quoted, quoted_length, PREVIEW_CHARS - 1)
    if own:
        return _cut(" ".join(own), PREVIEW_CHARS)
    if quoted:  # one character of the limit goes to the ">" (as Dovecot)
        return ">" + _cut(" ".join(quoted), PREVIEW_CHARS - 1)
    return ""


def _take_words(line: str, start: int, words: list[str], length: int, limit: int) -> int:
    """Add the words of `line` from `start` on to `words` until their joined length reaches
    `limit` (what is cut from a long line is never shown); returns the joined length."""
    # A word and the space after it are two characters or more, and only the first piece can
    # be empty: that many pieces reach the limit, and the rest of a long line stays unsplit.
    wanted = (limit - length) // 2 + 2
    pieces = _C_SPACE_RE.split(line[start:] if start else line, wanted)
    if len(pieces) > wanted:
        pieces.pop()  # the unsplit rest
    for word in pieces:
        if word:
            words.append(word)
            length += len(word) + 1
            if length >= limit:
                break
    return length


def _cut(text: str, limit: int) -> str:
    """The first `limit` characters, without a space at the end."""
    return text[:limit].rstrip(" ")


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
    preview: str | None = None  # IMAP PREVIEW's text (RFC 8970), made by `preview`


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
        preview(raw, parsed.body),
    )


def index_from_json(raw: bytes, structure: str) -> Index:
    """`index` for a message known by its stored structure (mime.to_json)."""
    return index(raw, mime.from_json(structure))
