"""LIST pattern matching and selection (pure): `commands.listmatch`."""

from __future__ import annotations

import time

import pytest

from elektromail.imap.listmatch import Entry, Pattern, Selection, parents, select

MATCHES = [
    ("*", "", True),
    ("*", "a/b/c", True),
    ("%", "abc", True),
    ("%", "a/b", False),
    ("a/%", "a/b", True),
    ("a/%", "a/b/c", False),
    ("a/%", "a", False),
    ("a%", "a", True),
    ("a%", "abc", True),
    ("a%", "a/b", False),
    ("%/%", "a/b", True),
    ("%/%", "a", False),
    ("*b", "a/b", True),
    ("*b", "ba", False),
    ("a*c", "a/b/c", True),
    ("a%c", "a/c", False),
    ("a.b", "axb", False),  # no regular-expression meaning
    ("(x)+", "(x)+", True),
    ("**", "a/b", True),
    ("%*", "a/b", True),
    ("*%", "a/b", True),
    ("%%", "a/b", False),
    ("ä*", "äx", True),
    ("inbox", "INBOX", True),
    ("InBoX", "INBOX", True),
    ("in*", "INBOX/kid", True),
    ("in*", "info", True),
    ("IN*", "info", False),
    ("inbox/KID", "INBOX/kid", False),  # only the INBOX part ignores case
    ("inbox", "inboxes", False),
    ("Sent", "sent", False),
    ("", "", True),
    ("", "a", False),
]


@pytest.mark.parametrize(("pattern", "name", "expected"), MATCHES)
def test_pattern_matches(pattern, name, expected):
    assert Pattern(pattern).matches(name) is expected


def test_hostile_pattern_is_linear():
    start = time.perf_counter()
    assert not Pattern("*a" * 3000 + "b").matches("a" * 3000)
    assert not Pattern("%a" * 3000 + "%b").matches("a" * 3000)
    assert Pattern("*a" * 3000).matches("a" * 3000)
    assert time.perf_counter() - start < 5  # a backtracking matcher takes ages here


def test_parents():
    assert parents("a/b/c") == ["a", "a/b"]
    assert parents("a") == []


EXISTING = ["INBOX", "Sent", "a/b", "a/b/c", "q", "INBOX/kid"]


def names(entries: list[Entry]) -> list[str]:
    return [entry.name for entry in entries]


def test_plain_selection_adds_missing_levels_in_list_order():
    entries = select(EXISTING, [], [], [Pattern("*")], Selection())
    assert names(entries) == ["INBOX", "INBOX/kid", "Sent", "a", "a/b", "a/b/c", "q"]
    implied = entries[3]
    assert implied == Entry("a", False, False, True, True, False)
    assert entries[0].has_children and not entries[2].has_children


def test_subscribed_selection_includes_names_that_do_not_exist():
    entries = select(EXISTING, ["Sent", "gone/away"], [], [Pattern("*")], Selection(True))
    assert [(e.name, e.exists, e.subscribed) for e in entries] == [
        ("Sent", True, True),
        ("gone/away", False, True),
    ]


def test_recursivematch_returns_parents_only_for_unmatched_descendants():
    subscribed = ["a/b/c"]
    selection = Selection(subscribed=True, recursive=True)
    by_percent = select(EXISTING, subscribed, [], [Pattern("%")], selection)
    assert [(e.name, e.meets, e.childinfo) for e in by_percent] == [("a", False, True)]
    by_star = select(EXISTING, subscribed, [], [Pattern("*")], selection)
    assert [(e.name, e.meets, e.childinfo) for e in by_star] == [("a/b/c", True, False)]


def test_recursivematch_marks_a_matching_parent_with_childinfo():
    selection = Selection(subscribed=True, recursive=True)
    entries = select(EXISTING, ["a/b", "a/b/c"], [], [Pattern("*")], selection)
    assert [(e.name, e.childinfo) for e in entries] == [("a/b", True), ("a/b/c", False)]


def test_special_use_selection():
    entries = select(EXISTING, [], ["Sent", "missing"], [Pattern("*")], Selection(special_use=True))
    assert names(entries) == ["Sent"]


def test_several_patterns_give_each_name_once():
    entries = select(EXISTING, [], [], [Pattern("S*"), Pattern("*t"), Pattern("q")], Selection())
    assert names(entries) == ["Sent", "q"]
