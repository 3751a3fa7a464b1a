"""The end of a mail transaction without a socket: data-stage rules, the Received `with` keyword,
trace headers, the DSN asked for, and `finish` against an in-memory post office."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from twisted.logger import capturedLogs

from elektromail import dsn
from elektromail.rules import Rule
from elektromail.rules import parse as parse_rules
from elektromail.smtp import replies
from elektromail.smtp.params import MailArguments, RcptArguments
from elektromail.smtp.replies import Reply
from elektromail.smtp.session import Envelope, Recipient, Session
from elektromail.smtp.transaction import (
    Outcome,
    data_stage_outcome,
    dsn_report,
    finish,
    is_plain,
    protocol_name,
    rule_reply,
    trace_headers,
)
from elektromail.store.errors import StoreUnavailable
from tests.smtp.fakes import MemoryPostOffice, result_of

MESSAGE = b"Subject: order 42\r\n\r\nbody\r\n"
ARRIVAL = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
ARRIVAL_TEXT = "Tue, 02 Jan 2024 03:04:05 +0000"


def rule(**fields: Any) -> Rule:
    return parse_rules([fields]).rules[0]


def recipient(
    address: str = "bob@example.com", rule: Rule | None = None, **arguments: Any
) -> Recipient:
    return Recipient(RcptArguments(address, **arguments), rule)


def envelope(*recipients: Recipient, sender: str = "app@example.org", **mail: Any) -> Envelope:
    return Envelope(MailArguments(sender, **mail), list(recipients))


def session(**fields: Any) -> Session:
    fields.setdefault("esmtp", True)
    fields.setdefault("helo", "client.test")
    return Session(peer="[127.0.0.1]", **fields)


# --- rule_reply and data_stage_outcome -------------------------------------------------------


def test_rule_reply_is_the_rules_code_status_and_diagnostic_verbatim() -> None:
    reply = rule_reply(rule(action="reject", code=554, status="5.7.1", diagnostic="No {spam}"))
    assert reply.render(host="mx.test") == b"554 5.7.1 No {spam}\r\n"


def test_a_verbatim_diagnostic_keeps_its_braces_in_the_dsn_line_too() -> None:
    """RFC 3464 §2.3.6 Diagnostic-Code quotes the reply as the server gave it: a bounce
    rule's "No {spam}" once became "No {{spam}}" there and in the log."""
    reply = rule_reply(rule(action="bounce", code=550, status="5.1.1", diagnostic="No {spam}"))
    assert reply.line() == "550 5.1.1 No {spam}"
    assert reply.render(host="mx.test") == b"550 5.1.1 No {spam}\r\n"


def test_no_data_stage_rule_forces_nothing() -> None:
    bounced = rule(action="bounce")
    delayed_at_rcpt = rule(action="delay", delay_ms=900)
    recipients = [recipient(), recipient("x@y", bounced), recipient("z@y", delayed_at_rcpt)]
    assert data_stage_outcome(recipients) is None
    assert data_stage_outcome([]) is None


def test_a_data_stage_delay_accepts_after_it() -> None:
    delayed = rule(action="delay", stage="data", delay_ms=300)
    assert data_stage_outcome([recipient(), recipient("x@y", delayed)]) == Outcome(
        replies.MESSAGE_ACCEPTED, 0.3
    )


def test_the_first_refusing_recipient_decides_and_the_longest_delay_counts() -> None:
    tempfail = rule(action="tempfail", stage="data", delay_ms=100)
    reject = rule(action="reject", stage="data")
    slow = rule(action="delay", stage="data", delay_ms=800)
    recipients = [recipient("a@x", slow), recipient("b@x", tempfail), recipient("c@x", reject)]
    assert data_stage_outcome(recipients) == Outcome(
        Reply(451, "4.3.0", "Temporary failure, please try again later"), 0.8
    )


def test_a_data_stage_disconnect_forces_no_reply() -> None:
    gone = rule(action="disconnect", stage="data", delay_ms=50)
    reject = rule(action="reject", stage="data")
    assert data_stage_outcome([recipient("a@x", gone), recipient("b@x", reject)]) == Outcome(
        None, 0.05
    )


# --- protocol_name and trace_headers ---------------------------------------------------------


@pytest.mark.parametrize(
    ("esmtp", "tls", "user", "smtputf8", "expected"),
    [
        (False, True, "bob", True, "SMTP"),
        (True, False, None, False, "ESMTP"),
        (True, True, None, False, "ESMTPS"),
        (True, False, "bob", False, "ESMTPA"),
        (True, True, "bob", False, "ESMTPSA"),
        (True, False, None, True, "UTF8SMTP"),
        (True, True, None, True, "UTF8SMTPS"),
        (True, False, "bob", True, "UTF8SMTPA"),
        (True, True, "bob", True, "UTF8SMTPSA"),
    ],
)
def test_protocol_name(
    esmtp: bool, tls: bool, user: str | None, smtputf8: bool, expected: str
) -> None:
    assert protocol_name(session(esmtp=esmtp, tls=tls, user=user), smtputf8) == expected


def test_trace_headers_for_one_recipient() -> None:
    headers = trace_headers(session(), envelope(recipient()), "mx.test", ARRIVAL)
    assert headers == (
        b"Return-Path: <app@example.org>\r\n"
        b"Received: from client.test ([127.0.0.1])\r\n"
        b"\tby mx.test (elektromail) with ESMTP\r\n"
        b"\tfor <bob@example.com>; " + ARRIVAL_TEXT.encode() + b"\r\n"
    )


def test_trace_headers_name_no_recipient_when_there_are_several() -> None:
    headers = trace_headers(
        session(), envelope(recipient("a@x"), recipient("b@x")), "mx.test", ARRIVAL
    )
    assert b"for <" not in headers
    assert headers.endswith(b"with ESMTP; " + ARRIVAL_TEXT.encode() + b"\r\n")


def test_trace_headers_without_helo_name_only_the_peer() -> None:
    headers = trace_headers(session(helo=None), envelope(recipient()), "mx.test", ARRIVAL)
    assert b"Received: from [127.0.0.1]\r\n" in headers


def test_trace_headers_replace_what_would_break_the_comment_or_the_header() -> None:
    helo = "evil (x)\r\nBcc: y\u00e9"
    headers = trace_headers(session(helo=helo), envelope(recipient()), "mx.test", ARRIVAL)
    assert b"Received: from evil ?x???Bcc: y? ([127.0.0.1])\r\n" in headers


def test_trace_headers_for_the_null_sender_and_an_utf8_recipient() -> None:
    headers = trace_headers(
        session(), envelope(recipient("j\u00f6rg@x"), sender="", smtputf8=True), "mx", ARRIVAL
    )
    assert headers.startswith(b"Return-Path: <>\r\n")
    assert "for <j\u00f6rg@x>".encode() in headers
    assert b"with UTF8SMTP\r\n" in headers


# --- dsn_report ------------------------------------------------------------------------------

BOUNCE = rule(action="bounce", diagnostic="Mailbox full", status="5.2.2")


def report_for(env: Envelope, delivered: list[Recipient]) -> dsn.Report | None:
    return dsn_report(env, MESSAGE, delivered, "mx.test", ARRIVAL)


def test_no_report_for_the_null_sender() -> None:
    assert report_for(envelope(recipient(rule=BOUNCE), sender=""), []) is None


def test_no_report_when_nothing_bounced_and_no_success_was_asked_for() -> None:
    delivered = recipient()
    assert report_for(envelope(delivered), [delivered]) is None


def test_a_bounced_recipient_is_reported_failed_with_its_reply() -> None:
    bounced = recipient("gone@x", BOUNCE, orcpt="rfc822;Gone@X")
    kept = recipient("bob@x")
    env = envelope(bounced, kept, ret="HDRS", envid="order-42", smtputf8=True)
    assert report_for(env, [kept]) == dsn.Report(
        sender="app@example.org",
        recipients=(
            dsn.RecipientReport(
                "gone@x", dsn.FAILED, "5.2.2", "550 5.2.2 Mailbox full", "rfc822;Gone@X"
            ),
        ),
        original=MESSAGE,
        reporting_mta="mx.test",
        ret="HDRS",
        envelope_id="order-42",
        utf8=True,
        arrival_date=ARRIVAL,
    )


def test_notify_never_silences_a_bounce_and_notify_success_reports_a_delivery() -> None:
    silent = recipient("gone@x", BOUNCE, notify=frozenset({"NEVER"}))
    wants_success = recipient("bob@x", notify=frozenset({"SUCCESS"}))
    report = report_for(envelope(silent, wants_success), [wants_success])
    assert report is not None
    assert report.recipients == (dsn.RecipientReport("bob@x", dsn.DELIVERED, "2.0.0"),)


# --- finish ----------------------------------------------------------------------------------


def finished(
    postoffice: MemoryPostOffice, env: Envelope, *, trace: bool = False, raw: bytes = MESSAGE
) -> Outcome:
    return result_of(finish(postoffice, session(), env, raw, "mx.test", trace))  # type: ignore[arg-type]


def test_finish_stores_once_for_every_kept_recipient_and_answers_250() -> None:
    postoffice = MemoryPostOffice()
    outcome = finished(postoffice, envelope(recipient("bob@x"), recipient("alice@x")))
    assert postoffice.delivered == [(["bob@x", "alice@x"], MESSAGE)]
    assert postoffice.bounced == []
    assert outcome.reply is replies.MESSAGE_ACCEPTED
    assert outcome.delay == 0.0
    assert [(d.user, d.uid) for d in outcome.deliveries] == [("bob", 1), ("alice", 2)]


def test_finish_bounces_instead_of_storing_a_bounced_recipient() -> None:
    postoffice = MemoryPostOffice()
    outcome = finished(postoffice, envelope(recipient("gone@x", BOUNCE), recipient("bob@x")))
    assert postoffice.delivered == [(["bob@x"], MESSAGE)]
    [report] = postoffice.bounced
    assert [r.final_recipient for r in report.recipients] == ["gone@x"]
    assert outcome.reply is replies.MESSAGE_ACCEPTED


def test_finish_with_only_bounced_recipients_stores_nothing_but_the_dsn() -> None:
    postoffice = MemoryPostOffice()
    outcome = finished(postoffice, envelope(recipient("gone@x", BOUNCE)))
    assert postoffice.delivered == []
    assert len(postoffice.bounced) == 1
    assert outcome == Outcome(replies.MESSAGE_ACCEPTED)


def test_finish_puts_the_trace_headers_on_the_stored_copy_and_the_returned_one() -> None:
    postoffice = MemoryPostOffice()
    finished(postoffice, envelope(recipient("gone@x", BOUNCE), recipient("bob@x")), trace=True)
    [(_, stored)] = postoffice.delivered
    assert stored.startswith(b"Return-Path: <app@example.org>\r\nReceived: from client.test")
    assert stored.endswith(b"\r\n" + MESSAGE)
    assert postoffice.bounced[0].original == stored


def test_finish_without_the_setting_stores_the_bytes_as_received() -> None:
    postoffice = MemoryPostOffice()
    finished(postoffice, envelope(recipient()))
    assert postoffice.delivered[0][1] == MESSAGE


def test_a_refusing_data_stage_rule_stores_nothing() -> None:
    postoffice = MemoryPostOffice()
    reject = rule(action="reject", stage="data", delay_ms=200)
    outcome = finished(postoffice, envelope(recipient("bob@x", reject), recipient("alice@x")))
    assert outcome == Outcome(Reply(550, "5.1.1", "User unknown"), 0.2)
    assert postoffice.delivered == []
    assert postoffice.bounced == []


def test_a_data_stage_delay_stores_and_answers_after_it() -> None:
    postoffice = MemoryPostOffice()
    slow = rule(action="delay", stage="data", delay_ms=300)
    outcome = finished(postoffice, envelope(recipient("bob@x", slow)))
    assert outcome.reply is replies.MESSAGE_ACCEPTED
    assert outcome.delay == 0.3
    assert postoffice.delivered == [(["bob@x"], MESSAGE)]


def test_a_failing_dsn_is_logged_when_the_message_was_stored() -> None:
    postoffice = MemoryPostOffice()
    postoffice.bounce_error = StoreUnavailable("read-only")
    with capturedLogs() as events:
        outcome = finished(postoffice, envelope(recipient("gone@x", BOUNCE), recipient("bob@x")))
    assert outcome.reply is replies.MESSAGE_ACCEPTED
    assert [e.get("log_format") for e in events] == ["DSN to {sender} failed"]


def test_a_failing_dsn_with_nothing_stored_fails_the_transaction() -> None:
    postoffice = MemoryPostOffice()
    postoffice.bounce_error = StoreUnavailable("read-only")
    with pytest.raises(StoreUnavailable):
        finished(postoffice, envelope(recipient("gone@x", BOUNCE)))


def test_a_failing_store_fails_the_transaction() -> None:
    postoffice = MemoryPostOffice()
    postoffice.deliver_error = StoreUnavailable("locked")
    with pytest.raises(StoreUnavailable):
        finished(postoffice, envelope(recipient()))
    assert postoffice.bounced == []


@pytest.mark.parametrize(
    ("recipients", "plain"),
    [
        pytest.param([recipient("bob@x"), recipient("alice@x")], True, id="no-rules"),
        pytest.param([recipient("bob@x", notify=frozenset({"FAILURE"}))], True, id="failure-dsn"),
        pytest.param([recipient("bob@x", notify=frozenset({"SUCCESS"}))], False, id="success-dsn"),
        pytest.param([recipient("bob@x"), recipient("gone@x", BOUNCE)], False, id="bounce"),
        pytest.param([recipient("bob@x", rule(action="delay", stage="data", delay_ms=1))], False,
                     id="data-stage-rule"),
        pytest.param([], False, id="no-recipients"),
    ],
)  # fmt: skip
def test_only_a_message_without_rules_or_success_dsns_takes_the_plain_path(
    recipients: list[Recipient], plain: bool
) -> None:
    assert is_plain(envelope(*recipients)) is plain


def test_a_plain_message_is_stored_and_answered_as_any_other() -> None:
    postoffice = MemoryPostOffice()
    outcome = finished(postoffice, envelope(recipient("bob@x")), trace=True)
    [(recipients, stored)] = postoffice.delivered
    assert recipients == ["bob@x"]
    assert stored.startswith(b"Return-Path: <app@example.org>\r\nReceived: from client.test")
    assert stored.endswith(b"\r\n" + MESSAGE)
    assert outcome.reply is replies.MESSAGE_ACCEPTED
    assert outcome.delay == 0.0
    assert [(d.user, d.uid) for d in outcome.deliveries] == [("bob", 1)]


# --- quotas ------------------------------------------------------------------------------------


def test_finish_stores_for_the_recipients_with_room_and_reports_the_others() -> None:
    """RFC 5321 §4.2.5: partly delivered: 250, and a DSN for the recipient over quota (5.2.2,
    RFC 3463 "Mailbox full")."""
    postoffice = MemoryPostOffice()
    postoffice.full = {"bob"}
    transaction = envelope(recipient("bob@example.com"), recipient("carol@example.com"))
    outcome = finished(postoffice, transaction)
    assert outcome.reply == replies.MESSAGE_ACCEPTED
    assert postoffice.delivered == [(["carol@example.com"], MESSAGE)]
    (report,) = postoffice.bounced
    assert [(r.final_recipient, r.action, r.status) for r in report.recipients] == [
        ("bob@example.com", dsn.FAILED, "5.2.2")
    ]


def test_finish_with_room_for_no_recipient_is_552_and_stores_nothing() -> None:
    postoffice = MemoryPostOffice()
    postoffice.full = {"bob"}
    transaction = envelope(recipient("bob@example.com"), recipient("bob@example.net"))
    outcome = finished(postoffice, transaction)
    assert outcome.reply == replies.MAILBOX_FULL
    assert (postoffice.delivered, postoffice.bounced) == ([], [])


def test_an_over_quota_recipient_with_notify_never_gets_no_report() -> None:
    transaction = envelope(recipient("bob@example.com", notify=frozenset({"NEVER"})))
    over = transaction.recipients
    assert dsn_report(transaction, MESSAGE, [], "mx.test", ARRIVAL, over) is None
