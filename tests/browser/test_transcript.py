"""The Transcript tab in headless Chromium: a message sent over SMTP (with STARTTLS and AUTH)
shows its exchange, client and server lines told apart, with no secret in it; an injected
message says why it has none."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator

import pytest

from tests.browser.available import missing

if missing():
    pytest.skip(missing(), allow_module_level=True)

from selenium.webdriver.common.by import By

from elektromail.testing import MailServer
from tests.browser.chrome import WIDE, Inbox

PASSWORD = "tr4nscript-secret"
RAW = (
    "From: Ann <ann@example.com>\r\nTo: bob@example.org\r\nSubject: Over SMTP\r\n"
    "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nSent with a transcript.\r\n"
)


@pytest.fixture(scope="module")
def mail() -> Iterator[MailServer]:
    with MailServer(users=f"user:pass,bob:bob@example.org:{PASSWORD}", http_port=0) as server:
        yield server


@pytest.fixture
def inbox(chromium, mail) -> Inbox:
    mail.reset()
    chromium.resize(*WIDE)
    return Inbox(chromium.driver, mail.http_url)


def send_over_smtp(mail: MailServer) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP(mail.host, mail.smtp_port, local_hostname="app.test", timeout=10) as c:
        c.starttls(context=context)
        c.login("bob", PASSWORD)
        c.sendmail("ann@example.com", ["bob@example.org"], RAW.encode())


def test_transcript_tab_shows_the_smtp_exchange(inbox, mail):
    send_over_smtp(mail)
    inbox.open()
    inbox.open_message("Over SMTP")
    panel = inbox.select_tab("transcript")
    inbox.wait(lambda: inbox.css("#transcript-lines li"), message="the transcript's lines")
    facts = inbox.el("transcript-body").find_element(By.CLASS_NAME, "transcript-facts").text
    assert "app.test" in facts and "TLSv1." in facts and "PLAIN as bob" in facts
    lines = inbox.css("#transcript-lines li")
    by_direction = {}
    for line in lines:
        by_direction.setdefault(line.get_attribute("data-direction"), []).append(line)
    client = [li.find_element(By.CLASS_NAME, "text").text for li in by_direction["client"]]
    server = [li.find_element(By.CLASS_NAME, "text").text for li in by_direction["server"]]
    assert "STARTTLS" in client and any(t.startswith("mail FROM:<ann@example.com>") for t in client)
    assert server[0].startswith("220 ") and server[-1].startswith("250 2.0.0")
    assert any("octets of message data" in li.text for li in by_direction["note"])
    # client and server lines look different, in a monospace font
    color = lambda li: li.value_of_css_property("color")  # noqa: E731
    assert color(by_direction["client"][0]) != color(by_direction["server"][0])
    assert "mono" in lines[0].value_of_css_property("font-family").lower()
    assert PASSWORD not in panel.text
    assert "Sent with a transcript." not in panel.text


def test_injected_message_says_it_has_no_transcript(inbox, mail):
    mail.inject("bob", RAW.replace("Over SMTP", "Injected"))
    inbox.open()
    inbox.open_message("Injected")
    panel = inbox.select_tab("transcript")
    inbox.wait(lambda: inbox.css(".transcript-missing"), message="the reason")
    assert "no SMTP transcript" in panel.text and "injected" in panel.text
