"""CATENATE (RFC 4469): an APPEND's message put together from literals and IMAP URLs (RFC 5092)
to messages of the same user, each part's octets copied as FETCH BODY[section] gives them."""

from __future__ import annotations

from dataclasses import dataclass

from elektromail import mime
from elektromail.imap import format as fmt
from elektromail.imap.dispatch import Bad, Context, No
from elektromail.imap.fetchitems import parse_section
from elektromail.imap.imapurl import BadUrl, ImapUrl, parse_message_url, url_for_response
from elektromail.imap.sections import section_data
from elektromail.imap.tokens import Atom, Literal8String, LiteralString, String

MAX_PARTS = 1000  # a bound on the work one APPEND asks for; Dovecot has none


@dataclass(frozen=True, slots=True)
class CatPart:
    """A TEXT literal (`text`) or a URL (`url`) of a CATENATE list."""

    text: bytes | None = None
    url: str | None = None
    binary: bool = False  # TEXT sent as a literal8 (~{N})


def parse_catenate(tokens: object) -> tuple[CatPart, ...]:
    """The parenthesized list after CATENATE: cat-part *(SP cat-part) (RFC 4469 §5)."""
    if not isinstance(tokens, list):
        raise Bad("CATENATE needs a parenthesized list")
    if not tokens:
        raise Bad("Empty CATENATE list")  # Dovecot's words
    if len(tokens) > 2 * MAX_PARTS:
        raise Bad(f"Too many CATENATE parts (at most {MAX_PARTS})")
    if len(tokens) % 2:
        raise Bad("CATENATE parts are TEXT literal or URL url")
    parts = []
    for kind, value in zip(tokens[::2], tokens[1::2], strict=True):
        name = kind.upper() if isinstance(kind, Atom) else None
        if name == "TEXT" and isinstance(value, LiteralString):
            parts.append(CatPart(text=bytes(value), binary=isinstance(value, Literal8String)))
        elif name == "URL" and isinstance(value, (Atom, String)):
            parts.append(CatPart(url=str(value) if isinstance(value, Atom) else _text(value)))
        elif name == "TEXT":
            raise Bad("CATENATE TEXT needs a literal")
        elif name == "URL":
            raise Bad("CATENATE URL needs a string")
        else:
            raise Bad("CATENATE parts are TEXT literal or URL url")
    return tuple(parts)


def _text(value: String) -> str:
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        return bytes(value).decode("latin-1")


async def compose(ctx: Context, parts: tuple[CatPart, ...], limit: int) -> bytes:
    """The octets of the message, part after part: NO [BADURL url] for a URL that names no
    message (or part) of this user, NO [TOOBIG] once the message grows over `limit`."""
    pieces: list[bytes] = []
    size = 0
    for part in parts:
        data = part.text if part.url is None else await _resolve(ctx, part.url)
        size += len(data)
        if size > limit:
            raise No(f"Composed message grows too big (limit {limit} bytes)", fmt.TOOBIG)
        pieces.append(data)
    return b"".join(pieces)


async def _resolve(ctx: Context, text: str) -> bytes:
    try:
        return await _url_data(ctx, parse_message_url(text, ctx.session.user.name))
    except BadUrl as e:
        raise No(str(e), fmt.format_response_code(fmt.BADURL, url_for_response(text))) from None


async def _url_data(ctx: Context, url: ImapUrl) -> bytes:
    session = ctx.session
    postoffice = ctx.services.postoffice
    if url.mailbox is None:
        if session.view is None:
            raise BadUrl("Mailbox-relative IMAP URL, but no mailbox selected")
        mailbox_id, uidvalidity = session.view.mailbox_id, session.view.uidvalidity
    else:
        mailbox = await postoffice.find_mailbox(session.user, url.mailbox)
        if mailbox is None:
            raise BadUrl(f"Mailbox does not exist: {url.mailbox}")
        mailbox_id, uidvalidity = mailbox.id, mailbox.uidvalidity
    if url.uidvalidity is not None and url.uidvalidity != uidvalidity:
        raise BadUrl("Invalid UIDVALIDITY")
    try:
        section = parse_section(url.section or "", "SECTION")
    except ValueError as e:
        raise BadUrl(f"Invalid section: {e}") from None
    whole = section.part == () and section.text == ""
    rows = await postoffice.fetch_messages(mailbox_id, [url.uid], structure=not whole, raw=True)
    if not rows or rows[0].uid != url.uid:
        raise BadUrl("Message not found")
    row = rows[0]
    parsed = None if whole else mime.from_json(row.structure)
    data = section_data(section, row.raw, parsed)
    if data is None:  # RFC 4469 §4.1: "invalid body part"
        raise BadUrl("Message part not found")
    if url.partial is not None:
        offset, length = url.partial
        data = data[offset:] if length is None else data[offset : offset + length]
    return data
