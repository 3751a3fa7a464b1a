"""Test data: messages as the exact bytes a client would APPEND (CRLF line ends), and the
connection states tests are parametrized over."""

from __future__ import annotations

from dataclasses import dataclass

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


# --- messages for the selected-state tests (FETCH, SEARCH) ------------------------------------

NESTED = crlf(
    """\
Date: Fri, 11 Feb 1994 08:00:00 +0000
From: Carol <carol@example.org>
Sender: Secretary <secretary@example.org>
Reply-To: Replies <replies@example.org>
To: Dave <dave@example.net>, erin@example.net
Cc: Frank <frank@example.com>
Bcc: Heidi <heidi@example.com>
Subject: forwarded note
In-Reply-To: <earlier@example.org>
Message-Id: <nested-1@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

preamble text
--b1
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Wir sehen uns beim Fu=C3=9Fball, mit einem langen Zeilen=
umbruch.
--b1
Content-Type: message/rfc822
Content-Description: the original

Date: Thu, 10 Feb 1994 07:00:00 +0000
From: Grace <grace@example.com>
To: Carol <carol@example.org>
Subject: original note
Message-Id: <inner-1@example.com>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b2"

--b2
Content-Type: text/plain; charset=us-ascii

inner plain text
--b2
Content-Type: text/html; charset=us-ascii

<p>inner html</p>
--b2--

--b1
Content-Type: image/png; name="dot.png"
Content-Transfer-Encoding: base64
Content-Disposition: inline; filename="dot.png"
Content-Id: <dot@example.org>

AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
--b1--
"""
)
"""multipart/mixed: 1 text/plain (quoted-printable), 2 message/rfc822 (2.1 text/plain,
2.2 text/html inside a multipart/alternative), 3 image/png (base64, with NUL octets)."""

# The decoded content of NESTED's parts, for BINARY and SEARCH.
NESTED_PART1_DECODED = "Wir sehen uns beim Fußball, mit einem langen Zeilenumbruch.".encode()
NESTED_PART3_DECODED = bytes(range(32))

ENCODED_BODY_TEXT = "Die Geheimzahl lautet 4711.\r\nSchöne Grüße\r\n".encode()

ENCODED_HEADERS = crlf(
    """\
Date: Sat, 12 Feb 1994 12:00:00 +0000
From: =?iso-8859-1?q?J=F6rg_Br=E4uer?= <joerg@example.com>
To: =?utf-8?b?Wm/Dqw==?= <zoe@example.com>
Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=
Message-Id: <encoded-1@example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

RGllIEdlaGVpbXphaGwgbGF1dGV0IDQ3MTEuDQpTY2jDtm5lIEdyw7zDn2UNCg==
"""
)
"""RFC 2047 encoded From, To and Subject (Jörg Bräuer, Zoë, "Grüße aus Köln") and a base64
text body (ENCODED_BODY_TEXT)."""

UNKNOWN_CTE = crlf(
    """\
Date: Sun, 13 Feb 1994 12:00:00 +0000
From: Ivan <ivan@example.com>
To: Judy <judy@example.com>
Subject: strange encoding
Message-Id: <unknown-cte-1@example.com>
MIME-Version: 1.0
Content-Type: application/octet-stream
Content-Transfer-Encoding: x-rfc9051-unknown

some data in an encoding nobody knows
"""
)

GROUPS = crlf(
    """\
Date: Mon, 14 Feb 1994 12:00:00 +0000
From: "Doe, John" <john.doe@example.com>
To: undisclosed-recipients:;
Cc: Team: ann@example.com, Ben <ben@example.com>;
Subject:
Message-Id: <groups-1@example.com>

group syntax and a quoted display name
"""
)
"""Address groups (RFC 5322 §3.4), a quoted display name with a comma, an empty Subject, and
no Sender, Reply-To, Bcc or In-Reply-To."""


def message(subject: str, body: str = "hello\n", date: str = "Tue, 1 Mar 2022 12:00:00 +0000"):
    """A small plain message with its own Subject (for tests that only count messages)."""
    return crlf(
        f"""\
Date: {date}
From: Tester <tester@example.com>
To: Receiver <receiver@example.com>
Subject: {subject}
Message-Id: <{subject.replace(" ", "-")}@example.com>

{body}"""
    )


@dataclass(frozen=True)
class Stored:
    """A message to APPEND with flags (e.g. "\\Seen $Work") and an internal date
    ("01-Mar-2020 12:00:00 +0000")."""

    data: bytes
    flags: str | None = None
    date: str | None = None


# Three small messages with different flags and internal dates (COPY, MOVE).
TRIO = (
    Stored(message("first"), flags="\\Seen", date="01-Mar-2020 12:00:00 +0000"),
    Stored(message("second"), flags="\\Flagged $Work", date="02-Mar-2020 12:00:00 +0000"),
    Stored(message("third"), date="03-Mar-2020 12:00:00 +0000"),
)

# Header fields that need care: a route address, an escaped quoted name, an RFC 2047 word, a
# folded Subject; parts with MD5, language, location and RFC 2231 continued parameters.
DETAILED = crlf(
    """\
From: Route <@relay1.example,@relay2.example:route@example.com>, "Quoted \\"Name\\"" <q@example.com>
To: =?utf-8?q?Gr=C3=BC=C3=9Fe?= <g@example.com>
Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= and a long
 folded subject line
Date: Tue, 1 Mar 2022 12:00:00 +0000
Message-Id: <detailed-1@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=xx

--xx
Content-Type: text/plain; charset=us-ascii
Content-Language: en, de
Content-Location: http://example.com/a.txt
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==

body one
--xx
Content-Type: application/pdf;
 name*0="very-long-";
 name*1="file.pdf"
Content-Transfer-Encoding: base64

JVBERi0=
--xx--
"""
)

# A message of header fields only: no blank line, no body (RFC 9051 §6.4.5.1).
HEADER_ONLY = b"Subject: only a header\r\nFrom: x@example.com\r\n"

# Address shapes as imaptest's search-addresses script has them (RFC 5322 §3.4): bare
# addr-specs, display names, comments inside an angle address, a trailing comment, a list, and
# groups (one folded, one empty). Every message has From; TO, CC and BCC vary.
ADDRESS_SHAPES = tuple(
    crlf(header + "Subject: address shapes\n\nbody\n")
    for header in (
        # 1
        "From: user-from@domain.org\nTo: user-to@domain.org\nCc: user-cc@domain.org\n"
        "Bcc: user-bcc@domain.org\n",
        # 2
        "From: RealFrom <user-from@domain.org>\nTo: RealTo <user-to@domain.org>\n"
        "Cc: RealCc <user-cc@domain.org>\nBcc: RealBcc <user-bcc@domain.org>\n",
        # 3
        "From: <user-from (comment)@ (comment) domain.org>\nTo: <user-to@domain.org>\n"
        "Cc: <user-cc@domain.org>\nBcc: <user-bcc@domain.org>\n",
        # 4
        "From: user-from@domain.org (RealFrom)\nTo: user-to@domain.org (RealTo)\n"
        "Cc: user-cc@domain.org (RealCc)\nBcc: user-bcc@domain.org (RealBcc)\n",
        # 5
        "From: user-from1@domain.org, user-from2@domain.org\nCc: user-cc@domain.org\n",
        # 6
        "From: RealFrom <user-from@domain.org>\n"
        "To: groupname: groupuser1@domain.org, groupuser2@domain.org;,\n"
        "  groupname2: groupuser3@domain.org;\n",
        # 7
        "From: RealFrom <user-from@domain.org>\nTo: groupname:;\n",
    )
)

# An addr-spec with its owner's name in a trailing comment (RFC 5322 §3.4's legacy form), and a
# Subject folded with a tab and holding a run of spaces.
LEGACY_NAME = crlf(
    """\
Date: Thu, 15 Feb 2007 01:02:03 +0200
From: user@example.com (Real Name)
To: other@example.com
Subject: folded
\tsubject  with spaces
Message-Id: <legacy-name@example.com>

body
"""
)

# NUL octets in the body: SMTP and APPEND clients let them through, and a server may send them
# only in a literal8 (RFC 9051 §4.3.1). The body starts and ends with one.
NUL_OCTETS_BODY = b"\x00one\r\ntwo\x00three\r\n\x00"
NUL_OCTETS = (
    b"From: Nul <nul@example.com>\r\nSubject: nul octets\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    + NUL_OCTETS_BODY
)

# A multipart with a message/rfc822 part and nothing encoded: 7bit everywhere.
UNENCODED = crlf(
    """\
From: Kim <kim@example.com>
Subject: forwarded as is
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=u1

--u1
Content-Type: text/plain; charset=us-ascii

see below
--u1
Content-Type: message/rfc822

From: Lee <lee@example.com>
Subject: the original
Content-Type: multipart/alternative; boundary=u2

--u2
Content-Type: text/plain; charset=us-ascii

plain original
--u2
Content-Type: text/html; charset=us-ascii

<p>html original</p>
--u2--
--u1--
"""
)
