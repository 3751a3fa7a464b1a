"""What may name a user, a password, an email address and a mailbox, and the forms names are
compared in: the rules every door applies (the control API, fixtures, the post office, the
store; IMAP's own mailbox grammar builds on `canonical_mailbox`). Pure code."""

from __future__ import annotations

import unicodedata

INBOX = "INBOX"  # any case names it (RFC 9051 §5.1); stored and sent as spelled here
DELIMITER = "/"  # the hierarchy delimiter of every mailbox name


class InvalidInput(ValueError):
    """A user name, password, email address, mailbox name or flag the server cannot take
    (from the control API or a fixture); the message says which and why."""


# As config.parse_users refuses them (plus ":" and ",", which its spec syntax cannot carry), so
# a user made at run time could also have been configured.
_USER_NAME_FORBIDDEN = frozenset(" @/\\\"':,")


def check_user_name(name: str) -> str:
    """`name` when it can name a user; InvalidInput otherwise."""
    if not isinstance(name, str) or not name:
        raise InvalidInput("invalid user name: empty")
    if not name.isprintable() or any(c in _USER_NAME_FORBIDDEN for c in name):
        raise InvalidInput(f"invalid user name {name!r}: no spaces, @ / \\ \" ' : or ,")
    return name


def fold(name: str) -> str:
    """A user name as the store compares it: SQLite's NOCASE folds ASCII letters only."""
    return name.encode("utf-8", "surrogatepass").lower().decode("utf-8", "surrogatepass")


def check_password(password: str) -> str:
    """`password` when it is a non-empty string (as config.parse_users wants it)."""
    if not isinstance(password, str) or password == "":
        raise InvalidInput("invalid password: empty")
    return password


def check_email(email: str) -> str:
    """`email` when it looks like local@domain; InvalidInput otherwise."""
    if isinstance(email, str):
        local, at, domain = email.rpartition("@")
        if at and local and domain and email.isprintable() and " " not in email:
            return email
    raise InvalidInput(f"invalid email address {email!r}")


def canonical_mailbox(name: str) -> str:
    """NFC, and INBOX (any case, also as the first level of a path) spelled INBOX."""
    if not name.isascii():
        name = unicodedata.normalize("NFC", name)
    head, slash, rest = name.partition(DELIMITER)
    if head.upper() == INBOX:
        return INBOX + slash + rest
    return name


def check_mailbox_name(name: str) -> str:
    """The canonical form of `name` when a mailbox can have it (the rules of IMAP CREATE);
    InvalidInput otherwise."""
    if not isinstance(name, str) or name == "":
        raise InvalidInput("invalid mailbox name: empty")
    problem = None
    if name.startswith(DELIMITER) or name.endswith(DELIMITER):
        problem = "begins or ends with the hierarchy delimiter /"
    elif DELIMITER + DELIMITER in name:
        problem = "adjacent hierarchy delimiters"
    elif "*" in name or "%" in name:
        problem = "contains a LIST wildcard (* or %)"
    elif any(unicodedata.category(c) in ("Cc", "Cs") for c in name):
        problem = "contains a control character"
    if problem is not None:
        raise InvalidInput(f"invalid mailbox name {name!r}: {problem}")
    return canonical_mailbox(name)
