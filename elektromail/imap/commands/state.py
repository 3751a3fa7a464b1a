"""Commands valid in any state (RFC 9051 §6.1: CAPABILITY, NOOP, LOGOUT; RFC 2971: ID) and
ENABLE (RFC 5161), with the capability list they announce."""

from __future__ import annotations

from importlib import metadata

from twisted.logger import Logger

from elektromail.imap import format as fmt
from elektromail.imap.args import atom
from elektromail.imap.commands.condstore import start_condstore
from elektromail.imap.dispatch import (
    ANY,
    AUTH,
    NOT_AUTH,
    TABLE,
    Argument,
    Bad,
    Context,
    Done,
    advertise,
    command,
)
from elektromail.imap.session import Session
from elektromail.imap.tokens import Atom, String, quote_text

log = Logger()

# Both dialects: most clients in the wild are IMAP4rev1 clients (RFC 9051 Appendix E).
# LITERAL+ and never LITERAL-: RFC 7888 §5 forbids announcing both.
advertise("IMAP4rev1", "IMAP4rev2", "LITERAL+", "ENABLE", "ID", "UTF8=ACCEPT")
# LOGINDISABLED is never advertised: plain-text login is the point of a development server.
advertise("AUTH=PLAIN", "AUTH=LOGIN", "SASL-IR", states=NOT_AUTH)
# STARTTLS only before login (RFC 9051 §6.2.1) and only while the connection is in the clear.
advertise("STARTTLS", states=NOT_AUTH)
NEEDS_PLAINTEXT = frozenset({"STARTTLS"})
# Advertised (by auth.py) only on a server started with --oauth accept or tokens.
OAUTH_CAPABILITIES = ("AUTH=XOAUTH2", "AUTH=OAUTHBEARER")


def capabilities(session: Session) -> list[str]:
    """What this session may use now (RFC 9051 §6.1.1)."""
    names = TABLE.capabilities(session.state)
    if session.tls:
        names = [name for name in names if name not in NEEDS_PLAINTEXT]
    if not session.oauth:
        names = [name for name in names if name not in OAUTH_CAPABILITIES]
    return names


def capability_code(session: Session) -> bytes:
    """`[CAPABILITY ...]` for the greeting and a login's OK (RFC 9051 §7.1)."""
    return fmt.format_response_code(fmt.CAPABILITY, " ".join(capabilities(session)))


@command("CAPABILITY", ANY)
async def capability(ctx: Context, args: list[Argument]) -> None:
    if args:
        raise Bad("CAPABILITY takes no arguments")
    ctx.write(fmt.untagged("CAPABILITY " + " ".join(capabilities(ctx.session))))


@command("NOOP", ANY)
async def noop(ctx: Context, args: list[Argument]) -> None:
    if args:
        raise Bad("NOOP takes no arguments")


@command("LOGOUT", ANY)
async def logout(ctx: Context, args: list[Argument]) -> None:
    if args:
        raise Bad("LOGOUT takes no arguments")
    ctx.session.logout()
    ctx.write(fmt.untagged_status(fmt.BYE, "elektromail logging out"))


# --- ID (RFC 2971) ----------------------------------------------------------------------------

MAX_ID_PAIRS = 30
MAX_ID_FIELD = 30
MAX_ID_VALUE = 1024


def _version() -> str:
    try:
        return metadata.version("elektromail")
    except metadata.PackageNotFoundError:
        return "unknown"


SERVER_ID = (("name", "elektromail"), ("version", _version()))


@command("ID", ANY)
async def id_(ctx: Context, args: list[Argument]) -> None:
    if len(args) != 1:
        raise Bad("expected ID (field value ...) or ID NIL")
    fields = parse_id(args[0])
    if fields:
        log.debug("IMAP client ID {fields}", fields=fields)
    ctx.write(fmt.untagged(b"ID " + format_id(SERVER_ID)))


def parse_id(token: object) -> dict[str, str | None]:
    """The client's field/value pairs (RFC 2971 §3.1, §3.3, §4); Bad when malformed."""
    if isinstance(token, Atom) and token.upper() == "NIL":
        return {}
    if not isinstance(token, list):
        raise Bad("ID needs a parenthesized list or NIL")
    if len(token) % 2:
        raise Bad("ID list must hold field/value pairs")
    if len(token) > 2 * MAX_ID_PAIRS:
        raise Bad(f"ID list holds more than {MAX_ID_PAIRS} pairs")
    fields: dict[str, str | None] = {}
    for field, value in zip(token[::2], token[1::2], strict=True):
        if not isinstance(field, String) or len(field) > MAX_ID_FIELD:
            raise Bad(f"ID field names are strings of at most {MAX_ID_FIELD} octets")
        name = field.decode("utf-8", "replace").lower()
        if name in fields:
            raise Bad(f"ID field {quote_text(name)} given twice")
        if isinstance(value, Atom) and value.upper() == "NIL":
            fields[name] = None
        elif isinstance(value, String) and len(value) <= MAX_ID_VALUE:
            fields[name] = value.decode("utf-8", "replace")
        else:
            raise Bad(f"ID values are NIL or strings of at most {MAX_ID_VALUE} octets")
    return fields


def format_id(pairs: tuple[tuple[str, str], ...]) -> bytes:
    return fmt.format_list(fmt.string(f) + b" " + fmt.string(v) for f, v in pairs)


# --- ENABLE (RFC 5161, RFC 9051 §6.3.1) --------------------------------------------------------

ENABLEABLE = {
    "IMAP4REV2": "IMAP4rev2",
    "UTF8=ACCEPT": "UTF8=ACCEPT",
    "CONDSTORE": "CONDSTORE",
    "QRESYNC": "QRESYNC",
}


@command("ENABLE", AUTH)
async def enable(ctx: Context, args: list[Argument]) -> Done:
    """RFC 5161 §3.1: unknown capabilities are ignored; `* ENABLED` lists what this command
    newly enabled. Only valid after login (RFC 5161 §3.1; Dovecot also answers OK before)."""
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
        elif name == "CONDSTORE" and not dialect.condstore:
            await start_condstore(ctx)
            enabled.append(ENABLEABLE[name])
        elif name == "QRESYNC" and not dialect.qresync:
            # RFC 7162 §3.2.3: "A server MUST respond with an untagged ENABLED response
            # [listing QRESYNC]"; enabling it enables CONDSTORE as well
            dialect.qresync = True
            await start_condstore(ctx)
            enabled.append(ENABLEABLE[name])
    ctx.write(fmt.untagged("ENABLED" + "".join(" " + name for name in enabled)))
    return Done("ENABLE completed")
