"""A message as the checks read it: the raw bytes, its header fields with their line numbers,
and its MIME parts numbered as IMAP numbers them. Parsed once per run, shared by every check."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

from elektromail import mime
from elektromail.mailtext import part_text

_FIELD_NAME_RE = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:")


@dataclass(frozen=True, slots=True)
class Field:
    """One header field: its name as written, its raw value (folds kept, no final line end)
    and the 1-based line it starts on."""

    name: str
    value: bytes
    line: int

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def text(self) -> str:
        """The value unfolded, as text (bytes that are not UTF-8 kept as surrogates)."""
        unfolded = re.sub(rb"\r?\n(?=[ \t])", b"", self.value).strip()
        return unfolded.decode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class Transaction:
    """What the SMTP transaction said about the message, when it is known: MAIL FROM's
    BODY= ("7BIT", "8BITMIME", "BINARYMIME" (RFC 3030 §3) or None when not given) and SMTPUTF8."""

    body: str | None = None
    smtputf8: bool = False


class Message:
    """The raw bytes of a stored message and what the checks need from them."""

    def __init__(self, raw: bytes, transaction: Transaction | None = None) -> None:
        self.raw = raw
        self.transaction = transaction  # None: not known (the store does not keep it)
        self.parsed = mime.parse(raw)

    @property
    def header_block(self) -> bytes:
        return self.raw[: self.parsed.header_end]

    @cached_property
    def fields(self) -> tuple[Field, ...]:
        return tuple(header_fields(self.header_block))

    def get_all(self, name: str) -> list[Field]:
        key = name.lower()
        return [f for f in self.fields if f.key == key]

    def first(self, name: str) -> Field | None:
        found = self.get_all(name)
        return found[0] if found else None

    def parts(self) -> Iterator[tuple[str, mime.BodyPart]]:
        """(IMAP part number, part) for every part, containers included."""
        yield from numbered_parts(self.parsed.body, "")

    def text_of(self, part: mime.BodyPart) -> str:
        return part_text(self.raw, part)

    def html_parts(self) -> list[tuple[str, mime.BodyPart]]:
        return [
            (number, part)
            for number, part in self.parts()
            if (part.type, part.subtype) == ("text", "html") and not part.parts
        ]

    def text_parts(self) -> list[tuple[str, mime.BodyPart]]:
        return [
            (number, part)
            for number, part in self.parts()
            if (part.type, part.subtype) == ("text", "plain") and not part.parts
        ]

    def line_of(self, offset: int) -> int:
        """The 1-based line number of byte `offset`."""
        return self.raw.count(b"\n", 0, offset) + 1


def header_fields(block: bytes) -> Iterator[Field]:
    """The fields of a header block in order; a line that is neither a field nor a fold (junk)
    is skipped. Any line end (CRLF, bare LF, bare CR) ends a line."""
    lines = re.split(rb"\r\n|\n|\r", block)
    name: str | None = None
    value: list[bytes] = []
    start = 0
    for number, line in enumerate(lines, 1):
        if line[:1] in (b" ", b"\t") and name is not None:
            value.append(line)
            continue
        if name is not None:
            yield Field(name, b"\r\n".join(value), start)
            name = None
        if m := _FIELD_NAME_RE.match(line):
            name = m.group(1).decode("ascii")
            value, start = [line[m.end() :]], number
    if name is not None:
        yield Field(name, b"\r\n".join(value), start)


def numbered_parts(part: mime.BodyPart, number: str) -> Iterator[tuple[str, mime.BodyPart]]:
    """The part and every part inside it with its IMAP part number (RFC 9051 §6.4.5): ""
    for a multipart message itself, "1" for a single-part message's body, "1", "2"... for a
    multipart's children and "1.1"... for theirs, "N.1"... inside an attached message N."""
    yield number or ("1" if not part.parts else ""), part
    for index, child in enumerate(part.parts, 1):
        yield from numbered_parts(child, f"{number}.{index}" if number else str(index))
    inner = part.message
    if inner is not None:
        prefix = number or "1"
        if inner.parts:
            for index, child in enumerate(inner.parts, 1):
                yield from numbered_parts(child, f"{prefix}.{index}")
        else:
            yield from numbered_parts(inner, f"{prefix}.1")
