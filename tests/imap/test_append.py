"""APPEND (RFC 9051 §6.3.12) with APPENDUID (RFC 4315), LITERAL+ (RFC 7888) and the UTF8
data extension (RFC 6855 §4), over loopback sockets."""

from __future__ import annotations

import datetime
import imaplib
import re
from collections.abc import Iterator

import pytest
from imapclient import IMAPClient

from elektromail.testing import MailServer
from tests.imap.test_session_commands import LOGGED_IN, USERS, still_usable
from tests.imap.wire import ImapWire

LIMIT = 2000
MESSAGE = (
    b"From: Fred Foobar <foobar@example.com>\r\n"
    b"Subject: afternoon meeting\r\n"
    b"To: mooch@example.com\r\n"
    b"Message-Id: <B27397-0100000@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
    b"\r\n"
    b"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n"
)
CONTINUE = b"+ Ready for literal data\r\n"
APPENDED = re.compile(rb"(\w+) OK \[APPENDUID (\d+) (\d+)\] APPEND completed\r\n\Z")


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with MailServer(users=USERS, smtp_port=None, max_message_size=LIMIT) as server:
        yield server


@pytest.fixture
def wire(mail: MailServer) -> Iterator[ImapWire]:
    client = ImapWire(mail.imap_port)
    assert LOGGED_IN.match(client.login())
    yield client
    client.close()


def stored(mail: MailServer, mailbox: str = "INBOX", user: str = "user") -> list:
    """The message rows of a mailbox, read straight from the store."""

    async def read():
        store = mail.server.store
        row = await store.get_user(user)
        box = await store.get_mailbox(row.id, mailbox)
        _, messages = await store.mailbox_view(box.id)
        return await store.fetch(box.id, [uid for uid, _ in messages], raw=True)

    return mail.call(read)


def uidvalidity(mail: MailServer, mailbox: str = "INBOX") -> int:
    async def read() -> int:
        store = mail.server.store
        user = await store.get_user("user")
        return (await store.get_mailbox(user.id, mailbox)).uidvalidity

    return mail.call(read)


def append_sync(wire: ImapWire, arguments: bytes, message: bytes, tag: bytes = b"a") -> bytes:
    """APPEND with a synchronising literal: wait for "+", then send the message."""
    wire.send(tag + b" APPEND " + arguments + b" {%d}\r\n" % len(message))
    assert wire.line() == CONTINUE
    wire.send(message + b"\r\n")
    return wire.until(tag)


def append_nonsync(wire: ImapWire, arguments: bytes, message: bytes, tag: bytes = b"a") -> bytes:
    wire.send(tag + b" APPEND " + arguments + b" {%d+}\r\n" % len(message) + message + b"\r\n")
    return wire.until(tag)


# --- what gets stored ---------------------------------------------------------------------------


def test_append_with_synchronising_literal_returns_appenduid(mail, wire):
    response = append_sync(wire, b"INBOX", MESSAGE)
    assert response == b"a OK [APPENDUID %d 1] APPEND completed\r\n" % uidvalidity(mail)
    [row] = stored(mail)
    assert (row.uid, row.raw, row.flags) == (1, MESSAGE, ())


def test_append_with_non_synchronising_literal_needs_no_continuation(mail, wire):
    response = append_nonsync(wire, b"INBOX", MESSAGE)
    assert response == b"a OK [APPENDUID %d 1] APPEND completed\r\n" % uidvalidity(mail)
    assert [row.raw for row in stored(mail)] == [MESSAGE]


def test_appended_uids_ascend(mail, wire):
    uids = [APPENDED.match(append_nonsync(wire, b"INBOX", MESSAGE)).group(3) for _ in range(3)]
    assert uids == [b"1", b"2", b"3"]


def test_append_sets_flags_keywords_and_internal_date(mail, wire):
    arguments = b'INBOX (\\Seen \\flagged $Forwarded custom) " 7-Feb-1994 21:52:25 -0800"'
    assert APPENDED.match(append_sync(wire, arguments, MESSAGE))
    wire.command(b"s SELECT INBOX")
    response = wire.command(b"f FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE)")
    # RFC 3501 §6.3.11: "the Recent flag is also set"; the first SELECT after it sees it
    assert response == (
        b'* 1 FETCH (FLAGS (\\Seen \\Flagged \\Recent $Forwarded custom) INTERNALDATE "07-Feb-1994'
        b' 21:52:25 -0800" RFC822.SIZE %d)\r\nf OK FETCH completed\r\n' % len(MESSAGE)
    )


def test_append_without_date_uses_now(mail, wire):
    before = datetime.datetime.now(datetime.UTC).timestamp()
    assert APPENDED.match(append_nonsync(wire, b"INBOX ()", MESSAGE))
    [row] = stored(mail)
    assert before - 1 <= row.internal_date <= datetime.datetime.now(datetime.UTC).timestamp() + 1


def test_message_with_bare_lf_is_stored_as_given(mail, wire):
    # Bytes are sacred: unlike Dovecot, which turns LF into CRLF, the message comes back as sent.
    message = b"Subject: bare\n\nline one\nline two\n"
    assert APPENDED.match(append_nonsync(wire, b"INBOX", message))
    wire.command(b"s SELECT INBOX")
    response = wire.command(b"f FETCH 1 (RFC822.SIZE BODY.PEEK[])")
    assert response == (
        b"* 1 FETCH (RFC822.SIZE %d BODY[] {%d}\r\n%s)\r\nf OK FETCH completed\r\n"
        % (len(message), len(message), message)
    )


def test_message_with_8bit_and_nul_bytes_is_stored_as_given(mail, wire):
    message = b"Subject: Mueller\r\n\r\nbinary \x00\xff M\xc3\xbcller here\r\n"
    assert APPENDED.match(append_nonsync(wire, b"INBOX", message))
    assert [row.raw for row in stored(mail)] == [message]


def test_8bit_header_fields_from_a_rev1_session_are_stored_as_sent(mail, wire):
    """By default a rev1 APPEND with raw 8-bit header bytes is stored byte for byte, as
    Dovecot stores it: mbsync and offlineimap upload such mail (our SMTP accepts it without
    SMTPUTF8) and take a NO as a failed sync."""
    message = b"Subject: M\xc3\xbcller \xe9\r\nFrom: J\xc3\xb6rg <j@example.com>\r\n\r\nbody\r\n"
    assert APPENDED.match(append_nonsync(wire, b"INBOX", message))
    assert [row.raw for row in stored(mail)] == [message]


@pytest.fixture
def strict_mail() -> Iterator[MailServer]:
    with MailServer(users=USERS, smtp_port=None, strict_utf8_append=True) as server:
        yield server


@pytest.fixture
def strict(strict_mail: MailServer) -> Iterator[ImapWire]:
    client = ImapWire(strict_mail.imap_port)
    assert LOGGED_IN.match(client.login())
    yield client
    client.close()


def test_strict_setting_refuses_8bit_header_fields_until_utf8_accept(strict_mail, strict):
    """RFC 6855 §4, with strict-utf8-append: a server offering UTF8=ACCEPT "MUST reject, with
    a "NO" response, an "APPEND" command that includes any 8-bit character in message header
    fields" unless the client enabled it."""
    message = b"Subject: M\xc3\xbcller\r\n\r\nbody\r\n"
    refused = append_nonsync(strict, b"INBOX", message)
    assert refused == b"a NO 8-bit header fields need ENABLE UTF8=ACCEPT or IMAP4rev2\r\n"
    assert stored(strict_mail) == []
    strict.send(b"e ENABLE UTF8=ACCEPT\r\n")
    strict.until(b"e")
    assert APPENDED.match(append_nonsync(strict, b"INBOX", message))
    assert [row.raw for row in stored(strict_mail)] == [message]


def test_strict_setting_accepts_8bit_header_fields_in_rev2(strict_mail, strict):
    """RFC 9051 §6.3.12: "8-bit characters are permitted in the message" in IMAP4rev2, and
    the strict setting only applies RFC 6855's rule to rev1 sessions."""
    message = b"Subject: M\xc3\xbcller\r\n\r\nbody\r\n"
    strict.send(b"e ENABLE IMAP4rev2\r\n")
    strict.until(b"e")
    assert APPENDED.match(append_nonsync(strict, b"INBOX", message))
    assert [row.raw for row in stored(strict_mail)] == [message]


def test_strict_setting_accepts_8bit_bodies_with_ascii_headers(strict_mail, strict):
    """RFC 6855 §4 speaks of "message header fields" only: an 8-bit body stays acceptable."""
    message = b"Subject: Mueller\r\n\r\nM\xc3\xbcller\r\n"
    assert APPENDED.match(append_nonsync(strict, b"INBOX", message))
    assert [row.raw for row in stored(strict_mail)] == [message]


def test_literal8_message_is_accepted(mail, wire):
    message = b"Subject: binary\r\n\r\n\x00\x01\x02\r\n"
    wire.send(b"a APPEND INBOX ~{%d+}\r\n" % len(message) + message + b"\r\n")
    assert APPENDED.match(wire.until(b"a"))
    assert [row.raw for row in stored(mail)] == [message]


def test_message_of_exactly_the_limit_is_stored(mail, wire):
    message = b"Subject: big\r\n\r\n" + b"x" * (LIMIT - 16)
    assert len(message) == LIMIT
    assert APPENDED.match(append_sync(wire, b"INBOX", message))
    assert [len(row.raw) for row in stored(mail)] == [LIMIT]


def test_append_to_another_mailbox_and_inbox_in_any_case(mail, wire):
    assert APPENDED.match(append_nonsync(wire, b"Drafts (\\Draft)", MESSAGE))
    assert APPENDED.match(append_nonsync(wire, b"inbox", MESSAGE))
    assert [row.flags for row in stored(mail, "Drafts")] == [("\\Draft",)]
    assert len(stored(mail)) == 1


def test_ok_means_stored(mail, wire):
    # The tagged OK is written after the store committed: read at once, no polling.
    response = append_nonsync(wire, b"INBOX", MESSAGE)
    uid = int(APPENDED.match(response).group(3))
    assert [row.uid for row in stored(mail)] == [uid]


# --- selected sessions --------------------------------------------------------------------------


def test_appending_session_with_the_mailbox_selected_sees_exists_before_ok(mail, wire):
    """RFC 3501 §6.3.11: "In either case, the Recent flag is also set"; this session has the
    mailbox selected, so it is the first notified (§2.3.2) and RECENT counts it."""
    wire.command(b"s SELECT INBOX")
    response = append_nonsync(wire, b"INBOX", MESSAGE)
    assert response == (
        b"* 1 EXISTS\r\n* 1 RECENT\r\na OK [APPENDUID %d 1] APPEND completed\r\n"
        % uidvalidity(mail)
    )


def test_appending_session_in_imap4rev2_gets_no_recent(mail, wire):
    wire.command(b"e ENABLE IMAP4rev2")
    wire.command(b"s SELECT INBOX")
    response = append_nonsync(wire, b"INBOX", MESSAGE)
    assert response.startswith(b"* 1 EXISTS\r\na OK [APPENDUID ")


def test_other_session_on_the_mailbox_learns_of_the_message(mail, wire):
    watcher = ImapWire(mail.imap_port)
    assert LOGGED_IN.match(watcher.login())
    watcher.command(b"s SELECT INBOX")
    assert APPENDED.match(append_nonsync(wire, b"INBOX (\\Flagged)", MESSAGE))
    # the watcher has INBOX selected read-write: the first session notified (RFC 3501 §2.3.2)
    assert watcher.command(b"n NOOP") == b"* 1 EXISTS\r\n* 1 RECENT\r\nn OK NOOP completed\r\n"
    fetched = watcher.command(b"f FETCH 1 (UID FLAGS)")
    assert fetched == (b"* 1 FETCH (UID 1 FLAGS (\\Flagged \\Recent))\r\nf OK FETCH completed\r\n")
    watcher.close()


# --- refusals ----------------------------------------------------------------------------------


def test_missing_mailbox_is_no_trycreate(mail, wire):
    response = append_nonsync(wire, b"Nonexistent", MESSAGE)
    assert response == b"a NO [TRYCREATE] Mailbox does not exist\r\n"
    still_usable(wire)


def test_empty_message_is_no_like_dovecot(mail, wire):
    wire.send(b"a APPEND INBOX {0}\r\n")
    assert wire.line() == CONTINUE
    wire.send(b"\r\n")
    assert wire.until(b"a") == b"a NO Can't save a zero byte message\r\n"
    assert append_nonsync(wire, b"INBOX", b"", tag=b"b") == (
        b"b NO Can't save a zero byte message\r\n"
    )
    assert stored(mail) == []


def test_synchronising_literal_over_the_limit_is_refused_before_it_is_sent(mail, wire):
    wire.send(b"a APPEND INBOX {%d}\r\n" % (LIMIT + 1))
    assert wire.line() == b"a NO [TOOBIG] Literal too big (limit %d bytes)\r\n" % LIMIT
    still_usable(wire)
    assert stored(mail) == []


def test_non_synchronising_literal_over_the_limit_is_discarded_then_refused(mail, wire):
    message = b"Subject: big\r\n\r\n" + b"x" * LIMIT
    response = append_nonsync(wire, b"INBOX", message)
    assert response == b"a NO [TOOBIG] Literal too big (limit %d bytes)\r\n" % LIMIT
    still_usable(wire)
    assert stored(mail) == []


def test_absurd_literal_size_says_bye(mail, wire):
    wire.send(b"a APPEND INBOX {18446744073709551616+}\r\n")
    assert wire.line() == b"* BYE [TOOBIG] Literal too big\r\n"
    assert wire.at_eof()


def test_append_before_login_is_refused_without_reading_the_literal(mail):
    wire = ImapWire(mail.imap_port)
    wire.send(b"a APPEND INBOX {5}\r\n")
    assert wire.line() == b"a BAD APPEND not allowed before authentication\r\n"
    still_usable(wire)
    wire.close()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (b"INBOX (\\Recent)", b"Invalid system flag \\Recent"),
        (b"INBOX (\\Unknown)", b"Invalid system flag \\Unknown"),
        (b'INBOX ("quoted")', b"flags must be atoms"),
        (b"INBOX ((nested))", b"flags must be atoms"),
        (b'INBOX "7-Feb-1994"', b"Invalid date-time: invalid date-time '7-Feb-1994'"),
        (
            b'INBOX "31-Feb-1994 21:52:25 -0800"',
            b"Invalid date-time: invalid date-time '31-Feb-1994 21:52:25 -0800':"
            b" day is out of range for month",
        ),
        (
            b'INBOX "07-Foo-1994 21:52:25 -0800"',
            b"Invalid date-time: invalid date-time '07-Foo-1994 21:52:25 -0800':"
            b" invalid month in date '07-Foo-1994 21:52:25 -0800'",
        ),
        (
            b'INBOX "07-Feb-1994 21:52:25 -2400"',
            b"Invalid date-time: invalid time zone in date-time '07-Feb-1994 21:52:25 -2400'",
        ),
        (b"INBOX () ()", b"expected APPEND mailbox [(flags)] [date-time] literal"),
        (b"INBOX NIL", b"expected APPEND mailbox [(flags)] [date-time] literal"),
        (b"(INBOX)", b"mailbox name must be a string"),
    ],
    ids=[
        "recent",
        "unknown-system-flag",
        "quoted-flag",
        "nested-flag",
        "date-only",
        "impossible-date",
        "bad-month",
        "bad-zone",
        "two-flag-lists",
        "nil-before-message",
        "list-mailbox",
    ],
)
def test_malformed_append_is_bad_and_stores_nothing(mail, wire, arguments, message):
    assert append_nonsync(wire, arguments, MESSAGE) == b"a BAD " + message + b"\r\n"
    still_usable(wire)
    assert stored(mail) == []


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (b"a APPEND", b"expected APPEND mailbox [(flags)] [date-time] literal"),
        (b"a APPEND INBOX", b"expected APPEND mailbox [(flags)] [date-time] literal"),
        (b'a APPEND INBOX "message"', b"Invalid date-time: invalid date-time 'message'"),
        (
            b'a APPEND INBOX "07-Feb-1994 21:52:25 -0800" "message"',
            b"the message must be sent as a literal",
        ),
        (
            b"a APPEND INBOX {3+}\r\nabc extra",
            b"unexpected arguments after the message",
        ),
        (b"a APPEND INBOX UTF8 (~{3+}\r\nabc)", b"APPEND UTF8 needs ENABLE UTF8=ACCEPT"),
    ],
    ids=[
        "nothing",
        "no-message",
        "quoted-message-as-date",
        "quoted-message",
        "trailing-atom",
        "utf8-not-enabled",
    ],
)
def test_append_without_a_single_message_literal_is_bad(mail, wire, command, message):
    assert wire.command(command) == b"a BAD " + message + b"\r\n"
    still_usable(wire)
    assert stored(mail) == []


# --- UTF8=ACCEPT (RFC 6855) --------------------------------------------------------------------


def test_utf8_append_after_enable_utf8_accept(mail, wire):
    message = "Subject: Grüße\r\nFrom: jörg@example.com\r\n\r\nHallo\r\n".encode()
    assert (
        wire.command(b"e ENABLE UTF8=ACCEPT")
        == b"* ENABLED UTF8=ACCEPT\r\ne OK ENABLE completed\r\n"
    )
    wire.send(b"a APPEND INBOX (\\Seen) UTF8 (~{%d+}\r\n" % len(message) + message + b")\r\n")
    assert APPENDED.match(wire.until(b"a"))
    [row] = stored(mail)
    assert (row.raw, row.flags) == (message, ("\\Seen",))


def test_utf8_append_with_a_synchronising_literal8(mail, wire):
    wire.command(b"e ENABLE UTF8=ACCEPT")
    wire.send(b"a APPEND INBOX UTF8 (~{%d}\r\n" % len(MESSAGE))
    assert wire.line() == CONTINUE
    wire.send(MESSAGE + b")\r\n")
    assert APPENDED.match(wire.until(b"a"))


@pytest.mark.parametrize(
    "data",
    [b"UTF8 ({3+}\r\nabc)", b"UTF8 (~{3+}\r\nabc ~{3+}\r\nxyz)", b"UTF8 ~{3+}\r\nabc", b"UTF8"],
    ids=["not-literal8", "two-literals", "no-parentheses", "nothing"],
)
def test_malformed_utf8_append_is_bad(mail, wire, data):
    wire.command(b"e ENABLE UTF8=ACCEPT")
    expected = b"a BAD expected APPEND mailbox [(flags)] [date-time] UTF8 (~{size}message)\r\n"
    assert wire.command(b"a APPEND INBOX " + data) == expected
    assert stored(mail) == []


def test_utf8_append_is_bad_in_imap4rev2_without_utf8_accept(mail, wire):
    wire.command(b"e ENABLE IMAP4rev2")
    response = wire.command(b"a APPEND INBOX UTF8 (~{3+}\r\nabc)")
    assert response == b"a BAD APPEND UTF8 needs ENABLE UTF8=ACCEPT\r\n"


def test_utf8_mailbox_name_after_utf8_accept(mail, wire):
    wire.command(b"e ENABLE UTF8=ACCEPT")
    response = append_nonsync(wire, '"Entwürfe"'.encode(), MESSAGE)
    assert response == b"a NO [TRYCREATE] Mailbox does not exist\r\n"


# --- real clients ------------------------------------------------------------------------------


def test_imaplib_append_with_flags_and_date(mail):
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login("user", "pass")
    moment = datetime.datetime(
        2024, 3, 1, 12, 30, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
    )
    typ, data = client.append(
        "INBOX", "(\\Seen \\Answered)", imaplib.Time2Internaldate(moment), MESSAGE
    )
    assert typ == "OK"
    assert data == [b"[APPENDUID %d 1] APPEND completed" % uidvalidity(mail)]
    client.select("INBOX")
    typ, data = client.fetch("1", "(FLAGS INTERNALDATE BODY.PEEK[])")
    assert data[0][0] == (
        b'1 (FLAGS (\\Seen \\Answered \\Recent) INTERNALDATE "01-Mar-2024 12:30:00 +0200"'
        b" BODY[] {%d}" % len(MESSAGE)
    )
    assert data[0][1] == MESSAGE
    client.logout()


def test_imapclient_append_returns_the_appenduid_text(mail):
    with IMAPClient(mail.host, port=mail.imap_port, ssl=False, timeout=10) as client:
        client.login("user", "pass")
        when = datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
        response = client.append("Drafts", MESSAGE, flags=[b"\\Draft"], msg_time=when)
        assert response == b"[APPENDUID %d 1] APPEND completed" % uidvalidity(mail, "Drafts")
        client.select_folder("Drafts")
        data = client.fetch([1], ["FLAGS", "INTERNALDATE", "BODY.PEEK[]"])[1]
        assert data[b"FLAGS"] == (b"\\Draft", b"\\Recent")
        assert data[b"BODY[]"] == MESSAGE
