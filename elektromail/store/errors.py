"""Why a store operation was refused: the callers turn these into protocol answers."""

from __future__ import annotations


class StoreError(Exception):
    """A store operation refused for a reason the caller reports to its client."""


class UserExists(StoreError):
    pass


class MailboxExists(StoreError):
    pass


class NoSuchMailbox(StoreError):
    pass


class MailboxHasChildren(StoreError):
    """DELETE of a mailbox with inferior names (refused, as Dovecot does)."""


class MailboxIntoItself(StoreError):
    """RENAME of a mailbox to a name inside its own subtree."""


class NoSuchUser(StoreError):
    pass


class InvalidInput(StoreError, ValueError):
    """A user name, password, email address, mailbox name or flag the server cannot take
    (from the control API or a fixture); the message says which and why."""
