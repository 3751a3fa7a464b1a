"""IMAP argument tokens and the scanner that makes them: atoms, strings, literals, lists.

Pure code. `scan_tokens` tokenizes one line of a command for the reader (reader.py), which
handles what follows a literal; `parse_arguments` tokenizes a line that holds no literal.
"""

from __future__ import annotations

import re

__all__ = [
    "Atom",
    "Literal8String",
    "LiteralString",
    "String",
    "parse_arguments",
    "quote_text",
    "shown",
]

DEFAULT_MAX_DEPTH = 100

# Literal sizes with more digits than this are "absurd": reported as HUGE_LITERAL without int().
_MAX_SIZE_DIGITS = 30
HUGE_LITERAL = 2**64


class Atom(str):
    """An IMAP atom (also numbers, sequence sets, flags, NIL); the client's case is kept."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Atom({str.__repr__(self)})"


class String(bytes):
    """An IMAP string sent quoted; `LiteralString` / `Literal8String` tell how it was sent."""

    literal = False
    binary = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({bytes.__repr__(self)})"


class LiteralString(String):
    """A string sent as a literal, {N} or {N+}."""

    literal = True


class Literal8String(LiteralString):
    """A string sent as a BINARY literal8, ~{N}: may contain NUL (RFC 3516)."""

    binary = True


SHOWN_LIMIT = 40  # characters of a client's token quoted in a response text


def shown(token: object, limit: int = SHOWN_LIMIT) -> str:
    """A client's token as response text quotes it: an atom as sent, a string quoted as IMAP
    quotes it (a literal as `{N}`), a list in parentheses, never a Python repr; printable
    ASCII (anything else "?"), at most `limit` characters (then "...")."""
    text = _shown(token)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def quote_text(text: str, limit: int = SHOWN_LIMIT) -> str:
    """A client's text as a response text quotes it: in single quotes, printable ASCII
    (anything else "?", never a Python escape such as `\\x0b`), at most `limit` characters of
    it (then "...")."""
    text = _printable(str(text))
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return "'" + text + "'"


def _shown(token: object) -> str:
    if isinstance(token, Atom):
        return _printable(str(token))
    if isinstance(token, String):
        if token.literal:
            return ("~{%d}" if token.binary else "{%d}") % len(token)
        text = _printable(token.decode("ascii", "replace"))
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(token, list):
        return "(" + " ".join(_shown(item) for item in token) + ")"
    return "?"


def _printable(text: str) -> str:
    return "".join(c if " " <= c <= "~" else "?" for c in text)


class CommandSyntaxError(Exception):
    """Malformed arguments; the reader answers BAD with the message, parse_arguments raises
    ValueError."""


# ATOM-CHAR plus "*", "%", "]" and "\" (so also sequence sets, flags and list patterns).
# Only a FETCH item's section spans to its "]" across spaces, as in
# `BODY.PEEK[HEADER.FIELDS (FROM "X-A")]<0.512>`, and its field list may hold any astring,
# "]" included. Elsewhere "[" and "]" are ordinary characters (RFC 9051 §9: `LOGIN a[b c]`
# is the two astrings "a[b" and "c]").
_ATOM_CHARS = rb'[^\x00-\x20\x7f-\xff(){"]'
_FIELD_QUOTED = rb'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*"'
_FIELD_LIST = rb"\((?:[\x20\x21\x23-\x28\x2a-\x7e]|" + _FIELD_QUOTED + rb")*\)"
_SECTION_TEXT = rb"(?:[\x20-\x27\x2a-\x5c\x5e-\x7e]|" + _FIELD_LIST + rb")*"
_SECTION = rb"(?i:BODY|BINARY)(?i:\.PEEK|\.SIZE)?\[" + _SECTION_TEXT + rb"\]"
_ATOM = re.compile(_SECTION + _ATOM_CHARS + rb"*|" + _ATOM_CHARS + rb"+")
_QUOTED = re.compile(rb'"((?:[^"\\\r\n\x00]|\\["\\])*)"')
_UNESCAPE = re.compile(rb'\\(["\\])')
_BAD_ESCAPE = re.compile(rb'\\(?:[^"\\]|\Z)')
_LITERAL = re.compile(rb"(~?)\{([0-9]+)(\+?)\}")


def literal_size(digits: bytes) -> int:
    return int(digits) if len(digits) <= _MAX_SIZE_DIGITS else HUGE_LITERAL


def _quoted_error(segment: bytes, start: int) -> str:
    end = segment.find(b'"', start + 1)
    while end >= 0 and segment[end - 1 : end] == b"\\":
        end = segment.find(b'"', end + 1)
    body = segment[start + 1 : end if end >= 0 else len(segment)]
    if _BAD_ESCAPE.search(body.replace(b"\\\\", b"")):
        return "invalid escape in quoted string"
    if b"\x00" in body:
        return "NUL in quoted string"
    if b"\r" in body:
        return "CR in quoted string"
    return "unterminated quoted string"


def _char_error(byte: int) -> str:
    if byte == 0:
        return "NUL character"
    if byte >= 0x80:
        return "8-bit character outside a string"
    if byte < 0x20 or byte == 0x7F:
        return f"control character 0x{byte:02x}"
    if 0x20 <= byte <= 0x7E:
        return f"unexpected character {quote_text(chr(byte))}"
    return f"unexpected character 0x{byte:02X}"


def scan_tokens(
    segment: bytes, i: int, stack: list[list], need_sep: bool, max_depth: int
) -> tuple[int, bool, bool] | None:
    """Tokenize segment[i:] into stack[-1]; return (size, sync, binary) if a literal ends it.

    `need_sep` says the previous token (maybe on an earlier segment) wants a space or ")" next.
    """
    end = len(segment)
    after_space = False
    while i < end:
        byte = segment[i]
        if byte == 0x20:
            # RFC 9051 §2.2.1: "It is a syntax error to send a command with missing or
            # extraneous spaces or arguments."
            if not need_sep:
                raise CommandSyntaxError("extraneous space")
            i += 1
            need_sep = False
            after_space = True
            continue
        if byte == 0x29:  # ")"
            if len(stack) == 1:
                raise CommandSyntaxError("unbalanced parentheses: unexpected ')'")
            if after_space:
                raise CommandSyntaxError("extraneous space before ')'")
            stack.pop()
            i += 1
            need_sep = True
            continue
        if need_sep:
            bad = byte < 0x20 or byte >= 0x7F
            raise CommandSyntaxError(
                _char_error(byte) if bad else "missing space between arguments"
            )
        if byte == 0x28:  # "("
            if len(stack) > max_depth:
                raise CommandSyntaxError(f"lists nested deeper than {max_depth}")
            new: list = []
            stack[-1].append(new)
            stack.append(new)
            i += 1
            after_space = False
            continue
        if byte == 0x22:  # DQUOTE
            i = _scan_quoted(segment, i, stack[-1])
        elif byte == 0x7B or (byte == 0x7E and segment[i + 1 : i + 2] == b"{"):
            return _scan_literal(segment, i)
        else:
            match = _ATOM.match(segment, i)
            if match is None:
                raise CommandSyntaxError(_char_error(byte))
            text = match.group()
            atom = _ATOMS.get(text)
            if atom is None:
                atom = Atom(text.decode("ascii"))
                if len(text) <= 64:
                    if len(_ATOMS) >= 4096:
                        _ATOMS.clear()
                    _ATOMS[text] = atom
            stack[-1].append(atom)
            i = match.end()
        need_sep = True
        after_space = False
    if after_space:
        raise CommandSyntaxError("extraneous space at the end of the command")
    return None


# Atoms by their bytes: clients send the same few again and again (FETCH, UID, FLAGS,
# BODY.PEEK[], message numbers), and making an Atom (a str subclass) costs five times a
# lookup. They are immutable, so one serves every command that sends it.
_ATOMS: dict[bytes, Atom] = {}


def _scan_quoted(segment: bytes, i: int, target: list) -> int:
    match = _QUOTED.match(segment, i)
    if match is None:
        raise CommandSyntaxError(_quoted_error(segment, i))
    body = match.group(1)
    if b"\\" in body:
        body = _UNESCAPE.sub(rb"\1", body)
    if not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            raise CommandSyntaxError("quoted string is not valid UTF-8") from None
    target.append(String(body))
    return match.end()


def _scan_literal(segment: bytes, i: int) -> tuple[int, bool, bool]:
    match = _LITERAL.match(segment, i)
    if match is None:
        raise CommandSyntaxError("invalid literal")
    if match.end() != len(segment):
        raise CommandSyntaxError("a literal must end the line")
    return literal_size(match.group(2)), not match.group(3), bool(match.group(1))


def parse_arguments(data: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> list:
    """Tokenize one line of arguments without literals (e.g. a FETCH section's field list).

    Raises ValueError when the text is malformed or announces a literal.
    """
    stack: list[list] = [[]]
    try:
        if scan_tokens(data, 0, stack, False, max_depth) is not None:
            raise CommandSyntaxError("literals are not allowed here")
    except CommandSyntaxError as exc:
        raise ValueError(str(exc)) from None
    if len(stack) > 1:
        raise ValueError("unbalanced parentheses: missing ')'")
    return stack[0]
