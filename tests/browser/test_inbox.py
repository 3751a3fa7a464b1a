"""The web inbox in headless Chromium, against a real server: mail sent over SMTP appears
live, the HTML body renders in a sandbox where its scripts do not run and remote images wait to
be asked for, the tabs, search, flags, deleting, purging, resetting, paging, the keyboard and
the narrow layout."""

from __future__ import annotations

import base64
import smtplib
from collections.abc import Iterator

import pytest

from tests.browser.available import missing

if missing():
    pytest.skip(missing(), allow_module_level=True)

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.select import Select

from elektromail.testing import MailServer
from tests.browser.chrome import NARROW, WIDE, Inbox
from tests.http.client import Api

USERS = "user:user@example.com:pass,alice:alice@example.org:wonder,bob:bob@example.org:builder"
SEEN, FLAGGED = "\\Seen", "\\Flagged"


def shown(first: int, last: int, total: int) -> str:
    """The pager's text: shown(1, 50, 120) (an en dash)."""
    return f"{first}\N{EN DASH}{last} of {total}"


@pytest.fixture(scope="module")
def mail() -> Iterator[MailServer]:
    with MailServer(users=USERS, http_port=0) as server:
        yield server


@pytest.fixture
def inbox(chromium, mail) -> Inbox:
    mail.reset()
    chromium.resize(*WIDE)
    return Inbox(chromium.driver, mail.http_url)


def plain(subject: str, body: str = "Hello.", sender: str = "Ann <ann@example.com>", to="user"):
    return (
        f"From: {sender}\nTo: {to}@example.com\nSubject: {subject}\n"
        f"Date: Mon, 1 Jan 2024 10:00:00 +0000\n\n{body}\n"
    )


def send(mail: MailServer, raw: str, to: str = "user@example.com") -> None:
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as client:
        client.sendmail("app@example.com", [to], raw.encode())


def flags(mail: MailServer, subject: str, user: str = "user") -> set[str]:
    [found] = [m for m in mail.messages(user) if m["subject"] == subject]
    return set(found["flags"])


# --- live delivery -----------------------------------------------------------------------------


def test_mail_sent_over_smtp_appears_without_a_reload(inbox, mail):
    mail.inject("user", plain("Already there"))
    inbox.open()
    inbox.wait_subjects(["Already there"])
    inbox.js("window.sameDocument = true")
    send(mail, plain("Fresh off the wire"))
    inbox.wait_subjects(["Fresh off the wire", "Already there"])
    send(mail, plain("For Alice", to="alice"), to="alice@example.org")
    inbox.wait_subjects(["For Alice", "Fresh off the wire", "Already there"])
    assert inbox.js("return window.sameDocument") is True
    assert inbox.range_text() == shown(1, 3, 3)
    unseen = inbox.css("#messages .row.unseen")
    assert len(unseen) == 3


def test_flags_and_deletions_by_other_clients_show_live(inbox, mail):
    keep = mail.inject("user", plain("Keep me"))
    gone = mail.inject("user", plain("Delete me elsewhere"))
    inbox.open()
    inbox.wait_subjects(["Delete me elsewhere", "Keep me"])
    api = Api(mail)
    assert api.request("PATCH", f"/messages/{keep}?user=user", {"flagged": True}).status == 200
    inbox.wait(lambda: "flagged" in inbox.row("Keep me").get_attribute("class"))
    assert api.delete(f"/messages/{gone}?user=user").status == 200
    inbox.wait_subjects(["Keep me"])


# --- the message view ------------------------------------------------------------------------

HTML_MAIL = """From: Newsletter <news@example.com>
To: user@example.com
Subject: Weekly news
MIME-Version: 1.0
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: text/html; charset=utf-8

<html><head><title>Mail title</title></head><body>
<p id="hello">Hello <b>world</b></p>
<script>document.body.textContent = "PWNED"; parent.document.title = "pwned";
parent.document.body.textContent = "PWNED";</script>
<img id="remote" alt="remote" src="{remote}/pixel.png?mail=1">
<img id="inline" alt="inline" src="cid:logo@example.com">
<a id="out" href="https://example.com/">a link</a>
</body></html>
--rel
Content-Type: image/png
Content-ID: <logo@example.com>
Content-Transfer-Encoding: base64

{pixel}
--rel--
"""


def test_html_renders_in_a_sandbox_where_its_script_does_not_run(inbox, mail, remote_images):
    from tests.browser.conftest import PIXEL

    raw = HTML_MAIL.format(remote=remote_images.url, pixel=base64.b64encode(PIXEL).decode())
    mail.inject("user", raw)
    inbox.open()
    inbox.open_message("Weekly news")
    assert inbox.tab("html").get_attribute("aria-selected") == "true"
    frame = inbox.el("html-frame")
    sandbox = set(frame.get_attribute("sandbox").split())
    assert "allow-scripts" not in sandbox and "allow-same-origin" not in sandbox
    inbox.driver.switch_to.frame(frame)
    try:
        inbox.wait(lambda: inbox.driver.find_element(By.ID, "hello").text == "Hello world")
        body = inbox.driver.find_element(By.TAG_NAME, "body").text
        assert "PWNED" not in body
        inline = inbox.driver.find_element(By.ID, "inline")
        assert inline.get_attribute("src").startswith("data:image/png;base64,")
        inbox.wait(lambda: inline.get_attribute("naturalWidth") == "1")  # part of the mail
        assert inbox.driver.find_element(By.ID, "remote").get_attribute("naturalWidth") == "0"
    finally:
        inbox.driver.switch_to.default_content()
    assert "pwned" not in inbox.driver.title
    assert inbox.css("#messages .row")  # the page's own DOM is whole
    assert remote_images.paths == []  # the remote image was never requested

    bar = inbox.el("remote-bar")
    assert bar.is_displayed()
    inbox.el("load-remote").click()
    inbox.wait(lambda: "/pixel.png?mail=1" in remote_images.paths, message="the remote image")
    assert not bar.is_displayed()
    inbox.driver.switch_to.frame(inbox.el("html-frame"))
    try:
        remote = inbox.driver.find_element(By.ID, "remote")
        inbox.wait(lambda: remote.get_attribute("naturalWidth") == "1")
        assert "PWNED" not in inbox.driver.find_element(By.TAG_NAME, "body").text
    finally:
        inbox.driver.switch_to.default_content()


ALTERNATIVE = """From: Ann Example <ann@example.com>
To: Bob <bob@example.org>
Cc: carol@example.net
Subject: Tabs
X-Mailer: test-suite
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

The plain text part, see https://example.com/doc.
--alt
Content-Type: text/html; charset=utf-8

<p>The <i>HTML</i> part</p>
--alt--
"""


def test_text_headers_and_raw_tabs(inbox, mail):
    uid = mail.inject("bob", ALTERNATIVE)
    inbox.open()
    inbox.open_message("Tabs")
    summary = inbox.el("summary").text
    assert "Ann Example <ann@example.com>" in summary and "carol@example.net" in summary

    text = inbox.select_tab("text")
    assert "The plain text part, see https://example.com/doc." in text.text
    link = text.find_element(By.TAG_NAME, "a")
    assert link.get_attribute("href") == "https://example.com/doc"
    assert link.get_attribute("rel") == "noopener noreferrer"

    headers = inbox.select_tab("headers")
    cells = [cell.text for cell in headers.find_elements(By.CSS_SELECTOR, "th, td")]
    at = cells.index("X-Mailer")
    assert cells[at : at + 2] == ["X-Mailer", "test-suite"]

    raw = inbox.select_tab("raw")
    assert 'Content-Type: multipart/alternative; boundary="alt"' in raw.text
    raw_url = inbox.el("raw-link").get_attribute("href")
    assert raw_url.endswith(f"/messages/{uid}/raw?user=bob&mailbox=INBOX")

    assert inbox.tab("attachments").text == "Attachments (0)"
    # The tablist follows the WAI-ARIA pattern: arrows move and select, Home and End too.
    inbox.tab("raw").send_keys(Keys.ARROW_LEFT)
    assert inbox.tab("headers").get_attribute("aria-selected") == "true"
    assert inbox.js("return document.activeElement.id") == "tab-headers"
    inbox.tab("headers").send_keys(Keys.END)
    assert inbox.js("return document.activeElement.id") == "tab-checks"
    inbox.tab("checks").send_keys(Keys.ARROW_RIGHT)  # wraps around
    assert inbox.js("return document.activeElement.id") == "tab-html"
    assert inbox.el("panel-html").is_displayed() and not inbox.el("panel-raw").is_displayed()


ATTACHMENTS = """From: ann@example.com
To: user@example.com
Subject: With files
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mix"

--mix
Content-Type: text/plain

See the files.
--mix
Content-Type: text/plain; name="notes.txt"
Content-Disposition: attachment; filename="notes.txt"

first line
second line
--mix
Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename="report.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQKJcfsj6IK
--mix--
"""


def test_attachments_are_listed_and_download(inbox, mail, chromium):
    mail.inject("user", ATTACHMENTS)
    inbox.open()
    inbox.wait(lambda: inbox.css("#messages .row .tag.attach"))
    assert inbox.css("#messages .row .tag.attach")[0].get_attribute("title") == "2 attachments"
    inbox.open_message("With files")
    assert inbox.tab("attachments").text == "Attachments (2)"
    panel = inbox.select_tab("attachments")
    names = [e.text for e in panel.find_elements(By.CSS_SELECTOR, ".filename")]
    assert names == ["notes.txt", "report.pdf"]
    links = panel.find_elements(By.CSS_SELECTOR, "a[download]")
    assert [a.get_attribute("download") for a in links] == names
    links[1].click()
    assert chromium.downloaded("report.pdf") == base64.b64decode("JVBERi0xLjQKJcfsj6IK")


def test_opening_marks_seen_and_the_buttons_toggle_flags(inbox, mail):
    mail.inject("user", plain("Flag me"))
    inbox.open()
    inbox.wait(lambda: "unseen" in inbox.row("Flag me").get_attribute("class"))
    inbox.open_message("Flag me")
    inbox.wait(lambda: "unseen" not in inbox.row("Flag me").get_attribute("class"))
    assert SEEN in flags(mail, "Flag me")

    inbox.el("toggle-seen").click()
    inbox.wait(lambda: "unseen" in inbox.row("Flag me").get_attribute("class"))
    assert inbox.el("toggle-seen").text == "Mark read"
    assert SEEN not in flags(mail, "Flag me")
    inbox.el("toggle-seen").click()
    inbox.wait(lambda: inbox.el("toggle-seen").text == "Mark unread")
    assert SEEN in flags(mail, "Flag me")

    flag = inbox.el("toggle-flag")
    flag.click()
    inbox.wait(lambda: flag.get_attribute("aria-pressed") == "true")
    inbox.wait(lambda: "flagged" in inbox.row("Flag me").get_attribute("class"))
    assert FLAGGED in flags(mail, "Flag me")


def test_delete_asks_first(inbox, mail):
    mail.inject("user", plain("Stays"))
    mail.inject("user", plain("Goes"))
    inbox.open()
    inbox.open_message("Goes")
    inbox.el("delete").click()
    assert "Goes" in inbox.el("confirm-text").text
    inbox.answer_confirm(False)
    assert [m["subject"] for m in mail.messages("user")] == ["Stays", "Goes"]
    inbox.el("delete").click()
    inbox.answer_confirm(True)
    inbox.wait_subjects(["Stays"])
    inbox.wait(lambda: not inbox.view_open())
    assert inbox.toast() == "Message deleted"
    assert inbox.driver.current_url == f"{mail.http_url}/"  # still the inbox, not a page back
    assert [m["subject"] for m in mail.messages("user")] == ["Stays"]


def test_purge_asks_then_empties_the_list(inbox, mail):
    for n in range(3):
        mail.inject("alice" if n else "user", plain(f"Purge {n}"))
    inbox.open()
    inbox.wait_subjects(["Purge 2", "Purge 1", "Purge 0"])
    inbox.el("purge").click()
    inbox.wait(lambda: inbox.dialog_open("confirm-dialog"))
    # Cancel has the focus, and Escape cancels: the keyboard deletes nothing by accident.
    assert inbox.js("return document.activeElement.id") == "confirm-cancel"
    inbox.press(Keys.ESCAPE)
    inbox.wait(lambda: not inbox.dialog_open("confirm-dialog"))
    assert len(mail.messages(None, None)) == 3
    inbox.el("purge").click()
    inbox.answer_confirm(True)
    inbox.wait_subjects([])
    assert "No messages yet" in inbox.el("list-status").text
    assert inbox.range_text() == "No messages"
    assert mail.messages(None, None) == []


def test_reset_asks_then_forgets_added_users(inbox, mail):
    mail.add_user("carol", "pw")
    inbox.open()
    users = Select(inbox.el("user"))
    assert "carol" in [o.get_attribute("value") for o in users.options]
    inbox.el("reset").click()
    inbox.answer_confirm(True)
    inbox.wait(
        lambda: "carol" not in [o.get_attribute("value") for o in Select(inbox.el("user")).options]
    )


# --- finding mail --------------------------------------------------------------------------------


def test_search_narrows_the_list(inbox, mail):
    mail.inject("user", plain("Invoice 42", "Please pay."))
    mail.inject("user", plain("Lunch?", "Shall we meet the kangaroo at noon?"))
    mail.inject("alice", plain("Status", sender="Zed <zed@invoices.example>", to="alice"))
    inbox.open()
    inbox.wait_subjects(["Status", "Lunch?", "Invoice 42"])
    search = inbox.el("search")
    search.send_keys("invoice")  # subject and sender
    inbox.wait_subjects(["Status", "Invoice 42"])
    assert "q=invoice" in inbox.driver.current_url
    search.clear()
    search.send_keys("KANGAROO", Keys.ENTER)  # the text body, any case
    inbox.wait_subjects(["Lunch?"])
    search.send_keys(" nowhere")
    inbox.wait_subjects([])
    assert "No messages match" in inbox.el("list-status").text
    search.send_keys(Keys.CONTROL, "a")
    search.send_keys(Keys.BACKSPACE)
    inbox.wait_subjects(["Status", "Lunch?", "Invoice 42"])


def test_search_takes_the_query_language_and_shows_its_keys(inbox, mail):
    mail.inject("user", plain("Invoice 42", "Please pay."))
    mail.inject("user", plain("Welcome aboard", "Hi!", sender="Shop <team@shop.example>"))
    mail.inject("alice", plain("Welcome aboard", sender="Zed <zed@invoices.example>", to="alice"))
    inbox.open()
    inbox.wait_subjects(["Welcome aboard", "Welcome aboard", "Invoice 42"])
    search = inbox.el("search")
    search.send_keys('subject:"welcome aboard" -from:zed')
    inbox.wait_subjects(["Welcome aboard"])
    help_ = inbox.el("search-help")
    assert help_.is_displayed()  # while the box has the focus
    assert "from:" in help_.get_attribute("title") and "is:unread" in help_.get_attribute("title")
    search.send_keys(Keys.CONTROL, "a")
    search.send_keys("bogus:key", Keys.ENTER)
    inbox.wait(lambda: "unknown key" in inbox.el("list-status").text, message="the 400")


def test_user_and_mailbox_pickers(inbox, mail):
    mail.inject("user", plain("For user"))
    mail.inject("alice", plain("For Alice", to="alice"))
    mail.inject("bob", plain("Filed by Bob", to="bob"), mailbox="Archive")
    inbox.open()
    inbox.wait_subjects(["Filed by Bob", "For Alice", "For user"])
    Select(inbox.el("user")).select_by_value("alice")
    inbox.wait_subjects(["For Alice"])
    mailboxes = [o.text for o in Select(inbox.el("mailbox")).options]
    assert mailboxes[:2] == ["All mailboxes", "INBOX (1, 1 unread)"]
    Select(inbox.el("user")).select_by_value("bob")
    Select(inbox.el("mailbox")).select_by_value("Archive")
    inbox.wait_subjects(["Filed by Bob"])
    inbox.wait(lambda: not inbox.css("#messages .tag.place"))  # one user and mailbox: no need
    inbox.driver.refresh()  # the choice lives in the URL
    inbox.wait(lambda: inbox.js("return document.documentElement.dataset.ready") == "true")
    inbox.wait_subjects(["Filed by Bob"])
    assert Select(inbox.el("mailbox")).first_selected_option.get_attribute("value") == "Archive"


def test_paging_through_120_messages(inbox, mail):
    for n in range(120):
        mail.inject("user", plain(f"Message {n:03}"), internal_date=1_700_000_000 + n)
    inbox.open()
    inbox.wait(lambda: inbox.range_text() == shown(1, 50, 120))
    assert inbox.subjects()[:2] == ["Message 119", "Message 118"]
    assert inbox.el("prev").get_attribute("disabled") is not None
    inbox.el("next").click()
    inbox.wait(lambda: inbox.range_text() == shown(51, 100, 120))
    assert inbox.subjects()[0] == "Message 069"
    inbox.el("next").click()
    inbox.wait(lambda: inbox.range_text() == shown(101, 120, 120))
    assert len(inbox.subjects()) == 20 and inbox.subjects()[-1] == "Message 000"
    assert inbox.el("next").get_attribute("disabled") is not None

    # Mail arriving while an older page is shown is announced, not shuffled in.
    send(mail, plain("Late arrival"))
    fresh = inbox.el("new-mail")
    inbox.wait(lambda: fresh.is_displayed() and fresh.text == "1 new")
    assert inbox.subjects()[-1] == "Message 000"
    fresh.click()
    inbox.wait(lambda: inbox.range_text() == shown(1, 50, 121))
    assert inbox.subjects()[0] == "Late arrival"
    assert not fresh.is_displayed()


# --- keyboard and layout -----------------------------------------------------------------------


def test_the_keyboard_alone_reads_mail(inbox, mail):
    for n in range(3):
        mail.inject("user", plain(f"Key {n}"))
    inbox.open()
    inbox.wait_subjects(["Key 2", "Key 1", "Key 0"])
    inbox.press("/")
    assert inbox.js("return document.activeElement.id") == "search"
    inbox.js("document.querySelector('#messages .row').focus()")

    def focused() -> str:
        return inbox.js("return document.activeElement.querySelector('.subject')?.textContent")

    inbox.press("j")
    assert focused() == "Key 1"
    inbox.press(Keys.ARROW_DOWN)
    assert focused() == "Key 0"
    inbox.press("k")
    assert focused() == "Key 1"
    inbox.press(Keys.ENTER)
    inbox.wait_view("Key 1")
    assert inbox.js("return document.activeElement.id") == "view-subject"
    inbox.press("j")  # the next message, while reading
    inbox.wait_view("Key 0")
    inbox.press(Keys.ESCAPE)
    inbox.wait(lambda: not inbox.view_open())
    inbox.wait(lambda: focused() == "Key 0")
    # Only the current row is in the tab order: Tab leaves the list.
    assert [r.get_attribute("tabindex") for r in inbox.css("#messages .row")] == ["-1", "-1", "0"]


def test_history_back_closes_the_message_and_forward_opens_it_again(inbox, mail):
    mail.inject("user", plain("History"))
    inbox.open()
    inbox.open_message("History")
    assert "open=" in inbox.driver.current_url
    inbox.driver.back()
    inbox.wait(lambda: not inbox.view_open())
    assert "open=" not in inbox.driver.current_url
    inbox.driver.forward()
    inbox.wait_view("History")


def test_pages_left_behind_hold_no_connection(inbox, mail):
    """A browser opens six connections to a server at most: a page kept in the back/forward
    cache with its event stream open would hold one for good, and the seventh page hangs."""
    mail.inject("user", plain("Visited"))
    for _ in range(7):
        inbox.open()
        inbox.open_message("Visited")
    inbox.open()
    inbox.open_message("Visited")


def test_wide_window_shows_list_and_message_side_by_side(inbox, mail):
    mail.inject("user", plain("Side by side"))
    inbox.open()
    inbox.open_message("Side by side")
    pane = inbox.driver.find_element(By.CSS_SELECTOR, ".list-pane")
    view = inbox.el("view")
    assert pane.is_displayed() and view.is_displayed()
    assert pane.rect["x"] + pane.rect["width"] <= view.rect["x"]
    assert not inbox.js("return document.documentElement.scrollWidth > innerWidth")


def test_narrow_window_stacks_list_and_message(inbox, mail, chromium):
    mail.inject("user", plain("A rather long subject line that has to fit on a phone screen"))
    mail.inject("alice", plain("Small screens", to="alice"))
    chromium.resize(*NARROW)
    inbox.open()
    inbox.wait_subjects(
        ["Small screens", "A rather long subject line that has to fit on a phone screen"]
    )
    pane = inbox.driver.find_element(By.CSS_SELECTOR, ".list-pane")
    assert pane.is_displayed() and not inbox.view_open()
    assert not inbox.js("return document.documentElement.scrollWidth > innerWidth")
    search = inbox.el("search")
    assert search.rect["width"] > 300  # a row of its own
    inbox.open_message("Small screens")
    assert not pane.is_displayed()
    back = inbox.el("back")
    assert back.is_displayed() and back.rect["x"] < 40
    assert not inbox.js("return document.documentElement.scrollWidth > innerWidth")
    back.click()
    inbox.wait(lambda: pane.is_displayed() and not inbox.view_open())
