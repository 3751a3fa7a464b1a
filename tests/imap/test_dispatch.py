"""The command table: registration, capabilities by state, the state check and the lookup that
takes the UID prefix off; pure code, no connection."""

from __future__ import annotations

import pytest

from elektromail.events import Events
from elektromail.imap import commands  # noqa: F401  (fills the command table)
from elektromail.imap.dispatch import (
    ANY,
    AUTH,
    NOT_AUTH,
    SELECTED,
    TABLE,
    Bad,
    CommandSpec,
    CommandTable,
    Done,
    No,
    check_state,
    check_writable,
    lookup_command,
)
from elektromail.imap.session import Session, State
from elektromail.imap.tokens import Atom, String
from elektromail.imap.view import MailboxView


async def handler(ctx, args) -> Done:
    return Done()


def table_with(*specs: tuple[str, frozenset[State], dict]) -> CommandTable:
    table = CommandTable()
    for name, states, flags in specs:
        table.register(name, states, **flags)(handler)
    return table


def session_in(state: State) -> Session:
    session = Session(Events())
    session.state = state
    return session


def test_register_keeps_the_handler_and_its_flags() -> None:
    table = table_with(("FETCH", SELECTED, {"uid": True, "allows_expunge": False}))
    assert table.lookup("FETCH") == CommandSpec(
        "FETCH", handler, SELECTED, uid=True, allows_expunge=False
    )
    assert table.lookup("NOOP") is None
    assert table.names() == ["FETCH"]


def test_register_returns_the_handler_unchanged() -> None:
    assert CommandTable().register("NOOP", ANY)(handler) is handler


def test_flags_default_to_no_uid_form_and_expunges_allowed() -> None:
    spec = table_with(("NOOP", ANY, {})).lookup("NOOP")
    assert spec is not None and spec.uid is False and spec.allows_expunge is True


def test_capabilities_follow_the_state_they_were_advertised_for() -> None:
    table = CommandTable()
    table.advertise("IMAP4rev1", "IDLE")
    table.advertise("AUTH=PLAIN", states=NOT_AUTH)
    assert table.capabilities(State.NOT_AUTHENTICATED) == ["IMAP4rev1", "IDLE", "AUTH=PLAIN"]
    assert table.capabilities(State.SELECTED) == ["IMAP4rev1", "IDLE"]


def test_the_uid_prefix_is_valid_for_exactly_the_commands_rfc9051_names() -> None:
    """RFC 9051 §6.4.9: UID COPY, MOVE, FETCH, SEARCH, STORE and EXPUNGE; and RFC 5256 §3:
    "There is also a UID SORT command" (and "a UID THREAD command")."""
    with_uid = {name for name in TABLE.names() if TABLE.lookup(name).uid}
    assert with_uid == {"COPY", "MOVE", "FETCH", "SEARCH", "STORE", "EXPUNGE", "SORT", "THREAD"}


def test_expunges_wait_while_fetch_store_and_search_answer() -> None:
    """RFC 9051 §7.5.1: no EXPUNGE response while answering FETCH, STORE or SEARCH; RFC 5256
    §3: "Untagged EXPUNGE responses are not permitted while the server is responding to a
    SORT command" (and THREAD alike; held for their UID forms too, as for UID SEARCH)."""
    held = {name for name in TABLE.names() if not TABLE.lookup(name).allows_expunge}
    assert held == {"FETCH", "STORE", "SEARCH", "SORT", "THREAD"}


def test_exactly_the_commands_that_change_the_selected_mailbox_need_read_write() -> None:
    """RFC 9051 §6.3.3: after EXAMINE "No changes to the permanent state of the mailbox ...
    are permitted": STORE, EXPUNGE (and UID EXPUNGE) and MOVE. COPY changes another mailbox;
    CLOSE and FETCH change nothing when read-only (they skip the expunge and the \\Seen)."""
    writers = {name for name in TABLE.names() if TABLE.lookup(name).read_write}
    assert writers == {"STORE", "EXPUNGE", "MOVE"}
    assert all(TABLE.lookup(name).parse is not None for name in writers)


# --- check_writable ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("read_write", "readonly", "refused"),
    [(True, True, True), (True, False, False), (False, True, False), (False, False, False)],
    ids=["writer-examined", "writer-selected", "reader-examined", "reader-selected"],
)
def test_check_writable(read_write: bool, readonly: bool, refused: bool) -> None:
    spec = table_with(("X", SELECTED, {"read_write": read_write})).lookup("X")
    session = session_in(State.SELECTED)
    session.view = MailboxView(1, "INBOX", 1, 1, [], readonly)
    if refused:
        with pytest.raises(No) as raised:
            check_writable(spec, session)
        assert (raised.value.text, raised.value.code) == ("Mailbox is read-only", "READ-ONLY")
    else:
        check_writable(spec, session)


def test_check_writable_needs_a_selected_mailbox_to_refuse() -> None:
    spec = table_with(("X", ANY, {"read_write": True})).lookup("X")
    check_writable(spec, session_in(State.AUTHENTICATED))


# --- check_state -----------------------------------------------------------------------------

STATE_CHECKS = [
    pytest.param("LOGIN", NOT_AUTH, State.NOT_AUTHENTICATED, None, id="allowed"),
    pytest.param("NOOP", ANY, State.SELECTED, None, id="any-state"),
    pytest.param(
        "SELECT", AUTH, State.NOT_AUTHENTICATED,
        "SELECT not allowed before authentication", id="before-login",
    ),
    pytest.param(
        "FETCH", SELECTED, State.AUTHENTICATED,
        "FETCH needs a selected mailbox", id="needs-selection",
    ),
    pytest.param(
        "LOGIN", NOT_AUTH, State.AUTHENTICATED, "LOGIN not allowed now", id="after-login"
    ),
    pytest.param(
        "LOGIN", NOT_AUTH, State.SELECTED, "LOGIN not allowed now", id="while-selected"
    ),
]  # fmt: skip


@pytest.mark.parametrize(("name", "states", "state", "refusal"), STATE_CHECKS)
def test_check_state(name: str, states: frozenset[State], state: State, refusal: str) -> None:
    spec = CommandSpec(name, handler, states)
    if refusal is None:
        check_state(spec, session_in(state))
        return
    with pytest.raises(Bad) as caught:
        check_state(spec, session_in(state))
    assert (caught.value.text, caught.value.code) == (refusal, None)


# --- lookup_command --------------------------------------------------------------------------

TABLE_FOR_LOOKUP = table_with(("FETCH", SELECTED, {"uid": True}), ("NOOP", ANY, {}))


def test_lookup_finds_a_plain_command() -> None:
    args = [Atom("1"), Atom("FLAGS")]
    found = lookup_command("FETCH", args, TABLE_FOR_LOOKUP)
    assert found == (TABLE_FOR_LOOKUP.lookup("FETCH"), "FETCH", args, False)
    assert found.args is not args  # the handler gets its own list


def test_lookup_takes_the_uid_prefix_off() -> None:
    found = lookup_command("UID", [Atom("fetch"), Atom("1:*"), Atom("FLAGS")], TABLE_FOR_LOOKUP)
    assert found.spec is TABLE_FOR_LOOKUP.lookup("FETCH")
    assert (found.name, found.args, found.uid) == ("UID FETCH", ["1:*", "FLAGS"], True)


LOOKUP_REFUSALS = [
    pytest.param("FOO", [], "Unknown command FOO", id="unknown"),
    pytest.param("UID", [], "UID needs a command", id="uid-alone"),
    pytest.param("UID", [String(b"FETCH")], "UID needs a command", id="uid-string"),
    pytest.param("UID", [[Atom("FETCH")]], "UID needs a command", id="uid-list"),
    pytest.param("UID", [Atom("FOO")], "Unknown command UID FOO", id="uid-unknown"),
    pytest.param("UID", [Atom("noop")], "Unknown command UID NOOP", id="uid-of-non-uid-command"),
]


@pytest.mark.parametrize(("name", "args", "refusal"), LOOKUP_REFUSALS)
def test_lookup_refuses(name: str, args: list, refusal: str) -> None:
    with pytest.raises(Bad) as caught:
        lookup_command(name, args, TABLE_FOR_LOOKUP)
    assert (caught.value.text, caught.value.code) == (refusal, None)


def test_lookup_uses_the_server_table_by_default() -> None:
    assert lookup_command("UID", [Atom("MOVE")]).spec is TABLE.lookup("MOVE")
