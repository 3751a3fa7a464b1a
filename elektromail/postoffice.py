"""What the server does with mail: seed users, route an address to a user, deliver, bounce,
log in, keep the delivery rules in force, and the control plane's verbs (reset to the start
state, purge, inject, add and delete users).

Every path that delivers by address (SMTP, bounces) goes through `PostOffice.deliver`, so
routing and "acknowledged means stored" hold in one place; `append` and `inject` store into a
named user's mailbox.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from twisted.internet.defer import inlineCallbacks
from twisted.logger import Logger

from elektromail import dsn, mailtext, mime
from elektromail.config import Settings, UserSpec
from elektromail.events import (
    Events,
    FlagsChanged,
    MessageAdded,
    MessagesExpunged,
    ServerReset,
    UserDeleted,
)
from elektromail.flags import normalize_flags
from elektromail.rules import RuleSet
from elektromail.store import (
    Baseline,
    BaselineMailbox,
    BaselineMessage,
    BaselineUser,
    NoSuchMailbox,
    Store,
    UserExists,
    UserRow,
)
from elektromail.store.errors import StoreUnavailable
from elektromail.store.names import (
    check_email,
    check_flags,
    check_mailbox_name,
    check_password,
    check_user_name,
    fold,
)

log = Logger()

INBOX = "INBOX"
# Routing an address costs two store round trips (email, then name), about as much as storing
# the message itself; the post office remembers answers until users change (`forget_routes`).
ROUTE_CACHE_SIZE = 10_000
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


class PostOffice:
    """Users, routing and delivery on top of the store; publishes what changed to `events`."""

    def __init__(
        self, store: Store, events: Events, settings: Settings, rules: RuleSet | None = None
    ) -> None:
        self.store = store
        self.events = events
        self.settings = settings
        self.default_mailboxes = (
            DEFAULT_MAILBOXES if settings.special_use_mailboxes else DEFAULT_MAILBOXES[:1]
        )
        # The delivery rules in force. Readers take the attribute once per decision and a new
        # RuleSet replaces it whole, so a change never shows half-applied.
        self.rules: RuleSet = rules if rules is not None else RuleSet((), settings.rules_seed)
        # The start state reset() returns to: the configured users, plus the preloaded fixtures
        # once `preload` has stored them.
        self.baseline = Baseline(
            tuple(
                BaselineUser(spec.name, spec.password, spec.email, True, self._default_boxes())
                for spec in settings.users
            )
        )
        self._routes: dict[str, UserRow] = {}
        self._routes_generation = 0
        # Renders what a protocol will want of every message (IMAP's ENVELOPE, BODYSTRUCTURE,
        # BODY), once, at delivery; set by the service, which may import the protocols.
        self.render: Callable[[mime.ParsedMessage], tuple[bytes, bytes, bytes]] | None = None

    def _default_boxes(self) -> tuple[BaselineMailbox, ...]:
        return tuple(
            BaselineMailbox(name, use, subscribed=use is not None or name == INBOX)
            for name, use in self.default_mailboxes
        )

    def replace_rules(self, rules: RuleSet) -> RuleSet:
        """Put `rules` in force (for the control API); returns the ones they replace."""
        previous, self.rules = self.rules, rules
        log.info("{count} delivery rules in force", count=len(rules))
        return previous

    @inlineCallbacks
    def start(self):
        """Seed the configured users (kept up to date in a persistent database)."""
        for spec in self.settings.users:
            yield self._seed(spec)
        self.forget_routes()

    @inlineCallbacks
    def _seed(self, spec: UserSpec):
        existing = yield self.store.get_user(spec.name)
        if existing is None:
            try:
                user = yield self.store.add_user(spec.name, spec.password, spec.email, seeded=True)
            except UserExists:
                return
        else:
            user = existing
            if (existing.password, existing.email) != (spec.password, spec.email):
                yield self.store.update_user(existing.id, spec.password, spec.email)
        yield self.store.ensure_mailboxes(user.id, self.default_mailboxes)

    # --- routing ----------------------------------------------------------------------------

    def forget_routes(self) -> None:
        """Forget the remembered routes. Whatever changes users or their email addresses
        other than through the post office must call this."""
        self._routes.clear()
        self._routes_generation += 1

    @inlineCallbacks
    def route(self, address: str):
        """The user an address reaches: configured email first (with and without a +tag),
        else the local part; an unknown local part becomes a user with no password."""
        user = self._routes.get(address)
        if user is not None:
            return user
        generation = self._routes_generation
        user = yield self._look_up(address)
        if generation == self._routes_generation:  # users did not change meanwhile
            if len(self._routes) >= ROUTE_CACHE_SIZE:
                self._routes.clear()
            self._routes[address] = user
        return user

    @inlineCallbacks
    def _look_up(self, address: str):
        local, domain = split_address(address)
        base = strip_tag(local)
        if domain:
            for candidate in dict.fromkeys((f"{local}@{domain}", f"{base}@{domain}")):
                user = yield self.store.find_user_by_email(candidate)
                if user is not None:
                    return user
        user, created = yield self.store.ensure_user(base.lower(), self.default_mailboxes)
        if created:
            log.info("created user {user} for mail to {address}", user=user.name, address=address)
        return user

    # --- delivery ---------------------------------------------------------------------------

    def _prepare(self, raw: bytes) -> tuple[str, tuple[bytes, bytes, bytes] | None, mailtext.Index]:
        """What is stored beside a message's bytes, from one parse: its structure (JSON), its
        IMAP renderings and its listing/search index."""
        parsed = mime.parse(raw)
        rendered = self.render(parsed) if self.render is not None else None
        return mime.to_json(parsed), rendered, mailtext.index(raw, parsed)

    @inlineCallbacks
    def deliver(self, recipients: Sequence[str], raw: bytes, mailbox: str = INBOX):
        """Store `raw` once per distinct user reached by `recipients` (into `mailbox`), in one
        transaction, then publish MessageAdded events. Fires with one Delivery per stored copy."""
        structure, rendered, index = self._prepare(raw)
        users = self._remembered_users(recipients)
        remembered = users is not None
        if users is None:
            users = yield self._users_for(recipients)
        targets = [(user_id, mailbox) for user_id in users]
        try:
            stored = yield self.store.deliver(
                targets, raw, structure, rendered=rendered, index=index
            )
        except StoreUnavailable:
            raise  # the database failed, not the route: trying again now fails again
        except Exception:
            if not remembered:
                raise
            # A remembered route may name a user removed behind the post office's back.
            self.forget_routes()
            users = yield self._users_for(recipients)
            targets = [(user_id, mailbox) for user_id in users]
            stored = yield self.store.deliver(
                targets, raw, structure, rendered=rendered, index=index
            )
        deliveries = []
        for (user, recipient), (mailbox_id, name, uid) in zip(users.values(), stored, strict=True):
            deliveries.append(Delivery(recipient, user.name, name, uid))
            self.events.publish(MessageAdded(user.name, name, mailbox_id, uid, ()))
        return deliveries

    def _remembered_users(self, recipients: Sequence[str]) -> dict[int, tuple[UserRow, str]] | None:
        """What `_users_for` answers, without a round trip when every route is remembered."""
        users: dict[int, tuple[UserRow, str]] = {}
        for recipient in recipients:
            user = self._routes.get(recipient)
            if user is None:
                return None
            users.setdefault(user.id, (user, recipient))
        return users

    @inlineCallbacks
    def _users_for(self, recipients: Sequence[str]):
        """{user id: (user, the first recipient address that reached them)}."""
        users: dict[int, tuple[UserRow, str]] = {}
        for recipient in recipients:
            user = yield self.route(recipient)
            users.setdefault(user.id, (user, recipient))
        return users

    @inlineCallbacks
    def bounce(self, report: dsn.Report):
        """Deliver the DSN for `report` to its envelope sender, from the null sender `<>`, by
        the same routing as any mail. A report for the null sender is dropped: a DSN never
        causes another. Fires with the Deliveries (none for the null sender)."""
        if not report.sender:
            return []
        raw = dsn.build(report)
        if self.settings.trace_headers:
            raw = b"Return-Path: <>\r\n" + raw
        deliveries = yield self.deliver([report.sender], raw)
        log.info(
            "DSN ({action}) for {recipients} delivered to {where}",
            action="failed" if report.failed else "delivered",
            recipients=[r.final_recipient for r in report.recipients],
            where=describe(deliveries),
        )
        return deliveries

    @inlineCallbacks
    def append(
        self,
        user: UserRow,
        mailbox: str,
        raw: bytes,
        flags: Sequence[str] = (),
        internal_date: float | None = None,
        tz_minutes: int = 0,
    ):
        """Store `raw` into an existing mailbox of `user` (IMAP APPEND, the API's inject):
        fires with (uidvalidity, uid); NoSuchMailbox when it does not exist."""
        structure, rendered, index = self._prepare(raw)
        row = yield self.store.get_mailbox(user.id, mailbox)
        if row is None:
            raise NoSuchMailbox(mailbox)
        uid = yield self.store.append(
            row.id, raw, structure, flags, internal_date, tz_minutes, rendered, index
        )
        flags = normalize_flags(flags)
        self.events.publish(MessageAdded(user.name, mailbox, row.id, uid, flags))
        log.info("appended {uid} to {user}/{mailbox}", uid=uid, user=user.name, mailbox=mailbox)
        return row.uidvalidity, uid

    # --- authentication ---------------------------------------------------------------------

    @inlineCallbacks
    def authenticate(self, name: str, password: str):
        """The UserRow when the credentials are good, else None. With auth disabled, any
        credentials are good and a missing user is created."""
        if self.settings.auth_disabled:
            user, _ = yield self.store.ensure_user(name, self.default_mailboxes)
            return user
        user = yield self.store.get_user(name)
        if user is None or user.password is None:
            return None
        if not hmac.compare_digest(user.password.encode(), password.encode()):
            return None
        return user

    # --- the control plane ------------------------------------------------------------------

    @inlineCallbacks
    def preload(self, folders: Mapping[str, Sequence[str]], messages: Sequence[BaselineMessage]):
        """Store preloaded fixtures (at start-up, after `start`) and make them part of the
        baseline: `folders` names each user's mailboxes (parents first), `messages` in the
        order to store them. A user not configured is created with no password. Fires with
        the number of messages stored (a database file may hold some already)."""
        baseline = self._with_fixtures(folders, messages)
        added = yield self.store.install(baseline)
        self.baseline = baseline
        self.forget_routes()
        return added

    def _with_fixtures(
        self, folders: Mapping[str, Sequence[str]], messages: Sequence[BaselineMessage]
    ) -> Baseline:
        users = list(self.baseline.users)
        index = {fold(user.name): i for i, user in enumerate(users)}
        for name, names in folders.items():
            i = index.get(fold(name))
            if i is None:
                index[fold(name)] = i = len(users)
                users.append(BaselineUser(name, None, None, False, self._default_boxes()))
            user = users[i]
            have = {box.name for box in user.mailboxes}
            extra = tuple(BaselineMailbox(f, None, True) for f in names if f not in have)
            users[i] = BaselineUser(
                user.name, user.password, user.email, user.seeded, user.mailboxes + extra
            )
        return Baseline(tuple(users), self.baseline.messages + tuple(messages))

    @inlineCallbacks
    def reset(self):
        """Back to the start state (`baseline`) in one transaction: the configured users and
        what the fixtures made, every mailbox with a new UIDVALIDITY; runtime users and all
        other mail gone. Logged-in IMAP sessions end (ServerReset)."""
        yield self.store.reset(self.baseline)
        self.forget_routes()
        self.events.publish(ServerReset())
        log.info(
            "reset: {users} users, {messages} preloaded messages",
            users=len(self.baseline.users),
            messages=len(self.baseline.messages),
        )

    @inlineCallbacks
    def purge(self):
        """Delete every message; users and mailboxes stay (UIDVALIDITY unchanged, UIDNEXT keeps
        counting). Selected IMAP sessions learn of the expunges. Fires with the count."""
        emptied = yield self.store.purge()
        for mailbox in emptied:
            self.events.publish(
                MessagesExpunged(mailbox.user, mailbox.mailbox, mailbox.mailbox_id, mailbox.uids)
            )
        count = sum(len(mailbox.uids) for mailbox in emptied)
        log.info("purged {count} messages", count=count)
        return count

    @inlineCallbacks
    def inject(
        self,
        user: str,
        mailbox: str,
        raw: bytes,
        flags: Sequence[str] = (),
        internal_date: float | None = None,
        tz_minutes: int = 0,
    ):
        """Store `raw` as given into `mailbox` of the existing `user`, creating the mailbox
        (and its parents) when missing; fires with the UID. NoSuchUser; InvalidInput for a
        mailbox name or flag that cannot be."""
        mailbox = check_mailbox_name(mailbox)
        flags = normalize_flags(check_flags(flags))
        structure, rendered, index = self._prepare(raw)
        stored = yield self.store.inject(
            user, mailbox, raw, structure, flags, internal_date, tz_minutes, rendered, index
        )
        self.events.publish(
            MessageAdded(stored.user, stored.mailbox, stored.mailbox_id, stored.uid, flags)
        )
        log.info(
            "injected {uid} into {user}/{mailbox}",
            uid=stored.uid,
            user=stored.user,
            mailbox=stored.mailbox,
        )
        return stored.uid

    @inlineCallbacks
    def change_flags(
        self, user: str, mailbox: str, uid: int, add: Sequence[str] = (), remove: Sequence[str] = ()
    ):
        """Add, then remove, flags of one message (the API's seen/flagged switches); selected
        IMAP sessions are told. Fires with the store's Located (its flags as they are now), or
        None when the user, mailbox or UID does not exist. InvalidInput for a flag that
        cannot be."""
        add, remove = check_flags(add), check_flags(remove)
        found = yield self.store.change_flags(user, mailbox, uid, add, remove)
        if found is not None:
            change = ((found.uid, found.flags),)
            self.events.publish(FlagsChanged(found.user, found.mailbox, found.mailbox_id, change))
        return found

    @inlineCallbacks
    def delete_message(self, user: str, mailbox: str, uid: int):
        """Remove one message at once (no \\Deleted step); selected IMAP sessions get its
        EXPUNGE. Fires with the store's Located, or None when it does not exist."""
        found = yield self.store.remove_message(user, mailbox, uid)
        if found is not None:
            self.events.publish(
                MessagesExpunged(found.user, found.mailbox, found.mailbox_id, (found.uid,))
            )
            log.info(
                "deleted {uid} from {user}/{mailbox}",
                uid=uid,
                user=found.user,
                mailbox=found.mailbox,
            )
        return found

    @inlineCallbacks
    def add_user(self, name: str, password: str, email: str | None = None):
        """A new user with INBOX and the special-use mailboxes, usable at once; fires with its
        UserRow. UserExists when the name (any case) or email is taken; InvalidInput for a
        name, password or email that cannot be."""
        check_user_name(name)
        check_password(password)
        if email is not None:
            check_email(email)
        user = yield self.store.create_user(name, password, email, self.default_mailboxes)
        self.forget_routes()
        log.info("added user {user}", user=user.name)
        return user

    @inlineCallbacks
    def delete_user(self, name: str):
        """Remove the user (any case) with its mailboxes and mail; its IMAP sessions end
        (UserDeleted). NoSuchUser."""
        user = yield self.store.delete_user(name)
        self.forget_routes()
        self.events.publish(UserDeleted(user.name))
        log.info("deleted user {user}", user=user.name)
