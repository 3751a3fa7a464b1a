"""The RFC 9051 (IMAP4rev2, with IMAP4rev1 where the dialects differ) compliance harness."""
