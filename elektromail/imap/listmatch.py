"""Which names LIST and LSUB return (RFC 9051 §6.3.9, RFC 5258): wildcard patterns and the
selection rules, as pure functions over a snapshot of mailbox and subscribed names.

No reactor, no store: the command modules feed in names and format what comes out.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from elektromail.names import DELIMITER, INBOX

_STAR, _PERCENT = object(), object()


class Pattern:
    """A canonical LIST pattern: `*` matches anything, `%` anything but the delimiter.

    Matched by a bit-parallel automaton (one integer of states, advanced per character), so
    a hostile pattern such as `*a*a*a*...b` costs linear time, where a backtracking regular
    expression would hang the reactor. The INBOX part of a name matches case-insensitively
    (Dovecot: `in*` and `inbox/%` find INBOX and its children)."""

    def __init__(self, text: str) -> None:
        tokens = _collapse(text)
        self.text = text
        self._size = len(tokens)
        self._wild = self._star_after = self._percent_after = 0
        self._literal: dict[str, int] = {}
        self._inbox_literal: dict[str, int] = {}
        leading = True
        for i, token in enumerate(tokens):
            bit = 1 << i
            if token is _STAR or token is _PERCENT:
                leading = False
                self._wild |= bit
                if token is _STAR:
                    self._star_after |= bit << 1
                else:
                    self._percent_after |= bit << 1
                continue
            self._literal[token] = self._literal.get(token, 0) | bit
            variants = {token}
            if leading and i < len(INBOX) and token.isascii():
                variants |= {token.lower(), token.upper()}
            for char in variants:
                self._inbox_literal[char] = self._inbox_literal.get(char, 0) | bit

    def matches(self, name: str) -> bool:
        literal = self._inbox_literal if _is_inbox_name(name) else self._literal
        states = self._close(1)
        for char in name:
            loop = self._star_after
            if char != DELIMITER:
                loop |= self._percent_after
            states = ((states & literal.get(char, 0)) << 1) | (states & loop)
            if not states:
                return False
            states = self._close(states)
        return bool(states >> self._size & 1)

    def _close(self, states: int) -> int:
        # wildcards also match nothing; runs of wildcards were collapsed, so one step suffices
        return states | ((states & self._wild) << 1)

    def __repr__(self) -> str:
        return f"Pattern({self.text!r})"


def _collapse(text: str) -> list:
    """Characters and wildcard markers; `**`, `*%`, `%*` are `*`, `%%` is `%`."""
    tokens: list = []
    for char in text:
        token = _STAR if char == "*" else _PERCENT if char == "%" else char
        if tokens and token in (_STAR, _PERCENT) and tokens[-1] in (_STAR, _PERCENT):
            if token is _STAR:
                tokens[-1] = _STAR
            continue
        tokens.append(token)
    return tokens


def _is_inbox_name(name: str) -> bool:
    return name == INBOX or name.startswith(INBOX + DELIMITER)


def parents(name: str) -> list[str]:
    """`a/b/c` -> [`a`, `a/b`]."""
    parts = name.split(DELIMITER)
    return [DELIMITER.join(parts[:i]) for i in range(1, len(parts))]


@dataclass(frozen=True)
class Selection:
    """LIST selection options (RFC 9051 §6.3.9.1); none of them: every mailbox."""

    subscribed: bool = False
    special_use: bool = False
    recursive: bool = False  # RECURSIVEMATCH


@dataclass(frozen=True)
class Entry:
    """One name to answer with."""

    name: str
    exists: bool
    subscribed: bool
    has_children: bool  # an existing mailbox lies below it
    meets: bool  # satisfies the selection criteria itself (so STATUS may follow)
    childinfo: bool  # RECURSIVEMATCH: a descendant satisfies them


class _Sorted:
    """Sorted names with a fast "which lie below this one" lookup."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = sorted(names)

    def below(self, name: str) -> list[str]:
        low = name + DELIMITER
        high = name + chr(ord(DELIMITER) + 1)
        return self.names[bisect_left(self.names, low) : bisect_left(self.names, high)]

    def any_below(self, name: str) -> bool:
        low = name + DELIMITER
        i = bisect_left(self.names, low)
        return i < len(self.names) and self.names[i].startswith(low)


def select(
    existing: Collection[str],
    subscribed: Collection[str],
    special: Collection[str],
    patterns: list[Pattern],
    selection: Selection,
) -> list[Entry]:
    """The entries a LIST with these patterns and selection options returns, in list order
    (INBOX first, then parents before their children).

    Without selection options every existing mailbox is a candidate, and so is every level
    of hierarchy above one that does not exist itself (shown \\Noselect or \\NonExistent:
    RFC 9051 §6.3.9 "matching levels of hierarchy are also returned"). With SUBSCRIBED the
    candidates are the subscribed names; RECURSIVEMATCH adds their parents when a subscribed
    descendant does not match the patterns itself (RFC 9051 §6.3.9.6: no redundant
    CHILDINFO)."""
    existing = frozenset(existing)
    subscribed = frozenset(subscribed)
    special = frozenset(special) & existing
    implied = {p for name in existing for p in parents(name)} - existing
    universe = existing | implied
    if selection.subscribed:
        universe |= subscribed | {p for name in subscribed for p in parents(name)}

    def meets(name: str) -> bool:
        if selection.subscribed and name not in subscribed:
            return False
        if selection.special_use:
            return name in special
        return True

    meeting = _Sorted(name for name in universe if meets(name))
    hierarchy = _Sorted(existing)
    entries = []
    for name in sorted(universe, key=list_order):
        if not any(p.matches(name) for p in patterns):
            continue
        ok = meets(name)
        below = meeting.below(name) if selection.recursive else []
        if not ok and not any(not any(p.matches(d) for p in patterns) for d in below):
            continue
        entries.append(
            Entry(
                name=name,
                exists=name in existing,
                subscribed=name in subscribed,
                has_children=hierarchy.any_below(name),
                meets=ok,
                childinfo=bool(below),
            )
        )
    return entries


def list_order(name: str) -> tuple[bool, list[str]]:
    """INBOX and its children first, then by hierarchy level by level."""
    return (not _is_inbox_name(name), name.split(DELIMITER))
