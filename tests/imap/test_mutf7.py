"""Modified UTF-7 mailbox names (RFC 3501 §5.1.3): round trips and strict decoding."""

from __future__ import annotations

import pytest

from elektromail import mutf7

PAIRS = [
    pytest.param("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-", id="rfc-example"),
    pytest.param("", "", id="empty"),
    pytest.param("INBOX", "INBOX", id="ascii"),
    pytest.param("&", "&-", id="ampersand"),
    pytest.param("Tom & Jerry", "Tom &- Jerry", id="ampersand-in-text"),
    pytest.param("Entwürfe", "Entw&APw-rfe", id="latin1"),
    pytest.param("台", "&U,A-", id="one-utf16-unit"),
    pytest.param("😀", "&2D3eAA-", id="surrogate-pair"),
    pytest.param("a\tb", "a&AAk-b", id="control-character-encoded"),
    pytest.param("€&€", "&IKw-&-&IKw-", id="ampersand-between-runs"),
]


@pytest.mark.parametrize(("text", "wire"), PAIRS)
def test_encode(text: str, wire: str) -> None:
    assert mutf7.encode(text) == wire


@pytest.mark.parametrize(("text", "wire"), PAIRS)
def test_decode(text: str, wire: str) -> None:
    assert mutf7.decode(wire) == text
    assert mutf7.decode(wire.encode("ascii")) == text


def test_long_names_round_trip() -> None:
    for text in ["日本語" * 50, "a" + "ü" * 100 + "b", "x/y.z&" * 20, "\U0001f600" * 33]:
        assert mutf7.decode(mutf7.encode(text)) == text


@pytest.mark.parametrize(
    ("wire", "fragment"),
    [
        pytest.param("&", "unterminated", id="lone-ampersand"),
        pytest.param("&U,BTFw", "unterminated", id="unterminated-run"),
        pytest.param("a&Jjo!-", "unterminated", id="bad-base64-character"),
        pytest.param("&AGE-", "must not be encoded", id="encoded-printable-ascii"),
        pytest.param("&U,BTFw-&ZeVnLIqe-", "adjacent", id="adjacent-runs"),
        pytest.param("&U,B-", "padding bits", id="non-zero-padding"),
        pytest.param("&U-", "truncated", id="one-char-run"),
        pytest.param("&U,BT-", "truncated", id="four-char-run"),
        pytest.param("&2D0-", "UTF-16", id="lone-surrogate"),
        pytest.param("a\x7fb", "character", id="del"),
        pytest.param("a\tb", "character", id="raw-control"),
        pytest.param("Entwürfe", "character", id="raw-non-ascii"),
        pytest.param(b"Entw\xc3\xbcrfe", "8-bit", id="raw-8bit-bytes"),
        pytest.param("&U/A-", "unterminated", id="slash-instead-of-comma"),
    ],
)
def test_decode_rejects_invalid_input(wire: str | bytes, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        mutf7.decode(wire)


def test_encode_rejects_lone_surrogates() -> None:
    with pytest.raises(ValueError, match="surrogate"):
        mutf7.encode("a\udc80")


def test_long_function_names_are_aliases() -> None:
    assert mutf7.encode_mutf7 is mutf7.encode
    assert mutf7.decode_mutf7 is mutf7.decode
