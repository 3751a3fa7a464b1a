"""Commands valid in any state (RFC 9051 §6.1) and ENABLE (RFC 5161)."""

from __future__ import annotations

from elektromail.imap.args import atom
from elektromail.imap.dispatch import ANY, AUTH, Bad, Done, command
from elektromail.imap.session import Session, State


def capabilities(session: Session) -> list[str]:
    """What this session may use now (RFC 9051 §6.1.1); LOGINDISABLED is never advertised:
    plain-text login is the point of a development server."""
    caps = ["IMAP4rev1", "IMAP4rev2", "LITERAL+", "ENABLE"]
    if session.state is State.NOT_AUTHENTICATED:
        caps += ["AUTH=PLAIN", "SASL-IR"]
    return caps


def capability_code(session: Session) -> str:
    return "CAPABILITY " + " ".join(capabilities(session))


@command("CAPABILITY", ANY)
async def capability(ctx, args) -> None:
    if args:
        raise Bad("CAPABILITY takes no arguments")
    ctx.write(b"* CAPABILITY " + " ".join(capabilities(ctx.session)).encode() + b"\r\n")


@command("NOOP", ANY)
async def noop(ctx, args) -> None:
    if args:
        raise Bad("NOOP takes no arguments")


@command("LOGOUT", ANY)
async def logout(ctx, args) -> None:
    if args:
        raise Bad("LOGOUT takes no arguments")
    ctx.session.logout()
    ctx.write(b"* BYE elektromail logging out\r\n")


ENABLEABLE = {"IMAP4REV2": "IMAP4rev2", "UTF8=ACCEPT": "UTF8=ACCEPT"}


@command("ENABLE", AUTH)
async def enable(ctx, args) -> None:
    """RFC 5161 §3.1: unknown capabilities are ignored; `* ENABLED` lists what this command
    newly enabled."""
    if not args:
        raise Bad("ENABLE needs at least one capability")
    dialect = ctx.session.dialect
    enabled = []
    for token in args:
        name = atom(token, "capability").upper()
        if name == "IMAP4REV2" and not dialect.rev2:
            dialect.rev2 = True
            enabled.append(ENABLEABLE[name])
        elif name == "UTF8=ACCEPT" and not dialect.utf8:
            dialect.utf8 = True
            enabled.append(ENABLEABLE[name])
    ctx.write(b"* ENABLED" + b"".join(b" " + n.encode() for n in enabled) + b"\r\n")
    return Done()
