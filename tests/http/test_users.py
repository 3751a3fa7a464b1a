"""GET/POST /users and DELETE /users/{user}: runtime users, usable over SMTP and IMAP at once."""

from __future__ import annotations

import imaplib
import smtplib

import pytest


def imap_login_works(mail, user: str, password: str) -> bool:
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    try:
        client.login(user, password)
    except imaplib.IMAP4.error:
        return False
    finally:
        client.shutdown()
    return True


def test_list_users_without_email_by_default(api):
    answer = api.get("/users")
    assert answer.status == 200
    assert answer.json() == [{"user": "user"}, {"user": "alice"}, {"user": "bob"}]


@pytest.mark.parametrize("value", ["true", "1", "yes"])
def test_include_email_adds_email_or_null(api, value):
    assert api.get(f"/users?include_email={value}").json() == [
        {"user": "user", "email": None},
        {"user": "alice", "email": "alice@example.org"},
        {"user": "bob", "email": None},
    ]


def test_include_email_false_and_invalid(api):
    assert api.get("/users?include_email=false").json()[0] == {"user": "user"}
    answer = api.get("/users?include_email=maybe")
    assert answer.status == 400 and "'include_email'" in answer.error


def test_users_never_show_passwords(api):
    assert "wonder" not in api.get("/users?include_email=true").body.decode()


def test_created_user_logs_in_over_imap_and_gets_mail_by_email(api, mail):
    answer = api.post("/users", {"user": "carol", "password": "pw", "email": "carol@corp.test"})
    assert answer.status == 201
    assert answer.json() == {"user": "carol", "email": "carol@corp.test"}
    assert imap_login_works(mail, "carol", "pw")
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as smtp:
        smtp.sendmail("a@b.test", ["carol@corp.test"], b"Subject: for carol\r\n\r\nhi\r\n")
    listed = api.get("/messages?user=carol").json()
    assert [m["subject"] for m in listed["messages"]] == ["for carol"]
    assert {"user": "carol", "email": "carol@corp.test"} in api.get(
        "/users?include_email=true"
    ).json()


def test_creating_an_existing_user_is_409(api):
    answer = api.post("/users", {"user": "Alice", "password": "x"})
    assert answer.status == 409
    assert "alice" in answer.error.lower()
    taken = api.post("/users", {"user": "eve", "password": "x", "email": "alice@example.org"})
    assert taken.status == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": "pw"}, "user"),
        ({"user": "", "password": "pw"}, "user"),
        ({"user": "a b", "password": "pw"}, "user"),
        ({"user": "a@b", "password": "pw"}, "user"),
        ({"user": ["x"], "password": "pw"}, "user"),
        ({"user": "dan"}, "password"),
        ({"user": "dan", "password": ""}, "password"),
        ({"user": "dan", "password": 1}, "password"),
        ({"user": "dan", "password": "pw", "email": "no-at-sign"}, "email"),
        ({"user": "dan", "password": "pw", "email": 5}, "email"),
    ],
    ids=lambda value: None if isinstance(value, dict) else value,
)
def test_invalid_user_fields_are_400_naming_the_field(api, body, field):
    answer = api.post("/users", body)
    assert answer.status == 400
    assert f"'{field}'" in answer.error
    assert len(api.get("/users").json()) == 3


def test_delete_user_removes_login_and_mail(api, mail):
    api.post("/users", {"user": "carol", "password": "pw"})
    api.inject("Subject: x\r\n\r\ny", user="carol")
    answer = api.delete("/users/carol")
    assert answer.status == 200
    assert answer.json() == {"ok": True}
    assert not imap_login_works(mail, "carol", "pw")
    assert api.get("/messages?user=carol").json()["count"] == 0
    assert {"user": "carol"} not in api.get("/users").json()


def test_delete_unknown_user_is_404(api):
    answer = api.delete("/users/nobody")
    assert answer.status == 404
    assert "nobody" in answer.error
