"""Turning parser tokens into command arguments, with BAD for anything malformed."""

from __future__ import annotations

from elektromail.imap import mutf7
from elektromail.imap.dispatch import Bad
from elektromail.imap.parser import Atom
from elektromail.imap.session import Dialect


def expect_count(args: list, count: int, usage: str) -> None:
    if len(args) != count:
        raise Bad(f"expected {usage}")


def astring(token: object, what: str) -> str:
    """An atom or a string (quoted or literal) as text; 8-bit bytes kept as escapes."""
    if isinstance(token, Atom):
        return str(token)
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


def mailbox_name(token: object, dialect: Dialect) -> str:
    """The canonical (UTF-8) name of a mailbox argument: modified UTF-7 in IMAP4rev1,
    UTF-8 once IMAP4rev2 or UTF8=ACCEPT is enabled; INBOX in any case is INBOX."""
    name = astring(token, "mailbox name")
    if not dialect.utf8_names:
        try:
            name = mutf7.decode(name)
        except ValueError as e:
            raise Bad(f"invalid modified UTF-7 mailbox name: {e}") from None
    elif any("\udc80" <= c <= "\udcff" for c in name):
        raise Bad("mailbox name is not valid UTF-8")
    return canonical_mailbox(name)


def canonical_mailbox(name: str) -> str:
    head, slash, rest = name.partition("/")
    if head.upper() == "INBOX":
        return "INBOX" + slash + rest
    return name


def encode_mailbox(name: str, dialect: Dialect) -> str:
    return name if dialect.utf8_names else mutf7.encode(name)
