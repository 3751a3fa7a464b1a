"""An in-memory Store of its own for each test, opened in the background reactor, and the few
steps most store tests begin with (a user, a mailbox, a stored message)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from elektromail import mime
from elektromail.store import MailboxRow, PreparedMessage, Store, UserRow
from elektromail.testing import call_in_reactor

T = TypeVar("T")


def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call `fn` (a store method, or an async function of several steps) in the reactor thread
    and wait for what its Deferred or coroutine gives."""
    return call_in_reactor(fn, *args, **kwargs)


def structure(raw: bytes) -> str:
    """The stored structure of `raw`, as the post office computes it at delivery."""
    return mime.to_json(mime.parse(raw))


def prepared(raw: bytes, **fields: Any) -> PreparedMessage:
    """`raw` as delivery hands it to the store, with only its structure (no renderings; the
    store indexes it itself) and the given flags and dates."""
    return PreparedMessage(raw, structure(raw), **fields)


def message(subject: str, body: str = "hello", sender: str = "app@example.com") -> bytes:
    return (
        f"From: {sender}\r\nTo: user@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}@example.com>\r\n\r\n{body}\r\n"
    ).encode()


@pytest.fixture
def store() -> Iterator[Store]:
    """A fresh, empty Store on SQLite ":memory:" (no users, no mailboxes)."""
    opened = Store()
    run(opened.open)
    yield opened
    run(opened.close)


def add_user(store: Store, name: str = "user", password: str | None = "pass") -> UserRow:
    return run(store.add_user, name, password)


def add_mailbox(store: Store, user: UserRow, name: str = "INBOX") -> MailboxRow:
    return run(store.create_mailbox, user.id, name)


def append(store: Store, mailbox: MailboxRow, raw: bytes, flags: tuple[str, ...] = ()) -> int:
    """Store `raw` in `mailbox`; its UID."""
    return run(store.append, mailbox.id, prepared(raw, flags=flags))


def uids(store: Store, mailbox: MailboxRow) -> list[int]:
    """The UIDs a mailbox holds, ascending."""
    return [uid for uid, _flags in run(store.mailbox_view, mailbox.id)[1]]
