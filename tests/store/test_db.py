"""store/db.py: users, delivery and append (with group commit), FETCH's reads, flag changes, and
the database's own failures as StoreFull / StoreUnavailable."""

from __future__ import annotations

import pytest
from twisted.internet.defer import DeferredList

from elektromail.flags import normalize_flags
from elektromail.store import NoSuchMailbox, UserExists, db
from elektromail.store.db import _uid_conditions
from elektromail.store.errors import StoreFull, StoreUnavailable
from elektromail.testing import MailServer
from tests.store.conftest import (
    add_mailbox,
    add_user,
    append,
    message,
    prepared,
    run,
    structure,
    uids,
)

# --- through a running server ----------------------------------------------------------------


def test_uids_ascend_per_mailbox_and_one_body_serves_all_recipients(mail):
    deliveries = mail.call(
        mail.server.postoffice.deliver, ["user@x", "alice@example.org", "user+again@y"], b"a\r\n"
    )
    assert [(d.user, d.mailbox, d.uid) for d in deliveries] == [
        ("user", "INBOX", 1),
        ("alice", "INBOX", 1),
    ]
    again = mail.call(mail.server.postoffice.deliver, ["user@x"], b"b\r\n")
    assert again[0].uid == 2


def test_seeded_users_follow_the_configuration_across_restarts(tmp_path):
    db = str(tmp_path / "mail.db")
    with MailServer(db=db, users="user:old"):
        pass
    with MailServer(db=db, users="user:new") as mail:
        assert mail.call(mail.server.postoffice.authenticate, "user", "new") is not None
        assert mail.call(mail.server.postoffice.authenticate, "user", "old") is None


def test_flags_survive_a_restart(tmp_path):
    db = str(tmp_path / "mail.db")
    with MailServer(db=db) as mail:
        mail.call(mail.server.postoffice.deliver, ["user@x"], b"a\r\n")
        user = mail.call(mail.server.store.get_user, "user")
        inbox = mail.call(mail.server.store.get_mailbox, user.id, "INBOX")
        mail.call(mail.server.store.store_flags, inbox.id, [1], "add", ["\\Flagged", "$Work"])
    with MailServer(db=db) as mail:
        rows = mail.call(mail.server.store.fetch, inbox.id, [1], raw=True)
        assert rows[0].flags == ("\\Flagged", "$Work")
        assert rows[0].raw == b"a\r\n"


def test_wrong_password_and_passwordless_users_cannot_log_in(mail):
    postoffice = mail.server.postoffice
    assert mail.call(postoffice.authenticate, "user", "pass").name == "user"
    assert mail.call(postoffice.authenticate, "user", "PASS") is None
    assert mail.call(postoffice.authenticate, "nobody", "pass") is None
    mail.call(postoffice.deliver, ["ghost@x"], b"a\r\n")
    assert mail.call(postoffice.authenticate, "ghost", "") is None


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["\\seen", "\\SEEN", "$a", "$A"], ("\\Seen", "$a")),
        (["\\flagged", "work"], ("\\Flagged", "work")),
        ([], ()),
    ],
)
def test_flags_are_normalised(given, expected):
    assert normalize_flags(given) == expected


def test_grouped_writes_fail_alone(mail):
    """Appends arriving together share one transaction; a failing one does not undo the
    others (the group runs again with a savepoint for each)."""
    store = mail.server.store
    user = mail.call(store.get_user, "user")
    inbox = mail.call(store.get_mailbox, user.id, "INBOX")

    async def together():
        writes = [
            store.append(inbox.id, prepared(b"a\r\n")),
            store.append(999_999, prepared(b"b\r\n")),
            store.append(inbox.id, prepared(b"c\r\n")),
        ]
        return await DeferredList(writes, consumeErrors=True)

    (ok1, uid1), (ok2, failure), (ok3, uid3) = mail.call(together)
    assert (ok1, ok2, ok3) == (True, False, True)
    assert failure.check(NoSuchMailbox)
    assert uid3 == uid1 + 1
    rows = mail.call(store.fetch, inbox.id, [uid1, uid3], raw=True)
    assert [row.raw for row in rows] == [b"a\r\n", b"c\r\n"]


def test_imap_renderings_are_made_from_the_stored_message(mail):
    mail.call(mail.server.postoffice.deliver, ["user@x"], b"Subject: hi\r\n\r\nbody\r\n")
    user = mail.call(mail.server.store.get_user, "user")
    inbox = mail.call(mail.server.store.get_mailbox, user.id, "INBOX")
    [row] = mail.call(mail.server.store.fetch, inbox.id, [1], rendered=True)
    assert row.envelope.startswith(b'(NIL "hi" NIL')
    assert row.bodystructure.startswith(b'("text" "plain"')


# --- users ------------------------------------------------------------------------------------


def test_user_names_are_unique_in_any_ascii_case(store):
    add_user(store, "Alice")
    with pytest.raises(UserExists):
        add_user(store, "alice")
    assert run(store.get_user, "ALICE").name == "Alice"
    assert run(store.get_user, "nobody") is None


def test_users_are_found_by_email_and_updated_as_seeded(store):
    user = run(store.add_user, "bob", None, "Bob@Example.org")
    assert user.seeded is False
    assert run(store.find_user_by_email, "bob@example.org").id == user.id
    run(store.update_user, user.id, "secret", "new@example.org")
    again = run(store.get_user, "bob")
    assert (again.password, again.email, again.seeded) == ("secret", "new@example.org", True)
    assert run(store.find_user_by_email, "bob@example.org") is None


def test_ensure_user_creates_once_with_its_mailboxes(store):
    user, created = run(store.ensure_user, "carol", [("INBOX", None), ("Sent", "\\Sent")])
    assert created and user.password is None
    again, created_again = run(store.ensure_user, "Carol", [("Other", None)])
    assert (again.id, created_again) == (user.id, False)
    boxes = run(store.list_mailboxes, user.id)
    assert [(box.name, box.special_use) for box in boxes] == [("INBOX", None), ("Sent", "\\Sent")]


def test_list_users_in_the_order_they_were_made(store):
    for name in ("zed", "amy", "Max"):
        add_user(store, name)
    assert [user.name for user in run(store.list_users)] == ["zed", "amy", "Max"]


# --- delivery and append ----------------------------------------------------------------------


def test_deliver_creates_missing_mailboxes_and_stores_one_row_per_target(store):
    user = add_user(store)
    inbox = add_mailbox(store, user)
    raw = message("hi")
    copies = run(store.deliver, [(user.id, "INBOX"), (user.id, "Lists/new")], prepared(raw))
    new = run(store.get_mailbox, user.id, "Lists/new")
    assert copies == [(inbox.id, "INBOX", 1), (new.id, "Lists/new", 1)]
    assert new.subscribed is False  # delivery makes it; only server-made special ones subscribe


def test_append_keeps_flags_date_and_zone(store):
    inbox = add_mailbox(store, add_user(store))
    raw = message("dated")
    uid = run(
        store.append,
        inbox.id,
        prepared(
            raw, flags=("\\seen", "$Work", "\\SEEN"), internal_date=1_700_000_000.5, tz_minutes=-300
        ),
    )
    [row] = run(store.fetch, inbox.id, [uid])
    assert (row.flags, row.internal_date, row.tz_minutes, row.size) == (
        ("\\Seen", "$Work"),
        1_700_000_000.5,
        -300,
        len(raw),
    )


def test_append_to_a_mailbox_that_is_gone_is_no_such_mailbox(store):
    with pytest.raises(NoSuchMailbox):
        run(store.append, 12345, prepared(b"x\r\n"))


def test_append_by_name_finds_the_mailbox_and_takes_its_next_uid_in_one_write(store):
    user = add_user(store)
    add_mailbox(store, user)
    work = add_mailbox(store, user, "Work")
    append(store, work, message("first"))
    raw = message("second")
    found = run(store.append_named, user.id, "Work", prepared(raw, flags=("\\seen",)))
    assert found == (work.id, work.uidvalidity, 2)
    [row] = run(store.fetch, work.id, [2])
    assert (row.flags, row.size) == (("\\Seen",), len(raw))
    assert uids(store, work) == [1, 2]


def test_append_by_name_to_a_mailbox_that_does_not_exist_stores_nothing(store):
    user = add_user(store)
    inbox = add_mailbox(store, user)
    with pytest.raises(NoSuchMailbox):
        run(store.append_named, user.id, "inbox/none", prepared(b"x\r\n"))
    with pytest.raises(NoSuchMailbox):
        run(store.append_named, user.id + 1, "INBOX", prepared(b"x\r\n"))
    assert uids(store, inbox) == []
    assert run(store.list_messages) == []


def test_the_database_failing_fails_every_write_of_the_group(store):
    """A database failure (here full) loses the whole transaction, so none of the grouped
    writes may report success."""
    inbox = add_mailbox(store, add_user(store))
    append(store, inbox, message("room for one"))
    run(store.simulate_full, True)

    async def together():
        raws = [message(f"m{n}", "x" * 5000) for n in range(3)]
        writes = [store.append(inbox.id, prepared(raw)) for raw in raws]
        return await DeferredList(writes, consumeErrors=True)

    try:
        results = run(together)
    finally:
        run(store.simulate_full, False)
    assert [ok for ok, _ in results] == [False, False, False]
    assert all(failure.check(StoreFull) for _, failure in results)
    assert uids(store, inbox) == [1]


def test_a_read_only_database_is_unavailable_and_keeps_its_rows(store):
    inbox = add_mailbox(store, add_user(store))
    run(store.simulate_read_only, True)
    try:
        with pytest.raises(StoreUnavailable, match="read-only") as raised:
            append(store, inbox, message("refused"))
        assert not isinstance(raised.value, StoreFull)
    finally:
        run(store.simulate_read_only, False)
    assert append(store, inbox, message("accepted")) == 1


# --- reading: SELECT and FETCH ----------------------------------------------------------------


def test_mailbox_view_lists_uids_and_flag_text_in_uid_order(store):
    inbox = add_mailbox(store, add_user(store))
    append(store, inbox, message("a"), ("\\Seen",))
    append(store, inbox, message("b"))
    row, messages = run(store.mailbox_view, inbox.id)
    assert (row.id, row.uidnext) == (inbox.id, 3)
    assert messages == [(1, "\\Seen"), (2, "")]
    with pytest.raises(NoSuchMailbox):
        run(store.mailbox_view, inbox.id + 100)


@pytest.mark.parametrize(
    ("columns", "present"),
    [
        ((False, False, False), set()),
        ((True, False, False), {"structure"}),
        ((False, True, False), {"raw"}),
        ((False, False, True), {"envelope", "bodystructure", "body"}),
        ((True, True, True), {"structure", "raw", "envelope", "bodystructure", "body"}),
    ],
    ids=["metadata", "structure", "raw", "rendered", "all"],
)
def test_fetch_reads_only_the_columns_asked_for(store, columns, present):
    inbox = add_mailbox(store, add_user(store))
    raw = message("columns")
    run(store.append, inbox.id, prepared(raw, rendered=(b"E", b"BS", b"B")))
    wanted = dict(zip(("structure", "raw", "rendered"), columns, strict=True))
    [row] = run(store.fetch, inbox.id, [1], **wanted)
    values = {
        "structure": structure(raw),
        "raw": raw,
        "envelope": b"E",
        "bodystructure": b"BS",
        "body": b"B",
    }
    for name, value in values.items():
        assert getattr(row, name) == (value if name in present else None), name


def test_fetch_skips_missing_uids_and_reads_more_than_one_chunk(store):
    inbox = add_mailbox(store, add_user(store))

    async def fill():
        for n in range(1, 1202):
            await store.append(inbox.id, prepared(b"%d\r\n" % n))

    run(fill)
    wanted = [*range(1, 1202, 2), 5000]  # sparse: IN lists of 500 and more
    rows = run(store.fetch, inbox.id, wanted, raw=True)
    assert [row.uid for row in rows] == list(range(1, 1202, 2))
    assert rows[-1].raw == b"1201\r\n"


def test_fetch_with_a_budget_reads_the_first_messages_that_fit_and_always_one(store):
    inbox = add_mailbox(store, add_user(store))
    sizes = [10, 10, 30, 10]
    for size in sizes:
        append(store, inbox, b"x" * (size - 2) + b"\r\n")
    read = [row.uid for row in run(store.fetch, inbox.id, [1, 2, 3, 4], raw=True, budget=(9, 25))]
    assert read == [1, 2]
    read = [row.uid for row in run(store.fetch, inbox.id, [3, 4], raw=True, budget=(9, 25))]
    assert read == [3]  # over the budget alone: read anyway, alone
    read = [row.uid for row in run(store.fetch, inbox.id, [2, 3, 4], raw=True, budget=(1, 999))]
    assert read == [2]
    read = [row.uid for row in run(store.fetch, inbox.id, [7, 4], raw=True, budget=(9, 99))]
    assert read == [4]  # a missing UID takes nothing of the budget


def test_a_small_fetch_sees_the_write_still_in_the_pool_before_it(store):
    """A read by key may run on the reactor's thread, but never ahead of an earlier write."""
    inbox = add_mailbox(store, add_user(store))
    append(store, inbox, b"a\r\n")

    async def flag_then_fetch():
        stored = store.store_flags(inbox.id, [1], "add", ["\\Flagged"])
        fetched = store.fetch(inbox.id, [1])  # asked while the write is in the pool
        await stored
        return await fetched

    assert run(flag_then_fetch)[0].flags == ("\\Flagged",)


def test_a_fetch_of_large_bodies_reads_them_whole(store):
    inbox = add_mailbox(store, add_user(store))
    big = b"y" * (300 * 1024) + b"\r\n"  # a large body, read whole
    append(store, inbox, big)
    append(store, inbox, b"small\r\n")
    rows = run(store.fetch, inbox.id, [1, 2], raw=True, budget=(10, 1 << 30))
    assert [row.raw for row in rows] == [big, b"small\r\n"]


@pytest.mark.parametrize(
    ("uids", "conditions"),
    [
        ([3, 4, 5, 6], [("m.uid BETWEEN ? AND ?", (3, 6))]),
        ([7], [("m.uid BETWEEN ? AND ?", (7, 7))]),
        ([1, 2, 4], [("m.uid IN (?,?,?)", [1, 2, 4])]),
        ([], []),
    ],
    ids=["run", "one", "gap", "none"],
)
def test_a_run_of_uids_is_one_between_and_others_in_lists(uids, conditions):
    assert list(_uid_conditions(uids)) == conditions


def test_uids_in_lists_come_in_chunks_of_500():
    sparse = list(range(1, 2002, 2))  # 1001 UIDs
    assert [len(params) for _, params in _uid_conditions(sparse)] == [500, 500, 1]


# --- flags ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "flags", "expected"),
    [
        ("set", ["\\deleted", "x"], ("\\Deleted", "x")),
        ("add", ["\\seen", "$New"], ("\\Seen", "$Old", "$New")),
        ("remove", ["$OLD"], ("\\Seen",)),
        ("remove", ["\\Flagged"], ("\\Seen", "$Old")),
        ("set", [], ()),
    ],
    ids=["set", "add-existing-and-new", "remove-any-case", "remove-absent", "set-empty"],
)
def test_store_flags_sets_adds_or_removes(store, mode, flags, expected):
    inbox = add_mailbox(store, add_user(store))
    append(store, inbox, message("flagged"), ("\\Seen", "$Old"))
    assert run(store.store_flags, inbox.id, [1], mode, flags) == [(1, expected)]
    assert run(store.fetch, inbox.id, [1])[0].flags == expected


def test_store_flags_answers_for_the_messages_that_exist(store):
    inbox = add_mailbox(store, add_user(store))
    append(store, inbox, message("one"))
    append(store, inbox, message("two"), ("\\Seen",))
    changed = run(store.store_flags, inbox.id, [1, 2, 9], "add", ["\\Seen"])
    assert changed == [(1, ("\\Seen",)), (2, ("\\Seen",))]


def test_store_flags_refuses_an_unknown_mode(store):
    with pytest.raises(ValueError, match="toggle"):
        store.store_flags(1, [1], "toggle", ["\\Seen"])


def test_first_recent_writes_asked_while_one_waits_join_it(store, monkeypatch):
    """A session that has a mailbox selected read-write takes every message appended to it:
    the writes of those UIDs queued meanwhile become one, of the largest, and each caller's
    Deferred fires once it is written."""
    inbox = add_mailbox(store, add_user(store))
    writes: list[int] = []
    write = db._set_first_recent

    def counted(cursor, mailbox_id, uid):
        writes.append(uid)
        write(cursor, mailbox_id, uid)

    monkeypatch.setattr(db, "_set_first_recent", counted)

    def three_at_once():
        asked = [store.set_first_recent(inbox.id, uid) for uid in (5, 9, 7)]
        return DeferredList(asked, fireOnOneErrback=True)

    fired = run(three_at_once)
    assert [ok for ok, _ in fired] == [True, True, True]
    assert writes == [9]
    assert run(store.get_mailbox, inbox.user_id, "INBOX").first_recent == 9
    run(store.set_first_recent, inbox.id, 4)  # only grows
    assert writes == [9, 4]
    assert run(store.get_mailbox, inbox.user_id, "INBOX").first_recent == 9


def test_a_shared_store_decides_recent_once_at_open_and_for_arrivals(store):
    """RFC 3501 §2.3.2: a message is recent in one session only. When processes share the
    store it decides under the mailbox row's lock: the first read-write open takes what is
    below UIDNEXT, a later one gets none of it; EXAMINE (no claim) sees without taking; an
    arrival read with a claim is taken by the first reader only."""
    inbox = add_mailbox(store, add_user(store))
    append(store, inbox, message("one"))
    append(store, inbox, message("two"))
    row, messages, first = run(store.mailbox_view_recent, inbox.id, claim=False)
    assert first == 1 and [uid for uid, _ in messages] == [1, 2] and row.uidnext == 3
    _, _, first = run(store.mailbox_view_recent, inbox.id, claim=True)
    assert first == 1  # the first read-write open: 1 and 2 are recent there
    _, messages, first = run(store.mailbox_view_recent, inbox.id, claim=True)
    assert first == 3 and len(messages) == 2  # taken already
    append(store, inbox, message("three"))
    append(store, inbox, message("four"))
    rows, first = run(store.messages_after_recent, inbox.id, 2, claim=False)
    assert [uid for uid, _ in rows] == [3, 4] and first == 3
    rows, first = run(store.messages_after_recent, inbox.id, 2, claim=True)
    assert [uid for uid, _ in rows] == [3, 4] and first == 3  # both recent here
    rows, first = run(store.messages_after_recent, inbox.id, 2, claim=True)
    assert [uid for uid, _ in rows] == [3, 4] and first == 5  # another session: none
    assert run(store.get_mailbox, inbox.user_id, "INBOX").first_recent == 5
    rows, first = run(store.messages_after_recent, inbox.id, 4, claim=True)
    assert rows == [] and first == 5
    assert run(store.get_mailbox, inbox.user_id, "INBOX").first_recent == 5


def test_a_shared_store_recent_decision_on_a_gone_mailbox_fails_cleanly(store):
    with pytest.raises(NoSuchMailbox):
        run(store.mailbox_view_recent, 999, claim=True)
    with pytest.raises(NoSuchMailbox):
        run(store.messages_after_recent, 999, 0, claim=False)
