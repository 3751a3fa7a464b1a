"""IMAP NOTIFY (RFC 5465): the request a NOTIFY command makes, parsed from its arguments, and
which events it asks for about which mailbox. Pure code; commands/notify.py acts on it."""

from __future__ import annotations

from dataclasses import dataclass

from elektromail.imap import format as fmt
from elektromail.imap.args import astring, mailbox_name
from elektromail.imap.dispatch import Bad, No
from elektromail.imap.fetchitems import parse_fetch_items
from elektromail.imap.session import Dialect
from elektromail.imap.tokens import Atom, shown
from elektromail.names import DELIMITER

MESSAGE_NEW = "MessageNew"
MESSAGE_EXPUNGE = "MessageExpunge"
FLAG_CHANGE = "FlagChange"
ANNOTATION_CHANGE = "AnnotationChange"
MAILBOX_NAME = "MailboxName"
SUBSCRIPTION_CHANGE = "SubscriptionChange"
MAILBOX_METADATA_CHANGE = "MailboxMetadataChange"
SERVER_METADATA_CHANGE = "ServerMetadataChange"

# RFC 5465 §8 message-event; the others are mailbox-event and user-event
MESSAGE_EVENTS = frozenset({MESSAGE_NEW, MESSAGE_EXPUNGE, FLAG_CHANGE, ANNOTATION_CHANGE})
# In the order BADEVENT lists them. No ANNOTATE or METADATA here, so no events of theirs
# (RFC 5465 §5.6, §5.7: optional without METADATA; Dovecot refuses them too).
SUPPORTED_EVENTS = (MESSAGE_NEW, MESSAGE_EXPUNGE, FLAG_CHANGE, MAILBOX_NAME, SUBSCRIPTION_CHANGE)
_CANONICAL = {
    name.lower(): name
    for name in (
        *SUPPORTED_EVENTS,
        ANNOTATION_CHANGE,
        MAILBOX_METADATA_CHANGE,
        SERVER_METADATA_CHANGE,
    )
}

SELECTED = "SELECTED"
SELECTED_DELAYED = "SELECTED-DELAYED"
INBOXES = "INBOXES"
PERSONAL = "PERSONAL"
SUBSCRIBED = "SUBSCRIBED"
SUBTREE = "SUBTREE"
MAILBOXES = "MAILBOXES"
_NAMED = frozenset({SUBTREE, MAILBOXES})
_OTHER = frozenset({INBOXES, PERSONAL, SUBSCRIBED, SUBTREE, MAILBOXES})

# Dovecot's limit (IMAP_NOTIFY_MAX_NAMES_PER_NS): beyond it NO [NOTIFICATIONOVERFLOW]
MAX_MAILBOX_NAMES = 100


@dataclass(frozen=True, slots=True)
class SelectedFilter:
    """The events asked for about the selected mailbox (RFC 5465 §6.1); `delayed`:
    SELECTED-DELAYED, expunges wait for a command that may report them (§6.1.2)."""

    events: frozenset[str]
    delayed: bool = False
    # MessageNew's fetch-att list as sent (checked): a new message's unsolicited FETCH (§5.2)
    fetch: tuple = ()


@dataclass(frozen=True, slots=True)
class MailboxFilter:
    """One event group about other mailboxes (RFC 5465 §6.2-§6.6)."""

    kind: str
    names: tuple[str, ...]
    events: frozenset[str]

    def matches(self, name: str, *, subscribed: bool) -> bool:
        if self.kind in (INBOXES, PERSONAL):
            # every mailbox is personal here, and mail may be delivered to any of them (rules,
            # plus-addressing): "inboxes" is "personal" (§6.3, as Dovecot treats it)
            return True
        if self.kind == SUBSCRIBED:
            return subscribed
        if self.kind == SUBTREE:
            return any(name == top or name.startswith(top + DELIMITER) for top in self.names)
        return name in self.names  # MAILBOXES: no wildcards (§6.6)


@dataclass(frozen=True, slots=True)
class NotifyRequest:
    """A NOTIFY SET (or NONE: no groups, nothing about the selected mailbox)."""

    status: bool = False
    selected: SelectedFilter | None = None
    groups: tuple[MailboxFilter, ...] = ()

    @property
    def selected_events(self) -> frozenset[str]:
        """No SELECTED filter is SELECTED NONE (§3.1)."""
        return self.selected.events if self.selected is not None else frozenset()

    def events_for(self, name: str, *, subscribed: bool) -> frozenset[str]:
        """What is asked for about `name` when it is not the selected mailbox."""
        wanted: set[str] = set()
        for group in self.groups:
            if group.matches(name, subscribed=subscribed):
                wanted |= group.events
        return frozenset(wanted)

    @property
    def watches_subscriptions(self) -> bool:
        return any(group.kind == SUBSCRIBED for group in self.groups)

    @property
    def uses_flag_change(self) -> bool:
        if FLAG_CHANGE in self.selected_events:
            return True
        return any(FLAG_CHANGE in group.events for group in self.groups)


NONE_REQUEST = NotifyRequest()


def parse_notify(args: list, dialect: Dialect) -> NotifyRequest:
    """NOTIFY's arguments (RFC 5465 §8) into a request: BAD when malformed, NO [BADEVENT ...]
    for an event not supported here, NO [NOTIFICATIONOVERFLOW] for too many names."""
    if not args or not isinstance(args[0], Atom):
        raise Bad("expected NOTIFY SET or NOTIFY NONE")
    verb = args[0].upper()
    if verb == "NONE":
        if len(args) != 1:
            raise Bad("NOTIFY NONE takes no arguments")
        return NONE_REQUEST
    if verb != "SET":
        raise Bad(f"expected NOTIFY SET or NOTIFY NONE, not {shown(args[0])}")
    rest = args[1:]
    status = bool(rest) and isinstance(rest[0], Atom) and rest[0].upper() == "STATUS"
    if status:
        rest = rest[1:]
    if not rest:
        raise Bad("NOTIFY SET needs at least one event group")  # §8 event-groups
    selected: SelectedFilter | None = None
    groups: list[MailboxFilter] = []
    used: set[str] = set()
    for token in rest:
        if not isinstance(token, list) or not token or not isinstance(token[0], Atom):
            raise Bad(f"expected an event group (filter events), not {shown(token)}")
        kind = token[0].upper()
        if kind in (SELECTED, SELECTED_DELAYED):
            if selected is not None:
                raise Bad("only one SELECTED or SELECTED-DELAYED filter")  # §6.1
            selected = _selected_filter(token[1:], kind == SELECTED_DELAYED, dialect, used)
        elif kind in _OTHER:
            group = _mailbox_filter(kind, token[1:], dialect, used)
            if group is not None:
                groups.append(group)
        else:
            raise Bad(f"unknown NOTIFY filter {shown(token[0])}")
    unsupported = used - set(SUPPORTED_EVENTS)
    if unsupported:
        # §3.1: "MUST refuse the command with a tagged NO response (not a BAD). This response
        # SHOULD contain the BADEVENT response code, which MUST list names of all events
        # supported by the server."
        supported = "(" + " ".join(SUPPORTED_EVENTS) + ")"
        raise No("Unsupported NOTIFY events", fmt.format_response_code(fmt.BADEVENT, supported))
    if sum(len(group.names) for group in groups) > MAX_MAILBOX_NAMES:
        raise No("Too many mailbox names", fmt.NOTIFICATIONOVERFLOW)
    return NotifyRequest(status=status, selected=selected, groups=tuple(groups))


def _selected_filter(
    rest: list, delayed: bool, dialect: Dialect, used: set[str]
) -> SelectedFilter | None:
    if len(rest) != 1:
        raise Bad("expected SELECTED followed by its events")
    events, fetch = _events(rest[0], dialect, used, selected=True)
    if events is None:
        return SelectedFilter(frozenset(), delayed)
    if not events <= MESSAGE_EVENTS:
        # §6.1: "It is an error to specify other types of events with either the SELECTED or
        # the SELECTED-DELAYED selector."
        raise Bad("only message events for the selected mailbox")
    _check_pairs(events)
    return SelectedFilter(events, delayed, fetch)


def _mailbox_filter(
    kind: str, rest: list, dialect: Dialect, used: set[str]
) -> MailboxFilter | None:
    names: tuple[str, ...] = ()
    if kind in _NAMED:
        if not rest:
            raise Bad(f"{kind} needs one or more mailbox names")
        names = _mailbox_names(rest[0], dialect)
        rest = rest[1:]
    if len(rest) != 1:
        raise Bad(f"expected {kind} followed by its events")
    events, _ = _events(rest[0], dialect, used, selected=False)
    if events is None:  # NONE: as if the group was not there
        return None
    # §5 asks for MessageNew and MessageExpunge together (and with FlagChange) in every group;
    # for other mailboxes it is not enforced, as in the reference Dovecot (2.3), whose
    # behaviour imaptest's notify script checks. It is for the selected mailbox.
    return MailboxFilter(kind, names, events)


def _mailbox_names(token: object, dialect: Dialect) -> tuple[str, ...]:
    if isinstance(token, list):
        if not token:
            raise Bad("empty list of mailbox names")
        items = token
    else:
        items = [token]
    names = []
    for item in items:
        if isinstance(item, list):
            raise Bad("a mailbox name must be a string")
        astring(item, "mailbox name")
        names.append(mailbox_name(item, dialect))
    return tuple(dict.fromkeys(names))


def _events(
    token: object, dialect: Dialect, used: set[str], *, selected: bool
) -> tuple[frozenset[str] | None, tuple]:
    """An `events` production: None for NONE, else the event names and MessageNew's fetch-att
    list (only for the selected filter, §8)."""
    if isinstance(token, Atom) and token.upper() == "NONE":
        return None, ()
    if not isinstance(token, list) or not token:
        raise Bad(f"expected a list of events or NONE, not {shown(token)}")
    events: set[str] = set()
    fetch: tuple = ()
    i = 0
    while i < len(token):
        item = token[i]
        if not isinstance(item, Atom):
            raise Bad(f"expected an event name, not {shown(item)}")
        name = _CANONICAL.get(item.lower())
        if name is None:  # an event-ext (§8): valid syntax, not supported here
            name = str(item)
        events.add(name)
        used.add(name)
        if name == MESSAGE_NEW and i + 1 < len(token) and isinstance(token[i + 1], list):
            if not selected:
                raise Bad("MessageNew's fetch attributes only for the selected mailbox")
            fetch = _fetch_items(token[i + 1], dialect)
            i += 1
        i += 1
    return frozenset(events), fetch


def _fetch_items(token: list, dialect: Dialect) -> tuple:
    """The fetch-att list, checked as FETCH checks it, kept as sent for FETCH to run."""
    if not token:
        raise Bad("empty fetch attribute list")
    try:
        parse_fetch_items([token], rev2=dialect.rev2)
    except ValueError as e:
        raise Bad(f"invalid fetch attributes: {e}") from None
    return tuple(token)


def _check_pairs(events: frozenset[str]) -> None:
    """§5: "If one of MessageNew or MessageExpunge is specified, then both events MUST be
    specified"; "If the FlagChange and/or AnnotationChange events are specified, MessageNew
    and MessageExpunge MUST also be specified". Otherwise BAD."""
    new, expunge = MESSAGE_NEW in events, MESSAGE_EXPUNGE in events
    if new != expunge:
        raise Bad("MessageNew and MessageExpunge must be together")
    if events & {FLAG_CHANGE, ANNOTATION_CHANGE} and not new:
        raise Bad("FlagChange requires MessageNew and MessageExpunge")
