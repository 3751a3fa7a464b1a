"""Delivery rules (ELEKTROMAIL_DSN_RULES): parse and validate the JSON, and pick the rule that
decides what happens to a connection, a sender or a recipient. Pure code: SMTP acts on the answer.

A rule is a JSON object; the first rule that matches wins. `recipient` and `sender` are patterns
with `*` wildcards, compared case-insensitively (a missing pattern matches anything; `""` matches
only the null sender `<>`). Actions: `reject` and `tempfail` answer with an error, `bounce`
accepts and returns a DSN, `accept` delivers, `delay` delivers after `delay_ms`, `disconnect`
closes the connection. `stage` says when an action acts, `probability` (0-1) lets a rule fire
only some of the time, drawn from a generator seeded by ELEKTROMAIL_RULES_SEED.
"""

from __future__ import annotations

import enum
import json
import os
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_DELAY_MS = 10 * 60 * 1000  # longer than any client waits; a typo should not hang a suite
STATUS_RE = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})$")


class RuleError(ValueError):
    """A malformed rule: the message names the rule (1-based) and the field."""


class Action(enum.Enum):
    ACCEPT = "accept"
    REJECT = "reject"
    BOUNCE = "bounce"
    TEMPFAIL = "tempfail"
    DELAY = "delay"
    DISCONNECT = "disconnect"


class Stage(enum.Enum):
    """When a rule acts. CONNECT and MAIL rules are looked up when the connection opens and at
    MAIL FROM; RCPT and DATA rules are looked up once per recipient at RCPT TO, and DATA ones
    act on the reply to the message's final dot."""

    CONNECT = "connect"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"


# The stages each action may name (the first is its default), and its reply defaults.
_STAGES: dict[Action, tuple[Stage, ...]] = {
    Action.ACCEPT: (Stage.RCPT,),
    Action.BOUNCE: (Stage.RCPT,),
    Action.REJECT: (Stage.RCPT, Stage.DATA),
    Action.TEMPFAIL: (Stage.RCPT, Stage.DATA),
    Action.DELAY: (Stage.RCPT, Stage.CONNECT, Stage.MAIL, Stage.DATA),
    Action.DISCONNECT: (Stage.RCPT, Stage.CONNECT, Stage.MAIL, Stage.DATA),
}
_DEFAULT_REPLY: dict[Action, tuple[int, str, str]] = {
    Action.REJECT: (550, "5.1.1", "User unknown"),
    Action.BOUNCE: (550, "5.1.1", "Mailbox unavailable"),
    Action.TEMPFAIL: (451, "4.3.0", "Temporary failure, please try again later"),
}
_CODE_CLASS = {Action.REJECT: 5, Action.BOUNCE: 5, Action.TEMPFAIL: 4}
FIELDS = frozenset(
    "recipient sender action code status diagnostic stage delay_ms probability".split()
)


@dataclass(frozen=True)
class Pattern:
    """A `*` wildcard pattern, case-insensitive; the text is kept for messages and the API."""

    text: str
    regex: re.Pattern[str] = field(compare=False, repr=False)

    @classmethod
    def compile(cls, text: str) -> Pattern:
        body = ".*".join(re.escape(piece) for piece in text.split("*"))
        return cls(text, re.compile(body, re.IGNORECASE | re.DOTALL))

    def matches(self, address: str) -> bool:
        return self.regex.fullmatch(address) is not None


@dataclass(frozen=True)
class Rule:
    number: int  # 1-based position in the list, for messages and logs
    action: Action
    stage: Stage
    recipient: Pattern | None = None
    sender: Pattern | None = None
    code: int | None = None  # None for actions that send no error reply
    status: str | None = None
    diagnostic: str | None = None
    delay_ms: int = 0
    probability: float | None = None

    def matches(self, sender: str | None, recipient: str | None) -> bool:
        if self.sender is not None and (sender is None or not self.sender.matches(sender)):
            return False
        return self.recipient is None or (
            recipient is not None and self.recipient.matches(recipient)
        )

    @property
    def delay(self) -> float:
        """The delay before the reply, in seconds."""
        return self.delay_ms / 1000

    def to_json(self) -> dict[str, Any]:
        """The rule as the JSON object it was given as, defaults filled in."""
        out: dict[str, Any] = {"action": self.action.value, "stage": self.stage.value}
        for name in ("recipient", "sender"):
            pattern = getattr(self, name)
            if pattern is not None:
                out[name] = pattern.text
        for name in ("code", "status", "diagnostic", "probability"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        # A delay rule requires delay_ms, even 0: the echo must be a rule PUT /rules takes.
        if self.delay_ms or self.action is Action.DELAY:
            out["delay_ms"] = self.delay_ms
        return out


class RuleSet:
    """The rules in force, in order, with the random generator their probabilities draw from.
    Immutable apart from the generator: replacing the rules means a new RuleSet."""

    def __init__(self, rules: Iterable[Rule] = (), seed: int | None = None) -> None:
        self.rules = tuple(rules)
        self.seed = seed
        self._random = random.Random(seed)

    def __len__(self) -> int:
        return len(self.rules)

    def to_json(self) -> list[dict[str, Any]]:
        return [rule.to_json() for rule in self.rules]

    def at_connect(self) -> Rule | None:
        """The rule that acts when a connection opens."""
        return self._first((Stage.CONNECT,), None, None)

    def at_mail(self, sender: str) -> Rule | None:
        """The rule that acts on MAIL FROM."""
        return self._first((Stage.MAIL,), sender, None)

    def at_rcpt(self, sender: str, recipient: str) -> Rule | None:
        """The rule that decides one recipient's fate (at RCPT, or later at DATA)."""
        return self._first((Stage.RCPT, Stage.DATA), sender, recipient)

    def _first(self, stages: tuple[Stage, ...], sender: str | None, recipient: str | None):
        for rule in self.rules:
            if rule.stage in stages and rule.matches(sender, recipient) and self._fires(rule):
                return rule
        return None

    def _fires(self, rule: Rule) -> bool:
        # Drawn only for rules that match, so a seeded run repeats given the same traffic.
        return rule.probability is None or self._random.random() < rule.probability


# --- parsing ---------------------------------------------------------------------------------


def load(value: str | None, seed: int | None = None) -> RuleSet:
    """The rules from ELEKTROMAIL_DSN_RULES: JSON text, or the path of a JSON file."""
    if value is None or not value.strip():
        return RuleSet((), seed)
    text = value
    if value.lstrip()[:1] not in ("[", "{"):
        try:
            with open(os.path.expanduser(value.strip()), encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise RuleError(f"cannot read rules file {value.strip()!r}: {e.strerror}") from None
        except UnicodeDecodeError:
            raise RuleError(f"rules file {value.strip()!r} is not UTF-8") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise RuleError(f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    return parse(data, seed)


def parse(data: object, seed: int | None = None) -> RuleSet:
    """Validate decoded JSON (a list of rule objects) into a RuleSet; raises RuleError."""
    if not isinstance(data, list):
        raise RuleError("expected a JSON list of rules")
    return RuleSet((parse_rule(number, item) for number, item in enumerate(data, 1)), seed)


def parse_rule(number: int, item: object) -> Rule:
    def bad(name: str, reason: str) -> RuleError:
        return RuleError(f"rule {number}: field {name!r}: {reason}")

    if not isinstance(item, Mapping):
        raise RuleError(f"rule {number}: expected a JSON object")
    unknown = sorted(set(item) - FIELDS)
    if unknown:
        raise bad(unknown[0], "unknown field (known: " + ", ".join(sorted(FIELDS)) + ")")
    action = _action(item, bad)
    stage = _stage(item, action, bad)
    recipient = _pattern(item, "recipient", bad)
    sender = _pattern(item, "sender", bad)
    if stage in (Stage.CONNECT, Stage.MAIL) and recipient is not None:
        raise bad("recipient", f"not known yet at stage {stage.value!r}")
    if stage is Stage.CONNECT and sender is not None:
        raise bad("sender", "not known yet at stage 'connect'")
    code, status, diagnostic = _reply(item, action, bad)
    return Rule(
        number,
        action,
        stage,
        recipient,
        sender,
        code,
        status,
        diagnostic,
        _delay(item, action, bad),
        _probability(item, bad),
    )


def _action(item: Mapping[str, Any], bad) -> Action:
    value = item.get("action")
    if value is None:
        raise bad("action", "missing (one of " + ", ".join(a.value for a in Action) + ")")
    try:
        return Action(value.lower() if isinstance(value, str) else value)
    except ValueError:
        raise bad("action", "expected one of " + ", ".join(a.value for a in Action)) from None


def _stage(item: Mapping[str, Any], action: Action, bad) -> Stage:
    allowed = _STAGES[action]
    value = item.get("stage")
    if value is None:
        return allowed[0]
    names = ", ".join(s.value for s in allowed)
    if not isinstance(value, str) or value.lower() not in [s.value for s in allowed]:
        raise bad("stage", f"action {action.value!r} takes stage {names}")
    return Stage(value.lower())


def _pattern(item: Mapping[str, Any], name: str, bad) -> Pattern | None:
    value = item.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.isprintable():
        raise bad(name, "expected a text pattern, with * as wildcard")
    return Pattern.compile(value.strip())


def _reply(
    item: Mapping[str, Any], action: Action, bad
) -> tuple[int | None, str | None, str | None]:
    default = _DEFAULT_REPLY.get(action)
    if default is None:
        for name in ("code", "status", "diagnostic"):
            if item.get(name) is not None:
                raise bad(name, f"action {action.value!r} sends no error reply")
        return None, None, None
    klass = _CODE_CLASS[action]
    code = _whole(item.get("code", default[0]))
    if code is None or code // 100 != klass:
        raise bad("code", f"expected a {klass}xx reply code for action {action.value!r}")
    status = item.get("status", default[1])
    match = STATUS_RE.match(status) if isinstance(status, str) else None
    if match is None:
        raise bad("status", "expected an enhanced status code such as 5.1.1")
    if int(match.group(1)) != klass:
        raise bad("status", f"class {match.group(1)} does not match code {code}")
    diagnostic = item.get("diagnostic", default[2])
    if (
        not isinstance(diagnostic, str)
        or not diagnostic.strip()
        or not diagnostic.isascii()
        or not diagnostic.isprintable()
    ):
        raise bad("diagnostic", "expected one line of printable ASCII text")
    return code, status, diagnostic.strip()


def _delay(item: Mapping[str, Any], action: Action, bad) -> int:
    value = item.get("delay_ms")
    if value is None:
        if action is Action.DELAY:
            raise bad("delay_ms", "missing (milliseconds to wait before the reply)")
        return 0
    value = _whole(value)
    if value is None or not 0 <= value <= MAX_DELAY_MS:
        raise bad("delay_ms", f"expected whole milliseconds from 0 to {MAX_DELAY_MS}")
    return value


def _whole(value: Any) -> int | None:
    """An int, or a float with a whole value (JSON has one number type: 550.0 is 550)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) else None


def _probability(item: Mapping[str, Any], bad) -> float | None:
    value = item.get("probability")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise bad("probability", "expected a number from 0 to 1")
    return float(value)
