"""The control desk: what the control plane does to the whole server. Put delivery rules in
force, store preloaded fixtures as part of the start state, reset to that state, purge every
message, and answer the health check's probe of the store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.logger import Logger

from elektromail.events import MessagesExpunged, ServerReset, UserDeleted
from elektromail.metrics import StoreSize
from elektromail.names import fold
from elektromail.postoffice.namespaces import NamespaceDesk
from elektromail.rules import RuleSet
from elektromail.store import Baseline, BaselineMailbox, BaselineMessage, BaselineUser

log = Logger()


class ControlDesk(NamespaceDesk):
    def replace_rules(self, rules: RuleSet, namespace: str | None = None) -> RuleSet:
        """Put `rules` in force (for the control API) in `namespace` (None: the default one);
        returns the ones they replace."""
        if namespace is not None:
            self.namespace(namespace)  # NoNamespace
            previous = self.replace_namespace_rules(namespace, rules)
        else:
            previous, self.rules = self.rules, rules
        log.info(
            "{count} delivery rules in force in {where}",
            count=len(rules),
            where=namespace or "the default namespace",
        )
        return previous

    def ping(self) -> Deferred[object]:
        """Fires once the store has answered a query (one indexed SELECT): the health check."""
        return self.store.get_user("")

    def store_size(self) -> Deferred[StoreSize]:
        """What the store holds now, every namespace's (one interaction): GET /metrics asks
        it at each scrape rather than counting at every change."""
        return self.store.totals().addCallback(lambda totals: StoreSize(*totals))

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
                users.append(BaselineUser(name, None, None, False, self.default_boxes()))
            user = users[i]
            have = {box.name for box in user.mailboxes}
            extra = tuple(BaselineMailbox(f, None, True) for f in names if f not in have)
            users[i] = BaselineUser(
                user.name, user.password, user.email, user.seeded, user.mailboxes + extra
            )
        return Baseline(tuple(users), self.baseline.messages + tuple(messages))

    @inlineCallbacks
    def reset(self, namespace: str | None = None):
        """Back to the start state (`baseline`) in one transaction: the configured users and
        what the fixtures made, every mailbox with a new UIDVALIDITY; runtime users and all
        other mail gone. Logged-in IMAP sessions end (ServerReset).

        While namespaces exist, a reset is of one of them: the default namespace's keeps the
        namespaces (and their sessions); a namespace's empties it (no users, no rules)."""
        scope = self.scope(namespace)
        users = yield self.store.reset(self.baseline, scope)
        self.forget_routes()
        self.forget_quotas()
        self.forget_tokens(namespace)
        if namespace is None:
            self._first_recent.clear()
            self.transcripts.clear()
        else:
            self._namespace_rules.pop(namespace, None)
        self.events.publish(ServerReset(None if users is None else frozenset(users)))
        if namespace is not None:
            log.info("reset namespace {name}", name=namespace)
            return
        log.info(
            "reset: {users} users, {messages} preloaded messages",
            users=len(self.baseline.users),
            messages=len(self.baseline.messages),
        )

    def remote_event(self, event) -> None:
        """Another process on the same database published `event` (store/pgevents.py), before it
        is published here: forget what it made stale, as the process that made it did."""
        if isinstance(event, ServerReset):
            self.forget_routes()
            self.forget_quotas()
            if event.users is None:
                self.forget_tokens(None)
                self._first_recent.clear()
                self.transcripts.clear()
        elif isinstance(event, UserDeleted):
            self.forget_routes()

    @inlineCallbacks
    def purge(self, namespace: str | None = None):
        """Delete every message (of `namespace`'s users; None: the default one's); users and
        mailboxes stay (UIDVALIDITY unchanged, UIDNEXT keeps counting). Selected IMAP sessions
        learn of the expunges. Fires with the count."""
        emptied = yield self.store.purge(self.scope(namespace))
        for mailbox in emptied:
            self.events.publish(
                MessagesExpunged(mailbox.user, mailbox.mailbox, mailbox.mailbox_id, mailbox.uids)
            )
        count = sum(len(mailbox.uids) for mailbox in emptied)
        log.info("purged {count} messages", count=count)
        return count
