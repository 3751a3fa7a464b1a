"""The control API's pure parts, without sockets: request bodies, message rendering, the token
check and parameter parsing."""

from __future__ import annotations

import pytest

from elektromail import mime
from elektromail.http import bodies, render
from elektromail.http.auth import TokenCheck
from elektromail.http.jsonio import ApiError, path_uid
from elektromail.http.site import body_limit
from elektromail.store import MessageSummary

# --- bodies --------------------------------------------------------------------------------------


def test_injection_defaults():
    given = bodies.parse_injection({"user": "u", "raw": "S: x\n\n"}, 100)
    assert given == bodies.Injection("u", "INBOX", b"S: x\r\n\r\n", (), None, 0)


def test_injection_mailbox_is_canonical():
    given = bodies.parse_injection({"user": "u", "raw": "x", "mailbox": "inbox/Sub"}, 100)
    assert given.mailbox == "INBOX/Sub"


def test_size_is_checked_after_crlf():
    assert bodies.parse_injection({"user": "u", "raw": "a\r\n"}, 3).raw == b"a\r\n"
    with pytest.raises(ApiError) as info:
        bodies.parse_injection({"user": "u", "raw": "ab\n"}, 3)
    assert info.value.status == 413


def test_flags_are_canonical_and_unique():
    assert bodies.parse_flags(["\\SEEN", "\\seen", "$Label1", "\\draft"]) == (
        "\\Seen",
        "$Label1",
        "\\Draft",
    )


@pytest.mark.parametrize(
    ("value", "when", "tz"),
    [
        ("01-Jan-2024 00:00:00 +0000", 1704067200.0, 0),
        (" 1-jan-2024 01:00:00 +0100", 1704067200.0, 60),
        ("01-Jan-2024 00:00:00 -0130", 1704067200.0 + 5400, -90),
        ("2024-01-01T00:00:00", 1704067200.0, 0),
        ("2024-01-01T02:00:00+02:00", 1704067200.0, 120),
        (1704067200, 1704067200.0, 0),
        (1704067200.5, 1704067200.5, 0),
    ],
)
def test_internal_dates(value, when, tz):
    assert bodies.parse_internal_date(value) == (when, tz)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "31-Feb-2024 00:00:00 +0000",
        "01-Foo-2024 00:00:00 +0000",
        "01-Jan-2024 00:00:00",
        "01-Jan-2024 00:00:00 +2400",
        "tomorrow",
        [],
        {},
        False,
        -5,
        1e20,
        float("inf"),
    ],
)
def test_bad_internal_dates(value):
    with pytest.raises(ApiError) as info:
        bodies.parse_internal_date(value)
    assert "'internal_date'" in info.value.message


def test_new_user_email_is_trimmed():
    given = bodies.parse_new_user({"user": "dan", "password": "p w", "email": " d@x.test "})
    assert given == bodies.NewUser("dan", "p w", "d@x.test")


# --- rendering -----------------------------------------------------------------------------------


def summary(raw: bytes, **fields) -> MessageSummary:
    values = {
        "uid": 1,
        "user": "user",
        "mailbox": "INBOX",
        "flags": (),
        "internal_date": 0.0,
        "tz_minutes": 0,
    }
    values.update(fields)
    structure = mime.to_json(mime.parse(raw))
    return MessageSummary(size=len(raw), structure=structure, raw=raw, **values)


def test_headers_keep_order_and_first_spelling_and_decode():
    block = (
        b"Received: one\r\nSUBJECT: =?utf-8?b?w6R4?=\r\nreceived: two\r\nX-Long: a\r\n\tb\r\n\r\n"
    )
    assert render.headers(block) == {
        "Received": ["one", "two"],
        "SUBJECT": ["äx"],
        "X-Long": ["a\tb"],
    }


def test_internal_date_in_its_zone():
    assert render.iso_time(1704067200.9, 90) == "2024-01-01T01:30:00+01:30"
    assert render.iso_time(0, -300) == "1969-12-31T19:00:00-05:00"


def test_a_single_part_message_without_content_type_is_text():
    detail = render.detail(summary(b"Subject: s\r\n\r\nhello"))
    assert (detail["text"], detail["html"], detail["attachments"]) == ("hello", None, [])


def test_an_html_only_message():
    raw = b"Content-Type: text/html; charset=utf-8\r\n\r\n<b>hi</b>"
    detail = render.detail(summary(raw))
    assert (detail["text"], detail["html"]) == (None, "<b>hi</b>")


def test_attached_messages_and_second_text_parts_are_attachments():
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nfirst\r\n"
        b"--b\r\nContent-Type: text/plain; name=notes.txt\r\n\r\nsecond\r\n"
        b"--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n"
        b"--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw==\r\n"
        b"--b--\r\n"
    )
    detail = render.detail(summary(raw))
    assert detail["text"] == "first"
    attachments = detail["attachments"]
    assert [{k: a[k] for k in ("filename", "content_type", "size")} for a in attachments] == [
        {"filename": "notes.txt", "content_type": "text/plain", "size": 6},
        {"filename": None, "content_type": "message/rfc822", "size": 28},
        {"filename": None, "content_type": "image/png", "size": 4},
    ]
    assert [a["index"] for a in attachments] == [0, 1, 2]
    assert all(a["content_id"] is None for a in attachments)


@pytest.mark.parametrize(
    ("charset", "expected"),
    [("iso-8859-1", "caf\xe9"), ("nonsense", "caf\ufffd"), ("base64", "caf\ufffd")],
)
def test_text_charsets(charset, expected):
    raw = f"Content-Type: text/plain; charset={charset}\r\n\r\n".encode() + b"caf\xe9"
    assert render.detail(summary(raw))["text"] == expected


# --- the token and parameters --------------------------------------------------------------------


class FakeRequest:
    def __init__(self, authorization: bytes | None = None, query_token: bytes | None = None):
        self.authorization = authorization
        self.args = {b"token": [query_token]} if query_token is not None else {}

    def getHeader(self, name: bytes):
        return self.authorization if name == b"authorization" else None


def test_token_check():
    check = TokenCheck("tok")
    assert check.required and not TokenCheck(None).required
    check(FakeRequest(b"Bearer tok"))
    check(FakeRequest(query_token=b"tok"), True)
    for request, query_allowed in [
        (FakeRequest(), False),
        (FakeRequest(query_token=b"tok"), False),
        (FakeRequest(b"Bearer nope"), True),
        (FakeRequest(b"Token tok"), False),
    ]:
        with pytest.raises(ApiError) as info:
            check(request, query_allowed)
        assert info.value.status == 401
        assert b"WWW-Authenticate" in info.value.headers
    TokenCheck(None)(FakeRequest())


@pytest.mark.parametrize(
    ("text", "status"),
    [("0", 400), ("00", 400), ("x", 400), ("\u0661", 400), ("4294967296", 404), ("9" * 5000, 404)],
)
def test_path_uids_refused(text, status):
    with pytest.raises(ApiError) as info:
        path_uid(text)
    assert info.value.status == status


def test_path_uids():
    assert path_uid("007") == 7
    assert path_uid("4294967295") == 2**32 - 1


def test_body_limit_leaves_room_for_base64():
    assert body_limit(3) == 4 + 64 * 1024
    assert body_limit(50 * 1024 * 1024) > 50 * 1024 * 1024 * 4 // 3
