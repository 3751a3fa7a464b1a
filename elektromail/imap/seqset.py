"""IMAP sequence sets (RFC 9051 §9 sequence-set) kept as ranges, never expanded.

`1:4294967295` costs two integers. `*` stays symbolic until `ranges(largest)` resolves it, and
`$` (SEARCHRES, RFC 5182) is kept as a marker the session replaces with its saved result.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from elektromail.imap.tokens import quote_text

__all__ = [
    "MAX_NUMBER",
    "SequenceSet",
    "format_ranges",
    "format_sequence_set",
    "parse_sequence_set",
]

MAX_NUMBER = 4294967295  # nz-number is an unsigned 32-bit integer

Bound = int | None  # None is "*"


@dataclass(frozen=True, slots=True)
class SequenceSet:
    """A parsed sequence set: `items` as written, (low, high) with None for `*`.

    A single number n is (n, n). `saved` is True for `$` (then `items` is empty).
    """

    items: tuple[tuple[Bound, Bound], ...] = ()
    saved: bool = False

    def ranges(self, largest: int) -> list[tuple[int, int]]:
        """Sorted, merged (low, high) ranges with `*` = `largest`, the largest number in use.

        For an empty mailbox pass 0: `*` then matches nothing, and a range reaching `*` is
        dropped (RFC 9051 makes `*` in an empty mailbox a BAD for sequence numbers; for UIDs
        it selects no message, as Dovecot answers). Raises ValueError for an unresolved `$`.
        """
        if self.saved:
            raise ValueError("the saved search result ($) must be resolved by the session")
        resolved = []
        for low, high in self.items:
            if largest <= 0 and (low is None or high is None):
                continue
            a = largest if low is None else low
            b = largest if high is None else high
            resolved.append((a, b) if a <= b else (b, a))
        return _merge(resolved)

    def __str__(self) -> str:
        if self.saved:
            return "$"
        return ",".join(_format_item(low, high) for low, high in self.items)


def _format_bound(bound: Bound) -> str:
    return "*" if bound is None else str(bound)


def _format_item(low: Bound, high: Bound) -> str:
    if low == high:
        return _format_bound(low)
    return f"{_format_bound(low)}:{_format_bound(high)}"


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    ranges.sort()
    merged: list[tuple[int, int]] = []
    for low, high in ranges:
        if merged and low <= merged[-1][1] + 1:
            if high > merged[-1][1]:
                merged[-1] = (merged[-1][0], high)
        else:
            merged.append((low, high))
    return merged


def _parse_number(text: str) -> Bound:
    if text == "*":
        return None
    problem = None
    if not text:
        problem = "empty element"
    elif not (text.isascii() and text.isdigit()):
        problem = f"{quote_text(text)} is not a number or *"
    elif len(text) > 10 or int(text) > MAX_NUMBER:
        problem = f"{text} is over {MAX_NUMBER}"
    elif text.startswith("0"):
        problem = "0 is not a valid number" if int(text) == 0 else f"leading zero in {text}"
    if problem is not None:
        raise ValueError(problem)
    return int(text)


def parse_sequence_set(text: str | bytes) -> SequenceSet:
    """Parse `1,3:5,7:*` or `$`; raise ValueError saying what is wrong (without repeating
    the whole set, so the caller can prefix it)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise ValueError("8-bit characters in a sequence set") from None
    if text == "$":
        return SequenceSet(saved=True)
    if not text:
        raise ValueError("empty sequence set")
    items = []
    for element in text.split(","):
        low_text, colon, high_text = element.partition(":")
        low = _parse_number(low_text)
        high = _parse_number(high_text) if colon else low
        items.append((low, high))
    return SequenceSet(tuple(items))


def format_ranges(ranges: Iterable[tuple[int, int]]) -> str:
    """`[(1, 3), (7, 7)]` -> "1:3,7"."""
    return ",".join(str(low) if low == high else f"{low}:{high}" for low, high in ranges)


def format_sequence_set(numbers: Iterable[int], *, sort: bool = True) -> str:
    """Compact form `1:3,7,9:10`; with sort=False the order is kept (COPYUID pairs)."""
    if sort:
        numbers = sorted(set(numbers))
    runs: list[tuple[int, int]] = []
    for number in numbers:
        if runs and number == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    return format_ranges(runs)
