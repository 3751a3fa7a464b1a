"""Evaluating a parsed SEARCH against messages: sequence sets resolved once per mailbox, keys
compiled into small predicates, message text decoded lazily and only when a key reads it.

Pure code. Matching rules (see also `bind`):
- strings match case-insensitively (Unicode casefold) as substrings;
- header keys read the top-level header, values unfolded and RFC 2047-decoded (8-bit bytes as
  UTF-8, else latin-1); an empty string matches every message that has the field;
- FROM/TO/CC/BCC read the envelope's addresses of that field written out in one normal form,
  `Name <mailbox@host>, Team: <a@b>;` (mime.write_addresses), then RFC 2047-decoded, as Dovecot
  matches them: comments, folding and quoting of the header are gone, so
  `<user (comment)@ (comment) host>` matches "user@host" and not "comment";
- BODY reads every text/* leaf part (nested messages included), transfer encoding undone and
  the charset decoded (unknown charsets, and 8-bit bytes labelled US-ASCII: UTF-8, else latin-1);
  TEXT reads the header fields of every entity and what BODY reads;
- BEFORE/ON/SINCE compare the calendar date of the internal date in the message's own time
  zone (the date FETCH INTERNALDATE shows); SENTBEFORE/SENTON/SENTSINCE the date as written in
  the Date: header, its time and zone disregarded; no or an unparsable Date: matches none.
"""

from __future__ import annotations

import datetime
import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress
from typing import Any, Protocol

from elektromail import mime
from elektromail.imap.search_parse import (
    BODY,
    DATE,
    FLAGS,
    HEADERS,
    SIZE,
    AddressKey,
    And,
    BodyKey,
    DateKey,
    EmailIdKey,
    Everything,
    FlagKey,
    HeaderKey,
    Key,
    ModseqKey,
    Not,
    Nothing,
    Or,
    RecentKey,
    SavedDateKey,
    SearchProgram,
    SetKey,
    SizeKey,
    SubjectKey,
    WithinKey,
)
from elektromail.searchtext import (
    address_text,
    body_text,
    full_text,
    header_fields,
    sent_day,
    subject_text,
)

__all__ = [
    "CONTENT",
    "Matcher",
    "MessageInfo",
    "MissingData",
    "SearchContext",
    "SearchMessage",
    "bind",
    "evaluate",
    "flag_matches",
    "key_cost",
    "leaf_test",
    "store_query",
    "uid_set",
]

CONTENT = frozenset({HEADERS, BODY})  # keys that read the raw message and its structure

_EPOCH = datetime.datetime(1970, 1, 1)
_COST = {FLAGS: 1, SIZE: 2, DATE: 2, HEADERS: 3, BODY: 4}


class SearchMessage(Protocol):
    """What the evaluator reads from a message; the store's MessageRow fits.

    `structure` is the stored mime.to_json() text or a ParsedMessage (None: parsed from raw).
    Only the attributes the program needs must hold real values.
    """

    uid: int
    flags: Sequence[str]
    internal_date: float
    tz_minutes: int
    size: int
    structure: str | mime.ParsedMessage | None
    raw: bytes | None


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """A SearchMessage built by hand (tests, or metadata the session already holds)."""

    uid: int
    flags: Sequence[str] = ()
    internal_date: float = 0.0
    tz_minutes: int = 0
    size: int = 0
    structure: str | mime.ParsedMessage | None = None
    raw: bytes | None = None


class MissingData(RuntimeError):
    """The program reads message data the caller did not load: a server bug, not bad input."""


@dataclass(frozen=True)
class SearchContext:
    """The selected mailbox as the SEARCH sees it.

    `uids`: every UID in the mailbox, ascending (sequence number n is uids[n - 1]);
    `saved`: the UIDs of the saved search result that `$` stands for (RFC 5182);
    `recent`: the UIDs that are \\Recent in this session (RFC 3501 §2.3.2).
    """

    uids: Sequence[int]
    saved: Collection[int] = ()
    recent: Collection[int] = ()

    @classmethod
    def from_view(cls, view: Any, saved: Iterable[int] = ()) -> SearchContext:
        """From a MailboxView: its UIDs are copied, so later changes do not leak in."""
        return cls(list(view.uids), frozenset(saved), frozenset(view.recent))


# -- sequence sets ------------------------------------------------------------------------


class _UidSet:
    """A resolved sequence set / UID set / `$`, as sorted disjoint UID ranges or a set."""

    __slots__ = ("ends", "members", "starts")

    def __init__(self, ranges: list[tuple[int, int]] | None, members: frozenset[int] = frozenset()):
        self.starts = [low for low, _ in ranges or ()]
        self.ends = [high for _, high in ranges or ()]
        self.members = None if ranges is not None else members

    def __contains__(self, uid: int) -> bool:
        if self.members is not None:
            return uid in self.members
        index = bisect_right(self.starts, uid) - 1
        return index >= 0 and uid <= self.ends[index]

    def select(self, uids: Sequence[int]) -> list[int]:
        """The members of the ascending `uids`, in O(ranges * log n + results)."""
        if self.members is not None:
            return [uid for uid in uids if uid in self.members]
        out: list[int] = []
        for low, high in zip(self.starts, self.ends, strict=True):
            start = bisect_left(uids, low)
            out.extend(uids[start : bisect_right(uids, high, lo=start)])
        return out


def _resolve(key: SetKey, ctx: SearchContext) -> _UidSet:
    seqset, uids = key.seqset, ctx.uids
    if seqset.saved:
        return _UidSet(None, frozenset(ctx.saved))
    if key.uid:
        return _UidSet(seqset.ranges(uids[-1] if uids else 0))
    # A number past EXISTS matches nothing (Dovecot: SEARCH 1000 in 3 messages is an empty
    # OK, 2:1000 finds 2 and 3); FETCH, STORE and COPY answer BAD for it instead.
    exists = len(uids)
    ranges = [
        (uids[low - 1], uids[min(high, exists) - 1])
        for low, high in seqset.ranges(exists)
        if low <= exists
    ]
    return _UidSet(ranges)


# -- per-message facts, computed on first use ---------------------------------------------


class _Facts:
    __slots__ = (
        "_addresses",
        "_body",
        "_envelope",
        "_fields",
        "_flags",
        "_parsed",
        "_text",
        "message",
    )

    def __init__(self, message: SearchMessage) -> None:
        self.message = message
        self._flags: frozenset[str] | None = None
        self._parsed: mime.ParsedMessage | None = None
        self._envelope: mime.Envelope | None = None
        self._addresses: dict[str, str] | None = None
        self._fields: dict[str, list[str]] | None = None
        self._body: str | None = None
        self._text: str | None = None

    def flags(self) -> frozenset[str]:
        if self._flags is None:
            self._flags = frozenset(flag.lower() for flag in self.message.flags)
        return self._flags

    def internal_day(self) -> datetime.date | None:
        return _local_day(self.message.internal_date, self.message.tz_minutes)

    def raw(self) -> bytes:
        raw = self.message.raw
        if raw is None:
            raise MissingData("this SEARCH reads message text: load raw and structure")
        return raw

    def parsed(self) -> mime.ParsedMessage:
        if self._parsed is None:
            structure = self.message.structure
            if isinstance(structure, str):
                self._parsed = mime.from_json(structure)
            elif structure is None:
                self._parsed = mime.parse(self.raw())
            else:
                self._parsed = structure
        return self._parsed

    def envelope(self) -> mime.Envelope:
        """The stored envelope; read alone from the stored structure when nothing needed more."""
        if self._parsed is not None:
            return self._parsed.envelope
        if self._envelope is None:
            structure = self.message.structure
            if isinstance(structure, str):
                self._envelope = mime.envelope_from_json(structure)
            else:
                self._envelope = self.parsed().envelope
        return self._envelope

    def sent_day(self) -> datetime.date | None:
        return sent_day(self.parsed().envelope.date)

    def address_text(self, field: str) -> str:
        """The envelope's `field` addresses as SEARCH FROM/TO/CC/BCC read them: written out
        (mime.write_addresses), RFC 2047-decoded, casefolded."""
        if self._addresses is None:
            self._addresses = {}
        text = self._addresses.get(field)
        if text is None:
            text = address_text(self.envelope(), field)
            self._addresses[field] = text
        return text

    def fields(self) -> dict[str, list[str]]:
        """Top-level header fields: lower-case name -> decoded, casefolded values."""
        if self._fields is None:
            self._fields = {}
            header = self.raw()[: self.parsed().header_end]
            for name, value in header_fields(header):
                self._fields.setdefault(name.lower(), []).append(value.casefold())
        return self._fields

    def body_text(self) -> str:
        if self._body is None:
            self._body = body_text(self.raw(), self.parsed())
        return self._body

    def full_text(self) -> str:
        if self._text is None:
            self._text = full_text(self.raw(), self.parsed(), self.body_text())
        return self._text


def _local_day(epoch: float, tz_minutes: int) -> datetime.date | None:
    try:
        moment = _EPOCH + datetime.timedelta(seconds=math.floor(epoch), minutes=tz_minutes)
    except (OverflowError, ValueError):
        return None
    return moment.date()


# -- compiling keys into predicates -------------------------------------------------------

Test = Callable[[_Facts], bool]


def _always(facts: _Facts) -> bool:
    return True


def _never(facts: _Facts) -> bool:
    return False


def _cost(key: Key) -> int:
    return max((_COST[need] for need in key.needs), default=0)


def _compile(key: Key, ctx: SearchContext) -> Test:
    """Recursion is bounded: the parser refuses trees deeper than MAX_DEPTH."""
    if isinstance(key, Everything):
        return _always
    if isinstance(key, Nothing):
        return _never
    if isinstance(key, RecentKey):
        recent = ctx.recent
        return lambda facts: facts.message.uid in recent
    if isinstance(key, FlagKey):
        return _flag_test(key.flag.lower(), key.present)
    if isinstance(key, SizeKey):
        return _size_test(key.larger, key.size)
    if isinstance(key, DateKey):
        return _date_test(key)
    if isinstance(key, WithinKey):
        return _within_test(key.older, key.target)
    if isinstance(key, ModseqKey):
        modseq = key.modseq
        # a message that carries no mod-sequence (not from the store) has none to match
        return lambda facts: getattr(facts.message, "modseq", 0) >= modseq
    if isinstance(key, AddressKey):
        return _address_test(key.field, key.text.casefold())
    if isinstance(key, SubjectKey):
        return _subject_test(key.text.casefold())
    if isinstance(key, HeaderKey):
        return _header_test(key.field, key.text.casefold())
    if isinstance(key, BodyKey):
        return _body_test(key.text.casefold(), key.headers)
    if isinstance(key, SetKey):
        members = _resolve(key, ctx)
        return lambda facts: facts.message.uid in members
    if isinstance(key, SavedDateKey | EmailIdKey):
        return _store_only
    if isinstance(key, Not):
        inner = _compile(key.key, ctx)
        return lambda facts: not inner(facts)
    if isinstance(key, And | Or):
        ordered = sorted(key.keys, key=_cost)  # cheap keys first: they often decide alone
        return _all_test([_compile(k, ctx) for k in ordered], isinstance(key, And))
    raise TypeError(f"not a search key: {key!r}")


def _store_only(facts: _Facts) -> bool:
    """Keys that only the store answers (store_query): a loaded message does not carry them."""
    raise MissingData("this key is answered by the store (store_query), not a loaded message")


def _flag_test(flag: str, present: bool) -> Test:
    return lambda facts: (flag in facts.flags()) == present


def _size_test(larger: bool, size: int) -> Test:
    if larger:
        return lambda facts: facts.message.size > size
    return lambda facts: facts.message.size < size


def _date_test(key: DateKey) -> Test:
    date, op, sent = key.date, key.op, key.sent

    def test(facts: _Facts) -> bool:
        day = facts.sent_day() if sent else facts.internal_day()
        if day is None:
            return False
        if op == "before":
            return day < date
        return day == date if op == "on" else day >= date

    return test


def _within_test(older: bool, target: int) -> Test:
    if older:
        return lambda facts: math.floor(facts.message.internal_date) <= target
    return lambda facts: math.floor(facts.message.internal_date) >= target


def _header_test(field: str, needle: str) -> Test:
    def test(facts: _Facts) -> bool:
        return any(needle in value for value in facts.fields().get(field, ()))

    return test


def _address_test(field: str, needle: str) -> Test:
    if not needle:  # as for HEADER: every message that has the field, even one without address
        return _header_test(field, needle)

    def test(facts: _Facts) -> bool:
        return needle in facts.address_text(field)

    return test


def _subject_test(needle: str) -> Test:
    def test(facts: _Facts) -> bool:
        subject = subject_text(facts.envelope())
        return subject is not None and needle in subject

    return test


def _body_test(needle: str, headers: bool) -> Test:
    if headers:
        return lambda facts: needle in facts.full_text()
    return lambda facts: needle in facts.body_text()


def _all_test(tests: list[Test], conjunction: bool) -> Test:
    def test(facts: _Facts) -> bool:
        for each in tests:
            if each(facts) != conjunction:
                return not conjunction
        return conjunction

    return test


# -- the public face ----------------------------------------------------------------------


class Matcher:
    """A search program bound to one mailbox: call it on a message to test it.

    `needs` tells what to load: nothing or {"flags"} -> `candidates(view.flags)` is already
    the answer; "size"/"date" -> the store's metadata rows; "headers"/"body" -> raw and
    structure too.
    """

    def __init__(self, key: Key, ctx: SearchContext) -> None:
        self.key = key
        self.ctx = ctx
        self.needs = key.needs
        self._test = _compile(key, ctx)
        conjuncts = key.keys if isinstance(key, And) else (key,)
        others = [k for k in conjuncts if not isinstance(k, SetKey)]
        self._sets = [_resolve(k, ctx) for k in conjuncts if isinstance(k, SetKey)]
        self._free_tests = [_compile(k, ctx) for k in others if not k.needs]
        self._flag_tests = [_compile(k, ctx) for k in others if k.needs == {FLAGS}]

    @property
    def needs_store(self) -> bool:
        """True when the store must be asked: the program reads more than flags."""
        return bool(self.needs - {FLAGS})

    def __call__(self, message: SearchMessage) -> bool:
        return self._test(_Facts(message))

    def candidates(self, flags: Mapping[int, Sequence[str]] | None = None) -> list[int]:
        """The mailbox's UIDs that can match, ascending, judged without the store.

        Top-level sequence sets, UID sets and `$` select by bisection; other top-level keys that
        read nothing (or only flags, when `flags` maps UID -> flags) filter. Load only these
        UIDs; when `needs_store` is False and flags were given, this is the result.
        """
        uids: Sequence[int] = self.ctx.uids
        for members in self._sets:
            uids = members.select(uids)
        tests = self._free_tests + (self._flag_tests if flags is not None else [])
        if not tests:
            return list(uids)
        check = _all_test(tests, True)
        empty: tuple[str, ...] = ()
        return [
            uid
            for uid in uids
            if check(_Facts(MessageInfo(uid, flags.get(uid, empty) if flags else empty)))
        ]


# -- keys the store answers, and the parts of a tree evaluated as sets of UIDs ---------------


def store_query(key: Key) -> tuple | None:
    """The store/search.py query that answers `key` exactly, or None when SQL cannot."""
    if isinstance(key, SizeKey):
        return ("size", key.larger, key.size)
    if isinstance(key, DateKey):
        return ("sent" if key.sent else "internal", key.op, key.date)
    if isinstance(key, WithinKey):
        return ("within", key.older, key.target)
    if isinstance(key, ModseqKey):
        return ("modseq", key.modseq)
    if isinstance(key, SavedDateKey):
        return ("saved", key.op, key.date)
    if isinstance(key, EmailIdKey):
        return ("emailid", key.emailid)
    if isinstance(key, AddressKey):
        needle = key.text.casefold()
        if not needle:  # as _address_test: every message that has the field
            return ("header", key.field, "")
        return ("address", key.field, needle)
    if isinstance(key, SubjectKey):
        return ("subject", key.text.casefold())
    if isinstance(key, HeaderKey):
        return ("header", key.field, key.text.casefold())
    if isinstance(key, BodyKey):
        return ("text" if key.headers else "body", key.text.casefold())
    return None


def key_cost(key: Key) -> int:
    """How dear a key is to evaluate: what it reads (flags < size, date < headers < body)."""
    return _cost(key)


def leaf_test(key: Key, ctx: SearchContext) -> Callable[[SearchMessage], bool]:
    """`key` alone as a test of one loaded message."""
    test = _compile(key, ctx)
    return lambda message: test(_Facts(message))


def uid_set(key: SetKey, ctx: SearchContext) -> list[int]:
    """The mailbox's messages a sequence set, UID set or `$` names, ascending; by bisection
    of ctx.uids, so `UID 1` costs no pass over a large mailbox."""
    return _resolve(key, ctx).select(ctx.uids)


def flag_matches(
    key: FlagKey,
    uids: Iterable[int],
    flags: Mapping[int, Sequence[str]],
    *,
    ordered: bool = False,
) -> Any:
    """The `uids` whose flags (from the session's view) satisfy `key`, as a set (a list in
    the order of `uids` when `ordered`); judged once per distinct set of flags, which a
    mailbox has few of."""
    flag, present = key.flag.lower(), key.present
    uids = list(uids)
    have = list(map(flags.get, uids))  # None: not in the view, no flags
    verdicts = {each: any(f.lower() == flag for f in each or ()) == present for each in set(have)}
    matched = compress(uids, map(verdicts.__getitem__, have))
    return list(matched) if ordered else set(matched)


def bind(program: SearchProgram | Key, ctx: SearchContext) -> Matcher:
    """Resolve the program's sequence sets against the mailbox and compile it.

    A message sequence number above EXISTS matches nothing, as in Dovecot (FETCH answers BAD
    for one, RFC 9051 §9 seq-number); a range reaching `*` is clamped. UID sets need not exist.
    `$` matches the messages of ctx.saved, in SEARCH and UID SEARCH alike.
    """
    key = program.key if isinstance(program, SearchProgram) else program
    return Matcher(key, ctx)


def evaluate(
    program: SearchProgram | Key, messages: Iterable[SearchMessage], ctx: SearchContext
) -> list[int]:
    """The UIDs of `messages` that match, in the order given (bind() once, then test each)."""
    matcher = bind(program, ctx)
    return [message.uid for message in messages if matcher(message)]
