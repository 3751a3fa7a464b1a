"""The namespaces desk: isolated sets of users, mailboxes, messages and delivery rules on one
server, made on the fly (POST /namespaces) and dropped when deleted or idle too long.

A namespace's users are stored as `name@<ns>` (a plain user name cannot hold "@"), so the
store, IMAP and SMTP work on them unchanged; this desk decides which namespace an address,
a login, a token or a listing belongs to, once, for every protocol (the one-door invariant).
Mail reaches namespace `<ns>` addressed to `anything@<ns>.<suffix>`, or from an SMTP session
authenticated as one of its users; IMAP logs in as `user@<ns>`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, replace

from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from elektromail.events import UserDeleted
from elektromail.names import InvalidInput
from elektromail.postoffice.desk import Desk
from elektromail.postoffice.routing import split_address
from elektromail.rules import RuleSet
from elektromail.store.errors import StoreUnavailable
from elektromail.store.namespaces import NamespaceRow, NoSuchNamespace, Scope

log = Logger()

MAX_NAME = 40
# A DNS label (it is part of the namespace's mail domain), lower case.
_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
# Scoped tokens carry this prefix, so that a token of a deleted namespace is refused even on a
# server with no token of its own (where any other bearer token passes, as before).
TOKEN_PREFIX = "elektromail-ns-"
# How often idle namespaces are looked for, at most (and their last use written).
SWEEP_SECONDS = 60.0


class NoNamespace(LookupError):
    """A namespace name that is not (or no longer) there."""


@dataclass(frozen=True, slots=True)
class Namespace:
    name: str
    token: str  # hex SHA-256 of the scoped token
    created: float
    last_used: float


def check_namespace_name(name: object) -> str:
    """`name` lower-cased when it can name a namespace (a DNS label of at most 40 letters,
    digits and inner hyphens); InvalidInput otherwise."""
    if not isinstance(name, str) or not name:
        raise InvalidInput("invalid namespace name: empty")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"invalid namespace name: longer than {MAX_NAME} characters")
    lowered = name.lower()
    if not lowered.isascii() or not _NAME_RE.fullmatch(lowered):
        raise InvalidInput(
            f"invalid namespace name {name!r}: letters, digits and inner hyphens only"
        )
    return lowered


def token_digest(token: str | bytes) -> str:
    if isinstance(token, str):
        token = token.encode("utf-8", "surrogatepass")
    return hashlib.sha256(token).hexdigest()


class NamespaceDesk(Desk):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.namespaces: dict[str, Namespace] = {}
        self._by_token: dict[str, str] = {}  # token digest -> name
        self._namespace_rules: dict[str, RuleSet] = {}
        self._used: dict[str, float] = {}  # last uses not written yet
        self.clock = None  # the reactor (or a test's Clock), set by start_expiry
        self._sweep: LoopingCall | None = None

    @inlineCallbacks
    def load_namespaces(self):
        """Learn the namespaces a database file holds (at start-up)."""
        rows = yield self.store.list_namespaces()
        for row in rows:
            self._remember(Namespace(row.name, row.token, row.created, row.last_used))

    def _remember(self, namespace: Namespace) -> None:
        self.namespaces[namespace.name] = namespace
        self._by_token[namespace.token] = namespace.name

    def _forget(self, name: str) -> Namespace | None:
        namespace = self.namespaces.pop(name, None)
        if namespace is not None:
            self._by_token.pop(namespace.token, None)
        self._namespace_rules.pop(name, None)
        self._used.pop(name, None)
        return namespace

    def _now(self) -> float:
        if self.clock is None:
            from twisted.internet import reactor

            self.clock = reactor
        return self.clock.seconds()

    # --- the namespaces -----------------------------------------------------------------------

    def namespace(self, name: str) -> Namespace:
        """The namespace named `name` (any case); NoNamespace."""
        found = self.namespaces.get(name.lower()) if isinstance(name, str) else None
        if found is None:
            raise NoNamespace(name)
        return found

    @inlineCallbacks
    def create_namespace(self, name: str | None = None):
        """A new namespace (a random name unless `name` is given): fires with (Namespace,
        token). InvalidInput for a bad name; NamespaceExists when it is taken."""
        if name is None:
            name = secrets.token_hex(5)
        name = check_namespace_name(name)
        token = TOKEN_PREFIX + secrets.token_urlsafe(24)
        row: NamespaceRow = yield self.store.create_namespace(
            name, token_digest(token), self._now()
        )
        namespace = Namespace(row.name, row.token, row.created, row.last_used)
        self._remember(namespace)
        self.forget_routes()
        log.info("created namespace {name}", name=name)
        return namespace, token

    @inlineCallbacks
    def delete_namespace(self, name: str):
        """Drop the namespace with its users, mail and rules; their IMAP sessions end.
        NoNamespace."""
        namespace = self.namespace(name)
        try:
            users = yield self.store.delete_namespace(namespace.name)
        except NoSuchNamespace:
            users = []
        self._forget(namespace.name)
        self.forget_routes()
        self.forget_quotas()
        for user in users:
            self.events.publish(UserDeleted(user))
        log.info("deleted namespace {name} ({count} users)", name=namespace.name, count=len(users))

    @inlineCallbacks
    def list_namespaces(self):
        """Every namespace with its user and message counts (NamespaceRows), oldest first;
        `last_used` as this process knows it."""
        rows = yield self.store.list_namespaces(counts=True)
        out = []
        for row in rows:
            known = self.namespaces.get(row.name)
            if known is not None:
                out.append(replace(row, last_used=max(row.last_used, known.last_used)))
        return out

    def namespace_for_token(self, token: str | bytes) -> Namespace | None:
        """The namespace whose scoped token `token` is, or None."""
        digest = token_digest(token)
        for known, name in self._by_token.items():
            if hmac.compare_digest(known, digest):
                return self.namespaces.get(name)
        return None

    def touch(self, name: str | None) -> None:
        """Note a use of namespace `name` (None: the default one, which never expires)."""
        if name is None:
            return
        namespace = self.namespaces.get(name)
        if namespace is not None:
            now = self._now()
            self.namespaces[name] = replace(namespace, last_used=now)
            self._used[name] = now

    # --- expiry -------------------------------------------------------------------------------

    def start_expiry(self, clock) -> None:
        """Look for idle namespaces (ELEKTROMAIL_NAMESPACE_IDLE) on `clock`, from now on."""
        self.clock = clock
        idle = self.settings.namespace_idle
        if idle is None or self._sweep is not None:
            return
        self._sweep = LoopingCall(self.expire_idle)
        self._sweep.clock = clock
        self._sweep.start(min(SWEEP_SECONDS, max(idle / 4, 0.01)), now=False).addErrback(
            lambda failure: log.failure("namespace expiry failed", failure)
        )

    def stop_expiry(self) -> None:
        if self._sweep is not None and self._sweep.running:
            self._sweep.stop()
        self._sweep = None

    @inlineCallbacks
    def expire_idle(self):
        """Drop the namespaces unused for longer than the idle setting, and write the last uses
        of the others. Fires with the names dropped."""
        idle = self.settings.namespace_idle
        dropped = []
        try:
            if idle is not None:
                now = self._now()
                for name, namespace in list(self.namespaces.items()):
                    if now - namespace.last_used > idle:
                        try:
                            yield self.delete_namespace(name)
                        except NoNamespace:
                            continue
                        log.info(
                            "namespace {name} idle for {idle} s: dropped", name=name, idle=idle
                        )
                        dropped.append(name)
            if self._used:
                used, self._used = self._used, {}
                try:
                    yield self.store.touch_namespaces(used)
                except StoreUnavailable:
                    # written at the next sweep, unless a later use was noted meanwhile
                    self._used = {**used, **self._used}
                    raise
        except StoreUnavailable as e:
            # the database away (a PostgreSQL server restarting): the timer goes on, and the
            # next sweep tries again; a failed Deferred would stop its LoopingCall for good
            log.warn("namespace expiry waits: {why}", why=e)
        return dropped

    # --- names --------------------------------------------------------------------------------

    def qualify(self, name: str, namespace: str | None) -> str:
        """The stored name of user `name` as seen from `namespace` (None: the default one).
        From the default namespace, a name that carries a namespace's suffix names nobody
        (NoNamespace), so no view reaches into a namespace by spelling."""
        if namespace is None:
            if self.namespace_of_user(name) is not None:
                raise NoNamespace(name)
            return name
        return f"{name}@{namespace}"

    def unqualify(self, name: str, namespace: str | None) -> str:
        """`qualify` undone: a stored user name as a view of `namespace` shows it."""
        if namespace is not None:
            suffix = "@" + namespace
            if name.lower().endswith(suffix):
                return name[: -len(suffix)]
        return name

    def namespace_of_user(self, name: str | None) -> str | None:
        """The namespace a stored user name belongs to, or None (the default one)."""
        if not self.namespaces or not name:
            return None
        _, at, suffix = name.rpartition("@")
        if at and suffix.lower() in self.namespaces:
            return suffix.lower()
        return None

    def namespace_of_address(self, address: str, via: str | None = None) -> str | None:
        """The namespace mail to `address` goes to: that of the authenticated SMTP user `via`
        (a namespace's session keeps all its mail inside it), else the one its domain names
        (`<ns>.<suffix>`), else None (the default one)."""
        if not self.namespaces:
            return None
        namespace = self.namespace_of_user(via)
        if namespace is not None:
            return namespace
        _, domain = split_address(address)
        head, dot, tail = domain.lower().partition(".")
        if dot and tail.rstrip(".") == self.settings.namespace_suffix and head in self.namespaces:
            return head
        return None

    def scope(self, namespace: str | None) -> Scope:
        """The store's scope for a view of `namespace`: every user while no namespace exists
        (today's queries, unchanged), else the default namespace's users or the namespace's."""
        if namespace is not None:
            return namespace
        return "" if self.namespaces else None

    # --- rules --------------------------------------------------------------------------------

    def rules_of(self, namespace: str | None) -> RuleSet:
        """The delivery rules in force in `namespace` (None: the default one)."""
        if namespace is None:
            return self.rules
        return self._namespace_rules.get(namespace) or RuleSet((), self.settings.rules_seed)

    def rules_for(self, via: str | None = None, recipient: str | None = None) -> RuleSet:
        """The rules that decide for an SMTP session authenticated as `via` (or not), about
        `recipient` (or before any: the connection, MAIL FROM)."""
        if not self.namespaces:
            return self.rules
        if recipient is None:
            return self.rules_of(self.namespace_of_user(via))
        return self.rules_of(self.namespace_of_address(recipient, via))

    def replace_namespace_rules(self, namespace: str, rules: RuleSet) -> RuleSet:
        previous = self.rules_of(namespace)
        self._namespace_rules[namespace] = rules
        return previous
