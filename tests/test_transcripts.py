"""The transcript data as pure code: the stored form round-trips any bytes, the recorder keeps
its parts bounded and cuts transactions out of one log, the envelope is read back from the
lines, and the ring pages newest first."""

from __future__ import annotations

import pytest

from elektromail import transcripts as t
from elektromail.smtp.session import Session
from elektromail.smtp.transcript import Recorder, guarded


def facts(**given) -> t.Facts:
    return t.Facts(1_700_000_000.0, 100.0, "127.0.0.1", 2525, **given)


@pytest.mark.parametrize(
    "texts",
    [
        [b"220 ready\r\n"],
        [b"EHLO a", b"250-x\r\n250 y\r\n"],
        [b"with \x00 NUL", b"back\\slash", b"\\0 looks escaped", b"", b"\xff\xfe"],
    ],
    ids=["one", "multiline", "odd-bytes"],
)
def test_stored_form_round_trips_any_bytes(texts):
    entries = [(100.0 + i / 1000, i % 2, text) for i, text in enumerate(texts)]
    last = (101.0, t.SERVER, b"250 ok\r\n")
    blob = t.encode(facts(helo="h").stored(), 42, 3, entries[:1], entries[1:], last)
    data = t.decode(blob)
    assert data["lines"] == t.stored_lines(100.0, [*entries, last])
    assert data["size"] == 42 and data["cut"] == 3 and data["helo"] == "h"


@pytest.mark.parametrize("blob", [b"", b"ET2", b"ET2garbage", b"XX1" + b"\0" * 40])
def test_an_unreadable_stored_form_is_no_transcript_not_a_crash(blob):
    with pytest.raises(t.NoTranscript):
        t.from_stored(blob)


def test_a_stored_transcript_renders_its_envelope_and_times():
    entries = [
        (100.0, t.SERVER, b"220 hi\r\n"),
        (100.001, t.CLIENT, b"MAIL FROM:<a@b.example> SIZE=10 SMTPUTF8"),
        (100.002, t.SERVER, b"250 ok\r\n"),
        (100.0035, t.CLIENT, b"RCPT TO:<c@d.example> NOTIFY=SUCCESS,FAILURE"),
        (100.004, t.SERVER, b"550 5.1.1 no\r\n"),
        (100.005, t.DATA_DISCARDED, 12),
    ]
    shown = t.from_stored(t.encode(facts().stored(), None, 0, [], entries, None))
    assert shown["mail_from"] == {
        "address": "a@b.example",
        "parameters": {"SIZE": "10", "SMTPUTF8": None},
        "reply": "250 ok",
        "accepted": True,
    }
    assert shown["recipients"][0]["parameters"] == {"NOTIFY": "SUCCESS,FAILURE"}
    assert shown["recipients"][0]["accepted"] is False
    assert [line["ms"] for line in shown["lines"]] == [0.0, 1.0, 2.0, 3.5, 4.0, 5.0]
    assert shown["lines"][-1]["text"] == "<12 octets of message data, discarded>"
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


def recorder(size: int = 10) -> tuple[Recorder, t.Ring]:
    ring = t.Ring(size)
    session = Session(peer="[127.0.0.1]", helo="h", esmtp=True)
    rec = Recorder(ring, "127.0.0.1", 2525, session)
    rec.server(b"220 hi\r\n")
    rec.client(b"EHLO h")
    rec.server(b"250 hi\r\n")
    return rec, ring


def transaction(rec: Recorder, sender: bytes, reply: bytes = b"250 2.0.0 ok\r\n") -> bytes:
    rec.begin()
    rec.client(b"MAIL FROM:<" + sender + b">")
    rec.server(b"250 ok\r\n")
    rec.client(b"DATA")
    rec.server(b"354 go\r\n")
    rec.data(10)
    stored = rec.stored_form(reply)
    rec.server(reply)
    return stored


def test_each_transaction_gets_the_preamble_and_its_own_lines():
    rec, ring = recorder()
    first = t.from_stored(transaction(rec, b"one@x"))
    rec.client(b"RSET")
    rec.server(b"250 reset\r\n")
    second = t.from_stored(transaction(rec, b"two@x"))
    texts = [line["text"] for line in second["lines"]]
    assert texts[:3] == ["220 hi", "EHLO h", "250 hi"]
    assert "MAIL FROM:<one@x>" not in texts and "RSET" in texts
    assert "RSET" not in [line["text"] for line in first["lines"]]
    page, total = ring.page(10)
    assert total == 2 and [p["mail_from"]["address"] for p in page] == ["two@x", "one@x"]
    assert [line["text"] for line in page[0]["lines"]] == texts


def test_a_part_is_bounded_in_lines_and_long_octets():
    rec, ring = recorder()
    rec.client(b"x" * 5000)
    for _ in range(10_000):
        rec.client(b"NOOP")
    transaction(rec, b"a@x")
    (entry,), _ = ring.page(1)
    assert entry["truncated"] is True and len(entry["lines"]) <= 2 * t.MAX_LINES + 1
    long_line = next(line["text"] for line in entry["lines"] if line["text"].startswith("xxx"))
    assert "4000 more octets" in long_line
    rec.begin()
    for _ in range(100):
        rec.client(b"y" * 900)
    rec.abandon("gone")
    (entry,), _ = ring.page(1)
    kept = sum(len(line["text"]) for line in entry["lines"] if line["text"].startswith("yyy"))
    assert t.MAX_LONG_OCTETS <= kept < t.MAX_LONG_OCTETS + t.MAX_LINE_SHOWN
    assert entry["truncated"] is True


def test_a_long_session_starts_its_log_over_and_keeps_earlier_transactions_intact():
    rec, ring = recorder(size=5000)
    for n in range(1000):
        transaction(rec, b"s%d@x" % n)
    assert len(rec.log) < 2 * 2000
    page, total = ring.page(1000)
    assert total == 1000
    assert [p["mail_from"]["address"] for p in page[::250]] == [
        "s999@x",
        "s749@x",
        "s499@x",
        "s249@x",
    ]
    assert all(p["lines"][0]["text"] == "220 hi" for p in page)


def test_guarded_keeps_secrets_out():
    assert guarded(b"AUTH PLAIN AGJvYgBwdw==", True) == b"AUTH PLAIN <initial response redacted>"
    assert guarded(b"AUTH LOGIN", True) == b"AUTH LOGIN"
    assert guarded(b"cGFzc3dvcmQ=", False).startswith(b"<unrecognised")
    assert guarded(b"FOO bar", False) == b"FOO bar"


def test_the_ring_keeps_the_newest_and_pages_them_newest_first():
    ring = t.Ring(3)
    for outcome in ["accepted", "refused", "accepted", "refused", "accepted"]:
        ring.add((facts(), [(100.0, t.CLIENT, b"x")], 0, 0, 1, 0, None, outcome, None))
    page, total = ring.page(10)
    assert [x["id"] for x in page] == [5, 4, 3] and total == 3
    page, total = ring.page(1, 1, "accepted")
    assert [x["id"] for x in page] == [3] and total == 2
    off = t.Ring(0)
    off.add(page)
    assert len(off) == 0
