"""Persistence: users, mailboxes and messages in SQLite through twisted.enterprise.adbapi."""

from elektromail.store.control import (
    Baseline,
    BaselineMailbox,
    BaselineMessage,
    BaselineUser,
    ControlOps,
    Emptied,
    Injected,
)
from elektromail.store.db import (
    MailboxExists,
    MailboxRow,
    MessageRow,
    NoSuchMailbox,
    StoreError,
    UserExists,
    UserRow,
)
from elektromail.store.db import Store as _CoreStore
from elektromail.store.errors import InvalidInput, NoSuchUser
from elektromail.store.messages import MessageOps
from elektromail.store.modseq import ModseqOps
from elektromail.store.namespaces import (
    NamespaceExists,
    NamespaceOps,
    NamespaceRow,
    NoSuchNamespace,
)
from elektromail.store.objectids import MessageExtras, ObjectOps
from elektromail.store.query import QueryOps
from elektromail.store.quotas import QuotaOps, QuotaRow
from elektromail.store.retention import RetentionOps
from elektromail.store.rows import PreparedMessage, Rendered
from elektromail.store.search import SearchOps
from elektromail.store.summaries import MessageSummary, SummaryOps


class Store(
    _CoreStore,
    MessageOps,
    ControlOps,
    SummaryOps,
    SearchOps,
    QueryOps,
    QuotaOps,
    ModseqOps,
    ObjectOps,
    NamespaceOps,
    RetentionOps,
):
    """Users, mailboxes and messages in one SQLite database (see db.py, messages.py,
    control.py, summaries.py, search.py, query.py, quotas.py, modseq.py and retention.py)."""


__all__ = [
    "Baseline",
    "BaselineMailbox",
    "BaselineMessage",
    "BaselineUser",
    "Emptied",
    "Injected",
    "InvalidInput",
    "MailboxExists",
    "MailboxRow",
    "MessageExtras",
    "MessageRow",
    "MessageSummary",
    "NamespaceExists",
    "NamespaceRow",
    "NoSuchMailbox",
    "NoSuchNamespace",
    "NoSuchUser",
    "PreparedMessage",
    "QuotaRow",
    "Rendered",
    "Store",
    "StoreError",
    "UserExists",
    "UserRow",
]
