"""SMTP policy hooks: what the delivery rules make of the greeting, MAIL, RCPT and the final dot,
and the delivery itself, as a Decision the protocol carries out. No socket, no clock.

The protocol's verbs parse, check state and call a hook (as aiosmtpd's `smtp_RCPT` calls
`handle_RCPT`); the hook returns the reply to send, a delay before it, or "close".
"""

from __future__ import annotations

from dataclasses import dataclass

from twisted.internet.defer import Deferred, fail
from twisted.logger import Logger
from twisted.python.failure import Failure

from elektromail.postoffice import Delivery, PostOffice, describe
from elektromail.rules import Action, Rule, RuleSet, Stage
from elektromail.smtp import replies, transaction
from elektromail.smtp.params import MailArguments, RcptArguments
from elektromail.smtp.replies import Reply
from elektromail.smtp.session import Envelope, Recipient, Session
from elektromail.store.errors import StoreFull, StoreUnavailable

log = Logger()


@dataclass(frozen=True, slots=True)
class Decision:
    """What the protocol does at one step: send `reply` after `delay` seconds, or, with no
    reply, close the connection after the delay (a `disconnect` rule, acting as a crashing
    server would). At RCPT, `recipient` is the one the envelope gains (None: it gains none)."""

    reply: Reply | None
    delay: float = 0.0
    recipient: Recipient | None = None


# What `_delivered` decides for a message stored with no delay (Decisions are immutable).
_ACCEPTED = Decision(replies.MESSAGE_ACCEPTED)
_SENDER_OK = Decision(replies.SENDER_OK)


class DeliveryPolicy:
    """The hooks a listener's connections call once a verb's syntax and state are checked.
    The rules are read from the post office at every call: a reset or the API may replace
    them while connections are open."""

    def __init__(self, postoffice: PostOffice, host: str, *, trace_headers: bool) -> None:
        self.postoffice = postoffice
        self.host = host  # the name in Received headers and DSNs
        self.trace_headers = trace_headers

    @property
    def rules(self) -> RuleSet:
        return self.postoffice.rules

    def on_connect(self, session: Session) -> Decision:
        """The greeting, unless a connect-stage rule delays it or closes instead."""
        return self._delay_or_disconnect(self.rules.at_connect(), replies.GREETING, session)

    def on_mail(self, session: Session, mail: MailArguments) -> Decision:
        """The answer to an accepted MAIL FROM, as a mail-stage rule has it."""
        rule = self.postoffice.rules_for(session.user).at_mail(mail.sender)
        return self._delay_or_disconnect(rule, replies.SENDER_OK, session)

    def on_rcpt(self, session: Session, rcpt: RcptArguments) -> Decision:
        """Whether the recipient joins the envelope, and with which rule; a data-stage rule
        joins with it and acts after the dot."""
        mail = session.envelope.mail
        assert mail is not None
        rules = self.postoffice.rules_for(session.user, rcpt.recipient)
        rule = rules.at_rcpt(mail.sender, rcpt.recipient)
        if rule is None or rule.stage is not Stage.RCPT:
            return Decision(replies.RECIPIENT_OK, recipient=Recipient(rcpt, rule))
        self._log_rule(rule, session)
        if rule.action in (Action.REJECT, Action.TEMPFAIL):
            return Decision(transaction.rule_reply(rule), rule.delay)
        if rule.action is Action.DISCONNECT:
            return Decision(None, rule.delay)
        return Decision(replies.RECIPIENT_OK, rule.delay, Recipient(rcpt, rule))

    def check_room(
        self, envelope: Envelope, decision: Decision, via: str | None = None
    ) -> Deferred[Decision] | None:
        """At RCPT, when MAIL declared SIZE= and a quota applies: the decision, or 552 5.2.2
        for a recipient whose user has no room for that size (RFC 1870 §6.4). None when
        nothing is to be checked (no SIZE=, no quota), which costs no store round trip."""
        mail = envelope.mail
        assert mail is not None and decision.recipient is not None
        if mail.size is None or not self.postoffice.quotas_apply():
            return None
        address = decision.recipient.address

        def checked(full: set[str]) -> Decision:
            return Decision(replies.MAILBOX_FULL, decision.delay) if full else decision

        def unchecked(failure: Failure) -> Decision:
            # the store could not say: take the recipient, the size is checked after DATA
            log.failure("SMTP quota check for {address} failed", failure, address=address)
            return decision

        d = self.postoffice.over_quota([address], mail.size, via=via)
        return d.addCallbacks(checked, unchecked)

    def on_data(self, session: Session, envelope: Envelope, raw: bytes) -> Deferred[Decision]:
        """Deliver a received message (data-stage rules, storage, DSN) and say what the client
        is told: 250 only once the post office has stored it, an error if it could not."""
        try:
            if transaction.plain_path(self.postoffice, envelope):
                # The usual message (no rule, no DSN, no quota): one callback from the stored
                # copies to the Decision, rather than one to an Outcome and one more to the
                # Decision.
                stored = transaction.deliver_plain(
                    self.postoffice, session, envelope, raw, self.host, self.trace_headers
                )
                return stored.addCallbacks(
                    self._stored,
                    self._not_delivered,
                    callbackArgs=(envelope, len(raw)),
                    errbackArgs=(envelope,),
                )
            outcome = transaction.finish(
                self.postoffice, session, envelope, raw, self.host, self.trace_headers
            )
        except Exception:
            outcome = fail()
        return outcome.addCallbacks(
            self._delivered,
            self._not_delivered,
            callbackArgs=(envelope, len(raw)),
            errbackArgs=(envelope,),
        )

    def _stored(self, deliveries: list[Delivery], envelope: Envelope, size: int) -> Decision:
        """`_delivered` of what `transaction.finish` makes of a plain envelope's deliveries."""
        if self.postoffice.traffic.each:
            return self._delivered(transaction.accepted(deliveries), envelope, size)
        if deliveries:
            self.postoffice.traffic.count("smtp", size)
        return _ACCEPTED

    def _delivered(self, outcome: transaction.Outcome, envelope: Envelope, size: int) -> Decision:
        traffic = self.postoffice.traffic
        if outcome.deliveries:
            traffic.count("smtp", size)
        if traffic.each:
            log.info(
                "SMTP {size} bytes from <{sender}>: {result}",
                size=size,
                sender=envelope.sender,
                result=describe(outcome.deliveries)
                or (outcome.reply.line() if outcome.reply else "closed by a disconnect rule"),
            )
        return Decision(outcome.reply, outcome.delay)

    def _not_delivered(self, failure: Failure, envelope: Envelope) -> Decision:
        error = failure.value
        if isinstance(error, StoreUnavailable):
            self.postoffice.metrics.error("store_unavailable")
            log.warn(
                "SMTP message from <{sender}> to {recipients} not accepted: {why}",
                sender=envelope.sender,
                recipients=envelope.addresses,
                why=error,
            )
            full = isinstance(error, StoreFull)
            return Decision(replies.STORE_FULL if full else replies.STORE_UNAVAILABLE)
        self.postoffice.metrics.error("command_failed")
        log.failure(
            "SMTP delivery from {sender} to {recipients} failed",
            failure,
            sender=envelope.sender,
            recipients=envelope.addresses,
        )
        return Decision(replies.LOCAL_ERROR)

    def _delay_or_disconnect(self, rule: Rule | None, normal: Reply, session: Session) -> Decision:
        # Connect and mail stages allow only delay and disconnect rules.
        if rule is None:
            if normal is replies.SENDER_OK:  # every MAIL FROM without a rule: made once
                return _SENDER_OK
            return Decision(normal)
        self._log_rule(rule, session)
        return Decision(None if rule.action is Action.DISCONNECT else normal, rule.delay)

    def _log_rule(self, rule: Rule, session: Session) -> None:
        if self.postoffice.traffic.each:
            log.info(
                "SMTP rule {number} ({action}) for {peer}",
                number=rule.number,
                action=rule.action.value,
                peer=session.peer,
            )
