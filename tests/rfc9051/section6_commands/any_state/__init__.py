"""RFC 9051 §6.1: commands valid in any state (CAPABILITY, NOOP, LOGOUT), and ID (RFC 2971)."""
