"""The web inbox in front of a server that wants a bearer token: the page asks for it once,
asks again when it is wrong, keeps it for the tab, sends it with every API call and download,
and gives it to the event stream as ?token=."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest

from tests.browser.available import missing

if missing():
    pytest.skip(missing(), allow_module_level=True)

from selenium.webdriver.common.keys import Keys

from elektromail.testing import MailServer
from tests.browser.chrome import WIDE, Inbox

TOKEN = "s3cret-token"
ATTACHED = """From: ann@example.com
To: user@example.com
Subject: Guarded
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mix"

--mix
Content-Type: text/plain

Behind the token.
--mix
Content-Type: text/csv; name="data.csv"
Content-Disposition: attachment; filename="data.csv"

a,b
1,2
--mix--
"""


@pytest.fixture(scope="module")
def mail() -> Iterator[MailServer]:
    with MailServer(users="user:user@example.com:pass", http_port=0, http_token=TOKEN) as server:
        yield server


@pytest.fixture
def inbox(chromium, mail) -> Inbox:
    mail.reset()
    chromium.resize(*WIDE)
    page = Inbox(chromium.driver, mail.http_url)
    # Every test starts as a new visitor: no token in this tab yet.
    page.driver.get(f"{mail.http_url}/assets/icon.svg")
    page.js("sessionStorage.clear()")
    return page


def type_token(inbox: Inbox, token: str) -> None:
    inbox.wait(lambda: inbox.dialog_open("token-dialog"), message="the token prompt")
    field = inbox.el("token-input")
    inbox.wait(lambda: inbox.js("return document.activeElement.id") == "token-input")
    field.send_keys(token, Keys.ENTER)


def test_the_page_asks_for_the_token_and_then_works_live(inbox, mail):
    mail.inject("user", ATTACHED)
    inbox.open(live=False)
    assert not inbox.el("token-error").is_displayed()
    type_token(inbox, "wrong")
    inbox.wait(lambda: inbox.el("token-error").is_displayed(), message="the refusal")
    assert "refused" in inbox.el("token-error").text
    type_token(inbox, TOKEN)
    inbox.wait(lambda: not inbox.dialog_open("token-dialog"))
    inbox.wait_subjects(["Guarded"])
    assert inbox.js("return sessionStorage.getItem('elektromail.token')") == TOKEN
    # The event stream took the token as ?token=: mail arrives live.
    inbox.wait(lambda: inbox.live_state() == "live", message="the event stream")
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as client:
        client.sendmail("app@example.com", ["user@example.com"], b"Subject: Live\r\n\r\nhi\r\n")
    inbox.wait_subjects(["Live", "Guarded"])
    # The token is asked for once per tab, not once per page.
    inbox.open()
    assert not inbox.dialog_open("token-dialog")
    inbox.wait_subjects(["Live", "Guarded"])


def test_a_token_in_the_address_is_taken_and_hidden(inbox, mail):
    mail.inject("user", ATTACHED)
    inbox.open(f"?token={TOKEN}")
    inbox.wait_subjects(["Guarded"])
    assert "token" not in inbox.driver.current_url
    assert not inbox.dialog_open("token-dialog")


def test_downloads_carry_the_token(inbox, mail, chromium):
    mail.inject("user", ATTACHED)
    [stored] = mail.messages("user")
    inbox.open(f"?token={TOKEN}")
    inbox.open_message("Guarded")
    panel = inbox.select_tab("attachments")
    panel.find_element("css selector", "a[download]").click()
    assert chromium.downloaded("data.csv") == b"a,b\r\n1,2"
    inbox.el("raw-link").click()
    assert chromium.downloaded("Guarded.eml") == stored["raw"]


def test_a_cancelled_prompt_can_be_answered_later(inbox, mail):
    mail.inject("user", ATTACHED)
    inbox.open(live=False)
    inbox.wait(lambda: inbox.dialog_open("token-dialog"))
    inbox.el("token-cancel").click()
    inbox.wait(lambda: "Enter token" in inbox.el("list-status").text)
    assert inbox.subjects() == []
    button = next(b for b in inbox.css("#list-status button") if b.text == "Enter token")
    button.click()
    type_token(inbox, TOKEN)
    inbox.wait_subjects(["Guarded"])
    inbox.wait(lambda: inbox.live_state() == "live", 15, "the event stream")
