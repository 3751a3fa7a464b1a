"""Commands valid in any state (RFC 9051 §6.1) and ENABLE (RFC 5161)."""

from __future__ import annotations

from elektromail.imap.args import atom
from elektromail.imap.dispatch import ANY, AUTH, NOT_AUTH, TABLE, Bad, Done, advertise, command
from elektromail.imap.session import Session

# Both dialects: most clients in the wild are IMAP4rev1 clients (RFC 9051 Appendix E).
advertise("IMAP4rev1", "IMAP4rev2", "LITERAL+", "ENABLE")
# LOGINDISABLED is never advertised: plain-text login is the point of a development server.
advertise("AUTH=PLAIN", "SASL-IR", states=NOT_AUTH)


def capabilities(session: Session) -> list[str]:
    """What this session may use now (RFC 9051 §6.1.1)."""
    return TABLE.capabilities(session.state)


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
