"""`PostOffice`: the post office's state (store, events, settings, rules, baseline, remembered
routes) and its desks, one module each, mixed into one object that the service builds once."""

from __future__ import annotations

from twisted.internet.defer import inlineCallbacks

from elektromail.config import Settings
from elektromail.events import Events
from elektromail.postoffice.accounts import AccountDesk
from elektromail.postoffice.control import ControlDesk
from elektromail.postoffice.delivery import DeliveryDesk
from elektromail.postoffice.desk import Desk
from elektromail.postoffice.mailboxes import MailboxDesk
from elektromail.postoffice.messages import MessageDesk
from elektromail.postoffice.namespaces import NamespaceDesk
from elektromail.postoffice.oauth import OAuthDesk
from elektromail.postoffice.quotas import QuotaDesk
from elektromail.postoffice.retention import RetentionDesk
from elektromail.rules import RuleSet
from elektromail.store import Store


class PostOffice(
    DeliveryDesk,
    AccountDesk,
    MailboxDesk,
    MessageDesk,
    QuotaDesk,
    ControlDesk,
    RetentionDesk,
    NamespaceDesk,
    OAuthDesk,
    Desk,
):
    """Users, routing and delivery on top of the store, and every change (and read) the
    protocols make; publishes what changed to `events`."""

    def __init__(
        self, store: Store, events: Events, settings: Settings, rules: RuleSet | None = None
    ) -> None:
        super().__init__(store, events, settings, rules)

    @inlineCallbacks
    def start(self):
        """Seed the configured users, learn whether any user has limits of their own, and
        which namespaces a database file holds."""
        yield super().start()
        yield self.learn_quotas()
        yield self.load_namespaces()
