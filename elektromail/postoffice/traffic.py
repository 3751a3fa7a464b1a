"""How much mail came in, for the log: at most one summary line a minute instead of a line per
message (a line per message cost a tenth of the SMTP ingest and 8 MB a 20-second load), and
the per-message lines back when the log-messages setting asks for them."""

from __future__ import annotations

from collections import Counter
from typing import Any

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from elektromail.metrics import Metrics

log = Logger()

WINDOW_SECONDS = 60.0

# How each way in is named in the summary, in the order shown.
WAYS = {
    "smtp": "over SMTP",
    "dsn": "as DSNs",
    "append": "by IMAP APPEND",
    "inject": "by HTTP inject",
}


class Traffic:
    """Counts stored messages; the first one counted starts a window, and when it closes,
    WINDOW_SECONDS later, one line says what came in during it. A quiet server logs nothing.

    `each` is the log-messages setting: callers log their own per-message line when it is on
    (``if traffic.each: log.info(...)``), and count either way."""

    def __init__(
        self, each: bool = False, clock: IReactorTime | None = None, metrics: Metrics | None = None
    ) -> None:
        self.each = each
        self.metrics = metrics if metrics is not None else Metrics()  # GET /metrics' counters
        self._clock = clock
        self._counts: Counter[str] = Counter()
        self._bytes = 0
        self._opened = 0.0
        self._call: IDelayedCall | None = None

    def count(self, way: str, size: int) -> None:
        """One message stored by `way` (a key of WAYS), of `size` bytes."""
        self._counts[way] += 1
        self._bytes += size
        self.metrics.message_stored(way, size)
        if self._call is None:
            clock = self._reactor()
            self._opened = clock.seconds()
            self._call = clock.callLater(WINDOW_SECONDS, self._report)

    def flush(self) -> None:
        """Log what the open window counted now (the server is stopping)."""
        if self._call is not None:
            self._call.cancel()
            self._report()

    def _reactor(self) -> Any:
        if self._clock is None:
            from twisted.internet import reactor

            self._clock = reactor
        return self._clock

    def _report(self) -> None:
        self._call = None
        seconds = self._reactor().seconds() - self._opened
        counts, self._counts = self._counts, Counter()
        size, self._bytes = self._bytes, 0
        total = sum(counts.values())
        if not total:
            return
        log.info(
            "stored {count} messages ({size} bytes) in the last {period}: {ways}",
            count=total,
            size=size,
            period="minute" if seconds >= WINDOW_SECONDS else f"{seconds:.0f} s",
            ways=", ".join(
                f"{counts[way]} {shown}" for way, shown in WAYS.items() if way in counts
            ),
        )
