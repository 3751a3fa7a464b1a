"""Unit tests for elektromail.mime: parse once, envelope, body structure, sections, decoding."""

from __future__ import annotations

import base64
import random
import time

import pytest

from elektromail.mime import (
    MAX_DEPTH,
    Address,
    BodyPart,
    Envelope,
    ParsedMessage,
    decode_body,
    decode_header,
    decoded_addresses,
    envelope_from_json,
    filter_header_fields,
    from_json,
    param_value,
    parse,
    parse_addresses,
    section_part,
    section_range,
    to_json,
)


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


# --- envelope ------------------------------------------------------------------------------------


def test_plain_message_envelope_fields():
    env = parse(PLAIN).envelope
    alice = (Address("Alice Example", None, "alice", "example.org"),)
    assert env == Envelope(
        date="Mon, 1 Jan 2024 10:00:00 +0000",
        subject="Quarterly report",
        from_=alice,
        sender=alice,
        reply_to=alice,
        to=(
            Address("Bob", None, "bob", "example.com"),
            Address(None, None, "carol", "example.com"),
        ),
        cc=(Address("Dave, D.", None, "dave", "example.net"),),
        bcc=None,
        in_reply_to="<parent@example.org>",
        message_id="<abc.123@example.org>",
    )


def test_plain_message_sizes_and_offsets():
    msg = parse(PLAIN)
    assert msg.size == len(PLAIN)
    assert PLAIN[: msg.header_end].endswith(b"In-Reply-To: <parent@example.org>\r\n\r\n")
    body = msg.body
    assert (body.type, body.subtype, body.params) == ("text", "plain", (("charset", "us-ascii"),))
    assert (body.start, body.body_start, body.end) == (0, msg.header_end, len(PLAIN))
    assert body_of(PLAIN, body) == b"Hello Bob,\r\nsee you.\r\n"
    assert (body.size, body.lines, body.encoding) == (22, 2, "7bit")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("a@b.example", [Address(None, None, "a", "b.example")]),
        ("John Doe <j@x.org>", [Address("John Doe", None, "j", "x.org")]),
        ("John Q. Public <jqp@x.org>", [Address("John Q. Public", None, "jqp", "x.org")]),
        ('"Doe, John" <j@x.org>', [Address("Doe, John", None, "j", "x.org")]),
        (r'"Jo \"JJ\" Doe" <j@x>', [Address('Jo "JJ" Doe', None, "j", "x")]),
        ('"Jo" Doe <j@x>', [Address("Jo Doe", None, "j", "x")]),
        ('"" <j@x>', [Address(None, None, "j", "x")]),
        ("<j@x>", [Address(None, None, "j", "x")]),
        ("j@x.org (John Doe)", [Address(None, None, "j", "x.org")]),
        ("John (the (nested) man) Doe <j@x>", [Address("John Doe", None, "j", "x")]),
        ("<@r1.example,@r2.example:j@x>", [Address(None, "@r1.example,@r2.example", "j", "x")]),
        ('"john doe"@x.org', [Address(None, None, '"john doe"', "x.org")]),
        ("a@[192.0.2.1]", [Address(None, None, "a", "[192.0.2.1]")]),
        ("=?utf-8?q?Jos=C3=A9?= <j@x>", [Address("=?utf-8?q?Jos=C3=A9?=", None, "j", "x")]),
        ("Zoë Ünal <z@x>", [Address("Zoë Ünal", None, "z", "x")]),
        ("No\xa0Break <n@x>", [Address("No\xa0Break", None, "n", "x")]),
        ('"No\xa0Break" <n@x> (slow path)', [Address("No\xa0Break", None, "n", "x")]),
        ("bare", [Address(None, None, "bare", None)]),
        ("a@", [Address(None, None, "a", None)]),
        ("<>", [Address(None, None, "", None)]),
        ("Name <a@b", [Address("Name", None, "a", "b")]),
        ("a@b, , c@d,", [Address(None, None, "a", "b"), Address(None, None, "c", "d")]),
        ("a@b junk, c@d", [Address(None, None, "a", "b"), Address(None, None, "c", "d")]),
        (
            "undisclosed-recipients:;",
            [Address(None, None, "undisclosed-recipients", None), GROUP_END],
        ),
        (
            "Team: a@x, B <b@y>;, c@z",
            [
                Address(None, None, "Team", None),
                Address(None, None, "a", "x"),
                Address("B", None, "b", "y"),
                GROUP_END,
                Address(None, None, "c", "z"),
            ],
        ),
        (
            "Open: a@x",
            [Address(None, None, "Open", None), Address(None, None, "a", "x"), GROUP_END],
        ),
    ],
)
def test_address_list_parsing(header, expected):
    assert parse_addresses(header) == expected


@pytest.mark.parametrize(
    "simple",
    ["a@b.example", "John Doe <j@x.org>", "A <a@x>, b@y, C D <c@z>", "  a@b  ,  Q <q@r>  "],
)
def test_address_fast_path_agrees_with_the_full_parser(simple):
    # A trailing comment forces the tokenizer; the result must not depend on the path taken.
    assert parse_addresses(simple) == parse_addresses(simple + " (comment)")


@pytest.mark.parametrize(
    "garbage",
    ["<<<>>>@@@,,;;::", '"unterminated', "(unterminated comment", "a@b\\", "::;;", "\\", "]["],
)
def test_address_garbage_never_raises(garbage):
    raw = crlf(f"From: {garbage}\nTo: {garbage}\n\nx")
    env = parse(raw).envelope
    assert env.from_ == env.sender == env.reply_to


def test_eight_bit_non_utf8_name_round_trips_to_the_exact_bytes():
    raw = b"From: Zo\xeb <z@x>\r\nSubject: caf\xe9\r\n\r\n"
    env = parse(raw).envelope
    assert env.from_[0].name.encode("utf-8", "surrogateescape") == b"Zo\xeb"
    assert env.subject.encode("utf-8", "surrogateescape") == b"caf\xe9"
    assert decode_header(env.subject) == "café"


def test_utf8_headers_are_decoded_as_utf8():
    raw = "Subject: Grüße €\r\nFrom: Jürgen <j@x.de>\r\n\r\n".encode()
    env = parse(raw).envelope
    assert env.subject == "Grüße €"
    assert env.from_ == (Address("Jürgen", None, "j", "x.de"),)


def test_encoded_words_are_kept_in_the_envelope():
    raw = b"Subject: =?UTF-8?B?SGVsbG8=?=\r\n\r\n"
    assert parse(raw).envelope.subject == "=?UTF-8?B?SGVsbG8=?="


@pytest.mark.parametrize(
    ("headers", "sender", "reply_to"),
    [
        ("From: a@x\n", "a", "a"),
        ("From: a@x\nSender:\nReply-To:  \n", "a", "a"),
        ("From: a@x\nSender: s@x\nReply-To: r@x\n", "s", "r"),
        ("Sender: s@x\n", "s", None),
    ],
    ids=["absent", "empty", "present", "no-from"],
)
def test_sender_and_reply_to_default_to_from(headers, sender, reply_to):
    env = parse(crlf(headers + "\nbody")).envelope
    assert (env.sender[0].mailbox if env.sender else None) == sender
    assert (env.reply_to[0].mailbox if env.reply_to else None) == reply_to


@pytest.mark.parametrize(
    ("header", "subject"),
    [
        ("Subject: plain\n", "plain"),
        ("Subject:\n", ""),
        ("Subject:    \n", ""),
        ("", None),
        ("Subject: folded\n  twice\n\tand tab\n", "folded  twice\tand tab"),
        ("SUBJECT: upper\n", "upper"),
        ("Subject : space before colon\n", "space before colon"),
        ("Subject: first\nSubject: second\n", "first"),
        ("X-Subject: no\nSubject: yes\n", "yes"),
        ("Subject:trailing spaces   \n", "trailing spaces"),
    ],
)
def test_subject_is_unfolded_and_present_but_empty_is_empty_string(header, subject):
    raw = crlf("From: a@x\n" + header + "\nbody\n")
    assert parse(raw).envelope.subject == subject


def test_absent_headers_give_none():
    env = parse(b"\r\nbody").envelope
    assert env == Envelope()


def test_header_names_inside_folded_lines_are_not_fields():
    raw = crlf("X-Note: something\n Subject: not a field\nSubject: real\n\n")
    assert parse(raw).envelope.subject == "real"


# --- body structure ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "lines"),
    [(b"", 0), (b"a", 1), (b"a\r\n", 1), (b"a\r\nb", 2), (b"a\r\n\r\n", 2), (b"a\nb\n", 2)],
)
def test_text_lines_count_a_last_line_without_crlf(body, lines):
    msg = parse(b"Subject: x\r\n\r\n" + body)
    assert (msg.body.lines, msg.body.size) == (lines, len(body))


def test_multipart_alternative_children_offsets_exclude_preamble_epilogue_and_crlf():
    msg = parse(ALTERNATIVE)
    root = msg.body
    assert (root.type, root.subtype, root.params) == (
        "multipart",
        "alternative",
        (("boundary", "ALT"),),
    )
    assert root.lines is None
    plain, html = root.parts
    assert header_of(ALTERNATIVE, plain) == b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    assert body_of(ALTERNATIVE, plain) == b"plain text"
    assert plain.start == ALTERNATIVE.index(b"Content-Type: text/plain")
    assert (plain.params, plain.size, plain.lines) == ((("charset", "utf-8"),), 10, 1)
    assert body_of(ALTERNATIVE, html) == b"<p>html =E2=82=AC</p>"
    assert (html.subtype, html.encoding, html.params) == (
        "html",
        "quoted-printable",
        (("charset", "utf-8"),),
    )
    assert decode_body(body_of(ALTERNATIVE, html), html.encoding) == "<p>html €</p>".encode()


def test_multipart_mixed_attachment_fields_and_exact_base64_body():
    msg = parse(MIXED)
    alternative, attachment = msg.body.parts
    assert [p.subtype for p in alternative.parts] == ["plain", "html"]
    assert body_of(MIXED, alternative.parts[0]) == b"See attached."
    assert body_of(MIXED, alternative.parts[1]) == b"<p>See attached.</p>"
    # The inner close delimiter is followed by an empty line: the outer part keeps it.
    assert body_of(MIXED, alternative).endswith(b"--INNER--\r\n")
    assert attachment == BodyPart(
        type="application",
        subtype="pdf",
        params=(("name", "report.pdf"),),
        id="<part2@example.org>",
        description="The report",
        encoding="base64",
        size=len(PDF_B64),
        lines=None,
        md5="Q2hlY2sgSW50ZWdyaXR5IQ==",
        disposition=("attachment", (("filename", "report.pdf"), ("size", "768"))),
        language=("en", "de"),
        location="http://example.org/report.pdf",
        start=attachment.start,
        body_start=attachment.body_start,
        end=attachment.end,
    )
    assert body_of(MIXED, attachment) == PDF_B64
    assert decode_body(body_of(MIXED, attachment), attachment.encoding) == PDF
    assert MIXED[attachment.end :] == b"\r\n--OUTER--\r\n"


def test_text_part_without_charset_is_us_ascii():
    """RFC 2046 §4.1.2: "The default character set, which must be assumed in the absence of
    a charset parameter, is US-ASCII"; BODYSTRUCTURE states it, as Dovecot's does."""
    msg = parse(MIXED)
    html = msg.body.parts[0].parts[1]
    assert (html.type, html.subtype, html.params) == ("text", "html", (("charset", "us-ascii"),))


def test_message_rfc822_part_has_envelope_and_absolute_offsets():
    msg = parse(FORWARD)
    text, forwarded = msg.body.parts
    assert body_of(FORWARD, text) == b"See below."
    assert (forwarded.type, forwarded.subtype) == ("message", "rfc822")
    assert forwarded.disposition == ("inline", ())
    inner_raw = (
        b"From: Alice <alice@example.org>\r\nTo: bob@example.com\r\nSubject: original\r\n"
        b"Message-ID: <orig@example.org>\r\n\r\nOriginal body\r\ntwo lines"
    )
    assert body_of(FORWARD, forwarded) == inner_raw
    assert (forwarded.size, forwarded.lines) == (len(inner_raw), 7)
    assert forwarded.envelope.subject == "original"
    assert forwarded.envelope.from_ == (Address("Alice", None, "alice", "example.org"),)
    assert forwarded.envelope.message_id == "<orig@example.org>"
    inner = forwarded.message
    assert inner.start == forwarded.body_start
    assert FORWARD[inner.start : inner.body_start].endswith(b"<orig@example.org>\r\n\r\n")
    assert body_of(FORWARD, inner) == b"Original body\r\ntwo lines"
    assert (inner.type, inner.subtype, inner.lines) == ("text", "plain", 2)


def test_message_rfc822_with_multipart_inside():
    msg = parse(FORWARD_MULTIPART)
    (forwarded,) = msg.body.parts
    inner = forwarded.message
    assert forwarded.envelope.subject == "inner"
    assert inner.subtype == "alternative"
    first, second = inner.parts
    assert header_of(FORWARD_MULTIPART, first) == b"\r\n"
    assert (first.type, first.subtype, first.params) == (
        "text",
        "plain",
        (("charset", "us-ascii"),),
    )
    assert body_of(FORWARD_MULTIPART, first) == b"inner plain"
    assert body_of(FORWARD_MULTIPART, second) == b"<b>inner</b>"


def test_message_global_is_encapsulated_too():
    raw = crlf("Content-Type: message/global\n\nSubject: Grüße\n\nhi")
    part = parse(raw).body
    assert part.envelope.subject == "Grüße"
    assert body_of(raw, part.message) == b"hi"


def test_base64_encoded_message_rfc822_is_opaque():
    raw = crlf(
        "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeA==\n"
    )
    part = parse(raw).body
    assert (part.type, part.subtype, part.envelope, part.message) == (
        "message",
        "rfc822",
        None,
        None,
    )
    assert part.lines == 1


def test_multipart_digest_children_default_to_message_rfc822():
    msg = parse(DIGEST)
    first, second = msg.body.parts
    assert (first.type, first.subtype, first.params) == ("message", "rfc822", ())
    assert header_of(DIGEST, first) == b"\r\n"
    assert first.envelope.subject == "first"
    assert body_of(DIGEST, first.message) == b"body 1"
    assert (second.type, second.subtype, second.envelope) == ("text", "plain", None)


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("text/plain", ("text", "plain", (("charset", "us-ascii"),))),
        ("TEXT/HTML; CHARSET=UTF-8", ("text", "html", (("charset", "UTF-8"),))),
        (
            'text/plain; charset="utf-8"; format=flowed',
            ("text", "plain", (("charset", "utf-8"), ("format", "flowed"))),
        ),
        (
            r'application/x; name="a \"b\" ; c.txt"',
            ("application", "x", (("name", 'a "b" ; c.txt'),)),
        ),
        ('application/x;\n name=\n "folded.txt"', ("application", "x", (("name", "folded.txt"),))),
        ("image/png ; name = a.png ;", ("image", "png", (("name", "a.png"),))),
        ("text", ("text", "plain", (("charset", "us-ascii"),))),
        ("", ("text", "plain", (("charset", "us-ascii"),))),
        ("/plain", ("text", "plain", (("charset", "us-ascii"),))),
        ("te xt/plain", ("text", "plain", (("charset", "us-ascii"),))),
        (
            'application/pdf; name*0="long "; name*1=name.pdf',
            ("application", "pdf", (("name", "long name.pdf"),)),
        ),
        (
            "application/pdf; name*1*=%C3%A9.pdf; name*0*=utf-8'fr'caf; x=1",
            ("application", "pdf", (("name*", "utf-8'fr'caf%C3%A9.pdf"), ("x", "1"))),
        ),
        (
            'application/pdf; name*0="a b"; name*1*=%C3%A9',
            ("application", "pdf", (("name*", "''a%20b%C3%A9"),)),
        ),
        (
            "application/pdf; name*=utf-8''%E2%82%AC.pdf",
            ("application", "pdf", (("name*", "utf-8''%E2%82%AC.pdf"),)),
        ),
    ],
)
def test_content_type_parsing(content_type, expected):
    raw = crlf(f"Content-Type: {content_type}\n\nbody")
    body = parse(raw).body
    assert (body.type, body.subtype, body.params) == expected


@pytest.mark.parametrize(
    ("params", "name", "value"),
    [
        ((("name*", "utf-8''%E2%82%AC.pdf"),), "name", "€.pdf"),
        ((("name*", "iso-8859-1'de'gr%FC%DFe.txt"),), "NAME", "grüße.txt"),
        ((("name*", "x-bogus''%41"),), "name", "A"),
        ((("name*", "%41%42"),), "name", "AB"),
        ((("name", "=?utf-8?q?caf=C3=A9.txt?="),), "name", "café.txt"),
        ((("name", "plain.txt"), ("name*", "utf-8''better.txt")), "name", "better.txt"),
        ((("other", "x"),), "name", None),
    ],
)
def test_param_value_decodes_rfc2231_and_rfc2047(params, name, value):
    assert param_value(params, name) == value


def test_content_headers_of_a_leaf_part():
    raw = crlf(
        "Content-Type: text/plain\nContent-Transfer-Encoding: 8BIT\nContent-Disposition: INLINE;"
        " filename=x.txt\nContent-Language: fr\nContent-ID:  <id@x>  \n\nbody"
    )
    part = parse(raw).body
    assert part.encoding == "8bit"
    assert part.disposition == ("inline", (("filename", "x.txt"),))
    assert part.language == ("fr",)
    assert part.id == "<id@x>"
    assert (part.md5, part.location, part.description) == (None, None, None)


@pytest.mark.parametrize(
    ("header", "disposition"),
    [("Content-Disposition:\n", None), ("Content-Disposition: ;x=1\n", None)],
)
def test_invalid_disposition_is_none(header, disposition):
    assert parse(crlf(header + "\nx")).body.disposition == disposition


# --- broken input --------------------------------------------------------------------------------


def test_no_blank_line_means_the_whole_message_is_header():
    raw = b"Subject: only a header\r\nFrom: a@x\r\n"
    msg = parse(raw)
    assert msg.header_end == len(raw)
    assert (msg.body.body_start, msg.body.end, msg.body.size, msg.body.lines) == (
        len(raw),
        len(raw),
        0,
        0,
    )
    assert msg.envelope.subject == "only a header"


def test_header_without_final_line_break():
    msg = parse(b"Subject: x")
    assert (msg.header_end, msg.envelope.subject) == (10, "x")


def test_empty_message():
    msg = parse(b"")
    assert (msg.size, msg.header_end, msg.envelope) == (0, 0, Envelope())
    assert msg.body == BodyPart("text", "plain", (("charset", "us-ascii"),), lines=0)


def test_message_starting_with_blank_line_has_empty_header():
    msg = parse(b"\r\nbody")
    assert msg.header_end == 2
    assert body_of(b"\r\nbody", msg.body) == b"body"


def test_header_and_empty_body():
    raw = b"Subject: x\r\n\r\n"
    msg = parse(raw)
    assert (msg.header_end, msg.body.size, msg.body.lines) == (len(raw), 0, 0)


def test_bare_lf_line_ends_keep_exact_offsets():
    raw = ALTERNATIVE.replace(b"\r\n", b"\n")
    msg = parse(raw)
    assert raw[: msg.header_end].endswith(b'boundary="ALT"\n\n')
    plain, html = msg.body.parts
    assert header_of(raw, plain) == b"Content-Type: text/plain; charset=utf-8\n\n"
    assert body_of(raw, plain) == b"plain text"
    assert body_of(raw, html) == b"<p>html =E2=82=AC</p>"


def test_mixed_line_ends():
    raw = b"Subject: a\nFrom: b@c\r\n\nbody\r\n"
    msg = parse(raw)
    assert (msg.header_end, msg.envelope.subject) == (raw.index(b"body"), "a")


def test_multipart_without_boundary_parameter_is_an_opaque_leaf():
    raw = crlf("Content-Type: multipart/mixed\n\n--x\n\nhello\n--x--\n")
    body = parse(raw).body
    assert (body.type, body.subtype, body.parts, body.lines) == ("multipart", "mixed", (), None)
    assert body_of(raw, body) == crlf("--x\n\nhello\n--x--\n")


def test_multipart_whose_boundary_never_occurs_is_an_opaque_leaf():
    raw = crlf('Content-Type: multipart/mixed; boundary="nope"\n\n--x\n\nhello\n')
    assert parse(raw).body.parts == ()


def test_unterminated_multipart_last_part_runs_to_the_end():
    raw = crlf('Content-Type: multipart/mixed; boundary="b"\n\n--b\n\none\n--b\n\ntwo\n')
    one, two = parse(raw).body.parts
    assert body_of(raw, one) == b"one"
    assert body_of(raw, two) == b"two\r\n"


def test_part_whose_first_line_is_not_a_header_has_no_header():
    raw = crlf('Content-Type: multipart/mixed; boundary="b"\n\n--b\njust text\nmore\n--b--\n')
    (part,) = parse(raw).body.parts
    assert part.start == part.body_start
    assert body_of(raw, part) == b"just text\r\nmore"
    assert (part.type, part.subtype, part.lines) == ("text", "plain", 2)


def test_part_header_without_blank_line_is_all_header():
    raw = crlf(
        'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/html\n--b--\n'
    )
    (part,) = parse(raw).body.parts
    assert (part.subtype, part.size, part.body_start) == ("html", 0, part.end)
    assert header_of(raw, part) == b"Content-Type: text/html"


def test_empty_parts_between_delimiters():
    raw = crlf('Content-Type: multipart/mixed; boundary="b"\n\n--b\n--b\n\n--b--\n')
    first, second = parse(raw).body.parts
    assert (first.start, first.end) == (first.body_start, first.body_start)
    assert (header_of(raw, second), second.size) == (b"", 0)


def test_delimiter_is_the_whole_boundary_at_line_start():
    raw = crlf(
        'Content-Type: multipart/mixed; boundary="b"\n\n--b  \n\nsee x--b and\n --b\n'
        "--bb\n--b-x\n--b--tail\nepilogue\n"
    )
    (part,) = parse(raw).body.parts
    assert body_of(raw, part) == b"see x--b and\r\n --b\r\n--bb\r\n--b-x"


def test_inner_boundary_that_extends_the_outer_one():
    raw = crlf(
        'Content-Type: multipart/mixed; boundary="b"\n\n--b\n'
        'Content-Type: multipart/alternative; boundary="b-alt"\n\n'
        "--b-alt\n\none\n--b-alt\n\ntwo\n--b-alt--\n--b\n\nthree\n--b--\n"
    )
    alternative, three = parse(raw).body.parts
    assert [body_of(raw, p) for p in alternative.parts] == [b"one", b"two"]
    assert body_of(raw, three) == b"three"


def test_boundary_at_very_start_of_body_without_preamble():
    raw = crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--")
    (part,) = parse(raw).body.parts
    assert body_of(raw, part) == b"x"


def test_nul_bytes_and_eight_bit_garbage_do_not_raise():
    raw = (
        b"Subject: \x00\xff\xfe\r\nFrom: \x80\x81 <\x00@\xff>\r\n"
        b"Content-Type: text/\xff\r\n\r\n\x00\xff"
    )
    msg = parse(raw)
    assert msg.envelope.subject.encode("utf-8", "surrogateescape") == b"\x00\xff\xfe"
    assert (msg.body.type, msg.body.subtype) == ("text", "plain")
    assert from_json(to_json(msg)) == msg


def nested_multipart(depth: int) -> bytes:
    # b1 is a prefix of b10: only a whole boundary followed by "--", space or EOL delimits.
    head = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(depth)
    )
    tail = b"".join(b"\r\n--b%d--" % i for i in reversed(range(depth)))
    return head + b"Content-Type: text/plain\r\n\r\nleaf" + tail


def test_deep_nesting_is_capped_and_deeper_parts_are_opaque():
    raw = nested_multipart(300)
    msg = parse(raw)
    part, depth = msg.body, 0
    while part.parts:
        (part,) = part.parts
        depth += 1
    assert depth == MAX_DEPTH
    assert (part.type, part.subtype, part.parts) == ("multipart", "mixed", ())
    assert from_json(to_json(msg)) == msg


def test_shallow_nesting_reaches_the_leaf():
    raw = nested_multipart(10)
    part = section_part(parse(raw), (1,) * 10)
    assert (part.type, body_of(raw, part)) == ("text", b"leaf")


def test_deeply_nested_message_rfc822_is_capped():
    raw = b"Content-Type: message/rfc822\r\n\r\n" * 200 + b"Subject: bottom\r\n\r\nx"
    msg = parse(raw)
    part, depth = msg.body, 0
    while part.message is not None:
        part, depth = part.message, depth + 1
    assert depth == MAX_DEPTH
    assert (part.type, part.subtype, part.envelope) == ("message", "rfc822", None)


def test_ten_thousand_parts():
    parts = b"".join(
        b"--b\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(10_000)
    )
    raw = b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + parts + b"--b--\r\n"
    started = time.perf_counter()
    msg = parse(raw)
    elapsed = time.perf_counter() - started
    assert len(msg.body.parts) == 10_000
    assert body_of(raw, msg.body.parts[9_999]) == b"part 9999"
    assert elapsed < QUADRATIC_GUARD


def test_ten_megabyte_header_line():
    raw = (
        b"X-Huge: "
        + b"a" * 10_000_000
        + b"\r\nSubject: after\r\nNoColon"
        + b"b" * 100_000
        + b"\r\n\r\nbody"
    )
    started = time.perf_counter()
    msg = parse(raw)
    elapsed = time.perf_counter() - started
    assert msg.envelope.subject == "after"
    assert body_of(raw, msg.body) == b"body"
    assert elapsed < QUADRATIC_GUARD


def test_ten_megabyte_subject_is_kept_whole():
    raw = b"Subject: " + b"s" * 10_000_000 + b"\r\n\r\n"
    assert len(parse(raw).envelope.subject) == 10_000_000


def _check_invariants(raw: bytes, part: BodyPart) -> None:
    assert 0 <= part.start <= part.body_start <= part.end <= len(raw)
    assert part.size == part.end - part.body_start
    for child in part.parts:
        assert part.body_start <= child.start and child.end <= part.end
        _check_invariants(raw, child)
    if part.message is not None:
        assert part.message.start == part.body_start and part.message.end == part.end
        _check_invariants(raw, part.message)


FIXTURES = {
    "plain": PLAIN,
    "alternative": ALTERNATIVE,
    "mixed": MIXED,
    "forward": FORWARD,
    "forward-multipart": FORWARD_MULTIPART,
    "digest": DIGEST,
}


@pytest.mark.parametrize("name", FIXTURES)
def test_every_truncation_parses_with_consistent_offsets(name):
    raw = FIXTURES[name]
    step = max(1, len(raw) // 400)
    for cut in range(0, len(raw) + 1, step):
        msg = parse(raw[:cut])
        assert msg.size == cut and msg.header_end <= cut
        _check_invariants(raw[:cut], msg.body)


@pytest.mark.parametrize("seed", range(20))
def test_random_corruption_never_raises(seed):
    rng = random.Random(seed)
    raw = bytearray(FIXTURES[rng.choice(list(FIXTURES))])
    for _ in range(rng.randint(1, 40)):
        position = rng.randrange(len(raw))
        raw[position] = rng.choice(b'\r\n\x00\xff-:;<>"=()@ ,\\')
    msg = parse(bytes(raw))
    _check_invariants(bytes(raw), msg.body)
    assert from_json(to_json(msg)) == msg


# --- JSON ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURES)
def test_json_round_trip_of_real_shapes(name):
    msg = parse(FIXTURES[name])
    text = to_json(msg)
    assert text.isascii()
    assert text.startswith(f"[{msg.size},{msg.header_end},[")
    assert from_json(text) == msg
    assert envelope_from_json(text) == msg.envelope


@pytest.mark.parametrize(
    "msg",
    [
        ParsedMessage(0, 0, Envelope(), BodyPart("text", "plain")),
        ParsedMessage(
            5,
            2,
            Envelope(
                date="",
                subject="\udcff\udc80 surrogates \x00",
                from_=(Address("n", "@route", "m", "h"),),
                sender=(Address(None, None, "s", None),),
                bcc=(Address("", "", "", ""),),
                reply_to=None,
                to=(Address(None, None, "g", None), GROUP_END),
                cc=(),
                message_id="<id>",
            ),
            BodyPart(
                "message",
                "rfc822",
                encoding="",
                lines=0,
                disposition=("attachment", ()),
                language=(),
                md5="m",
                location="l",
                envelope=Envelope(subject="inner"),
                message=BodyPart("text", "plain", params=(("a", ""),), start=2),
                start=0,
                body_start=2,
                end=5,
                size=3,
            ),
        ),
        ParsedMessage(
            1, 1, Envelope(), BodyPart("multipart", "mixed", parts=(BodyPart("a", "b"),))
        ),
    ],
    ids=["minimal", "every-field", "multipart"],
)
def test_json_round_trip_of_odd_shapes(msg):
    assert from_json(to_json(msg)) == msg


def test_json_is_compact():
    text = to_json(parse(PLAIN))
    assert len(text) < 330
    assert '"7bit"' not in text  # defaults are omitted
    assert text.count('"alice"') == 1  # sender and reply-to equal to from are not repeated


# --- sections ------------------------------------------------------------------------------------


def test_non_multipart_message_has_only_part_one():
    msg = parse(PLAIN)
    assert section_part(msg, ()) is msg.body
    assert section_part(msg, (1,)) is msg.body
    assert section_part(msg, (2,)) is None
    assert section_part(msg, (1, 1)) is None
    assert section_part(msg, (0,)) is None


def test_nested_multipart_part_numbers():
    msg = parse(MIXED)
    assert section_part(msg, (1,)).subtype == "alternative"
    assert section_part(msg, (1, 1)).subtype == "plain"
    assert section_part(msg, (1, 2)).subtype == "html"
    assert section_part(msg, (2,)).subtype == "pdf"
    assert section_part(msg, (1, 3)) is None
    assert section_part(msg, (2, 1)) is None
    assert section_part(msg, (3,)) is None


def test_message_rfc822_part_numbers_address_the_encapsulated_message():
    msg = parse(FORWARD)
    forwarded = msg.body.parts[1]
    assert section_part(msg, (2,)) is forwarded
    assert section_part(msg, (2, 1)) is forwarded.message  # non-multipart: part 1 is its body
    assert section_part(msg, (2, 2)) is None
    multi = parse(FORWARD_MULTIPART)
    assert section_part(multi, (1, 2)).subtype == "html"
    assert section_part(multi, (1, 1, 1)) is None


def test_top_level_message_rfc822_numbers():
    raw = crlf("Content-Type: message/rfc822\n\nSubject: in\n\nbody")
    msg = parse(raw)
    assert section_part(msg, (1,)) is msg.body
    assert section_part(msg, (1, 1)) is msg.body.message
    assert raw[slice(*section_range(msg, (1, 1), ""))] == b"body"


def ranged(raw: bytes, path: tuple[int, ...], spec: str) -> bytes | None:
    found = section_range(parse(raw), path, spec)
    return None if found is None else raw[found[0] : found[1]]


@pytest.mark.parametrize(
    ("path", "spec", "expected"),
    [
        ((), "", FORWARD),
        ((), "HEADER", FORWARD[: FORWARD.index(b"--b1")]),
        ((), "TEXT", FORWARD[FORWARD.index(b"--b1") :]),
        ((), "MIME", None),
        ((1,), "", b"See below."),
        ((1,), "MIME", b"Content-Type: text/plain\r\n\r\n"),
        ((1,), "HEADER", None),
        ((1,), "TEXT", None),
        ((2,), "MIME", b"Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n"),
        ((2,), "header", FORWARD[FORWARD.index(b"From: Alice") : FORWARD.index(b"Original")]),
        (
            (2,),
            "HEADER.FIELDS",
            FORWARD[FORWARD.index(b"From: Alice") : FORWARD.index(b"Original")],
        ),
        ((2,), "TEXT", b"Original body\r\ntwo lines"),
        ((2, 1), "", b"Original body\r\ntwo lines"),
        ((2, 1), "MIME", FORWARD[FORWARD.index(b"From: Alice") : FORWARD.index(b"Original")]),
        ((3,), "", None),
        ((2,), "BOGUS", None),
    ],
)
def test_section_ranges(path, spec, expected):
    assert ranged(FORWARD, path, spec) == expected


def test_section_ranges_on_a_non_multipart_message():
    msg = parse(PLAIN)
    assert section_range(msg, (1,), "") == (msg.header_end, msg.size)
    assert section_range(msg, (1,), "MIME") == (0, msg.header_end)
    assert section_range(msg, (), "TEXT") == (msg.header_end, msg.size)


HEADER = crlf("From: a@x\nSubject: one\n  folded\nX-Spam: yes\nsubject: two\nTo: b@y\n\n")


@pytest.mark.parametrize(
    ("names", "exclude", "expected"),
    [
        (["SUBJECT"], False, "Subject: one\n  folded\nsubject: two\n\n"),
        (["to", "from"], False, "From: a@x\nTo: b@y\n\n"),
        (["Subject", "X-Spam"], True, "From: a@x\nTo: b@y\n\n"),
        (["Nope"], False, "\n"),
        ([], True, "From: a@x\nSubject: one\n  folded\nX-Spam: yes\nsubject: two\nTo: b@y\n\n"),
    ],
)
def test_filter_header_fields(names, exclude, expected):
    assert filter_header_fields(HEADER, names, exclude) == crlf(expected)


def test_filter_header_fields_without_blank_line_adds_none():
    assert filter_header_fields(b"Subject: x\r\nFrom: y", ["from"], False) == b"From: y\r\n"
    assert filter_header_fields(b"", ["from"], False) == b""


def test_filter_header_fields_name_with_space_before_colon_and_lf_lines():
    assert (
        filter_header_fields(b"Subject : x\nA: b\n\n", ["subject"], False) == b"Subject : x\n\r\n"
    )


# --- decoding ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "decoded"),
    [
        ("plain", "plain"),
        ("=?utf-8?q?caf=C3=A9?=", "café"),
        ("=?UTF-8?Q?a_b=5Fc?=", "a b_c"),
        ("=?utf-8?b?w6k=?=", "é"),
        ("=?utf-8?b?w6k?=", "é"),
        ("=?iso-8859-1?q?gr=FC=DFe?=", "grüße"),
        ("=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),
        ("=?utf-8?q?a?=\t  =?iso-8859-1?q?b?=", "ab"),
        ("=?utf-8?q?=E2=82?= =?utf-8?q?=AC?=", "€"),
        ("=?utf-8?q?a?= and =?utf-8?q?b?=", "a and b"),
        ("Re: =?utf-8?q?x?= end", "Re: x end"),
        ("=?x-unknown?q?a?= =?utf-8?q?b?=", "=?x-unknown?q?a?= b"),
        ("=?base64?q?a?=", "=?base64?q?a?="),
        ("=?utf-8?b?!!!?=", "=?utf-8?b?!!!?="),
        ("=?utf-8?x?abc?=", "=?utf-8?x?abc?="),
        ("=?utf-8?q?no end", "=?utf-8?q?no end"),
        ("=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore"),
        ("=?utf-8?q?=FF?=", "\ufffd"),
        ("caf\udce9", "café"),
        ("Grüße", "Grüße"),
    ],
)
def test_decode_header(value, decoded):
    assert decode_header(value) == decoded


def test_decoded_addresses_for_the_api():
    addresses = parse_addresses(
        '=?utf-8?q?Jos=C3=A9?= <j@x>, plain@y, Team: "Q" <q@z>, r@z;, Empty:;, bare'
    )
    assert decoded_addresses(addresses) == "José <j@x>, plain@y, Team: Q <q@z>, r@z;, Empty:;, bare"
    assert decoded_addresses(None) == ""
    assert decoded_addresses(parse_addresses("bare, x@y")) == "bare, x@y"


@pytest.mark.parametrize(
    ("data", "encoding", "decoded"),
    [
        (b"caf\xc3\xa9", "8bit", b"caf\xc3\xa9"),
        (b"abc", "7BIT", b"abc"),
        (b"\x00\xff", "binary", b"\x00\xff"),
        (b"abc", "", b"abc"),
        (b"aGVsbG8gd29ybGQ=\r\n", "base64", b"hello world"),
        (b"aGVsbG8g\r\nd29y\r\nbGQ=", "Base64", b"hello world"),
        (b"aGVsbG8gd29ybGQ", "base64", b"hello world"),
        (b"aGVs bG8g!!d29y\r\n--!!--\r\nbGQ=", "base64", b"hello world"),
        (b"aGVsbG8gd29ybGQ=x", "base64", b"hello world"),
        (b"YWJj\r\nZA", "base64", b"abcd"),
        (b"YWJjZ", "base64", b"abc"),
        (b"", "base64", b""),
        (b"a=3Db=\r\nc =E2=82=AC", "quoted-printable", "a=bc €".encode()),
        (b"soft=\nbreak", "quoted-printable", b"softbreak"),
        (b"trailing   \r\nspace", "quoted-printable", b"trailing\r\nspace"),
        (b"bad =ZZ", "quoted-printable", b"bad =ZZ"),
        (b"begin 644 x", "x-uuencode", None),
    ],
)
def test_decode_body(data, encoding, decoded):
    assert decode_body(data, encoding) == decoded


# --- speed ---------------------------------------------------------------------------------------


# --- hostile input stays linear ------------------------------------------------------------------

# These inputs parse in milliseconds; quadratic (or backtracking) work at their sizes takes
# minutes. The bound catches only that, never a slow or busy machine (the suite runs beside
# other work): speed itself is measured in bench/, not here.
QUADRATIC_GUARD = 20.0  # seconds

N = 50_000
HOSTILE = {
    "long-param-token": b"Content-Type: text/plain; " + b"a" * N + b"\r\n\r\n",
    "escaped-quotes": b'Content-Type: text/plain; a="' + b'\\"' * N + b"\r\n\r\n",
    "param-stars": b"Content-Type: text/plain; " + b"a*" * N + b"=1\r\n\r\n",
    "address-words": b"To: " + b"a " * N + b"<\r\n\r\n",
    "address-list": b"To: " + b"x y <a@b>," * (N // 5) + b"(\r\n\r\n",
    "open-angles": b"To: " + b"<" * N + b"\r\n\r\n",
    "open-comments": b"To: " + b"(" * N + b"\r\n\r\n",
    "colons": b"To: " + b"a:" * N + b"\r\n\r\n",
    "folds": b"Subject: x" + b"\r\n y" * N + b"\r\n\r\n",
    "boundary-lookalikes": b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + b"--bx" * N,
    "empty-digest-parts": b"Content-Type: multipart/digest; boundary=b\r\n\r\n"
    + b"--b\r\n\r\n" * 5000,
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_message_parses_in_linear_time(name):
    raw = HOSTILE[name]
    started = time.perf_counter()
    msg = parse(raw)
    assert from_json(to_json(msg)) == msg
    assert time.perf_counter() - started < QUADRATIC_GUARD


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (decode_header, "=?utf-8?q?a?=x" * N),
        (decode_header, "=?" * N),
        (lambda data: decode_body(data, "quoted-printable"), b" " * N * 4 + b"x"),
        (lambda data: decode_body(data, "base64"), b"!" * N * 4),
        (lambda data: filter_header_fields(data, ["a"], False), b"a" * N * 20 + b"\r\n\r\n"),
    ],
    ids=["encoded-words", "word-starts", "qp-spaces", "base64-junk", "huge-header-line"],
)
def test_hostile_decoding_input_in_linear_time(call, argument):
    started = time.perf_counter()
    call(argument)
    assert time.perf_counter() - started < QUADRATIC_GUARD
