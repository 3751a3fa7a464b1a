"""mime.parse_envelope: the envelope of the top-level header alone, which a FETCH of ENVELOPE
made before the whole parse (store/pending.py's render_envelopes) sends. It must be parse()'s
envelope, and render to the same ENVELOPE bytes, for every input: well-formed, hostile or
broken (RFC 9051 §7.5.2: the envelope is "computed by the server by parsing the [RFC5322]
header into the component parts")."""

from __future__ import annotations

import pytest

from elektromail import mime
from elektromail.imap.format import format_envelope, render_fetch_data
from tests.mime.messages import FIXTURES, crlf

HEADERS = {
    "folded": crlf(
        "From: Ann\n Example\n\t<ann@example.com>\nTo: a@b,\n  c@d,\n\te@f\n"
        "Subject: one\n  two\n\tthree\nDate: Mon, 1 Jan 2024\n 10:00:00 +0000\n\nbody\n"
    ),
    "encoded-words": crlf(
        "From: =?utf-8?q?J=C3=B6rg?= <j@example.de>\n"
        "Subject: =?utf-8?b?w6nDqQ==?= =?iso-8859-1?q?caf=E9?= plain\n"
        'To: "=?utf-8?q?a=2C_b?=" <ab@example.com>\n\nx\n'
    ),
    "missing-fields": crlf("X-Only: nothing an envelope holds\n\nbody\n"),
    "empty-fields": crlf("From:\nTo: \nSubject:\nDate:\nMessage-ID:\n\nbody\n"),
    "sender-reply-to-default": crlf("From: a@b\nSender:\nReply-To:  \n\nbody\n"),
    "group-syntax": crlf(
        "From: a@b\nTo: undisclosed-recipients:;\n"
        'Cc: friends: x@y, "Z z" <z@w>;, solo@example.com, team:;\nBcc: g: h@i\n\nbody\n'
    ),
    "eight-bit": "From: Jörg Müller <jörg@exämple.de>\nSubject: Grüße\n\nbody\n".encode()
    + b"To: \xff\xfe <latin\xe9@x>\r\n",
    "eight-bit-latin1": b"From: J\xf6rg <j@x>\r\nSubject: caf\xe9 \xff\r\n\r\nbody\r\n",
    "repeated-fields": crlf(
        "From: first@a\nSubject: first\nFrom: second@b\nTo: t1@x\nSubject: second\n"
        "To: t2@y\nMessage-ID: <1@x>\nMessage-ID: <2@x>\n\nbody\n"
    ),
    "bare-lf": b"From: a@b\nSubject: lf only\nTo: c@d\n\nbody\n",
    "mixed-line-ends": b"From: a@b\r\nSubject: mixed\n\r\nTo: not@header\r\n",
    "no-blank-line": crlf("From: a@b\nSubject: all header\nTo: c@d"),
    "starts-with-blank-line": crlf("\nFrom: not@header\nSubject: body\n"),
    "empty": b"",
    "only-crlf": b"\r\n",
    "space-before-colon": crlf("From : a@b\nSubject\t: tabbed\nTO:  upper@case\n\nbody\n"),
    "continuation-first": crlf(" folded first line\nFrom: a@b\n\nbody\n"),
    "nul-bytes": b"From: a\x00b@c\r\nSubject: nul\x00here\r\n\r\nbody\r\n",
    "content-fields-between": crlf(
        'Content-Type: multipart/mixed;\n boundary="b"\nFrom: a@b\n'
        "Content-Transfer-Encoding: 7bit\nSubject: s\n\n--b\nFrom: inner@part\n\nx\n--b--\n"
    ),
    "route-and-comments": crlf(
        "From: (comment) Ann (more) <@route1,@route2:ann@example.com> (tail)\n"
        'To: "quoted \\" name" <q@x>, <>, @, a@, @b, ,,, "unterminated\n\nbody\n'
    ),
    "in-reply-to-message-id": crlf(
        "In-Reply-To: <a@b> (comment)\n <c@d>\nMessage-ID:   <spaced@x>   \n\nbody\n"
    ),
    "huge-header": crlf(
        "".join(f"X-Filler-{i}: {'v' * 60}\n" for i in range(20_000))
        + "From: late@example.com\nSubject: "
        + "long " * 20_000
        + "\nTo: "
        + ", ".join(f"r{i}@example.com" for i in range(5_000))
        + "\n\nbody\n"
    ),
    "huge-folded-subject": crlf("Subject: s" + "\n x" * 50_000 + "\nFrom: a@b\n\nbody\n"),
}


def cases() -> dict[str, bytes]:
    return {**{f"fixture-{name}": raw for name, raw in FIXTURES.items()}, **HEADERS}


@pytest.mark.parametrize("raw", cases().values(), ids=cases().keys())
def test_the_header_alone_gives_the_envelope_of_the_whole_parse(raw):
    assert mime.parse_envelope(raw) == mime.parse(raw).envelope


@pytest.mark.parametrize("raw", cases().values(), ids=cases().keys())
def test_the_envelope_of_the_header_alone_renders_the_stored_envelope_bytes(raw):
    """What the store keeps for ENVELOPE from the header (format_envelope of it) is byte for
    byte the ENVELOPE the whole parse renders (render_fetch_data's first)."""
    assert format_envelope(mime.parse_envelope(raw)) == render_fetch_data(mime.parse(raw))[0]


@pytest.mark.parametrize("raw", cases().values(), ids=cases().keys())
def test_header_end_is_the_whole_parse_s(raw):
    assert mime.header_end(raw) == mime.parse(raw).header_end


@pytest.mark.parametrize(
    "spec", ["", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME", "text"]
)
@pytest.mark.parametrize("raw", cases().values(), ids=cases().keys())
def test_a_top_level_section_from_the_bytes_alone_is_the_whole_parse_s(raw, spec):
    """BODY[HEADER.FIELDS (...)] and the other sections of the whole message (RFC 9051
    §6.4.5) are answered without the parse: the same byte range."""
    assert mime.top_level_range(raw, spec) == mime.section_range(mime.parse(raw), (), spec)
