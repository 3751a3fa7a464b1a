"""In-process notifications: what changed in which mailbox, and which users or whole state went
away, for IMAP sessions, IDLE and HTTP waiters. Publishing is synchronous and never fails
because a subscriber did."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from twisted.logger import Logger

log = Logger()


@dataclass(frozen=True, slots=True)
class MessageAdded:
    user: str
    mailbox: str
    mailbox_id: int
    uid: int
    flags: tuple[str, ...]
    # How it came in: "smtp", "dsn" (a bounce), "inject" (HTTP), "append" (IMAP), or "copy" /
    # "move" for a copy of a message already announced (COPIED); webhooks skip those.
    source: str = ""
    # Stored by another process on the same PostgreSQL database (store/pgevents.py): this one's
    # sessions hear of it, but what happens once per message (webhooks, retention) happened
    # there.
    remote: bool = field(default=False, compare=False)


@dataclass(frozen=True, slots=True)
class FlagsChanged:
    user: str
    mailbox: str
    mailbox_id: int
    changes: tuple[tuple[int, tuple[str, ...]], ...]  # (uid, new flags)
    origin: object = None  # the session that made the change, which reports it itself
    modseqs: tuple[int, ...] = ()  # RFC 7162: each change's mod-sequence, as `changes`


@dataclass(frozen=True, slots=True)
class MessagesExpunged:
    user: str
    mailbox: str
    mailbox_id: int
    uids: tuple[int, ...]
    origin: object = None


@dataclass(frozen=True, slots=True)
class MailboxNameChanged:
    """A mailbox was created, deleted or renamed (with its subtree; `old_name` set then), for
    IMAP NOTIFY's MailboxName event (RFC 5465 §5.4)."""

    user: str
    name: str
    exists: bool  # False: deleted
    old_name: str | None = None
    origin: object = None


@dataclass(frozen=True, slots=True)
class SubscriptionChanged:
    """A name was subscribed or unsubscribed (RFC 5465 §5.5 SubscriptionChange)."""

    user: str
    name: str
    subscribed: bool
    origin: object = None


@dataclass(frozen=True, slots=True)
class UserDeleted:
    """The user and all its mail are gone; its sessions end."""

    user: str


@dataclass(frozen=True, slots=True)
class ServerReset:
    """Everything was replaced by the start state (new UIDVALIDITYs, runtime users gone):
    every logged-in session ends. With namespaces, a reset is of one of them: `users` names
    the users whose sessions end (None: everyone's)."""

    users: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class EventsMissed:
    """Events of other processes may have been missed (store/pgevents.py lost its connection to
    PostgreSQL and has it again): whoever shows a mailbox reads it again from the store."""


COPIED = ("copy", "move")  # MessageAdded.source of a message that is not new mail


def session_ended_by(event: object, user_name: str) -> str | None:
    """Why `event` ends a logged-in session of `user_name` (the stored spelling), or None: a
    reset ends every session of the users it names (all: None), a deleted user that user's.
    IMAP says it in its BYE, POP3 in its last -ERR."""
    if isinstance(event, ServerReset) and (event.users is None or user_name in event.users):
        return "Server reset to its start state"
    # both names are the stored spelling, so equality is the store's comparison
    if isinstance(event, UserDeleted) and event.user == user_name:
        return "User deleted"
    return None


MailboxEvent = MessageAdded | FlagsChanged | MessagesExpunged
# For isinstance: the events about one mailbox, which carry `mailbox_id`.
MAILBOX_EVENTS = (MessageAdded, FlagsChanged, MessagesExpunged)
# For isinstance: changes to a user's list of mailboxes or subscriptions.
LIST_EVENTS = (MailboxNameChanged, SubscriptionChanged)
Event = (
    MailboxEvent
    | MailboxNameChanged
    | SubscriptionChanged
    | UserDeleted
    | ServerReset
    | EventsMissed
)
Subscriber = Callable[[Event], None]


class Events:
    """A plain publish/subscribe hub; subscribers filter for what they care about."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        # True when other processes share the store and their events arrive here too
        # (store/pgevents.py): events may then come out of UID order, and views catch up by reading.
        self.shared = False

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add `subscriber`; the returned function removes it again."""
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, event: Event) -> None:
        for subscriber in tuple(self._subscribers):
            try:
                subscriber(event)
            except Exception:
                log.failure("event subscriber failed on {event!r}", event=event)
