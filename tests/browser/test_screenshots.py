"""The README's screenshots of the web inbox, taken only when asked:

    ELEKTROMAIL_SCREENSHOTS=docs/screenshots pytest tests/browser/test_screenshots.py

writes inbox.png (the list) and message.png (a message's HTML view) at 1280 x 800."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.available import missing

if not os.environ.get("ELEKTROMAIL_SCREENSHOTS"):
    pytest.skip("set ELEKTROMAIL_SCREENSHOTS=<directory> to take them", allow_module_level=True)
if missing():
    pytest.skip(missing(), allow_module_level=True)

from elektromail.testing import MailServer
from tests.browser.chrome import WIDE, Inbox

TARGET = os.environ["ELEKTROMAIL_SCREENSHOTS"]

USERS = "jane:jane@example.com:pw,ops:ops@example.com:pw"

ORDER_HTML = """\
<div style="background:#f4f5f7;padding:32px 0;font-family:Helvetica,Arial,sans-serif">
<table role="presentation" width="560" align="center" cellpadding="0" cellspacing="0"
 style="background:#ffffff;border-radius:10px;overflow:hidden">
<tr><td style="background:#0f766e;padding:22px 32px;color:#ffffff;font-size:22px;
 font-weight:bold">Acme Shop</td></tr>
<tr><td style="padding:28px 32px 8px;color:#1f2937;font-size:16px;line-height:1.6">
<p style="margin:0 0 14px">Hi Jane,</p>
<p style="margin:0 0 14px">Good news: your order <b>#10482</b> is on its way. It should
arrive on <b>Thursday, 28 November</b>.</p>
<img src="https://images.acme.test/track/10482.png" width="1" height="1" alt="">
</td></tr>
<tr><td style="padding:8px 32px">
<table role="presentation" width="100%" cellpadding="8" cellspacing="0"
 style="border-collapse:collapse;font-size:15px;color:#374151">
<tr style="border-bottom:1px solid #e5e7eb"><td>Trail running shoes, size 39</td>
<td align="right">&euro;119.00</td></tr>
<tr style="border-bottom:1px solid #e5e7eb"><td>Merino socks (3 pairs)</td>
<td align="right">&euro;24.00</td></tr>
<tr><td><b>Total</b></td><td align="right"><b>&euro;143.00</b></td></tr>
</table></td></tr>
<tr><td style="padding:20px 32px 32px">
<a href="https://shop.acme.test/orders/10482" style="display:inline-block;background:#0f766e;
color:#ffffff;text-decoration:none;padding:12px 22px;border-radius:6px;font-weight:bold">
Track your parcel</a></td></tr>
</table>
<p style="text-align:center;color:#6b7280;font-size:12px;margin-top:18px">
Acme Shop &middot; 1 Example Street &middot; Berlin</p>
</div>
"""

PDF = (
    "JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PC9UeXBlL0NhdGFsb2c+PgplbmRvYmoKdHJhaWxlcgo8PC9Sb290IDEgMCBSPj4K"
    "JSVFT0YK"
)


def message(
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    attachment: tuple[str, str, str] | None = None,
) -> str:
    head = f"From: {sender}\nTo: {to}\nSubject: {subject}\nMIME-Version: 1.0\n"
    if html is None and attachment is None:
        return head + f"Content-Type: text/plain; charset=utf-8\n\n{text}\n"
    parts = [f"Content-Type: text/plain; charset=utf-8\n\n{text}\n"]
    if html is not None:
        parts.append(f"Content-Type: text/html; charset=utf-8\n\n{html}\n")
    body = head + 'Content-Type: multipart/mixed; boundary="part"\n\n'
    for part in parts:
        body += f"--part\n{part}"
    if attachment is not None:
        name, kind, data = attachment
        body += (
            f'--part\nContent-Type: {kind}; name="{name}"\n'
            f'Content-Disposition: attachment; filename="{name}"\n'
            f"Content-Transfer-Encoding: base64\n\n{data}\n"
        )
    return body + "--part--\n"


ACME = "Acme Shop <orders@acme.test>"
MAIL = [  # oldest first: (user, minutes ago, flags, raw)
    (
        "jane",
        3000,
        ["\\Seen"],
        message(
            "Acme <hello@acme.test>",
            "jane@example.com",
            "Welcome to Acme, Jane!",
            "Thanks for signing up.",
        ),
    ),
    (
        "ops",
        2100,
        ["\\Seen"],
        message(
            "CI <ci@builds.acme.test>",
            "ops@example.com",
            "[CI] Build #5821 passed on main",
            "All 1,204 tests passed.",
        ),
    ),
    (
        "jane",
        1500,
        ["\\Seen", "\\Flagged"],
        message(
            "Acme Billing <billing@acme.test>",
            "jane@example.com",
            "Invoice INV-2024-0193",
            "Your invoice is attached.",
            attachment=("INV-2024-0193.pdf", "application/pdf", PDF),
        ),
    ),
    (
        "jane",
        600,
        ["\\Seen", "\\Answered"],
        message(
            "María García <maria@example.org>",
            "jane@example.com",
            "Re: Quarterly report draft",
            "Looks good to me, two small comments inline.",
        ),
    ),
    (
        "ops",
        240,
        [],
        message(
            "Alertmanager <alerts@monitoring.acme.test>",
            "ops@example.com",
            "[FIRING:1] DiskAlmostFull db-02 /var/lib/postgresql",
            "Disk usage is at 91%.",
        ),
    ),
    (
        "jane",
        95,
        [],
        message(
            "Acme Calendar <calendar@acme.test>",
            "jane@example.com",
            "Invitation: Sprint review @ Fri 29 Nov 14:00",
            "You have been invited.",
            attachment=("invite.ics", "text/calendar", "QkVHSU46VkNBTEVOREFSCkVORDpWQ0FMRU5EQVIK"),
        ),
    ),
    (
        "jane",
        42,
        [],
        message(
            "Acme Security <security@acme.test>",
            "jane@example.com",
            "Reset your password",
            "Someone asked to reset the password of your Acme account.",
        ),
    ),
    (
        "jane",
        12,
        [],
        message(
            "Acme <no-reply@acme.test>",
            "jane@example.com",
            "Your verification code is 418207",
            "Enter 418207 to confirm your email address.",
        ),
    ),
    (
        "jane",
        3,
        [],
        message(
            ACME,
            "Jane Doe <jane@example.com>",
            "Your order #10482 has shipped",
            "Your order #10482 is on its way.",
            html=ORDER_HTML,
            attachment=("receipt-10482.pdf", "application/pdf", PDF),
        ),
    ),
]


@pytest.fixture(scope="module")
def mail() -> Iterator[MailServer]:
    with MailServer(users=USERS, http_port=0) as server:
        now = time.time()
        for user, minutes, flags, raw in MAIL:
            server.inject(user, raw, flags=flags, internal_date=now - minutes * 60)
        yield server


def test_take_the_screenshots(chromium, mail):
    target = Path(TARGET)
    target.mkdir(parents=True, exist_ok=True)
    chromium.resize(*WIDE)
    inbox = Inbox(chromium.driver, mail.http_url).open()
    inbox.wait(lambda: len(inbox.subjects()) == len(MAIL))
    chromium.driver.save_screenshot(str(target / "inbox.png"))
    inbox.open_message("Your order #10482 has shipped")
    inbox.driver.switch_to.frame(inbox.el("html-frame"))
    inbox.wait(lambda: "Track your parcel" in inbox.js("return document.body.innerText"))
    inbox.driver.switch_to.default_content()
    all_users = "return document.querySelector('#user option').textContent"
    inbox.wait(lambda: inbox.js(all_users) == "All users (9, 4 unread)")  # it was marked read
    inbox.js("document.activeElement.blur()")
    chromium.driver.save_screenshot(str(target / "message.png"))
