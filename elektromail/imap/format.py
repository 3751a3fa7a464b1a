"""IMAP response writers: strings, literals, ENVELOPE, BODYSTRUCTURE, dates and status lines.

Every function returns bytes and none touches a socket. Response codes live here as constants.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from elektromail.caches import emptied_on_release
from elektromail.dates import format_date_time
from elektromail.mime import Address, BodyPart, Envelope, ParsedMessage

# -- statuses and response codes (RFC 9051 §7.1, RFC 5530 and extensions) -------------------

OK = "OK"
NO = "NO"
BAD = "BAD"
BYE = "BYE"
PREAUTH = "PREAUTH"

ALERT = "ALERT"
ALREADYEXISTS = "ALREADYEXISTS"
APPENDUID = "APPENDUID"
AUTHENTICATIONFAILED = "AUTHENTICATIONFAILED"
AUTHORIZATIONFAILED = "AUTHORIZATIONFAILED"
BADCHARSET = "BADCHARSET"
CANNOT = "CANNOT"
CAPABILITY = "CAPABILITY"
CLIENTBUG = "CLIENTBUG"
CLOSED = "CLOSED"
CONTACTADMIN = "CONTACTADMIN"
COPYUID = "COPYUID"
CORRUPTION = "CORRUPTION"
EXPIRED = "EXPIRED"
EXPUNGEISSUED = "EXPUNGEISSUED"
HASCHILDREN = "HASCHILDREN"
INUSE = "INUSE"
LIMIT = "LIMIT"
NONEXISTENT = "NONEXISTENT"
NOPERM = "NOPERM"
NOTSAVED = "NOTSAVED"
OVERQUOTA = "OVERQUOTA"
PARSE = "PARSE"
PERMANENTFLAGS = "PERMANENTFLAGS"
PRIVACYREQUIRED = "PRIVACYREQUIRED"
READ_ONLY = "READ-ONLY"
READ_WRITE = "READ-WRITE"
SERVERBUG = "SERVERBUG"
TRYCREATE = "TRYCREATE"
UIDNEXT = "UIDNEXT"
UIDNOTSTICKY = "UIDNOTSTICKY"
UIDVALIDITY = "UIDVALIDITY"
UNAVAILABLE = "UNAVAILABLE"
UNKNOWN_CTE = "UNKNOWN-CTE"
# Extensions: RFC 3501 (rev1 only), RFC 4469 / RFC 7888, RFC 6154, RFC 7162.
UNSEEN = "UNSEEN"
TOOBIG = "TOOBIG"
BADURL = "BADURL"
USEATTR = "USEATTR"
HIGHESTMODSEQ = "HIGHESTMODSEQ"
NOMODSEQ = "NOMODSEQ"
MODIFIED = "MODIFIED"
NOUPDATE = "NOUPDATE"  # RFC 5267 §4.3.1
MAILBOXID = "MAILBOXID"  # RFC 8474 §4.1
BADEVENT = "BADEVENT"  # RFC 5465 §3.1
NOTIFICATIONOVERFLOW = "NOTIFICATIONOVERFLOW"  # RFC 5465 §5.8

RESPONSE_CODES = frozenset(
    {
        ALERT, ALREADYEXISTS, APPENDUID, AUTHENTICATIONFAILED, AUTHORIZATIONFAILED,
        BADCHARSET, CANNOT, CAPABILITY, CLIENTBUG, CLOSED, CONTACTADMIN, COPYUID, CORRUPTION,
        EXPIRED, EXPUNGEISSUED, HASCHILDREN, INUSE, LIMIT, NONEXISTENT, NOPERM, NOTSAVED,
        OVERQUOTA, PARSE, PERMANENTFLAGS, PRIVACYREQUIRED, READ_ONLY, READ_WRITE, SERVERBUG,
        TRYCREATE, UIDNEXT, UIDNOTSTICKY, UIDVALIDITY, UNAVAILABLE, UNKNOWN_CTE, UNSEEN,
        TOOBIG, USEATTR, HIGHESTMODSEQ, NOMODSEQ, MODIFIED, NOUPDATE, MAILBOXID, BADURL,
        BADEVENT, NOTIFICATIONOVERFLOW,
    }
)  # fmt: skip

CRLF = b"\r\n"
NIL = b"NIL"
MAX_QUOTED = 1024  # longer strings go as literals

# ASTRING-CHAR: ATOM-CHAR or "]" (no "%", "*", "(", ")", "{", DQUOTE, "\", SP, CTL, 8-bit).
_ASTRING_ATOM = re.compile(rb'[^\x00-\x20\x7f-\xff(){%*"\\]+')
_QUOTED_7BIT = re.compile(rb"[\x01-\x09\x0b\x0c\x0e-\x7f]*")
_QUOTED_SPECIALS = re.compile(rb'(["\\])')
_TEXT_UNSAFE = re.compile(r"[\x00\r\n]")
# The common case, tested first: printable ASCII with nothing to escape goes quoted as is.
_PLAIN_TEXT = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*\Z")

# -- strings -------------------------------------------------------------------------------


def _to_bytes(value: str | bytes) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    return bytes(value)


def literal(data: str | bytes, *, binary: bool = False) -> bytes:
    """`{N}\\r\\n` + data (server literals are always synchronising); `~{N}` when binary."""
    data = _to_bytes(data)
    prefix = b"~{" if binary else b"{"
    return b"%b%d}\r\n%b" % (prefix, len(data), data)


def quoted(data: str | bytes) -> bytes:
    """DQUOTE-enclosed with DQUOTE and backslash escaped; the caller checks it may be quoted."""
    return b'"' + _QUOTED_SPECIALS.sub(rb"\\\1", _to_bytes(data)) + b'"'


def _can_quote(data: bytes, utf8_ok: bool) -> bool:
    if len(data) > MAX_QUOTED:
        return False
    if data.isascii():
        return _QUOTED_7BIT.fullmatch(data) is not None
    if not utf8_ok or b"\r" in data or b"\n" in data or b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def string(value: str | bytes, *, utf8_ok: bool = False) -> bytes:
    """A quoted string when safe (7-bit, or UTF-8 if `utf8_ok`, no CR/LF/NUL), else a literal
    with any NUL sent as 0x80."""
    if value.__class__ is str and len(value) <= MAX_QUOTED and _PLAIN_TEXT.match(value):
        return b'"' + value.encode("ascii") + b'"'
    data = _to_bytes(value)
    if _can_quote(data, utf8_ok):
        return quoted(data)
    # A literal is CHAR8, which has no NUL (RFC 9051 §9); Dovecot sends 0x80 instead. Message
    # bodies (BODY[]) are literal() as they stand: their bytes are sacred.
    return literal(data.replace(b"\x00", b"\x80"))


def nstring(value: str | bytes | None, *, utf8_ok: bool = False) -> bytes:
    """NIL for None, else string()."""
    return NIL if value is None else string(value, utf8_ok=utf8_ok)


def astring(value: str | bytes, *, utf8_ok: bool = False) -> bytes:
    """An atom when every character allows it (and it is not NIL), else string()."""
    data = _to_bytes(value)
    if _ASTRING_ATOM.fullmatch(data) and data.upper() != NIL:
        return data
    return string(data, utf8_ok=utf8_ok)


def format_list(items: Iterable[bytes]) -> bytes:
    """`(a b c)` from already formatted items."""
    return b"(" + b" ".join(items) + b")"


def format_flags(flags: Iterable[str]) -> bytes:
    r"""`(\Seen $Forwarded)`; flags are atoms and keep their order."""
    if type(flags) is tuple:  # as the store and the session view hold them
        return _format_flag_tuple(flags)
    return format_list(flag.encode("ascii") for flag in flags)


# A mailbox's messages share a few sets of flags, and every FETCH FLAGS, STORE answer and
# unsolicited FETCH formats one of them again.
@lru_cache(maxsize=1024)
def _format_flag_tuple(flags: tuple[str, ...]) -> bytes:
    return format_list(flag.encode("ascii") for flag in flags)


# -- ENVELOPE ------------------------------------------------------------------------------


def _format_address(address: Address, utf8_ok: bool) -> bytes:
    fields = (address.name, address.adl, address.mailbox, address.host)
    return format_list(nstring(field, utf8_ok=utf8_ok) for field in fields)


def _format_addresses(addresses: tuple[Address, ...] | None, utf8_ok: bool) -> bytes:
    if not addresses:
        return NIL
    if len(addresses) == 1:  # most From:, many To:
        key = (addresses[0], utf8_ok)
        found = _ADDRESS_LISTS.get(key)
        if found is None:
            found = b"(" + _format_address(addresses[0], utf8_ok) + b")"
            if len(_ADDRESS_LISTS) >= 1024:
                _ADDRESS_LISTS.clear()
            _ADDRESS_LISTS[key] = found
        return found
    return b"(" + b"".join(_format_address(a, utf8_ok) for a in addresses) + b")"


# A mailbox's messages come from and go to the same few addresses (a bulk delivery: all of
# them): each is written once, while it recurs. Bounded.
_ADDRESS_LISTS: dict[tuple[Address, bool], bytes] = {}
emptied_on_release(_ADDRESS_LISTS.clear)
emptied_on_release(_format_flag_tuple.cache_clear)


def format_envelope(env: Envelope, *, utf8_ok: bool = False) -> bytes:
    """The ENVELOPE structure (RFC 9051 §7.5.2).

    A missing or empty Sender / Reply-To defaults to From, as the RFC requires.
    """
    from_ = _format_addresses(env.from_, utf8_ok)
    # the parse gives Sender and Reply-To the From list itself when they are absent: once
    sender, reply_to = env.sender, env.reply_to
    sender = from_ if not sender or sender is env.from_ else _format_addresses(sender, utf8_ok)
    same = not reply_to or reply_to is env.from_
    reply_to = from_ if same else _format_addresses(reply_to, utf8_ok)
    fields = [
        nstring(env.date, utf8_ok=utf8_ok),
        nstring(env.subject, utf8_ok=utf8_ok),
        from_,
        sender,
        reply_to,
        *(_format_addresses(a, utf8_ok) for a in (env.to, env.cc, env.bcc)),
        nstring(env.in_reply_to, utf8_ok=utf8_ok),
        nstring(env.message_id, utf8_ok=utf8_ok),
    ]
    return format_list(fields)


# -- BODY / BODYSTRUCTURE ------------------------------------------------------------------

# Deeper parts are rendered as opaque application/octet-stream leaves, so a hostile message
# cannot exhaust the stack (Dovecot likewise stops MIME parsing at 100 levels).
MAX_BODY_DEPTH = 100
# Dovecot's stand-in for a multipart without any part (the grammar needs at least one).
_EMPTY_PART = BodyPart(type="text", subtype="plain", params=(("charset", "us-ascii"),), lines=0)


def _format_params(params: tuple[tuple[str, str], ...], utf8_ok: bool) -> bytes:
    if not params:
        return NIL
    return format_list(string(x, utf8_ok=utf8_ok) for pair in params for x in pair)


def _format_disposition(
    disposition: tuple[str, tuple[tuple[str, str], ...]] | None, utf8_ok: bool
) -> bytes:
    if disposition is None:
        return NIL
    kind, params = disposition
    return format_list([string(kind, utf8_ok=utf8_ok), _format_params(params, utf8_ok)])


def _format_language(language: tuple[str, ...] | None, utf8_ok: bool) -> bytes:
    if not language:
        return NIL
    if len(language) == 1:
        return string(language[0], utf8_ok=utf8_ok)
    return format_list(string(tag, utf8_ok=utf8_ok) for tag in language)


def _extension_tail(part: BodyPart, utf8_ok: bool) -> list[bytes]:
    return [
        _format_disposition(part.disposition, utf8_ok),
        _format_language(part.language, utf8_ok),
        nstring(part.location, utf8_ok=utf8_ok),
    ]


def _is_message(part: BodyPart) -> bool:
    return part.type.lower() == "message" and part.subtype.lower() in ("rfc822", "global")


def _format_multipart(part: BodyPart, extended: bool, utf8_ok: bool, depth: int) -> bytes:
    children = part.parts or (_EMPTY_PART,)
    body = b"".join(_format_part(child, extended, utf8_ok, depth + 1) for child in children)
    fields = [string(part.subtype, utf8_ok=utf8_ok)]
    if extended:
        fields += [_format_params(part.params, utf8_ok), *_extension_tail(part, utf8_ok)]
    return b"(" + body + b" " + b" ".join(fields) + b")"


def _format_single(part: BodyPart, extended: bool, utf8_ok: bool, depth: int) -> bytes:
    fields = [
        string(part.type, utf8_ok=utf8_ok),
        string(part.subtype, utf8_ok=utf8_ok),
        _format_params(part.params, utf8_ok),
        nstring(part.id, utf8_ok=utf8_ok),
        nstring(part.description, utf8_ok=utf8_ok),
        string((part.encoding or "7bit").upper(), utf8_ok=utf8_ok),
        b"%d" % part.size,
    ]
    if _is_message(part):
        inner = part.message or BodyPart(type="text", subtype="plain", lines=0)
        fields += [
            format_envelope(part.envelope or Envelope(), utf8_ok=utf8_ok),
            _format_part(inner, extended, utf8_ok, depth + 1),
            b"%d" % (part.lines or 0),
        ]
    elif part.type.lower() == "text":
        fields.append(b"%d" % (part.lines or 0))
    if extended:
        fields += [nstring(part.md5, utf8_ok=utf8_ok), *_extension_tail(part, utf8_ok)]
    return format_list(fields)


def _opaque(part: BodyPart) -> BodyPart:
    return BodyPart(
        type="application", subtype="octet-stream", encoding=part.encoding, size=part.size
    )


def _format_part(part: BodyPart, extended: bool, utf8_ok: bool, depth: int) -> bytes:
    is_container = part.type.lower() == "multipart" or _is_message(part)
    if is_container and depth >= MAX_BODY_DEPTH:
        part = _opaque(part)
    elif part.type.lower() == "multipart":
        return _format_multipart(part, extended, utf8_ok, depth)
    return _format_single(part, extended, utf8_ok, depth)


def format_bodystructure(part: BodyPart, extended: bool, *, utf8_ok: bool = False) -> bytes:
    """BODYSTRUCTURE (extended=True) or BODY (extended=False) per RFC 9051 §7.5.2.

    Type, subtype and parameters are sent as the BodyPart holds them (the MIME parser
    lower-cases type and subtype; IMAP compares them case-insensitively); the encoding is
    upper-cased ("7BIT", "BASE64") as most clients expect. Extended output always carries
    all four extension fields, like Dovecot.
    """
    return _format_part(part, extended, utf8_ok, 0)


# -- dates ---------------------------------------------------------------------------------


def format_internaldate(epoch_seconds: float, tz_offset_minutes: int) -> bytes:
    """`"17-Jul-1996 02:44:25 -0700"` (quoted date-time) for a moment and a UTC offset;
    elektromail.dates.parse_date_time reads it back without the quotes."""
    return b'"%s"' % format_date_time(epoch_seconds, tz_offset_minutes).encode("ascii")


# -- response lines ------------------------------------------------------------------------


def _clean_text(text: str) -> bytes:
    """resp-text must be one line of 7-bit text: client input quoted in it cannot break that."""
    found = _CLEANED.get(text)
    if found is None:
        found = (_TEXT_UNSAFE.sub(" ", text) or "Completed").encode("ascii", "replace")
        if len(text) <= 80 and len(_CLEANED) < 512:  # bounded: some quote client input
            _CLEANED[text] = found
    return found


# The texts of tagged responses, cleaned: most are the same few ("FETCH completed"), written
# once per command.
_CLEANED: dict[str, bytes] = {}


def format_response_code(name: str, data: str | bytes | None = None) -> bytes:
    """`[NAME]` or `[NAME data]`, e.g. format_response_code(APPENDUID, "38505 3955"). `name`
    must be one of the catalogue's codes (RESPONSE_CODES): a misspelt code fails here, in the
    tests, not on a client's screen."""
    if name not in RESPONSE_CODES:
        raise ValueError(f"not a response code of the catalogue: {name!r}")
    code = name.encode("ascii")
    if data is not None and data != b"" and data != "":
        code += b" " + _to_bytes(data)
    return b"[" + code + b"]"


def _resp_text(text: str, code: str | bytes | None) -> bytes:
    if code is None:
        return _clean_text(text)
    if isinstance(code, str):
        code = format_response_code(code)
    return code + b" " + _clean_text(text)


def tagged(tag: str | None, status: str, text: str, code: str | bytes | None = None) -> bytes:
    """`tag OK [code] text\\r\\n`; `code` is a name (READ_WRITE) or format_response_code().

    A None tag (a ParseError without one) gives the untagged `* BAD ...` form.
    """
    prefix = b"*" if tag is None else tag.encode("ascii")
    if code is None:  # most: "OK FETCH completed", kept whole after its first time
        rest = _STATUS_LINES.get((status, text))
        if rest is None:
            rest = b" %b %b\r\n" % (status.encode("ascii"), _clean_text(text))
            if len(text) <= 80 and len(_STATUS_LINES) < 512:  # bounded: some quote client input
                _STATUS_LINES[(status, text)] = rest
        return prefix + rest
    return b"%b %b %b\r\n" % (prefix, status.encode("ascii"), _resp_text(text, code))


# What follows the tag in a tagged response without a code, by (status, text)
_STATUS_LINES: dict[tuple[str, str], bytes] = {}


def untagged_status(status: str, text: str, code: str | bytes | None = None) -> bytes:
    """`* OK [code] text\\r\\n` (also NO, BAD, BYE, PREAUTH)."""
    return b"* %b %b\r\n" % (status.encode("ascii"), _resp_text(text, code))


def untagged(data: str | bytes) -> bytes:
    """`* data\\r\\n` for formatted data such as b"3 EXISTS" or "CAPABILITY IMAP4rev1"."""
    return b"* " + _to_bytes(data) + CRLF


def continuation(text: str | bytes = "Ready") -> bytes:
    """`+ text\\r\\n`; bytes are sent as they are (a base64 SASL challenge, maybe empty)."""
    if isinstance(text, str):
        text = _clean_text(text)
    return b"+ " + text + CRLF


_SPACED = b" ".join  # (label, value) -> b"label value", in C: FETCH writes one per data item


def format_fetch(number: int, items: Iterable[tuple[bytes, bytes]]) -> bytes:
    """`* 12 FETCH (FLAGS (\\Seen) UID 4)\\r\\n` from (label, formatted value) pairs."""
    return b"* %d FETCH (%b)\r\n" % (number, _SPACED(map(_SPACED, items)))


def render_fetch_data(parsed: ParsedMessage) -> tuple[bytes, bytes, bytes]:
    """ENVELOPE, BODYSTRUCTURE and BODY of a message, rendered once at delivery so FETCH
    only copies bytes. 8-bit text goes as literals, which every dialect accepts."""
    return (
        format_envelope(parsed.envelope),
        format_bodystructure(parsed.body, True),
        format_bodystructure(parsed.body, False),
    )
