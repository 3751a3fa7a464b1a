"""GET/PUT /users/{user}/quota: a user's limits (their own, else the server's) and usage, the
same that IMAP GETQUOTA reports (RFC 9208)."""

from __future__ import annotations

import pytest

from elektromail.testing import MailServer
from tests.http.client import Api


def test_no_limits_by_default_and_usage_over_every_mailbox(api, mail):
    mail.inject("user", b"Subject: one\r\n\r\n" + b"x" * 1000)
    mail.inject("user", b"Subject: two\r\n\r\nshort", mailbox="Archive")
    answer = api.get("/users/user/quota")
    assert answer.status == 200
    size = len(b"Subject: one\r\n\r\n") + 1000 + len(b"Subject: two\r\n\r\nshort")
    assert answer.json() == {
        "storage": {"used": size, "limit": None, "own": None},
        "messages": {"used": 2, "limit": None, "own": None},
    }


def test_a_users_own_limits_replace_the_servers_and_null_gives_them_back():
    with MailServer(http_port=0, quota_storage=10_000, quota_messages=5) as mail:
        api = Api(mail)
        assert api.get("/users/user/quota").json()["storage"] == {
            "used": 0,
            "limit": 10_000,
            "own": None,
        }
        answer = api.put("/users/USER/quota", {"messages": 0})
        assert answer.status == 200
        assert answer.json()["messages"] == {"used": 0, "limit": 0, "own": 0}
        assert answer.json()["storage"]["limit"] == 10_000  # missing: the server's
        assert api.put("/users/user/quota", {"storage": None}).json()["messages"]["limit"] == 5


def test_reset_clears_own_limits(api):
    api.put("/users/user/quota", {"storage": 5})
    api.post("/reset")
    assert api.get("/users/user/quota").json()["storage"]["own"] is None


def test_own_limits_survive_a_restart(tmp_path):
    db = str(tmp_path / "mail.db")
    with MailServer(http_port=0, db=db) as mail:
        Api(mail).put("/users/user/quota", {"storage": 2048, "messages": 3})
    with MailServer(http_port=0, db=db) as mail:
        quota = Api(mail).get("/users/user/quota").json()
        assert (quota["storage"]["limit"], quota["messages"]["limit"]) == (2048, 3)


def test_an_unknown_user_is_404(api):
    assert api.get("/users/nobody/quota").status == 404
    assert api.put("/users/nobody/quota", {"storage": 1}).status == 404


@pytest.mark.parametrize(
    "body",
    [
        {"storage": -1},
        {"messages": 1.5},
        {"messages": True},
        {"storage": "10M"},
        {"storage": 2**60},
        {"size": 1},
        [],
        "limits",
    ],
)
def test_bad_limits_are_400_and_change_nothing(api, body):
    api.put("/users/user/quota", {"messages": 7})
    answer = api.put("/users/user/quota", body)
    assert answer.status == 400, answer.json()
    assert api.get("/users/user/quota").json()["messages"]["limit"] == 7
