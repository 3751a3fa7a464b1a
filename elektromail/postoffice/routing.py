"""Addresses and places: how an address names a user (plus-addressing, quoting), where a stored
copy went, and the mailbox a change happened in, as events name it. Pure code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from elektromail.names import INBOX

# Created for every user: real clients look for these special-use mailboxes (RFC 6154).
DEFAULT_MAILBOXES: tuple[tuple[str, str | None], ...] = (
    (INBOX, None),
    ("Sent", "\\Sent"),
    ("Drafts", "\\Drafts"),
    ("Trash", "\\Trash"),
    ("Junk", "\\Junk"),
    ("Archive", "\\Archive"),
)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One stored copy: which recipient address reached which user's mailbox under which UID."""

    recipient: str
    user: str
    mailbox: str
    uid: int


@dataclass(frozen=True, slots=True)
class MailboxRef:
    """A mailbox as the events about it name it: its owner, its name as stored, and its id
    (which outlives a rename)."""

    user: str
    name: str
    id: int


def describe(deliveries: Sequence[Delivery]) -> str:
    """`bob/INBOX#3, alice/INBOX#7`: where copies went, for logs."""
    return ", ".join(f"{d.user}/{d.mailbox}#{d.uid}" for d in deliveries)


def split_address(address: str) -> tuple[str, str]:
    """`<Bob+tag@Example.COM>` -> ("Bob+tag", "Example.COM"); no domain gives ""."""
    address = address.strip()
    if address.startswith("<") and address.endswith(">"):
        address = address[1:-1].strip()
    local, at, domain = address.rpartition("@")
    if not at:
        return address, ""
    if len(local) >= 2 and local[0] == local[-1] == '"':
        local = local[1:-1]
    return local, domain


def strip_tag(local: str) -> str:
    """Plus-addressing: `bob+tag` reaches bob (a leading `+` is part of the name)."""
    base, plus, _tag = local.partition("+")
    return base if plus and base else local
