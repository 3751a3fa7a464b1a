"""The web inbox in Firefox (Debian's firefox-esr, installed by .ci/run; skipped without it):
the list loads, a delivery appears live, and a message's HTML runs no script in its sandbox.
The full behaviour is tested in Chromium (test_inbox.py); this shows the page is not
Chromium-only."""

from __future__ import annotations

import re
import smtplib
from collections.abc import Iterator

import pytest

from elektromail.testing import MailServer
from tests.browser.firefox import FIREFOX, Firefox

if not FIREFOX.exists():
    pytest.skip(f"{FIREFOX} is missing (apt-get install firefox-esr)", allow_module_level=True)

ROWS = "return [...document.querySelectorAll('#messages .row')].map(r => r.textContent)"
HTML_MAIL = (
    "From: Ann <ann@example.com>\r\nTo: user@example.com\r\nSubject: Sandboxed\r\n"
    "Content-Type: text/html\r\n\r\n"
    '<p id="hello">Hello <b>Firefox</b></p>'
    '<script>document.body.textContent = "PWNED"; parent.document.title = "pwned";</script>\r\n'
)


@pytest.fixture(scope="module")
def firefox() -> Iterator[Firefox]:
    browser = Firefox()
    try:
        yield browser
    finally:
        browser.quit()


def test_the_inbox_works_in_firefox(firefox):
    with MailServer(users="user:pass", http_port=0) as mail:
        mail.inject("user", b"From: a@example.com\r\nSubject: First one\r\n\r\nhello\r\n")
        firefox.open(f"http://127.0.0.1:{mail.http_port}/")
        firefox.wait(ROWS + ".some(t => t.includes('First one'))", what="the list")
        firefox.wait(
            "return document.getElementById('live').dataset.state === 'live'",
            what="the event stream",
        )
        with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as client:
            client.sendmail("ann@example.com", ["user@example.com"], HTML_MAIL.encode())
        firefox.wait(ROWS + ".some(t => t.includes('Sandboxed'))", what="the live delivery")
        firefox.run(
            "[...document.querySelectorAll('#messages .row')]"
            ".find(r => r.textContent.includes('Sandboxed')).click()"
        )
        firefox.wait("return document.getElementById('html-frame')", what="the HTML frame")
        sandbox = firefox.run("return document.getElementById('html-frame').sandbox.value")
        assert "allow-scripts" not in sandbox and "allow-same-origin" not in sandbox
        firefox.into_frame("#html-frame")
        try:
            text = firefox.wait(
                "return document.getElementById('hello')?.textContent", what="the mail's HTML"
            )
            assert text == "Hello Firefox"
            # Had the script run, the body would be the one text "PWNED", without elements.
            assert firefox.run("return document.body.children.length") >= 2
        finally:
            firefox.out_of_frame()
        # The script would have set the page's title; the unread count in it follows the
        # listing's own refreshes, so only its shape is compared.
        title = firefox.run("return document.title")
        assert re.fullmatch(r"(\(\d+\) )?elektromail", title), title
