"""The argument scanner on its own (imap/tokens.py): parse_arguments, for lines without literals.

Tokenizing inside whole commands, literals included, is tested through the reader in test_reader.py.
"""

from __future__ import annotations

import pytest

from elektromail.imap.tokens import Atom, parse_arguments


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"(From To)", [[Atom("From"), Atom("To")]], id="list"),
        pytest.param(b'("X-A" b)', [[b"X-A", Atom("b")]], id="quoted-in-list"),
        pytest.param(b"", [], id="empty"),
    ],
)
def test_parse_arguments(data: bytes, expected: list) -> None:
    assert parse_arguments(data) == expected


@pytest.mark.parametrize(
    "data", [b"(a", b"a)", b"{3}", b'"x'], ids=["open", "close", "literal", "quote"]
)
def test_parse_arguments_rejects_malformed_text(data: bytes) -> None:
    with pytest.raises(ValueError):
        parse_arguments(data)
