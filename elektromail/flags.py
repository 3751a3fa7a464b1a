"""The one rule for message flags (RFC 9051 §2.3.2, §9) that every door applies: IMAP STORE
and APPEND, the control API, fixtures and the store. Pure code."""

from __future__ import annotations

import re
from collections.abc import Iterable

from elektromail.names import InvalidInput

# In the order a FLAGS response lists them (RFC 9051 §6.3.2's example; Dovecot's order too).
# \Recent is not one: RFC 3501 made it the server's to set and RFC 9051 dropped it.
SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
_CANONICAL = {flag.lower(): flag for flag in SYSTEM_FLAGS}

# RFC 9051 §9:
#   flag-keyword   = "$MDNSent" / "$Forwarded" / "$Junk" / "$NotJunk" / "$Phishing" / atom
#   atom           = 1*ATOM-CHAR
#   ATOM-CHAR      = <any CHAR except atom-specials>
#   atom-specials  = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials /
#                    resp-specials
#   list-wildcards = "%" / "*";  quoted-specials = DQUOTE / "\";  resp-specials = "]"
# So a keyword may hold "[" and "}" but not "]" or "{"; Dovecot 2.3 stores exactly these.
# Written as a character class that Python and ECMA 262 (OpenAPI patterns) read alike.
ATOM_CHAR = r"[!#$&'+,\-./0-9:;<=>?@A-Z\[^_`a-z|}~]"
_KEYWORD = re.compile(ATOM_CHAR + "+")


class InvalidFlag(InvalidInput):
    """Flags that no message can carry; `flag` is the first such one (None when the flags are
    not a list at all), the message says why."""

    def __init__(self, message: str, flag: object = None) -> None:
        super().__init__(message)
        self.flag = flag


def is_keyword(flag: str) -> bool:
    """An IMAP flag-keyword: an atom, ASCII without atom-specials (RFC 9051 §9)."""
    return _KEYWORD.fullmatch(flag) is not None


def check_flag(flag: object) -> str:
    """`flag` in its canonical spelling when a client may store it (a system flag in any case,
    or a keyword); InvalidFlag otherwise."""
    if not isinstance(flag, str):
        raise InvalidFlag(f"invalid flag {flag!r}: not a string", flag)
    if flag.startswith("\\"):
        canonical = _CANONICAL.get(flag.lower())
        if canonical is None:
            raise InvalidFlag(f"invalid flag {flag!r}: not one of " + ", ".join(SYSTEM_FLAGS), flag)
        return canonical
    if not is_keyword(flag):
        raise InvalidFlag(f"invalid flag {flag!r}: not an IMAP keyword", flag)
    return str(flag)  # not a parser's str subclass


def check_flags(flags: Iterable[object]) -> tuple[str, ...]:
    """`flags` checked one by one (check_flag) and normalized (normalize_flags)."""
    if isinstance(flags, str | bytes):  # one flag where a list was meant
        raise InvalidFlag("flags must be a list of strings")
    return normalize_flags(check_flag(flag) for flag in flags)


def normalize_flags(flags: Iterable[str]) -> tuple[str, ...]:
    """System flags in their canonical spelling, keywords as given, in the order given; of
    flags that differ only in case the first is kept. System flags are ABNF strings and so
    case-insensitive (RFC 9051 §9, note 1); for keywords the RFC is silent and Dovecot
    compares them ignoring case too."""
    seen: dict[str, str] = {}
    for flag in flags:
        key = flag.lower()
        if key not in seen:
            seen[key] = _CANONICAL.get(key, flag)
    return tuple(seen.values())
