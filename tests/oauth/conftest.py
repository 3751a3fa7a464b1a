"""Servers for the OAuth2 sign-in tests: one per mode, on free ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from elektromail.testing import MailServer

USERS = "user:pass,alice:alice@example.org:wonder"


@pytest.fixture
def start_mail() -> Iterator[Callable[..., MailServer]]:
    """`start_mail(oauth="tokens")`; stopped at the end."""
    servers: list[MailServer] = []

    def start(**settings: Any) -> MailServer:
        settings.setdefault("users", USERS)
        servers.append(MailServer(**settings).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def accepting(start_mail) -> MailServer:
    return start_mail(oauth="accept")


@pytest.fixture
def tokens(start_mail) -> MailServer:
    return start_mail(oauth="tokens", http_port=0)
