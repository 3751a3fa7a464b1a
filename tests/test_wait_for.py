"""MailServer.wait_for and MailServer.cursor: the in-process side of GET /messages/wait, with
the same query language and the same links and codes."""

from __future__ import annotations

import smtplib
import threading
import time

import pytest

from elektromail.extract import PatternError
from elektromail.mailquery import QueryError
from elektromail.testing import MailServer

SIGNUP = (
    "From: Acme <no-reply@acme.example>\r\nTo: Bob <bob@example.net>\r\n"
    "Subject: Welcome aboard\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
    "--b\r\nContent-Type: text/plain\r\n\r\nYour code is 482913.\r\n"
    "Sign in: https://acme.example/magic?token=m4g1c\r\n"
    "--b\r\nContent-Type: application/octet-stream; name=a.bin\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b--\r\n"
)


@pytest.fixture(scope="module")
def mail():
    with MailServer(users="user:pass,bob:builder") as server:
        yield server


@pytest.fixture(autouse=True)
def clean(mail):
    mail.reset()


def send(mail, to: str, raw: str) -> None:
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as smtp:
        smtp.sendmail("no-reply@acme.example", [to], raw.encode())


def test_wait_for_gives_the_message_with_its_code_links_and_attachments(mail):
    send(mail, "bob@example.net", SIGNUP)
    message = mail.wait_for(q="to:bob subject:Welcome", timeout=10)
    assert (message.subject, message.user, message.sender) == (
        "Welcome aboard",
        "bob",
        "Acme <no-reply@acme.example>",
    )
    assert message.code == "482913"
    assert [c.value for c in message.codes] == ["482913", "m4g1c"]
    assert message.link == "https://acme.example/magic?token=m4g1c"
    assert message.text.startswith("Your code is 482913.")
    assert message.html is None
    assert message.raw.endswith(b"--b--\r\n")
    [attachment] = message.attachments
    assert (attachment.filename, attachment.data) == ("a.bin", b"\x00\x01\x02")


def test_the_cursor_keeps_stale_mail_out(mail):
    send(mail, "bob@example.net", "Subject: Your code\r\n\r\nCode: 111111\r\n")
    cursor = mail.cursor()
    send(mail, "bob@example.net", "Subject: Your code\r\n\r\nCode: 222222\r\n")
    assert mail.wait_for(q="subject:code", after=cursor).code == "222222"
    assert mail.wait_for(q="subject:code").code == "111111"  # no cursor: the oldest


def test_a_message_delivered_while_waiting(mail):
    cursor = mail.cursor()
    sender = threading.Timer(0.2, send, (mail, "bob@example.net", SIGNUP))
    sender.start()
    try:
        message = mail.wait_for(q="subject:welcome", after=cursor, timeout=10)
    finally:
        sender.join()
    assert message.cursor == cursor + 1


def test_the_next_message_after_one(mail):
    cursor = mail.cursor()
    for n in (1, 2):
        send(mail, "bob@example.net", f"Subject: n{n}\r\n\r\nx\r\n")
    first = mail.wait_for(after=cursor)
    second = mail.wait_for(after=first.cursor)
    assert (first.subject, second.subject) == ("n1", "n2")


def test_a_time_out_raises_timeout_error_naming_the_query(mail):
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="'subject:nothing'"):
        mail.wait_for(q="subject:nothing", timeout=0.3)
    assert time.monotonic() - started < 5


def test_concurrent_waiters_from_threads(mail):
    cursor = mail.cursor()
    results: dict[str, str] = {}

    def wait(who: str) -> None:
        results[who] = mail.wait_for(q=f"subject:{who}", after=cursor, timeout=10).subject

    threads = [threading.Thread(target=wait, args=(who,)) for who in ("alpha", "beta")]
    for thread in threads:
        thread.start()
    send(mail, "bob@example.net", "Subject: beta\r\n\r\nx\r\n")
    send(mail, "bob@example.net", "Subject: alpha\r\n\r\nx\r\n")
    for thread in threads:
        thread.join(15)
    assert results == {"alpha": "alpha", "beta": "beta"}


def test_bad_queries_and_patterns_raise_at_once(mail):
    with pytest.raises(QueryError, match="unknown key"):
        mail.wait_for(q="subjet:x")
    with pytest.raises(PatternError, match="repeats"):
        mail.wait_for(q="x", code_pattern="(a+)+")


def test_a_code_pattern_of_ones_own(mail):
    send(mail, "bob@example.net", "Subject: ref\r\n\r\nYour code is 1234, ticket ZX-9.\r\n")
    assert mail.wait_for(q="subject:ref", code_pattern=r"ZX-(\d)").code == "9"


def test_the_readme_example_passes(mail):
    import pathlib
    import re

    readme = (pathlib.Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    [block] = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if ".wait_for(q=" in b]
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)
    scope["test_signup_mails_a_code"](mail)
