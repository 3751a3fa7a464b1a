"""Decoding for SEARCH and the HTTP API: RFC 2047 header words, address lists, RFC 2231 parameters,
and Content-Transfer-Encodings; lenient, never raises on a message's content.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable
from urllib.parse import unquote_to_bytes

from elektromail.mime.addresses import join_address_list
from elektromail.mime.model import IDENTITY_ENCODINGS, Address

_ENCODED_WORD_RE = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=", re.A)
_SURROGATES_TO_LATIN1 = {0xDC80 + i: 0x80 + i for i in range(128)}
_BASE64_JUNK_RE = re.compile(rb"[^A-Za-z0-9+/]+")
_QP_TRAILING_WSP_RE = re.compile(rb"(?<![ \t])[ \t]+(?=\r?\n|\Z)")  # linear: runs start once


def decode_header(value: str) -> str:
    """Decode RFC 2047 encoded-words; 8-bit bytes that are not UTF-8 are read as latin-1.

    Encoded-words separated only by white space are joined (their bytes too when the charset is
    the same, so a character split across words survives); malformed words and words in a
    charset Python does not know are kept as they stand.
    """
    if not value.isascii():
        value = value.translate(_SURROGATES_TO_LATIN1)
    if "=?" not in value:
        return value
    out: list[str] = []
    run: list[tuple[str, bytes]] = []  # decoded words since the last plain text
    pos = 0
    for m in _ENCODED_WORD_RE.finditer(value):
        gap = value[pos : m.start()]
        word = _decode_word(m.group(1), m.group(2), m.group(3))
        if word is None or not run or gap.strip():
            out += [_join_words(run), gap]
            run = []
        if word is None:
            out.append(m.group())
        else:
            run.append(word)
        pos = m.end()
    out += [_join_words(run), value[pos:]]
    return "".join(out)


def _decode_word(charset: str, kind: str, text: str) -> tuple[str, bytes] | None:
    charset = charset.partition("*")[0].lower()  # RFC 2231 §5: charset*language
    try:
        b"=".decode(charset, "replace")  # LookupError: unknown or not text (like "base64")
        data = text.encode("ascii")
        if kind in "qQ":
            return charset, binascii.a2b_qp(data, header=True)
        return charset, binascii.a2b_base64(data + b"=" * (-len(data) % 4), strict_mode=True)
    except (LookupError, ValueError):  # also a charset name with a NUL, binascii.Error
        return None


def _join_words(run: list[tuple[str, bytes]]) -> str:
    merged: list[tuple[str, bytes]] = []
    for charset, data in run:
        if merged and merged[-1][0] == charset:
            merged[-1] = (charset, merged[-1][1] + data)
        else:
            merged.append((charset, data))
    return "".join(data.decode(charset, "replace") for charset, data in merged)


def decoded_addresses(addresses: Iterable[Address] | None) -> str:
    """Addresses as "Name <mailbox@host>, ...", names decoded; a group as "Team: a, b;".

    A group start with no end marker after it is a mailbox without a domain.
    """
    return join_address_list(addresses, _render_address, decode_header)


def _render_address(address: Address) -> str:
    spec = (address.mailbox or "").translate(_SURROGATES_TO_LATIN1)
    if address.host is not None:
        spec += "@" + address.host.translate(_SURROGATES_TO_LATIN1)
    return f"{decode_header(address.name)} <{spec}>" if address.name else spec


def param_value(params: Iterable[tuple[str, str]], name: str) -> str | None:
    """A parameter decoded for display: `name*` per RFC 2231, else `name` per RFC 2047."""
    params = tuple(params)
    name = name.lower()
    for key, value in params:
        if key == name + "*":
            pieces = value.split("'", 2)
            charset, text = (pieces[0], pieces[2]) if len(pieces) == 3 else ("", value)
            data = unquote_to_bytes(text.encode("utf-8", "surrogateescape"))
            try:
                return data.decode(charset or "utf-8", "replace")
            except (LookupError, ValueError):  # unknown, or a name Python refuses (a NUL)
                return data.decode("utf-8", "replace")
    return next((decode_header(value) for key, value in params if key == name), None)


def decode_body(data: bytes, encoding: str) -> bytes | None:
    """Undo a Content-Transfer-Encoding, leniently (like Dovecot); None if it is unknown."""
    encoding = encoding.strip().lower()
    if encoding in IDENTITY_ENCODINGS or not encoding:
        return data
    if encoding == "quoted-printable":  # RFC 2045 §6.7 (3): drop transport padding first
        return binascii.a2b_qp(_QP_TRAILING_WSP_RE.sub(b"", data))
    if encoding != "base64":
        return None
    try:
        return binascii.a2b_base64(data)  # skips characters outside the alphabet
    except binascii.Error:  # bad padding: drop what cannot be a whole group and pad
        data = _BASE64_JUNK_RE.sub(b"", data.partition(b"=")[0])
        data = data[: len(data) - 1] if len(data) % 4 == 1 else data
        return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
