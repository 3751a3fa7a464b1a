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


# --- \Recent decided in the shared store (RFC 3501 §2.3.2) -----------------------------------


class RecentReader(Reader):
    """The post office's arrivals_shared: rows with the first UID recent in the session."""

    def answer(self, rows: list[tuple[int, str]], first_recent: int = 1) -> None:
        _, _, d = self.asked.pop(0)
        d.callback((rows, first_recent))


def selected_rev1(*uids: int, recent_from: int) -> tuple[Session, RecentReader, Reader]:
    events = Events()
    events.shared = True
    session = Session(events)
    session.login(BOB)
    reader, plain = RecentReader(), Reader()
    view = MailboxView(
        BOX,
        "INBOX",
        99,
        (uids[-1] + 1) if uids else 1,
        [(u, ()) for u in uids],
        False,
        recent_from,
    )
    session.select(view, session.watch(BOX), None, plain, reader)
    return session, reader, plain


def test_with_recent_in_the_store_even_the_local_next_delivery_is_read_with_the_decision():
    """A message is "recent" in the one session first notified of it: another process's
    session may have taken it, so the store tells, and the view waits for it."""
    session, reader, plain = selected_rev1(1, 2, recent_from=2)
    session.events.publish(added(3))
    assert [(m, u) for m, u, _ in reader.asked] == [(BOX, 2)] and plain.asked == []
    assert session.updates(True) == b""  # nothing told before the decision is back
    reader.answer([(3, "")], first_recent=3)
    assert session.updates(True) == b"* 3 EXISTS\r\n* 2 RECENT\r\n"
    assert session.view.recent == {2, 3}


def test_arrivals_taken_by_another_session_are_not_recent_here_and_order_is_kept():
    session, reader, _ = selected_rev1(1, recent_from=2)
    session.events.publish(added(3, remote=True))
    session.events.publish(added(2))  # heard after 3: told first anyway, by the read
    assert len(reader.asked) == 1  # one read in flight; the second waits for it
    reader.answer([(2, ""), (3, "")], first_recent=3)  # 2 went to another session
    # the read asked for meanwhile (from the UIDs told) finds both taken: nothing changes
    assert [(m, u) for m, u, _ in reader.asked] == [(BOX, 1)]
    reader.answer([(2, ""), (3, "")], first_recent=4)
    assert session.updates(True) == b"* 3 EXISTS\r\n* 1 RECENT\r\n"
    assert session.view.recent == {3}


def test_events_missed_read_everything_again_with_the_decision():
    session, reader, _ = selected_rev1(1, 2, recent_from=3)
    session.events.publish(EventsMissed())
    assert [(m, u) for m, u, _ in reader.asked] == [(BOX, 0)]
    reader.answer([(2, ""), (4, "")], first_recent=4)
    assert session.updates(True) == b"* 1 EXPUNGE\r\n* 2 EXISTS\r\n* 1 RECENT\r\n"


def test_without_a_shared_store_the_store_is_not_asked_about_recent():
    events = Events()
    session = Session(events)
    session.login(BOB)
    reader = RecentReader()
    view = MailboxView(BOX, "INBOX", 99, 2, [(1, ())], False, 1)
    session.select(view, session.watch(BOX), lambda uid: True, Reader(), reader)
    session.events.publish(added(2))
    assert reader.asked == []
    assert session.updates(True) == b"* 2 EXISTS\r\n* 2 RECENT\r\n"


def test_a_command_ending_while_the_decision_is_read_waits_for_it():
    """The session's own APPEND is read too: settled() lets the command's EXISTS and RECENT
    go before its tagged OK (RFC 3501 §6.3.11); with nothing in flight it costs nothing, and
    what arrives after the call is not waited for (deliveries that keep coming)."""
    session, reader, _ = selected_rev1(1, recent_from=2)
    assert session.settled() is None
    session.events.publish(added(2))
    fired: list[str] = []
    session.settled().addCallback(lambda _: fired.append("first"))
    session.events.publish(added(3))  # after the call: the read after this one has it
    session.settled().addCallback(lambda _: fired.append("second"))
    reader.answer([(2, "")], first_recent=2)
    assert fired == ["first"] and len(reader.asked) == 1
    assert session.updates(True) == b"* 2 EXISTS\r\n* 1 RECENT\r\n"
    reader.answer([(3, "")], first_recent=2)
    assert fired == ["first", "second"] and session.settled() is None
    assert session.updates(True) == b"* 3 EXISTS\r\n* 2 RECENT\r\n"


def test_unselect_or_a_failed_read_releases_a_waiting_command():
    session, reader, _ = selected_rev1(1, recent_from=2)
    session.events.publish(added(2))
    fired: list[None] = []
    session.settled().addCallback(fired.append)
    _, _, d = reader.asked.pop(0)
    d.errback(RuntimeError("store away"))
    assert fired == [None]
    session.events.publish(added(3))
    session.settled().addCallback(fired.append)
    session.unselect()
    assert fired == [None, None]
