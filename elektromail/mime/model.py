"""What parsing a message gives: address, envelope and body-part records, as IMAP needs them.

Plain frozen dataclasses; the parser builds them, the store keeps them as JSON, FETCH renders them.
"""

from __future__ import annotations

from dataclasses import dataclass

# Strings taken from headers are `str` decoded from the raw bytes as UTF-8 with
# errors="surrogateescape", so encoding them back the same way restores the exact bytes
# (8-bit headers that are not UTF-8 survive). RFC 2047 encoded-words are NOT decoded in
# Envelope/BodyPart fields: IMAP sends them as they stand.


@dataclass(frozen=True, slots=True)
class Address:
    """One RFC 5322 address as IMAP's ENVELOPE wants it (RFC 9051 §7.5.2)."""

    name: str | None
    adl: str | None
    mailbox: str | None
    host: str | None


@dataclass(frozen=True, slots=True)
class Envelope:
    """The ENVELOPE fields; address lists are None when the header is absent or empty."""

    date: str | None = None
    subject: str | None = None
    from_: tuple[Address, ...] | None = None
    sender: tuple[Address, ...] | None = None
    reply_to: tuple[Address, ...] | None = None
    to: tuple[Address, ...] | None = None
    cc: tuple[Address, ...] | None = None
    bcc: tuple[Address, ...] | None = None
    in_reply_to: str | None = None
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class BodyPart:
    """One MIME entity with the data BODYSTRUCTURE needs and its byte offsets in the raw message.

    Offsets are absolute positions in the raw message bytes:
    raw[start:body_start] is the part's header block including the blank line that ends it
    (empty for a multipart's preamble-less implicit parts), raw[body_start:end] its body.
    """

    type: str  # lower-case, e.g. "text"
    subtype: str  # lower-case, e.g. "plain"
    params: tuple[tuple[str, str], ...] = ()  # Content-Type parameters, in order
    id: str | None = None
    description: str | None = None
    encoding: str = "7bit"  # Content-Transfer-Encoding, lower-case
    size: int = 0  # body octets
    lines: int | None = None  # for text/* and message/rfc822 only
    md5: str | None = None
    disposition: tuple[str, tuple[tuple[str, str], ...]] | None = None
    language: tuple[str, ...] | None = None
    location: str | None = None
    start: int = 0
    body_start: int = 0
    end: int = 0
    parts: tuple[BodyPart, ...] = ()  # children of a multipart
    # message/rfc822 (and message/global): the encapsulated message's envelope and root part
    envelope: Envelope | None = None
    message: BodyPart | None = None


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """What delivery computes once and the store keeps beside the raw bytes."""

    size: int
    header_end: int  # raw[:header_end] is the header block incl. the blank line
    envelope: Envelope
    body: BodyPart


# Conventions for the code that reads these objects:
# - A part is structurally a multipart iff `parts` is non-empty, and an encapsulated message iff
#   `message` is not None. A multipart/* without usable children (no boundary, boundary never
#   found, nesting deeper than parse.MAX_DEPTH) and a message/rfc822|global that was not parsed (a
#   base64/quoted-printable Content-Transfer-Encoding, or too deep) are opaque leaves with their
#   type kept; RFC 9051's grammar has no basic body of those types, so the BODYSTRUCTURE writer
#   has to stand in for them (Dovecot writes an empty text/plain child or an octet-stream).
# - IMAP cannot tell a group start from a mailbox without a domain: both have host NIL.
# - RFC 2231 continuations are merged as Dovecot does (see parse._merge_sections); param_value()
#   decodes a parameter for display.

# The end of a group in an address list, as IMAP's ENVELOPE marks it (RFC 9051 §7.5.2).
GROUP_END = Address(None, None, None, None)
# Content-Transfer-Encodings whose body is the data itself.
IDENTITY_ENCODINGS = frozenset({"7bit", "8bit", "binary"})
