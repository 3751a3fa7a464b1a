"""MAIL FROM and RCPT TO arguments as pure code: the path, checked as an address (RFC 5321
§4.1.2, with UTF-8 from RFC 6531), and the ESMTP parameters of SIZE (RFC 1870), BODY (RFC 1652),
SMTPUTF8 (RFC 6531), DSN (RFC 3461: RET, ENVID, NOTIFY, ORCPT) and AUTH (RFC 4954); and the
BDAT command's arguments (RFC 3030).

A refused argument raises `Refused` holding the reply to send.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from elektromail.smtp import replies
from elektromail.smtp.replies import Reply


class Refused(Exception):
    """The argument cannot be accepted; `reply` (with `values` for its placeholders) says why."""

    def __init__(self, reply: Reply, **values: str) -> None:
        super().__init__(reply.text)
        self.reply = reply
        self.values = values


@dataclass(frozen=True, slots=True)
class MailArguments:
    sender: str  # "" is the null reverse-path <>
    size: int | None = None  # SIZE=, as declared
    body: str | None = None  # "7BIT", "8BITMIME" or "BINARYMIME" (RFC 3030 §3)
    smtputf8: bool = False
    ret: str | None = None  # "FULL" or "HDRS"
    envid: str | None = None  # decoded from xtext


@dataclass(frozen=True, slots=True)
class RcptArguments:
    recipient: str
    notify: frozenset[str] | None = None  # None: not given; {"NEVER"} or SUCCESS/FAILURE/DELAY
    orcpt: str | None = None  # decoded, "rfc822;bob@example.com"

    def wants(self, event: str) -> bool:
        """Does the client want a DSN for `event` ("SUCCESS", "FAILURE")? Without NOTIFY, only
        failures are reported (RFC 3461 §4.1)."""
        return event == "FAILURE" if self.notify is None else event in self.notify


# --- addresses ---------------------------------------------------------------------------------

# UTF8-non-ascii (RFC 6532), allowed in atoms, quoted strings and labels. An alternative of its
# own rather than a range inside each class: classes reaching U+10FFFF take ~65 ms to compile.
_U = r"[^\x00-\x7f]"
_ATOM = rf"(?:[A-Za-z0-9!#$%&'*+/=?^_`{{|}}~-]|{_U})+"
_DOT_STRING = rf"{_ATOM}(?:\.{_ATOM})*"
_QUOTED = rf'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|{_U}|\\[\x20-\x7e])*"'
_LABEL_CHAR = rf"(?:[A-Za-z0-9]|{_U})"
_LABEL = rf"{_LABEL_CHAR}(?:(?:[A-Za-z0-9-]|{_U})*{_LABEL_CHAR})?"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})*"
_LITERAL = r"\[[\x21-\x5a\x5e-\x7e]+\]"
_MAILBOX = re.compile(rf"(?:{_DOT_STRING}|{_QUOTED})(?:@(?:{_DOMAIN}|{_LITERAL}))?")
_SOURCE_ROUTE = re.compile(rf"@{_DOMAIN}(?:,@{_DOMAIN})*:")
_KEYWORD = re.compile(rb"[A-Za-z0-9][A-Za-z0-9-]*")
_VALUE = re.compile(rb"[\x21-\x3c\x3e-\x7e\x80-\xff]+")  # esmtp-value, with UTF-8 (RFC 6531)
_XTEXT = re.compile(r"(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-F]{2})*")
_UNITEXT_ESCAPE = re.compile(r"\\x\{([0-9A-Fa-f]{1,6})\}")


def split_path(argument: bytes, prefix: bytes) -> tuple[bytes, bytes] | None:
    """`FROM:<a@b> SIZE=10` -> (b"<a@b>", b"SIZE=10"); None when it is not `prefix` and a path.
    A space after the colon and a path without angle brackets are tolerated."""
    if argument[: len(prefix)].upper() != prefix:
        return None
    rest = argument[len(prefix) :].lstrip(b" ")
    if not rest.startswith(b"<"):
        path, _, params = rest.partition(b" ")
        return (path, params) if path else None
    end = _closing_bracket(rest)
    if end < 0:
        return None
    path, params = rest[: end + 1], rest[end + 1 :]
    if params and not params.startswith(b" "):
        return None
    return path, params.strip(b" ")


def _closing_bracket(text: bytes) -> int:
    """The index of the `>` closing a path that starts with `<`, skipping quoted strings."""
    quoted = escaped = False
    for i in range(1, len(text)):
        c = text[i]
        if escaped:
            escaped = False
        elif quoted and c == 0x5C:
            escaped = True
        elif c == 0x22:
            quoted = not quoted
        elif c == 0x3E and not quoted:
            return i
    return -1


def mailbox(path: bytes) -> str | None:
    """The address of a path without <> and source route; "" for `<>`; None when malformed."""
    if path.startswith(b"<") and path.endswith(b">"):
        path = path[1:-1]
    try:
        text = path.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text == "":
        return ""
    route = _SOURCE_ROUTE.match(text)
    if route is not None:
        text = text[route.end() :]
    return text if _MAILBOX.fullmatch(text) else None


# --- parameters --------------------------------------------------------------------------------


def parameters(text: bytes) -> dict[str, bytes | None]:
    """`SIZE=10 SMTPUTF8` -> {"SIZE": b"10", "SMTPUTF8": None}; keywords upper-cased."""
    found: dict[str, bytes | None] = {}
    for word in text.split():
        keyword, equals, value = word.partition(b"=")
        if not _KEYWORD.fullmatch(keyword) or (equals and not _VALUE.fullmatch(value)):
            raise Refused(replies.PARAMETERS_SYNTAX)
        name = keyword.decode("ascii").upper()
        if name in found:
            raise Refused(replies.DUPLICATE_PARAMETER, parameter=name)
        found[name] = value if equals else None
    return found


def xtext(value: bytes, parameter: str) -> str:
    """Decode RFC 3461 xtext (`+2B` is `+`)."""
    text = _ascii_value(value, parameter)
    if not _XTEXT.fullmatch(text):
        raise Refused(replies.PARAMETER_SYNTAX, parameter=parameter)
    return re.sub(r"\+([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), text)


def _ascii_value(value: bytes | None, parameter: str) -> str:
    if not value or not value.isascii():
        raise Refused(replies.PARAMETER_SYNTAX, parameter=parameter)
    return value.decode("ascii")


def _no_value(value: bytes | None, parameter: str) -> None:
    if value is not None:
        raise Refused(replies.PARAMETER_SYNTAX, parameter=parameter)


# The form nearly every client sends: `FROM:<a.b@c.d>` (or `FROM:<>`), `TO:<a.b@c.d>`, ASCII and
# no parameters. A fullmatch of one of these gives what the full parser gives for it, in a
# fraction of the time; anything else goes the full way.
_ASCII_ATOM = rb"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ASCII_LABEL = rb"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_ASCII_ADDRESS = rb"%s(?:\.%s)*@%s(?:\.%s)*" % (
    _ASCII_ATOM,
    _ASCII_ATOM,
    _ASCII_LABEL,
    _ASCII_LABEL,
)
_PLAIN_MAIL = re.compile(rb"(?i:FROM):<(%s)?>" % _ASCII_ADDRESS)
_PLAIN_RCPT = re.compile(rb"(?i:TO):<(%s)>" % _ASCII_ADDRESS)


def parse_mail(argument: bytes, max_size: int) -> MailArguments:
    """The MAIL command's argument. Raises Refused."""
    plain = _PLAIN_MAIL.fullmatch(argument)
    if plain is not None:
        sender = plain.group(1)
        return MailArguments(sender.decode("ascii") if sender else "")
    return parse_mail_fully(argument, max_size)


def parse_mail_fully(argument: bytes, max_size: int) -> MailArguments:
    """`parse_mail` without its shortcut for the plain form."""
    split = split_path(argument, b"FROM:")
    if split is None:
        raise Refused(replies.MAIL_SYNTAX)
    sender = mailbox(split[0])
    if sender is None:
        raise Refused(replies.BAD_SENDER_ADDRESS)
    found = parameters(split[1])
    values: dict[str, object] = {}
    for name, value in found.items():
        if name == "SIZE":
            size = _ascii_value(value, name)
            if not size.isdigit() or len(size) > 20:
                raise Refused(replies.PARAMETER_SYNTAX, parameter=name)
            values["size"] = int(size)
        elif name == "BODY":
            body = _ascii_value(value, name).upper()
            if body not in ("7BIT", "8BITMIME", "BINARYMIME"):
                raise Refused(replies.PARAMETER_SYNTAX, parameter=name)
            values["body"] = body
        elif name == "SMTPUTF8":
            _no_value(value, name)
            values["smtputf8"] = True
        elif name == "RET":
            ret = _ascii_value(value, name).upper()
            if ret not in ("FULL", "HDRS"):
                raise Refused(replies.PARAMETER_SYNTAX, parameter=name)
            values["ret"] = ret
        elif name == "ENVID":
            envid = xtext(value or b"", name)
            if len(envid) > 100 or not envid.isprintable():
                raise Refused(replies.PARAMETER_SYNTAX, parameter=name)
            values["envid"] = envid
        elif name == "AUTH":  # RFC 4954 §5: the submitter's identity; accepted and not used
            xtext(value or b"", name)
        else:
            raise Refused(replies.UNKNOWN_PARAMETER, parameter=name)
    arguments = MailArguments(sender, **values)  # type: ignore[arg-type]
    if not arguments.smtputf8 and not (sender.isascii() and split[1].isascii()):
        raise Refused(replies.NON_ASCII_SENDER)
    if arguments.size is not None and arguments.size > max_size:
        raise Refused(replies.SIZE_EXCEEDED)
    return arguments


def parse_rcpt(argument: bytes, smtputf8: bool) -> RcptArguments:
    """The RCPT command's argument; `smtputf8` says whether MAIL asked for SMTPUTF8."""
    plain = _PLAIN_RCPT.fullmatch(argument)
    if plain is not None:
        return RcptArguments(plain.group(1).decode("ascii"))
    return parse_rcpt_fully(argument, smtputf8)


def parse_rcpt_fully(argument: bytes, smtputf8: bool) -> RcptArguments:
    """`parse_rcpt` without its shortcut for the plain form."""
    split = split_path(argument, b"TO:")
    if split is None or split[0] == b"<>":
        raise Refused(replies.RCPT_SYNTAX)
    recipient = mailbox(split[0])
    if not recipient:
        raise Refused(replies.BAD_RECIPIENT_ADDRESS)
    if not smtputf8 and not (recipient.isascii() and split[1].isascii()):
        raise Refused(replies.NON_ASCII_RECIPIENT)
    notify = orcpt = None
    for name, value in parameters(split[1]).items():
        if name == "NOTIFY":
            notify = _notify(_ascii_value(value, name))
        elif name == "ORCPT":
            orcpt = _orcpt(value)
        else:
            raise Refused(replies.UNKNOWN_PARAMETER, parameter=name)
    return RcptArguments(recipient, notify, orcpt)


def _notify(value: str) -> frozenset[str]:
    words = frozenset(word.strip().upper() for word in value.split(","))
    if words == {"NEVER"} or (words and words <= {"SUCCESS", "FAILURE", "DELAY"}):
        return words
    raise Refused(replies.PARAMETER_SYNTAX, parameter="NOTIFY")


def _unitext_char(match: re.Match[str]) -> str:
    code = int(match.group(1), 16)
    if code > 0x10FFFF:
        raise Refused(replies.PARAMETER_SYNTAX, parameter="ORCPT")
    return chr(code)


def _orcpt(value: bytes | None) -> str:
    """`rfc822;bob+2Bx@y` -> `rfc822;bob+x@y`; utf-8 addresses may use `\\x{HEX}` (RFC 6533)."""
    kind, semicolon, address = (value or b"").partition(b";")
    if not semicolon or not _KEYWORD.fullmatch(kind) or not address:
        raise Refused(replies.PARAMETER_SYNTAX, parameter="ORCPT")
    if address.isascii():
        text = xtext(address, "ORCPT")
    else:
        try:
            text = address.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(replies.PARAMETER_SYNTAX, parameter="ORCPT") from None
    if kind.lower() == b"utf-8":
        text = _UNITEXT_ESCAPE.sub(_unitext_char, text)
    if not text.isprintable():
        raise Refused(replies.PARAMETER_SYNTAX, parameter="ORCPT")
    return kind.decode("ascii") + ";" + text


# --- BDAT (RFC 3030 §2) ------------------------------------------------------------------------

# The largest chunk-size taken as a number, as Postfix (an off_t): a longer one is refused as
# malformed rather than awaited for ever.
MAX_CHUNK_SIZE = 2**63 - 1


@dataclass(frozen=True, slots=True)
class BdatArguments:
    """`bdat-cmd ::= "BDAT" SP chunk-size [ SP end-marker ]`. `size` is None when no
    chunk-size could be read (then the chunk's data cannot be found, so it is not read);
    `valid` is False for any deviation from the grammar (a size with a bad end-marker, say:
    that chunk is read and refused)."""

    size: int | None
    last: bool
    valid: bool


def parse_bdat(argument: bytes) -> BdatArguments:
    words = argument.split()
    size = None
    if words and words[0].isdigit():  # ASCII digits only, for bytes
        digits = words[0].lstrip(b"0") or b"0"
        if len(digits) <= 19 and int(digits) <= MAX_CHUNK_SIZE:
            size = int(digits)
    last = len(words) >= 2 and words[1].upper() == b"LAST"
    valid = size is not None and len(words) == (2 if last else 1)
    return BdatArguments(size, last, valid)
