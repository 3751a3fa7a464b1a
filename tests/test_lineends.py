"""Line ends as a message is stored (elektromail.lineends): bare LF becomes CRLF, for /inject,
fixtures and MailServer.inject alike."""

from __future__ import annotations

import pytest

from elektromail.lineends import crlf


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        (b"a\nb\n", b"a\r\nb\r\n"),
        (b"a\r\nb\r\n", b"a\r\nb\r\n"),
        (b"a\r\nb\nc", b"a\r\nb\r\nc"),
        (b"lone\rcr\n", b"lone\rcr\r\n"),
        (b"\n\n", b"\r\n\r\n"),
        (b"no line end", b"no line end"),
    ],
)
def test_bare_lf_becomes_crlf(raw, stored):
    assert crlf(raw) == stored
