"""What every desk of the post office works with: the store, the event hub, the settings, the
delivery rules in force, the start state reset returns to, and the remembered routes."""

from __future__ import annotations

from elektromail.config import Settings
from elektromail.events import Events
from elektromail.metrics import Metrics
from elektromail.names import INBOX
from elektromail.postoffice.routing import (
    DEFAULT_MAILBOXES,
)
from elektromail.postoffice.traffic import Traffic
from elektromail.rules import RuleSet
from elektromail.store import Baseline, BaselineMailbox, BaselineUser, Store, UserRow
from elektromail.store.rows import Render, RenderEnvelope
from elektromail.transcripts import Ring


class Desk:
    """The shared state; each desk (a mixin of PostOffice) adds the verbs of one subject."""

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
                BaselineUser(spec.name, spec.password, spec.email, True, self.default_boxes())
                for spec in settings.users
            )
        )
        self._routes: dict[str, UserRow] = {}
        # \Recent (RFC 3501 §2.3.2): mailbox id -> (UIDVALIDITY, first UID no read-write
        # SELECT has seen), for the mailboxes opened since start; the store keeps a copy that
        # lags by the writes in flight (see MailboxDesk.open_recent).
        self._first_recent: dict[int, tuple[int, int]] = {}
        self._routes_generation = 0
        # How much mail came in, for the log (a summary a minute, or a line per message).
        # What GET /metrics shows; protocols bump it through `postoffice.metrics`.
        self.metrics = Metrics()
        self.traffic = Traffic(each=settings.log_messages, metrics=self.metrics)
        # The latest SMTP transactions, accepted or refused (the SMTP listener adds them).
        self.transcripts = Ring(settings.smtp_transcripts)

    @property
    def render(self) -> Render | None:
        """Renders what a protocol will want of every message (IMAP's ENVELOPE, BODYSTRUCTURE,
        BODY), once, when it is parsed; set by the service, which may import the protocols.
        The store parses, so it is the store's."""
        return self.store.render

    @render.setter
    def render(self, render: Render | None) -> None:
        self.store.render = render

    @property
    def render_envelope(self) -> RenderEnvelope | None:
        """Renders IMAP's ENVELOPE alone, for a FETCH of it before the whole parse."""
        return self.store.render_envelope

    @render_envelope.setter
    def render_envelope(self, render: RenderEnvelope | None) -> None:
        self.store.render_envelope = render

    def default_boxes(self) -> tuple[BaselineMailbox, ...]:
        """Every user's mailboxes as the baseline holds them (INBOX and the special-use ones
        subscribed)."""
        return tuple(
            BaselineMailbox(name, use, subscribed=use is not None or name == INBOX)
            for name, use in self.default_mailboxes
        )

    def forget_routes(self) -> None:
        """Forget the remembered routes. Whatever changes users or their email addresses
        other than through the post office must call this."""
        self._routes.clear()
        self._routes_generation += 1
