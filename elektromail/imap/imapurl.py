"""IMAP URLs (RFC 5092) naming a message or a part of one, as CATENATE takes them (RFC 4469):
text in, an ImapUrl out, or BadUrl with the reason for the [BADURL] answer. Pure code."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from elektromail.names import canonical_mailbox

MAX_NZ_NUMBER = 4294967295  # RFC 9051 nz-number: a 32-bit unsigned integer
_NUMBER = re.compile(r"[0-9]+")
_NZ_NUMBER = re.compile(r"[1-9][0-9]*")
# RFC 5092 §11: an authorized URL carries these; we have no URLAUTH (RFC 4467)
_URLAUTH_PARTS = (";URLAUTH=", ";EXPIRE=")


class BadUrl(ValueError):
    """The URL does not name a message of this user: `str(error)` is the reason."""


@dataclass(frozen=True, slots=True)
class ImapUrl:
    """`mailbox` None: relative to the selected mailbox (a URL that begins with ";UID=").
    `section` is the text after ;SECTION= (percent-decoded), `partial` (offset, length or
    None) from ;PARTIAL= (RFC 5550 URL-PARTIAL)."""

    mailbox: str | None
    uidvalidity: int | None
    uid: int
    section: str | None = None
    partial: tuple[int, int | None] | None = None


def parse_message_url(text: str, user: str) -> ImapUrl:
    """Parse `text`, which must name a message (or part) of `user`'s mailboxes: an absolute
    `imap://user@host/...` only with this user's name, a path `/mailbox;UIDVALIDITY=n/;UID=m`
    or a reference relative to the selected mailbox (`;UID=m/;SECTION=1`)."""
    upper = text.upper()
    if any(part in upper for part in _URLAUTH_PARTS):
        raise BadUrl("URLAUTH is not supported")
    if upper.startswith("IMAP://"):
        return _parse_path(_after_server(text[len("imap://") :], user))
    if text.startswith("//"):  # a network-path reference (RFC 3986 §4.2)
        return _parse_path(_after_server(text[2:], user))
    if text.startswith("/"):
        return _parse_path(text[1:])
    if text.startswith(";"):
        return _parse_parameters(None, None, text[1:].split("/;"))
    raise BadUrl("Invalid IMAP URL")


def _after_server(rest: str, user: str) -> str:
    server, slash, path = rest.partition("/")
    userinfo, at, _host = server.rpartition("@")
    if not slash:
        raise BadUrl("Invalid IMAP URL: no message given")
    if not at:
        raise BadUrl("Invalid IMAP URL: the user must be given")
    name = unquote(userinfo.partition(";")[0], errors="strict")
    if name != user:
        raise BadUrl("Invalid IMAP URL: not this user's message")
    return path


def _parse_path(path: str) -> ImapUrl:
    """enc-mailbox [";UIDVALIDITY=" n] "/;UID=" n ["/;SECTION=" s] ["/;PARTIAL=" p]."""
    encoded, semicolon, rest = path.partition(";")
    if not semicolon:
        raise BadUrl("Invalid IMAP URL: no UID given")
    params = rest.split("/;")
    uidvalidity = None
    if encoded in ("", "/"):
        raise BadUrl("Invalid IMAP URL: no mailbox given")
    if encoded.endswith("/"):
        encoded = encoded[:-1]
    else:
        key, value = _key_value(params.pop(0))
        if key != "UIDVALIDITY":
            raise BadUrl("Invalid IMAP URL: expected /;UID=")
        uidvalidity = _nz_number(value, "UIDVALIDITY")
    try:
        mailbox = canonical_mailbox(unquote(encoded, errors="strict"))
    except UnicodeDecodeError:
        raise BadUrl("Invalid IMAP URL: mailbox name is not UTF-8") from None
    return _parse_parameters(mailbox, uidvalidity, params)


def _parse_parameters(mailbox: str | None, uidvalidity: int | None, params: list[str]) -> ImapUrl:
    if not params:
        raise BadUrl("Invalid IMAP URL: no UID given")
    key, value = _key_value(params.pop(0))
    if key != "UID":
        raise BadUrl("Invalid IMAP URL: expected ;UID=")
    uid = _nz_number(value, "UID")
    section = partial = None
    if params and params[0].upper().startswith("SECTION="):
        try:
            section = unquote(_key_value(params.pop(0))[1], errors="strict")
        except UnicodeDecodeError:
            raise BadUrl("Invalid IMAP URL: invalid section") from None
    if params and params[0].upper().startswith("PARTIAL="):
        partial = _partial(_key_value(params.pop(0))[1])
    if params:
        raise BadUrl(f"Invalid IMAP URL: unexpected ;{params[0]}")
    return ImapUrl(mailbox, uidvalidity, uid, section, partial)


def _key_value(param: str) -> tuple[str, str]:
    key, equals, value = param.partition("=")
    if not equals or not value:
        raise BadUrl("Invalid IMAP URL")
    return key.upper(), value


def _nz_number(text: str, what: str) -> int:
    if _NZ_NUMBER.fullmatch(text) is None or len(text) > 10 or int(text) > MAX_NZ_NUMBER:
        raise BadUrl(f"Invalid IMAP URL: invalid {what}")
    return int(text)


def _partial(text: str) -> tuple[int, int | None]:
    """partial-range = number ["." nz-number] (RFC 5092 §9)."""
    offset, dot, length = text.partition(".")
    if _NUMBER.fullmatch(offset) is None or len(offset) > 10 or int(offset) > MAX_NZ_NUMBER:
        raise BadUrl("Invalid IMAP URL: invalid PARTIAL")
    return int(offset), (_nz_number(length, "PARTIAL") if dot else None)


def url_for_response(text: str) -> str:
    """The URL as `[BADURL url]` carries it: url-resp-text is TEXT-CHAR but "]" (RFC 4469
    §5), so "]", controls and 8-bit characters are percent-encoded."""
    return "".join(
        ch if " " <= ch <= "~" and ch != "]" else "".join(f"%{b:02X}" for b in ch.encode())
        for ch in text
    )
