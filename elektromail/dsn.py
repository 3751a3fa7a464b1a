"""Delivery status notifications (RFC 3464) as bytes: the report a bounce delivers to the sender.

Pure code. A report of failed recipients returns the original message (`RET=FULL`) or its header
(`RET=HDRS`); without RET, like Postfix, the whole message when it is at most 50,000 bytes and
its header otherwise. A report of successful deliveries (NOTIFY=SUCCESS) returns the header.
For an SMTPUTF8 transaction the RFC 6533 types (`message/global-delivery-status`, ...) are used.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

FAILED = "failed"
DELIVERED = "delivered"
# Postfix's bounce_size_limit: without RET, a larger original is returned as its header only.
RETURN_LIMIT = 50_000


@dataclass(frozen=True, slots=True)
class RecipientReport:
    """One recipient's block: Final-Recipient, Original-Recipient, Action, Status, Diagnostic."""

    final_recipient: str
    action: str  # FAILED or DELIVERED
    status: str  # "5.1.1"
    diagnostic: str | None = None  # the SMTP reply: "550 5.1.1 User unknown"
    original_recipient: str | None = None  # decoded ORCPT, "rfc822;bob@example.com"


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a DSN says about one received message."""

    sender: str  # the envelope sender the DSN is addressed to
    recipients: tuple[RecipientReport, ...]
    original: bytes  # the message as received
    reporting_mta: str = "localhost"
    ret: str | None = None  # "FULL", "HDRS", or None when the client gave none
    envelope_id: str | None = None  # decoded ENVID
    utf8: bool = False  # the transaction used SMTPUTF8
    arrival_date: datetime | None = None

    @property
    def failed(self) -> bool:
        return any(r.action == FAILED for r in self.recipients)


def header_block(raw: bytes) -> bytes:
    """The message's header section with the CRLF ending its last field, without the blank
    line; all of `raw` when there is no body."""
    if raw.startswith(b"\r\n"):
        return b""
    end = raw.find(b"\r\n\r\n")
    return raw if end < 0 else raw[: end + 2]


def returns_full_message(report: Report) -> bool:
    if not report.failed or report.ret == "HDRS":
        return False
    return report.ret == "FULL" or len(report.original) <= RETURN_LIMIT


def build(report: Report, date: datetime | None = None, token: str | None = None) -> bytes:
    """The DSN message (CRLF line ends), ready to deliver to `report.sender`."""
    date = date or datetime.now(UTC)
    token = token or uuid.uuid4().hex
    full = returns_full_message(report)
    returned = report.original if full else header_block(report.original)
    boundary = _boundary(token, report.reporting_mta, returned)
    parts = [
        _part(_notification_type(report), _notification(report)),
        _part(_status_type(report), _status_fields(report, date), "Delivery report"),
        _part(*_returned_part(report, full, returned)),
    ]
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts[:-1])
    body += b"--" + boundary + b"\r\n" + parts[-1] + b"\r\n--" + boundary + b"--\r\n"
    eight_bit = not body.isascii()
    report_type = "global-delivery-status" if report.utf8 else "delivery-status"
    header = [
        f"From: Mail Delivery System <MAILER-DAEMON@{report.reporting_mta}>",
        f"To: <{report.sender}>",
        "Subject: " + _subject(report),
        "Date: " + format_datetime(date),
        f"Message-ID: <{token}@{report.reporting_mta}>",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f"Content-Type: multipart/report; report-type={report_type};",
        f'\tboundary="{boundary.decode("ascii")}"',
    ]
    if eight_bit:
        header.append("Content-Transfer-Encoding: 8bit")
    preamble = "\r\n".join(header) + "\r\n\r\nThis is a MIME-encapsulated message.\r\n\r\n"
    return preamble.encode("utf-8") + body


def _boundary(token: str, host: str, returned: bytes) -> bytes:
    boundary = f"{token}/{host}".encode("ascii", "replace")
    while boundary in returned:  # practically never; the delimiter must not occur inside
        boundary = b"=_" + boundary
    return boundary


def _subject(report: Report) -> str:
    if report.failed:
        return "Undelivered Mail Returned to Sender"
    return "Successful Mail Delivery Report"


def _part(content_type: str, content: bytes, description: str | None = None) -> bytes:
    fields = [f"Content-Type: {content_type}"]
    if description:
        fields.insert(0, f"Content-Description: {description}")
    if not content.isascii():
        fields.append("Content-Transfer-Encoding: 8bit")
    return ("\r\n".join(fields) + "\r\n\r\n").encode("ascii") + content


def _notification_type(report: Report) -> str:
    text_is_ascii = report.sender.isascii() and all(
        r.final_recipient.isascii() for r in report.recipients
    )
    return "text/plain; charset=" + ("us-ascii" if text_is_ascii else "utf-8")


def _notification(report: Report) -> bytes:
    """The human-readable part."""
    failed = [r for r in report.recipients if r.action == FAILED]
    delivered = [r for r in report.recipients if r.action == DELIVERED]
    lines = [f"This is the mail server at {report.reporting_mta}.", ""]
    if failed:
        lines += ["Your message could not be delivered to these recipients:", ""]
        lines += [f"<{r.final_recipient}>: {r.diagnostic or r.status}" for r in failed]
        lines.append("")
    if delivered:
        lines += ["Your message was delivered to these recipients, as you asked to be told:", ""]
        lines += [f"<{r.final_recipient}>: delivered to the mailbox" for r in delivered]
        lines.append("")
    what = "the message" if returns_full_message(report) else "the header of the message"
    lines.append(f"The delivery report and {what} follow.")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _status_type(report: Report) -> str:
    return "message/global-delivery-status" if report.utf8 else "message/delivery-status"


def _status_fields(report: Report, date: datetime) -> bytes:
    """The message/delivery-status body: per-message fields, then one block per recipient."""
    message = [f"Reporting-MTA: dns; {report.reporting_mta}"]
    if report.envelope_id is not None:
        message.append(f"Original-Envelope-Id: {report.envelope_id}")
    message.append("Arrival-Date: " + format_datetime(report.arrival_date or date))
    blocks = [message] + [_recipient_fields(r) for r in report.recipients]
    text = "\r\n\r\n".join("\r\n".join(block) for block in blocks) + "\r\n"
    return text.encode("utf-8")


def _recipient_fields(recipient: RecipientReport) -> list[str]:
    fields = []
    if recipient.original_recipient is not None:
        kind, _, address = recipient.original_recipient.partition(";")
        fields.append(f"Original-Recipient: {kind.strip()}; {address.strip()}")
    fields += [
        f"Final-Recipient: {_address_type(recipient.final_recipient)}; {recipient.final_recipient}",
        f"Action: {recipient.action}",
        f"Status: {recipient.status}",
    ]
    if recipient.diagnostic:
        fields.append(f"Diagnostic-Code: smtp; {recipient.diagnostic}")
    return fields


def _address_type(address: str) -> str:
    return "rfc822" if address.isascii() else "utf-8"  # RFC 6533 §3


def _returned_part(report: Report, full: bool, returned: bytes) -> tuple[str, bytes, str]:
    if full:
        kind = "message/global" if report.utf8 else "message/rfc822"
        return kind, returned, "Undelivered message" if report.failed else "Message"
    kind = "message/global-headers" if report.utf8 else "text/rfc822-headers"
    return kind, returned, "Message header"
