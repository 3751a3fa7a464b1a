"""Malformed, out-of-state, oversized and pipelined POP3 commands: each answered -ERR (RFC 1939
§3: "-ERR" for an unknown or failed command), nothing lost, the session goes on."""

from __future__ import annotations

import socket

import pytest

from elektromail.testing import MailServer


@pytest.fixture(scope="module")
def server():
    with MailServer(users="user:pass") as mail:
        mail.inject("user", b"Subject: one\r\n\r\nbody\r\n")
        yield mail


class Raw:
    def __init__(self, server: MailServer) -> None:
        self.sock = socket.create_connection((server.host, server.pop3_port), timeout=10)
        self.file = self.sock.makefile("rb")
        assert self.line().startswith(b"+OK")

    def line(self) -> bytes:
        return self.file.readline()

    def ask(self, command: bytes) -> bytes:
        self.sock.sendall(command + b"\r\n")
        return self.line()

    def close(self) -> None:
        self.ask(b"QUIT")
        self.sock.close()


@pytest.fixture
def raw(server):
    client = Raw(server)
    yield client
    client.sock.close()


@pytest.fixture
def session(raw):
    assert raw.ask(b"USER user").startswith(b"+OK")
    assert raw.ask(b"PASS pass").startswith(b"+OK")
    yield raw
    raw.close()


@pytest.mark.parametrize(
    "command",
    [b"STAT", b"LIST", b"RETR 1", b"DELE 1", b"UIDL", b"TOP 1 1", b"RSET", b"NOOP"],
)
def test_transaction_commands_before_login(raw, command):
    assert raw.ask(command).startswith(b"-ERR Log in first")


def test_pass_without_user(raw):
    assert raw.ask(b"PASS pass").startswith(b"-ERR USER first")


def test_unknown_and_empty_commands(raw):
    assert raw.ask(b"FROB").startswith(b"-ERR Unknown command")
    assert raw.ask(b"").startswith(b"-ERR Unknown command")
    assert raw.ask(b"LAST").startswith(b"-ERR Unknown command")  # Twisted's, not RFC 1939's
    assert raw.ask(b"RPOP user").startswith(b"-ERR Unknown command")
    assert raw.ask(b"\xff\xfe").startswith(b"-ERR")
    assert raw.ask(b"USER").startswith(b"-ERR")  # no name


@pytest.mark.parametrize("number", [b"0", b"99", b"abc", b"-1", b"1.5", b"99999999999999999999"])
def test_bad_message_numbers(session, number):
    for command in (b"RETR ", b"DELE ", b"LIST ", b"UIDL ", b"TOP "):
        extra = b" 1" if command == b"TOP " else b""
        assert session.ask(command + number + extra).startswith(b"-ERR")
    assert session.ask(b"STAT") == b"+OK 1 %d\r\n" % len(b"Subject: one\r\n\r\nbody\r\n")


def test_bad_arguments_in_transaction(session):
    assert session.ask(b"RETR").startswith(b"-ERR")
    assert session.ask(b"RETR 1 2").startswith(b"-ERR")
    assert session.ask(b"TOP 1").startswith(b"-ERR")
    assert session.ask(b"TOP 1 x").startswith(b"-ERR")
    assert session.ask(b"STAT 1").startswith(b"-ERR")
    assert session.ask(b"USER user").startswith(b"-ERR Not allowed now")
    assert session.ask(b"STLS").startswith(b"-ERR Not allowed now")
    assert session.ask(b"AUTH PLAIN").startswith(b"-ERR Not allowed now")
    assert session.ask(b"DELE 1").startswith(b"+OK")
    assert session.ask(b"DELE 1").startswith(b"-ERR Message is deleted")
    assert session.ask(b"RSET").startswith(b"+OK")  # and QUIT then removes nothing


def test_command_over_255_octets(raw):
    """RFC 2449 §4: commands are at most 255 octets."""
    assert raw.ask(b"USER " + b"x" * 300).startswith(b"-ERR Command line too long")
    assert raw.ask(b"CAPA").startswith(b"+OK")


def test_line_over_the_limit_closes(server):
    client = Raw(server)
    client.sock.sendall(b"X" * 20000 + b"\r\n")
    assert client.line().startswith(b"-ERR Line too long")
    assert client.line() == b""  # closed
    client.sock.close()


def test_pipelined_commands_answered_in_order(raw):
    """RFC 2449 §6.6 PIPELINING."""
    raw.sock.sendall(b"USER user\r\nPASS pass\r\nSTAT\r\nRETR 9\r\nNOOP\r\nQUIT\r\n")
    answers = [raw.line() for _ in range(6)]
    assert [a[:3] for a in answers] == [b"+OK", b"+OK", b"+OK", b"-ER", b"+OK", b"+OK"]
    assert answers[2].startswith(b"+OK 1 ")
    assert raw.line() == b""


def test_pipelined_auth_response(raw):
    raw.sock.sendall(b"AUTH PLAIN\r\nAHVzZXIAcGFzcw==\r\nSTAT\r\nQUIT\r\n")
    assert raw.line() == b"+ \r\n"
    assert raw.line().startswith(b"+OK Logged in")
    assert raw.line().startswith(b"+OK 1 ")
    assert raw.line().startswith(b"+OK")


def test_bare_lf_line_end_is_accepted(raw):
    raw.sock.sendall(b"CAPA\n")
    assert raw.line().startswith(b"+OK")
