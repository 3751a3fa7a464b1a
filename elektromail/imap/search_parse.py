"""SEARCH arguments into a small tree of keys (RFC 9051 §6.4.4, RFC 3501 §6.4.4, RFC 4731 and
RFC 5182 RETURN options); pure code, iterative so hostile nesting cannot exhaust the stack.

The tree is simplified while it is built: nested ANDs and ORs are flattened, `NOT NOT x` is x
and `NOT SEEN` is UNSEEN, so 100,000 NOTs or an `OR OR OR ...` chain cost no depth. What still
nests deeper than MAX_DEPTH afterwards (e.g. `NOT OR NOT OR ...`), and parenthesised lists
deeper than MAX_DEPTH (the tokenizer's own limit), are refused with ValueError.
"""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from elektromail.dates import parse_date
from elektromail.flags import SYSTEM_FLAGS
from elektromail.imap.fetchitems import parse_fetch_items
from elektromail.imap.seqset import SequenceSet, parse_sequence_set
from elektromail.imap.tokens import Atom, quote_text

__all__ = [
    "CHARSETS",
    "MAX_DEPTH",
    "RETURN_OPTIONS",
    "AddressKey",
    "And",
    "BadCharset",
    "BodyKey",
    "DateKey",
    "EmailIdKey",
    "Everything",
    "FlagKey",
    "HeaderKey",
    "Key",
    "ModseqKey",
    "Not",
    "Nothing",
    "Or",
    "RecentKey",
    "SavedDateKey",
    "SearchProgram",
    "SetKey",
    "SizeKey",
    "SubjectKey",
    "parse_search",
]

MAX_DEPTH = 100  # nesting of AND/OR/NOT left after simplification
CHARSETS = ("UTF-8", "US-ASCII")
RETURN_OPTIONS = frozenset({"MIN", "MAX", "ALL", "COUNT", "SAVE", "PARTIAL", "UPDATE", "CONTEXT"})
# Options that ask for no data item: CONTEXT is a hint (RFC 5267 §4.2, ignored as Dovecot
# does); a RETURN list with nothing else answers ALL, as RETURN () does.
_HINTS = frozenset({"CONTEXT"})
_UINT32 = 4294967295
MAX_NUMBER64 = 2**63 - 1  # number64 (RFC 9051 §9)

# Which message data a key reads; the server loads only what the union of its keys needs.
FLAGS = "flags"
SIZE = "size"
DATE = "date"
HEADERS = "headers"
BODY = "body"
_NONE: frozenset[str] = frozenset()


class BadCharset(Exception):
    """CHARSET names a charset this server does not search in: answer
    `NO [BADCHARSET (UTF-8 US-ASCII)]` (RFC 9051 §6.4.4), not BAD.

    `save` tells whether RETURN (SAVE) came before it: a NO to a SEARCH with SAVE empties the
    saved result (RFC 5182 §2.1), a BAD leaves it alone.
    """

    def __init__(self, charset: str, save: bool) -> None:
        super().__init__(f"unsupported charset {quote_text(charset)}")
        self.charset = charset
        self.save = save
        self.supported = CHARSETS


# -- the tree -----------------------------------------------------------------------------


class Key:
    """A search key. Leaves say what they read in `needs`; `depth` is 1 for a leaf."""

    needs: frozenset[str] = _NONE
    depth: int = 1


@dataclass(frozen=True)
class Everything(Key):
    """ALL."""


@dataclass(frozen=True)
class Nothing(Key):
    """Matches no message."""


@dataclass(frozen=True)
class RecentKey(Key):
    """RECENT: \\Recent in this session (RFC 3501 §6.4.4); OLD is its negation and NEW is
    RECENT UNSEEN. Read from the session, not the store."""


@dataclass(frozen=True)
class FlagKey(Key):
    """ANSWERED / UNANSWERED, KEYWORD x / UNKEYWORD x...: `flag` set (present) or not."""

    flag: str
    present: bool = True
    needs = frozenset({FLAGS})


@dataclass(frozen=True)
class SizeKey(Key):
    """LARGER n (size > n) or SMALLER n (size < n), on RFC822.SIZE."""

    larger: bool
    size: int
    needs = frozenset({SIZE})


@dataclass(frozen=True)
class DateKey(Key):
    """BEFORE/ON/SINCE (internal date) or SENTBEFORE/SENTON/SENTSINCE (Date: header)."""

    op: str  # "before", "on" or "since"
    date: datetime.date
    sent: bool = False

    @property
    def needs(self) -> frozenset[str]:  # type: ignore[override]
        return frozenset({HEADERS if self.sent else DATE})


@dataclass(frozen=True)
class WithinKey(Key):
    """OLDER n / YOUNGER n (RFC 5032 §2): the internal date, to the second, at or before
    (older) or at or after `target`, the server's time when the command came less n
    seconds."""

    older: bool
    target: int
    needs = frozenset({DATE})


@dataclass(frozen=True)
class ModseqKey(Key):
    """MODSEQ [entry-name entry-type] n (RFC 7162 §3.1.5): the message's mod-sequence is n or
    more. A message has one mod-sequence here, so the entry (a flag's own) changes nothing."""

    modseq: int
    needs = frozenset({SIZE})  # read with the message row, as its size is


@dataclass(frozen=True)
class SavedDateKey(Key):
    """SAVEDBEFORE/SAVEDON/SAVEDSINCE (RFC 8514 §5.1): the calendar day of the save date in
    UTC, the zone FETCH SAVEDATE shows it in; answered by the store."""

    op: str  # "before", "on" or "since"
    date: datetime.date
    needs = frozenset({DATE})


@dataclass(frozen=True)
class EmailIdKey(Key):
    """EMAILID objectid (RFC 8474 §6): the messages with that EMAILID; answered by the store."""

    emailid: str
    needs = frozenset({DATE})  # one query of the store, as dear as a date


@dataclass(frozen=True)
class HeaderKey(Key):
    """HEADER field text, and FROM/TO/CC/BCC/SUBJECT; `field` is lower-case."""

    field: str
    text: str
    needs = frozenset({HEADERS})


@dataclass(frozen=True)
class AddressKey(HeaderKey):
    """FROM/TO/CC/BCC: the string is looked for in the addresses of the envelope's field."""


@dataclass(frozen=True)
class SubjectKey(HeaderKey):
    """SUBJECT: the string is looked for in the envelope's SUBJECT field (RFC 9051 §6.4.4), as
    ENVELOPE shows it (white space runs made one space), RFC 2047-decoded."""


@dataclass(frozen=True)
class BodyKey(Key):
    """BODY text (text parts only) or TEXT text (headers too, when `headers`)."""

    text: str
    headers: bool = False

    @property
    def needs(self) -> frozenset[str]:  # type: ignore[override]
        return frozenset({HEADERS, BODY}) if self.headers else frozenset({BODY})


@dataclass(frozen=True)
class SetKey(Key):
    """A sequence set (uid=False), `UID set` (uid=True), or `$` (seqset.saved)."""

    seqset: SequenceSet
    uid: bool = False


def _union(keys: tuple[Key, ...]) -> frozenset[str]:
    return frozenset().union(*(key.needs for key in keys))


@dataclass(frozen=True)
class Not(Key):
    key: Key
    needs: frozenset[str] = field(init=False, compare=False, repr=False)
    depth: int = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "needs", self.key.needs)
        object.__setattr__(self, "depth", self.key.depth + 1)


@dataclass(frozen=True)
class And(Key):
    keys: tuple[Key, ...]
    needs: frozenset[str] = field(init=False, compare=False, repr=False)
    depth: int = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "needs", _union(self.keys))
        object.__setattr__(self, "depth", 1 + max(key.depth for key in self.keys))


@dataclass(frozen=True)
class Or(Key):
    keys: tuple[Key, ...]
    needs: frozenset[str] = field(init=False, compare=False, repr=False)
    depth: int = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "needs", _union(self.keys))
        object.__setattr__(self, "depth", 1 + max(key.depth for key in self.keys))


def _checked(key: Key) -> Key:
    if key.depth > MAX_DEPTH:
        raise ValueError(f"search keys nested deeper than {MAX_DEPTH} levels")
    return key


def make_and(keys: list[Key]) -> Key:
    flat: list[Key] = []
    for key in keys:
        flat.extend(key.keys if isinstance(key, And) else (key,))
    return flat[0] if len(flat) == 1 else _checked(And(tuple(flat)))


def make_or(keys: list[Key]) -> Key:
    flat: list[Key] = []
    for key in keys:
        flat.extend(key.keys if isinstance(key, Or) else (key,))
    return _checked(Or(tuple(flat)))


def make_not(key: Key) -> Key:
    if isinstance(key, Not):
        return key.key
    if isinstance(key, FlagKey):
        return FlagKey(key.flag, not key.present)
    return _checked(Not(key))


@dataclass(frozen=True)
class SearchProgram:
    """A parsed SEARCH: the key tree and how to answer.

    `returns` holds the RETURN options (MIN MAX COUNT ALL SAVE PARTIAL UPDATE); without
    RETURN, and for `RETURN ()`, it is {"ALL"}. `esearch` is True when the answer is an
    ESEARCH response: always in IMAP4rev2, in IMAP4rev1 only when RETURN was given (RFC 4731
    §3.1). `partial` is PARTIAL's range of result positions, low to high (RFC 5267 §4.4).
    `update_fetch`: the fetch-att list after UPDATE, as sent (RFC 5465 §7): what a message
    that arrives and joins the result is fetched with.
    """

    key: Key
    returns: frozenset[str] = frozenset({"ALL"})
    esearch: bool = False
    charset: str | None = None
    partial: tuple[int, int] | None = None
    update_fetch: tuple = ()

    @property
    def needs(self) -> frozenset[str]:
        """Subset of {"flags", "size", "date", "headers", "body"}: what the keys read."""
        return self.key.needs

    @property
    def save(self) -> bool:
        return "SAVE" in self.returns


# -- the parser ---------------------------------------------------------------------------


class _Cursor:
    """The tokens of one parenthesised list (or of the whole command)."""

    __slots__ = ("pos", "tokens")

    def __init__(self, tokens: list) -> None:
        self.tokens = tokens
        self.pos = 0

    @property
    def at_end(self) -> bool:
        return self.pos >= len(self.tokens)

    def take(self, key: str, what: str) -> object:
        if self.pos >= len(self.tokens):
            raise ValueError(f"{key} needs {what}")
        token = self.tokens[self.pos]
        self.pos += 1
        return token


class _Frame:
    """A key being built. "AND" (the command) and "(" (a list) AND their keys until the list
    ends; "NOT" wants one key, "OR" `wanted` keys.

    Chains cost no depth and linear time: `OR a OR b c` is one frame wanting 3 keys (OR is
    associative), `NOT NOT x` one frame counting 2 negations, and a list directly inside an AND
    appends to its parent's keys (`shared`) instead of building a node.
    """

    __slots__ = ("cursor", "keys", "kind", "shared", "start", "wanted")

    def __init__(self, kind: str, cursor: _Cursor, keys: list[Key] | None = None) -> None:
        self.kind = kind
        self.cursor = cursor
        self.shared = keys is not None
        self.keys: list[Key] = [] if keys is None else keys
        self.start = len(self.keys)
        self.wanted = 2 if kind == "OR" else 1  # OR: operands; NOT: negations

    def complete(self) -> bool:
        if self.kind == "NOT":
            return len(self.keys) == 1
        if self.kind == "OR":
            return len(self.keys) == self.wanted
        return self.cursor.at_end

    def build(self) -> Key | None:
        """The finished key, or None when a shared list already gave its keys to the parent."""
        if self.kind == "NOT":
            return self.keys[0] if self.wanted % 2 == 0 else make_not(self.keys[0])
        if self.kind == "OR":
            return make_or(self.keys)
        if len(self.keys) == self.start:
            raise ValueError("empty parenthesised list of search keys")
        return None if self.shared else make_and(self.keys)


def _text(token: object, key: str) -> str:
    """An astring argument as text: search strings are UTF-8 (US-ASCII is a subset)."""
    if isinstance(token, Atom):
        return str(token)
    if isinstance(token, bytes) and not getattr(token, "binary", False):
        try:
            return token.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{key} string is not valid UTF-8") from None
    raise ValueError(f"{key} needs a string")


def _atom(token: object, key: str, what: str) -> str:
    if isinstance(token, Atom):
        return str(token)
    raise ValueError(f"{key} needs {what}")


def _date(cursor: _Cursor, key: str) -> datetime.date:
    token = cursor.take(key, "a date")
    if isinstance(token, list) or getattr(token, "binary", False):
        raise ValueError(f"{key} needs a date")
    # str(): the message of a bad date quotes the text, not an Atom's repr
    return parse_date(str(token) if isinstance(token, Atom) else token)  # type: ignore[arg-type]


def _number64(cursor: _Cursor, key: str) -> int:
    text = _atom(cursor.take(key, "a number"), key, "a number")
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"{key} needs a number, not {quote_text(text)}")
    if len(text.lstrip("0")) > 19 or int(text) > MAX_NUMBER64:
        raise ValueError(f"{key} number is too large")
    return int(text)


def _seqset(text: str, key: str) -> SequenceSet:
    try:
        return parse_sequence_set(text)
    except ValueError as e:
        raise ValueError(f"invalid {key} {quote_text(text)}: {e}") from None


def _header(cursor: _Cursor, name: str) -> Key:
    field_name = _text(cursor.take(name, "a header field name"), name)
    if not field_name:
        raise ValueError("HEADER needs a field name")
    return HeaderKey(field_name.lower(), _text(cursor.take(name, "a string"), name))


def _string_key(header: str, key: type[HeaderKey] = HeaderKey) -> Callable[[_Cursor, str], Key]:
    def parse(cursor: _Cursor, name: str) -> Key:
        return key(header, _text(cursor.take(name, "a string"), name))

    return parse


def _body_key(headers: bool) -> Callable[[_Cursor, str], Key]:
    def parse(cursor: _Cursor, name: str) -> Key:
        return BodyKey(_text(cursor.take(name, "a string"), name), headers)

    return parse


def _date_key(op: str, sent: bool) -> Callable[[_Cursor, str], Key]:
    def parse(cursor: _Cursor, name: str) -> Key:
        return DateKey(op, _date(cursor, name), sent)

    return parse


def _size_key(larger: bool) -> Callable[[_Cursor, str], Key]:
    def parse(cursor: _Cursor, name: str) -> Key:
        return SizeKey(larger, _number64(cursor, name))

    return parse


# The server's clock for OLDER and YOUNGER (tests replace it).
clock: Callable[[], float] = time.time
MAX_INTERVAL = 2**32 - 1  # as Dovecot: an unsigned 32-bit number of seconds


def _within_key(older: bool) -> Callable[[_Cursor, str], Key]:
    def parse(cursor: _Cursor, name: str) -> Key:
        text = _atom(cursor.take(name, "an interval"), name, "an interval")
        # RFC 5032 §3: ( "OLDER" / "YOUNGER" ) SP nz-number
        if not (text.isascii() and text.isdigit()) or len(text) > 10:
            raise ValueError(f"{name} needs a number of seconds, not {quote_text(text)}")
        interval = int(text)
        if not 0 < interval <= MAX_INTERVAL:
            raise ValueError(f"{name} needs a number of seconds from 1 to {MAX_INTERVAL}")
        return WithinKey(older, int(clock()) - interval)

    return parse


MODSEQ_ENTRY_TYPES = frozenset({"PRIV", "SHARED", "ALL"})


def _modseq_key(cursor: _Cursor, name: str) -> Key:
    # RFC 7162 §7: "MODSEQ" [search-modseq-ext] SP mod-sequence-valzer, where
    # search-modseq-ext = SP entry-name SP entry-type-req
    token = cursor.take(name, "a mod-sequence")
    if not isinstance(token, Atom):
        if isinstance(token, list) or getattr(token, "binary", False):
            raise ValueError("MODSEQ needs an entry name string or a mod-sequence")
        kind = _atom(cursor.take(name, "an entry type"), name, "an entry type")
        if kind.upper() not in MODSEQ_ENTRY_TYPES:
            raise ValueError(f"invalid MODSEQ entry type {quote_text(kind)}")
    else:
        cursor.pos -= 1
    return ModseqKey(_number64(cursor, name))


def _saved_key(op: str) -> Callable[[_Cursor, str], Key]:
    def parse(cursor: _Cursor, name: str) -> Key:
        return SavedDateKey(op, _date(cursor, name))

    return parse


# RFC 8474 §7: objectid = 1*255(ALPHA / DIGIT / "_" / "-")
_OBJECTID = re.compile(r"[A-Za-z0-9_-]{1,255}")


def _objectid(cursor: _Cursor, name: str) -> str:
    token = cursor.take(name, "an object id")
    text = token.decode("utf-8", "replace") if isinstance(token, bytes) else token
    if not isinstance(text, str) or _OBJECTID.fullmatch(text) is None:
        raise ValueError(f"{name} needs an object id (1 to 255 letters, digits, _ or -)")
    return text


def _emailid_key(cursor: _Cursor, name: str) -> Key:
    return EmailIdKey(_objectid(cursor, name))


def _threadid_key(cursor: _Cursor, name: str) -> Key:
    # RFC 8474 §5.2: without THREADIDs, "a SEARCH for THREADID MUST NOT match any messages"
    _objectid(cursor, name)
    return Nothing()


def _keyword_key(present: bool) -> Callable[[_Cursor, str], Key]:
    def parse(cursor: _Cursor, name: str) -> Key:
        flag = _atom(cursor.take(name, "a keyword"), name, "a keyword (an atom)")
        return FlagKey(flag, present)

    return parse


def _uid_key(cursor: _Cursor, name: str) -> Key:
    text = _atom(cursor.take(name, "a sequence set"), name, "a sequence set")
    return SetKey(_seqset(text, "UID set"), uid=True)


def _constant(key: Key) -> Callable[[_Cursor, str], Key]:
    return lambda cursor, name: key


# ANSWERED, DELETED, ... and UNANSWERED, UNDELETED, ...: one key per system flag.
_SYSTEM_FLAGS = {flag.removeprefix("\\").upper(): flag for flag in SYSTEM_FLAGS}

_KEYS: dict[str, Callable[[_Cursor, str], Key]] = {
    "ALL": _constant(Everything()),
    "BCC": _string_key("bcc", AddressKey),
    "BEFORE": _date_key("before", False),
    "BODY": _body_key(False),
    "EMAILID": _emailid_key,  # RFC 8474 §6
    "CC": _string_key("cc", AddressKey),
    "FROM": _string_key("from", AddressKey),
    "HEADER": _header,
    "KEYWORD": _keyword_key(True),
    "LARGER": _size_key(True),
    "MODSEQ": _modseq_key,
    "OLDER": _within_key(True),
    "ON": _date_key("on", False),
    "SENTBEFORE": _date_key("before", True),
    "SENTON": _date_key("on", True),
    "SAVEDBEFORE": _saved_key("before"),  # RFC 8514 §5.1
    "SAVEDON": _saved_key("on"),
    "SAVEDSINCE": _saved_key("since"),
    # RFC 8514 §5.2: every mailbox here keeps save dates, so it matches every message
    "SAVEDATESUPPORTED": _constant(Everything()),
    "SENTSINCE": _date_key("since", True),
    "SINCE": _date_key("since", False),
    "SMALLER": _size_key(False),
    "SUBJECT": _string_key("subject", SubjectKey),
    "TEXT": _body_key(True),
    "THREADID": _threadid_key,
    "TO": _string_key("to", AddressKey),
    "UID": _uid_key,
    "UNKEYWORD": _keyword_key(False),
    "YOUNGER": _within_key(False),
    **{name: _constant(FlagKey(flag)) for name, flag in _SYSTEM_FLAGS.items()},
    **{"UN" + name: _constant(FlagKey(flag, False)) for name, flag in _SYSTEM_FLAGS.items()},
}
# RFC 3501 only; RFC 9051 dropped \Recent.
_REV1_KEYS: dict[str, Callable[[_Cursor, str], Key]] = {
    "NEW": _constant(And((RecentKey(), FlagKey("\\Seen", False)))),
    "OLD": _constant(Not(RecentKey())),
    "RECENT": _constant(RecentKey()),
}
_REV1_TABLE = {**_KEYS, **_REV1_KEYS}


def _parse_keys(tokens: list, rev2: bool) -> Key:
    """The search keys in `tokens`, ANDed. Iterative: an explicit stack of frames."""
    table = _KEYS if rev2 else _REV1_TABLE
    stack = [_Frame("AND", _Cursor(tokens))]
    lists = 0  # open parenthesised lists on the stack
    while True:
        frame = stack[-1]
        if frame.complete():
            key = frame.build()
            lists -= frame.kind == "("
            stack.pop()
            if not stack:
                return key or make_and(frame.keys)  # the command's frame is never shared
            if key is not None:
                stack[-1].keys.append(key)
            continue
        cursor = frame.cursor
        token = cursor.take(frame.kind, "a search key")
        if isinstance(token, list):
            lists += 1
            if lists > MAX_DEPTH:
                raise ValueError(f"lists nested deeper than {MAX_DEPTH}")
            share = frame.keys if frame.kind in ("AND", "(") else None
            stack.append(_Frame("(", _Cursor(token), share))
        elif not isinstance(token, Atom):
            raise ValueError("a search key must be an atom, not a string")
        elif token and token[0] in "0123456789*$":
            frame.keys.append(SetKey(_seqset(str(token), "sequence set")))
        else:
            name = token.upper()
            if name in ("NOT", "OR") and frame.kind == name:
                frame.wanted += 1  # one more negation, or one more operand
            elif name in ("NOT", "OR"):
                stack.append(_Frame(name, cursor))
            elif (parse := table.get(name)) is not None:
                frame.keys.append(parse(cursor, name))
            else:
                known = " (an IMAP4rev1 key)" if name in _REV1_KEYS else ""
                raise ValueError(f"unknown search key {quote_text(token)}{known}")


def _return_options(
    token: object, rev2: bool = False
) -> tuple[frozenset[str], tuple[int, int] | None, tuple]:
    """RETURN's options (RFC 4731 §3.1, RFC 5182, RFC 5267 §4), PARTIAL's range and UPDATE's
    fetch-att list (RFC 5465 §7)."""
    if not isinstance(token, list):
        raise ValueError("RETURN needs a parenthesised list of options")
    options: set[str] = set()
    partial = None
    update_fetch: tuple = ()
    items = iter(token)
    item = next(items, None)
    while item is not None:
        name = item.upper() if isinstance(item, Atom) else None
        if name not in RETURN_OPTIONS:
            shown = item if isinstance(item, str) else "a non-atom"
            raise ValueError(f"unknown RETURN option {quote_text(str(shown))}")
        if name in ("PARTIAL", "UPDATE") and name in options:
            raise ValueError(f"{name} can be given only once")
        item = next(items, None)
        if name == "PARTIAL":
            partial = _partial_range(item)
            item = next(items, None)
        elif name == "UPDATE" and isinstance(item, list):
            update_fetch = _update_fetch(item, rev2)
            item = next(items, None)
        options.add(name)
    if partial is not None and "ALL" in options:
        raise ValueError("PARTIAL conflicts with ALL")
    return frozenset(options - _HINTS or {"ALL"}), partial, update_fetch


def _update_fetch(token: list, rev2: bool) -> tuple:
    """UPDATE's fetch-att list (RFC 5465 §7, as FETCH takes it), checked, kept as sent; an
    empty list asks for nothing (Dovecot takes it so)."""
    if not token:
        return ()
    try:
        parse_fetch_items([token], rev2=rev2)
    except ValueError as e:
        raise ValueError(f"invalid UPDATE fetch attributes: {e}") from None
    return tuple(token)


def _partial_range(token: object) -> tuple[int, int]:
    """PARTIAL's `first:last` (RFC 5267 §4.4): positions from 1, either order, no `*`."""
    text = token.upper() if isinstance(token, Atom) else ""
    low, colon, high = text.partition(":")
    if not (colon and low.isdigit() and high.isdigit() and low.isascii() and high.isascii()):
        raise ValueError("PARTIAL needs a range of positions, first:last")
    first, last = sorted((int(low), int(high)))
    if first < 1 or last > _UINT32:
        raise ValueError("PARTIAL positions go from 1 to 4294967295")
    return first, last


def parse_search(args: list, *, rev2: bool, utf8: bool) -> SearchProgram:
    """Parse the tokens after SEARCH (or UID SEARCH).

    `rev2`: the session enabled IMAP4rev2 (answers are ESEARCH; NEW, OLD, RECENT are unknown).
    `utf8`: the session enabled UTF8=ACCEPT, after which CHARSET is refused (RFC 6855 §3).
    Raises ValueError (answer BAD) or BadCharset (answer NO [BADCHARSET ...]).
    """
    pos = 0
    returns: frozenset[str] | None = None
    partial = None
    update_fetch: tuple = ()
    if args and isinstance(args[0], Atom) and args[0].upper() == "RETURN":
        if len(args) < 2:
            raise ValueError("RETURN needs a parenthesised list of options")
        returns, partial, update_fetch = _return_options(args[1], rev2)
        pos = 2
    charset = None
    if pos < len(args) and isinstance(args[pos], Atom) and args[pos].upper() == "CHARSET":
        if pos + 1 >= len(args) or isinstance(args[pos + 1], list):
            raise ValueError("CHARSET needs a charset name")
        if utf8:
            raise ValueError("CHARSET is not allowed after ENABLE UTF8=ACCEPT")
        charset = _text(args[pos + 1], "CHARSET")
        if charset.upper() not in CHARSETS:
            raise BadCharset(charset, returns is not None and "SAVE" in returns)
        charset = charset.upper()
        pos += 2
    if pos >= len(args):
        raise ValueError("SEARCH needs at least one search key")
    key = _parse_keys(args[pos:], rev2)
    return SearchProgram(
        key,
        frozenset({"ALL"}) if returns is None else returns,
        esearch=rev2 or returns is not None,
        charset=charset,
        partial=partial,
        update_fetch=update_fetch,
    )
