"""twistd plugin: `twistd -n elektromail` (kept import-light: tap is loaded on use)."""

from twisted.application.service import ServiceMaker

elektromail = ServiceMaker(
    "elektromail",
    "elektromail.tap",
    "Development and test mail server (SMTP, IMAP, HTTP)",
    "elektromail",
)
