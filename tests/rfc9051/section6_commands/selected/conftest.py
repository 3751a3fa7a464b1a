"""Fixtures of the selected-state tests: a mailbox of the test's own, filled with given
messages and selected, and more sessions watching it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.rfc9051.assertions import assert_ok, exists_count, fetched
from tests.rfc9051.client import ImapClient, Result
from tests.rfc9051.fixtures import Stored


@dataclass
class Box:
    """A mailbox a test filled: its name, the UIDs of its messages in sequence-number order,
    and what SELECT/EXAMINE answered."""

    name: str
    uids: list[int]
    selected: Result | None


def append_all(client: ImapClient, name: str, messages) -> None:
    for message in messages:
        stored = message if isinstance(message, Stored) else Stored(message)
        result = client.append(name, stored.data, flags=stored.flags, date=stored.date)
        assert_ok(result)


def uids_in_order(client: ImapClient, count: int) -> list[int]:
    """The UIDs of messages 1..count of the selected mailbox."""
    if count == 0:
        return []
    result = client.command("FETCH", f"1:{count}", "(UID)")
    assert_ok(result)
    found = fetched(result)
    return [int(found[n]["UID"]) for n in range(1, count + 1)]


@pytest.fixture
def mailbox(names) -> Callable[..., Box]:
    """`mailbox(client, *messages, examine=False, select=True)`: a new mailbox holding
    `messages` (bytes or Stored), selected (or examined) by `client`."""

    def make(client: ImapClient, *messages, examine: bool = False, select: bool = True) -> Box:
        name = names.created(client)
        append_all(client, name, messages)
        if not select:
            return Box(name, [], None)
        result = client.select(name, examine=examine)
        assert_ok(result)
        count = exists_count(result)
        assert count == len(messages), f"{name} holds {count} messages, not {len(messages)}"
        return Box(name, uids_in_order(client, count), result)

    return make


@pytest.fixture
def watcher(connect) -> Callable[..., ImapClient]:
    """`watcher(box, dialect="rev1", examine=False)`: another session of the same user with
    `box` selected, in the given dialect ("rev2" sends ENABLE IMAP4rev2 first)."""

    def open_watcher(box: Box, dialect: str = "rev1", examine: bool = False) -> ImapClient:
        other = connect(login=True)
        if dialect == "rev2":
            assert_ok(other.command("ENABLE", "IMAP4rev2"))
        other.dialect = dialect
        assert_ok(other.select(box.name, examine=examine))
        return other

    return open_watcher
