"""The reply catalogue: wire format and RFC 2034/3463 consistency of every constant."""

from __future__ import annotations

import pytest

from elektromail.smtp import replies
from elektromail.smtp.replies import Reply

CATALOGUE = {name: value for name, value in vars(replies).items() if isinstance(value, Reply)}


def test_render_puts_enhanced_status_after_the_code() -> None:
    assert replies.SENDER_OK.render() == b"250 2.1.0 Sender OK\r\n"


def test_render_fills_placeholders() -> None:
    assert replies.GREETING.render(host="localhost") == b"220 localhost elektromail ESMTP ready\r\n"


def test_render_multiline_uses_dash_on_all_but_the_last_line() -> None:
    rendered = replies.EHLO_OK.render(host="h", peer="[1.2.3.4]", extensions="A\nB")
    assert rendered == b"250-h Hello [1.2.3.4]\r\n250-A\r\n250 B\r\n"


def test_render_repeats_the_status_on_every_line() -> None:
    assert Reply(550, "5.1.1", "one\ntwo").render() == b"550-5.1.1 one\r\n550 5.1.1 two\r\n"


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_status_class_matches_reply_code(name: str) -> None:
    reply = CATALOGUE[name]
    if reply.status is None:
        assert reply.code // 100 == 3 or name in {"GREETING", "HELO_OK", "EHLO_OK"}
    else:
        klass, subject, detail = reply.status.split(".")
        assert int(klass) == reply.code // 100
        assert subject.isdigit() and detail.isdigit()


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_reply_renders_as_ascii_lines(name: str) -> None:
    rendered = CATALOGUE[name].render(
        host="localhost",
        peer="[127.0.0.1]",
        extensions="X",
        challenge="",
        parameter="SIZE",
        octets="5",
    )
    assert rendered.endswith(b"\r\n")
    assert rendered[:3] == str(CATALOGUE[name].code).encode()
