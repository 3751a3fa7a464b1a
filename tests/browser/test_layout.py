"""The web inbox's layout at the window sizes people use, with a realistic mail: a long subject
and long addresses, a Date row, remote images (so the remote-images bar shows) and attachments,
in a server with over a thousand messages (so the pickers' counts have four digits).

The message tabs once collapsed to a pixel at 1366 x 768 and could not be clicked; the user
picker cut its text ("All users (1,651, 1,407 unrea"); j and k did nothing until a row had the
focus. Each failing check saves a screenshot and names it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.available import missing

if missing():
    pytest.skip(missing(), allow_module_level=True)

from selenium.webdriver.common.keys import Keys

from elektromail.testing import MailServer
from tests.browser.chrome import NARROW, Inbox

USERS = "user:user@example.com:pass,alice:alice@example.org:wonder"
FILLERS = 1_650
SUBJECT = (
    "Your Acme Cloud subscription renewal for account #0019283746 is confirmed: invoice, "
    "receipt and the usage report for November 2026 attached"
)
REALISTIC = (
    """\
From: "Acme Customer Success Team (no-reply)" \
<customer-success-notifications@mail.acme-corporation.example.com>
To: "Jane Alexandra Doe-Richardson" <jane.alexandra.doe-richardson@engineering.example.com>,
 "Operations On-Call Rotation" <ops-oncall-rotation@engineering.example.com>
Cc: "Billing Department" <billing-department@finance.example.com>
Subject: """
    + SUBJECT
    + """
Date: Mon, 07 Dec 2026 09:41:27 +0100
Message-ID: <renewal-0019283746@mail.acme-corporation.example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mixed"

--mixed
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

Hi Jane, your subscription was renewed. https://acme.example.com/billing
--alt
Content-Type: text/html; charset=utf-8

<html><body style="font-family:Arial,sans-serif;background:#f4f5f7;margin:0">
<table width="600" align="center" style="background:#fff"><tr><td style="padding:24px">
<img src="{remote}/logo.png" width="120" height="40" alt="Acme">
<h1 style="color:#0f766e">Your subscription was renewed</h1>
<p>Hi Jane, thanks for staying with Acme Cloud. Your invoice and the usage report are
attached.</p>
<p><a href="https://acme.example.com/billing">Open billing</a></p>
<img src="{remote}/track.gif?u=jane" width="1" height="1" alt="">
</td></tr></table></body></html>
--alt--
--mixed
Content-Type: application/pdf; name="invoice-2026-11-0019283746.pdf"
Content-Disposition: attachment; filename="invoice-2026-11-0019283746.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQKJcfsj6IK
--mixed
Content-Type: text/csv; name="usage-report-november-2026.csv"
Content-Disposition: attachment; filename="usage-report-november-2026.csv"

day,requests
1,1000
--mixed--
"""
)

SIZES = [(1366, 768), (1280, 900), (800, 600), (1920, 1080), NARROW]
SIZE_IDS = [f"{w}x{h}" for w, h in SIZES]
TABS = ["html", "text", "headers", "raw", "attachments", "checks"]
USABLE = 24  # px: the least height a tab needs to be read and hit

# Each tab's visible part (clipped by the tab bar and the window) and whether a click at its
# centre lands on it.
TAB_GEOMETRY = """
const bar = document.getElementById('tabs').getBoundingClientRect();
return [...document.querySelectorAll('#tabs [role=tab]')].filter((t) => !t.hidden).map((t) => {
  const r = t.getBoundingClientRect();
  const top = Math.max(r.top, bar.top, 0), bottom = Math.min(r.bottom, bar.bottom, innerHeight);
  const left = Math.max(r.left, bar.left, 0), right = Math.min(r.right, bar.right, innerWidth);
  const hit = document.elementFromPoint((left + right) / 2, (top + bottom) / 2);
  return {
    id: t.id, height: bottom - top, width: right - left,
    hit: Boolean(hit) && (hit === t || t.contains(hit)),
  };
});
"""

# The width the user picker needs to show its chosen option whole (a copy of it sized to its
# content, off screen), its actual width, and what it shows.
PICKER_FIT = """
const select = document.getElementById('user');
const probe = select.cloneNode(true);
probe.style.cssText =
  'position:absolute;left:-9999px;width:auto;min-width:0;max-width:none;field-sizing:content';
select.after(probe);
probe.value = select.value;
const needed = probe.getBoundingClientRect().width;
probe.remove();
return {
  needed, width: select.getBoundingClientRect().width,
  text: select.selectedOptions[0].textContent, title: select.title,
};
"""


@pytest.fixture(scope="module")
def mail(remote_images) -> Iterator[MailServer]:
    with MailServer(users=USERS, http_port=0) as server:
        yesterday = time.time() - 86_400
        for n in range(FILLERS):
            raw = f"From: app@example.com\nTo: user@example.com\nSubject: Filler {n:04}\n\nx\n"
            server.inject("alice" if n % 3 == 0 else "user", raw, internal_date=yesterday + n)
        yield server


@pytest.fixture(scope="module")
def realistic(mail, remote_images) -> int:
    """The UID of the realistic mail, the newest of all."""
    return mail.inject("user", REALISTIC.replace("{remote}", remote_images.url))


@pytest.fixture
def inbox(chromium, mail) -> Inbox:
    return Inbox(chromium.driver, mail.http_url)


class Screens:
    """Screenshots of the test, in its tmp_path, named in assertion messages."""

    def __init__(self, inbox: Inbox, directory: Path) -> None:
        self.inbox = inbox
        self.directory = directory

    def take(self, name: str) -> str:
        path = self.directory / f"{name}.png"
        self.inbox.driver.save_screenshot(str(path))
        return str(path)


@pytest.fixture
def screens(inbox, tmp_path) -> Screens:
    return Screens(inbox, tmp_path)


def open_realistic(inbox: Inbox, uid: int) -> None:
    inbox.open(f"?open={uid}:user:INBOX")
    inbox.wait_view(SUBJECT)
    inbox.wait(lambda: inbox.el("remote-bar").is_displayed(), message="the remote-images bar")
    assert "Date" in inbox.el("summary").text


def tab_problems(inbox: Inbox) -> list[dict]:
    tabs = inbox.js(TAB_GEOMETRY)
    assert tabs, "no tabs"
    return [t for t in tabs if t["height"] < USABLE or t["width"] < USABLE or not t["hit"]]


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_every_tab_keeps_its_height_and_takes_clicks(inbox, realistic, chromium, screens, size):
    chromium.resize(*size)
    open_realistic(inbox, realistic)
    shot = screens.take("message")
    assert not tab_problems(inbox), f"{tab_problems(inbox)}, see {shot}"
    assert not inbox.js("return document.documentElement.scrollWidth > innerWidth"), shot
    for name in [*TABS[1:], TABS[0]]:
        inbox.tab(name).click()  # a real click at the tab's centre: refused when covered
        inbox.wait(lambda name=name: inbox.el(f"panel-{name}").is_displayed(), message=name)
        assert inbox.tab(name).get_attribute("aria-selected") == "true"
        shown = [t for t in TABS if inbox.el(f"panel-{t}").is_displayed()]
        assert shown == [name]
    # Read down to the end of the message: the tabs stay in sight.
    inbox.js("const s = document.getElementById('view-scroll'); s.scrollTop = s.scrollHeight")
    shot = screens.take("scrolled")
    assert not tab_problems(inbox), f"{tab_problems(inbox)}, see {shot}"


@pytest.mark.parametrize("size", [(1280, 900), NARROW], ids=["1280x900", "narrow"])
def test_the_tab_bar_has_room_for_more_tabs(inbox, realistic, chromium, screens, size):
    """Transcript and Checks tabs are coming: the bar wraps rather than squeezing or hiding."""
    chromium.resize(*size)
    open_realistic(inbox, realistic)
    before = len(inbox.js(TAB_GEOMETRY))
    inbox.js(
        "for (const name of ['More', 'Further', 'Another long tab name']) {"
        "  const tab = document.getElementById('tab-raw').cloneNode(false);"
        "  tab.id = `tab-extra-${name.length}`; tab.textContent = name;"
        "  document.getElementById('tabs').append(tab);"
        "}"
    )
    try:
        shot = screens.take("more-tabs")
        assert len(inbox.js(TAB_GEOMETRY)) == before + 3
        assert not tab_problems(inbox), f"{tab_problems(inbox)}, see {shot}"
        assert not inbox.js("return document.documentElement.scrollWidth > innerWidth"), shot
    finally:
        inbox.js("document.querySelectorAll('[id^=tab-extra-]').forEach((t) => t.remove())")


def picker_is_whole(inbox: Inbox) -> tuple[bool, dict]:
    fit = inbox.js(PICKER_FIT)
    return fit["width"] + 0.5 >= fit["needed"], fit


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_the_user_picker_shows_its_whole_text(inbox, realistic, chromium, screens, size):
    chromium.resize(*size)
    inbox.open()
    inbox.wait(lambda: "1,651" in inbox.js(PICKER_FIT)["text"], message="the counts")
    fit = inbox.js(PICKER_FIT)
    assert fit["text"].startswith("All users (1,651, ")
    assert fit["title"] == fit["text"]  # the whole text, whatever the width
    whole, fit = picker_is_whole(inbox)
    assert whole, f"{fit}, see {screens.take('list')}"
    if size != NARROW:  # a phone shows the message instead of the list
        open_realistic(inbox, realistic)
        whole, fit = picker_is_whole(inbox)
        assert whole, f"{fit}, see {screens.take('reading')}"
        # Another user's option is chosen: the title follows.
        inbox.js(
            "const s = document.getElementById('user'); s.value = 'alice';"
            "s.dispatchEvent(new Event('change'))"
        )
        inbox.wait(lambda: inbox.js(PICKER_FIT)["title"].startswith("alice ("))
        whole, fit = picker_is_whole(inbox)
        assert whole, f"{fit}, see {screens.take('alice')}"


def focused_subject(inbox: Inbox) -> str | None:
    return inbox.js(
        "const row = document.activeElement.closest('.row');"
        "return row ? row.querySelector('.subject').textContent : null"
    )


@pytest.mark.parametrize("size", [(1366, 768), (1280, 900)], ids=["1366x768", "1280x900"])
def test_j_and_k_move_the_selection_right_after_load(inbox, realistic, chromium, size):
    chromium.resize(*size)
    inbox.open()
    inbox.wait(lambda: len(inbox.subjects()) == 50)
    first, second, third = inbox.subjects()[:3]
    assert first == SUBJECT
    assert inbox.js("return document.activeElement === document.body")
    inbox.press("j")  # no row had the focus: the first one takes it
    assert focused_subject(inbox) == first
    inbox.press("j")
    assert focused_subject(inbox) == second
    inbox.press("j")
    assert focused_subject(inbox) == third
    inbox.press("k")
    assert focused_subject(inbox) == second
    # Focus elsewhere (a button): j takes the list up again where it was.
    inbox.el("purge").click()
    inbox.answer_confirm(False)
    assert inbox.js("return document.activeElement.id") == "purge"
    inbox.press("j")
    assert focused_subject(inbox) == second
    inbox.press(Keys.ENTER)
    inbox.wait_view(second)
    inbox.press(Keys.ESCAPE)
    inbox.wait(lambda: not inbox.view_open())
    assert focused_subject(inbox) == second


def test_the_arrows_home_and_end_work_right_after_load(inbox, realistic, chromium):
    chromium.resize(1366, 768)
    inbox.open()
    inbox.wait(lambda: len(inbox.subjects()) == 50)
    subjects = inbox.subjects()
    inbox.press(Keys.END)
    assert focused_subject(inbox) == subjects[-1]
    inbox.js("document.activeElement.blur()")
    inbox.press(Keys.ARROW_DOWN)  # back where the list was left
    assert focused_subject(inbox) == subjects[-1]
    inbox.press(Keys.HOME)
    assert focused_subject(inbox) == subjects[0]
    inbox.press(Keys.ARROW_DOWN)
    assert focused_subject(inbox) == subjects[1]


def test_the_list_keys_leave_the_search_box_and_pickers_alone(inbox, realistic, chromium):
    chromium.resize(1366, 768)
    inbox.open()
    inbox.wait(lambda: len(inbox.subjects()) == 50)
    inbox.el("user").click()  # the picker's own keys: j chooses nothing here, no row moves
    inbox.press(Keys.ESCAPE)
    inbox.press("k")
    assert inbox.js("return document.activeElement.id") == "user"
    assert focused_subject(inbox) is None
    inbox.el("search").click()
    inbox.press("jk", Keys.END, Keys.HOME, Keys.ARROW_DOWN)
    assert inbox.js("return document.activeElement.id") == "search"
    assert inbox.el("search").get_attribute("value") == "jk"
