"""store/modseq.py and the writes that take mod-sequences (RFC 7162 §3.1: "the server MUST
guarantee that each STORE command ... will get a different mod-sequence value"; §3.2: the
expunged UIDs are remembered with theirs, for VANISHED (EARLIER))."""

from __future__ import annotations

import sqlite3

from elektromail.store import modseq
from elektromail.store.schema import prepare_connection
from elektromail.testing import MailServer
from tests.store.conftest import add_mailbox, add_user, append, message, run
from tests.store.test_schema import old_database


def highest(store, mailbox) -> int:
    return run(store.get_mailbox, mailbox.user_id, mailbox.name).highestmodseq


def modseqs(store, mailbox, uids) -> dict[int, int]:
    return {row.uid: row.modseq for row in run(store.fetch, mailbox.id, uids)}


def test_a_new_mailbox_starts_at_one_and_each_append_takes_the_next(store):
    box = add_mailbox(store, add_user(store))
    assert highest(store, box) == 1
    append(store, box, message("a"))
    append(store, box, message("b"))
    assert highest(store, box) == 3
    assert modseqs(store, box, [1, 2]) == {1: 2, 2: 3}


def test_one_store_command_takes_one_modseq_for_the_messages_it_changes(store):
    box = add_mailbox(store, add_user(store))
    for subject in "abc":
        append(store, box, message(subject))
    append(store, box, message("d"), flags=("\\Seen",))
    stored, modified = run(store.store_flags_since, box.id, [1, 2, 4], "add", ["\\Seen"])
    assert modified == []
    # 4 had \Seen already: unchanged, it keeps the modseq of its append
    assert stored == [(1, ("\\Seen",), 6), (2, ("\\Seen",), 6), (4, ("\\Seen",), 5)]
    assert highest(store, box) == 6
    assert modseqs(store, box, [1, 2, 3, 4]) == {1: 6, 2: 6, 3: 4, 4: 5}


def test_a_store_that_changes_nothing_takes_no_modseq(store):
    box = add_mailbox(store, add_user(store))
    append(store, box, message("a"), flags=("\\Seen",))
    run(store.store_flags_since, box.id, [1], "add", ["\\Seen"])
    assert highest(store, box) == 2


def test_unchangedsince_leaves_the_messages_changed_after_it_alone(store):
    # RFC 7162 §3.1.3: "the server MUST NOT modify the message's metadata" when its
    # mod-sequence is greater than the UNCHANGEDSINCE value
    box = add_mailbox(store, add_user(store))
    append(store, box, message("a"))  # modseq 2
    append(store, box, message("b"))  # modseq 3
    stored, modified = run(store.store_flags_since, box.id, [1, 2], "set", ["$X"], 2)
    assert modified == [2]
    assert stored == [(1, ("$X",), 4)]
    assert [row.flags for row in run(store.fetch, box.id, [1, 2])] == [("$X",), ()]


def test_fetch_changedsince_reads_only_the_messages_changed_after_it(store):
    box = add_mailbox(store, add_user(store))
    for subject in "abcd":
        append(store, box, message(subject))
    run(store.store_flags_since, box.id, [2, 4], "add", ["\\Flagged"])
    rows = run(store.fetch, box.id, [1, 2, 3, 4], changedsince=5)
    assert [(row.uid, row.modseq) for row in rows] == [(2, 6), (4, 6)]
    assert run(store.fetch, box.id, [1, 2, 3, 4], changedsince=6) == []


def test_expunge_remembers_the_uids_with_the_expunge_modseq(store):
    box = add_mailbox(store, add_user(store))
    for subject in "abc":
        append(store, box, message(subject), flags=("\\Deleted",))
    assert run(store.expunge, box.id, [1, 3]) == [1, 3]
    assert highest(store, box) == 5
    assert run(store.expunged_since, box.id, 4) == [1, 3]
    assert run(store.expunged_since, box.id, 5) == []
    assert run(store.expunged_since, box.id, 1, [3, 7]) == [3]


def test_copy_and_move_take_modseqs_in_the_target_and_move_remembers_the_source(store):
    user = add_user(store)
    source, target = add_mailbox(store, user), add_mailbox(store, user, "Archive")
    append(store, source, message("a"))
    append(store, source, message("b"))
    run(store.copy, source.id, [1], target.id)
    assert highest(store, target) == 2
    run(store.copy, source.id, [1, 2], target.id, move=True)
    assert highest(store, target) == 3
    assert modseqs(store, target, [1, 2, 3]) == {1: 2, 2: 3, 3: 3}
    assert highest(store, source) == 4
    assert run(store.expunged_since, source.id, 3) == [1, 2]


def test_the_api_flag_switches_and_delete_take_modseqs(store):
    user = add_user(store)
    box = add_mailbox(store, user)
    append(store, box, message("a"))
    append(store, box, message("b"))
    changed = run(store.change_flags, "user", "INBOX", 1, ["\\Flagged"], [])
    assert changed.modseq == 4 == highest(store, box)
    unchanged = run(store.change_flags, "user", "INBOX", 1, ["\\Flagged"], [])
    assert unchanged.modseq == 4 == highest(store, box)
    run(store.remove_message, "user", "INBOX", 2)
    assert run(store.expunged_since, box.id, 4) == [2]
    summary = run(store.get_message, "user", "INBOX", 1)
    assert summary.modseq == 4


def test_renaming_inbox_keeps_the_modseqs_and_inbox_remembers_what_left(store):
    user = add_user(store)
    inbox = add_mailbox(store, user)
    append(store, inbox, message("a"))
    run(store.rename_mailbox, user.id, "INBOX", "Old")
    old = run(store.get_mailbox, user.id, "Old")
    assert old.highestmodseq == 2 and modseqs(store, old, [1]) == {1: 2}
    assert run(store.expunged_since, inbox.id, 2) == [1]


def test_search_modseq_and_the_highest_modseq_of_a_result(store):
    box = add_mailbox(store, add_user(store))
    for subject in "abc":
        append(store, box, message(subject))
    assert sorted(run(store.search_uids, box.id, ("modseq", 3))) == [2, 3]
    assert run(store.highest_modseq_of, box.id, [1, 2]) == 3
    assert run(store.highest_modseq_of, box.id, [9]) == 0


def test_an_upgraded_database_starts_its_mail_at_modseq_one(tmp_path):
    path = str(tmp_path / "old.db")
    old_database(path, 9)
    conn = sqlite3.connect(path)
    prepare_connection(conn, False)
    assert conn.execute("SELECT highestmodseq FROM mailboxes").fetchall() == [(1,)]
    assert conn.execute("SELECT modseq FROM messages").fetchall() == [(1,)]
    conn.close()


def test_modseqs_and_expunged_uids_survive_a_restart(tmp_path):
    db = str(tmp_path / "mail.db")
    with MailServer(db=db) as mail:
        store = mail.server.store
        for raw in (b"a\r\n", b"b\r\n"):
            mail.call(mail.server.postoffice.deliver, ["user@x"], raw)
        user = mail.call(store.get_user, "user")
        inbox = mail.call(store.get_mailbox, user.id, "INBOX")
        mail.call(store.store_flags, inbox.id, [1, 2], "add", ["\\Deleted"])
        mail.call(store.expunge, inbox.id, [2])
        before = mail.call(store.get_mailbox, user.id, "INBOX").highestmodseq
    with MailServer(db=db) as mail:
        store = mail.server.store
        assert mail.call(store.get_mailbox, user.id, "INBOX").highestmodseq == before
        assert [row.modseq for row in mail.call(store.fetch, inbox.id, [1])] == [before - 1]
        assert mail.call(store.expunged_since, inbox.id, before - 1) == [2]


# --- the bounded history of expunges ----------------------------------------------------------


def expunge_each(store, box, count: int) -> None:
    """Append `count` messages flagged \\Deleted and expunge them one by one."""
    first = highest(store, box)
    for i in range(count):
        append(store, box, message(f"m{i}"), flags=("\\Deleted",))
    uids = [row.uid for row in run(store.fetch, box.id, range(1, 10 * count + first))]
    for uid in uids:
        run(store.expunge, box.id, [uid])


def kept(store, box) -> tuple[int, int, int]:
    """(floor, count, rows) of the mailbox's history."""
    floor, count = run(
        store._run,
        lambda cursor: cursor.execute(
            "SELECT expunged_floor, expunged_count FROM mailboxes WHERE id = ?", (box.id,)
        ).fetchone(),
    )
    (rows,) = run(
        store._run,
        lambda cursor: cursor.execute(
            "SELECT count(*) FROM expunged WHERE mailbox_id = ?", (box.id,)
        ).fetchone(),
    )
    return floor, count, rows


def test_the_history_of_expunges_is_bounded_and_the_oldest_go_first(store, monkeypatch):
    # a server running for weeks with --max-messages expunges without end: what QRESYNC keeps
    # of it stays between EXPUNGES_KEPT and EXPUNGES_KEPT + EXPUNGES_SLACK UIDs per mailbox
    monkeypatch.setattr(modseq, "EXPUNGES_KEPT", 4)
    monkeypatch.setattr(modseq, "EXPUNGES_SLACK", 2)
    box = add_mailbox(store, add_user(store))
    expunge_each(store, box, 20)  # appends take modseqs 2..21, the expunges 22..41
    floor, count, rows = kept(store, box)
    assert count == rows and 4 <= rows <= 6
    assert floor == 41 - rows  # the last expunge forgotten
    assert run(store.expunged_since, box.id, floor) == list(range(21 - rows, 21))
    assert run(store.expunged_since, box.id, 40) == [20]


def test_asking_for_expunges_older_than_those_kept_answers_none(store, monkeypatch):
    # RFC 7162 §3.2.6: below <minmodseq> the server "MUST behave as if it was requested to
    # report all expunged messages": None tells the caller to report every UID that is gone
    monkeypatch.setattr(modseq, "EXPUNGES_KEPT", 4)
    monkeypatch.setattr(modseq, "EXPUNGES_SLACK", 2)
    box = add_mailbox(store, add_user(store))
    expunge_each(store, box, 20)
    floor, _count, _rows = kept(store, box)
    assert run(store.expunged_since, box.id, floor - 1) is None
    assert run(store.expunged_since, box.id, 1, [3]) is None
    assert run(store.expunged_since, box.id, floor) is not None


def test_one_expunge_is_forgotten_whole(store, monkeypatch):
    # the UIDs of one expunge share its mod-sequence: the floor never splits them, and one
    # expunge over the bound goes at once (a client that synced before it is told of every
    # UID that is gone, which is still right)
    monkeypatch.setattr(modseq, "EXPUNGES_KEPT", 4)
    monkeypatch.setattr(modseq, "EXPUNGES_SLACK", 2)
    box = add_mailbox(store, add_user(store))
    for i in range(10):
        append(store, box, message(f"m{i}"), flags=("\\Deleted",))
    run(store.expunge, box.id, [1, 2, 3])  # modseq 12
    run(store.expunge, box.id, [4, 5, 6])  # modseq 13: 6 kept, not over 4 + 2
    assert kept(store, box) == (0, 6, 6)
    run(store.expunge, box.id, [7])  # modseq 14: over, back to at most 4
    assert kept(store, box) == (12, 4, 4)
    assert run(store.expunged_since, box.id, 11) is None
    assert run(store.expunged_since, box.id, 12) == [4, 5, 6, 7]
    run(store.expunge, box.id, [8, 9, 10])  # modseq 15: 7 kept, over, and 4 would split 13
    assert kept(store, box) == (13, 4, 4)
    assert run(store.expunged_since, box.id, 13) == [7, 8, 9, 10]
