"""The message query language of `GET /messages?q=`, `GET /messages/wait` and the web inbox's
search box: `key:value` terms and bare words, all of which must match.

Pure code: `parse(text)` gives a `Query` (a tuple of `Term`s) or raises `QueryError` with a
sentence saying what is wrong; the store turns a Query into SQL (store/query.py). Grammar:

    query  = *SP [term *(1*SP term)] *SP        (at most MAX_TERMS terms, MAX_LENGTH characters)
    term   = ["-"] (key ":" value / value)      ("-": the term must not match)
    value  = 1*(quoted / plain)                 (runs joined: from:"Ann Lee" is one value)
    quoted = DQUOTE *(char / "\\" char) DQUOTE  (\\" and \\\\ inside)

A word is a key only when the part before its first colon is letters alone and the colon is
not followed by "/" or "\\" (a URL or a path is text); an unknown key is an error (quote the
word to search for it). Texts match as case-insensitive substrings (casefolded, as IMAP
SEARCH does):

    from:, to:, cc:, bcc:    the address list written out ("Ann Lee <ann@example.org>")
    subject:                 the decoded Subject
    header:Name=value        a top-level field Name holding value (header:Name: has the field)
    has:attachment           at least one attachment
    is:read is:unread is:flagged is:answered is:draft is:deleted  (is:seen, is:unseen too)
    before:D after:D         arrived (internal date) before D / at or after D; D is YYYY-MM-DD
                             (midnight UTC) or an ISO 8601 date-time (no zone: UTC)
    larger:N smaller:N       size in bytes above / below N; N may end in k (1024) or M (1024²)
    word, "a phrase"         in the subject, the addresses or the body text
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["KEYS", "MAX_LENGTH", "MAX_TERMS", "Query", "QueryError", "Term", "parse"]

MAX_LENGTH = 1000  # characters of a query
MAX_TERMS = 32
MAX_SIZE = 2**53  # larger:/smaller: beyond this say nothing a message can be

# key -> what its value is, for the error that lists them
KEYS = {
    "from": "text",
    "to": "text",
    "cc": "text",
    "bcc": "text",
    "subject": "text",
    "header": "Name=value",
    "has": "attachment",
    "is": "read, unread, flagged, answered, draft or deleted",
    "before": "a date",
    "after": "a date",
    "larger": "a size",
    "smaller": "a size",
}
# is: value -> (system flag, whether the message must have it)
_IS = {
    "read": ("\\Seen", True),
    "seen": ("\\Seen", True),
    "unread": ("\\Seen", False),
    "unseen": ("\\Seen", False),
    "flagged": ("\\Flagged", True),
    "answered": ("\\Answered", True),
    "draft": ("\\Draft", True),
    "deleted": ("\\Deleted", True),
}
_HAS = {"attachment": "attachment", "attachments": "attachment"}
_KEY_RE = re.compile(r"([A-Za-z]+):")
_SIZE_RE = re.compile(r"(\d{1,16})([kKmM]?)[bB]?")
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024 * 1024}
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SPACE = " \t\r\n"


class QueryError(ValueError):
    """A query that cannot be read; the message says what is wrong and where."""


@dataclass(frozen=True, slots=True)
class Term:
    """One condition. `kind` and `args`:

    - "text" (needle,): the listing's search text (subject, addresses, body) holds it;
    - "address" (field, needle): field one of from, to, cc, bcc;
    - "subject" (needle,); "header" (lower-case name, needle);
    - "attachment" (); "flag" (system flag, present);
    - "before" / "after" (seconds since the epoch,): internal date < / >= it;
    - "larger" / "smaller" (bytes,): size > / < it.

    Needles are casefolded. `negated`: the message must not match."""

    kind: str
    args: tuple[Any, ...]
    negated: bool = False


Query = tuple[Term, ...]


def parse(text: str) -> Query:
    """The terms of a query (empty: every message matches). QueryError when malformed."""
    if len(text) > MAX_LENGTH:
        raise QueryError(f"query too long: {len(text)} characters (at most {MAX_LENGTH})")
    terms = []
    for word in _words(text):
        if len(terms) == MAX_TERMS:
            raise QueryError(f"too many terms (at most {MAX_TERMS})")
        terms.append(_term(word))
    return tuple(terms)


Segment = tuple[str, bool]  # (text, was quoted)


def _words(text: str) -> list[list[Segment]]:
    """The words of a query, each as its runs of plain and quoted text."""
    words: list[list[Segment]] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in _SPACE:
            i += 1
        if i == n:
            break
        word: list[Segment] = []
        while i < n and text[i] not in _SPACE:
            if text[i] == '"':
                value, i = _quoted(text, i)
                word.append((value, True))
            else:
                start = i
                while i < n and text[i] not in _SPACE and text[i] != '"':
                    i += 1
                word.append((text[start:i], False))
        words.append(word)
    return words


def _quoted(text: str, start: int) -> tuple[str, int]:
    out, i, n = [], start + 1, len(text)
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n:
            out.append(text[i + 1])
            i += 2
        elif char == '"':
            return "".join(out), i + 1
        else:
            out.append(char)
            i += 1
    raise QueryError(f"unbalanced quote: the one at character {start + 1} is never closed")


def _term(word: list[Segment]) -> Term:
    shown = "".join(f'"{t}"' if quoted else t for t, quoted in word)
    negated = False
    first, quoted = word[0]
    if not quoted and first.startswith("-"):
        negated = True
        word = ([(first[1:], False)] if first[1:] else []) + word[1:]
        if not word:
            raise QueryError("'-' must be followed by a term to exclude (quote \"-\" to search it)")
        first, quoted = word[0]
    key = None if quoted else _KEY_RE.match(first)
    if key is not None and not first[key.end() :].startswith(("/", "\\")):
        name = key.group(1).lower()
        value = first[key.end() :] + "".join(t for t, _ in word[1:])
        term = _keyed(name, key.group(1), value, shown)
    else:
        term = _text(shown, "".join(t for t, _ in word))
    return Term(term.kind, term.args, negated)


def _text(shown: str, needle: str) -> Term:
    if not needle:
        raise QueryError(f"empty text {shown!r}: put something between the quotes")
    return Term("text", (needle.casefold(),))


def _keyed(name: str, spelled: str, value: str, shown: str) -> Term:
    if name not in KEYS:
        known = ", ".join(f"{key}:" for key in KEYS)
        raise QueryError(
            f"unknown key {spelled + ':'!r} in {shown!r} (keys: {known}); to search for the"
            f' text, put it in quotes: "{shown}"'
        )
    if not value and name != "header":
        raise QueryError(f"{name}: needs a value ({KEYS[name]}): nothing follows the colon")
    if name in ("from", "to", "cc", "bcc"):
        return Term("address", (name, value.casefold()))
    if name == "subject":
        return Term("subject", (value.casefold(),))
    if name == "header":
        return _header(value)
    if name == "has":
        if value.lower() not in _HAS:
            raise QueryError(f"has:{value} is not known (has:attachment is)")
        return Term("attachment", ())
    if name == "is":
        flag = _IS.get(value.lower())
        if flag is None:
            raise QueryError(f"is:{value} is not known (is: takes {KEYS['is']})")
        return Term("flag", flag)
    if name in ("before", "after"):
        return Term(name, (_instant(name, value),))
    return Term(name, (_size(name, value),))


def _header(value: str) -> Term:
    name, _, needle = value.partition("=")
    name = name.strip().rstrip(":")
    if not name or any(ord(c) <= 32 or ord(c) >= 127 or c == ":" for c in name):
        raise QueryError(
            f"header: needs a field name and a value, as header:X-Mailer=foo or "
            f'header:"List-Id=team" (got {value!r})'
        )
    return Term("header", (name.lower(), needle.casefold()))


def _instant(name: str, value: str) -> float:
    """Seconds since the epoch: a date is its midnight, UTC; a date-time without a zone is
    UTC too."""
    if not _DATE_RE.match(value):
        raise _bad_date(name, value)
    try:
        when = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise _bad_date(name, value) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return when.timestamp()


def _bad_date(name: str, value: str) -> QueryError:
    return QueryError(
        f"{name}:{value} is not a date: give YYYY-MM-DD (midnight UTC) or an ISO 8601 "
        "date-time such as 2026-12-07T10:30:00Z (no zone: UTC)"
    )


def _size(name: str, value: str) -> int:
    m = _SIZE_RE.fullmatch(value)
    if m is None:
        raise QueryError(
            f"{name}:{value} is not a size: give bytes, or a number ending in k (1024 bytes) "
            "or M (1024 k), as larger:10k"
        )
    size = int(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]
    return min(size, MAX_SIZE)
