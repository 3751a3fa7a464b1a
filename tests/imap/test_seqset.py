"""Sequence sets: parsing, resolving `*` into merged ranges, selecting a mailbox's messages with
them (as the selected-state commands do, through the MailboxView), compact formatting."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from elektromail.imap.seqset import (
    MAX_NUMBER,
    SequenceSet,
    format_ranges,
    format_sequence_set,
    parse_sequence_set,
)
from elektromail.imap.view import MailboxView


def mailbox(uids: Sequence[int]) -> MailboxView:
    """A selected mailbox holding these ascending UIDs, without flags."""
    uidnext = (uids[-1] if uids else 0) + 1
    return MailboxView(1, "INBOX", 1, uidnext, ((uid, ()) for uid in uids), readonly=False)


def select_uids(text: str, uids: Sequence[int]) -> list[int]:
    """The UIDs a UID set names in the mailbox, resolved as UID commands do (`*`: largest UID)."""
    view = mailbox(uids)
    return view.uids_in_uid_ranges(parse_sequence_set(text).ranges(view.largest_uid()))


def select_seqs(text: str, uids: Sequence[int]) -> list[int]:
    """The UIDs a message sequence set names (`*`: the last message)."""
    view = mailbox(uids)
    return view.uids_in_seq_ranges(parse_sequence_set(text).ranges(view.exists))


@pytest.mark.parametrize(
    ("text", "items"),
    [
        pytest.param("1", ((1, 1),), id="single"),
        pytest.param("1:3", ((1, 3),), id="range"),
        pytest.param("3:1", ((3, 1),), id="reversed-range-kept-as-written"),
        pytest.param("*", ((None, None),), id="star"),
        pytest.param("1:*", ((1, None),), id="to-star"),
        pytest.param("*:4", ((None, 4),), id="from-star"),
        pytest.param("2,4:7,9,12:*", ((2, 2), (4, 7), (9, 9), (12, None)), id="rfc-example"),
        pytest.param("4294967295", ((MAX_NUMBER, MAX_NUMBER),), id="largest-number"),
    ],
)
def test_parse_sequence_set(text: str, items: tuple) -> None:
    seqset = parse_sequence_set(text)
    assert seqset.items == items
    assert not seqset.saved
    assert str(seqset) == text


def test_parse_accepts_bytes() -> None:
    assert parse_sequence_set(b"1:2").items == ((1, 2),)


def test_dollar_is_the_saved_result_marker() -> None:
    seqset = parse_sequence_set("$")
    assert seqset.saved and seqset.items == ()
    assert str(seqset) == "$"
    with pytest.raises(ValueError, match="saved"):
        seqset.ranges(10)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("0", "0 is not", id="zero"),
        pytest.param("1:0", "0 is not", id="zero-in-range"),
        pytest.param("01", "leading zero", id="leading-zero"),
        pytest.param("a", "not a number", id="letter"),
        pytest.param("-1", "not a number", id="negative"),
        pytest.param("1,", "empty element", id="trailing-comma"),
        pytest.param(",1", "empty element", id="leading-comma"),
        pytest.param("1::2", "not a number", id="double-colon"),
        pytest.param("1:2:3", "not a number", id="three-bounds"),
        pytest.param("4294967296", "over 4294967295", id="over-32-bits"),
        pytest.param("99999999999999999999", "over", id="twenty-digits"),
        pytest.param("1 2", "not a number", id="space"),
        pytest.param("1,$", "not a number", id="dollar-in-a-list"),
        pytest.param("\u0661", "not a number", id="non-ascii-digit"),
        pytest.param(b"1\xff", "8-bit", id="8bit-bytes"),
    ],
)
def test_parse_rejects_invalid_sets(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_sequence_set(text)


@pytest.mark.parametrize(
    ("text", "largest", "ranges"),
    [
        pytest.param("2,4:7,9,12:*", 15, [(2, 2), (4, 7), (9, 9), (12, 15)], id="rfc-example"),
        pytest.param("*:4,5:7", 10, [(4, 10)], id="rfc-reordered-and-coalesced"),
        pytest.param("3291:*", 100, [(100, 3291)], id="star-below-low-bound"),
        pytest.param("4:2", 10, [(2, 4)], id="reversed"),
        pytest.param("1:3,2:5,7,6", 10, [(1, 7)], id="overlap-and-adjacent-merge"),
        pytest.param("1:4294967295", 10, [(1, MAX_NUMBER)], id="huge-range-stays-one-range"),
        pytest.param("*", 0, [], id="star-in-empty-mailbox"),
        pytest.param("1:*", 0, [], id="range-to-star-in-empty-mailbox"),
        pytest.param("1:3,*", 0, [(1, 3)], id="numbers-stay-in-empty-mailbox"),
        pytest.param("5,1", 10, [(1, 1), (5, 5)], id="sorted"),
    ],
)
def test_ranges_resolve_star_and_merge(text: str, largest: int, ranges: list) -> None:
    assert parse_sequence_set(text).ranges(largest) == ranges


def test_sequence_set_names_messages_up_to_the_last() -> None:
    messages = list(range(1, 16))  # UID n is message n
    assert select_seqs("2,4:7,12:*", messages) == [2, 4, 5, 6, 7, 12, 13, 14, 15]
    assert select_seqs("*", []) == []


UIDS = [2, 5, 9, 10, 40]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1:9", [2, 5, 9], id="range"),
        pytest.param("*", [40], id="star-is-the-largest-uid"),
        pytest.param("50:*", [40], id="range-beyond-largest-includes-star"),
        pytest.param("10:*", [10, 40], id="to-star"),
        pytest.param("3,4,6:8", [], id="no-member"),
        pytest.param("1:4294967295", UIDS, id="everything"),
        pytest.param("40,2,9", [2, 9, 40], id="ascending"),
    ],
)
def test_uid_set_picks_the_mailboxs_members(text: str, expected: list) -> None:
    assert select_uids(text, UIDS) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1:2", [2, 5], id="range"),
        pytest.param("*", [40], id="star-is-the-last-message"),
        pytest.param("4:*", [10, 40], id="to-star"),
        pytest.param("3:1", [2, 5, 9], id="reversed"),
        pytest.param("5,1", [2, 40], id="ascending"),
    ],
)
def test_sequence_set_picks_messages_by_number(text: str, expected: list) -> None:
    assert select_seqs(text, UIDS) == expected


def test_uid_set_on_empty_mailbox() -> None:
    assert select_uids("1:*", []) == []


def test_uid_set_in_a_two_million_message_mailbox() -> None:
    uids = range(1, 2_000_001)
    assert select_uids("1999999:*,5", uids) == [5, 1999999, 2000000]


@pytest.mark.parametrize(
    ("numbers", "text"),
    [
        pytest.param([], "", id="empty"),
        pytest.param([7], "7", id="one"),
        pytest.param([1, 2, 3, 7, 9, 10], "1:3,7,9:10", id="runs"),
        pytest.param([10, 9, 3, 1, 2, 7, 3], "1:3,7,9:10", id="unsorted-with-duplicates"),
    ],
)
def test_format_sequence_set(numbers: list[int], text: str) -> None:
    assert format_sequence_set(numbers) == text


def test_format_sequence_set_can_keep_order_for_copyuid() -> None:
    assert format_sequence_set([5, 6, 7, 1, 2], sort=False) == "5:7,1:2"


def test_format_ranges() -> None:
    assert format_ranges([(1, 3), (7, 7)]) == "1:3,7"


def test_format_and_parse_round_trip() -> None:
    numbers = [1, 2, 3, 8, 20, 21, MAX_NUMBER]
    assert select_uids(format_sequence_set(numbers), [*range(1, 30), MAX_NUMBER]) == numbers


def test_sequence_set_is_hashable_and_comparable() -> None:
    assert parse_sequence_set("1:3") == SequenceSet(((1, 3),))
    assert len({parse_sequence_set("1:3"), parse_sequence_set("1:3")}) == 1
