"""resolve_uids: a sequence set of one number (the common case, taken without parsing a set)
names the same messages, and is refused alike, as the same number written as a range."""

from __future__ import annotations

import pytest

from elektromail.imap.commands.common import resolve_uids
from elektromail.imap.dispatch import Bad
from elektromail.imap.tokens import Atom
from elektromail.imap.view import MailboxView


def view(uids: list[int]) -> MailboxView:
    return MailboxView(1, "INBOX", 7, 100, [(uid, ()) for uid in uids], readonly=False)


def answer(text: str, uids: list[int], uid: bool) -> object:
    try:
        return resolve_uids(Atom(text), view(uids), uid)
    except Bad as e:
        return ("BAD", e.text)


NUMBERS = ["1", "2", "3", "4", "5", "7", "9", "10", "999999999", "4294967295"]


@pytest.mark.parametrize("uid", [False, True], ids=["seq", "uid"])
@pytest.mark.parametrize("uids", [[], [3], [2, 5, 7, 9]], ids=["empty", "one", "four"])
def test_every_message_is_what_the_general_path_finds(uids: list[int], uid: bool) -> None:
    """`1:*` is taken at once; `1:*,1` (the same set) goes the general way."""
    assert answer("1:*", uids, uid) == answer("1:*,1", uids, uid)


@pytest.mark.parametrize("uid", [False, True], ids=["seq", "uid"])
@pytest.mark.parametrize("uids", [[], [3], [2, 5, 7, 9]], ids=["empty", "one", "four"])
@pytest.mark.parametrize("number", NUMBERS)
def test_one_number_is_the_range_of_that_number(number: str, uids: list[int], uid: bool) -> None:
    assert answer(number, uids, uid) == answer(f"{number}:{number}", uids, uid)


@pytest.mark.parametrize("text", ["0", "01", "4294967296", "\uff11", "2\u00b2"])
@pytest.mark.parametrize("uid", [False, True], ids=["seq", "uid"])
def test_what_is_no_number_stays_bad(text: str, uid: bool) -> None:
    """RFC 9051 §9: seq-number = nz-number / "*", nz-number = digit-nz *DIGIT (ASCII digits,
    no leading zero, at most 4294967295)."""
    result = answer(text, [2, 5, 7], uid)
    assert isinstance(result, tuple) and result[0] == "BAD"
    assert result[1].startswith("invalid sequence set")


def test_a_number_past_exists_is_bad_and_a_missing_uid_is_none() -> None:
    assert answer("4", [2, 5, 7], uid=False) == ("BAD", "invalid message sequence number")
    assert answer("4", [2, 5, 7], uid=True) == []
    assert answer("3", [2, 5, 7], uid=False) == [7]
    assert answer("5", [2, 5, 7], uid=True) == [5]
