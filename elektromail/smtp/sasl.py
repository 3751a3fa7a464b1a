"""SASL for SMTP AUTH (RFC 4954): the PLAIN (RFC 4616) and LOGIN mechanisms as pure code.

An `Exchange` takes the client's base64 lines one at a time and yields the next challenge or
the decoded credentials; the protocol only moves lines and checks the credentials.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass


class SASLError(Exception):
    """The exchange ends without credentials."""


class Cancelled(SASLError):
    """The client answered `*`."""


class BadBase64(SASLError):
    """A response is not valid base64."""


class Malformed(SASLError):
    """A response decodes but is not what the mechanism expects."""


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str
    authzid: str = ""  # PLAIN's authorization identity; "" when not given


def decode_response(line: bytes) -> bytes:
    """A client response line: `*` cancels, `=` is an empty response (RFC 4954 §4)."""
    line = line.strip()
    if line == b"*":
        raise Cancelled()
    if line == b"=":
        return b""
    try:
        return base64.b64decode(line, validate=True)
    except (binascii.Error, ValueError):
        raise BadBase64() from None


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("not UTF-8") from None


def plain_credentials(responses: Sequence[bytes]) -> Credentials:
    """`[authzid] NUL authcid NUL passwd`; the authcid must not be empty."""
    parts = responses[0].split(b"\0")
    if len(parts) != 3:
        raise Malformed("expected authzid NUL authcid NUL password")
    authzid, username, password = (_text(part) for part in parts)
    if not username:
        raise Malformed("empty user name")
    return Credentials(username, password, authzid)


def login_credentials(responses: Sequence[bytes]) -> Credentials:
    username, password = (_text(response) for response in responses)
    if not username:
        raise Malformed("empty user name")
    return Credentials(username, password)


@dataclass(frozen=True, slots=True)
class Mechanism:
    name: str
    challenges: tuple[bytes, ...]  # one per response the client must give
    credentials: Callable[[Sequence[bytes]], Credentials]


MECHANISMS: dict[str, Mechanism] = {
    "PLAIN": Mechanism("PLAIN", (b"",), plain_credentials),
    "LOGIN": Mechanism("LOGIN", (b"Username:", b"Password:"), login_credentials),
}


class Exchange:
    """One AUTH exchange: feed it response lines until it returns Credentials."""

    def __init__(self, mechanism: Mechanism) -> None:
        self.mechanism = mechanism
        self._responses: list[bytes] = []

    def challenge(self) -> str:
        """The base64 text of the next 334 challenge."""
        return base64.b64encode(self.mechanism.challenges[len(self._responses)]).decode("ascii")

    def receive(self, line: bytes) -> Credentials | None:
        """Take one response line; None means send the next challenge. Raises SASLError."""
        self._responses.append(decode_response(line))
        if len(self._responses) < len(self.mechanism.challenges):
            return None
        return self.mechanism.credentials(self._responses)
