"""SMTP AUTH PLAIN and LOGIN over real sockets: good, bad, malformed, cancelled, disabled."""

from __future__ import annotations

import base64
import smtplib
from collections.abc import Callable

import pytest

from elektromail.testing import MailServer
from tests.smtp.wire import Wire, mailbox


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


AUTH_OK = b"235 2.7.0 Authentication successful\r\n"
AUTH_FAILED = b"535 5.7.8 Authentication credentials invalid\r\n"
BAD_BASE64 = b"501 5.5.2 Cannot decode base64 response\r\n"
MALFORMED = b"501 5.5.2 Malformed authentication response\r\n"
CANCELLED = b"501 5.7.0 Authentication cancelled\r\n"


def test_plain_with_initial_response(wire: Wire) -> None:
    assert wire.command(b"AUTH PLAIN " + b64(b"\0user\0pass")) == AUTH_OK


def test_plain_without_initial_response(wire: Wire) -> None:
    assert wire.command(b"AUTH PLAIN") == b"334 \r\n"
    assert wire.command(b64(b"\0user\0pass")) == AUTH_OK


def test_plain_with_matching_authzid(wire: Wire) -> None:
    assert wire.command(b"auth plain " + b64(b"user\0user\0pass")) == AUTH_OK


def test_plain_acting_as_another_user_is_refused(wire: Wire) -> None:
    assert wire.command(b"AUTH PLAIN " + b64(b"alice\0user\0pass")) == AUTH_FAILED


@pytest.mark.parametrize(
    "message", [b"\0user\0wrong", b"\0nobody\0pass", b"\0user\0"], ids=["password", "user", "empty"]
)
def test_bad_credentials_answer_535_and_allow_a_retry(wire: Wire, message: bytes) -> None:
    assert wire.command(b"AUTH PLAIN " + b64(message)) == AUTH_FAILED
    assert wire.command(b"AUTH PLAIN " + b64(b"\0user\0pass")) == AUTH_OK


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (b"%%%not-base64%%%", BAD_BASE64),
        (b"dXNlcg", BAD_BASE64),
        (b64(b"user pass"), MALFORMED),
        (b64(b"\0\0pass"), MALFORMED),
        (b"=", MALFORMED),
        (b"*", CANCELLED),
    ],
    ids=["garbage", "no-padding", "no-nul", "empty-user", "empty", "cancel"],
)
@pytest.mark.parametrize("initial", [True, False], ids=["initial", "continuation"])
def test_malformed_or_cancelled_plain_answers_501_and_connection_stays_usable(
    wire: Wire, response: bytes, expected: bytes, initial: bool
) -> None:
    if initial:
        assert wire.command(b"AUTH PLAIN " + response) == expected
    else:
        assert wire.command(b"AUTH PLAIN") == b"334 \r\n"
        assert wire.command(response) == expected
    assert wire.command(b"NOOP") == b"250 2.0.0 OK\r\n"
    assert wire.command(b"AUTH PLAIN " + b64(b"\0user\0pass")) == AUTH_OK


def test_login_mechanism(wire: Wire) -> None:
    assert wire.command(b"AUTH LOGIN") == b"334 VXNlcm5hbWU6\r\n"
    assert wire.command(b64(b"alice")) == b"334 UGFzc3dvcmQ6\r\n"
    assert wire.command(b64(b"alice-pw")) == AUTH_OK


def test_login_with_initial_response(wire: Wire) -> None:
    assert wire.command(b"AUTH LOGIN " + b64(b"alice")) == b"334 UGFzc3dvcmQ6\r\n"
    assert wire.command(b64(b"wrong")) == AUTH_FAILED


def test_login_cancelled_at_password(wire: Wire) -> None:
    wire.command(b"AUTH LOGIN " + b64(b"alice"))
    assert wire.command(b"*") == CANCELLED


def test_unknown_mechanism_is_504(wire: Wire) -> None:
    assert wire.command(b"AUTH CRAM-MD5") == b"504 5.5.4 Unrecognized authentication mechanism\r\n"


def test_auth_without_mechanism_is_501(wire: Wire) -> None:
    assert wire.command(b"AUTH").startswith(b"501 5.5.4 ")


def test_second_auth_is_503(wire: Wire) -> None:
    wire.command(b"AUTH PLAIN " + b64(b"\0user\0pass"))
    assert wire.command(b"AUTH PLAIN " + b64(b"\0user\0pass")) == (
        b"503 5.5.1 Already authenticated\r\n"
    )


def test_auth_during_a_transaction_is_503(wire: Wire) -> None:
    wire.command(b"MAIL FROM:<a@b>")
    assert wire.command(b"AUTH PLAIN " + b64(b"\0user\0pass")).startswith(b"503 5.5.1 ")


def test_smtplib_login_then_send(mail: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", mail.smtp_port, timeout=5) as client:
        assert client.login("alice", "alice-pw")[0] == 235
        client.sendmail("alice@example.com", ["bob@example.com"], b"Subject: s\r\n\r\nhi\r\n")
    assert mailbox(mail, "bob") == [b"Subject: s\r\n\r\nhi\r\n"]


def test_smtplib_login_with_wrong_password_raises(mail: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", mail.smtp_port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as caught:
            client.login("alice", "nope")
    assert caught.value.smtp_code == 535


def test_smtplib_login_mechanism(mail: MailServer) -> None:
    with smtplib.SMTP("127.0.0.1", mail.smtp_port, timeout=5) as client:
        client.ehlo()
        client.user, client.password = "bob", "bob-pw"
        assert client.auth("LOGIN", client.auth_login)[0] == 235


@pytest.fixture
def open_disabled() -> Callable[[], Wire]:
    with MailServer(auth_disabled=True, imap_port=None) as server:
        wires: list[Wire] = []

        def connect() -> Wire:
            wires.append(Wire(server.smtp_port))
            return wires[-1]

        yield connect
        for wire in wires:
            wire.close()


@pytest.mark.parametrize(
    "message", [b"\0user\0wrong", b"\0someone\0anything", b"x\0y\0"], ids=["wrong", "new", "authz"]
)
def test_auth_disabled_accepts_any_credentials(
    open_disabled: Callable[[], Wire], message: bytes
) -> None:
    assert open_disabled().command(b"AUTH PLAIN " + b64(message)) == AUTH_OK


def test_auth_disabled_still_answers_501_to_malformed_base64(
    open_disabled: Callable[[], Wire],
) -> None:
    assert open_disabled().command(b"AUTH PLAIN %%%") == BAD_BASE64
