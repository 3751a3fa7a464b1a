"""The end of a mail transaction: after the final dot, apply the recipients' delivery rules, store
the message, return DSNs, and say which reply the client gets (and after how long).

Kept apart from the protocol class: it needs the post office but no socket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from elektromail import dsn
from elektromail.metrics import Metrics
from elektromail.postoffice import Delivery, PostOffice
from elektromail.rules import Action, Rule, Stage
from elektromail.smtp import replies
from elektromail.smtp.replies import Reply
from elektromail.smtp.session import Envelope, Recipient, Session

log = Logger()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the client is told after the dot: `reply` after `delay` seconds; no reply means
    the connection is closed (a `disconnect` rule)."""

    reply: Reply | None
    delay: float = 0.0
    deliveries: tuple[Delivery, ...] = ()  # the copies stored


def rule_reply(rule: Rule) -> Reply:
    """The error reply of a reject, tempfail or bounce rule."""
    assert rule.code is not None and rule.diagnostic is not None
    return Reply.verbatim(rule.code, rule.status, rule.diagnostic)


def data_stage_outcome(recipients: Sequence[Recipient]) -> Outcome | None:
    """The reply a `"stage": "data"` rule forces on the whole message (SMTP has one reply for
    all recipients: the first such recipient decides), or None to go on and deliver. The delay
    is the longest of the data-stage rules' delays."""
    rules = [r.rule for r in recipients if r.rule is not None and r.rule.stage is Stage.DATA]
    delay = max((rule.delay for rule in rules), default=0.0)
    for rule in rules:
        if rule.action is Action.DISCONNECT:
            return Outcome(None, delay)
        if rule.action in (Action.REJECT, Action.TEMPFAIL):
            return Outcome(rule_reply(rule), delay)
    return Outcome(replies.MESSAGE_ACCEPTED, delay) if delay else None


def is_bounced(recipient: Recipient) -> bool:
    return recipient.rule is not None and recipient.rule.action is Action.BOUNCE


def protocol_name(session: Session, smtputf8: bool) -> str:
    """The Received `with` keyword (RFC 3848, RFC 6531 §3.7.3): ESMTP, ESMTPSA, UTF8SMTPS..."""
    if not session.esmtp:
        return "SMTP"
    suffix = ("S" if session.tls else "") + ("A" if session.user is not None else "")
    return ("UTF8SMTP" if smtputf8 else "ESMTP") + suffix


def trace_headers(
    session: Session, envelope: Envelope, host: str, now: datetime | None = None
) -> bytes:
    """Return-Path and Received (RFC 5321 §4.4), for the trace-headers setting."""
    assert envelope.mail is not None
    helo = "".join(
        c if c.isascii() and c.isprintable() and c not in "()" else "?"
        for c in (session.helo or "")
    )
    source = f"{helo} ({session.peer})" if helo else session.peer
    smtputf8 = envelope.mail.smtputf8
    received = f"Received: from {source}\r\n\tby {host} (elektromail) with "
    received += protocol_name(session, smtputf8)
    if len(envelope.recipients) == 1:
        received += f"\r\n\tfor <{envelope.recipients[0].address}>"
    received += "; " + format_datetime(now or datetime.now(UTC))
    text = f"Return-Path: <{envelope.mail.sender}>\r\n{received}\r\n"
    return text.encode("utf-8")


def dsn_report(
    envelope: Envelope,
    raw: bytes,
    delivered: Sequence[Recipient],
    host: str,
    arrival: datetime,
    over_quota: Sequence[Recipient] = (),
) -> dsn.Report | None:
    """The DSN the sender asked for, or None: bounced (and over-quota) recipients unless
    NOTIFY excludes FAILURE, delivered ones with NOTIFY=SUCCESS; never for the null sender."""
    mail = envelope.mail
    if mail is None or not mail.sender:
        return None
    reports = [
        _failed(r) for r in envelope.recipients if is_bounced(r) and r.arguments.wants("FAILURE")
    ]
    full = replies.MAILBOX_FULL
    reports += [
        dsn.RecipientReport(r.address, dsn.FAILED, full.status, full.line(), r.arguments.orcpt)
        for r in over_quota
        if r.arguments.wants("FAILURE")
    ]
    reports += [
        dsn.RecipientReport(r.address, dsn.DELIVERED, "2.0.0", None, r.arguments.orcpt)
        for r in delivered
        if r.arguments.wants("SUCCESS")
    ]
    if not reports:
        return None
    return dsn.Report(
        sender=mail.sender,
        recipients=tuple(reports),
        original=raw,
        reporting_mta=host,
        ret=mail.ret,
        envelope_id=mail.envid,
        utf8=mail.smtputf8,
        arrival_date=arrival,
    )


def count_bounces(metrics: Metrics, report: dsn.Report, over_quota: Sequence[Recipient]) -> None:
    """GET /metrics' bounced recipients: each one the DSN reports failed, by reason (quota
    for a full mailbox, else the bounce rule) and status."""
    full = {r.address for r in over_quota}
    for recipient in report.recipients:
        if recipient.action == dsn.FAILED:
            reason = "quota" if recipient.final_recipient in full else "rule"
            metrics.bounce(reason, recipient.status)


def _failed(recipient: Recipient) -> dsn.RecipientReport:
    assert recipient.rule is not None
    reply = rule_reply(recipient.rule)
    return dsn.RecipientReport(
        recipient.address,
        dsn.FAILED,
        reply.status or "5.0.0",
        reply.line(),
        recipient.arguments.orcpt,
    )


def finish(
    postoffice: PostOffice,
    session: Session,
    envelope: Envelope,
    raw: bytes,
    host: str,
    trace: bool,
) -> Deferred[Outcome]:
    """Act on a received message: data-stage rules, delivery, DSN. Acknowledged means stored,
    so the Outcome's 250 only comes once the message and its DSN are committed.

    Most messages meet no rule and ask for no DSN: those go straight to the post office with
    plain callbacks, without the coroutine the other cases need (a coroutine and the
    inlineCallbacks machinery cost more than the callbacks, on every message)."""
    if not plain_path(postoffice, envelope):
        return Deferred.fromCoroutine(_finish(postoffice, session, envelope, raw, host, trace))
    return deliver_plain(postoffice, session, envelope, raw, host, trace).addCallback(accepted)


def deliver_plain(
    postoffice: PostOffice,
    session: Session,
    envelope: Envelope,
    raw: bytes,
    host: str,
    trace: bool,
) -> Deferred[list[Delivery]]:
    """What `finish` does for a plain envelope (`is_plain`), up to the deliveries: store the
    message for every recipient; its Outcome is always MESSAGE_ACCEPTED."""
    if trace:
        raw = trace_headers(session, envelope, host) + raw
    return postoffice.deliver(
        envelope.addresses, raw, via=session.user, transcript=envelope.transcript
    )


def is_plain(envelope: Envelope) -> bool:
    """No recipient has a delivery rule and none asks for a success DSN: the message is stored
    for all of them and nothing else happens (`_finish` would do just that)."""
    for recipient in envelope.recipients:
        if recipient.rule is not None or recipient.arguments.wants("SUCCESS"):
            return False
    return bool(envelope.recipients)


def plain_path(postoffice: PostOffice, envelope: Envelope) -> bool:
    """Whether the message may go straight to the post office (`deliver_plain`): a plain
    envelope, and no quota to check per recipient after DATA (`_finish` does that)."""
    return is_plain(envelope) and not postoffice.quotas_apply()


def accepted(deliveries: list[Delivery]) -> Outcome:
    """The Outcome of a plain envelope's stored copies."""
    return Outcome(replies.MESSAGE_ACCEPTED, 0.0, tuple(deliveries))


async def _finish(
    postoffice: PostOffice,
    session: Session,
    envelope: Envelope,
    raw: bytes,
    host: str,
    trace: bool,
) -> Outcome:
    """`finish` for a message with rules or a DSN to act on."""
    forced = data_stage_outcome(envelope.recipients)
    if forced is not None and forced.reply is not replies.MESSAGE_ACCEPTED:
        return forced
    arrival = datetime.now(UTC)
    if trace:
        raw = trace_headers(session, envelope, host, arrival) + raw
    delivered = [r for r in envelope.recipients if not is_bounced(r)]
    # RFC 5321 §4.2.5: when only some recipients' users have no room, the message is taken
    # (250) for the others and the sender gets a DSN for those (5.2.2), as Postfix does
    # when Dovecot refuses one recipient; with room for no one it is refused (552 5.2.2).
    full: set[str] = set()
    if postoffice.quotas_apply():
        full = await postoffice.over_quota(
            [r.address for r in delivered], len(raw), via=session.user
        )
    over = [r for r in delivered if r.address in full]
    if over:
        delivered = [r for r in delivered if r.address not in full]
        if not delivered and not any(is_bounced(r) for r in envelope.recipients):
            return Outcome(replies.MAILBOX_FULL, forced.delay if forced else 0.0)
    deliveries = []
    if delivered:
        deliveries = await postoffice.deliver(
            [r.address for r in delivered], raw, via=session.user, transcript=envelope.transcript
        )
    report = dsn_report(envelope, raw, delivered, host, arrival, over)
    if report is not None:
        try:
            await postoffice.bounce(report, via=session.user)
        except Exception:
            if not delivered:
                raise  # nothing is stored: let the client try again
            log.failure("DSN to {sender} failed", sender=report.sender)
        else:
            count_bounces(postoffice.metrics, report, over)
    return Outcome(replies.MESSAGE_ACCEPTED, forced.delay if forced else 0.0, tuple(deliveries))
