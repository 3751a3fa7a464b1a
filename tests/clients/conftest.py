"""Real mail clients from Debian driven non-interactively; each skips when not installed."""

from __future__ import annotations

import shutil

import pytest

from elektromail.testing import MailServer

MESSAGES = [
    b"From: App <app@example.com>\r\nTo: user@example.com\r\nSubject: first\r\n"
    b"Message-ID: <first@example.com>\r\n\r\nfirst body\r\n",
    b"From: App <app@example.com>\r\nTo: user@example.com\r\nSubject: second\r\n"
    b"Message-ID: <second@example.com>\r\n\r\nsecond body\r\n",
]

# A folder whose name is not ASCII: UTF-8 in the store and the API, "Projekte/&ANw-ber" in
# modified UTF-7 to the rev1 clients below, none of which enables UTF8=ACCEPT.
FOLDER, FOLDER_MUTF7 = "Projekte/\u00dcber", "Projekte/&ANw-ber"
# A folder a client creates: it must reach the server under its UTF-8 name.
NEW_FOLDER, NEW_FOLDER_MUTF7 = "\u00c4nderungen", "&AMQ-nderungen"
# Mail with raw 8-bit header bytes, as SMTP accepts it without SMTPUTF8: UTF-8, and latin-1.
EIGHT_BIT = [
    b"From: J\xc3\xb6rg M\xc3\xbcller <joerg@example.com>\r\nTo: user@example.com\r\n"
    b"Subject: Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln\r\nMessage-ID: <koeln@example.com>\r\n"
    b"\r\nGr\xc3\xbc\xc3\x9fe\r\n",
    b"From: Ren\xe9 <rene@example.com>\r\nTo: user@example.com\r\nSubject: caf\xe9 cr\xe8me\r\n"
    b"Message-ID: <latin1@example.com>\r\n\r\nlatin-1 header, ASCII body\r\n",
]
# Written by hand into a local Maildir (LF line ends), to be uploaded.
LOCAL_8BIT = [
    b"From: Me <me@example.com>\nTo: x@example.com\nSubject: lokal \xc3\xa4\xc3\xb6\xc3\xbc\n"
    b"Message-ID: <lokal@example.com>\n\nhier geschrieben\n",
    b"From: Me <me@example.com>\nSubject: inbox \xc3\x9f \xe9\n\nhier\n",
    b"From: Me <me@example.com>\nSubject: neu \xc3\x84\n\nin a new folder\n",
]
# Headers a sync client adds to what it uploads (so as to find it again): not the message's.
CLIENT_HEADERS = (b"X-TUID:", b"X-OfflineIMAP")


def need(program: str, package: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed (Debian package {package})")
    return path


@pytest.fixture
def mail():
    with MailServer() as server:
        for raw in MESSAGES:
            server.call(server.server.postoffice.deliver, ["user@example.com"], raw)
        yield server


@pytest.fixture
def mail_8bit():
    """INBOX with MESSAGES and one 8-bit-header message, delivered as SMTP delivers; FOLDER
    (and its parent) with both EIGHT_BIT messages."""
    with MailServer() as server:
        for raw in [*MESSAGES, EIGHT_BIT[0]]:
            server.call(server.server.postoffice.deliver, ["user@example.com"], raw)
        for raw in EIGHT_BIT:
            server.inject("user", raw, mailbox=FOLDER)
        yield server


def inbox(mail: MailServer):
    """(mailbox row, [MessageRow with raw]) of user's INBOX, read from the store."""
    store = mail.server.store
    user = mail.call(store.get_user, "user")
    box = mail.call(store.get_mailbox, user.id, "INBOX")
    _, listing = mail.call(store.mailbox_view, box.id)
    rows = mail.call(store.fetch, box.id, [uid for uid, _ in listing], raw=True)
    return box, rows


def on_server(mail: MailServer, mailbox: str) -> dict[bytes, dict]:
    """user's messages in `mailbox` as the HTTP API lists them (with `raw`, the stored bytes,
    and `flags`), by their normalized bytes."""
    return {normalized(item["raw"]): item for item in mail.messages("user", mailbox)}


def normalized(message: bytes) -> bytes:
    """Maildir clients store LF line ends and may add their own tracking header."""
    lines = message.replace(b"\r\n", b"\n").split(b"\n")
    return b"\n".join(line for line in lines if not line.startswith(CLIENT_HEADERS))


def assert_stored_as_uploaded(stored: bytes, local: bytes) -> None:
    """The server holds the client's file byte for byte, but for what an IMAP client must
    or may change: LF line ends sent as CRLF (RFC 9051 §4.3), and its own tracking header."""
    lines = stored.split(b"\r\n")
    assert b"\n" not in stored.replace(b"\r\n", b""), "every line ends in CRLF"
    sent = b"\r\n".join(line for line in lines if not line.startswith(CLIENT_HEADERS))
    assert sent == local.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def sync_both_ways(mail: MailServer, folder, inbox_dir, new_folder_dir, sync) -> None:
    """The round both sync tests share, after a first sync brought `folder` (the local Maildir
    of FOLDER) down. Locally: flag the UTF-8 message, write 8-bit-header mail into `folder`,
    into `inbox_dir` and into the new folder `new_folder_dir` (which must reach the server as
    NEW_FOLDER). On the server: a new 8-bit message, and \\Seen on the latin-1 one. `sync()`;
    then each side has the other's changes, the uploads byte for byte, and a second `sync()`
    with nothing to do changes nothing."""
    from tests.clients import maildir  # maildir imports this module

    maildir.set_flags(maildir.messages(folder)[normalized(EIGHT_BIT[0])], "FS")
    written, in_inbox, in_new = LOCAL_8BIT
    maildir.deliver(folder, "1700000000.1.local", written)
    maildir.deliver(inbox_dir, "1700000000.2.local", in_inbox)
    maildir.deliver(maildir.make_folder(new_folder_dir), "1700000000.3.local", in_new)
    arrived = EIGHT_BIT[0].replace(b"<koeln@", b"<koeln2@")
    mail.inject("user", arrived, mailbox=FOLDER)
    latin1 = on_server(mail, FOLDER)[normalized(EIGHT_BIT[1])]
    mail.call(mail.server.postoffice.change_flags, "user", FOLDER, latin1["uid"], ["\\Seen"])

    sync()
    server = on_server(mail, FOLDER)
    assert set(server) == {normalized(m) for m in [*EIGHT_BIT, arrived, written]}
    assert {"\\Flagged", "\\Seen"} <= set(server[normalized(EIGHT_BIT[0])]["flags"])
    assert server[normalized(EIGHT_BIT[0])]["raw"] == EIGHT_BIT[0], "stored bytes unchanged"
    assert_stored_as_uploaded(server[normalized(written)]["raw"], written)
    assert_stored_as_uploaded(on_server(mail, "INBOX")[normalized(in_inbox)]["raw"], in_inbox)
    [created] = on_server(mail, NEW_FOLDER).values()
    assert_stored_as_uploaded(created["raw"], in_new)
    local_files = maildir.messages(folder)
    assert normalized(arrived) in local_files
    assert "S" in maildir.flags(local_files[normalized(EIGHT_BIT[1])])

    before = {box: set(on_server(mail, box)) for box in ("INBOX", FOLDER, NEW_FOLDER)}
    sync()
    assert {box: set(on_server(mail, box)) for box in before} == before
    assert set(maildir.messages(folder)) == before[FOLDER]
