"""Run a real elektromail inside any Python program, e.g. a synchronous pytest suite.

The reactor runs in one background daemon thread shared by every server of the process (a
Twisted reactor cannot be restarted); each `MailServer` binds its own ephemeral ports, so
several servers live side by side. A thread rather than a child process: start-up costs no
interpreter launch, and readiness is a Deferred firing, not output to poll.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet import defer
from twisted.internet.threads import blockingCallFromThread

from elektromail.config import Settings, UserSpec, parse_users

T = TypeVar("T")

_reactor_lock = threading.Lock()
_reactor_thread: threading.Thread | None = None


def reactor_in_thread():
    """The global reactor, running in a background thread (started on first use)."""
    global _reactor_thread
    from twisted.internet import reactor

    with _reactor_lock:
        if _reactor_thread is None:
            if reactor.running:
                raise RuntimeError("the reactor already runs in this thread; use Server directly")
            _reactor_thread = threading.Thread(
                target=reactor.run,
                kwargs={"installSignalHandlers": False},
                name="elektromail-reactor",
                daemon=True,
            )
            _reactor_thread.start()
    return reactor


def call_in_reactor(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run `fn` in the reactor thread and wait for its result; a coroutine function's
    coroutine and a returned Deferred are waited for too."""
    reactor = reactor_in_thread()

    def run():
        result = fn(*args, **kwargs)
        if hasattr(result, "__await__") and not isinstance(result, defer.Deferred):
            return defer.Deferred.fromCoroutine(result)
        return result

    return blockingCallFromThread(reactor, run)


class MailServer:
    """An elektromail on free loopback ports: `with MailServer() as mail: mail.smtp_port`."""

    def __init__(
        self,
        users: str | tuple[UserSpec, ...] | None = None,
        auth_disabled: bool = False,
        db: str | None = None,
        **settings: Any,
    ) -> None:
        if isinstance(users, str):
            users = parse_users(users)
        base = Settings(smtp_port=0, imap_port=0, http_port=None, bind="127.0.0.1")
        changes: dict[str, Any] = {"auth_disabled": auth_disabled, "db": db, **settings}
        if users is not None:
            changes["users"] = users
        self.settings = dataclasses.replace(base, **changes)
        self.server = None

    @property
    def host(self) -> str:
        return self.settings.bind

    @property
    def smtp_port(self) -> int | None:
        return self.server.port("smtp") if self.server else None

    @property
    def imap_port(self) -> int | None:
        return self.server.port("imap") if self.server else None

    def start(self) -> MailServer:
        from elektromail.service import Server

        def build():
            server = Server(self.settings)
            server.listen()
            return server

        self.server = call_in_reactor(build)
        call_in_reactor(self.server.start)
        return self

    def stop(self) -> None:
        if self.server is not None:
            call_in_reactor(self.server.stop)
            self.server = None

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn` in the reactor thread (e.g. a store method) and return its result."""
        return call_in_reactor(fn, *args, **kwargs)

    def __enter__(self) -> MailServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
