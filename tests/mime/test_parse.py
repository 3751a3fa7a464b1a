"""MIME parsing (mime/parse.py): envelope, body structure, content headers, offsets."""

from __future__ import annotations

import pytest

from elektromail.mime import (
    Address,
    BodyPart,
    Envelope,
    decode_body,
    decode_header,
    parse,
)
from tests.mime.messages import (
    ALTERNATIVE,
    DIGEST,
    FORWARD,
    FORWARD_MULTIPART,
    GROUP_END,
    MIXED,
    PDF,
    PDF_B64,
    PLAIN,
    body_of,
    crlf,
    header_of,
)


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
        # Dovecot's ENVELOPE subject: each run of white space one space, folded or not
        ("Subject: folded\n  twice\n\tand tab\n", "folded twice and tab"),
        ("Subject: two  spaces\tand\t\ttabs\n", "two spaces and tabs"),
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


def test_repeated_address_fields_are_merged_into_one_envelope_member():
    """As Dovecot's envelope does: every From: (To:, Cc:...) field's addresses in order, so a
    second From: cannot hide behind the first; Date, Subject and the ids stay the first."""
    raw = crlf(
        "From: a@x\nTo: t1@x\nSubject: one\nFrom: B <b@y>, c@z\nCc: c@x\nTo: g:;\n"
        "Sender: s@x\nSubject: two\n\nbody\n"
    )
    env = parse(raw).envelope
    merged_from = (
        Address(None, None, "a", "x"),
        Address("B", None, "b", "y"),
        Address(None, None, "c", "z"),
    )
    assert env.from_ == env.reply_to == merged_from
    assert env.sender == (Address(None, None, "s", "x"),)
    assert env.to == (Address(None, None, "t1", "x"), Address(None, None, "g", None), GROUP_END)
    assert env.cc == (Address(None, None, "c", "x"),)
    assert env.subject == "one"


def test_empty_repeated_address_fields_add_nothing():
    env = parse(crlf("From: a@x\nFrom:\nReply-To:\nReply-To: (nobody)\n\nbody\n")).envelope
    assert env.from_ == env.reply_to == env.sender == (Address(None, None, "a", "x"),)


def test_addresses_of_an_attached_message_are_merged_too():
    raw = crlf("Content-Type: message/rfc822\n\nFrom: a@x\nFrom: b@y\nSubject: inner\n\nhi\n")
    inner = parse(raw).body.envelope
    assert inner is not None
    assert inner.from_ == (Address(None, None, "a", "x"), Address(None, None, "b", "y"))


def test_header_names_inside_folded_lines_are_not_fields():
    raw = crlf("X-Note: something\n Subject: not a field\nSubject: real\n\n")
    assert parse(raw).envelope.subject == "real"


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
