"""Delivery rules over real sockets: reject, tempfail, bounce with an RFC 3464 DSN to the sender
(parsed back with `email`), accept, delay, disconnect, seeded probability, and the DSN
parameters RET, ENVID, NOTIFY and ORCPT."""

from __future__ import annotations

import email
import email.policy
import json
import smtplib
import socket
import threading
import time
from collections.abc import Callable
from email.message import Message

import pytest

from elektromail.testing import MailServer
from tests.smtp.wire import Wire, mailbox, use_rules

ORIGINAL = b"From: app@example.org\r\nTo: bob@example.com\r\nSubject: order 42\r\n\r\nbody\r\n"


def transaction(wire: Wire, sender: bytes, recipients: list[bytes], message: bytes) -> bytes:
    """MAIL, RCPTs (each must be accepted), DATA and the message; the reply after the dot."""
    assert wire.command(b"MAIL FROM:" + sender).startswith(b"250 ")
    for recipient in recipients:
        assert wire.command(b"RCPT TO:" + recipient).startswith(b"250 ")
    assert wire.command(b"DATA").startswith(b"354 ")
    wire.send(message + b".\r\n")
    return wire.reply()


def parse(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def only_dsn(mail: MailServer, user: str) -> Message:
    (raw,) = mailbox(mail, user)
    return parse(raw)


# --- reject and tempfail ---------------------------------------------------------------------


def test_reject_answers_rcpt_with_the_defaults(wire: Wire, mail: MailServer) -> None:
    use_rules(mail, [{"recipient": "nobody@*", "action": "reject"}])
    wire.command(b"MAIL FROM:<app@example.org>")
    assert wire.command(b"RCPT TO:<nobody@example.com>") == b"550 5.1.1 User unknown\r\n"
    assert wire.command(b"RCPT TO:<Nobody@Other.Example>") == b"550 5.1.1 User unknown\r\n"
    wire.command(b"RSET")
    assert transaction(wire, b"<a@b>", [b"<bob@example.com>"], ORIGINAL).startswith(b"250 ")
    assert mailbox(mail, "nobody") is None
    assert mailbox(mail, "bob") == [ORIGINAL]


def test_reject_with_its_own_reply(wire: Wire, mail: MailServer) -> None:
    rule = {"recipient": "*@blocked.example", "action": "reject"}
    use_rules(mail, [{**rule, "code": 554, "status": "5.7.1", "diagnostic": "Relay access denied"}])
    wire.command(b"MAIL FROM:<a@b>")
    assert wire.command(b"RCPT TO:<x@blocked.example>") == b"554 5.7.1 Relay access denied\r\n"


def test_smtplib_sees_a_refused_recipient_and_delivers_to_the_others(mail: MailServer) -> None:
    use_rules(mail, [{"recipient": "nobody@*", "action": "reject"}])
    with smtplib.SMTP("127.0.0.1", mail.smtp_port, timeout=5) as client:
        refused = client.sendmail("a@b", ["nobody@x", "bob@x"], ORIGINAL)
    assert refused == {"nobody@x": (550, b"5.1.1 User unknown")}
    assert mailbox(mail, "bob") == [ORIGINAL]


def test_sender_pattern_and_braces_in_the_diagnostic(wire: Wire, mail: MailServer) -> None:
    rule = {"sender": "spam*@*", "action": "reject", "diagnostic": "No {spam} please"}
    use_rules(mail, [rule])
    wire.command(b"MAIL FROM:<spammer@x>")
    assert wire.command(b"RCPT TO:<bob@x>") == b"550 5.1.1 No {spam} please\r\n"
    wire.command(b"RSET")
    wire.command(b"MAIL FROM:<friend@x>")
    assert wire.command(b"RCPT TO:<bob@x>") == b"250 2.1.5 Recipient OK\r\n"


def test_tempfail_at_rcpt(wire: Wire, mail: MailServer) -> None:
    use_rules(mail, [{"recipient": "busy@*", "action": "tempfail"}])
    wire.command(b"MAIL FROM:<a@b>")
    assert wire.command(b"RCPT TO:<busy@x>") == (
        b"451 4.3.0 Temporary failure, please try again later\r\n"
    )


def test_tempfail_at_data_stores_nothing(wire: Wire, mail: MailServer) -> None:
    use_rules(
        mail,
        [{"recipient": "busy@*", "action": "tempfail", "stage": "data", "code": 452}],
    )
    reply = transaction(wire, b"<a@b>", [b"<bob@x>", b"<busy@x>"], ORIGINAL)
    assert reply == b"452 4.3.0 Temporary failure, please try again later\r\n"
    assert mailbox(mail, "bob") == [] and mailbox(mail, "busy") is None
    assert transaction(wire, b"<a@b>", [b"<bob@x>"], ORIGINAL) == (
        b"250 2.0.0 Message accepted\r\n"
    )


def test_reject_at_data(wire: Wire, mail: MailServer) -> None:
    use_rules(mail, [{"recipient": "picky@*", "action": "reject", "stage": "data", "code": 554}])
    assert transaction(wire, b"<a@b>", [b"<picky@x>"], ORIGINAL) == (b"554 5.1.1 User unknown\r\n")
    assert mailbox(mail, "picky") is None


def test_accept_exempts_an_address_from_a_wider_rule(wire: Wire, mail: MailServer) -> None:
    use_rules(
        mail,
        [
            {"recipient": "vip@example.com", "action": "accept"},
            {"recipient": "*@example.com", "action": "reject"},
        ],
    )
    wire.command(b"MAIL FROM:<a@b>")
    assert wire.command(b"RCPT TO:<vip@example.com>") == b"250 2.1.5 Recipient OK\r\n"
    assert wire.command(b"RCPT TO:<other@example.com>") == b"550 5.1.1 User unknown\r\n"


def test_rules_from_the_setting(start_mail: Callable[..., MailServer]) -> None:
    rules = [{"recipient": "reject@example.com", "action": "reject", "diagnostic": "Gone"}]
    mail = start_mail(dsn_rules=json.dumps(rules))
    wire = Wire(mail.smtp_port)
    wire.command(b"MAIL FROM:<a@b>")
    assert wire.command(b"RCPT TO:<reject@example.com>") == b"550 5.1.1 Gone\r\n"


# --- bounce and its DSN ----------------------------------------------------------------------

BOUNCE = {"recipient": "bounce@*", "action": "bounce", "status": "5.2.2", "diagnostic": "Full"}


def test_bounce_accepts_then_returns_an_rfc3464_dsn(wire: Wire, mail: MailServer) -> None:
    use_rules(mail, [BOUNCE])
    reply = transaction(wire, b"<app@example.org>", [b"<bounce@example.com>"], ORIGINAL)
    assert reply == b"250 2.0.0 Message accepted\r\n"
    assert mailbox(mail, "bounce") is None
    report = only_dsn(mail, "app")
    assert report["From"] == "Mail Delivery System <MAILER-DAEMON@localhost>"
    assert report["To"] == "<app@example.org>"
    assert report["Subject"] == "Undelivered Mail Returned to Sender"
    assert report["Auto-Submitted"] == "auto-replied"
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "delivery-status"
    human, status, returned = report.get_payload()
    assert human.get_content_type() == "text/plain"
    assert "<bounce@example.com>: 550 5.2.2 Full" in human.get_payload(decode=True).decode()
    assert status.get_content_type() == "message/delivery-status"
    per_message, recipient = status.get_payload()
    assert per_message["Reporting-MTA"] == "dns; localhost"
    assert per_message["Arrival-Date"] is not None
    assert per_message["Original-Envelope-Id"] is None
    assert recipient["Final-Recipient"] == "rfc822; bounce@example.com"
    assert recipient["Original-Recipient"] is None
    assert recipient["Action"] == "failed"
    assert recipient["Status"] == "5.2.2"
    assert recipient["Diagnostic-Code"] == "smtp; 550 5.2.2 Full"
    assert returned.get_content_type() == "message/rfc822"  # no RET, small: the whole message
    assert returned.get_payload(0)["Subject"] == "order 42"


def test_bounce_copy_holds_the_original_bytes(wire: Wire, mail: MailServer) -> None:
    use_rules(mail, [BOUNCE])
    original = b"Subject: exact\r\n\r\n.leading dot kept\r\nbare\nlf\r\n\xc3\xa9\r\n"
    transaction(
        wire,
        b"<app@x>",
        [b"<bounce@x>"],
        b"Subject: exact\r\n\r\n..leading dot kept\r\nbare\nlf\r\n\xc3\xa9\r\n",
    )
    (raw,) = mailbox(mail, "app")
    boundary = parse(raw).get_boundary().encode()
    third = raw.split(b"--" + boundary + b"\r\n")[3]
    assert third.split(b"\r\n\r\n", 1)[1] == original + b"\r\n--" + boundary + b"--\r\n"


def test_bounced_and_delivered_recipients_in_one_transaction(wire: Wire, mail: MailServer) -> None:
    use_rules(mail, [BOUNCE])
    reply = transaction(wire, b"<app@x>", [b"<bob@x>", b"<bounce@x>", b"<alice@x>"], ORIGINAL)
    assert reply == b"250 2.0.0 Message accepted\r\n"
    assert mailbox(mail, "bob") == mailbox(mail, "alice") == [ORIGINAL]
    _, recipient = only_dsn(mail, "app").get_payload(1).get_payload()
    assert recipient["Final-Recipient"] == "rfc822; bounce@x"


def test_dsn_carries_envid_and_orcpt_and_ret_hdrs(wire: Wire, mail: MailServer) -> None:
    use_rules(mail, [BOUNCE])
    assert wire.command(b"MAIL FROM:<app@x> RET=HDRS ENVID=order+2B42").startswith(b"250 ")
    rcpt = b"RCPT TO:<bounce@x> NOTIFY=FAILURE ORCPT=rfc822;Bounce+2Btag@X"
    assert wire.command(rcpt).startswith(b"250 ")
    assert wire.command(b"DATA").startswith(b"354 ")
    wire.send(ORIGINAL + b".\r\n")
    assert wire.reply().startswith(b"250 ")
    report = only_dsn(mail, "app")
    per_message, recipient = report.get_payload(1).get_payload()
    assert per_message["Original-Envelope-Id"] == "order+42"
    assert recipient["Original-Recipient"] == "rfc822; Bounce+tag@X"
    returned = report.get_payload(2)
    assert returned.get_content_type() == "text/rfc822-headers"
    assert returned.get_payload() == ORIGINAL.split(b"\r\n\r\n")[0].decode() + "\r\n"


def test_ret_full_returns_even_a_large_message(wire: Wire, mail: MailServer) -> None:
    use_rules(mail, [BOUNCE])
    large = ORIGINAL + b"x" * 60_000 + b"\r\n"
    assert transaction(wire, b"<app@x> RET=FULL", [b"<bounce@x>"], large).startswith(b"250 ")
    returned = only_dsn(mail, "app").get_payload(2)
    assert returned.get_content_type() == "message/rfc822"
    assert returned.get_payload(0).get_payload() == "body\r\n" + "x" * 60_000 + "\r\n"


def test_without_ret_a_large_message_returns_its_header(wire: Wire, mail: MailServer) -> None:
    use_rules(mail, [BOUNCE])
    large = ORIGINAL + b"x" * 60_000 + b"\r\n"
    assert transaction(wire, b"<app@x>", [b"<bounce@x>"], large).startswith(b"250 ")
    assert only_dsn(mail, "app").get_payload(2).get_content_type() == "text/rfc822-headers"


@pytest.mark.parametrize("notify", [b"NEVER", b"SUCCESS", b"DELAY"])
def test_notify_without_failure_suppresses_the_dsn(
    wire: Wire, mail: MailServer, notify: bytes
) -> None:
    use_rules(mail, [BOUNCE])
    wire.command(b"MAIL FROM:<app@x>")
    assert wire.command(b"RCPT TO:<bounce@x> NOTIFY=" + notify).startswith(b"250 ")
    assert wire.command(b"DATA").startswith(b"354 ")
    wire.send(ORIGINAL + b".\r\n")
    assert wire.reply() == b"250 2.0.0 Message accepted\r\n"
    assert mailbox(mail, "app") is None and mailbox(mail, "bounce") is None


def test_null_sender_never_gets_a_bounce(wire: Wire, mail: MailServer) -> None:
    use_rules(mail, [BOUNCE])
    assert transaction(wire, b"<>", [b"<bounce@x>"], ORIGINAL) == (
        b"250 2.0.0 Message accepted\r\n"
    )
    assert mailbox(mail, "bounce") is None
    users = mail.call(mail.server.store.list_users)
    assert sorted(user.name for user in users) == ["alice", "bob", "user"]


def test_dsn_is_routed_like_any_mail(start_mail: Callable[..., MailServer]) -> None:
    mail = start_mail(users="alice:alice@corp.example:pw,user:pass", trace_headers=True)
    use_rules(mail, [BOUNCE])
    wire = Wire(mail.smtp_port)
    transaction(wire, b"<alice@corp.example>", [b"<bounce@x>"], ORIGINAL)
    transaction(wire, b"<user+bounces@x>", [b"<bounce@x>"], ORIGINAL)
    (to_alice,) = mailbox(mail, "alice")
    (to_user,) = mailbox(mail, "user")
    assert to_alice.startswith(b"Return-Path: <>\r\n")  # sent from the null sender
    assert parse(to_alice)["To"] == "<alice@corp.example>"
    assert parse(to_user)["To"] == "<user+bounces@x>"


def test_notify_success_reports_a_delivery(wire: Wire, mail: MailServer) -> None:
    wire.command(b"MAIL FROM:<app@x> RET=FULL")
    assert wire.command(b"RCPT TO:<bob@x> NOTIFY=SUCCESS,FAILURE").startswith(b"250 ")
    assert wire.command(b"DATA").startswith(b"354 ")
    wire.send(ORIGINAL + b".\r\n")
    assert wire.reply() == b"250 2.0.0 Message accepted\r\n"
    assert mailbox(mail, "bob") == [ORIGINAL]
    report = only_dsn(mail, "app")
    assert report["Subject"] == "Successful Mail Delivery Report"
    _, recipient = report.get_payload(1).get_payload()
    assert (recipient["Action"], recipient["Status"]) == ("delivered", "2.0.0")
    assert report.get_payload(2).get_content_type() == "text/rfc822-headers"


def test_smtputf8_bounce_uses_rfc6533_types(wire: Wire, mail: MailServer) -> None:
    use_rules(mail, [BOUNCE])
    message = "Subject: Grüße\r\n\r\n☃\r\n".encode()
    reply = transaction(wire, "<jörg@x> SMTPUTF8".encode(), [b"<bounce@x>"], message)
    assert reply == b"250 2.0.0 Message accepted\r\n"
    (raw,) = mailbox(mail, "jörg")
    report = email.message_from_string(raw.decode("utf-8"), policy=email.policy.SMTPUTF8)
    assert report.get_param("report-type") == "global-delivery-status"
    types = [part.get_content_type() for part in report.iter_parts()]
    assert types == ["text/plain", "message/global-delivery-status", "message/global"]


def test_smtplib_send_message_to_a_bouncing_address(mail: MailServer) -> None:
    use_rules(mail, [BOUNCE])
    with smtplib.SMTP("127.0.0.1", mail.smtp_port, timeout=5) as client:
        assert client.sendmail("app@x", ["bounce@x"], ORIGINAL) == {}
    assert only_dsn(mail, "app")["Subject"] == "Undelivered Mail Returned to Sender"


# --- delay and disconnect --------------------------------------------------------------------


# The reactor schedules delays by wall-clock time (twisted.python.runtime.seconds is
# time.time) while these tests measure with time.monotonic; a slewed or stepped wall clock
# (CI containers) can make a 700 ms hold measure a few milliseconds short. The tests check
# that a reply is held, not the clock's precision, so they allow this much slack.
CLOCK_SLACK = 0.05


def timed(call: Callable[[], bytes]) -> tuple[bytes, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_delay_holds_the_reply_without_blocking_other_clients(
    open_wire: Callable[[], Wire], mail: MailServer
) -> None:
    use_rules(mail, [{"recipient": "slow@*", "action": "delay", "delay_ms": 700}])
    slow, other = open_wire(), open_wire()
    slow.command(b"MAIL FROM:<a@b>")
    started = time.monotonic()
    slow.send(b"RCPT TO:<slow@x>\r\n")
    reply, elapsed = timed(lambda: other.command(b"NOOP"))
    assert reply == b"250 2.0.0 OK\r\n" and elapsed < 0.5
    assert slow.reply() == b"250 2.1.5 Recipient OK\r\n"
    assert time.monotonic() - started >= 0.7 - CLOCK_SLACK
    slow.command(b"RSET")
    assert transaction(slow, b"<a@b>", [b"<slow@x>"], ORIGINAL).startswith(b"250 ")
    assert mailbox(mail, "slow") == [ORIGINAL]


def test_pipelined_commands_wait_behind_a_delay(wire: Wire, mail: MailServer) -> None:
    use_rules(mail, [{"recipient": "slow@*", "action": "delay", "delay_ms": 200}])
    wire.send(b"MAIL FROM:<a@b>\r\nRCPT TO:<slow@x>\r\nRCPT TO:<bob@x>\r\nNOOP\r\n")
    assert wire.replies(4) == [
        b"250 2.1.0 Sender OK\r\n",
        b"250 2.1.5 Recipient OK\r\n",
        b"250 2.1.5 Recipient OK\r\n",
        b"250 2.0.0 OK\r\n",
    ]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"action": "delay", "delay_ms": 300, "stage": "connect"}, b"220 "),
        ({"action": "delay", "delay_ms": 300, "stage": "mail", "sender": "a@b"}, b"250 2.1.0 "),
        ({"action": "reject", "delay_ms": 300, "recipient": "r@x"}, b"550 5.1.1 "),
        ({"action": "delay", "delay_ms": 300, "stage": "data", "recipient": "r@x"}, b"250 2.0.0 "),
    ],
    ids=["connect", "mail", "rcpt-reject", "data"],
)
def test_delay_at_each_stage(mail: MailServer, rule: dict, expected: bytes) -> None:
    use_rules(mail, [rule])
    started = time.monotonic()
    wire = Wire(mail.smtp_port)
    steps = [b"MAIL FROM:<a@b>", b"RCPT TO:<r@x>", b"DATA"]
    replies = [wire.greeting] + [wire.command(step) for step in steps]
    if replies[-1].startswith(b"354"):
        wire.send(ORIGINAL + b".\r\n")
        replies.append(wire.reply())
    assert any(reply.startswith(expected) for reply in replies), replies
    assert time.monotonic() - started >= 0.3 - CLOCK_SLACK
    wire.close()


def closed_without_reply(wire: Wire, line: bytes) -> bool:
    wire.send(line + b"\r\n")
    return wire.reply() == b"" and wire.at_eof()


def test_disconnect_at_connect_sends_no_greeting(mail: MailServer) -> None:
    use_rules(mail, [{"action": "disconnect", "stage": "connect"}])
    with socket.create_connection(("127.0.0.1", mail.smtp_port), timeout=5) as sock:
        assert sock.recv(100) == b""
    with pytest.raises(smtplib.SMTPServerDisconnected):
        smtplib.SMTP("127.0.0.1", mail.smtp_port, timeout=5)


def test_disconnect_at_mail(wire: Wire, mail: MailServer) -> None:
    use_rules(mail, [{"action": "disconnect", "stage": "mail", "sender": "crash@*"}])
    assert closed_without_reply(wire, b"MAIL FROM:<crash@x>")


def test_disconnect_at_rcpt(wire: Wire, mail: MailServer) -> None:
    use_rules(mail, [{"action": "disconnect", "recipient": "crash@*"}])
    wire.command(b"MAIL FROM:<a@b>")
    assert wire.command(b"RCPT TO:<bob@x>").startswith(b"250 ")
    assert closed_without_reply(wire, b"RCPT TO:<crash@x>")


def test_disconnect_at_data_stores_nothing(wire: Wire, mail: MailServer) -> None:
    use_rules(mail, [{"action": "disconnect", "stage": "data", "recipient": "crash@*"}])
    wire.command(b"MAIL FROM:<a@b>")
    wire.command(b"RCPT TO:<bob@x>")
    assert wire.command(b"RCPT TO:<crash@x>").startswith(b"250 ")
    assert wire.command(b"DATA").startswith(b"354 ")
    wire.send(ORIGINAL)
    assert closed_without_reply(wire, b".")
    assert mailbox(mail, "bob") == []


# --- probability -----------------------------------------------------------------------------


def rcpt_codes(mail: MailServer, count: int = 40) -> list[bytes]:
    wire = Wire(mail.smtp_port)
    codes = []
    for n in range(count):
        wire.command(b"RSET")
        wire.command(b"MAIL FROM:<a@b>")
        codes.append(wire.command(b"RCPT TO:<r%d@x>" % n)[:3])
    wire.close()
    return codes


def test_seeded_probability_repeats_run_after_run(start_mail: Callable[..., MailServer]) -> None:
    rules = json.dumps([{"recipient": "*", "action": "tempfail", "probability": 0.5}])
    first = rcpt_codes(start_mail(dsn_rules=rules, rules_seed=7))
    second = rcpt_codes(start_mail(dsn_rules=rules, rules_seed=7))
    assert first == second
    assert set(first) == {b"250", b"451"}


def test_rules_replaced_at_run_time_take_effect_for_the_next_command(
    wire: Wire, mail: MailServer
) -> None:
    wire.command(b"MAIL FROM:<a@b>")
    assert wire.command(b"RCPT TO:<x@y>").startswith(b"250 ")
    use_rules(mail, [{"recipient": "x@y", "action": "reject"}])
    assert wire.command(b"RCPT TO:<x@y>").startswith(b"550 ")
    use_rules(mail, [])
    assert wire.command(b"RCPT TO:<x@y>").startswith(b"250 ")


def test_concurrent_clients_each_get_their_rule(mail: MailServer) -> None:
    use_rules(mail, [{"recipient": "reject@*", "action": "reject"}])
    results: dict[str, bytes] = {}

    def client(name: str) -> None:
        wire = Wire(mail.smtp_port)
        wire.command(b"MAIL FROM:<a@b>")
        results[name] = wire.command(f"RCPT TO:<{name}@x>".encode())[:3]
        wire.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in ("reject", "bob", "alice")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == {"reject": b"550", "bob": b"250", "alice": b"250"}
