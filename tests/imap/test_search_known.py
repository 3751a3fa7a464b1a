"""commands/search._known: what a SEARCH key the store answered found, of the bound UIDs."""

from __future__ import annotations

from elektromail.imap.commands.search import _known


def test_a_few_found_are_looked_up_in_the_bound_uids() -> None:
    uids = list(range(1, 1001, 2))  # odd UIDs only
    # unordered, one not bound (4), one past the end (2001), one before the start (0)
    assert _known(uids, [999, 3, 4, 2001, 0, 1]) == [1, 3, 999]


def test_many_found_are_intersected_as_a_set() -> None:
    uids = [2, 5, 9]
    assert _known(uids, [9, 7, 5, 2, 1]) == [2, 5, 9]


def test_nothing_found_or_nothing_bound() -> None:
    assert _known([1, 2, 3], []) == []
    assert _known([], [1, 2]) == []
