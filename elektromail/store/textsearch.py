"""SEARCH TEXT and BODY in SQL: the decoded text of each body (searchtext.full_text) is kept in
the search_text table the first time a TEXT or BODY search reads the body, and matched with
`instr()` from then on.

Decoding a body (MIME structure, transfer encodings, charsets) is most of what these keys
cost: measured at 10,000 messages of 4 KB, a scan that decodes every message on every search
took longer than Dovecot's, while `instr()` over the kept text answers in a few per cent of
that. The text is made lazily, not at delivery: most test mailboxes are never searched by
text, and SMTP's acknowledgement must not wait for it (a parse already waits, pending.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from elektromail import mime
from elektromail.searchtext import body_text, full_text, to_blob
from elektromail.store.errors import StoreUnavailable, unavailable

_CHUNK = 200  # bodies decoded and written per statement batch


def text_uids(
    cursor, mailbox_id: int, needle: str, *, headers: bool, uids: Sequence[int] | None
) -> list[int]:
    """The UIDs of the mailbox's messages (of `uids` only, when given) whose TEXT (`headers`)
    or BODY text holds the casefolded `needle`. The mailbox's bodies are parsed already."""
    restrict, params = _restriction(uids)
    unstored = _fill(cursor, mailbox_id, restrict, params)
    target = to_blob(needle)
    column = "t.text" if headers else "substr(t.text, t.body_at + 1)"
    rows = cursor.execute(
        f"SELECT m.uid FROM messages m JOIN search_text t ON t.body_id = m.body_id"
        f" WHERE m.mailbox_id = ? {restrict} AND instr({column}, ?) > 0",
        (mailbox_id, *params, target),
    )
    found = [uid for (uid,) in rows]
    if unstored:  # the database could not keep them: match what was decoded here
        found.extend(
            uid
            for uid, (text, body_at) in _unstored_by_uid(
                cursor, mailbox_id, unstored, restrict, params
            ).items()
            if target in (text if headers else text[body_at:])
        )
    # ascending: SQLite's plan gives the rows so, PostgreSQL's need not
    return sorted(found)


def _restriction(uids: Sequence[int] | None) -> tuple[str, tuple]:
    if uids is None:
        return "", ()
    # One parameter whatever the count (a list of `?` would meet SQLite's variable limit).
    return "AND m.uid IN (SELECT value FROM json_each(?))", (json.dumps(list(uids)),)


def _fill(cursor, mailbox_id: int, restrict: str, params: tuple) -> dict[int, tuple[bytes, int]]:
    """Decode and keep the text of the selected messages' bodies that have none yet. Returns
    the texts the database could not take (full, read-only), by body id; else {}."""
    missing = [
        body_id
        for (body_id,) in cursor.execute(
            f"SELECT DISTINCT m.body_id FROM messages m WHERE m.mailbox_id = ? {restrict}"
            " AND NOT EXISTS (SELECT 1 FROM search_text t WHERE t.body_id = m.body_id)",
            (mailbox_id, *params),
        ).fetchall()
    ]
    unstored: dict[int, tuple[bytes, int]] = {}
    for start in range(0, len(missing), _CHUNK):
        chunk = missing[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = cursor.execute(
            f"SELECT id, raw, structure FROM bodies WHERE id IN ({marks})", chunk
        ).fetchall()
        texts = {body_id: _texts(bytes(raw), structure) for body_id, raw, structure in rows}
        if unstored or not _store(cursor, texts):
            unstored.update(texts)
    return unstored


def _texts(raw: bytes, structure: str) -> tuple[bytes, int]:
    """(the body's TEXT text as UTF-8, the byte where its BODY text starts)."""
    parsed = mime.from_json(structure)
    body = body_text(raw, parsed)
    text = to_blob(full_text(raw, parsed, body))
    return text, len(text) - len(to_blob(body))


def _store(cursor, texts: dict[int, tuple[bytes, int]]) -> bool:
    """Write the texts; False (and nothing written) when the database cannot take them."""
    cursor.execute("SAVEPOINT search_text")
    try:
        cursor.executemany(
            "INSERT INTO search_text(body_id, text, body_at) VALUES (?, ?, ?)",
            [(body_id, text, body_at) for body_id, (text, body_at) in texts.items()],
        )
    except StoreUnavailable:
        raise
    except Exception as e:
        if unavailable(e) is None:
            raise
        cursor.execute("ROLLBACK TO search_text")
        cursor.execute("RELEASE search_text")
        return False
    cursor.execute("RELEASE search_text")
    return True


def _unstored_by_uid(
    cursor, mailbox_id: int, unstored: dict[int, tuple[bytes, int]], restrict: str, params: tuple
) -> dict[int, tuple[bytes, int]]:
    rows = cursor.execute(
        f"SELECT m.uid, m.body_id FROM messages m WHERE m.mailbox_id = ? {restrict}"
        " AND m.body_id IN (SELECT value FROM json_each(?))",
        (mailbox_id, *params, json.dumps(list(unstored))),
    )
    return {uid: unstored[body_id] for uid, body_id in rows}
