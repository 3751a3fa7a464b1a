"""Releasing a stored message to an upstream SMTP server (issue 19): the checks on the
addresses a release names, the --relay-allow patterns, SMTP transparency (RFC 5321 §4.5.2) over
the stored bytes, and the Twisted SMTP client that sends them unchanged.

Twisted's SMTPClient.transformChunk turns every LF into CRLF (stored CRLF becomes CR CR LF) and
misses a dot at the very start of the data and at a chunk boundary: the sender here stuffs the
whole message once and sends the chunks as they are.
"""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO

from twisted.internet import defer
from twisted.mail import smtp

from elektromail.config import parse_relay_allow

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


parse_allow = parse_relay_allow  # the --relay-allow patterns, parsed in elektromail.config


def allowed(address: str, patterns: Sequence[str]) -> bool:
    """Whether `address` may be relayed to (every address when there are no patterns)."""
    if not patterns:
        return True
    lowered = address.lower()
    domain = lowered.rpartition("@")[2]
    return any(fnmatch.fnmatchcase(lowered if "@" in p else domain, p) for p in patterns)


def refused(addresses: Iterable[str], patterns: Sequence[str]) -> list[str]:
    return [a for a in addresses if not allowed(a, patterns)]


_BARE_CR_OR_LF = re.compile(rb"\r(?!\n)|(?<!\r)\n")


def bare_line_end(raw: bytes) -> int | None:
    """The offset of the first CR or LF that is not part of a CRLF, or None. RFC 5321 §2.3.8:
    "SMTP client implementations MUST NOT transmit these characters except when they are
    intended as line terminators"; sent as stored, `LF . CRLF` would end the data early at an
    upstream that takes a bare LF for a line end (SMTP smuggling)."""
    found = _BARE_CR_OR_LF.search(raw)
    return None if found is None else found.start()


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
    """What the upstream said: per recipient (address, code, text) and its reply to the data."""

    recipients: list[tuple[str, int, str]]
    code: int
    message: str


class EightBitRefused(smtp.SMTPClientError):
    """The message has 8-bit bytes and the upstream does not offer 8BITMIME: sending it would
    need a conversion to 7 bits (RFC 6152 §3), which would change the bytes; it is not sent."""

    def __init__(self) -> None:
        super().__init__(
            -1,
            b"the message has 8-bit bytes and the upstream does not offer 8BITMIME"
            b" (RFC 6152 section 3); it was not sent rather than converted to 7 bits",
            isFatal=False,
        )


def mail_parameters(raw: bytes, extensions: Mapping[bytes, bytes | None]) -> bytes:
    """MAIL FROM's parameters for `raw` given the upstream's EHLO keywords (upper case):
    BODY=8BITMIME for 8-bit data (RFC 6152 §2), SMTPUTF8 too for 8-bit header bytes when
    offered (RFC 6531 §3.4: "the message being sent is an internationalized message"), SIZE=
    when offered (RFC 1870 §6). EightBitRefused for 8-bit data to an upstream without
    8BITMIME. 8-bit headers to an upstream without SMTPUTF8 go with BODY=8BITMIME alone, as
    Postfix sends them (smtputf8_autodetect_classes): refusing them would refuse much real mail.
    """
    parameters = []
    if not raw.isascii():
        if b"8BITMIME" not in extensions:
            raise EightBitRefused()
        parameters.append(b"BODY=8BITMIME")
        header = raw.split(b"\r\n\r\n", 1)[0]
        if b"SMTPUTF8" in extensions and not header.isascii():
            parameters.append(b"SMTPUTF8")
    if b"SIZE" in extensions:
        parameters.append(b"SIZE=%d" % len(raw))
    return b"".join(b" " + p for p in parameters)


class _Sender(smtp.ESMTPSender):
    extensions: dict[bytes, bytes | None] = {}

    def transformChunk(self, chunk: bytes) -> bytes:  # already stuffed: send as it is
        self.resetTimeout()
        return chunk

    def esmtpState_serverConfig(self, code, resp):
        # The last EHLO's keywords count (after STARTTLS the client says EHLO again).
        self.extensions = {}
        for line in resp.splitlines():
            keyword, _, value = line.partition(b" ")
            self.extensions[keyword.upper()] = value or None
        return super().esmtpState_serverConfig(code, resp)

    def smtpState_from(self, code, resp):
        self._from = self.getMailFrom()
        self._failresponse = self.smtpTransferFailed
        if self._from is None:  # sent: say QUIT
            return self._disconnectFromServer()
        try:
            parameters = mail_parameters(self.factory.raw, self.extensions)
        except EightBitRefused as e:
            self._from = None
            return self.sendError(e)
        self.sendLine(b"MAIL FROM:" + smtp.quoteaddr(self._from) + parameters)
        self._expected = [250]
        self._okresponse = self.smtpState_to

    def sentMail(self, code, resp, numOk, addresses, log):
        if code in smtp.SUCCESS:  # the reply to the data, which Twisted's result leaves out
            self.factory.data_reply = (code, resp)
        return super().sentMail(code, resp, numOk, addresses, log)


class _SenderFactory(smtp.ESMTPSenderFactory):
    protocol = _Sender
    raw = b""
    data_reply: tuple[int, bytes] = (250, b"")


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
    twisted.mail.smtp.SMTPClientError (upstream refusal, with its code; EightBitRefused) or a
    connection error, or defer.TimeoutError when the whole exchange takes over `timeout`
    seconds on `clock` (default: the reactor; an upstream that accepts and never answers); a
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
    factory.raw = raw
    if tls_context is not None and not starttls:
        connector = reactor.connectSSL(host, port, factory, tls_context, timeout=timeout)
    else:
        connector = reactor.connectTCP(host, port, factory, timeout=timeout)
    d.addTimeout(timeout, reactor if clock is None else clock)

    def done(result):
        _count, addresses = result
        rows = [(_text(a), c, _text(m)) for a, c, m in addresses]
        code, message = factory.data_reply
        return Outcome(rows, code, _text(message))

    return d.addCallback(done)


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# --- a release: what the settings, the request and the stored message say ------------------

# RFC 5321 §4.5.3.1.8: a server must take at least 100 recipients; more would be refused
# midway by some upstreams, so a release names at most this many.
MAX_RECIPIENTS = 100


class ReleaseError(Exception):
    """Why a release did not happen. `status`: the HTTP status the route answers with;
    `upstream`: the upstream's (code, text) when it refused; `recipients`: its reply
    to each RCPT TO when it got that far, as (address, code, text)."""

    def __init__(
        self,
        status: int,
        message: str,
        upstream: tuple[int, str] | None = None,
        recipients: Sequence[tuple[str, int, str]] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.upstream = upstream
        self.recipients = list(recipients)


def check_recipients(to: object) -> list[str]:
    """The `to` a release names: a non-empty list of at most MAX_RECIPIENTS plain addresses
    (repeats dropped); ReleaseError 400 saying what is wrong."""
    if not isinstance(to, list):
        raise ReleaseError(400, "field 'to': expected a list of addresses")
    if not to:
        raise ReleaseError(400, "field 'to': expected at least one address")
    if len(to) > MAX_RECIPIENTS:
        raise ReleaseError(
            400, f"field 'to': at most {MAX_RECIPIENTS} addresses in one release, got {len(to)}"
        )
    out: list[str] = []
    for index, value in enumerate(to):
        try:
            address = check_address(value)
        except AddressError as e:
            raise ReleaseError(400, f"field 'to', item {index}: {e}") from None
        if address not in out:
            out.append(address)
    return out


def check_sender(value: object) -> str:
    try:
        return check_address(value, allow_null=True)
    except AddressError as e:
        raise ReleaseError(400, f"field 'from': {e}") from None


def original_envelope(transcript: dict | None, raw: bytes) -> tuple[str, list[str]]:
    """(MAIL FROM, RCPT TO addresses) a message first came with: the accepted ones of its SMTP
    transcript, or for a message that has none (injected, appended, transcripts off) the
    Return-Path or From header's address and the To and Cc headers' addresses."""
    if transcript is not None and transcript.get("mail_from"):
        sender = transcript["mail_from"].get("address") or ""
        to = [
            r["address"]
            for r in transcript.get("recipients") or ()
            if r.get("accepted") and r.get("address")
        ]
        return sender, list(dict.fromkeys(to))
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)

    def addresses(*names: str) -> list[str]:
        values = [str(v) for name in names for v in headers.get_all(name) or ()]
        return [a for _n, a in email.utils.getaddresses(values) if a]

    senders = addresses("Return-Path") or addresses("From")
    return (senders[0] if senders else ""), list(dict.fromkeys(addresses("To", "Cc")))


def relay_port(settings) -> int:
    """--relay-port, or the usual port of --relay-tls's mode (RFC 8314 §3.3: 465 for implicit
    TLS; RFC 6409's 587 for submission with STARTTLS; 25 without TLS)."""
    if settings.relay_port is not None:
        return settings.relay_port
    return {"tls": 465, "starttls": 587}.get(settings.relay_tls, 25)


def _tls_context(settings):
    if settings.relay_tls == "none":
        return None
    from twisted.internet import ssl

    if settings.relay_tls_verify:
        return ssl.optionsForClientTLS(settings.relay_host)
    return ssl.CertificateOptions(verify=False)  # --relay-tls-verify off: a self-signed upstream


def require_relay(settings) -> str:
    """--relay-host, or ReleaseError 409 when none is set."""
    if settings.relay_host is None:
        raise ReleaseError(
            409, "no relay is set: start the server with --relay-host (ELEKTROMAIL_RELAY_HOST)"
        )
    return settings.relay_host


async def release(
    reactor, settings, raw: bytes, sender: str, to: Sequence[str], clock=None
) -> Outcome:
    """Send `raw` from `sender` to `to` (checked addresses) through the relay of `settings`;
    an Outcome, or ReleaseError saying why not (409 no relay set, 403 a recipient
    --relay-allow does not match, 422 bare CR or LF in the message, 502 the upstream refused
    or could not be reached, 504 it took over --relay-timeout)."""
    host = require_relay(settings)
    blocked = refused(to, settings.relay_allow)
    if blocked:
        raise ReleaseError(
            403,
            "not allowed by --relay-allow ("
            + ", ".join(settings.relay_allow)
            + "): "
            + ", ".join(blocked[:10]),
        )
    offset = bare_line_end(raw)
    if offset is not None:
        raise ReleaseError(
            422,
            f"the message has a bare CR or LF (at octet {offset}), which SMTP may not carry"
            " (RFC 5321 section 2.3.8); it was not sent rather than changed",
        )
    port = relay_port(settings)
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        return await send(
            reactor,
            host,
            port,
            sender,
            to,
            raw,
            user=settings.relay_user,
            password=settings.relay_password,
            tls_context=_tls_context(settings),
            starttls=settings.relay_tls == "starttls",
            timeout=settings.relay_timeout,
            clock=clock,
        )
    except defer.TimeoutError:
        raise ReleaseError(
            504, f"the relay {where} did not finish within {settings.relay_timeout} s"
        ) from None
    except EightBitRefused as e:
        raise ReleaseError(502, f"relay {where}: {_text(e.resp)}") from None
    except smtp.SMTPClientError as e:
        rows = [(_text(a), c, _text(m)) for a, c, m in e.addresses or ()]
        text = _text(e.resp)
        if rows and text == "No recipients accepted":  # Twisted's words: give the upstream's
            text = rows[-1][2]
        code = e.code if e.code > 0 else None
        said = f"{code} {text}" if code else text
        upstream = (code, text) if code else None  # None: it never answered (no connection)
        raise ReleaseError(502, f"relay {where}: {said}", upstream, rows) from None
    except Exception as e:  # TLS or socket errors outside Twisted's wrapping
        raise ReleaseError(502, f"relay {where}: {e.__class__.__name__}: {e}") from None
