"""RFC 3464 delivery status notifications as pure code, parsed back with the stdlib `email`
package and checked field by field; RET and the Postfix-like default; RFC 6533 for SMTPUTF8."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import Message

import pytest

from elektromail import dsn
from elektromail.dsn import DELIVERED, FAILED, RecipientReport, Report

ORIGINAL = (
    b"From: App <app@example.org>\r\n"
    b"To: bob@example.com\r\n"
    b"Subject: order 42\r\n"
    b"Message-ID: <42@example.org>\r\n"
    b"\r\n"
    b"Your order.\r\n"
    b"--not-a-boundary\r\n"
)
DATE = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
BOUNCED = RecipientReport("bob@example.com", FAILED, "5.1.1", "550 5.1.1 User unknown")


def build(**changes) -> bytes:
    fields = {
        "sender": "app@example.org",
        "recipients": (BOUNCED,),
        "original": ORIGINAL,
        "arrival_date": DATE,
        **changes,
    }
    return dsn.build(Report(**fields), date=DATE, token="t0k3n")


def parse(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def status_blocks(report: Message) -> list[Message]:
    """The per-message block and the per-recipient blocks of the delivery-status part."""
    part = report.get_payload(1)
    if part.get_content_type() == "message/delivery-status":
        return part.get_payload()
    # message/global-delivery-status is not special to `email`: split the fields ourselves.
    text = part.get_payload(decode=True) or part.as_bytes().split(b"\n\n", 1)[1]
    return [email.message_from_bytes(block) for block in text.split(b"\r\n\r\n") if block.strip()]


def returned(raw: bytes) -> bytes:
    """The bytes of the third part, exactly as they stand in the DSN."""
    third = raw.split(b"--t0k3n/localhost\r\n")[3]
    body = third.split(b"\r\n\r\n", 1)[1]
    return body.removesuffix(b"\r\n--t0k3n/localhost--\r\n")


def test_top_level_header() -> None:
    report = parse(build())
    assert report["From"] == "Mail Delivery System <MAILER-DAEMON@localhost>"
    assert report["To"] == "<app@example.org>"
    assert report["Subject"] == "Undelivered Mail Returned to Sender"
    assert report["Date"] == "Mon, 06 May 2024 07:08:09 +0000"
    assert report["Message-ID"] == "<t0k3n@localhost>"
    assert report["Auto-Submitted"] == "auto-replied"
    assert report["MIME-Version"] == "1.0"
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "delivery-status"
    assert [p.get_content_type() for p in report.get_payload()] == [
        "text/plain",
        "message/delivery-status",
        "message/rfc822",
    ]


def test_human_readable_part_names_the_recipient_and_the_reason() -> None:
    text = parse(build()).get_payload(0).get_payload(decode=True).decode()
    assert "<bob@example.com>: 550 5.1.1 User unknown" in text


def test_delivery_status_fields() -> None:
    per_message, recipient = status_blocks(parse(build()))
    assert per_message["Reporting-MTA"] == "dns; localhost"
    assert per_message["Arrival-Date"] == "Mon, 06 May 2024 07:08:09 +0000"
    assert per_message["Original-Envelope-Id"] is None
    assert recipient["Final-Recipient"] == "rfc822; bob@example.com"
    assert recipient["Action"] == "failed"
    assert recipient["Status"] == "5.1.1"
    assert recipient["Diagnostic-Code"] == "smtp; 550 5.1.1 User unknown"
    assert recipient["Original-Recipient"] is None


def test_envelope_id_and_original_recipient_appear_when_given() -> None:
    bounced = RecipientReport(
        "bob@example.com", FAILED, "5.1.1", "550 5.1.1 User unknown", "rfc822;Bob+x@Example.com"
    )
    per_message, recipient = status_blocks(parse(build(recipients=(bounced,), envelope_id="id-7")))
    assert per_message["Original-Envelope-Id"] == "id-7"
    assert recipient["Original-Recipient"] == "rfc822; Bob+x@Example.com"


def test_one_block_per_recipient_in_order() -> None:
    second = RecipientReport("carol@example.com", FAILED, "5.2.2", "552 5.2.2 Mailbox full")
    blocks = status_blocks(parse(build(recipients=(BOUNCED, second))))
    assert [b["Final-Recipient"] for b in blocks[1:]] == [
        "rfc822; bob@example.com",
        "rfc822; carol@example.com",
    ]
    assert blocks[2]["Status"] == "5.2.2"


@pytest.mark.parametrize(
    ("ret", "original", "content_type", "body"),
    [
        ("FULL", ORIGINAL, "message/rfc822", ORIGINAL),
        ("HDRS", ORIGINAL, "text/rfc822-headers", dsn.header_block(ORIGINAL)),
        (None, ORIGINAL, "message/rfc822", ORIGINAL),
        (None, ORIGINAL + b"x" * 50_000, "text/rfc822-headers", dsn.header_block(ORIGINAL)),
        ("FULL", ORIGINAL + b"x" * 50_000, "message/rfc822", ORIGINAL + b"x" * 50_000),
    ],
    ids=["full", "hdrs", "default-small", "default-large", "full-large"],
)
def test_returned_content_follows_ret(
    ret: str | None, original: bytes, content_type: str, body: bytes
) -> None:
    raw = build(ret=ret, original=original)
    assert parse(raw).get_payload(2).get_content_type() == content_type
    assert returned(raw) == body


def test_returned_message_parses_as_the_original() -> None:
    inner = parse(build(ret="FULL")).get_payload(2).get_payload(0)
    assert inner["Subject"] == "order 42"
    assert inner["Message-ID"] == "<42@example.org>"


def test_header_block() -> None:
    assert dsn.header_block(ORIGINAL) == ORIGINAL.split(b"\r\n\r\n")[0] + b"\r\n"
    assert dsn.header_block(b"\r\nbody only\r\n") == b""
    assert dsn.header_block(b"Subject: no body\r\n") == b"Subject: no body\r\n"


def test_success_report_returns_the_header_only() -> None:
    delivered = RecipientReport("bob@example.com", DELIVERED, "2.0.0")
    raw = build(recipients=(delivered,), ret="FULL")
    report = parse(raw)
    assert report["Subject"] == "Successful Mail Delivery Report"
    assert report.get_payload(2).get_content_type() == "text/rfc822-headers"
    _, recipient = status_blocks(report)
    assert (recipient["Action"], recipient["Status"], recipient["Diagnostic-Code"]) == (
        "delivered",
        "2.0.0",
        None,
    )


def test_boundary_never_occurs_in_the_returned_message() -> None:
    original = b"Subject: tricky\r\n\r\n--t0k3n/localhost\r\n"
    raw = build(original=original)
    report = parse(raw)
    assert report.get_boundary() != "t0k3n/localhost"
    assert len(report.get_payload()) == 3
    assert report.get_payload(2).get_payload(0).get_payload() == "--t0k3n/localhost\r\n"


def test_eight_bit_original_is_declared_8bit() -> None:
    raw = build(original=b"Subject: caf\xc3\xa9\r\n\r\ncaf\xc3\xa9\r\n")
    assert b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n" in raw
    assert parse(raw)["Content-Transfer-Encoding"] == "8bit"


def test_seven_bit_report_declares_no_encoding() -> None:
    assert b"Content-Transfer-Encoding" not in build()


def test_smtputf8_report_uses_the_global_types() -> None:
    bounced = RecipientReport("用户@例子.广告", FAILED, "5.1.1", "550 5.1.1 User unknown")
    raw = build(
        sender="jörg@exämple.de",
        recipients=(bounced,),
        utf8=True,
        original="Subject: grüße\r\n\r\nhi\r\n".encode(),
    )
    # RFC 6532 headers are UTF-8: parse the text, as `email` reads bytes as ASCII.
    report = email.message_from_string(raw.decode("utf-8"), policy=email.policy.SMTPUTF8)
    assert report.get_param("report-type") == "global-delivery-status"
    assert report["To"].addresses[0].addr_spec == "jörg@exämple.de"
    types = [p.get_content_type() for p in report.iter_parts()]
    assert types == ["text/plain", "message/global-delivery-status", "message/global"]
    assert report.get_payload(0).get_content_charset() == "utf-8"
    fields = raw.split(b"Content-Type: message/global-delivery-status\r\n")[1].decode()
    assert "Final-Recipient: utf-8; 用户@例子.广告\r\n" in fields


def test_smtputf8_headers_only_report_uses_message_global_headers() -> None:
    raw = build(utf8=True, ret="HDRS")
    assert b"Content-Type: message/global-headers\r\n" in raw
