"""Line ends as a message is stored: CRLF (RFC 5322 §2.1), whatever an editor or a JSON body
gave. Pure code, for the doors that take whole messages from people: /inject and fixtures."""

from __future__ import annotations

import re

_BARE_LF = re.compile(rb"(?<!\r)\n")


def crlf(raw: bytes) -> bytes:
    """Bare LF line ends become CRLF; CRLF and a lone CR stay as they are."""
    return _BARE_LF.sub(b"\r\n", raw) if b"\n" in raw else raw
