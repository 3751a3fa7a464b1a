"""RFC 9051 §6.2: commands of the not authenticated state (STARTTLS, AUTHENTICATE, LOGIN)."""
