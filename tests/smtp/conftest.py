"""Fixtures for the SMTP suite: a fresh server per test (start-up costs ~2 ms) and raw clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from elektromail.testing import MailServer
from tests.smtp.wire import Wire

USERS = "user:pass,alice:alice-pw,bob:bob-pw"


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with MailServer(users=USERS, imap_port=None) as server:
        yield server


@pytest.fixture
def open_wire(mail: MailServer) -> Iterator[Callable[[], Wire]]:
    wires: list[Wire] = []

    def connect() -> Wire:
        wire = Wire(mail.smtp_port)
        wires.append(wire)
        return wire

    yield connect
    for wire in wires:
        wire.close()


@pytest.fixture
def wire(open_wire: Callable[[], Wire]) -> Wire:
    """A connected client that has said EHLO."""
    client = open_wire()
    assert client.command(b"EHLO client.test").startswith(b"250-")
    return client


@pytest.fixture
def start_mail() -> Iterator[Callable[..., MailServer]]:
    """Start servers with other settings: `start_mail(require_auth=True)`; stopped at the end."""
    servers: list[MailServer] = []

    def start(**settings: Any) -> MailServer:
        settings.setdefault("users", USERS)
        settings.setdefault("imap_port", None)
        servers.append(MailServer(**settings).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()
