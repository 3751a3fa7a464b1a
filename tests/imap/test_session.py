"""imap/session.py: one connection's state without a socket: login, watching a mailbox before
its view is loaded (and replaying what came meanwhile), unselect and logout, which events end
the session, and the untagged updates in IMAP4rev1 and IMAP4rev2, byte for byte."""

from __future__ import annotations

import pytest

from elektromail.events import (
    Events,
    FlagsChanged,
    MessageAdded,
    MessagesExpunged,
    ServerReset,
    UserDeleted,
)
from elektromail.imap.session import Session, State
from elektromail.imap.view import MailboxView
from elektromail.store import UserRow

BOX, OTHER = 7, 8
BOB = UserRow(1, "Bob", "pw", None, False)


def added(uid: int, flags: tuple[str, ...] = (), mailbox_id: int = BOX) -> MessageAdded:
    return MessageAdded("Bob", "INBOX", mailbox_id, uid, flags)


def flagged(uid: int, flags: tuple[str, ...], origin: object = None) -> FlagsChanged:
    return FlagsChanged("Bob", "INBOX", BOX, ((uid, flags),), origin)


def expunged(*uids: int, origin: object = None) -> MessagesExpunged:
    return MessagesExpunged("Bob", "INBOX", BOX, uids, origin)


def inbox(*uids: int) -> MailboxView:
    return MailboxView(
        BOX, "INBOX", 99, (uids[-1] + 1) if uids else 1, [(u, ()) for u in uids], False
    )


def selected(events: Events, *uids: int, rev2: bool = False) -> Session:
    session = Session(events)
    session.login(BOB)
    session.dialect.rev2 = rev2
    session.select(inbox(*uids), session.watch(BOX))
    return session


# --- states -----------------------------------------------------------------------------------


def test_a_session_starts_not_authenticated_and_login_makes_it_authenticated():
    session = Session(Events())
    assert (session.state, session.user, session.view) == (State.NOT_AUTHENTICATED, None, None)
    session.login(BOB)
    assert (session.state, session.user) == (State.AUTHENTICATED, BOB)


def test_select_makes_it_selected_and_unselect_authenticated_again():
    events = Events()
    session = selected(events, 1, 2)
    assert (session.state, session.view.mailbox_id) == (State.SELECTED, BOX)
    session.unselect()
    assert (session.state, session.view) == (State.AUTHENTICATED, None)
    session.unselect()  # twice is harmless
    assert session.state is State.AUTHENTICATED


def test_unselect_before_login_keeps_the_state():
    session = Session(Events())
    session.unselect()
    assert session.state is State.NOT_AUTHENTICATED


@pytest.mark.parametrize(
    ("end", "state"),
    [(Session.unselect, State.AUTHENTICATED), (Session.logout, State.LOGOUT)],
    ids=["unselect", "logout"],
)
def test_unselect_and_logout_stop_listening(end, state):
    events = Events()
    session = Session(events)
    session.login(BOB)
    early = session.watch(BOX)
    session.select(inbox(1), early)
    end(session)
    events.publish(added(2))
    assert early == []  # still subscribed, the event would have landed here (no view now)
    assert (session.state, session.updates(allow_expunge=True)) == (state, b"")


# --- watch, then select: nothing is lost while the view loads ---------------------------------


def test_events_between_watch_and_select_are_replayed_into_the_view():
    events = Events()
    session = Session(events)
    session.login(BOB)
    early = session.watch(BOX)
    events.publish(added(3, ("\\Seen",)))
    events.publish(flagged(1, ("\\Flagged",)))
    events.publish(added(9, mailbox_id=OTHER))  # another mailbox: not collected
    events.publish(UserDeleted("alice"))  # not about a mailbox: not collected
    assert early == [added(3, ("\\Seen",)), flagged(1, ("\\Flagged",))]
    session.select(inbox(1, 2), early)
    assert session.updates(allow_expunge=True) == (
        b"* 3 EXISTS\r\n* 0 RECENT\r\n* 1 FETCH (FLAGS (\\Flagged))\r\n"
    )


def test_an_early_event_the_loaded_view_already_holds_adds_nothing():
    events = Events()
    session = Session(events)
    session.login(BOB)
    early = session.watch(BOX)
    events.publish(added(2))  # arrived before the view was read, and is in it
    session.select(inbox(1, 2), early)
    assert session.updates(allow_expunge=True) == b""


def test_watching_another_mailbox_stops_the_first():
    events = Events()
    session = Session(events)
    session.login(BOB)
    first = session.watch(BOX)
    second = session.watch(OTHER)
    events.publish(added(5))
    events.publish(added(6, mailbox_id=OTHER))
    assert (first, second) == ([], [added(6, mailbox_id=OTHER)])


def test_after_select_events_reach_the_view_and_on_change_at_once():
    events = Events()
    session = selected(events, 1)
    told = []
    session.on_change = lambda: told.append(session.view.pending.added.copy())
    events.publish(added(2))
    assert told == [{2: ()}]
    events.publish(added(3, mailbox_id=OTHER))
    assert len(told) == 1


# --- updates ----------------------------------------------------------------------------------

UPDATES = [
    pytest.param([added(4)], True, False, b"* 4 EXISTS\r\n* 0 RECENT\r\n", id="exists-rev1"),
    pytest.param([added(4)], True, True, b"* 4 EXISTS\r\n", id="exists-rev2"),
    pytest.param(
        [flagged(2, ("\\Seen", "\\Answered"))],
        True,
        False,
        b"* 2 FETCH (FLAGS (\\Seen \\Answered))\r\n",
        id="flags-rev1",
    ),
    pytest.param(
        [flagged(2, ("\\Seen", "\\Answered"))],
        True,
        True,
        b"* 2 FETCH (UID 2 FLAGS (\\Seen \\Answered))\r\n",
        id="flags-rev2-with-uid",
    ),
    pytest.param(
        [flagged(2, ("\\Seen", "$Work")), added(4, ("later",))],
        True,
        False,
        b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work later)\r\n"
        b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work later \\*)]"
        b" Flags permitted\r\n"
        b"* 4 EXISTS\r\n* 0 RECENT\r\n* 2 FETCH (FLAGS (\\Seen $Work))\r\n",
        id="new-keywords-announced-before-use",
    ),
    pytest.param([flagged(3, ())], True, True, b"* 3 FETCH (UID 3 FLAGS ())\r\n", id="no-flags"),
    pytest.param([expunged(1, 3)], True, False, b"* 3 EXPUNGE\r\n* 1 EXPUNGE\r\n", id="expunge"),
    pytest.param([expunged(1, 3)], False, False, b"", id="expunge-held-back"),
    pytest.param(
        [expunged(1), added(4), flagged(3, ("\\Deleted",))],
        True,
        False,
        b"* 1 EXPUNGE\r\n* 3 EXISTS\r\n* 0 RECENT\r\n* 2 FETCH (FLAGS (\\Deleted))\r\n",
        id="expunge-exists-fetch-in-that-order",
    ),
    pytest.param(
        [expunged(1), added(4), flagged(3, ("\\Deleted",))],
        False,
        True,
        b"* 4 EXISTS\r\n* 3 FETCH (UID 3 FLAGS (\\Deleted))\r\n",
        id="no-expunge-during-fetch-seq-unchanged",
    ),
    pytest.param([], True, False, b"", id="nothing"),
]


@pytest.mark.parametrize(("published", "allow_expunge", "rev2", "expected"), UPDATES)
def test_updates(published, allow_expunge, rev2, expected):
    events = Events()
    session = selected(events, 1, 2, 3, rev2=rev2)
    for event in published:
        events.publish(event)
    assert session.updates(allow_expunge=allow_expunge) == expected
    assert session.updates(allow_expunge=allow_expunge) == b""  # told once


def test_a_held_back_expunge_is_told_when_allowed():
    events = Events()
    session = selected(events, 1, 2)
    events.publish(expunged(1))
    assert session.updates(allow_expunge=False) == b""
    assert session.updates(allow_expunge=True) == b"* 1 EXPUNGE\r\n"


@pytest.mark.parametrize(
    "change",
    [lambda origin: flagged(1, ("\\Seen",), origin), lambda origin: expunged(1, origin=origin)],
    ids=["flags", "expunge"],
)
def test_the_sessions_own_changes_are_not_told_again(change):
    """The session that made a change reports it in its own response."""
    events = Events()
    session = selected(events, 1, 2)
    events.publish(change(session))
    assert session.updates(allow_expunge=True) == b""
    events.publish(change(object()))  # another session's: told
    assert session.updates(allow_expunge=True) != b""


def test_no_view_no_updates():
    session = Session(Events())
    session.login(BOB)
    assert session.updates(allow_expunge=True) == b""


# --- which events end the session -------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "state", "event", "bye"),
    [
        (None, State.NOT_AUTHENTICATED, ServerReset(), None),
        (BOB, State.AUTHENTICATED, ServerReset(), "Server reset to its start state"),
        (BOB, State.SELECTED, ServerReset(), "Server reset to its start state"),
        (BOB, State.SELECTED, UserDeleted("Bob"), "User deleted"),
        (BOB, State.AUTHENTICATED, UserDeleted("bob"), None),
        (BOB, State.AUTHENTICATED, UserDeleted("alice"), None),
        (BOB, State.SELECTED, added(1), None),
        (BOB, State.LOGOUT, ServerReset(), None),
    ],
    ids=[
        "reset-before-login",
        "reset-authenticated",
        "reset-selected",
        "own-user-deleted",
        "other-spelling",
        "other-user",
        "mail",
        "after-logout",
    ],
)
def test_ended_by(user, state, event, bye):
    session = Session(Events())
    if user is not None:
        session.login(user)
    session.state = state
    assert session.ended_by(event) == bye
