"""The connection lifecycle every listener shares: admit a connection or refuse it at the limit
(--max-connections, with one warning when refusing starts), forget it when it goes, close all."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from twisted.logger import Logger

from elektromail.metrics import Metrics

log = Logger()

C = TypeVar("C")


class Connections(Generic[C]):
    """One listener's open connections. A refused connection is never counted, so forgetting
    it (its connectionLost still runs) is harmless. Iterating gives a snapshot: closing a
    connection while iterating may forget it."""

    def __init__(self, listener: str, maximum: int, metrics: Metrics | None = None) -> None:
        self.listener = listener  # "SMTP", "IMAP", "HTTP": the log line names it
        self.maximum = maximum
        self._open: set[C] = set()
        self._refusing = False  # the limit was reached and said so
        # GET /metrics' sessions open and admitted, under the listener's name in lower case
        self._metrics = metrics
        self._protocol = listener.lower()

    def __len__(self) -> int:
        return len(self._open)

    def __iter__(self) -> Iterator[C]:
        return iter(tuple(self._open))

    def __contains__(self, connection: object) -> bool:
        return connection in self._open

    def admit(self, connection: C) -> bool:
        """Count `connection` in and return True, unless `maximum` are open already."""
        if len(self._open) >= self.maximum:
            if not self._refusing:
                self._refusing = True
                log.warn(
                    "{listener}: {count} connections open, refusing more (max-connections)",
                    listener=self.listener,
                    count=len(self._open),
                )
            return False
        self._refusing = False
        self._open.add(connection)
        if self._metrics is not None:
            self._metrics.session_opened(self._protocol)
        return True

    def forget(self, connection: C) -> None:
        """`connection` is gone: it no longer counts."""
        if connection in self._open:
            self._open.remove(connection)
            if self._metrics is not None:
                self._metrics.session_closed(self._protocol)

    def close_all(self, close: Callable[[C], object]) -> None:
        """Call `close` on every open connection (the server is stopping); each is forgotten
        when its connectionLost runs, as any other."""
        for connection in tuple(self._open):
            close(connection)
