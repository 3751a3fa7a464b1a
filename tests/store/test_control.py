"""store/control.py: users made and removed at run time, inject into a mailbox made on demand,
purge, and install / reset to a baseline."""

from __future__ import annotations

import pytest

from elektromail.store import (
    Baseline,
    BaselineMailbox,
    BaselineMessage,
    BaselineUser,
    Emptied,
    Injected,
    NoSuchUser,
    UserExists,
)
from tests.store.conftest import (
    add_mailbox,
    add_user,
    append,
    message,
    prepared,
    run,
    uids,
)


def inject(store, user: str, mailbox: str, raw: bytes, flags=()) -> Injected:
    return run(store.inject, user, mailbox, prepared(raw, flags=tuple(flags)))


def scalar(store, sql: str):
    return run(store._run, lambda c: c.execute(sql).fetchone()[0])


def stored(raw: bytes, user: str = "alice", mailbox: str = "INBOX", flags=()) -> BaselineMessage:
    fixture = prepared(raw, flags=tuple(flags), internal_date=1e9, tz_minutes=60)
    return BaselineMessage(user, mailbox, fixture)


ALICE = BaselineUser(
    "alice",
    "wonder",
    "alice@example.org",
    True,
    (BaselineMailbox("INBOX", subscribed=True), BaselineMailbox("Sent", "\\Sent", True)),
)
BASELINE = Baseline(
    users=(ALICE,),
    messages=(stored(message("one")), stored(message("two"), flags=["\\Seen"])),
)


# --- users ------------------------------------------------------------------------------------


def test_create_user_makes_its_mailboxes(store):
    user = run(store.create_user, "dave", "pw", "dave@example.org", [("INBOX", None)])
    assert (user.name, user.password, user.email, user.seeded) == (
        "dave",
        "pw",
        "dave@example.org",
        False,
    )
    assert [box.name for box in run(store.list_mailboxes, user.id)] == ["INBOX"]


@pytest.mark.parametrize(
    ("name", "email", "says"),
    [
        ("DAVE", None, "user 'dave' exists"),
        ("erin", "Dave@Example.org", "email address 'Dave@Example.org' belongs to user 'dave'"),
    ],
    ids=["name-any-case", "email-taken"],
)
def test_create_user_says_what_is_taken(store, name, email, says):
    run(store.create_user, "dave", "pw", "dave@example.org", [])
    with pytest.raises(UserExists) as refused:
        run(store.create_user, name, "pw", email, [("INBOX", None)])
    assert str(refused.value) == says
    assert [user.name for user in run(store.list_users)] == ["dave"]


def test_delete_user_takes_mailboxes_messages_and_unshared_bodies(store):
    alice, bob = add_user(store, "alice"), add_user(store, "bob")
    mine, theirs = add_mailbox(store, alice), add_mailbox(store, bob)
    append(store, mine, message("alone"))
    append(store, mine, message("shared"))
    run(store.copy, mine.id, [2], theirs.id)
    run(store.subscribe, alice.id, "Gone")
    assert run(store.delete_user, "ALICE").id == alice.id
    assert run(store.get_user, "alice") is None
    assert scalar(store, "SELECT count(*) FROM mailboxes") == 1
    assert scalar(store, "SELECT count(*) FROM subscriptions WHERE name = 'Gone'") == 0
    assert scalar(store, "SELECT count(*) FROM bodies") == 1
    assert run(store.fetch, theirs.id, [1], raw=True)[0].raw == message("shared")
    with pytest.raises(NoSuchUser):
        run(store.delete_user, "alice")


# --- inject -----------------------------------------------------------------------------------


def test_inject_makes_the_mailbox_and_its_parents_subscribed(store):
    add_user(store, "alice")
    injected = inject(store, "Alice", "Lists/dev/2024", message("hi"), ["\\seen"])
    assert (injected.user, injected.mailbox, injected.uid) == ("alice", "Lists/dev/2024", 1)
    user = run(store.get_user, "alice")
    boxes = run(store.list_mailboxes, user.id)
    assert [(box.name, box.subscribed) for box in boxes] == [
        ("Lists", True),
        ("Lists/dev", True),
        ("Lists/dev/2024", True),
    ]
    assert run(store.fetch, injected.mailbox_id, [1])[0].flags == ("\\Seen",)
    assert inject(store, "alice", "Lists/dev/2024", message("again")).uid == 2


def test_inject_for_an_unknown_user_is_no_such_user(store):
    with pytest.raises(NoSuchUser):
        inject(store, "nobody", "INBOX", message("lost"))
    assert scalar(store, "SELECT count(*) FROM bodies") == 0


# --- purge ------------------------------------------------------------------------------------


def test_purge_empties_every_mailbox_and_keeps_uid_counters(store):
    alice, bob = add_user(store, "alice"), add_user(store, "bob")
    inbox, empty, other = (
        add_mailbox(store, alice),
        add_mailbox(store, alice, "E"),
        add_mailbox(store, bob),
    )
    for subject in ("a", "b"):
        append(store, inbox, message(subject))
    append(store, other, message("c"))
    emptied = run(store.purge)
    assert emptied == [
        Emptied("alice", "INBOX", inbox.id, (1, 2)),
        Emptied("bob", "INBOX", other.id, (1,)),
    ]
    assert scalar(store, "SELECT count(*) FROM bodies") == 0
    assert scalar(store, "SELECT count(*) FROM body_index") == 0
    assert uids(store, inbox) == uids(store, empty) == []
    assert append(store, inbox, message("after")) == 3
    assert run(store.get_mailbox, alice.id, "INBOX").uidvalidity == inbox.uidvalidity


# --- install and reset ------------------------------------------------------------------------


def test_install_adds_only_what_is_missing(store):
    assert run(store.install, BASELINE) == 2
    assert run(store.install, BASELINE) == 0  # a database file keeps them across restarts
    longer = Baseline(BASELINE.users, (*BASELINE.messages, stored(message("three"))))
    assert run(store.install, longer) == 1
    user = run(store.get_user, "alice")
    inbox = run(store.get_mailbox, user.id, "INBOX")
    rows = run(store.fetch, inbox.id, uids(store, inbox), raw=True)
    assert [(row.raw, row.flags, row.tz_minutes) for row in rows] == [
        (message("one"), (), 60),
        (message("two"), ("\\Seen",), 60),
        (message("three"), (), 60),
    ]
    assert (user.seeded, run(store.get_mailbox, user.id, "Sent").special_use) == (True, "\\Sent")


def test_reset_returns_to_the_baseline_with_new_uidvalidity_and_uids_from_one(store):
    run(store.install, BASELINE)
    alice = run(store.get_user, "alice")
    before = run(store.get_mailbox, alice.id, "INBOX")
    add_user(store, "stranger")
    inject(store, "alice", "INBOX", message("extra"))
    inject(store, "alice", "Made/Later", message("elsewhere"))
    run(store.reset, BASELINE)
    assert [user.name for user in run(store.list_users)] == ["alice"]
    assert run(store.get_user, "alice").id == alice.id  # a baseline user keeps its id
    inbox = run(store.get_mailbox, alice.id, "INBOX")
    assert [box.name for box in run(store.list_mailboxes, alice.id)] == ["INBOX", "Sent"]
    assert uids(store, inbox) == [1, 2] and inbox.uidnext == 3
    assert inbox.uidvalidity > before.uidvalidity
    assert inbox.id > before.id  # an id held from before the reset never names a new mailbox
    listing = run(store.mailbox_listing, alice.id)
    assert listing.subscriptions == frozenset({"INBOX", "Sent"})
    sent = run(store.get_mailbox, alice.id, "Sent")
    assert sent.uidvalidity == inbox.uidvalidity + 1


def test_reset_to_nothing_leaves_an_empty_store(store):
    run(store.install, BASELINE)
    run(store.reset, Baseline())
    assert run(store.list_users) == []
    assert scalar(store, "SELECT count(*) FROM bodies") == 0
    if not store.dialect.is_postgresql:  # PostgreSQL deletes with its foreign keys on
        assert scalar(store, "PRAGMA foreign_keys") == 1  # restored after the wholesale delete
