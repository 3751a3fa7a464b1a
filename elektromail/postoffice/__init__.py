"""The post office: what the server does with mail, and the one door to the store.

Protocols (SMTP, IMAP, HTTP) change and read users, mailboxes and messages only through
`PostOffice`; every change publishes its event from here, so IMAP sessions, IDLE and HTTP
waiters hear of it whoever made it. The work is split by subject: delivery and routing,
accounts, mailboxes, the messages of a mailbox, and the control plane.
"""

from elektromail.postoffice.office import PostOffice
from elektromail.postoffice.routing import (
    DEFAULT_MAILBOXES,
    Delivery,
    MailboxRef,
    describe,
    split_address,
    strip_tag,
)

__all__ = [
    "DEFAULT_MAILBOXES",
    "Delivery",
    "MailboxRef",
    "PostOffice",
    "describe",
    "split_address",
    "strip_tag",
]
