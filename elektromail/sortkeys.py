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

__all__ = [
    "SortFields",
    "base_subject",
    "base_subject_and_reply",
    "casemap",
    "message_ids",
    "sent_time",
    "sort_fields",
    "thread_references",
]


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


def _strip_leader(text: str, pos: int) -> tuple[int, bool, bool]:
    """(position, found, a subj-refwd) after one subj-leader (RFC 5256 §5) at `pos`: a
    leading space is always removed; then *subj-blob ("RE" / "FW" / "FWD") [" "] [subj-blob]
    ":"."""
    found = False
    if text.startswith(" ", pos):
        pos += 1
        found = True
    at = pos
    while text.startswith("[", at):
        after = _strip_blob(text, at)
        if after < 0:
            return pos, found, False
        at = after
    for word in ("RE", "FWD", "FW"):
        if text.startswith(word, at):
            at += len(word)
            break
    else:
        return pos, found, False
    if text.startswith(" ", at):
        at += 1
    if text.startswith("[", at):
        at = _strip_blob(text, at)
        if at < 0:
            return pos, found, False
    if not text.startswith(":", at):
        return pos, found, False
    return at + 1, True, True


def _strip_trailers(text: str, pos: int) -> tuple[str, bool]:
    """(`text` without its trailing subj-trailers (" " or "(FWD)"), never before `pos`;
    whether a "(FWD)" went)."""
    end = len(text)
    forward = False
    while end > pos:
        if text[end - 1] == " ":
            end -= 1
        elif end - 5 >= pos and text.endswith("(FWD)", 0, end):
            end -= 5
            forward = True
        else:
            break
    return text[:end], forward


def base_subject(subject: str | None) -> str:
    """The base subject of RFC 5256 §2.1 of a raw Subject: value, in casemap form ("" for
    none): encoded-words decoded, white space packed, then the reply and forward markers
    ("Re:", "Fwd:", "[list]" blobs, "(fwd)", "[fwd: ...]") removed as steps 2 to 6 say."""
    return base_subject_and_reply(subject)[0]


def base_subject_and_reply(subject: str | None) -> tuple[str, bool]:
    """(base subject, whether the message is a reply or forward): RFC 5256 §3 REFERENCES, "if
    the base subject extraction rules, applied to the original subject, remove any of the
    following: a subj-refwd, a "(fwd)" subj-trailer, or a subj-fwd-hdr and subj-fwd-trl"."""
    if not subject:
        return "", False
    text = _pack_whitespace(casemap(mime.decode_header(subject)))
    pos = 0
    reply = False
    while True:
        text, forward = _strip_trailers(text, pos)  # (2)
        reply = reply or forward
        while True:  # (3) to (5)
            pos, found, refwd = _strip_leader(text, pos)
            reply = reply or refwd
            after = _strip_blob(text, pos)  # (4) only when something remains
            if after >= 0 and after < len(text):
                pos, found = after, True
            if not found:
                break
        # (6) "[FWD:" subject "]": unwrap and start again from (2)
        if text.startswith("[FWD:", pos) and text.endswith("]") and len(text) - 1 >= pos + 5:
            text = text[:-1]
            pos += 5
            reply = True
            continue
        return text[pos:], reply


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


# -- Message IDs, as THREAD=REFERENCES reads them (RFC 5256 §3) -------------------------------

_ATEXT = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~"
)
_QUICK_STOP = frozenset('>"(')  # Dovecot's quick scan: a literal domain passes
_LWSP = " \t\r\n"


def message_ids(text: str | None) -> list[str]:
    """The valid msg-ids in a header value, normalized (RFC 5256 §3: "<"01KF8JCEOCBS0045PS"@
    xxx.yyy.com>" and "<01KF8JCEOCBS0045PS@xxx.yyy.com>" are one Message ID), as Dovecot reads
    them: "<" local "@" domain ">" with quoting and white space removed; anything else between
    "<" and ">" is skipped."""
    found: list[str] = []
    if not text:
        return found
    pos = 0
    while True:
        start = text.find("<", pos) + 1
        if not start:
            return found
        at = False
        end = start
        while end < len(text) and text[end] not in _QUICK_STOP:
            at = at or text[end] == "@"
            end += 1
        if end == len(text):
            return found
        if text[end] == ">":  # the common case: no quoting, no comment, no literal
            pos = end + 1
            if at:
                found.append("".join(text[start:end].split()))
            continue
        parsed = _msgid_slowly(text, start)
        if parsed is None:
            pos = start
        else:
            msgid, pos = parsed
            found.append(msgid)


def _msgid_slowly(text: str, pos: int) -> tuple[str, int] | None:
    """(normalized id, position after ">") of id-left "@" id-right ">" at `pos`, id-left a
    dot-atom or a quoted string, id-right a dot-atom; None when it is not one."""
    pos = _skip_cfws(text, pos)
    if text.startswith('"', pos):
        local, pos = _quoted(text, pos)
    else:
        local, pos = _dot_atom(text, pos)
    if not local or not text.startswith("@", pos):
        return None
    domain, pos = _dot_atom(text, _skip_cfws(text, pos + 1))
    if not domain or not text.startswith(">", pos):
        return None
    return f"{local}@{domain}", pos + 1


def _skip_cfws(text: str, pos: int) -> int:
    while pos < len(text):
        if text[pos] in _LWSP:
            pos += 1
        elif text[pos] == "(":
            depth = 0
            while pos < len(text):
                char = text[pos]
                if char == "\\":
                    pos += 1
                elif char == "(":
                    depth += 1
                elif char == ")":
                    depth -= 1
                    if depth == 0:
                        break
                pos += 1
            pos += 1
        else:
            break
    return pos


def _quoted(text: str, pos: int) -> tuple[str, int]:
    """The content of the quoted string at `pos` (escapes undone) and the position after it,
    then after any CFWS; ("", pos) when it does not close."""
    out = []
    at = pos + 1
    while at < len(text):
        char = text[at]
        if char == "\\" and at + 1 < len(text):
            out.append(text[at + 1])
            at += 2
            continue
        if char == '"':
            return "".join(out), _skip_cfws(text, at + 1)
        if char not in "\r\n":
            out.append(char)
        at += 1
    return "", pos


def _dot_atom(text: str, pos: int) -> tuple[str, int]:
    """The dot-atom at `pos` (CFWS around its dots dropped) and the position after it."""
    out = []
    while True:
        start = pos
        while pos < len(text) and (text[pos] in _ATEXT or text[pos] > "\x7f"):
            pos += 1
        if pos == start:
            return ("".join(out) if out and not out[-1].endswith(".") else ""), pos
        out.append(text[start:pos])
        pos = _skip_cfws(text, pos)
        if not text.startswith(".", pos):
            return "".join(out), pos
        out.append(".")
        pos = _skip_cfws(text, pos + 1)


def thread_references(references: str | None, in_reply_to: str | None) -> tuple[str, ...]:
    """A message's references for THREAD=REFERENCES (RFC 5256 §3): the Message IDs of its
    References: field; without any, the first one of In-Reply-To:."""
    found = message_ids(references)
    if found:
        return tuple(found)
    parent = message_ids(in_reply_to)
    return tuple(parent[:1])


@dataclass(frozen=True, slots=True)
class SortFields:
    """What the store keeps of one body for SORT and THREAD: casemapped strings ("" for none),
    the sent time (None: SORT DATE reads the internal date), whether the subject marks a reply
    or forward, the normalized Message-ID (None: none valid) and the references."""

    subject: str
    from_: str
    to: str
    cc: str
    display_from: str
    display_to: str
    sent: int | None
    reply: bool = False
    message_id: str | None = None
    references: tuple[str, ...] = ()


_THREAD_FIELD_RE = re.compile(
    rb"^(references|in-reply-to)[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)", re.M | re.I
)


def _first_fields(header: bytes) -> dict[str, str]:
    """The first References: and In-Reply-To: values of a header block, unfolded."""
    first: dict[str, str] = {}
    for m in _THREAD_FIELD_RE.finditer(header):
        name = m.group(1).lower().decode("ascii")
        if name not in first:
            first[name] = m.group(2).decode("utf-8", "replace").replace("\r", "").replace("\n", "")
    return first


def sort_fields(envelope: mime.Envelope, header: bytes = b"") -> SortFields:
    """The SortFields of a parsed message: its envelope and top-level header block."""
    subject, reply = base_subject_and_reply(envelope.subject)
    ids = message_ids(envelope.message_id)
    fields = _first_fields(header)
    return SortFields(
        subject,
        _mailbox_key(envelope.from_),
        _mailbox_key(envelope.to),
        _mailbox_key(envelope.cc),
        _display_key(envelope.from_),
        _display_key(envelope.to),
        sent_time(envelope.date),
        reply,
        ids[0] if ids else None,
        thread_references(fields.get("references"), fields.get("in-reply-to")),
    )
