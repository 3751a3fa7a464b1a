"""Fixtures for the control API tests: a server with HTTP on a free port, and a client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from elektromail.testing import MailServer
from tests.http.client import Api

USERS = "user:pass,alice:alice@example.org:wonder,bob:builder"
TOKEN = "s3cret-token"


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with MailServer(users=USERS, http_port=0) as server:
        yield server


@pytest.fixture
def api(mail: MailServer) -> Api:
    return Api(mail)


@pytest.fixture
def guarded() -> Iterator[MailServer]:
    """A server that wants the bearer token TOKEN."""
    with MailServer(users=USERS, http_port=0, http_token=TOKEN) as server:
        yield server
