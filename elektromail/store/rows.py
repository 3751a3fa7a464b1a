"""The value that travels from parse to store: a message prepared for storing (its bytes and
what one parse made of them, with the flags and dates of its copy), and `prepare`, which makes it.
Pure code."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from elektromail import mailtext, mime
from elektromail.flags import normalize_flags
from elektromail.mailtext import Index

Rendered = tuple[bytes, bytes, bytes]  # (ENVELOPE, BODYSTRUCTURE, BODY) as IMAP sends them
# Renders what IMAP will want of a message (set by the service, which may import the protocols).
Render = Callable[[mime.ParsedMessage], Rendered]
# Renders ENVELOPE alone, from the top-level header (store/pending.py's render_envelopes): the
# first of Rendered, byte for byte.
RenderEnvelope = Callable[[mime.Envelope], bytes]


@dataclass(frozen=True, slots=True)
class PreparedMessage:
    """One message as delivery hands it to the store: the bytes exactly as received, the MIME
    structure (mime.to_json), the IMAP renderings and the listing/search index made from the
    same parse, and the flags and dates its stored copies get.

    `structure` None means "not parsed yet": the store keeps the bytes and parses them when
    first needed (store/pending.py). Otherwise `rendered` and `index` may be None (the store
    then renders nothing and indexes from `structure`). `internal_date` None means "now, when
    stored"."""

    raw: bytes
    structure: str | None
    rendered: Rendered | None = None
    index: Index | None = None
    flags: tuple[str, ...] = ()
    internal_date: float | None = None
    tz_minutes: int = 0

    @property
    def size(self) -> int:
        return len(self.raw)


def prepare(
    raw: bytes,
    render: Render | None = None,
    *,
    parsed: mime.ParsedMessage | None = None,
    flags: Sequence[str] = (),
    internal_date: float | None = None,
    tz_minutes: int = 0,
) -> PreparedMessage:
    """Parse `raw` once (unless `parsed` is that parse already) and keep what every reader of
    the message needs: its structure, IMAP renderings and search index; flags normalized."""
    if parsed is None:
        parsed = mime.parse(raw)
    return PreparedMessage(
        raw,
        mime.to_json(parsed),
        render(parsed) if render is not None else None,
        mailtext.index(raw, parsed),
        normalize_flags(flags),
        internal_date,
        tz_minutes,
    )


def unparsed(
    raw: bytes,
    *,
    flags: Sequence[str] = (),
    internal_date: float | None = None,
    tz_minutes: int = 0,
) -> PreparedMessage:
    """`raw` to be stored now and parsed once, later, when first needed (store/pending.py):
    what must happen before a delivery is acknowledged is only that its bytes are committed."""
    flags = normalize_flags(flags) if flags else ()  # SMTP's deliveries have none
    return PreparedMessage(raw, None, None, None, flags, internal_date, tz_minutes)
