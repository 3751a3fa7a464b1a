"""GET /events: Server-Sent Events, one per delivered, flag-changed and expunged message."""

from __future__ import annotations

import imaplib
import json
import smtplib
import time

import pytest

from tests.http.client import Api
from tests.http.conftest import TOKEN


class Stream:
    """An open /events response, read record by record."""

    def __init__(self, api: Api, query: str = "") -> None:
        self.conn = api.connect(timeout=10)
        headers = {"Authorization": f"Bearer {api.token}"} if api.token else {}
        self.conn.request("GET", "/events" + query, headers=headers)
        self.response = self.conn.getresponse()
        assert self.response.status == 200
        assert self.response.headers["Content-Type"].startswith("text/event-stream")
        assert self.record() == {}  # the first record only says the stream is open

    def record(self) -> dict[str, str]:
        """The next record's fields; comment and `retry` lines count as lines, not fields."""
        fields: dict[str, str] = {}
        lines = 0
        while True:
            line = self.response.readline().decode()
            assert line, "stream ended"
            line = line.rstrip("\n")
            if not line:
                if lines:
                    return fields
                continue
            lines += 1
            name, _, value = line.partition(": ")
            if name and name != "retry":
                fields[name] = value

    def event(self) -> tuple[str, dict]:
        fields = self.record()
        assert int(fields["id"]) > 0
        return fields["event"], json.loads(fields["data"])

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def stream(api):
    opened = Stream(api)
    yield opened
    opened.close()


def test_an_smtp_delivery_is_an_event(stream, mail):
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as smtp:
        smtp.sendmail("a@b.test", ["alice@example.org"], b"Subject: hi\r\n\r\nhi\r\n")
    assert stream.event() == (
        "delivered",
        {"user": "alice", "mailbox": "INBOX", "uid": 1, "flags": []},
    )


def test_each_recipient_copy_is_its_own_event(stream, mail):
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as smtp:
        smtp.sendmail("a@b.test", ["alice@example.org", "bob@x.test"], b"Subject: x\r\n\r\n")
    users = {stream.event()[1]["user"], stream.event()[1]["user"]}
    assert users == {"alice", "bob"}


def test_flag_changes_and_expunges_are_events(stream, api, mail):
    api.inject("Subject: a\r\n\r\n", flags=["\\Seen"])
    api.inject("Subject: b\r\n\r\n")
    assert stream.event()[0] == "delivered"
    assert stream.event() == (
        "delivered",
        {"user": "user", "mailbox": "INBOX", "uid": 2, "flags": []},
    )
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login("user", "pass")
    client.select("INBOX")
    client.store("1:2", "+FLAGS", "(\\Deleted)")
    assert stream.event() == (
        "flags",
        {"user": "user", "mailbox": "INBOX", "uid": 1, "flags": ["\\Seen", "\\Deleted"]},
    )
    assert stream.event() == (
        "flags",
        {"user": "user", "mailbox": "INBOX", "uid": 2, "flags": ["\\Deleted"]},
    )
    client.expunge()
    assert stream.event() == ("expunged", {"user": "user", "mailbox": "INBOX", "uid": 1})
    assert stream.event() == ("expunged", {"user": "user", "mailbox": "INBOX", "uid": 2})
    client.logout()


def test_purge_sends_an_expunge_per_message(stream, api):
    api.inject("Subject: a\r\n\r\n")
    stream.event()
    assert api.post("/purge").json() == {"ok": True, "deleted": 1}
    assert stream.event() == ("expunged", {"user": "user", "mailbox": "INBOX", "uid": 1})


def test_user_and_mailbox_filters(api):
    stream = Stream(api, "?user=alice&mailbox=Archive")
    api.inject("Subject: a\r\n\r\n")
    api.inject("Subject: b\r\n\r\n", user="alice")
    api.inject("Subject: c\r\n\r\n", user="alice", mailbox="Archive")
    kind, data = stream.event()
    assert kind == "delivered"
    assert (data["user"], data["mailbox"], data["uid"]) == ("alice", "Archive", 1)
    stream.close()


def test_a_client_that_leaves_is_unsubscribed(api, mail):
    def subscribers() -> int:
        return mail.call(lambda: len(mail.server.events._subscribers))

    before = subscribers()
    stream = Stream(api)
    assert subscribers() == before + 1
    stream.close()
    deadline = time.monotonic() + 10
    while subscribers() != before:
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_token_in_the_query_is_accepted_on_events(guarded):
    stream = Stream(Api(guarded), f"?token={TOKEN}")
    Api(guarded, TOKEN).inject("Subject: a\r\n\r\n")
    assert stream.event()[0] == "delivered"
    stream.close()


@pytest.mark.parametrize("query", ["", "?token=wrong"])
def test_events_without_the_token_is_401(guarded, query):
    conn = Api(guarded).connect()
    conn.request("GET", "/events" + query)
    answer = conn.getresponse()
    assert answer.status == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert "error" in json.loads(answer.read())
    conn.close()


def test_head_answers_the_headers_without_waiting(api):
    conn = api.connect()
    conn.request("HEAD", "/events")
    answer = conn.getresponse()
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/event-stream")
    conn.close()
