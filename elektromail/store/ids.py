"""How the store makes object ids (RFC 8474): MAILBOXIDs when a mailbox is created, EMAILIDs
when a body is parsed. No imports, so every store module may use it."""

from __future__ import annotations

import secrets

# RFC 8474 §4 and §5: an objectid is 1 to 255 of ALPHA / DIGIT / "_" / "-". Ours are a letter
# that says what the id names (F: folder, M: message; RFC 8474 §5.2 asks that EMAILIDs and
# THREADIDs never be the same value) and 24 random hex digits, so an id is never handed out
# twice, also after a DELETE and CREATE of the same name or a reset of the server.
ID_RANDOM_BYTES = 12
NEW_MAILBOXID = f"('F' || lower(hex(randomblob({ID_RANDOM_BYTES}))))"  # SQL, for INSERTs
NEW_EMAILID = f"('M' || lower(hex(randomblob({ID_RANDOM_BYTES}))))"


def new_mailboxid() -> str:
    """A fresh MAILBOXID, made in Python where the caller needs it back (CREATE's OK)."""
    return "F" + secrets.token_hex(ID_RANDOM_BYTES)
