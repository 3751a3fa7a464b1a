"""Every SMTP reply the server sends: code, enhanced status code (RFC 2034/3463) and text.

Handlers name a constant from this catalogue instead of writing reply literals; tests compare
against the same names. Placeholders in `text` (`{host}`) are filled by `Reply.render`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reply:
    """One SMTP reply. `status` is None where RFC 2034 allows no enhanced code: the greeting,
    the EHLO/HELO answer and the 3xx intermediate replies (RFC 3463 has no class 3)."""

    code: int
    status: str | None
    text: str

    def render(self, **values: str) -> bytes:
        """The wire form: one line per `\\n` in the text, `code-` on all but the last."""
        lines = (self.text.format(**values) if values else self.text).split("\n")
        prefix = f"{self.status} " if self.status else ""
        out = [
            f"{self.code}{'-' if i < len(lines) - 1 else ' '}{prefix}{line}\r\n"
            for i, line in enumerate(lines)
        ]
        return "".join(out).encode("ascii")

    @classmethod
    def verbatim(cls, code: int, status: str | None, text: str) -> Reply:
        """A reply whose text is taken as is (a rule's diagnostic), not as a template."""
        return cls(code, status, text.replace("{", "{{").replace("}", "}}"))

    def line(self) -> str:
        """`550 5.1.1 User unknown`: the reply as one line of text, as a DSN quotes it (a
        verbatim text with its braces as written, not as `verbatim` escaped them)."""
        text = self.text.replace("{{", "{").replace("}}", "}")
        return " ".join(str(part) for part in (self.code, self.status, text) if part)


# --- connection ------------------------------------------------------------------------------
GREETING = Reply(220, None, "{host} elektromail ESMTP ready")
CLOSING = Reply(221, "2.0.0", "{host} closing connection")
TIMEOUT = Reply(421, "4.4.2", "{host} timeout, closing connection")
SHUTTING_DOWN = Reply(421, "4.3.2", "{host} shutting down")
# Instead of the greeting when the listener is at --max-connections, then the connection is
# closed (RFC 5321 §3.8, §4.2.3 "421 <domain> Service not available, closing transmission
# channel"); RFC 3463 X.3.2 "System not accepting network messages".
TOO_MANY_CONNECTIONS = Reply(421, "4.3.2", "{host} too many connections, try again later")

# --- greeting commands -----------------------------------------------------------------------
HELO_OK = Reply(250, None, "{host} Hello {peer}")
EHLO_OK = Reply(250, None, "{host} Hello {peer}\n{extensions}")
HELO_SYNTAX = Reply(501, "5.5.4", "Syntax: HELO hostname")
EHLO_SYNTAX = Reply(501, "5.5.4", "Syntax: EHLO hostname")

# --- simple commands -------------------------------------------------------------------------
OK = Reply(250, "2.0.0", "OK")
RESET_OK = Reply(250, "2.0.0", "Reset OK")
HELP = Reply(
    214,
    "2.0.0",
    "elektromail, a development mail server; see RFC 5321\n"
    "Commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT",
)
CANNOT_VRFY = Reply(252, "2.5.0", "Cannot VRFY user, but will accept message for any address")
NO_ARGUMENTS = Reply(501, "5.5.4", "Syntax error: no arguments allowed")
ARGUMENT_REQUIRED = Reply(501, "5.5.4", "Syntax error: argument required")

# --- STARTTLS (RFC 3207) ---------------------------------------------------------------------
READY_FOR_TLS = Reply(220, "2.0.0", "Ready to start TLS")
TLS_ACTIVE = Reply(503, "5.5.1", "TLS already active")
TLS_UNAVAILABLE = Reply(454, "4.7.0", "TLS not available")

# --- mail transaction ------------------------------------------------------------------------
SENDER_OK = Reply(250, "2.1.0", "Sender OK")
RECIPIENT_OK = Reply(250, "2.1.5", "Recipient OK")
MAIL_SYNTAX = Reply(501, "5.5.4", "Syntax: MAIL FROM:<address>")
RCPT_SYNTAX = Reply(501, "5.5.4", "Syntax: RCPT TO:<address>")
BAD_SENDER_ADDRESS = Reply(501, "5.1.7", "Bad sender address syntax")
BAD_RECIPIENT_ADDRESS = Reply(501, "5.1.3", "Bad recipient address syntax")
NESTED_MAIL = Reply(503, "5.5.1", "Sender already specified")
AUTH_REQUIRED = Reply(530, "5.7.0", "Authentication required")
SIZE_EXCEEDED = Reply(552, "5.3.4", "Message size exceeds fixed maximum message size")
PARAMETER_SYNTAX = Reply(501, "5.5.4", "Syntax error in {parameter} parameter")
PARAMETERS_SYNTAX = Reply(501, "5.5.4", "Syntax error in parameters")
DUPLICATE_PARAMETER = Reply(501, "5.5.4", "Parameter {parameter} given twice")
UNKNOWN_PARAMETER = Reply(555, "5.5.4", "Unsupported parameter {parameter}")
NON_ASCII_SENDER = Reply(550, "5.6.7", "Non-ASCII sender address needs SMTPUTF8")
NON_ASCII_RECIPIENT = Reply(553, "5.6.7", "Non-ASCII recipient address needs SMTPUTF8")
NEED_MAIL = Reply(503, "5.5.1", "Need MAIL before RCPT")
NEED_MAIL_BEFORE_DATA = Reply(503, "5.5.1", "Need MAIL before DATA")
NEED_RCPT = Reply(503, "5.5.1", "Need RCPT before DATA")
TOO_MANY_RECIPIENTS = Reply(452, "4.5.3", "Too many recipients")
START_DATA = Reply(354, None, "Start mail input; end with <CRLF>.<CRLF>")
MESSAGE_ACCEPTED = Reply(250, "2.0.0", "Message accepted")
MESSAGE_TOO_BIG = Reply(552, "5.3.4", "Message too big")
# --- CHUNKING and BINARYMIME (RFC 3030) ------------------------------------------------------
CHUNK_OK = Reply(250, "2.0.0", "{octets} octets received")
# A chunk-size that is no number (or none): its data, if any, cannot be told from commands.
BDAT_SYNTAX = Reply(501, "5.5.4", "Syntax: BDAT chunk-size [LAST]")
# RFC 3030 §2 allows a zero chunk-size only on "the last BDAT command"; a non-final BDAT 0
# moves nothing and could repeat for ever: Postfix's reply, and like Postfix the transaction fails.
NULL_BDAT = Reply(551, "5.7.1", "Null BDAT request")
NEED_MAIL_BEFORE_BDAT = Reply(503, "5.5.1", "Need MAIL before BDAT")
NEED_RCPT_BEFORE_BDAT = Reply(503, "5.5.1", "Need RCPT before BDAT")
# RFC 3030 §2: after a failed BDAT the client sends no more; those in the pipeline are read
# and dropped until BDAT LAST or RSET.
CHUNK_AFTER_FAILURE = Reply(503, "5.5.1", "Chunk discarded: the transaction failed earlier")
# RFC 3030 §2 "If a DATA statement is issued after a BDAT for the current transaction, a 503"
DATA_AFTER_BDAT = Reply(503, "5.5.1", "DATA after BDAT in one transaction")
# RFC 3030 §3 "BINARYMIME cannot be used with the DATA command"
BINARYMIME_NEEDS_BDAT = Reply(503, "5.5.1", "BODY=BINARYMIME needs BDAT, not DATA")
# RFC 1870 §6.4 at RCPT, RFC 3463's X.2.2 "Mailbox full"; Dovecot's words
MAILBOX_FULL = Reply(552, "5.2.2", "Quota exceeded (mailbox for user is full)")
LOCAL_ERROR = Reply(451, "4.3.0", "Requested action aborted: local error in processing")
# The store could not keep the message, so it was not accepted; the client keeps it and retries
# (RFC 5321 §4.2.5). A full disk: §4.2.3 "452 Requested action not taken: insufficient system
# storage", RFC 3463 X.3.1 "Mail system full".
STORE_FULL = Reply(452, "4.3.1", "Insufficient system storage, try again later")
# A read-only or failing database: §4.2.3 "451 Requested action aborted: local error in
# processing", RFC 3463 X.3.0 "Other or undefined mail system status".
STORE_UNAVAILABLE = Reply(451, "4.3.0", "Mail store temporarily unavailable, try again later")

# --- AUTH (RFC 4954) -------------------------------------------------------------------------
AUTH_CHALLENGE = Reply(334, None, "{challenge}")
AUTH_OK = Reply(235, "2.7.0", "Authentication successful")
AUTH_FAILED = Reply(535, "5.7.8", "Authentication credentials invalid")
AUTH_CANCELLED = Reply(501, "5.7.0", "Authentication cancelled")
AUTH_BAD_BASE64 = Reply(501, "5.5.2", "Cannot decode base64 response")
AUTH_MALFORMED = Reply(501, "5.5.2", "Malformed authentication response")
AUTH_UNKNOWN_MECHANISM = Reply(504, "5.5.4", "Unrecognized authentication mechanism")
AUTH_SYNTAX = Reply(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]")
ALREADY_AUTHENTICATED = Reply(503, "5.5.1", "Already authenticated")
AUTH_IN_TRANSACTION = Reply(503, "5.5.1", "AUTH not allowed during a mail transaction")
AUTH_TEMPORARY_FAILURE = Reply(454, "4.7.0", "Temporary authentication failure")

# --- errors ----------------------------------------------------------------------------------
UNKNOWN_COMMAND = Reply(500, "5.5.1", "Command unrecognized")
EMPTY_COMMAND = Reply(500, "5.5.2", "Syntax error: empty command")
LINE_TOO_LONG = Reply(500, "5.5.2", "Line too long")
