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


@pytest.mark.parametrize("value", [2**53 + 1, 10**30, -(2**63), 1e300, 2.5, "1000", {"n": 1}])
def test_limits_out_of_range_or_of_the_wrong_type_name_the_field(api, value):
    """The API's error shape, {"error": "..."}, naming the field and what it takes."""
    answer = api.put("/users/user/quota", {"storage": value})
    assert answer.status == 400
    assert answer.json() == {
        "error": "field 'storage': expected a whole number from 0 to 2^53, or null"
    }


def test_the_largest_limit_is_taken(api):
    assert api.put("/users/user/quota", {"storage": 2**53}).json()["storage"]["own"] == 2**53


def test_a_whole_number_written_with_a_fraction_is_a_whole_number(api):
    """JSON Schema's "integer" takes 1000.0, and so does the API."""
    assert api.put("/users/user/quota", {"messages": 1000.0}).json()["messages"]["own"] == 1000


@pytest.mark.parametrize(
    "data", [b"", b"{", b"storage=5", b"\xff\xfe", b'{"storage": 1,}', b"null", b"[1, 2]"]
)
def test_a_body_that_is_not_a_json_object_is_400(api, data):
    api.put("/users/user/quota", {"messages": 7})
    headers = {"Content-Type": "application/json"}
    answer = api.request("PUT", "/users/user/quota", data=data, headers=headers)
    assert answer.status == 400
    assert set(answer.json()) == {"error"}
    assert api.get("/users/user/quota").json()["messages"]["limit"] == 7
