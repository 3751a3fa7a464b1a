"""QUOTA enforcement over IMAP (RFC 9208 §4.3.1): APPEND and COPY that would go over a user's
limits answer NO [OVERQUOTA] and store nothing; the limit itself may be reached (as Dovecot
counts); MOVE adds nothing to a user's one quota root and is never refused (as Dovecot moves
even for a user already over); SETQUOTA is refused as Dovecot refuses a user; STATUS DELETED
and DELETED-STORAGE (RFC 9208 §4.1.4)."""

from __future__ import annotations

import imaplib

import pytest

from elektromail.testing import MailServer
from tests.http.client import Api
from tests.imap.test_search_command import raw

BODY = b"Subject: q\r\n\r\n" + b"x" * (1000 - len(b"Subject: q\r\n\r\n"))  # 1000 octets
OVERQUOTA = b"NO [OVERQUOTA] Quota exceeded (mailbox for user is full)"


@pytest.fixture
def mail():
    with MailServer(users="user:pass", http_port=0) as server:
        yield server


def login(mail: MailServer) -> imaplib.IMAP4:
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login("user", "pass")
    return client


def limit(mail: MailServer, storage: int | None = None, messages: int | None = None) -> None:
    """The user's own limits, through the HTTP users API."""
    answer = Api(mail).put("/users/user/quota", {"storage": storage, "messages": messages})
    assert answer.status == 200, answer.json()


def append(client: imaplib.IMAP4, mailbox: bytes = b"INBOX", body: bytes = BODY) -> bytes:
    """The tagged answer to an APPEND of `body`, sent as a synchronising literal."""
    tag = client._new_tag()
    client.send(tag + b" APPEND " + mailbox + b" {%d}\r\n" % len(body))
    line = client.readline()
    if not line.startswith(b"+"):
        return line.rstrip(b"\r\n")[len(tag) + 1 :]
    client.send(body + b"\r\n")
    while True:
        line = client.readline().rstrip(b"\r\n")
        if line.startswith(tag + b" "):
            return line[len(tag) + 1 :]


def usage(mail: MailServer) -> tuple[int, int]:
    """(octets, messages) the user's mailboxes hold."""
    quota = Api(mail).get("/users/user/quota").json()
    return quota["storage"]["used"], quota["messages"]["used"]


def test_append_over_the_storage_limit_is_overquota_and_stores_nothing(mail):
    """RFC 9208 §4.3.1: "The OVERQUOTA response code SHOULD be returned in the tagged NO
    response to an APPEND/COPY/MOVE when the addition of the message(s) puts the target
    mailbox over any one of its quota limits." (Example 1: "A003 NO [OVERQUOTA] APPEND
    Failed")."""
    limit(mail, storage=2500)
    client = login(mail)
    assert append(client).startswith(b"OK [APPENDUID")
    assert append(client).startswith(b"OK [APPENDUID")  # 2000 of 2500
    assert append(client) == OVERQUOTA
    assert usage(mail) == (2000, 2)
    client.logout()


def test_append_reaching_the_limit_exactly_is_allowed(mail):
    """Dovecot (quota_is_over) refuses only what would go past a limit: at 3 of 3 messages,
    or 3000 of 3000 octets, the third APPEND is stored, the fourth is not."""
    limit(mail, storage=3000, messages=3)
    client = login(mail)
    for _ in range(3):
        assert append(client).startswith(b"OK [APPENDUID")
    assert usage(mail) == (3000, 3)
    assert append(client, body=b"Subject: tiny\r\n\r\n.") == OVERQUOTA
    client.logout()


def test_append_over_the_message_count_is_overquota(mail):
    """RFC 9208 §5.2: MESSAGE is "the number of messages stored within the mailboxes governed
    by the quota root"; the count counts over every mailbox of the user."""
    limit(mail, messages=1)
    client = login(mail)
    assert raw(client, b"CREATE Work")[-1].startswith(b"OK")
    assert append(client, b"Work").startswith(b"OK [APPENDUID")
    assert append(client, b"INBOX") == OVERQUOTA
    assert usage(mail) == (1000, 1)
    client.logout()


def test_append_to_a_missing_mailbox_says_trycreate_even_over_quota(mail):
    """RFC 9051 §6.3.12: a mailbox that does not exist gets [TRYCREATE]; Dovecot opens the
    mailbox before it looks at the quota, so that answer comes first."""
    limit(mail, messages=0)
    client = login(mail)
    assert append(client, b"Nowhere").startswith(b"NO [TRYCREATE]")
    assert append(client, b"INBOX") == OVERQUOTA
    client.logout()


@pytest.mark.parametrize("command", [b"COPY 1:2 INBOX", b"UID COPY 1:2 INBOX"])
def test_copy_over_the_limit_is_overquota_and_copies_nothing(mail, command):
    """RFC 9208 §4.3.1 (COPY); Dovecot 2.3 with a limit of 3 messages, 2 stored: "NO
    [OVERQUOTA] Quota exceeded (mailbox for user is full)" for COPY 1:2, and COPY 1 goes."""
    limit(mail, messages=3)
    client = login(mail)
    append(client)
    append(client)
    client.select("INBOX")
    assert raw(client, command)[-1] == OVERQUOTA
    assert usage(mail) == (2000, 2)
    assert raw(client, command.replace(b"1:2", b"1"))[-1].startswith(b"OK [COPYUID")
    assert usage(mail) == (3000, 3)
    client.logout()


def test_copy_over_the_storage_limit_counts_every_copy(mail):
    limit(mail, storage=3999)
    client = login(mail)
    append(client)
    append(client)
    client.select("INBOX")
    assert raw(client, b"COPY 1:2 INBOX")[-1] == OVERQUOTA
    assert raw(client, b"COPY 2 INBOX")[-1].startswith(b"OK [COPYUID")
    client.logout()


@pytest.mark.parametrize("command", [b"MOVE 1 Trash", b"UID MOVE 1 Trash"])
def test_move_adds_nothing_and_goes_at_and_over_the_limit(mail, command):
    """RFC 9208 §4.3.1 refuses what "puts the target mailbox over" a limit: every mailbox of
    a user has the one root "User quota", and a MOVE leaves its usage as it was. Dovecot 2.3
    moves at 3 of 3 messages, and at 3 of 1 (a limit lowered below the usage)."""
    client = login(mail)
    for _ in range(3):
        append(client)
    limit(mail, messages=3)
    client.select("INBOX")
    assert raw(client, command)[-1].startswith(b"OK")  # 3 of 3
    limit(mail, messages=1)
    again = command.replace(b" 1 ", b" 2 ") if command.startswith(b"UID") else command
    assert raw(client, again)[-1].startswith(b"OK")  # 3 of 1
    assert usage(mail) == (3000, 3)
    assert len(mail.messages("user", "Trash")) == 2
    client.logout()


def test_a_new_limit_through_the_api_applies_at_once(mail):
    """The HTTP users API's override is read at the next message: no reconnection, no
    restart."""
    client = login(mail)
    assert append(client).startswith(b"OK")
    limit(mail, messages=1)
    assert append(client) == OVERQUOTA
    limit(mail, messages=None)
    assert append(client).startswith(b"OK")
    client.logout()


def test_the_server_wide_setting_is_enforced():
    with MailServer(users="user:pass", quota_messages=1) as mail:
        client = login(mail)
        assert append(client).startswith(b"OK")
        assert append(client) == OVERQUOTA
        client.logout()


def test_a_limit_set_before_a_restart_is_enforced_after_it(tmp_path):
    """Persisted with ELEKTROMAIL_DB: the user's own limit is in the database, and the server
    learns at start that one is set."""
    db = str(tmp_path / "mail.db")
    with MailServer(users="user:pass", http_port=0, db=db) as mail:
        limit(mail, messages=0)
    with MailServer(users="user:pass", db=db) as mail:
        client = login(mail)
        assert append(client) == OVERQUOTA
        client.logout()


def test_reset_lifts_the_users_own_limits(mail):
    limit(mail, messages=0)
    assert Api(mail).post("/reset").status in (200, 204)
    client = login(mail)
    assert append(client).startswith(b"OK")
    client.logout()


def test_setquota_is_refused_as_dovecot_refuses_a_user(mail):
    """RFC 9208 §4.1.3: "NO - setquota error: can't set that data"; support for SETQUOTA
    "requires the server to advertise the "QUOTASET" capability", which is not advertised.
    Dovecot (not its admin): "NO [NOPERM]" (2.3's text: "Quota can be changed only by
    admin")."""
    client = login(mail)
    assert raw(client, b'SETQUOTA "User quota" (STORAGE 512)') == [
        b"NO [NOPERM] Quota can be changed only by admin"
    ]
    assert raw(client, b'SETQUOTA "User quota" ()')[-1].startswith(b"NO [NOPERM]")
    assert usage(mail) == (0, 0)
    assert Api(mail).get("/users/user/quota").json()["storage"]["limit"] is None
    client.logout()


@pytest.mark.parametrize(
    "command",
    [b"SETQUOTA", b'SETQUOTA "User quota"', b'SETQUOTA "User quota" STORAGE', b"SETQUOTA a b c"],
)
def test_malformed_setquota_is_bad(mail, command):
    """RFC 9208 §4.1.3: "BAD - command unknown or arguments invalid"; Dovecot: "Missing
    arguments"."""
    client = login(mail)
    assert raw(client, command)[-1].startswith(b"BAD")
    client.logout()


def test_setquota_before_login_is_bad(mail):
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    assert raw(client, b'SETQUOTA "User quota" (STORAGE 1)')[-1].startswith(b"BAD")
    client.logout()


def test_quota_is_advertised_once_logged_in_only(mail):
    """Dovecot adds QUOTA to the capabilities of a logged-in user (its imap_quota plugin
    hooks the client once created); before login it is not listed."""
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    before = raw(client, b"CAPABILITY")[0].split()
    assert not [c for c in before if c.startswith(b"QUOTA")]
    client.login("user", "pass")
    after = raw(client, b"CAPABILITY")[0].split()
    assert {b"QUOTA", b"QUOTA=RES-STORAGE", b"QUOTA=RES-MESSAGE"} <= set(after)
    assert b"QUOTASET" not in after
    client.logout()


def test_status_deleted_and_deleted_storage(mail):
    """RFC 9208 §4.1.4: "The DELETED status data item requests the server to return the number
    of messages with the \\Deleted flag set"; DELETED-STORAGE "the amount of storage space
    that can be reclaimed by performing EXPUNGE on the mailbox ... MAY instead return the sum
    of the RFC822.SIZE of the messages with the \\Deleted flag set" (here that is exact: an
    EXPUNGE frees that much of the user's STORAGE)."""
    client = login(mail)
    for body in (BODY, BODY + b"yy", BODY + b"zzz"):
        append(client, body=body)
    client.select("INBOX")
    raw(client, b"STORE 2:3 +FLAGS (\\Deleted)")
    assert raw(client, b"STATUS Trash (MESSAGES DELETED DELETED-STORAGE)")[0] == (
        b"* STATUS Trash (MESSAGES 0 DELETED 0 DELETED-STORAGE 0)"
    )
    raw(client, b"UNSELECT")
    assert raw(client, b"STATUS INBOX (DELETED-STORAGE MESSAGES DELETED)")[0] == (
        b"* STATUS INBOX (MESSAGES 3 DELETED 2 DELETED-STORAGE 2005)"
    )
    client.logout()


def test_list_status_returns_deleted_storage(mail):
    """RFC 5819 LIST-STATUS takes any STATUS item."""
    client = login(mail)
    append(client)
    client.select("INBOX")
    raw(client, b"STORE 1 +FLAGS (\\Deleted)")
    raw(client, b"UNSELECT")
    lines = raw(client, b'LIST "" "INBOX" RETURN (STATUS (DELETED-STORAGE))')
    assert b"* STATUS INBOX (DELETED-STORAGE 1000)" in lines
    client.logout()


@pytest.mark.parametrize("items", [b"(DELETED-STORAGES)", b"(DELETED_STORAGE)", b"(DELETED-)"])
def test_status_with_a_misspelt_item_is_bad(mail, items):
    client = login(mail)
    assert raw(client, b"STATUS INBOX " + items)[-1].startswith(b"BAD")
    client.logout()


def test_deleted_storage_in_the_rev2_dialect(mail):
    """IMAP4rev2 (RFC 9051 §6.3.11) has DELETED; DELETED-STORAGE comes with QUOTA in both."""
    client = login(mail)
    append(client)
    assert raw(client, b"ENABLE IMAP4rev2")[-1].startswith(b"OK")
    assert raw(client, b"STATUS INBOX (DELETED DELETED-STORAGE)")[0] == (
        b"* STATUS INBOX (DELETED 0 DELETED-STORAGE 0)"
    )
    client.logout()
