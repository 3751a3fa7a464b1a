"""MIME parsing of broken and hostile input: never raises, offsets stay consistent, time linear."""

from __future__ import annotations

import random
import time

import pytest

from elektromail.mime import (
    MAX_DEPTH,
    BodyPart,
    Envelope,
    from_json,
    parse,
    section_part,
    to_json,
)
from tests.mime.messages import (
    ALTERNATIVE,
    FIXTURES,
    QUADRATIC_GUARD,
    N,
    body_of,
    crlf,
    header_of,
)


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
