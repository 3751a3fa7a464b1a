"""What may name a user, a password, an email address and a mailbox, and the forms names are
compared in: the rules every door applies (the control API, fixtures, the post office, the
store; IMAP's own mailbox grammar builds on `canonical_mailbox`). Pure code."""

from __future__ import annotations

import unicodedata

from elektromail import mutf7

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


# Dovecot's limits (2.3, checked against the reference server): a whole name of at most 4096
# bytes of UTF-8 (MAILBOX_LIST_NAME_MAX_LENGTH), a level of at most 255 bytes in its modified
# UTF-7 form (the file-system name its maildir gives the level). MAX_LEVELS is ours: each level
# is a stored mailbox (CREATE makes the parents), so a hostile CREATE cannot make thousands.
MAX_NAME_BYTES = 4096
MAX_LEVEL_BYTES = 255
MAX_LEVELS = 64


def mailbox_name_problem(name: str, *, creating: bool = True) -> str | None:
    """Why `name` (canonical Unicode, as stored) cannot name a mailbox, or None when it can: the
    one rule of every door (IMAP CREATE and RENAME, and every IMAP command's answer for a name
    that names nothing; the control API; fixtures; the Python API). As Dovecot refuses: an
    empty name or level (a leading, trailing or doubled /), a `.` or `..` level, a leading `~`;
    and, where Dovecot also refuses or RFC 9051 §5.1 lets a server refuse, control characters;
    spaces and LIST wildcards (RFC 9051 §5.1: "valid in a mailbox name", and Dovecot creates
    them) are fine. With `creating` false, only what Dovecot also checks when it looks a name
    up (the form, not the lengths): its answer to SELECT of a name too long is "does not
    exist"."""
    if not isinstance(name, str) or name == "":
        return "empty name"
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in name):
        return "contains a control character"  # RFC 9051 §5.1 item 2 (Cs: not Unicode)
    if name.startswith(DELIMITER):
        return "begins with the hierarchy delimiter /"
    if name.endswith(DELIMITER):
        return "ends with the hierarchy delimiter /"
    levels = name.split(DELIMITER)
    if "" in levels:
        return "adjacent hierarchy delimiters (an empty level)"
    if ".." in levels:
        return "contains a '..' level"
    if "." in levels:
        return "contains a '.' level"
    if name.startswith("~"):
        return "begins with '~'"  # a home directory on some servers (RFC 9051 Appendix A.1)
    if not creating:
        return None
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return f"longer than {MAX_NAME_BYTES} bytes"
    if len(levels) > MAX_LEVELS:
        return f"more than {MAX_LEVELS} hierarchy levels"
    if any(len(mutf7.encode(level)) > MAX_LEVEL_BYTES for level in levels):
        return f"a hierarchy level longer than {MAX_LEVEL_BYTES} bytes (in modified UTF-7)"
    return None


def mutf7_lookalike(name: str) -> str | None:
    """The Unicode name that `name` writes in modified UTF-7 (IMAP4rev1's wire form, as in
    `Entw&APw-rfe`), or None when it is not such a spelling. The doors that take names as
    text (the control API, fixtures, the Python API) refuse these: taken literally, IMAP4rev1
    would list `&AOk-` as `&-AOk-`, and taken as modified UTF-7 no such name could be given
    literally; the refusal says which name to give."""
    if "&" not in name:
        return None
    try:
        decoded = mutf7.decode(name)
    except ValueError:
        return None  # "Tom & Jerry", "R&D": no modified UTF-7, so they mean themselves
    return decoded if decoded != name else None


def check_mailbox_name(name: str) -> str:
    """The canonical form of `name`, a mailbox name given as text (JSON, a fixture folder, a
    Python call), when a mailbox can have it; InvalidInput naming the problem otherwise."""
    if not isinstance(name, str) or name == "":
        raise InvalidInput("invalid mailbox name: empty")
    canonical = canonical_mailbox(name)
    problem = mailbox_name_problem(canonical)
    if problem is None:
        meant = mutf7_lookalike(canonical)
        if meant is not None:
            problem = (
                "this is modified UTF-7 (how IMAP4rev1 writes names); names are given as "
                f"UTF-8 text: {meant!r}"
            )
    if problem is not None:
        raise InvalidInput(f"invalid mailbox name {_shown(name)}: {problem}")
    return canonical


def _shown(name: str, limit: int = 60) -> str:
    return repr(name if len(name) <= limit else name[: limit - 3] + "...")
