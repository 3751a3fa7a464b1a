"""Run a real elektromail inside any Python program, e.g. a synchronous pytest suite.

    with MailServer(users="alice:secret") as mail:
        smtplib.SMTP(mail.host, mail.smtp_port).sendmail(...)
        [message] = mail.wait_for_messages(1)

Why a background reactor thread and not a child process: a server starts in a few milliseconds
instead of an interpreter launch and imports (~0.4 s), start-up errors arrive as exceptions
rather than output to scrape, readiness is a Deferred firing rather than a line or port to poll,
and `messages()`, `inject()`, `reset()` and `wait_for_messages()` call the post office directly
(no HTTP round trip, no second copy of the settings), waiting on its delivery events. The cost
is that the reactor is shared: Twisted's reactor cannot be restarted, so one daemon thread runs
it for the whole process and every `MailServer` binds its own ephemeral ports in it, which lets
several servers live side by side in one process and in every pytest-xdist worker.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from elektromail import config
from elektromail.config import ConfigError, Settings
from elektromail.lineends import crlf
from elektromail.names import INBOX

T = TypeVar("T")

__all__ = ["ConfigError", "MailServer", "build_settings", "call_in_reactor", "reactor_in_thread"]

DEFAULT_TIMEOUT = 10.0  # seconds wait_for_messages waits by default

_reactor_lock = threading.Lock()
_reactor_thread: threading.Thread | None = None
_reactor = None  # the reactor that thread runs
_logging_forwarded = False


def reactor_in_thread():
    """The global reactor, running in a background thread (started on first use)."""
    global _reactor_thread, _reactor
    with _reactor_lock:
        if _reactor_thread is None:
            from twisted.internet import reactor

            if reactor.running:
                raise RuntimeError(
                    "the Twisted reactor already runs in this thread; use "
                    "elektromail.service.Server in it instead of MailServer"
                )
            _forward_logs_to_logging()
            _reactor = reactor
            _reactor_thread = threading.Thread(
                target=reactor.run,
                kwargs={"installSignalHandlers": False},
                name="elektromail-reactor",
                daemon=True,
            )
            _reactor_thread.start()
        else:
            _pin(_reactor)
    return _reactor


def _pin(reactor) -> None:
    """Keep `twisted.internet.reactor` naming the running reactor. Whoever prunes sys.modules
    (pytest's pytester does between in-process runs) would otherwise make the next import
    install a second reactor, one that never runs."""
    if sys.modules.get("twisted.internet.reactor") is not reactor:
        import twisted.internet

        sys.modules["twisted.internet.reactor"] = reactor
        twisted.internet.reactor = reactor


def call_in_reactor(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run `fn` in the reactor thread and wait for its result; a coroutine function's
    coroutine and a returned Deferred are waited for too."""
    from twisted.internet import defer
    from twisted.internet.threads import blockingCallFromThread

    reactor = reactor_in_thread()
    if threading.current_thread() is _reactor_thread:
        raise RuntimeError("MailServer methods block: call them from another thread")

    def run():
        result = fn(*args, **kwargs)
        if hasattr(result, "__await__") and not isinstance(result, defer.Deferred):
            return defer.Deferred.fromCoroutine(result)
        return result

    return blockingCallFromThread(reactor, run)


# --- settings --------------------------------------------------------------------------------

_BY_NAME = {s.attr: s for s in config.SETTINGS}


def build_settings(**given: Any) -> Settings:
    """Settings for a test server: free ports on 127.0.0.1 and nothing from the environment,
    changed by `given` (Settings attribute names; `-` may stand for `_`). A string value is
    parsed like the command line's (`smtp_port="off"`, `auth_disabled="yes"`,
    `users="a:pw,b:b@x:pw"`, `max_message_size="1M"`); other values are taken as they are
    (`imap_port=None` turns IMAP off). `dsn_rules` also takes a list of rule dicts.
    Raises ConfigError naming the first bad setting."""
    values: dict[str, Any] = {}
    for key, value in given.items():
        name = key.replace("-", "_")
        setting = _BY_NAME.get(name)
        if setting is None:
            known = ", ".join(sorted(_BY_NAME))
            raise ConfigError(f"unknown setting {key!r}; known settings: {known}")
        values[name] = _value(setting, value)
    base = Settings(smtp_port=0, imap_port=0, pop3_port=0, http_port=0, bind="127.0.0.1")
    not_implemented = tuple(
        f"--{s.option}"
        for s in config.SETTINGS
        if not s.implemented and values.get(s.attr) not in (None, False)
    )
    settings = dataclasses.replace(base, **values, not_implemented=not_implemented)
    config._check_together(settings)
    return settings


def _value(setting: config.Setting, value: Any) -> Any:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if setting.attr == "dsn_rules" and isinstance(value, list | tuple | Mapping):
        return json.dumps(value)
    if setting.attr == "oauth_tokens" and isinstance(value, list | tuple):
        value = json.dumps(value)
    if setting.attr == "users" and isinstance(value, tuple | list):
        return tuple(value)
    if setting.attr == "webhook_urls" and isinstance(value, tuple | list):
        value = ",".join(value)  # checked as the command line's
    if isinstance(value, str):
        try:
            return setting.parse(value)
        except ValueError as e:
            shown = "***" if setting.attr in config.SECRET_SETTINGS else value
            raise ConfigError(f"invalid {setting.attr}={shown!r}: {e}") from None
    return value


# --- the server ------------------------------------------------------------------------------


class MailServer:
    """A real elektromail on free loopback ports, run by a background reactor thread.

    `with MailServer(**settings) as mail:` or `mail = MailServer(...).start()` ... `mail.stop()`.
    Settings are those of the command line, by attribute name (see `build_settings`); ports
    default to 0 (free ports) and the environment is not read.
    """

    def __init__(self, **settings: Any) -> None:
        self.settings: Settings = build_settings(**settings)
        self.server = None  # elektromail.service.Server while running
        self._changed = threading.Condition()
        self._generation = 0  # counts store events; wait_for_messages waits for a change
        self._unsubscribe: Callable[[], None] | None = None

    def __repr__(self) -> str:
        state = f"smtp={self.smtp_port} imap={self.imap_port}" if self.server else "stopped"
        return f"<MailServer {self.host} {state}>"

    # --- life cycle ---

    def start(self) -> MailServer:
        """Bind the ports, open the store, seed users; returns self once everything is ready.
        Raises elektromail.service.StartupError (or ConfigError) when it cannot start."""
        if self.server is None:
            self.server = call_in_reactor(self._start_in_reactor)
        return self

    async def _start_in_reactor(self):
        from elektromail.service import Server

        server = Server(self.settings, _reactor)
        server.listen()
        try:
            await server.start()
        except BaseException:
            await server.stop()
            raise
        self._unsubscribe = server.events.subscribe(self._on_event)
        return server

    def stop(self) -> None:
        """Close the ports and every connection, and the store."""
        server, self.server = self.server, None
        if server is not None:
            call_in_reactor(self._stop_in_reactor, server)

    async def _stop_in_reactor(self, server) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await server.stop()

    def __enter__(self) -> MailServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- where it listens ---

    @property
    def host(self) -> str:
        """The address clients connect to (loopback when bound to every interface)."""
        bind = self.settings.bind
        return {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(bind, bind)

    @property
    def smtp_port(self) -> int | None:
        return self._port("smtp")

    @property
    def imap_port(self) -> int | None:
        return self._port("imap")

    @property
    def pop3_port(self) -> int | None:
        return self._port("pop3")

    @property
    def pop3s_port(self) -> int | None:
        return self._port("pop3s")

    @property
    def http_port(self) -> int | None:
        return self._port("http")

    @property
    def http_url(self) -> str | None:
        """`http://127.0.0.1:PORT` of the control API, or None when HTTP is off."""
        port = self.http_port
        if port is None:
            return None
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{port}"

    def address(self, local: str) -> str:
        """An address whose mail reaches user `local` (as RemoteMailServer.address does in a
        namespace, so that a test runs against either)."""
        return f"{local}@localhost"

    def imap_login(self, user: str) -> str:
        """The IMAP login of user `user`: the name itself (`user@<ns>` in a namespace)."""
        return user

    def _port(self, name: str) -> int | None:
        return self.server.port(name) if self.server is not None else None

    # --- reading mail ---

    def messages(self, user: str | None = None, mailbox: str | None = INBOX) -> list[dict]:
        """Messages as the HTTP API's `/messages` lists them (uid, user, mailbox, flags,
        internal_date, size, subject, from, to, cc, date, message_id), oldest first, each with
        `raw`: the stored bytes. `user=None` means every user, `mailbox=None` every mailbox."""
        return self.call(self._messages, user, mailbox)

    async def _messages(self, user: str | None, mailbox: str | None) -> list[dict]:
        from elektromail.http.render import list_item

        postoffice = self._server().postoffice
        out = []
        for summary in await postoffice.list_messages(user, mailbox):
            full = await postoffice.get_message(summary.user, summary.mailbox, summary.uid)
            if full is not None:  # else expunged since it was listed
                item = list_item(summary)
                item["raw"] = full.raw
                out.append(item)
        return out

    def wait_for_messages(
        self,
        count: int = 1,
        timeout: float = DEFAULT_TIMEOUT,
        user: str | None = None,
        mailbox: str | None = INBOX,
    ) -> list[dict]:
        """Wait until at least `count` messages are in `mailbox` (of `user`, or of anyone) and
        return them as `messages()` does. Wakes on the server's delivery events, never by
        sleeping; raises TimeoutError after `timeout` seconds, saying what did arrive."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self._events_seen()
            found = self.messages(user, mailbox)
            if len(found) >= count:
                return found
            if not self._wait_for_event_after(seen, deadline):
                where = f"{user or 'any user'}/{mailbox or 'any mailbox'}"
                subjects = [m["subject"] for m in found]
                raise TimeoutError(
                    f"waited {timeout:g} s for {count} message(s) in {where}; "
                    f"{len(found)} arrived: {subjects}"
                )

    def cursor(self) -> int:
        """The arrival cursor of this moment: take it before the action whose mail you then
        `wait_for(..., after=cursor)`; what arrived before it never matches."""
        return self.call(lambda: self._server().postoffice.message_cursor())

    def wait_for(
        self,
        q: str = "",
        timeout: float = DEFAULT_TIMEOUT,
        after: int | None = None,
        *,
        user: str | None = None,
        mailbox: str | None = None,
        code_pattern: str | None = None,
        mailto: bool = False,
    ):
        """The first message stored after cursor `after` (None: any) that matches the query
        `q` (the language of GET /messages?q=, e.g. "to:bob subject:Welcome"), waited for on
        the delivery events, as an elektromail.foundmail.Message: `.links`, `.code`, `.codes`,
        `.subject`, `.text`, `.html`, `.raw`, `.attachments`, `.cursor`. Raises TimeoutError
        after `timeout` seconds, elektromail.mailquery.QueryError for a malformed query and
        elektromail.extract.PatternError for a refused `code_pattern`."""
        from elektromail import extract, mailquery

        query = mailquery.parse(q)
        pattern = extract.compile_pattern(code_pattern) if code_pattern else None
        found = self.call(
            self._wait_for, query, after or 0, timeout, user, mailbox, pattern, mailto
        )
        if found is None:
            since = "" if after is None else f" after cursor {after}"
            raise TimeoutError(f"waited {timeout:g} s for a message matching {q!r}{since}")
        return found

    async def _wait_for(self, query, after, timeout, user, mailbox, pattern, mailto):
        from elektromail.foundmail import Message
        from elektromail.http import render, waiting

        server = self._server()
        found = await waiting.wait_for_message(
            _reactor,
            server.postoffice,
            query,
            after=after,
            timeout=timeout,
            user=user,
            mailbox=mailbox,
        )
        if found.message is None:
            return None
        data = waiting.found_json(found.message, pattern=pattern, mailto=mailto)
        contents = {}
        for item in data["attachments"]:
            part = render.attachment(found.message, item["index"])
            if part is not None:
                contents[item["index"]] = part.data
        return Message.from_json(data, found.message.raw, found.cursor, contents, server=self)

    def _events_seen(self) -> int:
        with self._changed:
            return self._generation

    def _wait_for_event_after(self, seen: int, deadline: float) -> bool:
        """Block until an event newer than `seen` (True) or the deadline (False)."""
        with self._changed:
            remaining = deadline - time.monotonic()
            return remaining > 0 and self._changed.wait_for(
                lambda: self._generation != seen, remaining
            )

    def _on_event(self, _event: object) -> None:
        # In the reactor thread: wake every waiter, which then looks at the store itself.
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    # --- changing state ---

    def inject(
        self,
        user: str,
        raw: bytes | str,
        mailbox: str = INBOX,
        flags: Iterable[str] = (),
        internal_date: datetime.datetime | float | None = None,
    ) -> int:
        """Store `raw` in the mailbox (created when missing) of an existing user, without SMTP,
        as the HTTP API's /inject does: a str is stored as UTF-8 and bare LF line ends become
        CRLF. Returns the UID; raises elektromail.store.NoSuchUser for an unknown user, and
        elektromail.names.InvalidInput (a ValueError) for a mailbox name the one rule refuses
        (README, "Mailbox names"): names are UTF-8 text, `Entwürfe`, not `Entw&APw-rfe`."""
        raw = crlf(raw.encode("utf-8") if isinstance(raw, str) else raw)
        when, tz_minutes = _timestamp(internal_date)
        return self.call(
            lambda: self._server().postoffice.inject(
                user, mailbox, raw, tuple(flags), when, tz_minutes
            )
        )

    def add_user(self, name: str, password: str, email: str | None = None) -> None:
        """A user who can log in at once (until `reset()`)."""
        self.call(lambda: self._server().postoffice.add_user(name, password, email))

    def delete_user(self, name: str) -> None:
        """Remove a user and their mail."""
        self.call(lambda: self._server().postoffice.delete_user(name))

    def oauth_token(
        self,
        user: str,
        scope: str | None = None,
        expires_in: float | None = None,
        token: str | None = None,
    ) -> str:
        """An OAuth2 access token that signs `user` in with XOAUTH2 or OAUTHBEARER under
        `--oauth tokens` (until `reset()`): for `scope` (space-separated; None: any protocol),
        for `expires_in` seconds (None: never; negative: already expired)."""
        from elektromail.oauth import parse_scopes

        def mint() -> str:
            postoffice = self._server().postoffice
            expires = None if expires_in is None else postoffice._now() + expires_in
            return postoffice.mint_token(user, token, expires, parse_scopes(scope)).token

        return self.call(mint)

    def purge(self) -> None:
        """Delete every message; users and mailboxes stay."""
        self.call(lambda: self._server().postoffice.purge())

    def reset(self) -> None:
        """Back to the start state: the configured users, the preloaded fixtures, the
        delivery rules and DKIM keys of the settings; nothing else."""
        from elektromail.service import load_rules

        async def reset() -> None:
            server = self._server()
            await server.postoffice.reset()
            # Anew, so that a seeded rule probability draws the same sequence again.
            server.postoffice.replace_rules(load_rules(self.settings))
            server.dkim_keys.reset()  # the keys of --dkim-keys only

        self.call(reset)

    def set_rules(self, rules: object, seed: int | None = None) -> None:
        """Put delivery rules in force (replacing the current ones): a list of rule dicts, JSON
        text, or the path of a JSON file, as for ELEKTROMAIL_DSN_RULES. Raises
        elektromail.rules.RuleError naming the bad rule and field."""
        from elektromail import rules as rules_module

        if seed is None:
            seed = self.settings.rules_seed
        if isinstance(rules, str | os.PathLike):
            ruleset = rules_module.load(os.fspath(rules), seed)
        else:
            ruleset = rules_module.parse(rules, seed)
        self.call(lambda: self._server().postoffice.replace_rules(ruleset))

    # --- message checks ---

    def checks(
        self, uid: int, user: str | None = None, mailbox: str = INBOX, links: bool = False
    ) -> dict:
        """The message checks of one stored message, as `GET /messages/{uid}/checks` answers
        them: {"checks": [{"check": "headers", "findings": [...]}, ...], "summary": {...}}.
        `links=True` probes its links too. `user` may be left out when one user has mail.
        Raises LookupError when there is no such message."""
        return self.call(self._checks, uid, user, mailbox, links)

    async def _checks(self, uid: int, user: str | None, mailbox: str, links: bool) -> dict:
        from elektromail.http.checks import run_checks, transaction_of

        server = self._server()
        postoffice = server.postoffice
        if user is None:
            users = await postoffice.users_with_mail()
            if len(users) != 1:
                raise ValueError(f"say which user: {len(users)} users have mail")
            user = users[0]
        summary = await postoffice.get_message(user, mailbox, uid)
        if summary is None:
            raise LookupError(f"no message with UID {uid} in {user}/{mailbox}")
        s = self.settings
        out = await run_checks(
            server.reactor,
            summary.raw,
            server.dkim_keys,
            links,
            s.link_check_timeout,
            s.link_check_max,
            await transaction_of(postoffice, summary),
        )
        out.update(uid=summary.uid, user=summary.user, mailbox=summary.mailbox)
        return out

    # --- releasing a message to a real server ---

    def release(
        self,
        uid: int,
        to: Iterable[str] | None = None,
        user: str | None = None,
        mailbox: str = INBOX,
        sender: str | None = None,
    ) -> dict:
        """Send a stored message, its bytes unchanged, through the relay the server was
        started with (`relay_host=...`), as `POST /messages/{uid}/release` does: to `to`, or
        to the recipients it came for; `sender` replaces MAIL FROM ("" the null path).
        Returns {"relay", "from", "recipients": [{"address", "code", "message", "accepted"}],
        "reply": {"code", "message"}}. Raises elektromail.relay.ReleaseError (its `status`
        as the route's, `upstream` the upstream's (code, text) when it refused, `recipients`)
        when it was not sent, LookupError when there is no such message."""
        return self.call(
            self._release, uid, None if to is None else list(to), user, mailbox, sender
        )

    async def _release(self, uid, to, user, mailbox, sender) -> dict:
        from elektromail import relay
        from elektromail.http.release import release_message

        server = self._server()
        postoffice = server.postoffice
        to = None if to is None else relay.check_recipients(to)
        sender = None if sender is None else relay.check_sender(sender)
        if user is None:
            users = await postoffice.users_with_mail()
            if len(users) != 1:
                raise ValueError(f"say which user: {len(users)} users have mail")
            user = users[0]
        summary = await postoffice.get_message(user, mailbox, uid)
        if summary is None:
            raise LookupError(f"no message with UID {uid} in {user}/{mailbox}")
        return await release_message(server.reactor, self.settings, postoffice, summary, to, sender)

    def add_dkim_key(self, selector: str, domain: str, key: str) -> None:
        """A DKIM public key for the checks (no DNS is ever asked): `key` is the TXT record's
        value (`v=DKIM1; k=rsa; p=...`) or a PEM public key. Raises ValueError when unusable."""
        self._server().dkim_keys.put(selector, domain, key)

    def dkim_keys(self) -> list[dict]:
        """The DKIM keys in force, as `GET /dkim/keys` lists them."""
        return [key.to_json() for key in self._server().dkim_keys.keys()]

    def delete_dkim_keys(self, selector: str | None = None, domain: str | None = None) -> int:
        """Remove the keys of a selector and/or domain (every key when neither is given)."""
        return self._server().dkim_keys.delete(selector, domain)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn` in the reactor thread (e.g. a store method) and return its result, after
        waiting for a returned Deferred or coroutine."""
        return call_in_reactor(fn, *args, **kwargs)

    def _server(self):
        if self.server is None:
            raise RuntimeError("the MailServer is not running: call start() first")
        return self.server


def _timestamp(when: datetime.datetime | float | None) -> tuple[float | None, int]:
    """(seconds since the epoch, the zone's offset in minutes) for the store."""
    if when is None or isinstance(when, int | float):
        return when, 0
    if when.tzinfo is None:
        when = when.astimezone()  # a naive datetime is local time, as in datetime itself
    offset = when.utcoffset() or datetime.timedelta(0)
    return when.timestamp(), int(offset.total_seconds() // 60)


# --- logs --------------------------------------------------------------------------------------

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING}


def _forward_logs_to_logging() -> None:
    """Send the server's log events to the `logging` module (logger names `elektromail.*`), so
    that a failing test shows them among its captured logs. Twisted's own events stay out."""
    global _logging_forwarded
    if _logging_forwarded:
        return
    from twisted.logger import formatEvent, globalLogPublisher

    def observe(event: dict) -> None:
        namespace = event.get("log_namespace") or ""
        if not namespace.startswith("elektromail"):
            return
        level = _LEVELS.get(getattr(event.get("log_level"), "name", ""), logging.ERROR)
        failure = event.get("log_failure")
        exc_info = (failure.type, failure.value, failure.getTracebackObject()) if failure else None
        logging.getLogger(namespace).log(level, formatEvent(event), exc_info=exc_info)

    globalLogPublisher.addObserver(observe)
    _logging_forwarded = True
