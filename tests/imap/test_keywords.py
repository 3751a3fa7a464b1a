"""A keyword new to the selected mailbox is announced with FLAGS and OK [PERMANENTFLAGS] before
any FETCH shows it, as Dovecot does. RFC 9051 §7.3.5 makes FLAGS a SELECT response and §2.3.2
lets a server define keywords on the fly ("\\*" in PERMANENTFLAGS); a client that tracks the
FLAGS list (imaptest's state checker does) must never see a keyword it was not told of."""

from __future__ import annotations

from elektromail.testing import MailServer
from tests.imap.wire import ImapWire

SYSTEM = b"\\Answered \\Flagged \\Deleted \\Seen \\Draft"


def announcement(*keywords: bytes) -> bytes:
    words = b"".join(b" " + word for word in keywords)
    return (
        b"* FLAGS (" + SYSTEM + words + b")\r\n"
        b"* OK [PERMANENTFLAGS (" + SYSTEM + words + b" \\*)] Flags permitted\r\n"
    )


def selected(mail: MailServer, examine: bool = False) -> ImapWire:
    wire = ImapWire(mail.imap_port)
    wire.login()
    wire.command(b"e ENABLE IMAP4rev2")  # no \Recent in the FETCH lines below
    wire.command(b"s EXAMINE INBOX" if examine else b"s SELECT INBOX")
    return wire


def deliver(mail: MailServer, count: int = 1) -> None:
    for _ in range(count):
        mail.call(mail.server.postoffice.deliver, ["user@x"], b"Subject: k\r\n\r\nbody\r\n")


def test_store_of_a_new_keyword_announces_it_before_the_fetch(mail):
    deliver(mail)
    wire = selected(mail)
    assert wire.command(b"t STORE 1 +FLAGS ($Work)") == (
        announcement(b"$Work") + b"* 1 FETCH (FLAGS ($Work))\r\nt OK STORE completed\r\n"
    )
    # known now: no second announcement, in any spelling
    assert wire.command(b"u STORE 1 +FLAGS ($WORK \\Seen)") == (
        b"* 1 FETCH (FLAGS ($Work \\Seen))\r\nu OK STORE completed\r\n"
    )
    wire.close()


def test_store_silent_announces_too(mail):
    deliver(mail)
    wire = selected(mail)
    assert wire.command(b"t STORE 1 +FLAGS.SILENT (todo)") == (
        announcement(b"todo") + b"t OK STORE completed\r\n"
    )
    wire.close()


def test_select_lists_the_keywords_in_use_in_flags_and_permanentflags(mail):
    deliver(mail)
    wire = selected(mail)
    wire.command(b"t STORE 1 +FLAGS.SILENT ($Work)")
    wire.close()
    wire = selected(mail)
    again = wire.command(b"s SELECT INBOX")
    assert b"* FLAGS (" + SYSTEM + b" $Work)\r\n" in again
    assert b"* OK [PERMANENTFLAGS (" + SYSTEM + b" $Work \\*)]" in again
    wire.close()


def test_a_read_only_session_gets_flags_but_no_permanent_flags(mail):
    deliver(mail)
    watcher = selected(mail, examine=True)
    changer = selected(mail)
    changer.command(b"t STORE 1 +FLAGS.SILENT ($Work)")
    assert watcher.command(b"n NOOP") == (
        b"* FLAGS (" + SYSTEM + b" $Work)\r\n"
        b"* OK [PERMANENTFLAGS ()] Flags permitted\r\n"
        b"* 1 FETCH (UID 1 FLAGS ($Work))\r\nn OK NOOP completed\r\n"
    )
    watcher.close()
    changer.close()


def test_another_sessions_keyword_is_announced_before_its_fetch(mail):
    deliver(mail)
    watcher, changer = selected(mail), selected(mail)
    changer.command(b"t STORE 1 +FLAGS.SILENT ($Later)")
    assert watcher.command(b"n NOOP") == (
        announcement(b"$Later") + b"* 1 FETCH (UID 1 FLAGS ($Later))\r\nn OK NOOP completed\r\n"
    )
    watcher.close()
    changer.close()


def test_a_new_message_with_a_new_keyword_is_announced_before_exists(mail):
    wire = selected(mail)
    other = ImapWire(mail.imap_port)
    other.login()
    other.send(b"a APPEND INBOX (fresh) {6+}\r\nhello\n\r\n")
    other.until(b"a")
    assert wire.command(b"n NOOP") == (
        announcement(b"fresh") + b"* 1 EXISTS\r\nn OK NOOP completed\r\n"
    )
    fetched = wire.command(b"f FETCH 1 (FLAGS)")
    assert fetched == b"* 1 FETCH (FLAGS (fresh))\r\nf OK FETCH completed\r\n"
    wire.close()
    other.close()


def test_a_fetch_showing_another_sessions_new_keyword_announces_it_first(mail):
    """Found by imaptest's default stress profile: FETCH FLAGS read the stored flags, which held
    a keyword another session had just set, before this session was told of it."""
    deliver(mail)
    watcher, changer = selected(mail), selected(mail)
    changer.command(b"t STORE 1 +FLAGS.SILENT ($Other)")
    answer = watcher.command(b"f FETCH 1 (FLAGS)")
    assert answer.startswith(announcement(b"$Other"))
    assert b"* 1 FETCH (FLAGS ($Other))\r\n" in answer
    watcher.close()
    changer.close()


def test_a_store_result_showing_another_sessions_new_keyword_announces_it_first(mail):
    deliver(mail)
    watcher, changer = selected(mail), selected(mail)
    changer.command(b"t STORE 1 +FLAGS.SILENT ($Other)")
    assert watcher.command(b"s STORE 1 +FLAGS (\\Seen)") == (
        announcement(b"$Other") + b"* 1 FETCH (FLAGS ($Other \\Seen))\r\ns OK STORE completed\r\n"
    )
    watcher.close()
    changer.close()
