"""Read-only store queries across users and mailboxes, for the control API: messages with what
a listing shows of them, one message with its bytes, and who has mail.

A mixin of `Store` (which provides `_run`); each query is one statement, whatever the count.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred

from elektromail.flags import normalize_flags
from elektromail.names import canonical_mailbox
from elektromail.store.db import _flags_from_db
from elektromail.store.errors import StoreUnavailable
from elektromail.store.messages import _delete_messages
from elektromail.store.modseq import next_modseq
from elektromail.store.namespaces import Scope, scope_condition
from elektromail.store.pending import Parsed, any_unparsed, parse_all, parse_bodies
from elektromail.store.rows import Render

_LIKE_SPECIAL_RE = re.compile(r"[\\%_]")


@dataclass(frozen=True, slots=True)
class MessageSummary:
    """One stored message. `structure` is the JSON of mime.to_json (envelope and body
    structure); `raw` is None unless asked for (get_message)."""

    uid: int
    user: str
    mailbox: str
    flags: tuple[str, ...]
    internal_date: float
    tz_minutes: int
    size: int
    structure: str
    raw: bytes | None = None
    attachments: int = 0
    preview: str = ""  # the IMAP PREVIEW text (RFC 8970), made when the body was parsed
    # RFC 7162: the mod-sequence of its last change in its mailbox (not part of equality)
    modseq: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class MessagePage:
    """One page of a listing and how many messages match in all."""

    total: int
    messages: list[MessageSummary]


@dataclass(frozen=True, slots=True)
class MailboxSummary:
    user: str
    mailbox: str
    messages: int
    unseen: int


@dataclass(frozen=True, slots=True)
class Located:
    """A message found by (user, mailbox, uid), with the names as stored."""

    user: str
    mailbox: str
    mailbox_id: int
    uid: int
    flags: tuple[str, ...]
    # RFC 7162: the mod-sequence of its last change (a version stamp, not part of equality)
    modseq: int = field(default=0, compare=False)


_FROM = (
    " FROM messages m"
    " JOIN mailboxes b ON b.id = m.mailbox_id"
    " JOIN users u ON u.id = b.user_id"
    " JOIN bodies bo ON bo.id = m.body_id"
    " LEFT JOIN body_index bi ON bi.body_id = m.body_id"
)
_SELECT = (
    "SELECT m.uid, u.name, b.name, m.flags, m.internal_date, m.tz_minutes, m.size,"
    " bo.structure, coalesce(bi.attachments, 0), m.body_id, m.modseq,"
    " coalesce(bi.preview, ''){raw}" + _FROM
)


class SummaryOps:
    """Mixed into Store, whose `_run` runs an interaction."""

    _run: Any
    render: Render | None

    def list_messages(
        self, user: str | None = None, mailbox: str | None = None, scope: Scope = None
    ) -> Deferred[list[MessageSummary]]:
        """Every message, or those of `user` (any case) and/or of mailboxes named `mailbox`
        (INBOX in any case), oldest stored first; `scope`: of its users only
        (store/namespaces.py)."""
        return self._run(_list_messages, self.render, user, mailbox, None, False, scope)

    def page_messages(
        self,
        user: str | None,
        mailbox: str | None,
        text: str | None,
        newest_first: bool,
        limit: int,
        offset: int,
        scope: Scope = None,
    ) -> Deferred[MessagePage]:
        """`limit` messages from `offset` of those `list_messages` gives (`text`: only those
        whose subject, addresses or body text contain it, any case), and the matching total."""
        return self._run(
            _page_messages, self.render, user, mailbox, text, newest_first, limit, offset, scope
        )

    def search_messages(
        self,
        user: str | None,
        mailbox: str | None,
        text: str | None,
        newest_first: bool,
        scope: Scope = None,
    ) -> Deferred[list[MessageSummary]]:
        """`list_messages` narrowed by `text` as in `page_messages`, in either order."""
        return self._run(_list_messages, self.render, user, mailbox, text, newest_first, scope)

    def mailbox_summaries(
        self, user: str | None = None, scope: Scope = None
    ) -> Deferred[list[MailboxSummary]]:
        """Every mailbox (of `user`, any case) with its message and unseen counts; users in
        the order they were made, INBOX first, then by name."""
        return self._run(_mailbox_summaries, user, scope)

    def change_flags(
        self, user: str, mailbox: str, uid: int, add: Sequence[str], remove: Sequence[str]
    ) -> Deferred[Located | None]:
        """Add then remove flags (any case) of one message; fires with it as it is now, or
        None when the user, mailbox or UID does not exist."""
        return self._run(_change_flags, user, mailbox, uid, tuple(add), tuple(remove))

    def remove_message(self, user: str, mailbox: str, uid: int) -> Deferred[Located | None]:
        """Delete one message (its body too when nothing else shares it); fires with what it
        was, or None when it does not exist."""
        return self._run(_remove_message, user, mailbox, uid)

    def get_message(
        self, user: str, mailbox: str, uid: int, *, raw: bool = True
    ) -> Deferred[MessageSummary | None]:
        """One message, with its raw bytes unless `raw` is False; None when the user, mailbox
        or UID does not exist."""
        return self._run(_get_message, self.render, user, mailbox, uid, raw)

    def get_transcript(
        self, user: str, mailbox: str, uid: int
    ) -> Deferred[tuple[bytes | None] | None]:
        """(the stored SMTP transcript of a message, or None when it has none,) or None when
        the user, mailbox or UID does not exist."""
        return self._run(_get_transcript, user, mailbox, uid)

    def users_with_mail(self, scope: Scope = None) -> Deferred[list[str]]:
        """Names of the users who have at least one message, in the order they were made."""
        return self._run(_users_with_mail, scope)


def _summary(row, parsed: Parsed) -> MessageSummary:
    """A row of _SELECT; a body this interaction parsed (see pending.Parsed) takes its
    structure and attachment count from the parse."""
    raw = row[12] if len(row) > 12 else None
    structure, attachments, preview = row[7], row[8], row[11]
    found = parsed.get(row[9])
    if found is not None:
        assert found.structure is not None and found.index is not None
        structure, attachments = found.structure, found.index.attachments
        preview = found.index.preview or ""
    return MessageSummary(
        row[0],
        row[1],
        row[2],
        _flags_from_db(row[3]),
        row[4],
        row[5],
        row[6],
        structure,
        bytes(raw) if raw is not None else None,
        attachments,
        preview=preview,
        modseq=row[10],
    )


def _where(user, mailbox, text=None, scope: Scope = None) -> tuple[str, list[Any]]:
    conditions, params = [], []
    condition, scoped = scope_condition(scope)
    if condition is not None:
        conditions.append(condition)
        params.extend(scoped)
    if user is not None:
        conditions.append("u.name = ?")
        params.append(user)
    if mailbox is not None:
        conditions.append("b.name = ?")
        params.append(canonical_mailbox(mailbox))
    if text:
        # LIKE runs about twice as fast as instr() here; its ASCII case-insensitivity changes
        # nothing on case-folded text, and the needle's own % and _ are escaped.
        conditions.append("bi.search LIKE ? ESCAPE '\\'")
        params.append("%" + _LIKE_SPECIAL_RE.sub(r"\\\g<0>", text.casefold()) + "%")
    return (f" WHERE {' AND '.join(conditions)}" if conditions else ""), params


def _list_messages(
    cursor, render, user, mailbox, text=None, newest_first=False, scope=None
) -> list[MessageSummary]:
    parsed = _parse_for_listing(cursor, render, text)
    where, params = _where(user, mailbox, text, scope)
    # Row ids grow with every stored message: their order is the order mail arrived in.
    order = " ORDER BY m.id DESC" if newest_first else " ORDER BY m.id"
    rows = cursor.execute(_SELECT.format(raw="") + where + order, params)
    return [_summary(row, parsed) for row in rows]


def _parse_for_listing(cursor, render, text: str | None) -> Parsed:
    """Every waiting body parsed: a listing may show any of them."""
    parsed = parse_all(cursor, render)
    if text and parsed and any_unparsed(cursor):
        # The parses could not be stored, so the search index lacks them.
        raise StoreUnavailable("the search index cannot be written")
    return parsed


def _page_messages(
    cursor, render, user, mailbox, text, newest_first, limit, offset, scope=None
) -> MessagePage:
    parsed = _parse_for_listing(cursor, render, text)
    where, params = _where(user, mailbox, text, scope)
    order = " ORDER BY m.id DESC" if newest_first else " ORDER BY m.id"
    matching = (
        " FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
        " JOIN users u ON u.id = b.user_id"
        + (" JOIN body_index bi ON bi.body_id = m.body_id" if text else "")
        + where
    )
    if text:  # one scan of the search text gives both the total and the page
        ids = [row[0] for row in cursor.execute("SELECT m.id" + matching + order, params)]
        page = ids[offset : offset + limit]
        if not page:
            return MessagePage(len(ids), [])
        marks = ",".join("?" * len(page))
        rows = cursor.execute(_SELECT.format(raw="") + f" WHERE m.id IN ({marks})" + order, page)
        return MessagePage(len(ids), [_summary(row, parsed) for row in rows])
    # The count reads no body: bodies join only for the page itself.
    total = cursor.execute("SELECT count(*)" + matching, params).fetchone()[0]
    rows = cursor.execute(
        _SELECT.format(raw="") + where + order + " LIMIT ? OFFSET ?", [*params, limit, offset]
    )
    return MessagePage(total, [_summary(row, parsed) for row in rows])


def _mailbox_summaries(cursor, user, scope=None) -> list[MailboxSummary]:
    where, params = _where(user, None, None, scope)
    rows = cursor.execute(
        "SELECT u.name, b.name, count(m.id),"
        " coalesce(sum(m.id IS NOT NULL AND instr(m.flags, '\\Seen') = 0), 0)"
        " FROM mailboxes b JOIN users u ON u.id = b.user_id"
        " LEFT JOIN messages m ON m.mailbox_id = b.id "
        + where
        + " GROUP BY u.id, b.id ORDER BY u.id, b.name != 'INBOX', b.name",
        params,
    )
    return [MailboxSummary(*row) for row in rows]


def _locate(cursor, user, mailbox, uid) -> Located | None:
    row = cursor.execute(
        "SELECT u.name, b.name, b.id, m.flags, m.modseq FROM messages m"
        " JOIN mailboxes b ON b.id = m.mailbox_id JOIN users u ON u.id = b.user_id"
        " WHERE u.name = ? AND b.name = ? AND m.uid = ?",
        (user, canonical_mailbox(mailbox), uid),
    ).fetchone()
    if row is None:
        return None
    return Located(row[0], row[1], row[2], uid, _flags_from_db(row[3]), row[4])


def _change_flags(cursor, user, mailbox, uid, add, remove) -> Located | None:
    found = _locate(cursor, user, mailbox, uid)
    if found is None:
        return None
    dropped = {flag.lower() for flag in remove}
    kept = [flag for flag in found.flags if flag.lower() not in dropped]
    flags = normalize_flags([*kept, *add])
    modseq = found.modseq
    if flags != found.flags:
        modseq = next_modseq(cursor, found.mailbox_id)
        cursor.execute(
            "UPDATE messages SET flags = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?",
            (" ".join(flags), modseq, found.mailbox_id, uid),
        )
    return Located(found.user, found.mailbox, found.mailbox_id, uid, flags, modseq)


def _remove_message(cursor, user, mailbox, uid) -> Located | None:
    found = _locate(cursor, user, mailbox, uid)
    if found is not None:
        _delete_messages(cursor, found.mailbox_id, [uid])
    return found


def _get_message(cursor, render, user, mailbox, uid, raw=True) -> MessageSummary | None:
    parsed: Parsed = {}
    if any_unparsed(cursor):
        found = cursor.execute(
            "SELECT m.body_id FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
            " JOIN users u ON u.id = b.user_id WHERE u.name = ? AND b.name = ? AND m.uid = ?",
            (user, canonical_mailbox(mailbox), uid),
        ).fetchone()
        if found is not None:
            parsed = parse_bodies(cursor, render, found)
    row = cursor.execute(
        _SELECT.format(raw=", bo.raw" if raw else "")
        + " WHERE u.name = ? AND b.name = ? AND m.uid = ?",
        (user, canonical_mailbox(mailbox), uid),
    ).fetchone()
    return _summary(row, parsed) if row else None


def _get_transcript(cursor, user, mailbox, uid) -> tuple[bytes | None] | None:
    row = cursor.execute(
        "SELECT bo.transcript FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
        " JOIN users u ON u.id = b.user_id JOIN bodies bo ON bo.id = m.body_id"
        " WHERE u.name = ? AND b.name = ? AND m.uid = ?",
        (user, canonical_mailbox(mailbox), uid),
    ).fetchone()
    if row is None:
        return None
    return (None if row[0] is None else bytes(row[0]),)


def _users_with_mail(cursor, scope=None) -> list[str]:
    condition, params = scope_condition(scope)
    rows = cursor.execute(
        "SELECT u.name FROM users u WHERE EXISTS (SELECT 1 FROM mailboxes b"
        " JOIN messages m ON m.mailbox_id = b.id WHERE b.user_id = u.id)"
        + (f" AND {condition}" if condition else "")
        + " ORDER BY u.id",
        params,
    )
    return [row[0] for row in rows]
