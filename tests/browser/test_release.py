"""The Release button in headless Chromium: the dialog offers the recipients the message came
with, sends to the relay (a second elektromail) and shows its reply; a refusal shows the
upstream's code; without a relay the dialog says how to set one and sends nothing."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest

from tests.browser.available import missing

if missing():
    pytest.skip(missing(), allow_module_level=True)

from elektromail.testing import MailServer
from tests.browser.chrome import WIDE, Inbox

RAW = (
    b"From: Ann <ann@example.com>\r\nTo: bob@example.org\r\nSubject: To release\r\n"
    b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n.dot first\r\n\xc3\xa9t\xc3\xa9\r\n"
)
RULES = [{"recipient": "nobody@*", "action": "reject", "code": 550, "status": "5.1.1"}]


@pytest.fixture(scope="module")
def upstream() -> Iterator[MailServer]:
    with MailServer(
        users="bob:pw,carol:pw", http_port=None, imap_port=None, pop3_port=None, dsn_rules=RULES
    ) as server:
        yield server


@pytest.fixture(scope="module")
def mail(upstream) -> Iterator[MailServer]:
    with MailServer(
        users="user:pass,bob:bob@example.org:pw",
        http_port=0,
        relay_host="127.0.0.1",
        relay_port=upstream.smtp_port,
        relay_tls="none",
    ) as server:
        yield server


@pytest.fixture
def inbox(chromium, mail, upstream) -> Inbox:
    mail.reset()
    upstream.reset()
    chromium.resize(*WIDE)
    return Inbox(chromium.driver, mail.http_url)


def send_over_smtp(mail: MailServer) -> None:
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as client:
        client.sendmail("ann@example.com", ["bob@example.org"], RAW)


def open_release(inbox: Inbox) -> None:
    inbox.open()
    inbox.open_message("To release")
    inbox.el("release").click()
    inbox.wait(lambda: inbox.dialog_open("release-dialog"), message="the release dialog")
    inbox.wait(lambda: inbox.el("release-ok").is_enabled(), message="the relay's plan")


def test_release_offers_the_original_recipients_and_shows_the_reply(inbox, mail, upstream):
    send_over_smtp(mail)
    open_release(inbox)
    field = inbox.el("release-to")
    assert field.get_attribute("value") == "bob@example.org"  # its RCPT TO
    assert f"127.0.0.1:{upstream.smtp_port}" in inbox.el("release-text").text
    field.clear()
    field.send_keys("carol@localhost")
    inbox.el("release-ok").click()
    inbox.wait(lambda: "Accepted" in inbox.el("release-result").text, message="the reply")
    result = inbox.el("release-result").text
    assert f"127.0.0.1:{upstream.smtp_port}: 250" in result
    [got] = upstream.wait_for_messages(1, user="carol")
    assert got["raw"] == RAW
    inbox.el("release-cancel").click()  # "Close"
    inbox.wait(lambda: not inbox.dialog_open("release-dialog"))
    assert inbox.view_open()


def test_a_refusal_shows_the_upstream_reply(inbox, mail, upstream):
    send_over_smtp(mail)
    open_release(inbox)
    field = inbox.el("release-to")
    field.clear()
    field.send_keys("nobody@localhost")
    inbox.el("release-ok").click()
    inbox.wait(lambda: "550" in inbox.el("release-result").text, message="the refusal")
    assert inbox.el("release-result").get_attribute("data-kind") == "error"
    assert "5.1.1" in inbox.el("release-result").text
    assert inbox.dialog_open("release-dialog")  # left open: the recipients can be changed


def test_without_a_relay_the_dialog_says_how_to_set_one(chromium):
    with MailServer(users="user:pass", http_port=0) as plain:
        plain.inject("user", RAW)
        chromium.resize(*WIDE)
        inbox = Inbox(chromium.driver, plain.http_url)
        inbox.open()
        inbox.open_message("To release")
        inbox.el("release").click()
        inbox.wait(lambda: "--relay-host" in inbox.el("release-text").text, message="the hint")
        assert not inbox.el("release-ok").is_enabled()
