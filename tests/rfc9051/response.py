"""Parse IMAP server responses into plain Python values, leniently but exactly enough for
RFC-level assertions: atoms, quoted strings, literals, parenthesized lists, NIL, and status
responses with their optional [CODE data]. Pure code: no sockets here."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

STATUS_KINDS = frozenset({"OK", "NO", "BAD", "BYE", "PREAUTH"})


class Atom(str):
    """An atom (or number, or flag) as sent by the server; compare it like a str."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Atom({str.__repr__(self)})"


class ParseError(ValueError):
    """The response does not follow the IMAP grammar closely enough to be read."""


class Tokenizer:
    """Reads tokens from raw response bytes (literals included inline as `{n}\\r\\n<n bytes>`)."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def at_end(self) -> bool:
        return self.pos >= len(self.data) or self.data[self.pos : self.pos + 2] == b"\r\n"

    def peek(self) -> bytes:
        return self.data[self.pos : self.pos + 1]

    def skip_spaces(self) -> None:
        while self.peek() == b" ":
            self.pos += 1

    def rest(self) -> bytes:
        end = self.data.find(b"\r\n", self.pos)
        end = len(self.data) if end < 0 else end
        text = self.data[self.pos : end]
        self.pos = end
        return text

    def read_values(self, stop: bytes = b"") -> list:
        """Values up to the end of the line, or up to `stop` (`)` or `]`) which is consumed."""
        values = []
        while True:
            self.skip_spaces()
            if self.at_end():
                if stop:
                    raise ParseError(f"missing {stop!r} in {self.data!r}")
                return values
            if stop and self.peek() == stop:
                self.pos += 1
                return values
            values.append(self.read_value(in_code=stop == b"]"))

    def read_value(self, in_code: bool = False):
        char = self.peek()
        if char == b"(":
            self.pos += 1
            return self.read_values(b")")
        if char == b'"':
            return self._quoted()
        if char == b"{" or (char == b"~" and self.data[self.pos + 1 : self.pos + 2] == b"{"):
            return self._literal()
        atom = self._atom(in_code)
        if atom.upper() == "NIL":
            return None
        return atom

    def _quoted(self) -> str:
        self.pos += 1
        out = bytearray()
        while True:
            if self.pos >= len(self.data):
                raise ParseError(f"unterminated quoted string in {self.data!r}")
            byte = self.data[self.pos]
            self.pos += 1
            if byte == 0x5C:  # backslash
                out.append(self.data[self.pos])
                self.pos += 1
            elif byte == 0x22:
                return out.decode("utf-8", "surrogateescape")
            elif byte in (0x0D, 0x0A):
                raise ParseError(f"CR or LF in quoted string in {self.data!r}")
            else:
                out.append(byte)

    def _literal(self) -> bytes:
        match = re.compile(rb"~?\{(\d+)\+?\}\r\n").match(self.data, self.pos)
        if not match:
            raise ParseError(f"malformed literal at {self.pos} in {self.data!r}")
        start = match.end()
        end = start + int(match.group(1))
        if end > len(self.data):
            raise ParseError(f"literal runs past the response in {self.data!r}")
        self.pos = end
        return self.data[start:end]

    def _atom(self, in_code: bool) -> Atom:
        start = self.pos
        depth = 0
        while self.pos < len(self.data):
            byte = self.data[self.pos : self.pos + 1]
            if byte == b"[":
                depth += 1
            elif byte == b"]":
                if depth == 0 and in_code:
                    break
                depth = max(depth - 1, 0)
            elif depth == 0 and byte in (b" ", b"(", b")", b'"', b"\r", b"\n"):
                break
            self.pos += 1
        if self.pos == start:
            raise ParseError(f"unexpected {self.peek()!r} at {start} in {self.data!r}")
        return Atom(self.data[start : self.pos].decode("utf-8", "surrogateescape"))


@dataclass
class Response:
    """One server response.

    `tag` is "*" for untagged data, "+" for a continuation request, else the command tag.
    `kind` is upper-case: "OK", "NO", "BAD", "BYE", "PREAUTH", "CAPABILITY", "LIST", "EXISTS"...
    (for "+" it is "+"). `number` is set for "* 3 EXISTS"-style responses. Status responses
    have `code` (upper-case atom) and `code_data` (parsed values) when they carry [CODE data],
    and `text`. Data responses have their values in `data`.
    """

    raw: bytes
    tag: str
    kind: str
    number: int | None = None
    code: str | None = None
    code_data: list = field(default_factory=list)
    text: str = ""
    data: list = field(default_factory=list)

    @property
    def is_status(self) -> bool:
        return self.kind in STATUS_KINDS

    @property
    def untagged(self) -> bool:
        return self.tag == "*"

    def __str__(self) -> str:
        return self.raw.decode("utf-8", "replace").rstrip("\r\n")


def parse_response(raw: bytes) -> Response:
    """Parse one complete response (literals inline) as read by the client."""
    tokens = Tokenizer(raw)
    if raw.startswith(b"+"):
        tokens.pos = 1
        if tokens.peek() == b" ":
            tokens.pos += 1
        return Response(raw, "+", "+", text=_text(tokens.rest()))
    tag = tokens._atom(in_code=False)
    if tokens.peek() != b" ":
        raise ParseError(f"no space after the tag in {raw!r}")
    tokens.pos += 1
    word = tokens._atom(in_code=False)
    number = None
    if tag == "*" and word.isdigit():
        number = int(word)
        tokens.skip_spaces()
        word = tokens._atom(in_code=False)
    kind = word.upper()
    response = Response(raw, str(tag), kind, number=number)
    if kind in STATUS_KINDS:
        _parse_status(tokens, response)
    else:
        response.data = tokens.read_values()
    return response


def _parse_status(tokens: Tokenizer, response: Response) -> None:
    if tokens.peek() == b" ":
        tokens.pos += 1
    if tokens.peek() == b"[":
        tokens.pos += 1
        response.code = tokens._atom(in_code=True).upper()
        response.code_data = tokens.read_values(b"]")
        if tokens.peek() == b" ":
            tokens.pos += 1
    response.text = _text(tokens.rest())


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def string_value(value) -> str:
    """An astring/nstring value (atom, quoted or literal) as text; NIL stays None."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return str(value)


def pairs(values: list) -> dict[str, object]:
    """A flat `(KEY value KEY value ...)` list as a dict with upper-case keys."""
    if len(values) % 2:
        raise ParseError(f"odd number of items in {values!r}")
    return {str(values[i]).upper(): values[i + 1] for i in range(0, len(values), 2)}


@dataclass(frozen=True)
class ListEntry:
    """One LIST / LSUB response: attributes, delimiter, name and extended data."""

    attributes: tuple[str, ...]
    delimiter: str | None
    name: str
    extended: list

    def has(self, attribute: str) -> bool:
        return attribute.lower() in (a.lower() for a in self.attributes)

    def extended_items(self) -> dict[str, object]:
        """mbox-list-extended = "(" [tag SP value *(SP tag SP value)] ")" as {TAG: value}."""
        if not self.extended:
            return {}
        if len(self.extended) != 1 or not isinstance(self.extended[0], list):
            raise ParseError(f"malformed extended data in LIST response: {self.extended!r}")
        return {string_value(k).upper(): v for k, v in pairs(self.extended[0]).items()}


def list_entry(response: Response) -> ListEntry:
    """Read a `* LIST (attrs) "/" name [extended]` (or LSUB) response."""
    data = response.data
    if len(data) < 3 or not isinstance(data[0], list):
        raise ParseError(f"malformed {response.kind} response: {response}")
    return ListEntry(
        tuple(str(a) for a in data[0]),
        string_value(data[1]),
        string_value(data[2]),
        list(data[3:]),
    )


def status_items(response: Response) -> tuple[str, dict[str, int]]:
    """Read a `* STATUS name (ITEM n ...)` response into (name, {ITEM: n})."""
    data = response.data
    if len(data) != 2 or not isinstance(data[1], list):
        raise ParseError(f"malformed STATUS response: {response}")
    return string_value(data[0]), {k: int(v) for k, v in pairs(data[1]).items()}


def fetch_items(response: Response) -> dict[str, object]:
    """Read a `* n FETCH (ITEM value ...)` response into {ITEM: value} (upper-case keys)."""
    if (
        response.kind != "FETCH"
        or len(response.data) != 1
        or not isinstance(response.data[0], list)
    ):
        raise ParseError(f"malformed FETCH response: {response}")
    return pairs(response.data[0])


def sequence_set(text: str, largest: int | None = None) -> list[int]:
    """Expand a sequence set ("2,4:7,9" or "7:4"; "*" needs `largest`) into sorted numbers."""
    numbers: set[int] = set()

    def number(value: str) -> int:
        if value == "*":
            if largest is None:
                raise ParseError(f"'*' in {text!r} without a largest number")
            return largest
        if not value.isdigit() or int(value) == 0:
            raise ParseError(f"malformed sequence set {text!r}")
        return int(value)

    for item in str(text).split(","):
        low, _, high = item.partition(":")
        first, last = number(low), number(high or low)
        numbers.update(range(min(first, last), max(first, last) + 1))
    return sorted(numbers)


@dataclass
class Esearch:
    """One ESEARCH response (RFC 9051 §7.3.4, RFC 4731): correlator tag, UID indicator and
    the return data (MIN, MAX, COUNT as numbers; ALL expanded into numbers)."""

    tag: str | None
    uid: bool
    items: dict[str, object]

    @property
    def all(self) -> list[int]:
        return self.items.get("ALL", [])


def esearch(response: Response) -> Esearch:
    """Read `* ESEARCH [(TAG "t")] [UID] *(name value)`."""
    data = list(response.data)
    tag = None
    if data and isinstance(data[0], list):
        correlator = data.pop(0)
        if len(correlator) != 2 or str(correlator[0]).upper() != "TAG":
            raise ParseError(f"malformed search correlator in {response}")
        tag = string_value(correlator[1])
    uid = bool(data) and isinstance(data[0], str) and data[0].upper() == "UID"
    if uid:
        data.pop(0)
    items: dict[str, object] = {}
    for name, value in pairs(data).items():
        if name == "ALL":
            items[name] = sequence_set(string_value(value))
        elif name in ("MIN", "MAX", "COUNT"):
            items[name] = int(value)
        else:
            items[name] = value
    return Esearch(tag, uid, items)


def plain(value):
    """A parsed value with IMAP's spellings evened out for comparisons: numbers (atoms of
    digits) become int, literals and quoted strings become str, NIL stays None, lists
    recurse. (A server may send any string as quoted or as a literal.)"""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, Atom) and value.isdigit():
        return int(value)
    if isinstance(value, str):
        return str(value)
    return value


def uid_set_in_order(text: str) -> list[int]:
    """A uid-set as written (COPYUID: "the destination UID set corresponds to the source UID
    set and is in the same order"), each range ascending ("12:10" is 10, 11, 12)."""
    numbers: list[int] = []
    for item in str(text).split(","):
        low, _, high = item.partition(":")
        first, last = int(low), int(high or low)
        numbers.extend(range(min(first, last), max(first, last) + 1))
    return numbers
