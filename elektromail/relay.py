"""Releasing a stored message to an upstream SMTP server (issue 19): the checks on the
addresses a release names, the --relay-allow patterns, SMTP transparency (RFC 5321 §4.5.2) over
the stored bytes, and the Twisted SMTP client that sends them unchanged.

Twisted's SMTPClient.transformChunk turns every LF into CRLF (stored CRLF becomes CR CR LF) and
misses a dot at the very start of the data and at a chunk boundary: the sender here stuffs the
whole message once and sends the chunks as they are.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from io import BytesIO

from twisted.internet import defer
from twisted.mail import smtp

MAX_ADDRESS = 254  # RFC 5321 §4.5.3.1.3 path, less the angle brackets
_LOCAL = r"(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
_DOMAIN = (
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)"
)
_ADDRESS_RE = re.compile(rf"{_LOCAL}@{_DOMAIN}")


class AddressError(ValueError):
    """An address a release may not use; the message says why."""


def check_address(value: object, allow_null: bool = False) -> str:
    """A plain ASCII mailbox `local@domain` (dot-atom local part, RFC 5321 §4.1.2), or "" for
    the null reverse-path when `allow_null`. Anything else (CR/LF, brackets, display names,
    non-ASCII: Twisted's client has no SMTPUTF8) raises AddressError."""
    if not isinstance(value, str):
        raise AddressError("expected a string")
    if value == "" and allow_null:
        return value
    if len(value) > MAX_ADDRESS:
        raise AddressError(f"longer than {MAX_ADDRESS} characters")
    if not value.isascii() or not _ADDRESS_RE.fullmatch(value):
        raise AddressError(f"{value[:80]!r} is not a plain address such as bob@example.com")
    return value


def parse_allow(text: str) -> tuple[str, ...]:
    """--relay-allow patterns, comma separated: a glob with `@` is matched against the whole
    address, one without against its domain (`*@example.com`, `*.test`); case-insensitive."""
    patterns = tuple(p.strip().lower() for p in text.split(",") if p.strip())
    for pattern in patterns:
        if any(c.isspace() for c in pattern) or not pattern.isascii():
            raise ValueError(f"pattern {pattern!r}: expected a glob such as *@example.com")
    return patterns


def allowed(address: str, patterns: Sequence[str]) -> bool:
    """Whether `address` may be relayed to (every address when there are no patterns)."""
    if not patterns:
        return True
    lowered = address.lower()
    domain = lowered.rpartition("@")[2]
    return any(fnmatch.fnmatchcase(lowered if "@" in p else domain, p) for p in patterns)


def refused(addresses: Iterable[str], patterns: Sequence[str]) -> list[str]:
    return [a for a in addresses if not allowed(a, patterns)]


def stuffed(raw: bytes) -> bytes:
    """The DATA payload for `raw`: a dot doubled at the start of every line (RFC 5321 §4.5.2),
    a final CRLF added only when the message lacks one; no other byte changes."""
    out = raw.replace(b"\r\n.", b"\r\n..")
    if out.startswith(b"."):
        out = b"." + out
    if not out.endswith(b"\r\n"):
        out += b"\r\n"
    return out


# --- the client --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What the upstream said: per recipient (address, code, text) and the DATA reply."""

    recipients: list[tuple[str, int, str]]
    code: int
    message: str


class _Sender(smtp.ESMTPSender):
    def transformChunk(self, chunk: bytes) -> bytes:  # already stuffed: send as it is
        self.resetTimeout()
        return chunk


class _SenderFactory(smtp.ESMTPSenderFactory):
    protocol = _Sender


def send(
    reactor,
    host: str,
    port: int,
    sender: str,
    recipients: Sequence[str],
    raw: bytes,
    *,
    user: str | None = None,
    password: str | None = None,
    tls_context=None,
    starttls: bool = False,
    timeout: float = 30.0,
    clock=None,
) -> defer.Deferred:
    """Send `raw` once (no retries) to `recipients`; fires with an Outcome, fails with
    twisted.mail.smtp.SMTPClientError (upstream refusal, with its code) or a connection
    error, or defer.TimeoutError when the whole exchange takes over `timeout` seconds on
    `clock` (default: the reactor; an upstream that accepts and never answers); a
    `tls_context` with `starttls=False` means implicit TLS."""

    def cancel(_d):  # as twisted.mail.smtp.sendmail's: no retry, drop the connection
        factory.sendFinished = True
        if factory.currentProtocol is not None and factory.currentProtocol.transport:
            factory.currentProtocol.transport.abortConnection()
        else:
            connector.disconnect()

    d = defer.Deferred(cancel)
    factory = _SenderFactory(
        user.encode("utf-8") if user else None,
        password.encode("utf-8") if password else None,
        sender,
        [r.encode("ascii") for r in recipients],
        BytesIO(stuffed(raw)),
        d,
        retries=0,
        timeout=timeout,
        contextFactory=tls_context if starttls else None,
        heloFallback=not user and not starttls,
        requireAuthentication=bool(user),
        requireTransportSecurity=starttls,
    )
    if tls_context is not None and not starttls:
        connector = reactor.connectSSL(host, port, factory, tls_context, timeout=timeout)
    else:
        connector = reactor.connectTCP(host, port, factory, timeout=timeout)
    d.addTimeout(timeout, reactor if clock is None else clock)

    def done(result):
        _count, addresses = result
        rows = [(a.decode("ascii"), c, _text(m)) for a, c, m in addresses]
        return Outcome(rows, 250, "ok")

    return d.addCallback(done)


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
