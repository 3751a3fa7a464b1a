"""Properties of IMAP sequence sets (imap/seqset.py, RFC 9051 §9 sequence-set).

- Any text parses or raises ValueError; nothing else.
- A set written (str, format_sequence_set, format_ranges) parses back to the same set.
- `ranges()` is sorted, disjoint, non-adjacent and names exactly the numbers of its items, with
  `*` the largest number in use; a mailbox view selects by those ranges what a brute-force
  reading of the items names, by UID and by sequence number, and nothing expands a range
  (1:4294967295 is cheap).
"""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from elektromail.imap.seqset import (
    MAX_NUMBER,
    SequenceSet,
    format_ranges,
    format_sequence_set,
    parse_sequence_set,
)
from elektromail.imap.view import MailboxView
from tests.property.budget import budget

numbers = st.one_of(st.integers(1, 40), st.integers(1, MAX_NUMBER))
bounds = st.one_of(numbers, st.none())
items = st.lists(st.tuples(bounds, bounds), min_size=1, max_size=8).map(tuple)
sets = st.builds(SequenceSet, items)

PIECES = ["1", "2", "*", ":", ",", "$", "0", "01", "4294967295", "4294967296", "-1", " ", "x"]
texts = st.one_of(
    st.text(max_size=30),
    st.lists(st.sampled_from(PIECES), max_size=12).map("".join),
    st.binary(max_size=20),
)


@budget()
@given(text=texts)
def test_any_text_parses_or_raises_value_error(text: str | bytes) -> None:
    try:
        seqset = parse_sequence_set(text)
    except ValueError:
        return
    if seqset.saved:
        assert text in ("$", b"$")
        return
    for low, high in seqset.items:
        for bound in (low, high):
            assert bound is None or 1 <= bound <= MAX_NUMBER
    assert parse_sequence_set(str(seqset)) == seqset


@budget()
@given(seqset=sets)
def test_a_written_set_parses_back_to_itself(seqset: SequenceSet) -> None:
    assert parse_sequence_set(str(seqset)) == seqset
    assert parse_sequence_set(str(seqset).encode("ascii")) == seqset


def mailbox(uids: list[int]) -> MailboxView:
    """A selected mailbox holding these ascending UIDs, without flags."""
    uidnext = (uids[-1] if uids else 0) + 1
    return MailboxView(1, "INBOX", 1, uidnext, ((uid, ()) for uid in uids), readonly=False)


def brute_force(seqset: SequenceSet, largest: int, universe: range) -> set[int]:
    """The numbers of `universe` the items name, one by one."""
    found = set()
    for low, high in seqset.items:
        if largest <= 0 and (low is None or high is None):
            continue
        a = largest if low is None else low
        b = largest if high is None else high
        a, b = min(a, b), max(a, b)
        found.update(n for n in universe if a <= n <= b)
    return found


small_sets = st.builds(
    SequenceSet,
    st.lists(
        st.tuples(
            st.one_of(st.integers(1, 30), st.none()), st.one_of(st.integers(1, 30), st.none())
        ),
        min_size=1,
        max_size=6,
    ).map(tuple),
)


@budget()
@given(seqset=small_sets, largest=st.integers(0, 30))
def test_ranges_are_merged_and_name_exactly_the_items(seqset: SequenceSet, largest: int) -> None:
    ranges = seqset.ranges(largest)
    for (low, high), (next_low, _) in itertools.pairwise(ranges):
        assert low <= high and high + 1 < next_low
    universe = range(1, 32)
    named = {n for n in universe if any(low <= n <= high for low, high in ranges)}
    assert named == brute_force(seqset, largest, universe)


@budget()
@given(
    seqset=small_sets,
    values=st.lists(st.integers(1, 30), unique=True, max_size=15).map(sorted),
)
def test_a_mailbox_selects_what_the_set_names(seqset: SequenceSet, values: list[int]) -> None:
    view = mailbox(values)
    by_uid = brute_force(seqset, view.largest_uid(), range(1, 32))
    selected = view.uids_in_uid_ranges(seqset.ranges(view.largest_uid()))
    assert selected == [v for v in values if v in by_uid]
    by_number = brute_force(seqset, view.exists, range(1, view.exists + 1))
    selected = view.uids_in_seq_ranges(seqset.ranges(view.exists))
    assert selected == [values[n - 1] for n in sorted(by_number)]


@budget()
@given(chosen=st.lists(numbers, max_size=20))
def test_compact_form_parses_back_to_the_same_numbers(chosen: list[int]) -> None:
    text = format_sequence_set(chosen)
    if not chosen:
        assert text == ""
        return
    ranges = parse_sequence_set(text).ranges(MAX_NUMBER)
    runs = []
    for n in sorted(set(chosen)):
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    assert ranges == runs
    assert format_ranges(ranges) == text


@budget(0.3)
@given(order=st.permutations(list(range(1, 9))))
def test_unsorted_compact_form_keeps_the_order(order: list[int]) -> None:
    """COPYUID pairs (RFC 4315 §3): source and destination lists keep their order."""
    text = format_sequence_set(order, sort=False)
    listed = []
    for low, high in parse_sequence_set(text).items:
        listed.extend(range(low, high + 1))
    assert listed == order


@budget(0.3)
@given(largest=st.integers(0, MAX_NUMBER))
def test_the_widest_set_costs_one_range(largest: int) -> None:
    widest = parse_sequence_set("1:4294967295")
    assert widest.ranges(largest) == [(1, MAX_NUMBER)]
    assert parse_sequence_set("*:1").ranges(largest) == ([(1, largest)] if largest else [])
    uids = [1, 5, MAX_NUMBER]
    assert mailbox(uids).uids_in_uid_ranges(widest.ranges(largest)) == uids
