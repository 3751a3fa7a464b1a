"""Mod-sequences (RFC 7162 CONDSTORE and QRESYNC): each change of a mailbox takes the next value
of its HIGHESTMODSEQ, which the changed messages carry; an expunge leaves (uid, modseq) behind.

Interaction helpers, called inside the transaction of the change itself, so a change costs one
statement more and no extra trip to the store thread. A mailbox starts at 1 and so does every
message stored before mod-sequences existed: a value is only ever compared with later ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twisted.internet.defer import Deferred

# RFC 7162 §7: mod-sequences are 63-bit unsigned (mod-sequence-valzer allows 0 in requests).
MAX_MODSEQ = 2**63 - 1


class ModseqOps:
    """The reads QRESYNC and SEARCH MODSEQ need. Mixed into Store, whose `_run` runs an
    interaction."""

    _run: Any

    def expunged_since(
        self, mailbox_id: int, modseq: int, uids: Sequence[int] | None = None
    ) -> Deferred[list[int]]:
        """The UIDs expunged from the mailbox after `modseq` (only among `uids` when given),
        ascending (RFC 7162 §3.2.5.1, VANISHED (EARLIER))."""
        return self._run(expunged_since, mailbox_id, modseq, None if uids is None else list(uids))

    def highest_modseq_of(self, mailbox_id: int, uids: Sequence[int]) -> Deferred[int]:
        """The largest mod-sequence among the messages `uids`; 0 when none exists."""
        return self._run(highest_modseq, mailbox_id, list(uids))


def next_modseq(cursor, mailbox_id: int) -> int:
    """Take the mailbox's next mod-sequence, for one change (a command's worth of messages)."""
    row = cursor.execute(
        "UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ?"
        " RETURNING highestmodseq",
        (mailbox_id,),
    ).fetchone()
    return row[0] if row else 0


def remember_expunged(cursor, mailbox_id: int, uids: Sequence[int]) -> int:
    """Note `uids` as expunged at a new mod-sequence (QRESYNC's VANISHED); returns it."""
    if not uids:
        return 0
    modseq = next_modseq(cursor, mailbox_id)
    cursor.executemany(
        "INSERT INTO expunged(mailbox_id, uid, modseq) VALUES (?, ?, ?)"
        " ON CONFLICT(mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq",
        [(mailbox_id, uid, modseq) for uid in uids],
    )
    return modseq


def expunged_since(cursor, mailbox_id: int, modseq: int, uids: Sequence[int] | None) -> list[int]:
    """The UIDs expunged from the mailbox after `modseq` (only among `uids` when given),
    ascending."""
    rows = cursor.execute(
        "SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid",
        (mailbox_id, modseq),
    )
    found = [uid for (uid,) in rows]
    if uids is None:
        return found
    wanted = set(uids)
    return [uid for uid in found if uid in wanted]


def highest_modseq(cursor, mailbox_id: int, uids: Sequence[int]) -> int:
    """The largest mod-sequence among the messages `uids` (0 when none exists): SEARCH's
    `(MODSEQ n)` (RFC 7162 §3.1.5)."""
    best = 0
    for start in range(0, len(uids), 500):
        chunk = uids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        row = cursor.execute(
            f"SELECT max(modseq) FROM messages WHERE mailbox_id = ? AND uid IN ({marks})",
            (mailbox_id, *chunk),
        ).fetchone()
        best = max(best, row[0] or 0)
    return best
