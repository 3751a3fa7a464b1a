"""An in-memory stand-in for the post office, for the SMTP policy and transaction tests: it keeps
what was delivered and bounced in lists and can be told to fail; and a way to run a coroutine
that never waits on the reactor (or a Deferred that has fired)."""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from elektromail import dsn
from elektromail.postoffice import Delivery
from elektromail.postoffice.traffic import Traffic
from elektromail.rules import RuleSet
from elektromail.rules import parse as parse_rules
from elektromail.transcripts import Ring

T = TypeVar("T")


class MemoryPostOffice:
    """`deliver` and `bounce` succeed at once (or raise `deliver_error`/`bounce_error`), each
    recipient reaching the user named by its local part; the users named in `full` are over
    their quota."""

    def __init__(
        self, rules: list[dict[str, Any]] | None = None, *, log_messages: bool = False
    ) -> None:
        self.rules: RuleSet = parse_rules(rules or [])
        self.clock = Clock()
        self.traffic = Traffic(each=log_messages, clock=self.clock)
        self.metrics = self.traffic.metrics  # as the PostOffice's are one
        self.transcripts = Ring()
        self.delivered: list[tuple[list[str], bytes]] = []
        self.bounced: list[dsn.Report] = []
        self.deliver_error: Exception | None = None
        self.bounce_error: Exception | None = None
        self.full: set[str] = set()

    def quotas_apply(self) -> bool:
        return bool(self.full)

    def rules_for(self, via: str | None = None, recipient: str | None = None) -> RuleSet:
        return self.rules  # no namespaces here

    def over_quota(
        self, recipients: Sequence[str], size: int, via: str | None = None
    ) -> Deferred[set[str]]:
        return succeed({r for r in recipients if r.partition("@")[0] in self.full})

    def deliver(
        self,
        recipients: Sequence[str],
        raw: bytes,
        via: str | None = None,
        transcript: bytes | None = None,
    ) -> Deferred[list[Delivery]]:
        if self.deliver_error is not None:
            return fail(self.deliver_error)
        self.delivered.append((list(recipients), raw))
        return succeed(
            [Delivery(r, r.partition("@")[0], "INBOX", uid) for uid, r in enumerate(recipients, 1)]
        )

    def bounce(self, report: dsn.Report, via: str | None = None) -> Deferred[list[Delivery]]:
        if self.bounce_error is not None:
            return fail(self.bounce_error)
        self.bounced.append(report)
        return succeed([Delivery(report.sender, "sender", "INBOX", 1)])


def result_of(work: Coroutine[Any, Any, T] | Deferred[T]) -> T:
    """The result of a Deferred that has fired, or of a coroutine that only awaits Deferreds
    which have fired; its exception is raised here."""
    outcome: list[T | Failure] = []
    d = work if isinstance(work, Deferred) else Deferred.fromCoroutine(work)
    d.addBoth(outcome.append)
    assert outcome, "the coroutine waits on something that has not fired"
    if isinstance(outcome[0], Failure):
        outcome[0].raiseException()
    return outcome[0]  # type: ignore[return-value]
