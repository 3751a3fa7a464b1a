"""Hostile messages: every check still answers, with bounded output (the run's time is bounded
by the caps these tests reach; pytest-timeout stops a run that is not)."""

from __future__ import annotations

import json

import pytest

from elektromail import checks
from elektromail.checks import html, links
from elektromail.checks.message import Message
from tests.checks.conftest import message

HTML_HEADER = b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n"


def answer(raw: bytes) -> dict:
    out = checks.run(raw)
    assert [c["check"] for c in out["checks"]] == list(checks.CHECK_NAMES)
    return out


def size(out: dict) -> int:
    return len(json.dumps(out))


@pytest.mark.timeout(60)
def test_a_10_mb_html_part_is_read_up_to_the_cap():
    row = '<div style="display:flex;color:red" class="a"><a href="https://x.test/{}">x</a></div>\n'
    markup = "".join(row.format(i) for i in range(120_000))[: 10 * 1024 * 1024]
    out = answer(message(HTML_HEADER, markup.encode()))
    found = {f["id"] for c in out["checks"] for f in c["findings"]}
    assert {"html.truncated", "html.gmail-clip", "html.css-display-flex"} <= found
    assert size(out) < 200_000


@pytest.mark.timeout(60)
def test_deeply_nested_multiparts_are_bounded():
    depth = 500
    head = b"".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'.encode()
        for i in range(depth)
    )
    tail = b"".join(f"\r\n--b{i}--\r\n".encode() for i in reversed(range(depth)))
    raw = message(b"MIME-Version: 1.0\r\n", head + b"Content-Type: text/plain\r\n\r\nx" + tail)
    out = answer(raw)
    assert size(out) < 100_000


@pytest.mark.timeout(60)
def test_malformed_css_at_size_is_bounded():
    sheet = "a{" * 200_000 + "color:red;" * 100_000 + "}" * 50_000 + "/*" + "'" * 10_000
    out = answer(
        message(HTML_HEADER, f"<style>{sheet}</style><div style='{sheet[:100000]}'>".encode())
    )
    assert size(out) < 100_000


@pytest.mark.timeout(60)
def test_10000_links_are_collected_and_capped():
    markup = "".join(f'<a href="https://x.test/{i}">{i}</a>' for i in range(12_000))
    msg = Message(message(HTML_HEADER, markup.encode()))
    found, more = links.extract(msg)
    assert len(found) == links.MAX_FOUND and more == 2_000
    out = answer(msg.raw)
    [finding] = out["checks"][-1]["findings"]
    assert "10000 web link(s)" in finding["message"]


@pytest.mark.timeout(60)
def test_huge_headers_and_many_signatures_are_bounded():
    header = b"".join(b"DKIM-Signature: v=1; junk\r\n" for _ in range(500))
    header += b"To: " + b"x" * 100_000 + b"\r\n" + b"Subject: a\r\n" * 1000
    out = answer(message(header))
    dkim = out["checks"][1]["findings"]
    assert len(dkim) <= 25
    assert size(out) < 300_000


@pytest.mark.parametrize(
    "raw",
    [b"", b"\r\n", b"\x00\xff" * 1000, b"From: \r\n\r\n", b":::\r\n\r\n", b"\n\n\n", b"a" * 5000],
    ids=["empty", "blank", "binary", "empty-from", "colons", "newlines", "no-header"],
)
def test_junk_gets_findings_not_exceptions(raw):
    out = answer(raw)
    assert out["summary"]["errors"] >= 1


def test_many_html_parts_are_capped():
    parts = b"".join(b"--b\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n" for _ in range(50))
    raw = message(
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n',
        parts + b"--b--\r\n",
    )
    found = html.check(Message(raw))
    assert found[-1].id == "html.skipped"
