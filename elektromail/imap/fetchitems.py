"""FETCH data items (RFC 9051 §6.4.5, RFC 3501 §6.4.5, RFC 3516): tokens in, FetchItems out.

Each FetchItem knows its response label (`BODY[HEADER.FIELDS (FROM TO)]<0>`) and whether
fetching it sets \\Seen. Anything invalid raises ValueError with a message for the BAD answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from elektromail.imap.format import astring
from elektromail.imap.tokens import Atom, parse_arguments, quote_text, shown

__all__ = ["MACROS", "FetchItem", "Section", "parse_fetch_item", "parse_fetch_items"]

MAX_NUMBER64 = 2**63 - 1
MAX_PART = 4294967295

# Items without a section, and which IMAP revision knows them. Extensions add entries here.
SIMPLE_ITEMS = {
    "FLAGS": True,
    "UID": True,
    "INTERNALDATE": True,
    "RFC822.SIZE": True,
    "ENVELOPE": True,
    "BODY": True,
    "BODYSTRUCTURE": True,
    "RFC822": False,
    "RFC822.HEADER": False,
    "RFC822.TEXT": False,
    # RFC 8474 §5.3, RFC 8514 §4, RFC 8970 §3 (imap/objectids.py answers them)
    "EMAILID": True,
    "THREADID": True,
    "SAVEDATE": True,
    "PREVIEW": True,
}
# Items that take a parenthesized list of modifiers after them, and the modifiers they know:
# RFC 8970 §3 "PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"], preview-mod = "LAZY".
ITEM_MODIFIERS = {"PREVIEW": frozenset({"LAZY"})}
SECTION_ITEMS = {"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE"}
MACROS = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}
SECTION_TEXTS = ("", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME")

_ITEM = re.compile(r"([A-Za-z0-9.]+)(?:\[(.*)\](.*))?", re.DOTALL)
_PARTIAL = re.compile(r"<([0-9]+)\.([0-9]+)>")
_PART_NUMBER = re.compile(r"[1-9][0-9]*")
# RFC 5322 ftext: printable US-ASCII except ":".
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")


@dataclass(frozen=True, slots=True)
class Section:
    """`BODY[1.2.HEADER.FIELDS (FROM)]` is part=(1, 2), text="HEADER.FIELDS", fields=("FROM",).

    `text` is one of SECTION_TEXTS; field names are upper-cased.
    """

    part: tuple[int, ...] = ()
    text: str = ""
    fields: tuple[str, ...] = ()

    def spec(self) -> str:
        """The section as it goes between the brackets of a response label."""
        pieces = [str(number) for number in self.part]
        if self.text:
            pieces.append(self.text)
        spec = ".".join(pieces)
        if self.text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
            names = b" ".join(astring(name) for name in self.fields).decode("ascii")
            spec += f" ({names})"
        return spec


@dataclass(frozen=True, slots=True)
class FetchItem:
    """One data item. `name` is canonical upper case without ".PEEK" ("BODY", "BINARY", ...).

    `section` is None for items without brackets (BODY alone is the non-extensible
    BODYSTRUCTURE); RFC822 / RFC822.HEADER / RFC822.TEXT carry the equivalent section ([],
    [HEADER], [TEXT]) so they can be served like BODY[...]. `partial` is (offset, count).
    """

    name: str
    peek: bool = False
    section: Section | None = None
    partial: tuple[int, int] | None = None
    lazy: bool = False  # PREVIEW (LAZY): NIL rather than wait for a preview (RFC 8970 §3.2)

    def label(self) -> str:
        """The name the FETCH response must echo: `BODY[HEADER]`, `BINARY[1]<0>`, `RFC822`."""
        if self.section is None or self.name.startswith("RFC822"):
            return self.name
        label = f"{self.name}[{self.section.spec()}]"
        if self.partial is not None:
            label += f"<{self.partial[0]}>"  # only the origin octet is echoed
        return label

    @property
    def sets_seen(self) -> bool:
        """Whether fetching it sets \\Seen (RFC 9051 §6.4.5; read-only mailboxes excepted)."""
        if self.peek or self.name == "BINARY.SIZE":
            return False
        return self.section is not None


def _number64(text: str, what: str) -> int:
    value = int(text) if len(text) <= 19 else MAX_NUMBER64 + 1
    if value > MAX_NUMBER64:
        raise ValueError(f"{what} {text} is too large")
    return value


def _parse_partial(text: str, item: str) -> tuple[int, int]:
    match = _PARTIAL.fullmatch(text)
    if match is None:
        raise ValueError(f"invalid partial {quote_text(text)} in {item} (expected <offset.count>)")
    offset = _number64(match.group(1), "partial offset")
    if match.group(2).startswith("0"):
        raise ValueError(f"partial count in {item} must be a non-zero number")
    return offset, _number64(match.group(2), "partial count")


def _parse_field_names(text: str, item: str) -> tuple[str, ...]:
    try:
        tokens = parse_arguments(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise ValueError(f"invalid header field list in {item}") from None
    if len(tokens) != 1 or not isinstance(tokens[0], list) or not tokens[0]:
        raise ValueError(f"{item} needs a parenthesized list of header field names")
    names = []
    for token in tokens[0]:
        name = token.decode("ascii", "replace") if isinstance(token, bytes) else token
        if not isinstance(name, str) or _FIELD_NAME.fullmatch(name) is None:
            raise ValueError(f"invalid header field name in {item}")
        names.append(name.upper())
    return tuple(names)


def _parse_part(pieces: list[str], item: str) -> tuple[int, ...]:
    part: list[int] = []
    while pieces and pieces[0][:1].isdigit():
        piece = pieces.pop(0)
        if _PART_NUMBER.fullmatch(piece) is None or len(piece) > 10 or int(piece) > MAX_PART:
            raise ValueError(f"invalid part number {quote_text(piece)} in {item}")
        part.append(int(piece))
    return tuple(part)


def parse_section(spec: str, item: str = "BODY[]") -> Section:
    """Parse what is between the brackets of BODY[...] (section-spec, or empty)."""
    if not spec:
        return Section()
    head, space, rest = spec.partition(" ")
    pieces = head.split(".")
    if "" in pieces:
        raise ValueError(f"invalid section {quote_text(spec)} in {item}")
    part = _parse_part(pieces, item)
    text = ".".join(pieces).upper()
    if text not in SECTION_TEXTS:
        raise ValueError(f"invalid section {quote_text(spec)} in {item}")
    if text == "MIME" and not part:
        raise ValueError(f"MIME needs a part number in {item}")
    if text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        if not space:
            raise ValueError(f"{text} needs a list of header field names in {item}")
        return Section(part, text, _parse_field_names(rest, item))
    if space:
        raise ValueError(f"unexpected text after {head} in {item}")
    return Section(part, text)


def _section_item(name: str, spec: str, after: str, item: str) -> FetchItem:
    peek = name.endswith(".PEEK")
    base = name.removesuffix(".PEEK")
    section = parse_section(spec, item)
    if base != "BODY" and section.text:
        raise ValueError(f"{base} takes only part numbers in its section: {item}")
    partial = _parse_partial(after, item) if after else None
    if partial is not None and base == "BINARY.SIZE":
        raise ValueError(f"BINARY.SIZE takes no partial: {item}")
    return FetchItem(base, peek, section, partial)


_RFC822_SECTIONS = {
    "RFC822": (False, Section()),
    "RFC822.HEADER": (True, Section(text="HEADER")),
    "RFC822.TEXT": (False, Section(text="TEXT")),
}


def _takes_modifiers(token: object) -> bool:
    return isinstance(token, Atom | str) and str(token).upper() in ITEM_MODIFIERS


def _with_modifiers(item: object, modifiers: list) -> str:
    """`PREVIEW` and its list as one text, `PREVIEW (LAZY)`: BAD for a modifier it lacks."""
    name = str(item).upper()
    if not modifiers:  # RFC 8970 §3: "(" preview-mod *(SP preview-mod) ")"
        raise ValueError(f"{name} needs a modifier in its list")
    words = []
    for token in modifiers:
        word = str(token).upper() if isinstance(token, Atom) else None
        if word not in ITEM_MODIFIERS[name]:
            # Dovecot: "Invalid PREVIEW modifier" / "'X' is not a supported PREVIEW modifier"
            raise ValueError(f"{shown(token)} is not a supported {name} modifier")
        words.append(word)
    return f"{name} ({' '.join(words)})"


def parse_fetch_item(text: str, *, rev2: bool = False) -> FetchItem:
    """Parse one fetch-att atom such as `BODY.PEEK[1.MIME]<0.512>` (macros excluded)."""
    if text.endswith(")") and " (" in text:  # an item with its modifiers (_with_modifiers)
        name, _, modifiers = text[:-1].partition(" (")
        return FetchItem(name, lazy="LAZY" in modifiers.split())
    match = _ITEM.fullmatch(text)
    if match is None:
        raise ValueError(f"invalid fetch item {quote_text(text)}")
    name = match.group(1).upper()
    if match.group(2) is not None:
        if name not in SECTION_ITEMS:
            raise ValueError(f"{name} takes no section")
        return _section_item(name, match.group(2), match.group(3), text)
    if name in SECTION_ITEMS - SIMPLE_ITEMS.keys():
        raise ValueError(f"{name} needs a section in brackets")
    if name not in SIMPLE_ITEMS:
        raise ValueError(f"unknown fetch item {name}")
    if rev2 and not SIMPLE_ITEMS[name]:
        raise ValueError(f"{name} is not part of IMAP4rev2; use BODY[] / BODY.PEEK[...]")
    if name in _RFC822_SECTIONS:
        peek, section = _RFC822_SECTIONS[name]
        return FetchItem(name, peek, section)
    return FetchItem(name)


def parse_fetch_items(args: list, *, rev2: bool = False) -> list[FetchItem]:
    """The items of a FETCH from the tokens after its sequence set: a macro, one item, or a
    parenthesized list. Duplicates are dropped; order is kept."""
    if not args:
        raise ValueError("missing fetch items")
    if len(args) == 2 and _takes_modifiers(args[0]) and isinstance(args[1], list):
        args = [[args[0], args[1]]]  # `PREVIEW (LAZY)` alone, without the parentheses
    if len(args) > 1:
        raise ValueError("unexpected arguments after the fetch items")
    spec = args[0]
    if isinstance(spec, Atom):
        macro = MACROS.get(spec.upper())
        texts = list(macro) if macro is not None else [spec]
    elif isinstance(spec, list):
        if not spec:
            raise ValueError("empty fetch item list")
        texts = []
        for token in spec:
            if isinstance(token, list) and texts and _takes_modifiers(texts[-1]):
                texts[-1] = _with_modifiers(texts[-1], token)
                continue
            if not isinstance(token, Atom):
                raise ValueError("fetch items must be atoms")
            if token.upper() in MACROS:
                raise ValueError(f"{token.upper()} cannot be used inside a list")
            texts.append(token)
    else:
        raise ValueError("fetch items must be an atom or a parenthesized list")
    # Plain str from here on: an Atom's repr is not for the wire (`invalid fetch item ':'`).
    return list(_parse_item_texts(tuple(map(str, texts)), rev2))


@lru_cache(maxsize=256)
def _parse_item_texts(texts: tuple[str, ...], rev2: bool) -> tuple[FetchItem, ...]:
    """The items of `texts`, duplicates dropped: a client sends the same few lists again and
    again, so each is parsed once (FetchItems are frozen; a ValueError is not cached)."""
    items = [parse_fetch_item(text, rev2=rev2) for text in texts]
    return tuple(dict.fromkeys(items))
