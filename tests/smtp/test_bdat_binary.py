"""BODY=BINARYMIME (RFC 3030 §3) end to end: a message of arbitrary 8-bit octets (no NUL),
bare CRs and bare LFs, sent in BDAT chunks, reads back octet for octet over IMAP
(BODY.PEEK[]), over HTTP /raw and in the JSON API. §3: the receiver "agrees to preserve all
bits in each octet passed using the BDAT command"."""

from __future__ import annotations

import base64
import imaplib
from collections.abc import Iterator

import pytest

from elektromail.testing import MailServer
from tests.http.client import Api
from tests.smtp.conftest import USERS
from tests.smtp.wire import Wire

HEADER = (
    b"From: a@example.com\r\nTo: user@example.com\r\nSubject: binary\r\n"
    b"Date: Mon, 07 Dec 2026 12:00:00 +0000\r\nMessage-ID: <bin@example.com>\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: binary\r\n\r\n"
)
# every octet but NUL, then lone CRs and LFs, a CR at a chunk's end, a dot line, 8-bit runs
NOT_UTF8 = HEADER + bytes(range(1, 256)) + b"\rbare CR\nbare LF\n\r.\r\n\xff\xfe\x80\r"
# text that is valid UTF-8 (so the JSON `raw` is exact on its own) with bare CR and LF
UTF8 = HEADER + "Grüße\rbare CR\nbare LF\n\r\n.\r\nend\r".encode()


@pytest.fixture(scope="module")
def mail() -> Iterator[MailServer]:
    with MailServer(users=USERS) as server:
        yield server


def send_binarymime(mail: MailServer, raw: bytes) -> None:
    cut = len(raw) // 2
    wire = Wire(mail.smtp_port)
    assert b"BINARYMIME" in wire.command(b"EHLO client")
    wire.send(
        b"MAIL FROM:<a@example.com> BODY=BINARYMIME\r\nRCPT TO:<user@example.com>\r\n"
        + b"BDAT %d\r\n" % cut
        + raw[:cut]
        + b"BDAT %d LAST\r\n" % (len(raw) - cut)
        + raw[cut:]
    )
    assert wire.replies(4)[3] == b"250 2.0.0 Message accepted\r\n"
    wire.close()


@pytest.fixture(params=[NOT_UTF8, UTF8], ids=["not-utf8", "utf8"])
def sent(request, mail: MailServer) -> tuple[bytes, int]:
    mail.purge()
    send_binarymime(mail, request.param)
    [message] = mail.messages("user")
    return request.param, message["uid"]


def test_imap_body_peek_returns_the_octets_sent(mail: MailServer, sent) -> None:
    raw, uid = sent
    imap = imaplib.IMAP4(mail.host, mail.imap_port)
    imap.login("user", "pass")
    imap.select("INBOX", readonly=True)
    status, data = imap.uid("FETCH", str(uid), "(BODY.PEEK[])")
    assert status == "OK"
    assert data[0][1] == raw
    imap.logout()


def test_http_raw_returns_the_octets_sent(mail: MailServer, sent) -> None:
    raw, uid = sent
    got = Api(mail).get(f"/messages/{uid}/raw?user=user")
    assert got.status == 200 and got.content_type == "message/rfc822"
    assert got.body == raw


def test_the_json_api_gives_the_octets_sent(mail: MailServer, sent) -> None:
    raw, uid = sent
    detail = Api(mail).get(f"/messages/{uid}?user=user").json()
    if raw is UTF8:
        assert detail["raw"].encode("utf-8") == raw and "raw_base64" not in detail
    else:
        assert base64.b64decode(detail["raw_base64"]) == raw
    assert detail["size"] == len(raw)  # RFC 9051's RFC822.SIZE: the octets stored
