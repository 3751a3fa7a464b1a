"""Helpers shared by the selected-state commands: resolving sequence sets to UIDs, and the
selected mailbox as the post office names it."""

from __future__ import annotations

from bisect import bisect_left

from elektromail.imap.args import atom
from elektromail.imap.dispatch import Bad
from elektromail.imap.seqset import parse_sequence_set
from elektromail.imap.tokens import quote_text
from elektromail.imap.view import MailboxView
from elektromail.postoffice import MailboxRef


def selected(session) -> MailboxRef:
    """The selected mailbox of `session` (logged in, a mailbox selected) for the post office."""
    view = session.view
    return MailboxRef(session.user.name, view.name, view.mailbox_id)


def resolve_uids(token: object, view: MailboxView, uid: bool) -> list[int]:
    """The UIDs a sequence set (or a UID set, after the UID prefix) names, ascending.

    A UID range with no message in it is not an error (RFC 9051 §6.4.9). A message sequence
    number above EXISTS is (RFC 9051 §9 seq-number); a range ending in `*` is clamped to the
    last message, as Dovecot does."""
    text = atom(token, "sequence set")
    if text.isdigit() and text.isascii() and text[0] != "0" and len(text) < 10:
        return _one_number(int(text), view, uid)  # most commands of a one-at-a-time client
    if text == "1:*":  # a sync client's every message
        if not uid and not view.uids:
            raise Bad("invalid message sequence number: the mailbox is empty")
        return list(view.uids)
    try:
        seqset = parse_sequence_set(text)
    except ValueError as e:
        raise Bad(f"invalid sequence set {quote_text(text)}: {e}") from None
    if seqset.saved:
        return view.saved_uids()
    if uid:
        return view.uids_in_uid_ranges(seqset.ranges(view.largest_uid()))
    if view.exists == 0:
        # RFC 9051 §9 seq-number: BAD for a number beyond the mailbox, "This includes "*"
        # if the selected mailbox is empty" (Dovecot: "Invalid messageset").
        raise Bad("invalid message sequence number: the mailbox is empty")
    for lo, hi in seqset.items:
        if lo is not None and hi is not None and max(lo, hi) > view.exists:
            raise Bad("invalid message sequence number")
    return view.uids_in_seq_ranges(seqset.ranges(view.exists))


def _one_number(number: int, view: MailboxView, uid: bool) -> list[int]:
    """`resolve_uids` of a sequence set that is one number (nz-number, below 10**9)."""
    uids = view.uids
    if uid:
        at = bisect_left(uids, number)
        return [number] if at < len(uids) and uids[at] == number else []
    if not uids:
        raise Bad("invalid message sequence number: the mailbox is empty")
    if number > len(uids):
        raise Bad("invalid message sequence number")
    return [uids[number - 1]]
