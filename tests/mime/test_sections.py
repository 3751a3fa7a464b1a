"""IMAP body sections of a parsed message (mime/sections.py): part numbers, ranges, fields."""

from __future__ import annotations

import pytest

from elektromail.mime import (
    filter_header_fields,
    parse,
    section_part,
    section_range,
)
from tests.mime.messages import (
    FORWARD,
    FORWARD_MULTIPART,
    MIXED,
    PLAIN,
    crlf,
)


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


def test_fields_of_one_header_asked_for_again_by_other_names_and_by_exclusion():
    header = b"From: a@x\r\nSubject: one\r\n two\r\nTo: b@y\r\nsubject: again\r\n\r\n"
    fields = filter_header_fields
    assert fields(header, ["SUBJECT"], False) == (b"Subject: one\r\n two\r\nsubject: again\r\n\r\n")
    assert fields(bytearray(header), ["to", "from"], False) == b"From: a@x\r\nTo: b@y\r\n\r\n"
    assert fields(header, ["Subject"], True) == b"From: a@x\r\nTo: b@y\r\n\r\n"
    assert fields(header[:-2], ["to"], False) == b"To: b@y\r\n"  # no blank line to end it
