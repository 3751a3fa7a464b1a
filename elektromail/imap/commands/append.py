"""APPEND (RFC 9051 §6.3.12): store the message a client sends, answered OK with APPENDUID
(RFC 4315) only once it is stored; `UTF8 (~{N}...)` (RFC 6855 §4) after ENABLE UTF8=ACCEPT;
several messages in one command, all or none (MULTIAPPEND, RFC 3502); a message put together
from literals and URLs (CATENATE, RFC 4469, in catenate.py). 8-bit header bytes are accepted
in any session unless the strict-utf8-append setting asks for RFC 6855's refusal.

The message is stored exactly as sent, bare LFs included (bytes are sacred); Dovecot instead
normalises line ends, so a message appended with LF comes back from it with CRLF. One exception,
Dovecot's too: in a literal8 (`~{N}`), parts labelled "Content-Transfer-Encoding: binary" are
stored as base64 (RFC 3516 §4.4), since only BINARY[...] may send their NULs. A message over
max_message_size is refused by the protocol before the client sends it (`{N}`), or read and
dropped (`{N+}`); so is a command whose literals together pass append_total_limit().
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from elektromail import mime
from elektromail.dates import parse_date_time
from elektromail.imap import format as fmt
from elektromail.imap.args import mailbox_name, no_such_mailbox, storable_flags
from elektromail.imap.commands import state  # noqa: F401  (its base capabilities lead the list)
from elektromail.imap.commands.catenate import CatPart, compose, parse_catenate
from elektromail.imap.dispatch import AUTH, Argument, Bad, Context, Done, No, advertise, command
from elektromail.imap.seqset import format_sequence_set
from elektromail.imap.session import Dialect
from elektromail.imap.tokens import Atom, Literal8String, LiteralString, String
from elektromail.store import NoSuchMailbox

# URL-PARTIAL (RFC 5550 §5): CATENATE's URLs take ;PARTIAL= (imapurl.py), as Dovecot's do
advertise("MULTIAPPEND", "CATENATE", "URL-PARTIAL")

USAGE = "expected APPEND mailbox [(flags)] [date-time] literal"
# The literals of one command together (MULTIAPPEND) may hold this many messages of the
# largest size: the whole command is held in memory until it is stored.
MESSAGES_PER_COMMAND = 4


def append_total_limit(max_message_size: int) -> int:
    """The bytes one command may carry, its literals included (the reader's max_command)."""
    return MESSAGES_PER_COMMAND * max_message_size


@dataclass(frozen=True)
class AppendRequest:
    flags: tuple[str, ...]
    internal_date: int | None  # epoch seconds; None: now
    tz_minutes: int
    message: bytes  # empty for a CATENATE until compose() has put it together
    binary: bool = False  # sent as a literal8, ~{N} (RFC 3516 §4.4; RFC 6855 §4's UTF8 (~{N}))
    parts: tuple[CatPart, ...] | None = None  # CATENATE (RFC 4469)


@command("APPEND", AUTH)
async def append(ctx: Context, args: list[Argument]) -> Done:
    if len(args) < 2:
        raise Bad(USAGE)
    session = ctx.session
    if isinstance(args[0], Literal8String):
        # RFC 3516 §7 allows a literal8 only as the message; a mailbox is an astring (RFC 9051
        # §9), which has none. Dovecot: "literal8 not allowed here".
        raise Bad("literal8 is allowed only for the message")
    name = mailbox_name(args[0], session.dialect)
    requests = parse_appends(args[1:], session.dialect)
    limit = ctx.services.settings.max_message_size
    for request in requests:
        if request.parts is None:
            _check_message(ctx, request, limit)
    if any(request.parts is not None for request in requests):
        requests = await _composed(ctx, name, requests, limit)
    try:
        if len(requests) == 1:  # the one store interaction of a plain APPEND
            uidvalidity, uid = await ctx.services.postoffice.append(
                session.user, name, *_stored_form(requests[0])
            )
            uids = [uid]
        else:
            uidvalidity, uids = await ctx.services.postoffice.append_all(
                session.user, name, [_stored_form(request) for request in requests]
            )
    except NoSuchMailbox:
        raise no_such_mailbox(name, "Mailbox does not exist", fmt.TRYCREATE) from None
    # RFC 3502 §6.3.11 with RFC 4315 §3: "APPENDUID" SP nz-number SP append-uid, a uid-set for
    # a MULTIAPPEND
    appended = f"{uidvalidity} {format_sequence_set(uids, sort=False)}"
    return Done("APPEND completed", fmt.format_response_code(fmt.APPENDUID, appended))


def _check_message(ctx: Context, request: AppendRequest, limit: int) -> None:
    if len(request.message) > limit:
        raise No(f"Message too big (limit {limit} bytes)", fmt.TOOBIG)
    if not request.message:
        raise No("Can't save a zero byte message")  # Dovecot's answer; the RFC is silent
    if ctx.services.settings.strict_utf8_append and _refused_8bit(ctx.session.dialect, request):
        raise No("8-bit header fields need ENABLE UTF8=ACCEPT or IMAP4rev2")


async def _composed(
    ctx: Context, name: str, requests: list[AppendRequest], limit: int
) -> list[AppendRequest]:
    """The requests with each CATENATE put together. The mailbox is looked up first: a missing
    one is NO [TRYCREATE] whatever its URLs say, as Dovecot answers."""
    if await ctx.services.postoffice.find_mailbox(ctx.session.user, name) is None:
        raise no_such_mailbox(name, "Mailbox does not exist", fmt.TRYCREATE)
    done = []
    for request in requests:
        if request.parts is not None:
            message = await compose(ctx, request.parts, limit)
            binary = any(part.binary for part in request.parts)
            request = AppendRequest(
                request.flags, request.internal_date, request.tz_minutes, message, binary
            )
            _check_message(ctx, request, limit)
        done.append(request)
    return done


def _stored_form(request: AppendRequest) -> tuple[bytes, tuple[str, ...], int | None, int]:
    """(raw, flags, internal date, zone) as the post office stores them."""
    message = request.message
    if request.binary:
        # RFC 3516 §4.4: "The server MAY modify the CTE of the appended data". Dovecot stores
        # binary parts of a literal8 as base64, so no NUL is kept where a plain literal must
        # carry it; the limit above counts what the client sent.
        message = mime.encode_binary_parts(message)
    return message, request.flags, request.internal_date, request.tz_minutes


def _refused_8bit(dialect: Dialect, request: AppendRequest) -> bool:
    """RFC 6855 §4: a server that offers UTF8=ACCEPT "MUST reject, with a "NO" response, an
    "APPEND" command that includes any 8-bit character in message header fields" unless the
    client enabled it; IMAP4rev2 permits them (RFC 9051 §6.3.12). Only with the
    strict-utf8-append setting: by default such a message is stored as sent, as Dovecot
    stores it, because rev1 clients (mbsync, offlineimap) upload mail with raw 8-bit headers,
    which our own SMTP accepts, and treat the NO as a failed sync."""
    return not (dialect.rev2 or dialect.utf8) and _has_8bit_header(request.message)


def _has_8bit_header(message: bytes) -> bool:
    end = message.find(b"\r\n\r\n")
    if end < 0:
        end = message.find(b"\n\n")
    header = message if end < 0 else message[:end]
    return not header.isascii()


def parse_appends(tokens: list, dialect: Dialect) -> list[AppendRequest]:
    """The arguments after the mailbox name: one or more (RFC 3502 §6.3.11) of
    [(flags)] [date-time] message, where a message is a literal, UTF8 (literal8) or
    CATENATE (parts)."""
    tokens = list(tokens)
    requests = [_parse_one(tokens, dialect, first=True)]
    while tokens:
        requests.append(_parse_one(tokens, dialect, first=False))
    return requests


def _parse_one(tokens: list, dialect: Dialect, *, first: bool) -> AppendRequest:
    """One append-data from the front of `tokens`, taking what it uses."""
    if not first and not _starts_message(tokens[0]):
        raise Bad("unexpected arguments after the message")
    flags: tuple[str, ...] = ()
    if tokens and isinstance(tokens[0], list):
        flags = append_flags(tokens.pop(0))
    internal_date, tz_minutes = None, 0
    if tokens and isinstance(tokens[0], String) and not tokens[0].literal:
        try:
            internal_date, tz_minutes = parse_date_time(tokens.pop(0))
        except ValueError as e:
            raise Bad(f"Invalid date-time: {e}") from None
    if tokens and isinstance(tokens[0], Atom) and tokens[0].upper() == "CATENATE":
        if len(tokens) < 2:
            raise Bad("CATENATE needs a parenthesized list")
        tokens.pop(0)
        parts = parse_catenate(tokens.pop(0))
        return AppendRequest(flags, internal_date, tz_minutes, b"", parts=parts)
    data = _take_message(tokens, dialect, first=first)
    return AppendRequest(flags, internal_date, tz_minutes, bytes(data), _is_literal8(data))


def _starts_message(token: object) -> bool:
    if isinstance(token, (list, String)):
        return True
    return isinstance(token, Atom) and token.upper() in ("UTF8", "CATENATE")


def _is_literal8(token: object) -> bool:
    if isinstance(token, list):  # UTF8 (~{N}...)
        return len(token) == 1 and _is_literal8(token[0])
    return isinstance(token, Literal8String)


def append_flags(tokens: list) -> tuple[str, ...]:
    """Flags as STORE takes them: system flags but \\Recent (RFC 9051 §2.3.2), any keyword."""
    return storable_flags(_atoms(tokens))


def _atoms(tokens: list) -> Iterator[str]:
    for token in tokens:
        if not isinstance(token, Atom):
            raise Bad("flags must be atoms")
        yield token


def _take_message(tokens: list, dialect: Dialect, *, first: bool) -> object:
    """The message literal (a token) from the front of `tokens`."""
    if tokens and isinstance(tokens[0], LiteralString):
        return tokens.pop(0)  # {N}, {N+}, or a literal8 ~{N} (RFC 9051 append-data)
    if tokens and isinstance(tokens[0], Atom) and tokens[0].upper() == "UTF8":
        tokens.pop(0)
        return _utf8_message(tokens, dialect)[0]
    if tokens and isinstance(tokens[0], String):
        raise Bad("the message must be sent as a literal")
    if not first:
        raise Bad("a message literal is missing after its flags or date-time")
    raise Bad(USAGE)


def _utf8_message(tokens: list, dialect: Dialect) -> list:
    """RFC 6855 §4: utf8-literal = "UTF8" SP "(" literal8 ")"."""
    if not dialect.utf8:
        raise Bad("APPEND UTF8 needs ENABLE UTF8=ACCEPT")
    if (
        tokens
        and isinstance(tokens[0], list)
        and len(tokens[0]) == 1
        and isinstance(tokens[0][0], Literal8String)
    ):
        return tokens.pop(0)
    raise Bad("expected APPEND mailbox [(flags)] [date-time] UTF8 (~{size}message)")
