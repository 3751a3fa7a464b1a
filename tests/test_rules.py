"""Delivery rules (ELEKTROMAIL_DSN_RULES): parsing and validation with messages that name the rule
and the field, wildcard matching, first match wins, stages, seeded probabilities, and start-up
stopping on a malformed rule."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from elektromail import rules
from elektromail.rules import Action, Rule, RuleError, RuleSet, Stage

ORIGINAL_EXAMPLE = [
    {
        "recipient": "reject@example.com",
        "action": "reject",
        "code": 550,
        "status": "5.1.1",
        "diagnostic": "User unknown",
    },
    {
        "recipient": "bounce@example.com",
        "action": "bounce",
        "status": "5.1.1",
        "diagnostic": "Mailbox unavailable",
    },
]


def one(rule: dict) -> Rule:
    return rules.parse([rule]).rules[0]


def error(data: object) -> str:
    with pytest.raises(RuleError) as caught:
        rules.parse(data)
    return str(caught.value)


# --- parsing ---------------------------------------------------------------------------------


def test_the_original_readme_example_parses() -> None:
    reject, bounce = rules.parse(ORIGINAL_EXAMPLE).rules
    assert (reject.action, reject.stage, reject.code, reject.status, reject.diagnostic) == (
        Action.REJECT,
        Stage.RCPT,
        550,
        "5.1.1",
        "User unknown",
    )
    assert (bounce.action, bounce.code, bounce.status) == (Action.BOUNCE, 550, "5.1.1")


@pytest.mark.parametrize(
    ("rule", "code", "status", "diagnostic"),
    [
        ({"action": "reject"}, 550, "5.1.1", "User unknown"),
        ({"action": "bounce"}, 550, "5.1.1", "Mailbox unavailable"),
        ({"action": "tempfail"}, 451, "4.3.0", "Temporary failure, please try again later"),
        ({"action": "reject", "code": 554, "status": "5.7.1"}, 554, "5.7.1", "User unknown"),
        (
            {"action": "tempfail", "code": 450},
            450,
            "4.3.0",
            "Temporary failure, please try again later",
        ),
        ({"action": "Reject", "diagnostic": " Go away "}, 550, "5.1.1", "Go away"),
    ],
    ids=["reject", "bounce", "tempfail", "reject-own-code", "tempfail-own-code", "spelling"],
)
def test_reply_defaults(rule: dict, code: int, status: str, diagnostic: str) -> None:
    parsed = one(rule)
    assert (parsed.code, parsed.status, parsed.diagnostic) == (code, status, diagnostic)


@pytest.mark.parametrize(
    ("rule", "stage"),
    [
        ({"action": "tempfail"}, Stage.RCPT),
        ({"action": "tempfail", "stage": "data"}, Stage.DATA),
        ({"action": "reject", "stage": "DATA"}, Stage.DATA),
        ({"action": "disconnect", "stage": "connect"}, Stage.CONNECT),
        ({"action": "disconnect", "stage": "mail", "sender": "*"}, Stage.MAIL),
        ({"action": "delay", "delay_ms": 5, "stage": "connect"}, Stage.CONNECT),
        ({"action": "accept"}, Stage.RCPT),
    ],
    ids=["default", "tempfail-data", "reject-data", "connect", "mail", "delay-connect", "accept"],
)
def test_stages(rule: dict, stage: Stage) -> None:
    assert one(rule).stage is stage


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "reject"}, "expected a JSON list of rules"),
        ([["reject"]], "rule 1: expected a JSON object"),
        ([{}], "rule 1: field 'action': missing"),
        ([{"action": "drop"}], "rule 1: field 'action': expected one of accept, reject"),
        ([{"action": "accept"}, {"action": "reject", "cod": 550}], "rule 2: field 'cod': unknown"),
        ([{"action": "reject", "code": 450}], "rule 1: field 'code': expected a 5xx reply code"),
        ([{"action": "tempfail", "code": 550}], "rule 1: field 'code': expected a 4xx reply code"),
        ([{"action": "reject", "code": "550"}], "rule 1: field 'code'"),
        ([{"action": "reject", "code": True}], "rule 1: field 'code'"),
        ([{"action": "reject", "status": "5.1"}], "rule 1: field 'status': expected an enhanced"),
        ([{"action": "reject", "status": "4.1.1"}], "rule 1: field 'status': class 4 does not"),
        ([{"action": "reject", "diagnostic": "two\nlines"}], "rule 1: field 'diagnostic'"),
        ([{"action": "reject", "diagnostic": "grüße"}], "rule 1: field 'diagnostic'"),
        ([{"action": "reject", "diagnostic": ""}], "rule 1: field 'diagnostic'"),
        ([{"action": "accept", "code": 250}], "rule 1: field 'code': action 'accept' sends no"),
        ([{"action": "delay"}], "rule 1: field 'delay_ms': missing"),
        ([{"action": "delay", "delay_ms": -1}], "rule 1: field 'delay_ms': expected whole"),
        ([{"action": "delay", "delay_ms": 1.5}], "rule 1: field 'delay_ms': expected whole"),
        ([{"action": "delay", "delay_ms": 10**9}], "rule 1: field 'delay_ms': expected whole"),
        ([{"action": "reject", "probability": 1.5}], "rule 1: field 'probability': expected"),
        ([{"action": "reject", "probability": "half"}], "rule 1: field 'probability'"),
        ([{"action": "reject", "stage": "connect"}], "rule 1: field 'stage': action 'reject'"),
        ([{"action": "bounce", "stage": "data"}], "rule 1: field 'stage': action 'bounce'"),
        ([{"action": "disconnect", "stage": "later"}], "rule 1: field 'stage'"),
        (
            [{"action": "disconnect", "stage": "mail", "recipient": "a@b"}],
            "rule 1: field 'recipient': not known yet at stage 'mail'",
        ),
        (
            [{"action": "disconnect", "stage": "connect", "sender": "a@b"}],
            "rule 1: field 'sender': not known yet at stage 'connect'",
        ),
        ([{"action": "reject", "recipient": 5}], "rule 1: field 'recipient': expected a text"),
    ],
    ids=[
        "not-a-list",
        "not-an-object",
        "no-action",
        "unknown-action",
        "unknown-field",
        "reject-4xx",
        "tempfail-5xx",
        "code-text",
        "code-bool",
        "status-format",
        "status-class",
        "diagnostic-newline",
        "diagnostic-non-ascii",
        "diagnostic-empty",
        "accept-with-code",
        "delay-without-ms",
        "delay-negative",
        "delay-fraction",
        "delay-huge",
        "probability-over-one",
        "probability-text",
        "reject-at-connect",
        "bounce-at-data",
        "unknown-stage",
        "recipient-at-mail",
        "sender-at-connect",
        "pattern-not-text",
    ],
)
def test_malformed_rules_name_the_rule_and_the_field(data: object, message: str) -> None:
    assert message in error(data)


def test_load_reads_json_text() -> None:
    assert len(rules.load(json.dumps(ORIGINAL_EXAMPLE))) == 2


def test_load_reads_a_file(tmp_path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(ORIGINAL_EXAMPLE))
    assert len(rules.load(str(path))) == 2


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("/nonexistent/rules.json", "cannot read rules file '/nonexistent/rules.json'"),
        ("[{", "not valid JSON"),
    ],
    ids=["missing-file", "bad-json"],
)
def test_load_errors(value: str, message: str) -> None:
    with pytest.raises(RuleError) as caught:
        rules.load(value)
    assert message in str(caught.value)


@pytest.mark.parametrize("value", [None, "", "  ", "[]"])
def test_no_rules(value: str | None) -> None:
    assert len(rules.load(value)) == 0


def test_to_json_gives_back_what_was_given_with_defaults() -> None:
    assert rules.parse(ORIGINAL_EXAMPLE).to_json() == [
        {**ORIGINAL_EXAMPLE[0], "stage": "rcpt"},
        {**ORIGINAL_EXAMPLE[1], "stage": "rcpt", "code": 550},
    ]


def test_a_zero_delay_keeps_its_delay_ms_so_the_echo_parses_again() -> None:
    given = [{"recipient": "slow@*", "action": "delay", "delay_ms": 0}]
    echoed = rules.parse(given).to_json()
    assert echoed == [{**given[0], "stage": "rcpt"}]
    assert rules.parse(echoed).to_json() == echoed


# --- matching --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "address", "matches"),
    [
        ("bob@example.com", "bob@example.com", True),
        ("bob@example.com", "BOB@Example.COM", True),
        ("bob@example.com", "bob@example.comx", False),
        ("bob@example.com", "xbob@example.com", False),
        ("*@example.com", "anyone@example.com", True),
        ("*@example.com", "anyone@example.org", False),
        ("bounce*", "bounce+tag@x", True),
        ("*", "", True),
        ("", "", True),
        ("", "a@b", False),
        ("a.b@x", "aXb@x", False),
        ("用户@*", "用户@例子.广告", True),
    ],
    ids=[
        "exact",
        "case",
        "suffix",
        "prefix",
        "domain-wildcard",
        "other-domain",
        "trailing-wildcard",
        "star-null",
        "empty-null",
        "empty-other",
        "dot-literal",
        "utf8",
    ],
)
def test_patterns(pattern: str, address: str, matches: bool) -> None:
    assert rules.Pattern.compile(pattern).matches(address) is matches


def test_first_matching_rule_wins() -> None:
    ruleset = rules.parse(
        [
            {"recipient": "vip@example.com", "action": "accept"},
            {"recipient": "*@example.com", "action": "reject"},
            {"recipient": "*", "action": "bounce"},
        ]
    )
    assert ruleset.at_rcpt("s@x", "vip@example.com").action is Action.ACCEPT
    assert ruleset.at_rcpt("s@x", "other@example.com").action is Action.REJECT
    assert ruleset.at_rcpt("s@x", "a@elsewhere").action is Action.BOUNCE


def test_sender_and_recipient_must_both_match() -> None:
    ruleset = rules.parse([{"sender": "app@*", "recipient": "b@*", "action": "reject"}])
    assert ruleset.at_rcpt("app@x", "b@y") is not None
    assert ruleset.at_rcpt("other@x", "b@y") is None
    assert ruleset.at_rcpt("app@x", "c@y") is None


def test_null_sender_is_matched_by_an_empty_pattern() -> None:
    ruleset = rules.parse([{"sender": "", "action": "reject"}])
    assert ruleset.at_rcpt("", "b@y") is not None
    assert ruleset.at_rcpt("a@x", "b@y") is None


def test_each_stage_looks_only_at_its_own_rules() -> None:
    ruleset = rules.parse(
        [
            {"action": "disconnect", "stage": "connect", "probability": 0},
            {"action": "delay", "stage": "mail", "delay_ms": 10, "sender": "slow@*"},
            {"action": "tempfail", "stage": "data", "recipient": "later@*"},
            {"action": "reject", "recipient": "now@*"},
        ]
    )
    assert ruleset.at_connect() is None
    assert ruleset.at_mail("slow@x").action is Action.DELAY
    assert ruleset.at_mail("fast@x") is None
    assert ruleset.at_rcpt("slow@x", "later@y").stage is Stage.DATA
    assert ruleset.at_rcpt("slow@x", "now@y").action is Action.REJECT


def decisions(ruleset: RuleSet, count: int = 200) -> list[bool]:
    return [ruleset.at_rcpt("s@x", f"r{n}@y") is not None for n in range(count)]


def test_probability_with_a_seed_repeats() -> None:
    data = [{"recipient": "*", "action": "tempfail", "probability": 0.3}]
    first = decisions(rules.parse(data, seed=42))
    assert first == decisions(rules.parse(data, seed=42))
    assert first != decisions(rules.parse(data, seed=43))
    assert 30 < sum(first) < 90  # about 60 of 200


@pytest.mark.parametrize(("probability", "expected"), [(0, False), (1, True)])
def test_probability_zero_never_and_one_always(probability: float, expected: bool) -> None:
    data = [{"recipient": "*", "action": "reject", "probability": probability}]
    assert set(decisions(rules.parse(data))) == {expected}


def test_a_rule_that_does_not_fire_lets_the_next_one_decide() -> None:
    ruleset = rules.parse(
        [
            {"recipient": "*", "action": "reject", "probability": 0},
            {"recipient": "*", "action": "bounce"},
        ]
    )
    assert ruleset.at_rcpt("s@x", "r@y").action is Action.BOUNCE


# --- start-up --------------------------------------------------------------------------------


def start(env: dict[str, str]) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("ELEKTROMAIL_")}
    full.update({"SMTP_PORT": "0", "IMAP_PORT": "off", **env})
    return subprocess.run(
        [sys.executable, "-m", "elektromail"], capture_output=True, text=True, env=full, timeout=60
    )


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ('[{"action": "reject"}, {"action": "reject", "code": 250}]', "rule 2: field 'code'"),
        ('[{"recipient": "a@b"}]', "rule 1: field 'action'"),
        ("[{", "not valid JSON"),
        ("/nonexistent/rules.json", "cannot read rules file"),
    ],
    ids=["bad-code", "no-action", "bad-json", "missing-file"],
)
def test_malformed_rules_stop_start_up_with_one_line(value: str, named: str) -> None:
    result = start({"ELEKTROMAIL_DSN_RULES": value})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("elektromail: invalid ELEKTROMAIL_DSN_RULES/--dsn-rules: ")
    assert named in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_whole_floats_count_as_integers():
    """JSON has one number type: 550.0 and 200.0 are the integers a schema validator sees."""
    [rule] = rules.parse([{"action": "reject", "code": 550.0, "delay_ms": 200.0}]).rules
    assert (rule.code, rule.delay_ms) == (550, 200)
    with pytest.raises(rules.RuleError, match="code"):
        rules.parse([{"action": "reject", "code": 550.5}])
