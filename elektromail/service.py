"""Builds the running server: store, events, post office, TLS, and the listeners.

`Server.listen()` binds every port synchronously so that a port in use stops start-up with one
clear line; `Server.start()` opens the store, seeds users, loads the preloaded fixtures and logs
the ready line that tools and tests wait for.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass

from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort
from twisted.logger import Logger

from elektromail import preload, rules
from elektromail.checks.keys import DkimKeyError, KeyRing
from elektromail.config import Settings
from elektromail.events import Events
from elektromail.postoffice import PostOffice
from elektromail.store import Store
from elektromail.tls import TLSMaterial

log = Logger()


class StartupError(Exception):
    """Start-up cannot go on; the message is the one line to show."""


@dataclass(frozen=True)
class Listener:
    name: str  # "smtp", "imap", ...
    setting: str  # how the user set its port, for error messages
    port: int
    tls: bool = False  # implicit TLS from the first byte


class Server:
    """One elektromail: everything shares one reactor, one store and one event hub."""

    def __init__(self, settings: Settings, reactor=None) -> None:
        if reactor is None:
            from twisted.internet import reactor
        self.reactor = reactor
        self.settings = settings
        delivery_rules = load_rules(settings)  # before anything is opened: it may stop start-up
        self.store = Store(settings.db)
        self.events = Events()
        self.postoffice = PostOffice(self.store, self.events, settings, delivery_rules)
        if settings.imap_port is not None or settings.imaps_port is not None:
            from elektromail.imap.format import format_envelope, render_fetch_data

            self.postoffice.render = render_fetch_data
            self.postoffice.render_envelope = format_envelope
        self.tls = TLSMaterial(settings.bind, settings.tls_cert, settings.tls_key)
        self.dkim_keys = load_dkim_keys(settings)  # for message checks, over HTTP and in Python
        self.factories: dict[str, object] = {}
        self.ports: dict[str, IListeningPort] = {}
        self.webhooks = None  # http/webhooks.Webhooks when --webhook-url is set
        # Events to and from the other processes on the same PostgreSQL database
        self.crossing = None
        if self.store.dialect.is_postgresql:
            from elektromail.store.pgevents import ClusterEvents

            self.crossing = ClusterEvents(
                self.store.path, self.events, reactor, self.postoffice.remote_event
            )
        if settings.webhook_urls:
            from elektromail.http.webhooks import Webhooks

            self.webhooks = Webhooks(self.postoffice, settings, reactor)

    def _listeners(self) -> list[tuple[Listener, object]]:
        from elektromail.imap.server import IMAPFactory
        from elektromail.smtp.server import SMTPFactory

        s = self.settings
        wanted = []
        if s.smtp_port is not None:
            factory = SMTPFactory(self.postoffice, s, self.tls)
            wanted.append((Listener("smtp", "SMTP_PORT/--smtp-port", s.smtp_port), factory))
        if s.imap_port is not None:
            factory = IMAPFactory(self.postoffice, s, self.tls)
            wanted.append((Listener("imap", "IMAP_PORT/--imap-port", s.imap_port), factory))
        if s.http_port is not None:
            from elektromail.http.app import ControlAPI

            api = ControlAPI(
                self.postoffice, s, self.port, self.reactor, self.dkim_keys, self.webhooks
            )
            factory = api.factory()
            factory.set_limits(s.max_connections, s.http_timeout)
            wanted.append((Listener("http", "HTTP_PORT/--http-port", s.http_port), factory))
        if s.smtps_port is not None:
            factory = SMTPFactory(self.postoffice, s, self.tls, implicit_tls=True)
            setting = "ELEKTROMAIL_SMTPS_PORT/--smtps-port"
            wanted.append((Listener("smtps", setting, s.smtps_port, tls=True), factory))
        if s.imaps_port is not None:
            factory = IMAPFactory(self.postoffice, s, self.tls, implicit_tls=True)
            setting = "ELEKTROMAIL_IMAPS_PORT/--imaps-port"
            wanted.append((Listener("imaps", setting, s.imaps_port, tls=True), factory))
        if s.pop3_port is not None or s.pop3s_port is not None:
            wanted += self._pop3_listeners()
        return wanted

    def _pop3_listeners(self) -> list[tuple[Listener, object]]:
        from elektromail.pop3.server import Maildrops, POP3Factory

        s, drops, wanted = self.settings, Maildrops(), []  # one lock set for both ports
        if s.pop3_port is not None:
            factory = POP3Factory(self.postoffice, s, self.tls, drops)
            wanted.append((Listener("pop3", "POP3_PORT/--pop3-port", s.pop3_port), factory))
        if s.pop3s_port is not None:
            factory = POP3Factory(self.postoffice, s, self.tls, drops, implicit_tls=True)
            setting = "ELEKTROMAIL_POP3S_PORT/--pop3s-port"
            wanted.append((Listener("pop3s", setting, s.pop3s_port, tls=True), factory))
        return wanted

    def listen(self) -> None:
        """Bind every enabled port now; raises StartupError naming the one that failed."""
        for listener, factory in self._listeners():
            try:
                port = self._listen(listener, factory)
            except CannotListenError as e:
                for bound in self.ports.values():
                    bound.stopListening()
                reason = getattr(e.socketError, "strerror", None) or str(e.socketError)
                raise StartupError(
                    f"cannot listen on {self.settings.bind}:{listener.port} for "
                    f"{listener.name.upper()} ({listener.setting}): {reason}"
                ) from None
            self.factories[listener.name] = factory
            self.ports[listener.name] = port

    def _listen(self, listener: Listener, factory) -> IListeningPort:
        interface = self.settings.bind
        if listener.tls:
            return self.reactor.listenSSL(
                listener.port, factory, self.tls.options(), interface=interface, backlog=128
            )
        return self.reactor.listenTCP(listener.port, factory, interface=interface, backlog=128)

    def port(self, name: str) -> int | None:
        bound = self.ports.get(name)
        return bound.getHost().port if bound is not None else None

    async def start(self) -> None:
        """Open the store, seed users and load the preloaded fixtures, then log the ready
        line."""
        for name in self.settings.not_implemented:
            log.warn("not implemented yet: {name}", name=name)
        await self.store.open()
        if self.crossing is not None:
            await self.crossing.start()
        await self.postoffice.start()
        self.postoffice.start_expiry(self.reactor)  # idle namespaces (ELEKTROMAIL_NAMESPACE_IDLE)
        self.postoffice.start_retention(self.reactor)  # --max-messages, --max-age
        if self.settings.preload_dir:
            try:
                await preload.load(self.postoffice, self.settings.preload_dir, self.reactor)
            except preload.PreloadError as e:
                raise StartupError(f"invalid ELEKTROMAIL_PRELOAD_DIR/--preload-dir: {e}") from None
        if self.webhooks is not None:
            self.webhooks.start()
        self.announce_ready()

    def announce_ready(self) -> None:
        """The ready line tools and tests wait for (a worker tells its parent instead)."""
        log.info(self.ready_line())

    def ready_line(self) -> str:
        return ready_line(self.settings.bind, self.port)

    async def stop(self) -> None:
        """Stop listening, drop open connections and pending webhooks, close the store."""
        if self.webhooks is not None:
            await self.webhooks.stop()
        await defer.gatherResults(
            [defer.maybeDeferred(p.stopListening) for p in self.ports.values()]
        )
        for factory in self.factories.values():
            close_all = getattr(factory, "close_connections", None)
            if close_all is not None:
                close_all()
        self.ports.clear()
        self.postoffice.stop_expiry()
        self.postoffice.stop_retention()
        self.postoffice.traffic.flush()
        if self.crossing is not None:
            await self.crossing.stop()
        self.store.close()


def ready_line(bind: str, port: Callable[[str], int | None]) -> str:
    """`elektromail ready smtp=127.0.0.1:2525 imap=... http=off ...`, from each listener's
    bound port (None: off)."""
    shown = []
    for name in ("smtp", "imap", "http", "smtps", "imaps", "pop3", "pop3s"):
        number = port(name)
        if number is not None:
            shown.append(f"{name}={bind}:{number}")
        elif name in ("smtp", "imap", "http", "pop3"):
            shown.append(f"{name}=off")
    return "elektromail ready " + " ".join(shown)


def load_rules(settings: Settings) -> rules.RuleSet:
    """The delivery rules of ELEKTROMAIL_DSN_RULES; a malformed rule stops start-up."""
    try:
        return rules.load(settings.dsn_rules, settings.rules_seed)
    except rules.RuleError as e:
        raise StartupError(f"invalid ELEKTROMAIL_DSN_RULES/--dsn-rules: {e}") from None


def load_dkim_keys(settings: Settings) -> KeyRing:
    """The DKIM keys of ELEKTROMAIL_DKIM_KEYS; an unreadable or malformed one stops start-up."""
    try:
        return KeyRing.from_setting(settings.dkim_keys)
    except DkimKeyError as e:
        raise StartupError(f"invalid ELEKTROMAIL_DKIM_KEYS/--dkim-keys: {e}") from None


class ElektromailService(Service):
    """The twistd service around a Server whose ports are already bound."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def startService(self) -> None:
        super().startService()
        self.server.reactor.callWhenRunning(stop_once_on_signals, self.server.reactor)
        d = defer.Deferred.fromCoroutine(self.server.start())
        d.addErrback(self._failed)

    def _failed(self, failure) -> None:
        log.error("elektromail: start-up failed: {reason}", reason=failure.getErrorMessage())
        self.server.reactor.stop()

    def stopService(self):
        super().stopService()
        return defer.Deferred.fromCoroutine(self.server.stop())


STOP_SIGNALS = ("SIGTERM", "SIGINT")


def stop_once_on_signals(reactor) -> None:
    """Make a second SIGTERM or SIGINT (or one after any stop began) a log line: the reactor's
    own handlers ask it to stop each time, and a stop while stopping is a ReactorNotRunning
    traceback. The first signal still goes to the reactor's handler, so that twistd ends with
    the signal's exit status. Only where the reactor installed handlers (the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return
    stopping = False

    def began() -> None:
        nonlocal stopping
        stopping = True

    reactor.addSystemEventTrigger("before", "shutdown", began)
    for name in STOP_SIGNALS:
        number = getattr(signal, name)
        original = signal.getsignal(number)
        if callable(original):
            signal.signal(number, _once(original, name, lambda: stopping, began))


def _once(original, name: str, stopping, began):
    def handler(number, frame) -> None:
        if stopping():
            log.info("Received {signal} while stopping: already on its way", signal=name)
            return
        began()
        original(number, frame)

    return handler
