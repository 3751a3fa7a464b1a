"""The accounts desk: seeding the configured users, routing an address to a user (created on
first mail), logging in, and the users the control API adds, removes and lists."""

from __future__ import annotations

import hmac

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.logger import Logger

from elektromail.config import UserSpec
from elektromail.events import UserDeleted
from elektromail.names import InvalidInput, check_email, check_password, check_user_name
from elektromail.postoffice.desk import Desk
from elektromail.postoffice.routing import split_address, strip_tag
from elektromail.store import UserExists, UserRow

log = Logger()

# Routing an address costs two store round trips (email, then name), about as much as storing
# the message itself; the post office remembers answers until users change (`forget_routes`).
ROUTE_CACHE_SIZE = 10_000


class AccountDesk(Desk):
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

    def route_key(self, address: str, via: str | None = None) -> str:
        """What a remembered route is kept under: the address, and the namespace an SMTP
        session authenticated as `via` keeps its mail in."""
        namespace = self.namespace_of_user(via) if via is not None else None
        return address if namespace is None else f"{namespace}\0{address}"

    @inlineCallbacks
    def route(self, address: str, via: str | None = None):
        """The user an address reaches (from a session authenticated as `via`, if any), in
        the namespace `namespace_of_address` says: configured email first (with and without a
        +tag), else the local part; an unknown local part becomes a user with no password."""
        key = self.route_key(address, via)
        user = self._routes.get(key)
        if user is not None:
            return user
        generation = self._routes_generation
        namespace = self.namespace_of_address(address, via)
        user = yield self._look_up(address, namespace)
        self.touch(namespace)
        if generation == self._routes_generation:  # users did not change meanwhile
            if len(self._routes) >= ROUTE_CACHE_SIZE:
                self._routes.clear()
            self._routes[key] = user
        return user

    @inlineCallbacks
    def _look_up(self, address: str, namespace: str | None = None):
        local, domain = split_address(address)
        base = strip_tag(local)
        if domain:
            for candidate in dict.fromkeys((f"{local}@{domain}", f"{base}@{domain}")):
                user = yield self.store.find_user_by_email(candidate)
                if user is not None and self.namespace_of_user(user.name) == namespace:
                    return user
        name = base.lower() if namespace is None else f"{base.lower()}@{namespace}"
        user, created = yield self.store.ensure_user(name, self.default_mailboxes)
        if created:
            log.info("created user {user} for mail to {address}", user=user.name, address=address)
        return user

    # --- authentication ---------------------------------------------------------------------

    @inlineCallbacks
    def authenticate(self, name: str, password: str):
        """The UserRow when the credentials are good, else None. With auth disabled, any
        credentials are good and a missing user is created.

        A namespace's user (`name@<ns>`) also logs in with the namespace's token as password,
        and is then created on first login like a user of the auth-disabled mode."""
        namespace = self.namespace_of_user(name)
        if namespace is not None:
            self.touch(namespace)
            local = name[: -len(namespace) - 1]
            try:
                check_user_name(local)
            except InvalidInput:
                return None
            token_of = self.namespace_for_token(password) if password else None
            if token_of is not None and token_of.name == namespace:
                user, _ = yield self.store.ensure_user(name, self.default_mailboxes)
                return user
        if self.settings.auth_disabled:
            user, _ = yield self.store.ensure_user(name, self.default_mailboxes)
            return user
        user = yield self.store.get_user(name)
        if user is None or user.password is None:
            return None
        if not hmac.compare_digest(user.password.encode(), password.encode()):
            return None
        return user

    # --- users of the control plane ---------------------------------------------------------

    def find_user(self, name: str) -> Deferred[UserRow | None]:
        """The user named `name` (the store's comparison), or None."""
        return self.store.get_user(name)

    def list_users(self, namespace: str | None = None) -> Deferred[list[UserRow]]:
        """Every user (of `namespace`; None: the default one), in the order they were made."""
        return self.store.list_users(self.scope(namespace))

    def users_with_mail(self, namespace: str | None = None) -> Deferred[list[str]]:
        """Names of the users (of `namespace`) who have at least one message, in the order
        they were made."""
        return self.store.users_with_mail(self.scope(namespace))

    @inlineCallbacks
    def add_user(
        self, name: str, password: str, email: str | None = None, namespace: str | None = None
    ):
        """A new user with INBOX and the special-use mailboxes, usable at once; fires with its
        UserRow (in `namespace`, its stored name `name@<namespace>`). UserExists when the name
        (any case) or email is taken; InvalidInput for a name, password or email that cannot
        be."""
        check_user_name(name)
        if namespace is not None:
            name = self.qualify(name, self.namespace(namespace).name)
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
