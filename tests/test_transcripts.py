"""The transcript data as pure code: the stored form round-trips any bytes, lines are bounded,
the envelope is read back from the lines, and the ring pages newest first."""

from __future__ import annotations

from array import array

import pytest

from elektromail import transcripts as t


def facts(**given) -> t.Facts:
    return t.Facts(1_700_000_000.0, 100.0, "127.0.0.1", 2525, **given)


@pytest.mark.parametrize(
    "texts",
    [
        [b"220 ready\r\n"],
        [b"EHLO a", b"250-x\r\n250 y\r\n"],
        [b"with \x00 NUL", b"back\\slash", b"\\0 looks escaped", b"", b"\xff\xfe"],
        [b"\\", b"\x00", b"\\\x00\\"],
    ],
    ids=["one", "multiline", "nul-and-backslash", "edge"],
)
def test_stored_form_round_trips_any_bytes(texts):
    dirs = bytes([t.CLIENT, t.SERVER] * len(texts))[: len(texts)]
    times = array("d", [100.0 + i / 1000 for i in range(len(texts))])
    blob = t.encode(facts(helo="h").to_json(), texts, times, dirs, 42, 3)
    data = t.decode(blob)
    expected = t.stored_lines(100.0, texts, times, dirs)
    assert data["lines"] == expected
    assert data["size"] == 42 and data["cut"] == 3 and data["helo"] == "h"


def test_a_stored_transcript_renders_its_envelope_and_times():
    texts = [
        b"220 hi\r\n",
        b"MAIL FROM:<a@b.example> SIZE=10 SMTPUTF8",
        b"250 ok\r\n",
        b"RCPT TO:<c@d.example> NOTIFY=SUCCESS,FAILURE",
        b"550 5.1.1 no\r\n",
    ]
    dirs = bytes([t.SERVER, t.CLIENT, t.SERVER, t.CLIENT, t.SERVER])
    times = array("d", [100.0, 100.001, 100.002, 100.0035, 100.004])
    shown = t.from_stored(t.encode(facts().to_json(), texts, times, dirs, None, 0))
    assert shown["mail_from"] == {
        "address": "a@b.example",
        "parameters": {"SIZE": "10", "SMTPUTF8": None},
        "reply": "250 ok",
        "accepted": True,
    }
    assert shown["recipients"][0]["parameters"] == {"NOTIFY": "SUCCESS,FAILURE"}
    assert shown["recipients"][0]["accepted"] is False
    assert [line["ms"] for line in shown["lines"]] == [0.0, 1.0, 2.0, 3.5, 4.0]
    assert shown["started"] == "2023-11-14T22:13:20.000Z"
    assert shown["truncated"] is False and shown["size"] is None


def test_messages_without_a_transcript_say_why():
    with pytest.raises(t.NoTranscript, match="not received over SMTP"):
        t.from_stored(None)
    with pytest.raises(t.NoTranscript, match="delivery status notification"):
        t.from_stored(t.DSN_MARK)


def test_text_shows_control_characters_and_bad_utf8_as_escapes():
    assert t.text_of(b"ok\ttab") == "ok\ttab"
    assert t.text_of(b"\x1b[31m\x7f") == "\\x1b[31m\\x7f"
    assert t.text_of(b"\xff caf\xc3\xa9") == "\\xff caf\u00e9"


def test_a_part_is_bounded_in_lines_octets_and_line_length():
    part = t.Part()
    part.add(t.CLIENT, b"x" * 5000)
    assert len(part.texts[0]) < t.MAX_LINE_SHOWN + 40 and b"4000 more octets" in part.texts[0]
    for _ in range(10_000):
        part.add(t.CLIENT, b"NOOP")
    assert len(part.texts) == t.MAX_LINES and part.cut == 10_001 - t.MAX_LINES
    big = t.Part()
    for _ in range(100):
        big.add(t.SERVER, b"y" * 900)
    assert big.octets <= t.MAX_OCTETS + 1000 and big.cut > 0


def transcript(outcome: str) -> t.Transcript:
    return t.Transcript(
        facts(), [b"x"], array("d", [100.0]), bytearray([t.CLIENT]), 0, None, outcome
    )


def test_the_ring_keeps_the_newest_and_pages_them_newest_first():
    ring = t.Ring(3)
    for outcome in ["accepted", "refused", "accepted", "refused", "accepted"]:
        ring.add(transcript(outcome))
    page, total = ring.page(10)
    assert [x.id for x in page] == [5, 4, 3] and total == 3
    page, total = ring.page(1, 1, "accepted")
    assert [x.id for x in page] == [3] and total == 2
    off = t.Ring(0)
    off.add(transcript("accepted"))
    assert len(off) == 0
