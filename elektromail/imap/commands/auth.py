"""The not-authenticated state (RFC 9051 §6.2): STARTTLS, LOGIN, and AUTHENTICATE with the
PLAIN (RFC 4616) and LOGIN mechanisms, with or without an initial response (RFC 4959); and
UNAUTHENTICATE (RFC 8437), the way back to it."""

from __future__ import annotations

import base64
import binascii

from elektromail import oauth
from elektromail.imap import format as fmt
from elektromail.imap.args import astring, atom, expect_count
from elektromail.imap.commands.state import OAUTH_CAPABILITIES, capability_code
from elektromail.imap.dispatch import (
    AUTH,
    NOT_AUTH,
    Argument,
    Bad,
    Context,
    Done,
    No,
    advertise,
    command,
)
from elektromail.imap.format import AUTHENTICATIONFAILED, AUTHORIZATIONFAILED, CANNOT
from elektromail.tls import TLSError

# The LOGIN mechanism's customary challenges (draft-murchison-sasl-login): "Username:" and
# "Password:" in base64, as Dovecot sends them.
USERNAME_CHALLENGE = b"VXNlcm5hbWU6"
PASSWORD_CHALLENGE = b"UGFzc3dvcmQ6"


@command("STARTTLS", NOT_AUTH)
async def starttls(ctx: Context, args: list[Argument]) -> Done:
    """The protocol switches to TLS after writing the OK, and drops plaintext that came after
    the command; the client asks for CAPABILITY again (RFC 9051 §6.2.1)."""
    if args:
        raise Bad("STARTTLS takes no arguments")
    if ctx.session.tls:
        raise Bad("TLS is already active")
    try:
        ctx.services.tls.options()
    except TLSError as e:
        raise No(f"TLS is not available: {e}", fmt.UNAVAILABLE) from None
    ctx.start_tls()
    return Done("Begin TLS negotiation now")


# RFC 8437 §3: "Servers MAY choose to advertise the UNAUTHENTICATE capability only after
# authentication has completed" (it means nothing before).
advertise("UNAUTHENTICATE", states=AUTH)


@command("UNAUTHENTICATE", AUTH)
async def unauthenticate(ctx: Context, args: list[Argument]) -> Done:
    """RFC 8437 §3: "reset all connection state except for the state of the TLS layer"; "A NO
    response is not permitted"."""
    if args:
        raise Bad("UNAUTHENTICATE takes no arguments")
    ctx.session.unauthenticate()
    return Done("Now not authenticated")


@command("LOGIN", NOT_AUTH)
async def login(ctx: Context, args: list[Argument]) -> Done:
    expect_count(args, 2, "LOGIN user password")
    return await _log_in(ctx, astring(args[0], "user name"), astring(args[1], "password"))


advertise(*OAUTH_CAPABILITIES, states=NOT_AUTH)  # with --oauth only: see state.capabilities


@command("AUTHENTICATE", NOT_AUTH)
async def authenticate(ctx: Context, args: list[Argument]) -> Done:
    if len(args) not in (1, 2):
        raise Bad("expected AUTHENTICATE mechanism [initial-response]")
    mechanism = atom(args[0], "mechanism").upper()
    initial = _initial_response(args[1]) if len(args) == 2 else None
    if mechanism in oauth.MECHANISMS and ctx.session.oauth:
        return await _oauth(ctx, mechanism, initial)
    if mechanism == "PLAIN":
        response = initial if initial is not None else await _challenge(ctx, b"")
        credentials = _plain_credentials(response)
    elif mechanism == "LOGIN":
        name = initial if initial is not None else await _challenge(ctx, USERNAME_CHALLENGE)
        password = await _challenge(ctx, PASSWORD_CHALLENGE)
        credentials = (_text(name), _text(password))
    else:
        raise No(f"Unsupported authentication mechanism {mechanism}", CANNOT)
    if credentials is None:
        raise No("Authentication failed", AUTHENTICATIONFAILED)
    return await _log_in(ctx, *credentials)


async def _oauth(ctx: Context, mechanism: str, initial: bytes | None) -> Done:
    """XOAUTH2 / OAUTHBEARER: an empty challenge unless SASL-IR gave the response; a refused
    token gets the JSON error challenge, and the answer to it (RFC 7628 §3.2.3's dummy) the
    NO."""
    exchange = oauth.Exchange(mechanism, ctx.services.postoffice.verify_bearer, "imap")
    response = initial if initial is not None else await _challenge(ctx, b"")
    while True:
        outcome = await exchange.respond(response)
        if isinstance(outcome, oauth.Success):
            ctx.session.login(outcome.user)
            return Done("Logged in", capability_code(ctx.session))
        if isinstance(outcome, oauth.Failure):
            raise No("Authentication failed", AUTHENTICATIONFAILED)
        response = await _challenge(ctx, base64.b64encode(outcome.data))


async def _log_in(ctx: Context, name: str, password: str) -> Done:
    # Checked here because with auth disabled any name becomes a user.
    if not _possible_user_name(name):
        raise No("Authentication failed", AUTHENTICATIONFAILED)
    # A password that is not UTF-8 is kept comparable (configured passwords are text).
    password = password.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    user = await ctx.services.postoffice.authenticate(name, password)
    if user is None:
        raise No("Authentication failed", AUTHENTICATIONFAILED)
    ctx.session.login(user)
    return Done("Logged in", capability_code(ctx.session))


def _possible_user_name(name: str) -> bool:
    """Not empty, valid UTF-8 (no escaped bytes), no control characters."""
    return bool(name) and not any(c < " " or c == "\x7f" or "\udc80" <= c <= "\udcff" for c in name)


def _initial_response(token: object) -> bytes:
    """RFC 4959: the initial response in base64, `=` for an empty one."""
    text = atom(token, "initial response")
    return b"" if text == "=" else _decode(text.encode())


async def _challenge(ctx: Context, challenge: bytes) -> bytes:
    """Send `+ challenge` and read the client's decoded answer; `*` cancels (RFC 9051 §6.2.2)."""
    ctx.continuation(challenge.decode("ascii"))
    line = await ctx.read_line()
    if line.strip() == b"*":
        raise Bad("Authentication cancelled")
    return _decode(line)


def _decode(data: bytes) -> bytes:
    try:
        return binascii.a2b_base64(data, strict_mode=True)
    except binascii.Error:
        raise Bad("Invalid base64 data") from None


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _plain_credentials(response: bytes) -> tuple[str, str] | None:
    """RFC 4616: [authzid] NUL authcid NUL passwd; None when malformed, which fails the login
    (NO [AUTHENTICATIONFAILED], as Dovecot answers)."""
    pieces = response.split(b"\0")
    if len(pieces) != 3 or not pieces[1]:
        return None
    authzid, authcid, password = (_text(p) for p in pieces)
    if authzid and authzid != authcid:
        raise No("Cannot act as another user", AUTHORIZATIONFAILED)
    return authcid, password
