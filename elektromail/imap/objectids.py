"""OBJECTID (RFC 8474), SAVEDATE (RFC 8514) and PREVIEW (RFC 8970) on the IMAP side: the
FETCH items EMAILID, THREADID, SAVEDATE and PREVIEW, the MAILBOXID response code and STATUS
item, and the objectid arguments of SEARCH EMAILID / THREADID.

THREADID: this server does not keep threads across mailboxes and arrivals (RFC 8474 §5.2: a
THREADID "MUST NOT" change once reported, which THREAD's grouping, made anew per mailbox, does
not promise), so it answers as RFC 8474 §5.2 asks then: THREADID NIL in FETCH, and SEARCH
THREADID matches no message. Dovecot has no OBJECTID at all.
"""

from __future__ import annotations

from collections.abc import Iterable

from elektromail.imap import format as fmt
from elektromail.imap.dispatch import advertise
from elektromail.imap.fetchitems import FetchItem
from elektromail.store import MessageExtras

advertise("OBJECTID", "SAVEDATE", "PREVIEW")

EXTRA_ITEMS = frozenset({"EMAILID", "THREADID", "SAVEDATE", "PREVIEW"})


def wanted_extras(items: Iterable[FetchItem]) -> bool | None:
    """None when no item reads the store's extras; else whether the bodies waiting for their
    parse must be parsed first (EMAILID and PREVIEW come with the parse; PREVIEW (LAZY) would
    rather have NIL, RFC 8970 §3.2)."""
    wanted = None
    for item in items:
        if item.name in EXTRA_ITEMS:
            parse = item.name == "EMAILID" or (item.name == "PREVIEW" and not item.lazy)
            wanted = bool(wanted) or parse
    return wanted


def extra_value(item: FetchItem, extras: MessageExtras | None, utf8: bool) -> bytes:
    """The value of an EXTRA_ITEMS item for one message."""
    name = item.name
    if name == "THREADID":
        return fmt.NIL
    if extras is None:  # the message went while the FETCH ran
        return fmt.NIL
    if name == "EMAILID":
        return fmt.NIL if extras.emailid is None else b"(%s)" % extras.emailid.encode("ascii")
    if name == "SAVEDATE":
        # RFC 8514 §4: a date-time; in UTC, the zone of mail delivered here (Dovecot: its
        # server's zone), whatever zone an APPEND gave the internal date
        return fmt.format_internaldate(extras.saved, 0)
    if extras.preview is None:  # RFC 8970 §3.2: LAZY and not made yet
        return fmt.NIL
    return fmt.string(extras.preview, utf8_ok=utf8)


def mailboxid_code(objectid: str | None) -> bytes | None:
    """`[MAILBOXID (F...)]` for CREATE's OK and SELECT's untagged OK (RFC 8474 §4.1, §4.2)."""
    if objectid is None:
        return None
    return fmt.format_response_code(fmt.MAILBOXID, f"({objectid})")


def mailboxid_response(objectid: str | None) -> bytes:
    """SELECT / EXAMINE's `* OK [MAILBOXID (F...)] Ok` (RFC 8474 §4.2), b"" without an id."""
    code = mailboxid_code(objectid)
    return b"" if code is None else fmt.untagged_status(fmt.OK, "Ok", code)


def status_mailboxid(objectid: str | None) -> str:
    """The STATUS MAILBOXID value (RFC 8474 §4.3)."""
    return f"({objectid})" if objectid is not None else "NIL"
