"""\\Recent where the RFC leaves the choice to the server (RFC 3501 §2.3.2 "it is undefined
which of these connections will see newly-arrived messages with \\Recent set"): who takes it,
what IMAP4rev2 sessions do, and what a restart or a reset keeps. The RFC rules themselves are
in tests/rfc9051/section6_commands/selected/test_recent.py."""

from __future__ import annotations

import re

from elektromail.testing import MailServer
from tests.imap.wire import ImapWire

MESSAGE = b"Subject: new\r\n\r\nbody\r\n"


def session(mail: MailServer, *, rev2: bool = False) -> ImapWire:
    wire = ImapWire(mail.imap_port)
    wire.login()
    if rev2:
        wire.command(b"e ENABLE IMAP4rev2")
    return wire


def recent_count(response: bytes) -> int | None:
    found = re.search(rb"\* (\d+) RECENT\r\n", response)
    return int(found.group(1)) if found else None


def deliver(mail: MailServer, count: int = 1) -> None:
    for _ in range(count):
        mail.call(mail.server.postoffice.deliver, ["user@x"], MESSAGE)


def test_an_imap4rev2_session_neither_sees_nor_takes_recent(mail):
    """RFC 9051 Appendix E: IMAP4rev2 has no \\Recent. Its SELECT leaves the messages recent for
    the IMAP4rev1 client that can see them (Dovecot 2.3 has no rev2 to compare with)."""
    deliver(mail, 2)
    rev2 = session(mail, rev2=True)
    selected = rev2.command(b"s SELECT INBOX")
    assert b"RECENT" not in selected
    assert b"\\Recent" not in rev2.command(b"f FETCH 1:* (FLAGS)")
    deliver(mail)
    assert b"RECENT" not in rev2.command(b"n NOOP")
    rev1 = session(mail)
    assert recent_count(rev1.command(b"s SELECT INBOX")) == 3
    rev1.close()
    rev2.close()


def test_of_two_read_write_sessions_the_first_notified_takes_new_mail(mail):
    """RFC 3501 §2.3.2: "This session is the first session to have been notified about this
    message"; with two sessions selected, one of them, never both."""
    first, second = session(mail), session(mail)
    first.command(b"s SELECT INBOX")
    second.command(b"s SELECT INBOX")
    deliver(mail)
    counts = [recent_count(first.command(b"n NOOP")), recent_count(second.command(b"n NOOP"))]
    assert sorted(counts) == [0, 1]
    first.close()
    second.close()


def test_an_examining_session_sees_new_mail_recent_without_taking_it(mail):
    """RFC 3501 §6.3.2: "EXAMINE MUST NOT cause messages to lose the \\Recent flag"."""
    examiner = session(mail)
    examiner.command(b"x EXAMINE INBOX")
    deliver(mail)
    assert recent_count(examiner.command(b"n NOOP")) == 1
    assert b"\\Recent" in examiner.command(b"f FETCH 1 (FLAGS)")
    selector = session(mail)
    assert recent_count(selector.command(b"s SELECT INBOX")) == 1
    examiner.close()
    selector.close()


def test_an_expunged_recent_message_leaves_the_count(mail):
    """RFC 3501 §7.3.2: RECENT is "the number of messages with the \\Recent flag set": after
    an EXPUNGE the next RECENT counts only the messages that are left."""
    deliver(mail, 2)
    wire = session(mail)
    wire.command(b"s SELECT INBOX")
    wire.command(b"d STORE 1 +FLAGS.SILENT (\\Deleted)")
    wire.command(b"x EXPUNGE")
    deliver(mail)
    assert recent_count(wire.command(b"n NOOP")) == 2
    wire.close()


def test_recent_state_survives_a_restart_with_a_database_file(tmp_path):
    """Dovecot keeps it in its index: a message no session has seen is still recent after a
    restart, and one that a session took is not."""
    db = str(tmp_path / "mail.db")
    with MailServer(db=db) as mail:
        deliver(mail, 2)
        wire = session(mail)
        wire.command(b"s SELECT INBOX")
        wire.close()
        deliver(mail)
    with MailServer(db=db) as mail:
        wire = session(mail)
        assert b"(RECENT 1)" in wire.command(b"t STATUS INBOX (RECENT)")
        selected = wire.command(b"s SELECT INBOX")
        assert recent_count(selected) == 1
        assert b"* 3 FETCH (FLAGS (\\Recent))" in wire.command(b"f FETCH 3 (FLAGS)")
        wire.close()


def test_a_reset_makes_the_preloaded_mail_recent_again(mail):
    """A reset returns to the start state: mailboxes are new (new UIDVALIDITY), so nothing in
    them has been seen by a session."""
    wire = session(mail)
    wire.command(b"s SELECT INBOX")
    wire.close()
    mail.reset()
    deliver(mail)
    wire = session(mail)
    assert recent_count(wire.command(b"s SELECT INBOX")) == 1
    wire.close()
