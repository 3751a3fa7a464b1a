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


def inbox(mail: MailServer):
    """(mailbox row, [MessageRow with raw]) of user's INBOX, read from the store."""
    store = mail.server.store
    user = mail.call(store.get_user, "user")
    box = mail.call(store.get_mailbox, user.id, "INBOX")
    _, listing = mail.call(store.mailbox_view, box.id)
    rows = mail.call(store.fetch, box.id, [uid for uid, _ in listing], raw=True)
    return box, rows


def normalized(message: bytes) -> bytes:
    """Maildir clients store LF line ends and may add their own tracking header."""
    lines = message.replace(b"\r\n", b"\n").split(b"\n")
    return b"\n".join(line for line in lines if not line.startswith((b"X-TUID:", b"X-OfflineIMAP")))
