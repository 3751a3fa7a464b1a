"""Test data: messages as the exact bytes a client would APPEND (CRLF line ends), and the
connection states tests are parametrized over."""

from __future__ import annotations

# The states of RFC 9051 §3 a test can put a connection in (see the `in_state` fixture).
STATES = ("not_authenticated", "authenticated", "selected")


def crlf(text: str) -> bytes:
    """`text` with LF line ends turned into CRLF, encoded as UTF-8."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


PLAIN = crlf(
    """\
Date: Mon, 7 Feb 1994 21:52:25 -0800
From: Fred Foobar <foobar@example.com>
Subject: afternoon meeting
To: mooch@example.com
Message-Id: <B27397-0100000@example.com>
MIME-Version: 1.0
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII

Hello Joe, do you think we can meet at 3:30 tomorrow?
"""
)

MULTIPART = crlf(
    """\
Date: Tue, 8 Feb 1994 09:15:00 +0100
From: Alice <alice@example.com>
To: Bob <bob@example.com>
Subject: report with attachment
Message-Id: <multipart-1@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer-boundary"

This is a multi-part message in MIME format.
--outer-boundary
Content-Type: multipart/alternative; boundary="inner-boundary"

--inner-boundary
Content-Type: text/plain; charset=us-ascii

The report is attached.
--inner-boundary
Content-Type: text/html; charset=us-ascii

<p>The report is <b>attached</b>.</p>
--inner-boundary--
--outer-boundary
Content-Type: application/octet-stream; name="report.bin"
Content-Disposition: attachment; filename="report.bin"
Content-Transfer-Encoding: base64

AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
--outer-boundary--
"""
)

EIGHT_BIT = crlf(
    """\
Date: Wed, 9 Feb 1994 10:00:00 +0000
From: Joerg <joerg@example.com>
To: Zoe <zoe@example.com>
Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=
Message-Id: <eight-bit-1@example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Grüße aus Köln, ein Test mit 8-bit Daten: ½ € ✓
"""
)

UTF8_HEADERS = crlf(
    """\
Date: Thu, 10 Feb 1994 11:00:00 +0000
From: Jörg Müller <jörg@example.com>
To: Zoë <zoë@example.com>
Subject: Grüße aus Köln
Message-Id: <utf8-headers-1@example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Internationalized headers (RFC 6532).
"""
)

DRAFT_WITHOUT_HEADERS = crlf(
    """\
Subject: unfinished draft

still writing
"""
)

# A line long enough to matter, with no header at all: APPEND stores any octets.
BARE_BODY = b"just a body line, no header fields\r\n"


def sized(size: int, subject: str = "sized message") -> bytes:
    """A plain message of exactly `size` octets."""
    head = crlf(
        f"""\
From: sizer@example.com
To: user@example.com
Subject: {subject}
Message-Id: <sized-{size}@example.com>

"""
    )
    if size < len(head) + 2:
        raise ValueError(f"a message of {size} octets cannot hold its header")
    remaining = size - len(head) - 2
    lines = []
    while remaining >= 78:
        lines.append(b"x" * 76 + b"\r\n")
        remaining -= 78
    lines.append(b"x" * remaining)
    return head + b"".join(lines) + b"\r\n"


ALL = {
    "plain": PLAIN,
    "multipart": MULTIPART,
    "8bit": EIGHT_BIT,
    "draft": DRAFT_WITHOUT_HEADERS,
}
