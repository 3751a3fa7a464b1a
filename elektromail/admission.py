"""The connection limit every listener applies (--max-connections): whether one more may open,
and one warning when a listener starts refusing (not one per refused connection)."""

from __future__ import annotations

from twisted.logger import Logger

log = Logger()


class Admission:
    """One listener's gate; its open connections are counted by the listener itself."""

    def __init__(self, listener: str) -> None:
        self.listener = listener  # "SMTP", "IMAP", "HTTP": the log line names it
        self._refusing = False  # the limit was reached and said so

    def allows(self, open_now: int, maximum: int) -> bool:
        """True when a new connection may join the `open_now` ones."""
        if open_now < maximum:
            self._refusing = False
            return True
        if not self._refusing:
            self._refusing = True
            log.warn(
                "{listener}: {count} connections open, refusing more (max-connections)",
                listener=self.listener,
                count=open_now,
            )
        return False
