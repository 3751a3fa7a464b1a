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

# The expunged UIDs kept per mailbox for VANISHED (EARLIER). A server left running for weeks
# with --max-messages expunges without end, and Dovecot too keeps a bounded history (its
# transaction log rotates). Once a mailbox holds over EXPUNGES_KEPT + EXPUNGES_SLACK of them,
# the oldest go, down to at most EXPUNGES_KEPT (a trim per SLACK expunges, not per expunge),
# and the mailbox's expunged_floor remembers the last mod-sequence forgotten: a client asking
# since an earlier one is told of every UID of its set that is gone (RFC 7162 §3.2.6, the
# <minmodseq> note), which is correct, only longer.
EXPUNGES_KEPT = 10_000
EXPUNGES_SLACK = 1_000


class ModseqOps:
    """The reads QRESYNC and SEARCH MODSEQ need. Mixed into Store, whose `_run` runs an
    interaction."""

    _run: Any

    def expunged_since(
        self, mailbox_id: int, modseq: int, uids: Sequence[int] | None = None
    ) -> Deferred[list[int] | None]:
        """The UIDs expunged from the mailbox after `modseq` (only among `uids` when given),
        ascending (RFC 7162 §3.2.5.1, VANISHED (EARLIER)); None when the mailbox's history no
        longer reaches back to `modseq` (every UID no longer there is to be reported)."""
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
    (kept,) = cursor.execute(
        "UPDATE mailboxes SET expunged_count = expunged_count + ? WHERE id = ?"
        " RETURNING expunged_count",
        (len(uids), mailbox_id),
    ).fetchone() or (0,)
    if kept > EXPUNGES_KEPT + EXPUNGES_SLACK:
        forget_oldest_expunges(cursor, mailbox_id, EXPUNGES_KEPT)
    return modseq


def forget_oldest_expunges(cursor, mailbox_id: int, keep: int) -> None:
    """Keep at most the newest `keep` expunged UIDs of the mailbox (fewer when the UIDs of
    one expunge straddle the cut: an expunge is forgotten whole), and raise its floor."""
    row = cursor.execute(
        "SELECT modseq FROM expunged INDEXED BY expunged_modseq WHERE mailbox_id = ?"
        " ORDER BY modseq DESC LIMIT 1 OFFSET ?",
        (mailbox_id, keep),
    ).fetchone()
    if row is None:
        return
    cut = row[0]
    gone = cursor.execute(
        "DELETE FROM expunged WHERE mailbox_id = ? AND modseq <= ?", (mailbox_id, cut)
    ).rowcount
    cursor.execute(
        "UPDATE mailboxes SET expunged_floor = max(expunged_floor, ?),"
        " expunged_count = max(expunged_count - ?, 0) WHERE id = ?",
        (cut, gone, mailbox_id),
    )


def forget_expunges_of(cursor, mailbox_ids: Sequence[int]) -> None:
    """A purge empties these mailboxes at once: rather than remember every UID, each takes a
    new mod-sequence and forgets its whole history up to it, so that a QRESYNC client from
    before the purge is told of every UID gone (expunged_since answers None for it)."""
    for start in range(0, len(mailbox_ids), 500):
        chunk = list(mailbox_ids[start : start + 500])
        marks = ",".join("?" * len(chunk))
        cursor.execute(f"DELETE FROM expunged WHERE mailbox_id IN ({marks})", chunk)
        cursor.execute(
            "UPDATE mailboxes SET highestmodseq = highestmodseq + 1,"
            " expunged_floor = highestmodseq + 1, expunged_count = 0"
            f" WHERE id IN ({marks})",
            chunk,
        )


def expunged_since(
    cursor, mailbox_id: int, modseq: int, uids: Sequence[int] | None
) -> list[int] | None:
    """The UIDs expunged from the mailbox after `modseq` (only among `uids` when given),
    ascending; None when expunges after `modseq` may have been forgotten."""
    floor = cursor.execute(
        "SELECT expunged_floor FROM mailboxes WHERE id = ?", (mailbox_id,)
    ).fetchone()
    if floor is not None and modseq < floor[0]:
        return None
    rows = cursor.execute(
        "SELECT uid FROM expunged INDEXED BY expunged_modseq WHERE mailbox_id = ? AND modseq > ?",
        (mailbox_id, modseq),
    )
    found = sorted(uid for (uid,) in rows)
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
