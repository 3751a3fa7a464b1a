"""RFC 9051 section 6: client commands, one package per state (selected/ comes later)."""
