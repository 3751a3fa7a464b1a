"""Turning parser tokens into command arguments, with BAD for anything malformed.

Mailbox names are decoded once here into their canonical stored form: Unicode in NFC (modified
UTF-7 on the wire in IMAP4rev1, UTF-8 after ENABLE IMAP4rev2 or UTF8=ACCEPT) with INBOX in
upper case, so the same name in either dialect names the same mailbox.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from elektromail import mutf7
from elektromail.flags import InvalidFlag, check_flags
from elektromail.imap import format as fmt
from elektromail.imap.dispatch import Bad, No
from elektromail.imap.session import Dialect
from elektromail.imap.tokens import Atom, Literal8String
from elektromail.names import DELIMITER, canonical_mailbox, mailbox_name_problem

INVALID_MUTF7 = "Mailbox name is not valid mUTF-7"


def expect_count(args: list, count: int, usage: str) -> None:
    if len(args) != count:
        raise Bad(f"expected {usage}")


def astring(token: object, what: str) -> str:
    """An atom or a string (quoted or literal) as text; 8-bit bytes kept as escapes. A literal8
    is no astring (RFC 3516 §7 allows ~{N} in APPEND only): BAD, as Dovecot answers."""
    if isinstance(token, Atom):
        return str(token)
    if isinstance(token, Literal8String):
        raise Bad(f"literal8 not allowed here ({what})")
    if isinstance(token, bytes):
        return token.decode("utf-8", "surrogateescape")
    raise Bad(f"{what} must be a string")


def atom(token: object, what: str) -> str:
    if isinstance(token, Atom):
        return str(token)
    raise Bad(f"{what} must be an atom")


def paren_list(token: object, what: str) -> list:
    if isinstance(token, list):
        return token
    raise Bad(f"{what} must be a parenthesized list")


def storable_flags(names: Iterable[str]) -> tuple[str, ...]:
    """The flags STORE or APPEND names, normalized (elektromail.flags' rule); BAD naming the
    first that cannot be stored, such as \\Recent (RFC 9051 §2.3.2) or `a]b`."""
    try:
        return check_flags(names)
    except InvalidFlag as e:
        kind = "system flag" if str(e.flag).startswith("\\") else "keyword"
        raise Bad(f"Invalid {kind} {e.flag}") from None


# --- mailbox names ------------------------------------------------------------------------


def decode_mailbox(token: object, dialect: Dialect, what: str = "mailbox name") -> str:
    """The Unicode text of a mailbox argument as the client sent it (not yet normalized):
    modified UTF-7 in IMAP4rev1 (8-bit or broken modified UTF-7: NO [CANNOT]), UTF-8
    otherwise."""
    name = astring(token, what)
    if not dialect.utf8_names:
        try:
            return mutf7.decode(name)
        except ValueError:
            # A valid astring naming no mailbox that can exist: NO, as Dovecot answers (a BAD
            # makes mbsync abandon every later folder of its channel). RFC 5530 [CANNOT].
            raise No(INVALID_MUTF7, fmt.CANNOT) from None
    if _has_undecodable(name):
        raise Bad(f"{what} is not valid UTF-8")
    return name


def mailbox_name(token: object, dialect: Dialect) -> str:
    """The canonical (UTF-8, NFC) name of a mailbox argument; INBOX in any case is INBOX."""
    # NFC (RFC 9051 §5.1: names are Net-Unicode; a denormalized name is accepted everywhere
    # and means its NFC form) and the canonical spelling of INBOX.
    return canonical_mailbox(decode_mailbox(token, dialect))


def encode_mailbox(name: str, dialect: Dialect) -> str:
    return name if dialect.utf8_names else mutf7.encode(name)


def format_mailbox(name: str, dialect: Dialect) -> bytes:
    """A stored name as a response's mailbox field, in the session's encoding."""
    return fmt.astring(encode_mailbox(name, dialect), utf8_ok=dialect.utf8_names)


def new_mailbox_name(name: str) -> str:
    """Check a canonical name that CREATE or RENAME is to create; returns it without the
    trailing delimiter that only declares "names will follow under it" (RFC 9051 §6.3.4).
    NO [CANNOT] for a name that could never exist (elektromail.names' one rule)."""
    if name.endswith(DELIMITER):
        name = name[: -len(DELIMITER)]
    problem = mailbox_name_problem(name)
    if problem is not None:
        raise No(f"Invalid mailbox name: {problem}", fmt.CANNOT)
    return name


def no_such_mailbox(name: str, text: str, code: str) -> No:
    """The answer for a mailbox argument that names no mailbox: NO [CANNOT] saying why when no
    mailbox could have the name (as Dovecot answers SELECT, STATUS, DELETE, RENAME, APPEND and
    COPY; a TRYCREATE would send the client to a CREATE that must fail), else NO `text` with
    `code` (NONEXISTENT or TRYCREATE). Checked only once the name is found missing, so a
    mailbox stored under an older, looser rule can still be opened, renamed and deleted."""
    problem = mailbox_name_problem(name, creating=False)
    if problem is not None:
        return No(f"Invalid mailbox name: {problem}", fmt.CANNOT)
    return No(text, code)


def list_pattern(token: object, dialect: Dialect, what: str) -> str | None:
    """A LIST reference or pattern as Unicode, or None when it can match nothing (RFC 9051
    §6.3.9: a pattern the server cannot accept is silently ignored). 8-bit in IMAP4rev1 is
    not a string at all: BAD."""
    text = astring(token, what)
    if not dialect.utf8_names:
        if not text.isascii():
            raise Bad(f"8-bit characters in {what} need ENABLE UTF8=ACCEPT or IMAP4rev2")
        try:
            text = mutf7.decode(text)
        except ValueError:
            return None
    elif _has_undecodable(text):
        raise Bad(f"{what} is not valid UTF-8")
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _has_undecodable(text: str) -> bool:
    return any("\udc80" <= c <= "\udcff" for c in text)
