"""POST /inject: stored as given (bare LF as CRLF), in a mailbox made on demand, acknowledged
only once stored, and seen at once by IMAP sessions."""

from __future__ import annotations

import base64
import imaplib
import re

import pytest

from elektromail.testing import MailServer
from tests.http.client import Api
from tests.imap.wire import ImapWire

MESSAGE = "From: App <app@example.com>\nTo: user@example.com\nSubject: Hi\n\nHello\n"


def imap_login(mail: MailServer, user: str = "user", password: str = "pass") -> imaplib.IMAP4:
    client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    client.login(user, password)
    return client


def test_inject_answers_201_with_the_uid(api):
    first = api.post("/inject", {"user": "user", "raw": MESSAGE})
    assert (first.status, first.json()) == (201, {"uid": 1})
    assert api.post("/inject", {"user": "user", "raw": MESSAGE}).json() == {"uid": 2}


def test_bare_lf_is_stored_as_crlf_and_crlf_is_kept(api, mail):
    api.inject("A: 1\nB: 2\r\n\r\nbody\nend\r\n")
    stored = api.get("/messages/1/raw?user=user").body
    assert stored == b"A: 1\r\nB: 2\r\n\r\nbody\r\nend\r\n"
    client = imap_login(mail)
    client.select("INBOX")
    assert client.fetch("1", "(BODY.PEEK[])")[1][0][1] == stored
    client.logout()


def test_raw_base64_stores_any_bytes(api):
    raw = b"Subject: latin-1 \xe9\r\n\r\n\x00\xff\r\n"
    answer = api.post("/inject", {"user": "user", "raw_base64": base64.b64encode(raw).decode()})
    assert answer.status == 201
    assert api.get("/messages/1/raw?user=user").body == raw


def test_inject_creates_the_mailbox_with_its_parents(api, mail):
    uid = api.inject(MESSAGE, mailbox="Archive/2024/Q1")
    assert uid == 1
    client = imap_login(mail)
    typ, listing = client.list()
    assert typ == "OK"
    names = [line.decode().rsplit(" ", 1)[1].strip('"') for line in listing]
    assert {"Archive", "Archive/2024", "Archive/2024/Q1"} <= set(names)
    assert client.select("Archive/2024/Q1") == ("OK", [b"1"])
    client.logout()


def test_flags_and_internal_date_are_stored(api, mail):
    api.inject(
        MESSAGE,
        flags=["\\seen", "$Label1"],
        internal_date="01-Jan-2024 10:00:00 +0200",
    )
    client = imap_login(mail)
    client.select("INBOX")
    typ, data = client.fetch("1", "(FLAGS INTERNALDATE)")
    assert typ == "OK"
    assert b"FLAGS (\\Seen \\Recent $Label1)" in data[0]  # injected mail is new mail
    assert b'INTERNALDATE "01-Jan-2024 10:00:00 +0200"' in data[0]
    client.logout()
    item = api.get("/messages").json()["messages"][0]
    assert item["internal_date"] == "2024-01-01T10:00:00+02:00"
    assert item["flags"] == ["\\Seen", "$Label1"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2024-03-01T12:30:00Z", "2024-03-01T12:30:00+00:00"),
        ("2024-03-01T12:30:00-05:00", "2024-03-01T12:30:00-05:00"),
        (0, "1970-01-01T00:00:00+00:00"),
    ],
    ids=["iso-utc", "iso-offset", "epoch-seconds"],
)
def test_internal_date_forms(api, given, expected):
    api.inject(MESSAGE, internal_date=given)
    assert api.get("/messages").json()["messages"][0]["internal_date"] == expected


def test_idle_session_sees_an_injected_message_at_once(api, mail):
    api.inject(MESSAGE)
    wire = ImapWire(mail.imap_port, mail.host)
    assert wire.greeting.startswith(b"* OK")
    wire.send(b"a LOGIN user pass\r\nb SELECT INBOX\r\n")
    assert wire.lines_until(b"b OK")
    wire.send(b"c IDLE\r\n")
    assert wire.line() == b"+ idling\r\n"
    api.inject(MESSAGE)
    assert wire.line() == b"* 2 EXISTS\r\n"
    wire.send(b"DONE\r\n")
    *untagged, done = wire.lines_until(b"c ")
    assert all(line.startswith(b"* ") for line in untagged)
    assert done.startswith(b"c OK")
    wire.close()


def test_selected_session_sees_it_on_noop(api, mail):
    client = imap_login(mail)
    assert client.select("INBOX") == ("OK", [b"0"])
    api.inject(MESSAGE)
    assert client.noop()[0] == "OK"
    assert client.response("EXISTS")[1][-1] == b"1"
    client.logout()


def test_unknown_user_is_404(api):
    answer = api.post("/inject", {"user": "nobody", "raw": MESSAGE})
    assert answer.status == 404
    assert "nobody" in answer.error


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"raw": MESSAGE}, "user"),
        ({"user": "user"}, "raw"),
        ({"user": "user", "raw": ""}, "raw"),
        ({"user": "user", "raw": 5}, "raw"),
        ({"user": "user", "raw": MESSAGE, "raw_base64": "QQ=="}, "raw_base64"),
        ({"user": "user", "raw_base64": "!!not base64"}, "raw_base64"),
        ({"user": 7, "raw": MESSAGE}, "user"),
        ({"user": "user", "raw": MESSAGE, "mailbox": ""}, "mailbox"),
        ({"user": "user", "raw": MESSAGE, "mailbox": "a//b"}, "mailbox"),
        ({"user": "user", "raw": MESSAGE, "mailbox": 3}, "mailbox"),
        ({"user": "user", "raw": MESSAGE, "flags": "\\Seen"}, "flags"),
        ({"user": "user", "raw": MESSAGE, "flags": ["\\Recent"]}, "flags"),
        ({"user": "user", "raw": MESSAGE, "flags": ["two words"]}, "flags"),
        ({"user": "user", "raw": MESSAGE, "flags": [1]}, "flags"),
        ({"user": "user", "raw": MESSAGE, "internal_date": "yesterday"}, "internal_date"),
        ({"user": "user", "raw": MESSAGE, "internal_date": True}, "internal_date"),
        ({"user": "user", "raw": MESSAGE, "internal_date": -1}, "internal_date"),
    ],
    ids=lambda value: None if isinstance(value, dict) else value,
)
def test_invalid_fields_are_400_naming_the_field(api, body, field):
    answer = api.post("/inject", body)
    assert answer.status == 400
    assert f"'{field}'" in answer.error
    assert api.get("/messages").json()["count"] == 0


def test_a_message_over_the_size_limit_is_413():
    with MailServer(http_port=0, max_message_size="1K") as mail:
        api = Api(mail)
        answer = api.post("/inject", {"user": "user", "raw": "Subject: big\r\n\r\n" + "x" * 2000})
        assert answer.status == 413
        assert "'raw'" in answer.error
        assert api.post("/inject", {"user": "user", "raw": "Subject: ok\r\n\r\nx"}).status == 201


def test_a_body_over_the_request_limit_is_413_without_being_parsed():
    with MailServer(http_port=0, max_message_size="1K") as mail:
        api = Api(mail)
        answer = api.request("POST", "/inject", data=b"{" + b" " * 200_000 + b"}")
        assert answer.status == 413
        assert "exceeds" in answer.error


# --- the one mailbox-name rule (elektromail.names), as IMAP CREATE applies it ---------------


@pytest.mark.parametrize(
    ("mailbox", "problem"),
    [
        ("..", "contains a '..' level"),
        ("../..", "contains a '..' level"),
        ("a/.", "contains a '.' level"),
        ("/a", "begins with the hierarchy delimiter /"),
        ("a/", "ends with the hierarchy delimiter /"),
        ("~me", "begins with '~'"),
        ("a\u0007b", "contains a control character"),
        ("x" * 4097, "longer than 4096 bytes"),
        ("&AOk-", "names are given as UTF-8 text: 'é'"),
        ("Entw&APw-rfe", "UTF-8 text: 'Entwürfe'"),
    ],
)
def test_inject_refuses_a_mailbox_name_as_imap_create_does(api, mail, mailbox, problem):
    answer = api.post("/inject", {"user": "user", "raw": MESSAGE, "mailbox": mailbox})
    assert answer.status == 400
    assert answer.error.startswith("field 'mailbox': invalid mailbox name")
    assert problem in answer.error
    assert api.get("/messages?mailbox=").json()["count"] == 0
    names = {m["mailbox"] for m in api.get("/mailboxes?user=user").json()}
    assert names == {"INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"}


@pytest.mark.parametrize(
    ("mailbox", "rev1", "rev2"),
    [
        ("é", b"&AOk-", '"é"'.encode()),
        ("Entwürfe/2024", b"Entw&APw-rfe/2024", '"Entwürfe/2024"'.encode()),
        (" ", b'" "', b'" "'),
        ("Tom & Jerry", b'"Tom &- Jerry"', b'"Tom & Jerry"'),
        ("trail ", b'"trail "', b'"trail "'),
    ],
)
def test_an_injected_name_is_the_mailbox_imap_shows(api, mail, mailbox, rev1, rev2):
    """A UTF-8 name from JSON names the mailbox IMAP4rev1 lists in modified UTF-7 (RFC 3501
    §5.1.3) and IMAP4rev2 lists in UTF-8 (RFC 9051 §5.1)."""
    assert api.post("/inject", {"user": "user", "raw": MESSAGE, "mailbox": mailbox}).status == 201
    wire = ImapWire(mail.imap_port, mail.host)
    wire.login("user", "pass")
    listing = b"".join(wire.tagged('LIST "" "*"'))
    assert b' "/" ' + rev1 + b"\r\n" in listing
    wire.tagged("ENABLE IMAP4rev2")
    listing = b"".join(wire.tagged('LIST "" "*"'))
    assert b' "/" ' + rev2 + b"\r\n" in listing
    wire.close()


def test_a_lookup_of_a_name_no_mailbox_can_have_is_400_naming_the_problem(api):
    api.inject(MESSAGE)
    answer = api.get("/messages/1?user=user&mailbox=..")
    assert (answer.status, "contains a '..' level" in answer.error) == (400, True)
    answer = api.get("/messages/1?user=user&mailbox=%26AOk-")
    assert (answer.status, "'é'" in answer.error) == (400, True)
    assert api.get("/messages/1?user=user&mailbox=Nowhere").status == 404


def test_a_mailbox_stored_under_an_older_rule_stays_reachable(api, mail):
    """A mailbox `..` (as /inject used to make) is still read and deleted by the API."""
    mail.call(mail.server.postoffice.deliver, ["user@example.com"], MESSAGE.encode(), "..")
    assert api.get("/messages/1?user=user&mailbox=..").status == 200
    assert api.delete("/messages/1?user=user&mailbox=..").status in (200, 204)


def test_the_python_api_refuses_the_same_names(mail):
    with pytest.raises(ValueError, match=re.escape("contains a '..' level")):
        mail.inject("user", MESSAGE, mailbox="../x")
    with pytest.raises(ValueError, match="UTF-8 text: 'é'"):
        mail.inject("user", MESSAGE, mailbox="&AOk-")
    assert mail.inject("user", MESSAGE, mailbox="é") == 1


@pytest.mark.parametrize("route", ["/messages", "/messages/wait?timeout=0&", "/events"])
def test_a_filter_naming_no_possible_mailbox_is_400(api, route):
    """?mailbox= of a listing, a wait or the event stream: a name the one rule refuses could
    never match (400 naming why, and the UTF-8 text for modified UTF-7); a good name of no
    mailbox yet is simply a filter."""
    base = route if route.endswith("&") else route + "?"
    answer = api.get(base + "user=user&mailbox=..")
    assert answer.status == 400 and "contains a '..' level" in answer.error
    answer = api.get(base + "user=user&mailbox=Entw%26APw-rfe")
    assert answer.status == 400 and "'Entwürfe'" in answer.error


def test_a_filter_for_a_good_name_or_a_mailbox_of_the_older_rule_lists(api, mail):
    assert api.get("/messages?mailbox=Nowhere").json()["count"] == 0
    mail.call(mail.server.postoffice.deliver, ["user@example.com"], MESSAGE.encode(), "..")
    assert api.get("/messages?mailbox=..").json()["count"] == 1
    assert api.get("/messages?user=user&mailbox=..").json()["count"] == 1
