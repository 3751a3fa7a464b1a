"""imap/session.py when other processes share the store (Events.shared, store/pgevents.py): a
selected view catches up from the store with deliveries heard out of UID order or from
another process, what changes while that read is in flight wins over the read, and after
EventsMissed the view reads its whole mailbox again. Without a shared store nothing of this
happens (the in-process path of SQLite)."""

from __future__ import annotations

from twisted.internet.defer import Deferred

from elektromail.events import Events, EventsMissed, FlagsChanged, MessageAdded, MessagesExpunged
from elektromail.imap.session import Session
from elektromail.imap.view import MailboxView
from elektromail.store import UserRow

BOX = 7
BOB = UserRow(1, "Bob", "pw", None, False)


class Reader:
    """The store's messages_after, answered by hand."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, int, Deferred]] = []

    def __call__(self, mailbox_id: int, uid: int) -> Deferred:
        d: Deferred = Deferred()
        self.asked.append((mailbox_id, uid, d))
        return d

    def answer(self, rows: list[tuple[int, str]]) -> None:
        _, _, d = self.asked.pop(0)
        d.callback(rows)


def added(uid: int, flags=(), remote: bool = False) -> MessageAdded:
    return MessageAdded("Bob", "INBOX", BOX, uid, tuple(flags), "smtp", remote=remote)


def selected(*uids: int, shared: bool = True) -> tuple[Session, Reader, list[int]]:
    events = Events()
    events.shared = shared
    session = Session(events)
    session.login(BOB)
    session.dialect.rev2 = True
    reader = Reader()
    view = MailboxView(
        BOX, "INBOX", 99, (uids[-1] + 1) if uids else 1, [(u, ()) for u in uids], False
    )
    session.select(view, session.watch(BOX), None, reader)
    changes: list[int] = []
    session.on_change = lambda: changes.append(1)
    return session, reader, changes


def test_a_local_delivery_of_the_next_uid_needs_no_read():
    session, reader, changes = selected(1, 2)
    session.events.publish(added(3, ["\\Seen"]))
    assert reader.asked == [] and changes == [1]
    assert session.updates(True) == b"* 3 EXISTS\r\n"


def test_a_delivery_of_another_process_is_read_from_the_store_with_its_flags_there():
    session, reader, changes = selected(1, 2)
    session.events.publish(added(3, remote=True))
    assert [(m, u) for m, u, _ in reader.asked] == [(BOX, 2)] and changes == []
    assert session.updates(True) == b""  # nothing told before the read is back
    reader.answer([(3, "\\Seen \\Flagged")])
    assert changes == [1]
    assert session.updates(True) == b"* 3 EXISTS\r\n"
    assert session.view.flags[3] == ("\\Seen", "\\Flagged")


def test_deliveries_heard_out_of_uid_order_are_told_in_uid_order():
    """UIDs are taken in the database's transaction, in order, but two processes' NOTIFYs may
    arrive the other way round (RFC 9051 §2.3.1.1: UIDs ascend with sequence numbers)."""
    session, reader, _ = selected(1)
    session.events.publish(added(3, remote=True))  # 2, of another process, not heard yet
    session.events.publish(added(2, remote=True))  # heard while the read is in flight
    assert len(reader.asked) == 1
    reader.answer([(2, ""), (3, "")])
    assert len(reader.asked) == 1  # again, for what came during the first read
    reader.answer([])
    assert session.updates(True) == b"* 3 EXISTS\r\n"
    assert session.view.uids == [1, 2, 3]


def test_a_local_delivery_that_skips_a_uid_waits_for_the_read_of_the_one_before():
    session, reader, _ = selected(1)
    session.events.publish(added(3))  # local, but 2 (another process's) is not known yet
    assert len(reader.asked) == 1
    reader.answer([(2, ""), (3, "")])
    assert session.view.pending.added == {2: (), 3: ()}


def test_an_expunge_or_flag_change_during_the_read_wins_over_what_it_returns():
    session, reader, _ = selected(1)
    session.events.publish(added(2, remote=True))
    session.events.publish(added(3, remote=True))
    session.events.publish(MessagesExpunged("Bob", "INBOX", BOX, (2,)))
    session.events.publish(FlagsChanged("Bob", "INBOX", BOX, ((3, ("\\Deleted",)),)))
    reader.answer([(2, ""), (3, "")])  # read before the expunge and the flag change
    assert session.view.pending.added == {3: ("\\Deleted",)}
    reader.answer([(3, "\\Deleted")])  # the read again, after them
    assert session.view.pending.added == {3: ("\\Deleted",)}


def test_events_missed_read_the_whole_mailbox_again():
    session, reader, changes = selected(1, 2, 3)
    session.view.flags[2] = ("\\Seen",)
    session.events.publish(EventsMissed())
    assert [(m, u) for m, u, _ in reader.asked] == [(BOX, 0)]
    reader.answer([(1, "\\Seen"), (2, "\\Seen"), (4, "")])  # 3 expunged, 1 flagged, 4 new
    assert changes == [1]
    assert session.updates(True) == (
        b"* 3 EXPUNGE\r\n* 3 EXISTS\r\n* 1 FETCH (UID 1 FLAGS (\\Seen))\r\n"
    )


def test_a_read_that_comes_back_after_unselect_is_dropped():
    session, reader, changes = selected(1)
    session.events.publish(added(2, remote=True))
    session.unselect()
    reader.answer([(2, "")])
    assert changes == [] and session.view is None


def test_a_failed_read_is_logged_and_the_next_event_reads_again():
    session, reader, _ = selected(1)
    session.events.publish(added(2, remote=True))
    _, _, d = reader.asked.pop(0)
    d.errback(RuntimeError("database away"))
    session.events.publish(added(3, remote=True))
    reader.answer([(2, ""), (3, "")])
    assert session.updates(True) == b"* 3 EXISTS\r\n"


def test_without_a_shared_store_nothing_is_read():
    session, reader, _ = selected(1, shared=False)
    session.events.publish(added(3, remote=True))
    session.events.publish(EventsMissed())
    assert reader.asked == []
    assert session.updates(True) == b"* 2 EXISTS\r\n"


def test_a_flag_change_older_than_one_heard_is_dropped():
    """Two processes change one message; their events may arrive the other way round. A
    message's mod-sequence only grows (RFC 7162 §3.1.1): the older change is not told."""
    session, _, _ = selected(1, 2)
    session.dialect.condstore = True
    newer = FlagsChanged("Bob", "INBOX", BOX, ((1, ("\\Seen", "\\Flagged")),), None, (20,))
    older = FlagsChanged(
        "Bob", "INBOX", BOX, ((1, ("\\Seen",)), (2, ("\\Answered",))), None, (19, 19)
    )
    session.events.publish(newer)
    session.events.publish(older)
    assert session.updates(True) == (
        b"* 1 FETCH (UID 1 MODSEQ (20) FLAGS (\\Seen \\Flagged))\r\n"
        b"* 2 FETCH (UID 2 MODSEQ (19) FLAGS (\\Answered))\r\n"
    )


def test_the_session_own_change_counts_as_heard():
    session, _, _ = selected(1)
    session.events.publish(FlagsChanged("Bob", "INBOX", BOX, ((1, ("\\Seen",)),), session, (9,)))
    session.events.publish(FlagsChanged("Bob", "INBOX", BOX, ((1, ()),), None, (8,)))
    assert session.updates(True) == b""
