"""Test messages for the MIME tests: written with \\n for readability, stored with CRLF."""

from __future__ import annotations

import base64

from elektromail.mime import Address, BodyPart


def crlf(text: str | bytes) -> bytes:
    """Test messages are written with \\n for readability and stored with CRLF, as on the wire."""
    data = text.encode() if isinstance(text, str) else text
    return data.replace(b"\n", b"\r\n")


def body_of(raw: bytes, part: BodyPart) -> bytes:
    return raw[part.body_start : part.end]


def header_of(raw: bytes, part: BodyPart) -> bytes:
    return raw[part.start : part.body_start]


GROUP_END = Address(None, None, None, None)


PLAIN = crlf(
    """Return-Path: <alice@example.org>
Received: from mail.example.org (mail.example.org [192.0.2.1])
\tby mx.example.com; Mon, 1 Jan 2024 10:00:00 +0000
From: Alice Example <alice@example.org>
To: Bob <bob@example.com>, carol@example.com
Cc: "Dave, D." <dave@example.net>
Subject: Quarterly
 report
Date: Mon, 1 Jan 2024 10:00:00 +0000
Message-ID: <abc.123@example.org>
In-Reply-To: <parent@example.org>

Hello Bob,
see you.
"""
)


ALTERNATIVE = crlf(
    """From: a@example.org
To: b@example.org
Subject: alt
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="ALT"

This is a preamble.
--ALT
Content-Type: text/plain; charset=utf-8

plain text
--ALT
Content-Type: text/html; charset="utf-8"
Content-Transfer-Encoding: Quoted-Printable

<p>html =E2=82=AC</p>
--ALT--
This is the epilogue.
"""
)


PDF = bytes(range(256)) * 3


PDF_B64 = base64.encodebytes(PDF).replace(b"\n", b"\r\n")


MIXED = (
    crlf(
        """From: Alice <alice@example.org>
To: bob@example.com
Subject: report
Content-Type: multipart/mixed; boundary="OUTER"

--OUTER
Content-Type: multipart/alternative; boundary="INNER"

--INNER
Content-Type: text/plain; charset=us-ascii

See attached.
--INNER
Content-Type: text/html

<p>See attached.</p>
--INNER--

--OUTER
Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename="report.pdf"; size=768
Content-Transfer-Encoding: base64
Content-ID: <part2@example.org>
Content-Description: The report
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==
Content-Language: en, de
Content-Location: http://example.org/report.pdf

"""
    )
    + PDF_B64
    + b"\r\n--OUTER--\r\n"
)


FORWARD = crlf(
    """From: Carol <carol@example.org>
To: dave@example.org
Subject: Fwd: report
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain

See below.
--b1
Content-Type: message/rfc822
Content-Disposition: inline

From: Alice <alice@example.org>
To: bob@example.com
Subject: original
Message-ID: <orig@example.org>

Original body
two lines
--b1--
"""
)


FORWARD_MULTIPART = crlf(
    """From: x@example.org
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: message/rfc822

From: y@example.org
Subject: inner
Content-Type: multipart/alternative; boundary="b2"

--b2

inner plain
--b2
Content-Type: text/html

<b>inner</b>
--b2--
--b1--
"""
)


DIGEST = crlf(
    """From: list@example.org
Subject: digest
Content-Type: multipart/digest; boundary="D"

--D

From: one@example.org
Subject: first

body 1
--D
Content-Type: text/plain

not a message
--D--
"""
)


FIXTURES = {
    "plain": PLAIN,
    "alternative": ALTERNATIVE,
    "mixed": MIXED,
    "forward": FORWARD,
    "forward-multipart": FORWARD_MULTIPART,
    "digest": DIGEST,
}


# These inputs parse in milliseconds; quadratic (or backtracking) work at their sizes takes
# minutes. The bound catches only that, never a slow or busy machine (the suite runs beside
# other work): speed itself is measured in bench/, not here.
QUADRATIC_GUARD = 20.0  # seconds
N = 50_000  # the size of each hostile input, in repeats of its unit
