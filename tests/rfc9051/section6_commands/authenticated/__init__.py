"""RFC 9051 §6.3: commands of the authenticated state (mailboxes as whole entities)."""
