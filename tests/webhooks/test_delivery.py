"""Webhooks of a running server: what counts as a delivery (SMTP, bounces, /inject, IMAP
APPEND; not COPY), the payload (the message exactly as GET /messages lists it), the signature,
8-bit mail, a burst, GET /webhooks and /config, and a stop with webhooks pending."""

from __future__ import annotations

import hashlib
import hmac
import imaplib
import json
import smtplib
import threading

import pytest

from elektromail.testing import MailServer, call_in_reactor, reactor_in_thread
from tests.http.client import Api
from tests.http.openapi_check import validator
from tests.webhooks.receiver import Receiver, listen, url_of

SECRET = "hook-s3cret"
USERS = "user:pass,bob:bob@example.org:builder"


@pytest.fixture
def receiver():
    receiver = Receiver()
    port = call_in_reactor(listen, reactor_in_thread(), receiver)
    receiver.url = url_of(port)
    yield receiver
    call_in_reactor(port.stopListening)


@pytest.fixture
def mail(receiver):
    with MailServer(
        users=USERS, http_port=0, webhook_urls=[receiver.url], webhook_secret=SECRET
    ) as server:
        yield server


def calls(receiver: Receiver, count: int) -> list[dict]:
    return [json.loads(r.body) for r in receiver.wait_for(count)]


def smtp_send(mail: MailServer, to: str, data: bytes) -> None:
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as client:
        client.sendmail("sender@example.com", [to], data)


def listed(api: Api, user: str, uid: int) -> dict:
    for item in api.get(f"/messages?user={user}").json()["messages"]:
        if item["uid"] == uid:
            return item
    raise AssertionError(f"no {uid} in {user}'s messages")


def test_an_smtp_delivery_posts_the_summary_that_get_messages_lists(mail, receiver):
    smtp_send(mail, "bob@example.org", b"Subject: Hello\r\nFrom: a@example.com\r\n\r\nHi bob\r\n")
    (got,) = receiver.wait_for(1)
    body = json.loads(got.body)
    api = Api(mail)
    assert body["message"] == listed(api, "bob", body["message"]["uid"])
    assert set(body) == {"id", "event", "source", "user", "mailbox", "namespace", "message"}
    assert (body["event"], body["source"], body["user"], body["mailbox"]) == (
        "delivered",
        "smtp",
        "bob",
        "INBOX",
    )
    assert body["namespace"] is None
    assert body["message"]["subject"] == "Hello"
    validator("/components/schemas/WebhookDelivery").validate(body)  # as the document says
    assert got.headers["x-elektromail-event"] == "delivered"
    assert got.headers["x-elektromail-delivery"] == body["id"]
    assert got.headers["user-agent"].startswith("elektromail/")
    digest = hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    assert got.headers["x-elektromail-signature"] == f"sha256={digest}"
    assert hmac.compare_digest(got.headers["x-elektromail-signature"], f"sha256={digest}")


def test_inject_and_imap_append_count_as_deliveries_and_copy_and_move_do_not(mail, receiver):
    api = Api(mail)
    api.inject("Subject: injected\r\n\r\nx\r\n", user="user")
    imap = imaplib.IMAP4(mail.host, mail.imap_port)
    try:
        imap.login("user", "pass")
        imap.append("INBOX", None, None, b"Subject: appended\r\n\r\ny\r\n")
        imap.select("INBOX")
        assert imap.uid("COPY", "1:*", "Archive")[0] == "OK"
        assert imap.uid("MOVE", "1", "Trash")[0] == "OK"
    finally:
        imap.logout()
    api.inject("Subject: marker\r\n\r\nz\r\n", user="user")  # after the copies' events
    got = calls(receiver, 3)
    assert [(b["source"], b["message"]["subject"]) for b in got] == [
        ("inject", "injected"),
        ("append", "appended"),
        ("inject", "marker"),
    ]
    assert {b["mailbox"] for b in got} == {"INBOX"}


def test_a_bounce_counts_as_a_delivery_from_the_dsn_source(mail, receiver):
    api = Api(mail)
    answer = api.put("/rules", [{"recipient": "nobody@*", "action": "bounce"}])
    assert answer.status == 200, answer.body
    smtp_send(mail, "nobody@localhost", b"Subject: to bounce\r\n\r\nx\r\n")
    (body,) = calls(receiver, 1)  # the message itself is not stored: only the DSN is
    assert (body["source"], body["user"]) == ("dsn", "sender")
    assert body["message"] == listed(api, "sender", body["message"]["uid"])


def test_8bit_mail_that_is_not_utf8_is_posted_as_get_messages_lists_it(mail, receiver):
    raw = (
        b"Subject: caf\xe9 cr\xe8me\r\nFrom: \xc9mile <e@example.com>\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n"
        b"\r\nd\xe9j\xe0 vu \xff\xfe\r\n"
    )
    smtp_send(mail, "user@localhost", raw)
    (got,) = receiver.wait_for(1)
    body = json.loads(got.body.decode("utf-8"))  # strict UTF-8: the JSON is valid
    assert body["message"] == listed(Api(mail), "user", body["message"]["uid"])
    assert body["message"]["size"] == len(raw)
    digest = hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    assert got.headers["x-elektromail-signature"] == f"sha256={digest}"


def test_a_burst_of_deliveries_is_posted_once_each_in_order(mail, receiver):
    count = 200
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=30) as client:
        for n in range(count):
            client.sendmail("s@example.com", ["user@localhost"], b"Subject: m%d\r\n\r\nx\r\n" % n)
    got = calls(receiver, count)
    assert [b["message"]["subject"] for b in got] == [f"m{n}" for n in range(count)]
    assert len({b["id"] for b in got}) == count
    uids = [b["message"]["uid"] for b in got]
    assert uids == sorted(uids)
    status = Api(mail).get("/webhooks").json()
    (target,) = status["webhooks"]
    assert (target["sent"], target["dropped"], target["failed"]) == (count, 0, 0)


def test_get_webhooks_and_config_show_the_settings_but_never_the_secret(mail, receiver):
    Api(mail).inject("Subject: one\r\n\r\nx\r\n")
    receiver.wait_for(1)
    api = Api(mail)
    config = api.get("/config")
    assert config.json()["webhook_urls"] == [receiver.url]
    assert config.json()["webhook_signed"] is True
    assert (config.json()["webhook_timeout"], config.json()["webhook_queue"]) == (10, 1000)
    assert SECRET.encode() not in config.body
    status = api.get("/webhooks")
    assert SECRET.encode() not in status.body
    data = status.json()
    assert (data["signed"], data["timeout"], data["queue_size"], data["skipped"]) == (
        True,
        10,
        1000,
        0,
    )
    (target,) = data["webhooks"]
    assert target["url"] == receiver.url
    assert (target["sent"], target["failed"], target["dropped"], target["retries"]) == (1, 0, 0, 0)
    assert target["last_status"] == 200 and target["last_error"] is None


def test_without_webhook_urls_get_webhooks_lists_none():
    with MailServer(http_port=0) as mail:
        data = Api(mail).get("/webhooks").json()
        assert data["webhooks"] == [] and data["signed"] is False
        assert Api(mail).get("/config").json()["webhook_urls"] == []


def test_a_namespace_delivery_names_its_namespace_and_its_token_cannot_see_the_status(
    mail, receiver
):
    api = Api(mail)
    made = api.post("/namespaces", {"name": "team1"})
    assert made.status == 201, made.body
    scoped = Api(mail, token=made.json()["token"])
    assert scoped.post("/users", {"user": "ann", "password": "pw"}).status == 201
    scoped.inject("Subject: in a namespace\r\n\r\nx\r\n", user="ann")
    (body,) = calls(receiver, 1)
    assert (body["namespace"], body["user"], body["message"]["user"]) == ("team1", "ann", "ann")
    assert body["message"] == listed(scoped, "ann", body["message"]["uid"])
    refused = scoped.get("/webhooks")
    assert refused.status == 403
    assert "server's token" in refused.error
    # /config is the namespace's to read, but a webhook URL's path may be its secret
    origin = receiver.url.split("/", 3)
    assert scoped.get("/config").json()["webhook_urls"] == ["/".join(origin[:3]) + "/..."]
    assert api.get("/config").json()["webhook_urls"] == [receiver.url]


def test_delivery_does_not_wait_for_a_receiver_that_never_answers_and_stop_is_prompt():
    receiver = Receiver(default="hang")
    port = call_in_reactor(listen, reactor_in_thread(), receiver)
    try:
        mail = MailServer(webhook_urls=url_of(port), webhook_timeout="3600").start()
        for n in range(5):  # each 250 comes while the first POST still hangs
            smtp_send(mail, "user@localhost", b"Subject: %d\r\n\r\nx\r\n" % n)
        assert len(mail.messages()) == 5
        receiver.wait_for(1)
        stopper = threading.Thread(target=mail.stop)
        stopper.start()
        # Far below the webhook's 3600 s timeout: stop cancels the request in flight.
        stopper.join(timeout=30)
        assert not stopper.is_alive(), "the server waited for its webhooks to stop"
        assert len(receiver.received) == 1  # the rest were dropped, not sent
    finally:
        call_in_reactor(port.stopListening)


def test_a_full_queue_drops_the_oldest_and_get_webhooks_counts_it():
    receiver = Receiver(default="hang")
    port = call_in_reactor(listen, reactor_in_thread(), receiver)
    try:
        with MailServer(http_port=0, webhook_urls=url_of(port), webhook_queue="2") as mail:
            for n in range(6):
                smtp_send(mail, "user@localhost", b"Subject: %d\r\n\r\nx\r\n" % n)
            # A read of the store after the deliveries: the webhook reads, queued before it on
            # the one connection, are done and their deliveries queued.
            assert len(mail.messages()) == 6
            receiver.wait_for(1)
            (target,) = Api(mail).get("/webhooks").json()["webhooks"]
            # 0 in flight, 4 and 5 waiting; 1, 2, 3 pushed out, oldest first
            assert (target["in_flight"], target["queued"], target["dropped"]) == (True, 2, 3)
            assert target["sent"] == 0
    finally:
        call_in_reactor(port.stopListening)


@pytest.fixture
def guarded(receiver):
    with MailServer(http_port=0, http_token="tok", webhook_urls=[receiver.url]) as server:
        yield server


def test_get_webhooks_wants_the_token_and_only_get(guarded):
    bare = Api(guarded)
    answer = bare.get("/webhooks")
    assert answer.status == 401 and answer.headers["WWW-Authenticate"].startswith("Bearer")
    api = Api(guarded, token="tok")
    assert api.get("/webhooks").status == 200
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        answer = api.request(method, "/webhooks", data=b'{"url": "http://evil.test/"}')
        assert answer.status == 405, (method, answer.body)
        assert answer.headers["Allow"] == "GET, HEAD"
    assert api.get("/webhooks?namespace=nope").status == 404
    assert api.get("/webhooks?namespace=..%2F").status == 400
    assert api.get("/webhooks?" + "x=1&" * 2000).status == 200  # unknown parameters: ignored
