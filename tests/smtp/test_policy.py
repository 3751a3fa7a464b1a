"""The SMTP policy hooks without a socket: which Decision each delivery rule gives at the greeting,
MAIL, RCPT and the final dot, and what a failing store makes of the dot."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.logger import capturedLogs, formatEvent

from elektromail.rules import parse as parse_rules
from elektromail.smtp import replies, transaction
from elektromail.smtp.params import MailArguments, RcptArguments
from elektromail.smtp.policy import Decision, DeliveryPolicy
from elektromail.smtp.replies import Reply
from elektromail.smtp.session import Envelope, Recipient, Session
from elektromail.store.errors import StoreFull, StoreUnavailable
from tests.smtp.fakes import MemoryPostOffice, result_of

MESSAGE = b"Subject: x\r\n\r\nbody\r\n"


def policy_with(
    rules: list[dict[str, Any]] | None = None,
    *,
    trace_headers: bool = False,
    log_messages: bool = False,
) -> tuple[DeliveryPolicy, MemoryPostOffice]:
    postoffice = MemoryPostOffice(rules, log_messages=log_messages)
    policy = DeliveryPolicy(postoffice, "mx.test", trace_headers=trace_headers)  # type: ignore[arg-type]
    return policy, postoffice


def in_transaction(sender: str = "app@example.org") -> Session:
    session = Session(peer="[127.0.0.1]", esmtp=True, helo="client.test")
    session.envelope = Envelope(MailArguments(sender))
    return session


def envelope_for(*recipients: Recipient, sender: str = "app@example.org") -> Envelope:
    return Envelope(MailArguments(sender), list(recipients))


def to(address: str) -> Recipient:
    return Recipient(RcptArguments(address))


# --- the decision value ----------------------------------------------------------------------


def test_a_decision_is_frozen_and_compares_by_value() -> None:
    decision = Decision(replies.OK, 0.5)
    assert decision == Decision(replies.OK, 0.5)
    assert decision != Decision(replies.OK)
    with pytest.raises(FrozenInstanceError):
        decision.delay = 0  # type: ignore[misc]


# --- greeting and MAIL -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        pytest.param([], Decision(replies.GREETING), id="no-rule"),
        pytest.param(
            [{"action": "delay", "stage": "connect", "delay_ms": 200}],
            Decision(replies.GREETING, 0.2),
            id="delay",
        ),
        pytest.param(
            [{"action": "disconnect", "stage": "connect", "delay_ms": 500}],
            Decision(None, 0.5),
            id="disconnect-after-a-delay",
        ),
        pytest.param(
            [{"action": "disconnect", "stage": "connect"}], Decision(None), id="disconnect"
        ),
        pytest.param(
            [{"action": "disconnect", "stage": "mail"}], Decision(replies.GREETING), id="mail-rule"
        ),
    ],
)
def test_on_connect(rules: list[dict[str, Any]], expected: Decision) -> None:
    policy, _ = policy_with(rules)
    assert policy.on_connect(Session(peer="[127.0.0.1]")) == expected


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        pytest.param("slow@example.org", Decision(replies.SENDER_OK, 0.3), id="matching"),
        pytest.param("fast@example.org", Decision(replies.SENDER_OK), id="other-sender"),
        pytest.param("gone@example.org", Decision(None), id="disconnect"),
    ],
)
def test_on_mail_follows_the_sender_patterns(sender: str, expected: Decision) -> None:
    policy, _ = policy_with(
        [
            {"sender": "slow@*", "action": "delay", "stage": "mail", "delay_ms": 300},
            {"sender": "gone@*", "action": "disconnect", "stage": "mail"},
        ]
    )
    assert policy.on_mail(Session(peer="[127.0.0.1]"), MailArguments(sender)) == expected


def test_rules_replaced_on_the_post_office_apply_to_the_next_call() -> None:
    policy, postoffice = policy_with()
    session = Session(peer="[127.0.0.1]")
    assert policy.on_connect(session) == Decision(replies.GREETING)
    postoffice.rules = parse_rules([{"action": "disconnect", "stage": "connect"}])
    assert policy.on_connect(session) == Decision(None)


# --- RCPT ------------------------------------------------------------------------------------

ACCEPTED = "joins the envelope with its rule"
ACCEPTED_PLAIN = "joins the envelope without a rule"
REFUSED = "joins no envelope"


@pytest.mark.parametrize(
    ("rule", "expected_reply", "delay", "fate"),
    [
        pytest.param(None, replies.RECIPIENT_OK, 0.0, ACCEPTED_PLAIN, id="no-rule"),
        pytest.param({"recipient": "other@*", "action": "reject"}, replies.RECIPIENT_OK, 0.0,
                     ACCEPTED_PLAIN, id="rule-for-another-recipient"),
        pytest.param({"action": "accept"}, replies.RECIPIENT_OK, 0.0, ACCEPTED, id="accept"),
        pytest.param({"action": "bounce"}, replies.RECIPIENT_OK, 0.0, ACCEPTED, id="bounce"),
        pytest.param({"action": "delay", "delay_ms": 250}, replies.RECIPIENT_OK, 0.25, ACCEPTED,
                     id="delay"),
        pytest.param({"action": "reject"}, Reply(550, "5.1.1", "User unknown"), 0.0, REFUSED,
                     id="reject"),
        pytest.param({"action": "tempfail", "delay_ms": 100},
                     Reply(451, "4.3.0", "Temporary failure, please try again later"), 0.1,
                     REFUSED, id="tempfail-after-a-delay"),
        pytest.param({"action": "disconnect"}, None, 0.0, REFUSED, id="disconnect"),
        pytest.param({"action": "reject", "stage": "data", "delay_ms": 700},
                     replies.RECIPIENT_OK, 0.0, ACCEPTED, id="data-stage-acts-after-the-dot"),
    ],
)  # fmt: skip
def test_on_rcpt(
    rule: dict[str, Any] | None, expected_reply: Reply | None, delay: float, fate: str
) -> None:
    policy, postoffice = policy_with([rule] if rule else [])
    rcpt = RcptArguments("bob@example.com")
    recipient = {
        ACCEPTED: Recipient(rcpt, postoffice.rules.rules[0] if rule else None),
        ACCEPTED_PLAIN: Recipient(rcpt),
        REFUSED: None,
    }[fate]
    assert policy.on_rcpt(in_transaction(), rcpt) == Decision(expected_reply, delay, recipient)


def test_on_rcpt_matches_the_sender_of_the_transaction() -> None:
    policy, _ = policy_with([{"sender": "spam*@*", "action": "reject"}])
    rcpt = RcptArguments("bob@example.com")
    assert policy.on_rcpt(in_transaction("spammer@x"), rcpt).reply == Reply(
        550, "5.1.1", "User unknown"
    )
    assert policy.on_rcpt(in_transaction("friend@x"), rcpt).reply == replies.RECIPIENT_OK


def test_a_rule_that_acts_is_logged_with_its_number_and_the_peer_when_asked() -> None:
    rules = [{"recipient": "x@*", "action": "reject"}, {"recipient": "bob@*", "action": "tempfail"}]
    policy, _ = policy_with(rules, log_messages=True)
    with capturedLogs() as events:
        policy.on_rcpt(in_transaction(), RcptArguments("bob@example.com"))
    assert [formatEvent(e) for e in events] == ["SMTP rule 2 (tempfail) for [127.0.0.1]"]


def test_a_rule_that_acts_logs_nothing_by_default() -> None:
    policy, _ = policy_with([{"recipient": "bob@*", "action": "tempfail"}])
    with capturedLogs() as events:
        policy.on_rcpt(in_transaction(), RcptArguments("bob@example.com"))
    assert events == []


def test_a_data_stage_rule_is_not_logged_at_rcpt() -> None:
    policy, _ = policy_with([{"action": "reject", "stage": "data"}])
    with capturedLogs() as events:
        policy.on_rcpt(in_transaction(), RcptArguments("bob@example.com"))
    assert events == []


# --- the final dot ---------------------------------------------------------------------------


def test_on_data_delivers_and_answers_250() -> None:
    policy, postoffice = policy_with()
    envelope = envelope_for(to("bob@example.com"), to("alice@example.com"))
    decision = result_of(policy.on_data(in_transaction(), envelope, MESSAGE))
    assert decision == Decision(replies.MESSAGE_ACCEPTED)
    assert postoffice.delivered == [(["bob@example.com", "alice@example.com"], MESSAGE)]


def test_on_data_adds_trace_headers_when_the_setting_asks() -> None:
    policy, postoffice = policy_with(trace_headers=True)
    result_of(policy.on_data(in_transaction(), envelope_for(to("bob@x")), MESSAGE))
    [(_, stored)] = postoffice.delivered
    assert stored.startswith(b"Return-Path: <app@example.org>\r\nReceived: from client.test")
    assert b"\tby mx.test (elektromail) with ESMTP\r\n" in stored
    assert stored.endswith(b"\r\n" + MESSAGE)


@pytest.mark.parametrize(
    ("rule", "expected", "stored"),
    [
        pytest.param({"action": "reject", "stage": "data", "delay_ms": 200},
                     Decision(Reply(550, "5.1.1", "User unknown"), 0.2), False, id="reject"),
        pytest.param({"action": "disconnect", "stage": "data", "delay_ms": 400},
                     Decision(None, 0.4), False, id="disconnect"),
        pytest.param({"action": "delay", "stage": "data", "delay_ms": 300},
                     Decision(replies.MESSAGE_ACCEPTED, 0.3), True, id="delay"),
    ],
)  # fmt: skip
def test_on_data_follows_data_stage_rules(
    rule: dict[str, Any], expected: Decision, stored: bool
) -> None:
    policy, postoffice = policy_with([rule])
    session = in_transaction()
    recipient = policy.on_rcpt(session, RcptArguments("bob@example.com")).recipient
    assert recipient is not None
    decision = result_of(policy.on_data(session, envelope_for(recipient), MESSAGE))
    assert decision == expected
    assert bool(postoffice.delivered) is stored


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(StoreFull("disk full"), replies.STORE_FULL, id="full"),
        pytest.param(StoreUnavailable("read-only"), replies.STORE_UNAVAILABLE, id="unavailable"),
        pytest.param(RuntimeError("bug"), replies.LOCAL_ERROR, id="unexpected"),
    ],
)
def test_on_data_answers_a_failing_store_at_once(error: Exception, expected: Reply) -> None:
    policy, postoffice = policy_with()
    postoffice.deliver_error = error
    with capturedLogs() as events:
        decision = result_of(policy.on_data(in_transaction(), envelope_for(to("bob@x")), MESSAGE))
    assert decision == Decision(expected)
    assert len(events) == 1  # one warning or one failure with its traceback, never silence


def test_on_data_logs_where_the_copies_went_when_asked() -> None:
    policy, _ = policy_with(log_messages=True)
    with capturedLogs() as events:
        result_of(policy.on_data(in_transaction(), envelope_for(to("bob@x")), MESSAGE))
    assert [formatEvent(e) for e in events] == [
        f"SMTP {len(MESSAGE)} bytes from <app@example.org>: bob/INBOX#1"
    ]


def test_on_data_by_default_logs_one_summary_a_minute_not_a_line_a_message() -> None:
    policy, postoffice = policy_with()
    with capturedLogs() as events:
        for _ in range(3):
            result_of(policy.on_data(in_transaction(), envelope_for(to("bob@x")), MESSAGE))
        assert events == []
        postoffice.clock.advance(60)
    assert [formatEvent(e) for e in events] == [
        f"stored 3 messages ({3 * len(MESSAGE)} bytes) in the last minute: 3 over SMTP"
    ]


@settings(max_examples=60, deadline=None)
@given(
    locals_=st.lists(st.sampled_from(["bob", "alice", "carol"]), min_size=1, max_size=3),
    notify=st.sampled_from([None, frozenset({"NEVER"}), frozenset({"FAILURE", "DELAY"})]),
    log_messages=st.booleans(),
    trace=st.booleans(),
    failing=st.sampled_from([None, StoreFull("disk full"), RuntimeError("bug")]),
)
def test_on_data_for_a_plain_envelope_agrees_with_the_general_path(
    locals_: list[str],
    notify: frozenset[str] | None,
    log_messages: bool,
    trace: bool,
    failing: Exception | None,
) -> None:
    """The plain envelope's shortcut (no rule, no success DSN) against transaction.finish with
    the general `_delivered`: the same Decision, stored bytes, log lines and counts."""
    outcomes = []
    for shortcut in (True, False):
        policy, postoffice = policy_with(trace_headers=trace, log_messages=log_messages)
        postoffice.deliver_error = failing
        recipients = [Recipient(RcptArguments(f"{name}@x", notify)) for name in locals_]
        envelope = envelope_for(*recipients)
        session = in_transaction()
        with capturedLogs() as events:
            if shortcut:
                decision = result_of(policy.on_data(session, envelope, MESSAGE))
            else:
                finished = transaction.finish(
                    postoffice,
                    session,
                    envelope,
                    MESSAGE,
                    "mx.test",
                    trace,  # type: ignore[arg-type]
                )
                decision = result_of(
                    finished.addCallbacks(
                        policy._delivered,
                        policy._not_delivered,
                        callbackArgs=(envelope, len(MESSAGE)),
                        errbackArgs=(envelope,),
                    )
                )
            postoffice.clock.advance(60)
        stored = [(to_, raw.split(b"; ", 1)[0]) for to_, raw in postoffice.delivered]
        lines = [formatEvent(e).split("\n")[0] for e in events]
        outcomes.append((decision, stored, lines))
    assert transaction.is_plain(envelope)
    assert outcomes[0] == outcomes[1]
