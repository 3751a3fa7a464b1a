"""GET /messages, /messages/{uid} and /messages/{uid}/raw: what arrived, filtered, in full,
and as the exact stored bytes."""

from __future__ import annotations

import base64
import smtplib

import pytest

WELCOME = (
    b"From: =?utf-8?q?J=C3=BCrgen?= <app@example.com>\r\n"
    b"To: User <user@example.com>, alice@example.org\r\n"
    b"Cc: bob@example.net\r\n"
    b"Subject: Welcome =?utf-8?q?M=C3=BCller?=\r\n"
    b"Date: Wed, 25 Nov 2026 10:00:00 +0000\r\n"
    b"Message-ID: <1@example.com>\r\n"
    b"\r\n"
    b"Hello\r\n"
)

MULTIPART = (
    b"From: shop@example.com\r\n"
    b"To: user@example.com\r\n"
    b"Subject: Your invoice\r\n"
    b"X-Folded: one\r\n"
    b"  two\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n'
    b"\r\n"
    b"--outer\r\n"
    b'Content-Type: multipart/alternative; boundary="inner"\r\n'
    b"\r\n"
    b"--inner\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Gr=FC=DFe\r\n"
    b"--inner\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<p>Gr\xc3\xbc\xc3\x9fe</p>\r\n"
    b"--inner--\r\n"
    b"--outer\r\n"
    b"Content-Type: application/pdf; name=ignored.pdf\r\n"
    b"Content-Disposition: attachment; filename*=utf-8''Rechnung%20%C3%BC.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"JVBERi0xLjQK\r\n"
    b"--outer--\r\n"
)


def send(mail, recipients: list[str], raw: bytes) -> None:
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as client:
        client.sendmail("app@example.com", recipients, raw)


def test_list_item_fields_from_an_smtp_delivery(api, mail):
    send(mail, ["user@example.com"], WELCOME)
    answer = api.get("/messages")
    assert answer.status == 200
    listed = answer.json()
    assert (listed["count"], listed["timed_out"]) == (1, False)
    item = listed["messages"][0]
    internal_date = item.pop("internal_date")
    assert internal_date[:2] == "20" and internal_date.endswith("+00:00")
    assert item == {
        "uid": 1,
        "user": "user",
        "mailbox": "INBOX",
        "flags": [],
        "modseq": 2,  # INBOX starts at 1; the delivery took the next
        "size": len(WELCOME),
        "subject": "Welcome Müller",
        "from": "Jürgen <app@example.com>",
        "to": "User <user@example.com>, alice@example.org",
        "cc": "bob@example.net",
        "date": "Wed, 25 Nov 2026 10:00:00 +0000",
        "message_id": "<1@example.com>",
        "attachment_count": 0,
        "preview": "Hello",
    }


def test_absent_headers_are_null(api):
    api.inject("X-Nothing: here\r\n\r\nbody")
    item = api.get("/messages").json()["messages"][0]
    assert [item[k] for k in ("subject", "from", "to", "cc", "date", "message_id")] == [None] * 6


def test_newest_last_across_users_and_mailboxes(api):
    api.inject("Subject: one\r\n\r\n1", user="alice")
    api.inject("Subject: two\r\n\r\n2", user="user", mailbox="Archive")
    api.inject("Subject: three\r\n\r\n3", user="alice")
    subjects = [m["subject"] for m in api.get("/messages").json()["messages"]]
    assert subjects == ["one", "two", "three"]


@pytest.fixture
def three(api):
    api.inject("From: Shop <orders@shop.test>\r\nTo: alice@example.org\r\nSubject: Order 1\r\n\r\n")
    api.inject("From: news@paper.test\r\nTo: Alice <alice@example.org>\r\nSubject: News\r\n\r\n")
    api.inject(
        "From: Shop <orders@shop.test>\r\nTo: bob@example.net\r\nSubject: ORDER 2\r\n\r\n",
        user="bob",
        mailbox="Orders",
    )
    return api


@pytest.mark.parametrize(
    ("query", "subjects"),
    [
        ("user=user", ["Order 1", "News"]),
        ("user=bob", ["ORDER 2"]),
        ("mailbox=Orders", ["ORDER 2"]),
        ("mailbox=inbox", ["Order 1", "News"]),
        ("user=bob&mailbox=INBOX", []),
        ("subject=order", ["Order 1", "ORDER 2"]),
        ("from=SHOP.TEST", ["Order 1", "ORDER 2"]),
        ("to=alice", ["Order 1", "News"]),
        ("from=shop&to=bob", ["ORDER 2"]),
        ("user=nobody", []),
        ("subject=", ["Order 1", "News", "ORDER 2"]),
    ],
)
def test_filters(three, query, subjects):
    listed = three.get(f"/messages?{query}").json()
    assert [m["subject"] for m in listed["messages"]] == subjects
    assert listed["count"] == len(subjects)


def test_filters_match_decoded_headers(api, mail):
    send(mail, ["user@example.com"], WELCOME)
    assert api.get("/messages?subject=m%C3%BCller").json()["count"] == 1
    assert api.get("/messages?from=j%C3%BCrgen").json()["count"] == 1
    assert api.get("/messages?subject=utf-8").json()["count"] == 0


def test_one_message_in_full(api, mail):
    send(mail, ["user@example.com"], MULTIPART)
    answer = api.get("/messages/1?user=user&mailbox=INBOX")
    assert answer.status == 200
    message = answer.json()
    assert message["subject"] == "Your invoice"
    assert message["headers"]["X-Folded"] == ["one  two"]
    assert message["headers"]["Subject"] == ["Your invoice"]
    assert message["text"] == "Grüße"  # the CRLF before a boundary is the boundary's
    assert message["html"] == "<p>Grüße</p>"
    assert message["attachments"] == [
        {
            "index": 0,
            "filename": "Rechnung ü.pdf",
            "content_type": "application/pdf",
            "size": 9,
            "content_id": None,
        }
    ]
    assert message["raw"].encode() == MULTIPART
    assert "raw_base64" not in message


def test_raw_base64_only_when_not_utf8(api):
    api.post("/inject", {"user": "user", "raw_base64": "U3ViamVjdDog6Q0KDQr/"})
    message = api.get("/messages/1").json()
    assert message["raw_base64"] == "U3ViamVjdDog6Q0KDQr/"
    assert message["raw"] == "Subject: \ufffd\r\n\r\n\ufffd"
    assert message["subject"] == "é"  # 8-bit header bytes that are not UTF-8 read as latin-1


# Mail that is not UTF-8, as it arrives: latin-1 and windows-1252 8-bit text, a truncated UTF-8
# sequence, an overlong "/", a lone continuation byte, an encoded surrogate, NUL and 0xFF.
EIGHT_BIT = [
    b"Subject: Gr\xfc\xdfe\r\nContent-Type: text/plain; charset=latin-1\r\n\r\nK\xe4se \x80\r\n",
    b"Subject: x\r\n\r\ncut \xe2\x82\r\n",
    b"Subject: x\r\n\r\noverlong \xc0\xaf and \x80 alone\r\n",
    b"Subject: x\r\n\r\nsurrogate \xed\xa0\x80\r\n",
    b"Subject: x\r\n\r\n\x00\xff\xfe\r\n",
]


@pytest.mark.parametrize("raw", EIGHT_BIT, ids=range(len(EIGHT_BIT)))
def test_mail_that_is_not_utf8_round_trips_exactly_through_raw_base64(api, mail, raw):
    """Bytes are sacred (DESIGN.md): `raw` is lossy (U+FFFD), `raw_base64` is the bytes; over
    SMTP (8BITMIME) and /inject alike."""
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as smtp:
        smtp.sendmail("app@example.com", ["user@example.com"], raw)
    api.post("/inject", {"user": "user", "raw_base64": base64.b64encode(raw).decode()})
    for uid in (1, 2):
        message = api.get(f"/messages/{uid}?user=user").json()
        assert base64.b64decode(message["raw_base64"]) == raw
        assert message["raw"] == raw.decode("utf-8", "replace")
        assert "\ufffd" in message["raw"]
        assert api.get(f"/messages/{uid}/raw?user=user").body == raw


def test_raw_base64_on_request_for_utf8_mail_too(api):
    raw = "Subject: Grüße\r\n\r\nKäse\r\n".encode()
    api.post("/inject", {"user": "user", "raw": raw.decode()})
    plain = api.get("/messages/1").json()
    assert "raw_base64" not in plain  # the common answer carries the message once
    assert plain["raw"].encode() == raw  # and is exact, since raw_base64 is absent
    both = api.get("/messages/1?raw=base64").json()
    assert base64.b64decode(both["raw_base64"]) == raw
    assert both["raw"] == plain["raw"]
    assert "raw_base64" not in api.get("/messages/1?raw=text").json()


@pytest.mark.parametrize("form", ["BASE64", "bytes", "1"])
def test_an_unknown_raw_form_is_400(api, form):
    api.post("/inject", {"user": "user", "raw": "Subject: x\r\n\r\nx"})
    answer = api.get(f"/messages/1?raw={form}")
    assert answer.status == 400
    assert "parameter 'raw'" in answer.error


def test_the_python_api_gives_the_exact_bytes(mail):
    for raw in EIGHT_BIT:
        mail.inject("user", raw)
    assert [m["raw"] for m in mail.messages("user")] == EIGHT_BIT


def test_without_user_the_only_user_with_mail_is_meant(api):
    api.inject("Subject: mine\r\n\r\n", user="alice")
    assert api.get("/messages/1").json()["user"] == "alice"
    assert api.get("/messages/1/raw").status == 200


def test_without_user_and_several_users_with_mail_is_400_naming_user(api):
    api.inject("Subject: a\r\n\r\n", user="alice")
    api.inject("Subject: b\r\n\r\n", user="bob")
    for path in ("/messages/1", "/messages/1/raw"):
        answer = api.get(path)
        assert answer.status == 400
        assert "'user'" in answer.error


@pytest.mark.parametrize(
    ("path", "word"),
    [
        ("/messages/1?user=nobody", "nobody"),
        ("/messages/1?user=user&mailbox=Nowhere", "Nowhere"),
        ("/messages/7?user=user", "7"),
        ("/messages/7/raw?user=user", "7"),
        ("/messages/99999999999?user=user", "99999999999"),
    ],
)
def test_unknown_user_mailbox_or_uid_is_404(api, path, word):
    api.inject("Subject: a\r\n\r\n")
    answer = api.get(path)
    assert answer.status == 404
    assert word in answer.error


def test_nobody_with_mail_is_404(api):
    assert api.get("/messages/1").status == 404


@pytest.mark.parametrize("uid", ["abc", "0", "-1", "1.5"])
def test_a_uid_that_is_not_a_number_is_400(api, uid):
    answer = api.get(f"/messages/{uid}?user=user")
    assert answer.status == 400
    assert "'uid'" in answer.error


def test_raw_gives_the_exact_bytes_as_message_rfc822(api, mail):
    send(mail, ["user@example.com"], MULTIPART)
    answer = api.get("/messages/1/raw?user=user")
    assert answer.status == 200
    assert answer.content_type == "message/rfc822"
    assert answer.body == MULTIPART


def test_a_message_s_modseq_grows_with_each_change_of_its_flags(api, mail):
    # issue 16: the HTTP API shows the CONDSTORE mod-sequence (RFC 7162 §3.1) of each message
    send(mail, ["user@example.com"], WELCOME)
    before = api.get("/messages").json()["messages"][0]["modseq"]
    changed = api.patch("/messages/1?user=user", {"seen": True})
    assert changed.status == 200 and changed.json()["modseq"] == before + 1
    assert api.get("/messages/1?user=user").json()["modseq"] == before + 1
    again = api.patch("/messages/1?user=user", {"seen": True})  # nothing changed: no new one
    assert again.json()["modseq"] == before + 1
