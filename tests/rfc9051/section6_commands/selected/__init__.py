"""RFC 9051 §6.4: commands of the selected state (messages in the selected mailbox)."""
