"""RFC 3516 conversions (mime/binary.py): binary parts of a literal8 APPEND stored as base64, and
FETCH BINARY's decoded sections; the expected bytes are what Dovecot 2.3.19 stores and sends."""

from __future__ import annotations

import base64

import pytest

from elektromail.mime import (
    UnknownEncoding,
    binary_section,
    encode_binary_parts,
    is_leaf,
    parse,
    section_part,
)
from tests.mime.messages import FIXTURES, crlf

# imaptest's append-binary message: its body has NUL at the start, bare LFs and a lone CRLF.
HEADER = (
    b"From: user@domain.org\r\nDate: Sat, 24 Mar 2007 23:00:00 +0200\r\nMime-Version: 1.0\r\n"
    b"Content-Type: application/octet-stream\r\n"
)
BINARY_BODY = b"\x00-\xe4\n\r\n\n"
APPEND_BINARY = HEADER + b"Content-Transfer-Encoding: binary\r\n\r\n" + BINARY_BODY


def multipart(*parts: bytes, boundary: bytes = b"xx", head: bytes = b"") -> bytes:
    """A multipart/mixed message of `parts` (each a header, blank line and body)."""
    out = [b"From: a@b\r\nContent-Type: multipart/mixed; boundary=" + boundary + b"\r\n"]
    out += [head, b"\r\npreamble\r\n"]
    for part in parts:
        out += [b"--" + boundary + b"\r\n", part, b"\r\n"]
    out.append(b"--" + boundary + b"--\r\nepilogue\x00\r\n")
    return b"".join(out)


# --- APPEND of a literal8 --------------------------------------------------------------------


def test_binary_part_becomes_base64_as_dovecot_stores_it():
    """RFC 3516 §4.4: "The server MAY modify the CTE of the appended data, however any such
    transformation MUST NOT result in a loss of data." Dovecot stores exactly this (170 bytes)
    for imaptest's append-binary: only the CTE line and the body change, and no line break
    follows the base64."""
    stored = encode_binary_parts(APPEND_BINARY)
    assert stored == HEADER + b"Content-Transfer-Encoding: base64\r\n\r\nAC3kCg0KCg=="
    assert binary_section(stored, parse(stored), (1,)) == BINARY_BODY


def test_base64_lines_are_76_characters_and_the_delimiter_keeps_its_crlf():
    data = bytes(range(256))
    raw = multipart(
        b"Content-Type: application/x\r\nContent-Transfer-Encoding: binary\r\n\r\n" + data
    )
    stored = encode_binary_parts(raw)
    body = section_part(parse(stored), (1,))
    encoded = stored[body.body_start : body.end]
    lines = encoded.split(b"\r\n")
    assert [len(line) for line in lines] == [76, 76, 76, 76, 40]
    assert base64.b64decode(encoded) == data
    assert stored[body.end :] == b"\r\n--xx--\r\nepilogue\x00\r\n"
    assert stored[: body.start] == raw[: body.start]  # the preamble and delimiter as sent


@pytest.mark.parametrize(
    "cte",
    [
        b"Content-Transfer-Encoding:\r\n binary",  # folded
        b"Content-Transfer-Encoding:  binary",  # two blanks after the colon
        b"Content-Transfer-Encoding: binary ",  # a trailing blank
        b"Content-Transfer-Encoding: base64",
        b"Content-Transfer-Encoding: 8bit",
        b"X-Note: Content-Transfer-Encoding: binary",
    ],
    ids=["folded", "two-blanks", "trailing-blank", "base64", "8bit", "not-a-cte-field"],
)
def test_only_an_exact_binary_label_is_converted(cte):
    """Dovecot's converter reads the field as one unfolded line with the value "binary" right
    after one blank; anything else is stored as sent (the FETCH side then hides its NULs)."""
    raw = multipart(b"Content-Type: application/x\r\n" + cte + b"\r\n\r\nda\x00ta")
    assert encode_binary_parts(raw) == raw


def test_multipart_and_message_parts_keep_their_binary_label():
    """RFC 2045 §6.4: a multipart can only be 7bit, 8bit or binary, and RFC 2046 §5.2.1 allows
    message/rfc822 no other encoding either: their content is parts, not data to encode.
    (Dovecot relabels the message/rfc822 part "base64" without encoding it; we do not.)"""
    inner = b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    inner += b"Subject: inner\r\n\r\nin\x00ner"
    raw = multipart(inner, head=b"Content-Transfer-Encoding: binary\r\n")
    assert encode_binary_parts(raw) == raw


def test_every_binary_leaf_is_converted_nested_ones_too():
    leaf = b"Content-Transfer-Encoding: BINARY\r\nContent-Type: image/x\r\n\r\n\x00\x01\x02"
    forwarded = b"Content-Type: message/rfc822\r\n\r\nSubject: fwd\r\nContent-Type: text/plain\r\n"
    forwarded += b"Content-Transfer-Encoding: binary\r\n\r\nin\x00ner"
    empty = b"Content-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    raw = multipart(leaf, forwarded, empty)
    stored = encode_binary_parts(raw)
    assert b"\x00" not in stored.replace(b"epilogue\x00", b"")  # only the epilogue keeps one
    msg = parse(stored)
    assert [section_part(msg, p).encoding for p in ((1,), (2, 1), (3,))] == ["base64"] * 3
    assert binary_section(stored, msg, (1,)) == b"\x00\x01\x02"
    assert binary_section(stored, msg, (2, 1)) == b"in\x00ner"
    assert binary_section(stored, msg, (3,)) == b""
    # The CTE line is rewritten where it stood, in Dovecot's spelling.
    assert b"\r\n--xx\r\nContent-Transfer-Encoding: base64\r\nContent-Type: image/x\r\n" in stored


def test_a_part_cut_by_its_delimiter_right_after_the_label_is_converted():
    """`Content-Transfer-Encoding: binary` then the delimiter: no blank line, no body (the CRLF
    belongs to the delimiter, RFC 2046 §5.1.1). Dovecot still relabels it."""
    raw = multipart(b"Content-Type: text/plain\r\nContent-Transfer-Encoding: binary")
    assert encode_binary_parts(raw) == raw.replace(b": binary\r\n--xx--", b": base64\r\n--xx--")


def test_bare_lf_message_keeps_its_line_ends():
    raw = crlf(b"Subject: lf\nContent-Transfer-Encoding: binary\n\n").replace(b"\r\n", b"\n")
    raw += b"\x00" * 100
    stored = encode_binary_parts(raw)
    assert stored.startswith(b"Subject: lf\nContent-Transfer-Encoding: base64\n\n")
    assert b"\r" not in stored
    assert binary_section(stored, parse(stored), (1,)) == b"\x00" * 100


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_messages_without_binary_parts_are_stored_as_given(name):
    raw = FIXTURES[name]
    assert encode_binary_parts(raw) == raw


@pytest.mark.parametrize(
    "body",
    [b"", b"\x00", b"\x00\x00\x00", b"ab\x00", b"\x00" + bytes(range(256)) * 5 + b"\x00"],
    ids=["empty", "one-nul", "three-nuls", "nul-last", "nul-at-both-ends"],
)
def test_conversion_loses_no_data(body):
    """RFC 3516 §4.4: "any such transformation MUST NOT result in a loss of data"."""
    raw = multipart(
        b"Content-Type: application/x\r\nContent-Transfer-Encoding: binary\r\n\r\n" + body
    )
    stored = encode_binary_parts(raw)
    assert binary_section(stored, parse(stored), (1,)) == body


# --- FETCH BINARY --------------------------------------------------------------------------


ENCODED = (
    b"From: a@b\r\nSubject: enc\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=xx\r\n\r\npre\r\n"
    b"--xx\r\nContent-Type: text/plain\r\n\r\nplain part\r\n"
    b"--xx\r\nContent-Transfer-Encoding: base64\r\nContent-Type: application/octet-stream\r\n"
    b"X-After: 1\r\n\r\nAGhpAA==\r\n"
    b"--xx\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"q=3Dp=\r\nx\r\n"
    b"--xx\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: text/plain\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\naW5uZXI=\r\n"
    b"--xx--\r\nepi\r\n"
)
# What Dovecot 2.3.19 sends for BINARY.PEEK[] of ENCODED (454 octets).
ENCODED_BINARY = (
    b"From: a@b\r\nSubject: enc\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=xx\r\n\r\npre\r\n"
    b"--xx\r\nContent-Type: text/plain\r\n\r\nplain part\r\n"
    b"--xx\r\nContent-Type: application/octet-stream\r\nX-After: 1\r\n"
    b"Content-Transfer-Encoding: binary\r\n\r\n\x00hi\x00\r\n"
    b"--xx\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n\r\nq=px\r\n"
    b"--xx\r\nContent-Type: message/rfc822\r\n\r\n"
    b"Subject: inner\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    b"inner\r\n"
    b"--xx--\r\nepi\r\n"
)


def test_binary_of_the_whole_message_decodes_every_part_inside():
    """RFC 3516 §4.3: "the content of the specified section after removing any CTE-related
    encoding"; as Dovecot reads it, a multipart's encoded parts are decoded too, each saying
    "Content-Transfer-Encoding: binary" at the end of its header."""
    assert binary_section(ENCODED, parse(ENCODED), ()) == ENCODED_BINARY


def test_binary_of_an_encapsulated_message_is_the_message_decoded():
    inner = b"Subject: inner\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n"
    assert binary_section(ENCODED, parse(ENCODED), (4,)) == inner + b"\r\ninner"
    assert binary_section(ENCODED, parse(ENCODED), (4, 1)) == b"inner"


def test_binary_of_leaves():
    msg = parse(ENCODED)
    assert binary_section(ENCODED, msg, (1,)) == b"plain part"
    assert binary_section(ENCODED, msg, (2,)) == b"\x00hi\x00"
    assert binary_section(ENCODED, msg, (3,)) == b"q=px"  # the last CRLF is the delimiter's


def test_binary_of_a_single_part_message_has_its_header_relabelled():
    raw = b"Subject: single\r\nContent-Transfer-Encoding: BASE64\r\nContent-Type: text/plain\r\n"
    raw += b"\r\naGVsbG8=\r\n"
    expected = b"Subject: single\r\nContent-Type: text/plain\r\n"
    expected += b"Content-Transfer-Encoding: binary\r\n\r\nhello"
    assert binary_section(raw, parse(raw), ()) == expected  # Dovecot: these 96 octets
    assert binary_section(raw, parse(raw), (1,)) == b"hello"


def test_binary_of_an_unencoded_multipart_is_its_bytes():
    raw = multipart(b"Content-Type: text/plain\r\n\r\nplain", b"\r\nno header", b"8bit \xe4")
    assert binary_section(raw, parse(raw), ()) == raw


@pytest.mark.parametrize("path", [(5,), (2, 5), (1, 1), (9, 9, 9), (4294967295,)])
def test_binary_of_a_missing_part_is_none(path):
    assert binary_section(ENCODED, parse(ENCODED), path) is None


def test_an_unknown_encoding_anywhere_in_the_section_fails_it():
    """RFC 3516 §4.3: "If the server does not know how to decode the section's CTE, it MUST
    fail the request"; Dovecot fails BINARY[] of a message with such a part, too."""
    raw = multipart(
        b"Content-Type: text/plain\r\n\r\nfine",
        b"Content-Type: application/x\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin",
    )
    msg = parse(raw)
    assert binary_section(raw, msg, (1,)) == b"fine"
    for path in ((), (2,)):
        with pytest.raises(UnknownEncoding):
            binary_section(raw, msg, path)
    odd = multipart(b"\r\nfine", head=b"Content-Transfer-Encoding: 7-bit\r\n")
    with pytest.raises(UnknownEncoding):  # a multipart's own label counts as well
        binary_section(odd, parse(odd), ())


def test_a_decoded_part_without_a_blank_line_still_says_binary():
    raw = multipart(b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64")
    out = binary_section(raw, parse(raw), ())
    assert b"--xx\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n" in out


def test_is_leaf_follows_rfc_9051():
    """RFC 9051 §6.4.5: "leaf body parts: those that have media types other than multipart/*,
    message/rfc822, or message/global"."""
    msg = parse(ENCODED)
    assert not is_leaf(msg.body)
    assert [is_leaf(part) for part in msg.body.parts] == [True, True, True, False]
    digest_like = parse(b"Content-Type: message/global\r\n\r\nSubject: x\r\n\r\ny")
    assert not is_leaf(digest_like.body)
    assert is_leaf(parse(b"Content-Type: message/partial\r\n\r\nx").body)
