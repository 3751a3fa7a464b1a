"""OAuth2 sign-in: the XOAUTH2 (Google's, Microsoft's) and OAUTHBEARER (RFC 7628) SASL
mechanisms as pure code, and the token map the `tokens` mode accepts exactly.

Every protocol (SMTP AUTH, IMAP AUTHENTICATE, POP3 AUTH) uses one `Exchange` per attempt: it
takes the client's responses, already base64-decoded (the protocol owns base64, `=` and the
`*` cancel), and answers `Success(user)`, `Challenge(data)` (send it, read one more response)
or `Failure(reason)`. Whether a token is good is decided by the `verify` callable it is given
(the post office's `verify_bearer`), so this module needs no store.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

XOAUTH2 = "XOAUTH2"
OAUTHBEARER = "OAUTHBEARER"
MECHANISMS = (XOAUTH2, OAUTHBEARER)
MODES = ("off", "accept", "tokens")

# A decoded client response longer than this is refused: real access tokens (Microsoft's JWTs
# included) stay under a few KiB; SMTP's line limit (16 KiB of base64) would allow about 12.
MAX_RESPONSE = 8 * 1024

# RFC 6750 §3.1 error codes, which RFC 7628 §3.2.2's "status" takes.
INVALID_REQUEST = "invalid_request"
INVALID_TOKEN = "invalid_token"
INSUFFICIENT_SCOPE = "insufficient_scope"

# Scopes that grant a protocol: Google's one scope for all mail, Microsoft's per protocol,
# and short names for test suites. A token without scopes grants every protocol.
GOOGLE_MAIL_SCOPE = "https://mail.google.com/"
PROTOCOL_SCOPES: dict[str, frozenset[str]] = {
    "smtp": frozenset({GOOGLE_MAIL_SCOPE, "https://outlook.office.com/SMTP.Send", "mail", "smtp"}),
    "imap": frozenset(
        {GOOGLE_MAIL_SCOPE, "https://outlook.office.com/IMAP.AccessAsUser.All", "mail", "imap"}
    ),
    "pop3": frozenset(
        {GOOGLE_MAIL_SCOPE, "https://outlook.office.com/POP.AccessAsUser.All", "mail", "pop3"}
    ),
}


def enabled(mode: str) -> bool:
    """Whether the mechanisms are advertised and answered (`--oauth` not off)."""
    return mode != "off"


# --- outcomes ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Success:
    user: Any  # the post office's UserRow


@dataclass(frozen=True, slots=True)
class Challenge:
    data: bytes  # raw; the protocol sends it base64-encoded (334 / `+`)


@dataclass(frozen=True, slots=True)
class Failure:
    reason: str
    # The response was not what the mechanism allows (SMTP answers 501 rather than 535).
    malformed: bool = False


Outcome = Success | Challenge | Failure


@dataclass(frozen=True, slots=True)
class Verdict:
    """What `verify` decides: the user, or the RFC 6750 error code why not."""

    user: Any = None
    error: str = INVALID_TOKEN


# verify(user name, token, protocol) -> Verdict
Verify = Callable[[str, str, str], Awaitable[Verdict]]


# --- parsing -------------------------------------------------------------------------------------


class Malformed(ValueError):
    """A client response the mechanism does not allow."""


@dataclass(frozen=True, slots=True)
class Bearer:
    user: str
    token: str


def _text(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed(f"{what} is not UTF-8") from None


def _bearer_token(auth: bytes) -> str:
    """`Bearer <token>` (the scheme in any case, RFC 6750 §2.1); the token not empty."""
    scheme, _, token = _text(auth, "auth").partition(" ")
    if scheme.lower() != "bearer":
        raise Malformed("auth is not a Bearer token")
    token = token.strip()
    if not token:
        raise Malformed("empty token")
    return token


def _kvpairs(data: bytes) -> dict[str, bytes]:
    """`key=value` pairs each ended by \\x01, then a final \\x01 (RFC 7628 §3.1)."""
    if not data.endswith(b"\x01\x01"):
        raise Malformed("expected key=value pairs ended by \\x01\\x01")
    pairs: dict[str, bytes] = {}
    for item in data[:-2].split(b"\x01"):
        key, equals, value = item.partition(b"=")
        if not equals or not re.fullmatch(rb"[A-Za-z]+", key):
            raise Malformed("expected key=value")
        name = key.decode("ascii").lower()
        if name in pairs:
            raise Malformed(f"{name} given twice")
        pairs[name] = value
    return pairs


def parse_xoauth2(data: bytes) -> Bearer:
    """`user=<u>\\x01auth=Bearer <token>\\x01\\x01` (Google's and Microsoft's format)."""
    pairs = _kvpairs(data)
    if "user" not in pairs or "auth" not in pairs:
        raise Malformed("expected user= and auth=")
    user = _text(pairs["user"], "user")
    if not user:
        raise Malformed("empty user")
    return Bearer(user, _bearer_token(pairs["auth"]))


def _saslname(text: str) -> str:
    """RFC 5801 §4: `=2C` is ",", `=3D` is "=", and no other "=" may appear."""
    if re.search(r"=(?!2C|3D)", text):
        raise Malformed("bad escape in the authzid")
    return text.replace("=2C", ",").replace("=3D", "=")


def parse_gs2_header(header: bytes) -> str:
    """The authzid of `n,a=<user>,` (RFC 5801 §4). No channel binding is offered, so only
    "n" is allowed ("y" claims the server could bind, "p=" asks for it), and the authzid is
    required: it is how the user is named."""
    parts = _text(header, "GS2 header").split(",")
    if len(parts) != 3 or parts[2] != "":
        raise Malformed("expected GS2 header n,a=user,")
    flag, authzid, _ = parts
    if flag.startswith("p="):
        raise Malformed("channel binding is not supported")
    if flag != "n":
        raise Malformed("expected GS2 flag n (no channel binding)")
    if not authzid.startswith("a="):
        raise Malformed("expected a=user in the GS2 header")
    user = _saslname(authzid[2:])
    if not user:
        raise Malformed("empty authzid")
    return user


def parse_oauthbearer(data: bytes) -> Bearer:
    """`gs2-header \\x01 *(key=value \\x01) \\x01` (RFC 7628 §3.1); host, port and unknown
    keys are ignored (clients name the server as they please; unknown keys MUST be)."""
    header, sep, rest = data.partition(b"\x01")
    if not sep:
        raise Malformed("expected \\x01 after the GS2 header")
    user = parse_gs2_header(header)
    pairs = _kvpairs(rest) if rest != b"\x01" else {}
    if "auth" not in pairs:
        raise Malformed("expected auth=")
    if "port" in pairs and not re.fullmatch(rb"[1-9][0-9]{0,4}", pairs["port"]):
        raise Malformed("port is not a decimal number")
    if "user" in pairs and _text(pairs["user"], "user") != user:
        raise Malformed("user= does not match the authzid")
    return Bearer(user, _bearer_token(pairs["auth"]))


PARSERS: dict[str, Callable[[bytes], Bearer]] = {
    XOAUTH2: parse_xoauth2,
    OAUTHBEARER: parse_oauthbearer,
}


def error_challenge(mechanism: str, error: str, protocol: str) -> bytes:
    """The JSON a failed token gets before the failure: RFC 7628 §3.2.2 for OAUTHBEARER,
    Google's documented form (HTTP status, schemes, scope) for XOAUTH2."""
    if mechanism == XOAUTH2:
        status = {INSUFFICIENT_SCOPE: "403", INVALID_REQUEST: "400"}.get(error, "401")
        body: dict[str, str] = {"status": status, "schemes": "bearer", "scope": GOOGLE_MAIL_SCOPE}
    else:
        body = {"status": error, "scope": GOOGLE_MAIL_SCOPE}
    return json.dumps(body, separators=(",", ":")).encode("ascii")


# --- the exchange --------------------------------------------------------------------------------


class Exchange:
    """One XOAUTH2 or OAUTHBEARER attempt. Feed `respond` each decoded client response (the
    initial one, or the answer to the empty first challenge) until it is not a Challenge."""

    def __init__(self, mechanism: str, verify: Verify, protocol: str) -> None:
        if mechanism not in PARSERS:
            raise ValueError(f"not an OAuth mechanism: {mechanism}")
        self.mechanism = mechanism
        self.protocol = protocol
        self._verify = verify
        self._refused: str | None = None  # why, once the error challenge was sent
        self.user_name: str | None = None  # as the client named it (for the log)

    async def respond(self, response: bytes) -> Outcome:
        if self._refused is not None:
            # RFC 7628 §3.2.3: the client answers the error with a dummy (\x01; XOAUTH2
            # clients send an empty response), and the server fails, whatever it said.
            return Failure(self._refused)
        if len(response) > MAX_RESPONSE:
            return Failure("response too long", malformed=True)
        if self.mechanism == OAUTHBEARER and response == b"\x01":
            # §3.1: the lone kvsep is only valid after an error; first, it just fails.
            return Failure("no credentials", malformed=True)
        try:
            bearer = PARSERS[self.mechanism](response)
        except Malformed as e:
            return Failure(str(e), malformed=True)
        self.user_name = bearer.user
        verdict = await self._verify(bearer.user, bearer.token, self.protocol)
        if verdict.user is not None:
            return Success(verdict.user)
        self._refused = verdict.error
        return Challenge(error_challenge(self.mechanism, verdict.error, self.protocol))


# --- the token map -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Grant:
    """A token the `tokens` mode accepts: for `user` (as stored: `name@<ns>` in a namespace),
    until `expires` (epoch seconds; None: never), for `scopes` (empty: any protocol)."""

    user: str
    token: str
    expires: float | None = None
    scopes: tuple[str, ...] = field(default=())

    def grants(self, protocol: str) -> bool:
        granting = PROTOCOL_SCOPES.get(protocol, frozenset())
        return not self.scopes or any(scope in granting for scope in self.scopes)


def parse_expiry(value: object) -> float | None:
    """Epoch seconds (a number or digits) or an ISO 8601 time (UTC when it names no zone)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("expiry: expected ISO 8601 or epoch seconds")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return float(text)
        try:
            when = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"expiry {text[:40]!r}: expected ISO 8601 or epoch seconds") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.timestamp()
    raise ValueError("expiry: expected ISO 8601 or epoch seconds")


def parse_scopes(value: object) -> tuple[str, ...]:
    """A space-separated string or a list of strings (OAuth's two spellings)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return tuple(s for item in value for s in item.split())
    raise ValueError("scope: expected a string or a list of strings")


def grant_from_json(entry: object) -> Grant:
    if not isinstance(entry, dict):
        raise ValueError("expected an object with user and token")
    unknown = sorted(set(entry) - {"user", "token", "expiry", "expires", "scope"})
    if unknown:
        raise ValueError(f"unknown field {unknown[0][:40]!r}")
    user, token = entry.get("user"), entry.get("token")
    if not isinstance(user, str) or not user:
        raise ValueError("user: expected a non-empty string")
    if not isinstance(token, str) or not token.strip() or any(c in token for c in "\x01\r\n"):
        raise ValueError("token: expected a non-empty string without control characters")
    expiry = entry.get("expiry", entry.get("expires"))
    return Grant(user, token.strip(), parse_expiry(expiry), parse_scopes(entry.get("scope")))


def parse_tokens(text: str) -> tuple[Grant, ...]:
    """ELEKTROMAIL_OAUTH_TOKENS: a JSON list of {user, token, expiry?, scope?}, inline or in
    the file named (a value that does not start with `[`)."""
    text = text.strip()
    if not text:
        return ()
    if not text.startswith("["):
        if not os.path.isfile(text):
            raise ValueError("expected a JSON list or the path of a file holding one")
        with open(text, encoding="utf-8") as f:
            text = f.read()
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"not JSON: {e.msg} at {e.pos}") from None
    if not isinstance(entries, list):
        raise ValueError("expected a JSON list")
    grants = []
    for i, entry in enumerate(entries):
        try:
            grants.append(grant_from_json(entry))
        except ValueError as e:
            raise ValueError(f"entry {i}: {e}") from None
    return tuple(grants)


class TokenMap:
    """The tokens in force: the configured ones, plus those minted since (the HTTP API, the
    Python API); `reset` returns to the configured ones."""

    def __init__(self, configured: Iterable[Grant] = ()) -> None:
        self.configured = tuple(configured)
        self._by_token: dict[str, Grant] = {}
        self.reset()

    def reset(self, keep: Callable[[Grant], bool] | None = None) -> None:
        """Back to the configured tokens; with `keep`, drop only the minted ones it refuses
        (a namespace's reset drops that namespace's)."""
        if keep is None:
            self._by_token = {g.token: g for g in self.configured}
        else:
            configured = set(self.configured)
            self._by_token = {t: g for t, g in self._by_token.items() if g in configured or keep(g)}

    def add(self, grant: Grant) -> None:
        self._by_token[grant.token] = grant

    def get(self, token: str) -> Grant | None:
        return self._by_token.get(token)

    def remove(self, token: str) -> Grant | None:
        return self._by_token.pop(token, None)

    def grants(self) -> list[Grant]:
        return list(self._by_token.values())
