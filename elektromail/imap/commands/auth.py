"""Logging in (RFC 9051 §6.2): LOGIN and AUTHENTICATE PLAIN, with or without SASL-IR."""

from __future__ import annotations

import binascii

from elektromail.imap.args import astring, atom, expect_count
from elektromail.imap.commands.state import capability_code
from elektromail.imap.dispatch import NOT_AUTH, Bad, Done, No, command

AUTHENTICATIONFAILED = "AUTHENTICATIONFAILED"


async def _log_in(ctx, name: str, password: str) -> Done:
    user = await ctx.services.postoffice.authenticate(name, password)
    if user is None:
        raise No("Authentication failed", AUTHENTICATIONFAILED)
    ctx.session.login(user)
    return Done("Logged in", capability_code(ctx.session))


@command("LOGIN", NOT_AUTH)
async def login(ctx, args) -> Done:
    expect_count(args, 2, "LOGIN user password")
    return await _log_in(ctx, astring(args[0], "user name"), astring(args[1], "password"))


@command("AUTHENTICATE", NOT_AUTH)
async def authenticate(ctx, args) -> Done:
    if len(args) not in (1, 2):
        raise Bad("expected AUTHENTICATE mechanism [initial-response]")
    mechanism = atom(args[0], "mechanism").upper()
    if mechanism != "PLAIN":
        raise No(f"unsupported mechanism {mechanism}", "CANNOT")
    if len(args) == 2:
        response = atom(args[1], "initial response").encode()
    else:
        ctx.continuation("")
        response = await ctx.read_line()
    name, password = _decode_plain(response)
    return await _log_in(ctx, name, password)


def _decode_plain(response: bytes) -> tuple[str, str]:
    """RFC 4616: [authzid] NUL authcid NUL passwd, base64-encoded; `=` is an empty response
    (RFC 4959) and `*` cancels (RFC 9051 §6.2.2)."""
    if response.strip() == b"*":
        raise Bad("authentication cancelled")
    if response == b"=":
        response = b""
    try:
        decoded = binascii.a2b_base64(response, strict_mode=True)
    except binascii.Error:
        raise Bad("invalid base64 in authentication response") from None
    pieces = decoded.split(b"\0")
    if len(pieces) != 3:
        raise Bad("malformed PLAIN response")
    authzid, authcid, password = (p.decode("utf-8", "surrogateescape") for p in pieces)
    if authzid and authzid != authcid:
        raise No("cannot act as another user", "AUTHORIZATIONFAILED")
    return authcid, password
