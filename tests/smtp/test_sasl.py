"""SASL PLAIN and LOGIN as pure code: decoding, malformed input, cancel, the exchange."""

from __future__ import annotations

import base64

import pytest

from elektromail.smtp import sasl
from elektromail.smtp.sasl import Credentials


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (b"\0user\0pass", Credentials("user", "pass")),
        (b"user\0user\0pass", Credentials("user", "pass", "user")),
        (b"\0j\xc3\xb6rg\0p\xc3\xa4ss", Credentials("j\u00f6rg", "p\u00e4ss")),
        (b"\0user\0", Credentials("user", "")),
    ],
    ids=["no-authzid", "authzid", "utf8", "empty-password"],
)
def test_plain_decodes_credentials(message: bytes, expected: Credentials) -> None:
    exchange = sasl.Exchange(sasl.MECHANISMS["PLAIN"])
    assert exchange.receive(b64(message)) == expected


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b"not base64!", sasl.BadBase64),
        (b"dXNlcg", sasl.BadBase64),  # missing padding
        (b"*", sasl.Cancelled),
        (b"=", sasl.Malformed),  # empty response
        (b64(b"user pass"), sasl.Malformed),
        (b64(b"\0\0pass"), sasl.Malformed),
        (b64(b"a\0b\0c\0d"), sasl.Malformed),
        (b64(b"\0\xff\0pass"), sasl.Malformed),
    ],
    ids=["garbage", "no-padding", "cancel", "empty", "no-nul", "empty-user", "3-nul", "not-utf8"],
)
def test_plain_rejects_bad_responses(line: bytes, error: type[sasl.SASLError]) -> None:
    exchange = sasl.Exchange(sasl.MECHANISMS["PLAIN"])
    with pytest.raises(error):
        exchange.receive(line)


def test_plain_challenge_is_empty() -> None:
    assert sasl.Exchange(sasl.MECHANISMS["PLAIN"]).challenge() == ""


def test_login_asks_for_username_then_password() -> None:
    exchange = sasl.Exchange(sasl.MECHANISMS["LOGIN"])
    assert base64.b64decode(exchange.challenge()) == b"Username:"
    assert exchange.receive(b64(b"user")) is None
    assert base64.b64decode(exchange.challenge()) == b"Password:"
    assert exchange.receive(b64(b"pass")) == Credentials("user", "pass")


def test_login_cancel_at_password_prompt() -> None:
    exchange = sasl.Exchange(sasl.MECHANISMS["LOGIN"])
    exchange.receive(b64(b"user"))
    with pytest.raises(sasl.Cancelled):
        exchange.receive(b"*")
