"""Replies the dispatcher makes from the command table: NO [READ-ONLY] for every command that
would change a mailbox opened with EXAMINE (checked once, after the arguments parse, so a
malformed command is still BAD), and clean BAD texts for malformed STATUS item lists."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from elektromail.testing import MailServer
from tests.imap.wire import ImapWire

READ_ONLY = b"NO [READ-ONLY] Mailbox is read-only"


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with MailServer() as server:
        server.inject("user", b"Subject: kept\r\n\r\nbody\r\n", flags=["\\Deleted"])
        server.inject("user", b"Subject: also kept\r\n\r\nbody\r\n")
        yield server


def examined(mail: MailServer) -> ImapWire:
    wire = ImapWire(mail.imap_port)
    wire.login()
    assert wire.status("EXAMINE INBOX").startswith(b"OK [READ-ONLY]")
    return wire


def stored(mail: MailServer) -> list[tuple[int, tuple[str, ...]]]:
    return [(m["uid"], tuple(m["flags"])) for m in mail.messages()]


@pytest.mark.parametrize(
    "command",
    [
        "STORE 1 +FLAGS (\\Seen)",
        "STORE 1:* FLAGS.SILENT ()",
        "UID STORE 2 -FLAGS (\\Deleted)",
        "EXPUNGE",
        "UID EXPUNGE 1:2",
        "MOVE 1 Trash",
        "UID MOVE 1:* Trash",
        "MOVE 1 NoSuchMailbox",
    ],
)
def test_a_change_to_an_examined_mailbox_is_refused_read_only(mail, command):
    """RFC 9051 §6.3.3 EXAMINE: "No changes to the permanent state of the mailbox, including
    per-user state, are permitted." §7.1 READ-ONLY: "The mailbox is selected read-only, or its
    access while selected has changed from read-write to read-only." Nothing changes."""
    before = stored(mail)
    with examined(mail) as wire:
        assert wire.status(command) == READ_ONLY
        assert wire.status("NOOP") == b"OK NOOP completed"
    assert stored(mail) == before


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("STORE 1 +FLAGS", b"BAD expected STORE sequence-set [+|-]FLAGS[.SILENT] flags"),
        ("STORE 1 +SEEN (\\Seen)", b"BAD unknown STORE item +SEEN"),
        ("STORE 9 +FLAGS (\\Seen)", b"BAD invalid message sequence number"),
        ("EXPUNGE 1", b"BAD expected EXPUNGE"),
        ("UID EXPUNGE", b"BAD expected UID EXPUNGE uid-set"),
        ("MOVE 1", b"BAD expected MOVE sequence-set mailbox"),
    ],
    ids=["store-no-flags", "store-bad-item", "store-beyond", "expunge-args", "uid-expunge", "move"],
)
def test_a_malformed_change_is_bad_even_when_the_mailbox_is_read_only(mail, command, answer):
    """RFC 9051 §7.1.3 BAD: "the command is unknown or contains a syntax error" -- the
    arguments are checked first, as Dovecot does (`STORE x +FLAGS` answers BAD after EXAMINE)."""
    with examined(mail) as wire:
        assert wire.status(command) == answer


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("COPY 1:* Trash", b"OK [COPYUID "),
        ("FETCH 1 (FLAGS)", b"OK FETCH completed"),
        ("SEARCH DELETED", b"OK SEARCH completed"),
        ("CLOSE", b"OK CLOSE completed"),
    ],
)
def test_what_does_not_change_the_mailbox_runs_after_examine(mail, command, answer):
    """COPY changes the target, not the examined mailbox; CLOSE after EXAMINE expunges
    nothing (RFC 9051 §6.4.1: "No messages are removed ... if the mailbox is selected by an
    EXAMINE command")."""
    with examined(mail) as wire:
        assert wire.status(command).startswith(answer)
    assert [uid for uid, _ in stored(mail)] == [1, 2]  # INBOX keeps both


def test_the_same_changes_run_after_select(mail):
    with ImapWire(mail.imap_port) as wire:
        wire.login()
        assert wire.status("SELECT INBOX").startswith(b"OK [READ-WRITE]")
        assert wire.status("STORE 2 +FLAGS.SILENT (\\Seen)") == b"OK STORE completed"
        assert wire.status("EXPUNGE") == b"OK EXPUNGE completed"
    assert mail.messages()[0]["uid"] == 2


@pytest.mark.parametrize(
    ("items", "answer"),
    [
        ('("x")', b'BAD status items must be atoms, not "x"'),
        ("((x))", b"BAD status items must be atoms, not (x)"),
        ("(MESSAGES {1+}\r\nx)", b"BAD status items must be atoms, not {1}"),
        ("(MESSAGES SIZE x)", b"BAD unknown status item x"),
        ("()", b"BAD empty status item list"),
        ("MESSAGES", b"BAD status items must be a parenthesized list"),
    ],
    ids=["quoted", "nested-list", "literal", "unknown", "empty", "not-a-list"],
)
def test_a_malformed_status_item_list_gets_a_clean_bad(mail, items, answer):
    """RFC 9051 §6.3.11: status-att is an atom from a fixed list; §7.1.3: BAD for a syntax
    error. The answer names the client's token as IMAP text -- once it was `b'x'` and
    `[Atom('x')]`, Python's reprs."""
    with ImapWire(mail.imap_port) as wire:
        wire.login()
        assert wire.status("STATUS INBOX " + items) == answer
