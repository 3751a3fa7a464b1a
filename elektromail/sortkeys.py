"""What IMAP SORT (RFC 5256, SORT=DISPLAY of RFC 5957) orders messages by, computed from one
parse: the base subject (RFC 5256 §2.1), the first From/To/Cc mailbox, the display names and
the sent date, each string mapped by the i;unicode-casemap comparator (RFC 5051) so that
ordering is a comparison of UTF-8 bytes.

Pure code. The store keeps these keys per body (written when it is parsed), so a SORT is one
ordered query. Where the RFCs leave a choice this follows Dovecot: the first address of the
first field, a display name that falls back to mailbox@host, a sent date of 0 or none read as
the internal date.
"""

from __future__ import annotations

import email.utils
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from elektromail import mime

__all__ = ["SortFields", "base_subject", "casemap", "sent_time", "sort_fields"]


def casemap(text: str) -> str:
    """i;unicode-casemap's key (RFC 5051 §2): each character's titlecase mapping, then the
    compatibility decomposition. ASCII text is its upper case."""
    if text.isascii():
        return text.upper()
    return unicodedata.normalize("NFKD", "".join(map(_titlecase, text)))


@lru_cache(maxsize=4096)
def _titlecase(char: str) -> str:
    # RFC 5051 asks for the simple mapping (one character); Python's title() is the full one,
    # which differs only where it gives several characters ("ß" -> "Ss"): keep those as they are.
    mapped = char.title()
    return mapped if len(mapped) == 1 else char


_WHITESPACE_RE = re.compile(r"[ \t\r\n]+")


def _pack_whitespace(text: str) -> str:
    """Tabs, CR, LF and runs of white space into one space (RFC 5256 §2.1 step 1)."""
    return _WHITESPACE_RE.sub(" ", text)


def _strip_blob(text: str, pos: int) -> int:
    """The position after a subj-blob ("[" *BLOBCHAR "]" and one space) at `pos`, or -1."""
    if not text.startswith("[", pos):
        return -1
    end = pos + 1
    while end < len(text) and text[end] not in "[]":
        end += 1
    if end >= len(text) or text[end] != "]":
        return -1
    end += 1
    return end + 1 if text.startswith(" ", end) else end


def _strip_leader(text: str, pos: int) -> tuple[int, bool]:
    """(position, found) after one subj-leader (RFC 5256 §5) at `pos`: a leading space is
    always removed; then *subj-blob ("RE" / "FW" / "FWD") [" "] [subj-blob] ":"."""
    found = False
    if text.startswith(" ", pos):
        pos += 1
        found = True
    at = pos
    while text.startswith("[", at):
        after = _strip_blob(text, at)
        if after < 0:
            return pos, found
        at = after
    for word in ("RE", "FWD", "FW"):
        if text.startswith(word, at):
            at += len(word)
            break
    else:
        return pos, found
    if text.startswith(" ", at):
        at += 1
    if text.startswith("[", at):
        at = _strip_blob(text, at)
        if at < 0:
            return pos, found
    if not text.startswith(":", at):
        return pos, found
    return at + 1, True


def _strip_trailers(text: str, pos: int) -> str:
    """`text` without its trailing subj-trailers (" " or "(FWD)"), never before `pos`."""
    end = len(text)
    while end > pos:
        if text[end - 1] == " ":
            end -= 1
        elif end - 5 >= pos and text.endswith("(FWD)", 0, end):
            end -= 5
        else:
            break
    return text[:end]


def base_subject(subject: str | None) -> str:
    """The base subject of RFC 5256 §2.1 of a raw Subject: value, in casemap form ("" for
    none): encoded-words decoded, white space packed, then the reply and forward markers
    ("Re:", "Fwd:", "[list]" blobs, "(fwd)", "[fwd: ...]") removed as steps 2 to 6 say."""
    if not subject:
        return ""
    text = _pack_whitespace(casemap(mime.decode_header(subject)))
    pos = 0
    while True:
        text = _strip_trailers(text, pos)  # (2)
        while True:  # (3) to (5)
            pos, found = _strip_leader(text, pos)
            after = _strip_blob(text, pos)  # (4) only when something remains
            if after >= 0 and after < len(text):
                pos, found = after, True
            if not found:
                break
        # (6) "[FWD:" subject "]": unwrap and start again from (2)
        if text.startswith("[FWD:", pos) and text.endswith("]") and len(text) - 1 >= pos + 5:
            text = text[:-1]
            pos += 5
            continue
        return text[pos:]


def _first(addresses: tuple[mime.Address, ...] | None) -> mime.Address | None:
    return addresses[0] if addresses else None


def _mailbox_key(addresses: tuple[mime.Address, ...] | None) -> str:
    """SORT FROM/TO/CC: the first address's mailbox (local part)."""
    first = _first(addresses)
    return casemap(first.mailbox) if first is not None and first.mailbox else ""


def _display_key(addresses: tuple[mime.Address, ...] | None) -> str:
    """SORT DISPLAYFROM/DISPLAYTO (RFC 5957 §2): the first address's display name, decoded;
    without one, mailbox@host (or the mailbox alone)."""
    first = _first(addresses)
    if first is None:
        return ""
    name = mime.decode_header(first.name) if first.name else ""
    if not name:
        if first.mailbox and first.host:
            name = f"{first.mailbox}@{first.host}"
        else:
            name = first.mailbox or ""
    return casemap(name)


def sent_time(date: str | None) -> int | None:
    """The Date: header as seconds since the epoch (UTC), or None when there is none, it does
    not parse, or it is the epoch itself (then SORT DATE uses the internal date)."""
    if not date:
        return None
    try:
        parts = email.utils.parsedate_tz(date)
        seconds = None if parts is None else email.utils.mktime_tz(parts)
    except (ValueError, TypeError, IndexError, OverflowError):
        return None
    if not seconds:
        return None
    return int(seconds)


@dataclass(frozen=True, slots=True)
class SortFields:
    """What the store keeps of one body for SORT: casemapped strings ("" for none) and the sent
    time (None: SORT DATE reads the internal date)."""

    subject: str
    from_: str
    to: str
    cc: str
    display_from: str
    display_to: str
    sent: int | None


def sort_fields(envelope: mime.Envelope) -> SortFields:
    """The SortFields of a parsed message's envelope."""
    return SortFields(
        base_subject(envelope.subject),
        _mailbox_key(envelope.from_),
        _mailbox_key(envelope.to),
        _mailbox_key(envelope.cc),
        _display_key(envelope.from_),
        _display_key(envelope.to),
        sent_time(envelope.date),
    )
