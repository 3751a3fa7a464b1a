"""POST /messages/{uid}/release (issue 19): a caught message sent on, its bytes unchanged, into
a second elektromail (plain, and with STARTTLS and AUTH), to a scripted upstream, to a refusing
one and to a closed port; and every way a request can be wrong, with nothing sent."""

from __future__ import annotations

import base64
import json
import smtplib
import socket

import pytest

from elektromail.testing import MailServer
from tests.fake_smtp import FakeUpstream
from tests.http.client import Api

RAW = (
    b"From: App <app@example.com>\r\n"
    b"To: user@example.com\r\n"
    b"Subject: dots and 8 bits\r\n"
    b"\r\n"
    b".\r\n..two\r\n.leading\r\n\xc3\xa9t\xc3\xa9 \xff\r\n" + b"z" * 5000 + b"\r\n"
    b"last line\r\n"
)


def _catcher(**relay) -> MailServer:
    return MailServer(users="user:pass,alice:wonder", http_port=0, imap_port=None, **relay)


def _upstream(**settings) -> MailServer:
    return MailServer(
        users="bob:pw,carol:pw", http_port=None, imap_port=None, pop3_port=None, **settings
    )


def _inject(api: Api, raw: bytes = RAW, user: str = "user") -> int:
    answer = api.post(
        "/inject", {"user": user, "raw_base64": base64.b64encode(raw).decode("ascii")}
    )
    assert answer.status == 201, answer.body
    return answer.json()["uid"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def upstream():
    with _upstream() as up:
        yield up


@pytest.fixture
def api(upstream):
    with _catcher(relay_host="127.0.0.1", relay_port=upstream.smtp_port, relay_tls="none") as c:
        yield Api(c)


def test_release_sends_the_stored_bytes_unchanged(api, upstream):
    uid = _inject(api)
    answer = api.post(f"/messages/{uid}/release?user=user", {"to": ["bob@localhost"]})
    assert answer.status == 200, answer.body
    body = answer.json()
    assert body["relay"] == f"127.0.0.1:{upstream.smtp_port}"
    assert body["from"] == "app@example.com"  # no transcript: the From header's address
    assert body["recipients"] == [
        {
            "address": "bob@localhost",
            "code": 250,
            "message": body["recipients"][0]["message"],
            "accepted": True,
        }
    ]
    assert body["reply"]["code"] == 250
    upstream.wait_for_messages(1, user="bob")
    assert _raw(upstream, "bob") == RAW
    # The caught copy stays where it was.
    assert api.get(f"/messages/{uid}/raw?user=user").body == RAW


def _raw(server: MailServer, user: str) -> bytes:
    [message] = server.messages(user=user)
    return message["raw"]


def test_no_body_and_empty_object_go_to_the_smtp_envelope(api, upstream):
    # The catcher got it over SMTP for two recipients (one a Bcc, in no header): released
    # without `to`, it goes to the accepted RCPT TO of its transcript, MAIL FROM as it came.
    catcher = api.mail
    with smtplib.SMTP(catcher.host, catcher.smtp_port, timeout=10) as client:
        client.sendmail(
            "app@example.com",
            ["user@example.com", "alice@example.com"],
            b"To: user@example.com\r\nSubject: hi\r\n\r\nhello\r\n",
        )
    [caught] = catcher.wait_for_messages(1, user="user")
    # The upstream routes by local part: user and alice are not users there, so route them.
    upstream.add_user("user", "pw")
    upstream.add_user("alice", "pw")
    first = api.request("POST", f"/messages/{caught['uid']}/release?user=user", data=b"")
    assert first.status == 200, first.body
    assert [r["address"] for r in first.json()["recipients"]] == [
        "user@example.com",
        "alice@example.com",
    ]
    assert first.json()["from"] == "app@example.com"
    second = api.post(f"/messages/{caught['uid']}/release?user=user", {})
    assert second.status == 200, second.body
    assert len(upstream.wait_for_messages(2, user="user")) == 2
    assert len(upstream.wait_for_messages(2, user="alice")) == 2


def test_an_injected_message_goes_to_its_to_and_cc(api, upstream):
    uid = _inject(
        api, b"From: a@example.com\r\nTo: bob@localhost\r\nCc: carol@localhost\r\n\r\nx\r\n"
    )
    answer = api.post(f"/messages/{uid}/release?user=user", {"to": None})
    assert answer.status == 200, answer.body
    assert [r["address"] for r in answer.json()["recipients"]] == [
        "bob@localhost",
        "carol@localhost",
    ]
    upstream.wait_for_messages(1, user="carol")


def test_from_replaces_mail_from(api, upstream):
    uid = _inject(api)
    answer = api.post(f"/messages/{uid}/release?user=user", {"to": ["bob@localhost"], "from": ""})
    assert answer.status == 200, answer.body
    assert answer.json()["from"] == ""


def test_a_message_with_no_recipients_needs_to(api, upstream):
    uid = _inject(api, b"Subject: nobody\r\n\r\nx\r\n")
    answer = api.post(f"/messages/{uid}/release?user=user")
    assert answer.status == 400
    assert "field 'to': required" in answer.error


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"{", "malformed JSON"),
        (b"[]", "expected a JSON object"),
        (b'"bob@localhost"', "expected a JSON object"),
        (b'{"to": "bob@localhost"}', "expected a list"),
        (b'{"to": {"a": 1}}', "expected a list"),
        (b'{"to": []}', "at least one"),
        (json.dumps({"to": [f"u{i}@localhost" for i in range(1000)]}).encode(), "at most 100"),
        (b'{"to": ["bob@localhost\\r\\nRCPT TO:<evil@x.test>"]}', "not a plain address"),
        (b'{"to": ["bob@localhost>\\r\\nDATA"]}', "not a plain address"),
        (b'{"to": ["<bob@localhost>"]}', "not a plain address"),
        (b'{"to": [5]}', "expected a string"),
        (b'{"to": ["b\xc3\xb6b@localhost"]}', "not a plain address"),
        (b'{"to": ["bob@localhost"], "from": "a\\r\\nRSET"}', "field 'from'"),
        (b'{"to": ["bob@localhost"], "recipients": []}', "unknown"),
        (b"\xff\xfe", "not UTF-8"),
    ],
    ids=[
        "truncated",
        "list",
        "string",
        "to-string",
        "to-object",
        "empty",
        "1000",
        "crlf",
        "bracket-crlf",
        "brackets",
        "number",
        "non-ascii",
        "from-crlf",
        "unknown-field",
        "not-utf8",
    ],
)
def test_bad_requests_are_refused_and_nothing_is_sent(api, upstream, data, expected):
    uid = _inject(api)
    answer = api.request("POST", f"/messages/{uid}/release?user=user", data=data)
    assert answer.status == 400, answer.body
    assert expected in answer.error
    assert upstream.messages(user="bob") == []


def test_a_message_with_a_bare_cr_is_422_and_not_sent(api, upstream):
    # /inject keeps a lone CR (it only makes bare LF into CRLF); SMTP may not carry one
    uid = _inject(api, b"To: bob@localhost\r\n\r\nline\r.\r\nMAIL FROM:<x@y>\r\n")
    answer = api.post(f"/messages/{uid}/release?user=user")
    assert answer.status == 422
    assert "bare CR or LF" in answer.error
    assert upstream.messages(user="bob") == []


def test_unknown_uid_and_a_deleted_message_are_404(api, upstream):
    answer = api.post("/messages/999/release?user=user", {"to": ["bob@localhost"]})
    assert answer.status == 404
    assert "no message with UID 999" in answer.error
    uid = _inject(api)
    assert api.delete(f"/messages/{uid}?user=user").status == 200  # expunged meanwhile
    answer = api.post(f"/messages/{uid}/release?user=user", {"to": ["bob@localhost"]})
    assert answer.status == 404
    assert api.post("/messages/1/release?user=nobody").status == 404
    assert upstream.messages(user="bob") == []


def test_namespaces_see_their_own_messages_only(api, upstream):
    made = api.post("/namespaces", {"name": "team"})
    assert made.status == 201, made.body
    uid = _inject(api)
    answer = api.post(
        f"/messages/{uid}/release?user=user&namespace=team", {"to": ["bob@localhost"]}
    )
    assert answer.status == 404  # `user` of namespace team is somebody else
    assert upstream.messages(user="bob") == []


def test_a_namespace_releases_its_own_messages(api, upstream):
    made = api.post("/namespaces", {"name": "team"})
    assert made.status == 201, made.body
    assert api.post("/users?namespace=team", {"user": "dev", "password": "pw"}).status == 201
    answer = api.post(
        "/inject?namespace=team",
        {"user": "dev", "raw_base64": base64.b64encode(RAW).decode("ascii")},
    )
    assert answer.status == 201, answer.body
    uid = answer.json()["uid"]
    released = api.post(
        f"/messages/{uid}/release?user=dev&namespace=team", {"to": ["bob@localhost"]}
    )
    assert released.status == 200, released.body
    upstream.wait_for_messages(1, user="bob")
    assert _raw(upstream, "bob") == RAW


def test_the_relay_password_is_in_no_repr():
    from elektromail.testing import build_settings

    settings = build_settings(relay_host="x.test", relay_user="me", relay_password="hunter2")
    assert "hunter2" not in repr(settings)


def test_without_a_relay_the_answer_is_409():
    with _catcher() as catcher:
        api = Api(catcher)
        uid = _inject(api)
        answer = api.post(f"/messages/{uid}/release?user=user", {"to": ["bob@localhost"]})
        assert answer.status == 409
        assert "--relay-host" in answer.error


def test_recipients_outside_relay_allow_are_403(upstream):
    with _catcher(
        relay_host="127.0.0.1",
        relay_port=upstream.smtp_port,
        relay_tls="none",
        relay_allow="*@localhost,*.test",
    ) as catcher:
        api = Api(catcher)
        uid = _inject(api)
        answer = api.post(
            f"/messages/{uid}/release?user=user",
            {"to": ["bob@localhost", "ceo@realcompany.com"]},
        )
        assert answer.status == 403
        assert "ceo@realcompany.com" in answer.error and "--relay-allow" in answer.error
        assert upstream.messages(user="bob") == []
        ok = api.post(f"/messages/{uid}/release?user=user", {"to": ["BOB@LOCALHOST"]})
        assert ok.status == 200, ok.body


def test_a_refused_recipient_is_502_with_the_upstream_reply():
    rules = [{"recipient": "nobody@*", "action": "reject", "code": 550, "status": "5.1.1"}]
    with (
        _upstream(dsn_rules=rules) as up,
        _catcher(relay_host="127.0.0.1", relay_port=up.smtp_port, relay_tls="none") as catcher,
    ):
        api = Api(catcher)
        uid = _inject(api)
        answer = api.post(f"/messages/{uid}/release?user=user", {"to": ["nobody@localhost"]})
        assert answer.status == 502
        body = answer.json()
        assert body["upstream"]["code"] == 550
        assert body["upstream"]["message"].startswith("5.1.1")
        assert body["recipients"] == [
            {
                "address": "nobody@localhost",
                "code": 550,
                "message": body["upstream"]["message"],
                "accepted": False,
            }
        ]
        assert "550" in body["error"]


def test_a_partly_refused_release_is_200_listing_the_refusal():
    rules = [{"recipient": "nobody@*", "action": "reject", "code": 550, "status": "5.1.1"}]
    with (
        _upstream(dsn_rules=rules) as up,
        _catcher(relay_host="127.0.0.1", relay_port=up.smtp_port, relay_tls="none") as catcher,
    ):
        api = Api(catcher)
        uid = _inject(api)
        answer = api.post(
            f"/messages/{uid}/release?user=user", {"to": ["nobody@localhost", "bob@localhost"]}
        )
        assert answer.status == 200, answer.body
        rows = {r["address"]: (r["code"], r["accepted"]) for r in answer.json()["recipients"]}
        assert rows == {"nobody@localhost": (550, False), "bob@localhost": (250, True)}
        assert _raw(up, "bob") == RAW


def test_a_refusal_after_the_data_is_502_with_its_code():
    rules = [{"action": "tempfail", "stage": "data", "code": 451, "status": "4.3.0"}]
    with (
        _upstream(dsn_rules=rules) as up,
        _catcher(relay_host="127.0.0.1", relay_port=up.smtp_port, relay_tls="none") as catcher,
    ):
        api = Api(catcher)
        uid = _inject(api)
        answer = api.post(f"/messages/{uid}/release?user=user", {"to": ["bob@localhost"]})
        assert answer.status == 502, answer.body
        assert answer.json()["upstream"]["code"] == 451
        assert answer.json()["recipients"][0]["accepted"] is True
        assert up.messages(user="bob") == []


def test_a_closed_port_is_502_without_an_upstream_reply():
    with _catcher(relay_host="127.0.0.1", relay_port=_closed_port(), relay_tls="none") as c:
        api = Api(c)
        uid = _inject(api)
        answer = api.post(f"/messages/{uid}/release?user=user", {"to": ["bob@localhost"]})
        assert answer.status == 502
        assert answer.json()["upstream"] is None
        assert answer.json()["recipients"] == []


def test_starttls_and_auth_into_an_upstream_that_requires_them():
    with (
        _upstream(require_auth=True) as up,
        _catcher(
            relay_host="127.0.0.1",
            relay_port=up.smtp_port,
            relay_tls="starttls",
            relay_tls_verify=False,  # the upstream's certificate is self-signed
            relay_user="bob",
            relay_password="pw",
        ) as catcher,
    ):
        api = Api(catcher)
        uid = _inject(api)
        answer = api.post(f"/messages/{uid}/release?user=user", {"to": ["carol@localhost"]})
        assert answer.status == 200, answer.body
        up.wait_for_messages(1, user="carol")
        assert _raw(up, "carol") == RAW


def test_implicit_tls_into_an_smtps_port():
    with (
        _upstream(smtps_port=0) as up,
        _catcher(
            relay_host="127.0.0.1",
            relay_port=up.server.port("smtps"),
            relay_tls="tls",
            relay_tls_verify=False,
        ) as catcher,
    ):
        api = Api(catcher)
        uid = _inject(api)
        answer = api.post(f"/messages/{uid}/release?user=user", {"to": ["carol@localhost"]})
        assert answer.status == 200, answer.body
        up.wait_for_messages(1, user="carol")
        assert _raw(up, "carol") == RAW


def test_starttls_required_but_not_offered_is_502_and_not_sent():
    with (
        FakeUpstream([b"8BITMIME"]) as up,
        _catcher(
            relay_host="127.0.0.1", relay_port=up.port, relay_tls="starttls", relay_tls_verify=False
        ) as catcher,
    ):
        api = Api(catcher)
        uid = _inject(api)
        answer = api.post(f"/messages/{uid}/release?user=user", {"to": ["bob@x.test"]})
        assert answer.status == 502, answer.body
        assert not any(line.upper().startswith(b"MAIL") for line in up.lines)
        assert up.messages == []


def test_a_wrong_relay_password_is_502_with_the_upstream_reply():
    with (
        _upstream(require_auth=True) as up,
        _catcher(
            relay_host="127.0.0.1",
            relay_port=up.smtp_port,
            relay_tls="starttls",
            relay_tls_verify=False,
            relay_user="bob",
            relay_password="wrong",
        ) as catcher,
    ):
        api = Api(catcher)
        uid = _inject(api)
        answer = api.post(f"/messages/{uid}/release?user=user", {"to": ["carol@localhost"]})
        assert answer.status == 502
        assert answer.json()["upstream"]["code"] == 535


def test_a_self_signed_upstream_is_refused_when_verifying():
    with (
        _upstream() as up,
        _catcher(relay_host="127.0.0.1", relay_port=up.smtp_port, relay_tls="starttls") as catcher,
    ):
        api = Api(catcher)
        uid = _inject(api)
        answer = api.post(f"/messages/{uid}/release?user=user", {"to": ["carol@localhost"]})
        assert answer.status == 502, answer.body
        assert up.messages(user="carol") == []


def test_8bit_message_to_an_upstream_without_8bitmime_is_502_and_not_sent():
    with (
        FakeUpstream([b"SIZE 100000"]) as up,
        _catcher(relay_host="127.0.0.1", relay_port=up.port, relay_tls="none") as catcher,
    ):
        api = Api(catcher)
        uid = _inject(api)
        answer = api.post(f"/messages/{uid}/release?user=user", {"to": ["bob@x.test"]})
        assert answer.status == 502
        assert "8BITMIME" in answer.json()["error"]
        assert up.messages == []


def test_the_upstream_reply_to_the_data_comes_back():
    with (
        FakeUpstream(data_reply=b"250 2.0.0 Ok: queued as 7F3A") as up,
        _catcher(relay_host="127.0.0.1", relay_port=up.port, relay_tls="none") as catcher,
    ):
        api = Api(catcher)
        uid = _inject(api)
        answer = api.post(f"/messages/{uid}/release?user=user", {"to": ["bob@x.test"]})
        assert answer.status == 200, answer.body
        assert answer.json()["reply"] == {"code": 250, "message": "2.0.0 Ok: queued as 7F3A"}
        assert up.mail_from().endswith(b"BODY=8BITMIME")
        assert up.messages == [RAW]


def test_config_shows_the_relay_but_never_its_password():
    with _catcher(
        relay_host="smtp.example.com",
        relay_user="me",
        relay_password="hunter2",
        relay_allow="*@example.com",
    ) as catcher:
        answer = Api(catcher).get("/config")
        body = answer.json()
        assert b"hunter2" not in answer.body
        assert {k: v for k, v in body.items() if k.startswith("relay_")} == {
            "relay_host": "smtp.example.com",
            "relay_port": 587,
            "relay_tls": "starttls",
            "relay_tls_verify": True,
            "relay_user": "me",
            "relay_password_set": True,
            "relay_allow": ["*@example.com"],
            "relay_timeout": 30,
        }


def test_the_plan_says_where_a_release_would_go(api, upstream):
    uid = _inject(api, b"From: a@example.com\r\nTo: bob@localhost, C <c@x.test>\r\n\r\nx\r\n")
    answer = api.get(f"/messages/{uid}/release?user=user")
    assert answer.status == 200
    assert answer.json() == {
        "relay": f"127.0.0.1:{upstream.smtp_port}",
        "from": "a@example.com",
        "to": ["bob@localhost", "c@x.test"],
    }
    assert upstream.messages(user="bob") == []  # nothing was sent
    assert api.get("/messages/99/release?user=user").status == 404


def test_the_plan_without_a_relay_has_none():
    with _catcher() as catcher:
        api = Api(catcher)
        uid = _inject(api)
        assert api.get(f"/messages/{uid}/release?user=user").json() == {
            "relay": None,
            "from": "app@example.com",
            "to": ["user@example.com"],
        }
