"""MAIL FROM / RCPT TO arguments as pure code: paths, addresses (ASCII and UTF-8), and every
parameter of SIZE, BODY, SMTPUTF8, RET, ENVID, NOTIFY, ORCPT and AUTH, with the replies that
refuse them."""

from __future__ import annotations

import pytest

from elektromail.smtp import params, replies
from elektromail.smtp.params import MailArguments, RcptArguments, parse_mail, parse_rcpt

LIMIT = 1000


def refusal(call, *args) -> bytes:
    """The rendered reply a refused argument gets."""
    with pytest.raises(params.Refused) as caught:
        call(*args)
    return caught.value.reply.render(**caught.value.values)


# --- paths and addresses ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argument", "sender"),
    [
        (b"FROM:<a@b.example>", "a@b.example"),
        (b"from:<a@b.example>", "a@b.example"),
        (b"FROM: <a@b.example>", "a@b.example"),
        (b"FROM:a@b.example", "a@b.example"),
        (b"FROM:<>", ""),
        (b"FROM:<@relay.example,@other.example:a@b.example>", "a@b.example"),
        (b'FROM:<"john doe"@b.example>', '"john doe"@b.example'),
        (b'FROM:<"a>b"@b.example>', '"a>b"@b.example'),
        (b"FROM:<a@[127.0.0.1]>", "a@[127.0.0.1]"),
        (b"FROM:<a@[IPv6:::1]>", "a@[IPv6:::1]"),
        (b"FROM:<first.last+tag@sub.b-c.example>", "first.last+tag@sub.b-c.example"),
        (b"FROM:<postmaster>", "postmaster"),
    ],
    ids=[
        "plain",
        "lower-case",
        "space-after-colon",
        "no-brackets",
        "null",
        "source-route",
        "quoted",
        "quoted-bracket",
        "ipv4-literal",
        "ipv6-literal",
        "dots-plus-hyphen",
        "no-domain",
    ],
)
def test_sender_paths(argument: bytes, sender: str) -> None:
    assert parse_mail(argument, LIMIT) == MailArguments(sender)


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        (b"TO:<a@b>", replies.MAIL_SYNTAX),
        (b"FROM:<a@b", replies.MAIL_SYNTAX),
        (b"FROM:", replies.MAIL_SYNTAX),
        (b"FROM:<a@b>SIZE=1", replies.MAIL_SYNTAX),
        (b"FROM:<a@b@c>", replies.BAD_SENDER_ADDRESS),
        (b"FROM:<a..b@c>", replies.BAD_SENDER_ADDRESS),
        (b"FROM:<.a@c>", replies.BAD_SENDER_ADDRESS),
        (b"FROM:<a@-c>", replies.BAD_SENDER_ADDRESS),
        (b"FROM:<a b@c>", replies.BAD_SENDER_ADDRESS),
        (b"FROM:<@x:>", replies.BAD_SENDER_ADDRESS),
        (b"FROM:<a@\xff>", replies.BAD_SENDER_ADDRESS),
    ],
    ids=[
        "to",
        "unclosed",
        "empty",
        "no-space-before-parameter",
        "two-ats",
        "double-dot",
        "leading-dot",
        "hyphen-label",
        "space",
        "route-only",
        "not-utf8",
    ],
)
def test_malformed_sender(argument: bytes, expected: replies.Reply) -> None:
    with pytest.raises(params.Refused) as caught:
        parse_mail(argument, LIMIT)
    assert caught.value.reply == expected


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        (b"TO:<>", b"501 5.5.4 Syntax: RCPT TO:<address>\r\n"),
        (b"FROM:<a@b>", b"501 5.5.4 Syntax: RCPT TO:<address>\r\n"),
        (b"TO:<@>", b"501 5.1.3 Bad recipient address syntax\r\n"),
        (b"TO:<a@b@c>", b"501 5.1.3 Bad recipient address syntax\r\n"),
    ],
    ids=["null", "from", "at-only", "two-ats"],
)
def test_malformed_recipient(argument: bytes, expected: bytes) -> None:
    assert refusal(parse_rcpt, argument, False) == expected


def test_recipient_postmaster_without_domain() -> None:
    assert parse_rcpt(b"TO:<Postmaster>", False) == RcptArguments("Postmaster")


# --- SMTPUTF8 (RFC 6531) ---------------------------------------------------------------------

UTF8_ADDRESS = "用户@例子.广告"


def test_utf8_sender_with_smtputf8() -> None:
    argument = b"FROM:<" + "jörg@exämple.de".encode() + b"> SMTPUTF8"
    assert parse_mail(argument, LIMIT) == MailArguments("jörg@exämple.de", smtputf8=True)


def test_utf8_sender_without_smtputf8_answers_550_5_6_7() -> None:
    argument = b"FROM:<" + UTF8_ADDRESS.encode() + b">"
    assert refusal(parse_mail, argument, LIMIT) == (
        b"550 5.6.7 Non-ASCII sender address needs SMTPUTF8\r\n"
    )


def test_utf8_recipient_in_an_smtputf8_transaction() -> None:
    assert parse_rcpt(b"TO:<" + UTF8_ADDRESS.encode() + b">", True).recipient == UTF8_ADDRESS


def test_utf8_recipient_without_smtputf8_answers_553_5_6_7() -> None:
    assert refusal(parse_rcpt, b"TO:<" + UTF8_ADDRESS.encode() + b">", False) == (
        b"553 5.6.7 Non-ASCII recipient address needs SMTPUTF8\r\n"
    )


def test_utf8_quoted_local_part() -> None:
    argument = b'TO:<"' + "grüße".encode() + b' x"@b>'
    assert parse_rcpt(argument, True).recipient == '"grüße x"@b'


# --- MAIL parameters -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        (b"SIZE=1000", MailArguments("a@b", size=1000)),
        (b"size=0", MailArguments("a@b", size=0)),
        (b"BODY=8BITMIME", MailArguments("a@b", body="8BITMIME")),
        (b"BODY=7bit", MailArguments("a@b", body="7BIT")),
        (b"SMTPUTF8", MailArguments("a@b", smtputf8=True)),
        (b"RET=hdrs", MailArguments("a@b", ret="HDRS")),
        (b"RET=FULL", MailArguments("a@b", ret="FULL")),
        (b"ENVID=QQ314159+2Bx+3Dy", MailArguments("a@b", envid="QQ314159+x=y")),
        (b"AUTH=<>", MailArguments("a@b")),
        (b"AUTH=user+40example.com", MailArguments("a@b")),
        (
            b"SIZE=10  BODY=8BITMIME SMTPUTF8 RET=FULL ENVID=id1",
            MailArguments("a@b", 10, "8BITMIME", True, "FULL", "id1"),
        ),
    ],
    ids=[
        "size",
        "size-zero",
        "8bitmime",
        "7bit",
        "smtputf8",
        "ret-hdrs",
        "ret-full",
        "envid-xtext",
        "auth-empty",
        "auth-xtext",
        "all",
    ],
)
def test_mail_parameters(parameters: bytes, expected: MailArguments) -> None:
    assert parse_mail(b"FROM:<a@b> " + parameters, LIMIT) == expected


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        (b"SIZE=1001", b"552 5.3.4 Message size exceeds fixed maximum message size\r\n"),
        (b"SIZE=abc", b"501 5.5.4 Syntax error in SIZE parameter\r\n"),
        (b"SIZE", b"501 5.5.4 Syntax error in SIZE parameter\r\n"),
        (b"BODY=BINARY", b"501 5.5.4 Syntax error in BODY parameter\r\n"),
        (b"SMTPUTF8=yes", b"501 5.5.4 Syntax error in SMTPUTF8 parameter\r\n"),
        (b"RET=ALL", b"501 5.5.4 Syntax error in RET parameter\r\n"),
        (b"ENVID=a+2", b"501 5.5.4 Syntax error in ENVID parameter\r\n"),
        (b"ENVID=a+0A", b"501 5.5.4 Syntax error in ENVID parameter\r\n"),
        (b"ENVID=" + b"x" * 101, b"501 5.5.4 Syntax error in ENVID parameter\r\n"),
        (b"RET=FULL RET=HDRS", b"501 5.5.4 Parameter RET given twice\r\n"),
        (b"=x", b"501 5.5.4 Syntax error in parameters\r\n"),
        (b"SIZE=1=2", b"501 5.5.4 Syntax error in parameters\r\n"),
        (b"NOTIFY=NEVER", b"555 5.5.4 Unsupported parameter NOTIFY\r\n"),
        (b"XFOO=bar", b"555 5.5.4 Unsupported parameter XFOO\r\n"),
    ],
    ids=[
        "size-over-limit",
        "size-not-a-number",
        "size-without-value",
        "body-unknown",
        "smtputf8-with-value",
        "ret-unknown",
        "envid-bad-hexchar",
        "envid-control",
        "envid-too-long",
        "duplicate",
        "no-keyword",
        "two-equals",
        "rcpt-parameter",
        "unknown",
    ],
)
def test_refused_mail_parameters(parameters: bytes, expected: bytes) -> None:
    assert refusal(parse_mail, b"FROM:<a@b> " + parameters, LIMIT) == expected


# --- RCPT parameters -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        (b"", RcptArguments("c@d")),
        (b"NOTIFY=NEVER", RcptArguments("c@d", frozenset({"NEVER"}))),
        (b"notify=success,failure", RcptArguments("c@d", frozenset({"SUCCESS", "FAILURE"}))),
        (b"NOTIFY=DELAY", RcptArguments("c@d", frozenset({"DELAY"}))),
        (b"ORCPT=rfc822;c+2Btag@d", RcptArguments("c@d", orcpt="rfc822;c+tag@d")),
        (
            b"ORCPT=utf-8;j\\x{00F6}rg@d NOTIFY=FAILURE",
            RcptArguments("c@d", frozenset({"FAILURE"}), "utf-8;jörg@d"),
        ),
    ],
    ids=["none", "never", "success-failure", "delay", "orcpt-xtext", "orcpt-utf8-escape"],
)
def test_rcpt_parameters(parameters: bytes, expected: RcptArguments) -> None:
    assert parse_rcpt(b"TO:<c@d> " + parameters, False) == expected


def test_orcpt_with_raw_utf8_under_smtputf8() -> None:
    argument = b"TO:<c@d> ORCPT=utf-8;" + "jörg@d".encode()
    assert parse_rcpt(argument, True).orcpt == "utf-8;jörg@d"


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        (b"NOTIFY=NEVER,SUCCESS", b"501 5.5.4 Syntax error in NOTIFY parameter\r\n"),
        (b"NOTIFY=SOMETIMES", b"501 5.5.4 Syntax error in NOTIFY parameter\r\n"),
        (b"NOTIFY", b"501 5.5.4 Syntax error in NOTIFY parameter\r\n"),
        (b"ORCPT=c@d", b"501 5.5.4 Syntax error in ORCPT parameter\r\n"),
        (b"ORCPT=rfc822;", b"501 5.5.4 Syntax error in ORCPT parameter\r\n"),
        (b"ORCPT=utf-8;\\x{110000}", b"501 5.5.4 Syntax error in ORCPT parameter\r\n"),
        (b"NOTIFY=NEVER NOTIFY=NEVER", b"501 5.5.4 Parameter NOTIFY given twice\r\n"),
        (b"SIZE=10", b"555 5.5.4 Unsupported parameter SIZE\r\n"),
    ],
    ids=[
        "never-and-success",
        "unknown-notify",
        "notify-no-value",
        "orcpt-no-type",
        "orcpt-empty",
        "orcpt-bad-code-point",
        "duplicate",
        "mail-parameter",
    ],
)
def test_refused_rcpt_parameters(parameters: bytes, expected: bytes) -> None:
    assert refusal(parse_rcpt, b"TO:<c@d> " + parameters, False) == expected


@pytest.mark.parametrize(
    ("notify", "success", "failure"),
    [
        (None, False, True),
        (frozenset({"NEVER"}), False, False),
        (frozenset({"SUCCESS"}), True, False),
        (frozenset({"SUCCESS", "FAILURE"}), True, True),
        (frozenset({"DELAY"}), False, False),
    ],
    ids=["default", "never", "success", "both", "delay"],
)
def test_which_dsn_a_recipient_wants(notify, success: bool, failure: bool) -> None:
    rcpt = RcptArguments("c@d", notify)
    assert (rcpt.wants("SUCCESS"), rcpt.wants("FAILURE")) == (success, failure)
