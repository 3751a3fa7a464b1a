"""Modified UTF-7 for IMAP mailbox names (RFC 3501 §5.1.3): encode, and a strict decode. Pure
code (row 0): IMAP speaks it, and the mailbox-name rule of every door (elektromail.names) measures
and recognises it.

The decoder rejects every non-canonical form, so decode(encode(x)) == x and
encode(decode(y)) == y for every accepted y.
"""

from __future__ import annotations

import base64
import binascii
import re

__all__ = ["decode", "decode_mutf7", "encode", "encode_mutf7"]

_DIRECT = re.compile(r"[\x20-\x25\x27-\x7e]+")  # printable ASCII except "&"
_SHIFTED = re.compile(r"&([A-Za-z0-9+,]*)-")


def _encode_run(run: str) -> str:
    try:
        data = run.encode("utf-16-be")
    except UnicodeEncodeError:
        raise ValueError("mailbox name contains a lone surrogate") from None
    return "&" + base64.b64encode(data).decode("ascii").rstrip("=").replace("/", ",") + "-"


def encode(name: str) -> str:
    """Encode a Unicode mailbox name, e.g. "~peter/mail/台北/日本語"."""
    out: list[str] = []
    i = 0
    while i < len(name):
        match = _DIRECT.match(name, i)
        if match is not None:
            out.append(match.group())
            i = match.end()
        elif name[i] == "&":
            out.append("&-")
            i += 1
        else:
            end = i + 1
            while end < len(name) and not ("\x20" <= name[end] <= "\x7e"):
                end += 1
            out.append(_encode_run(name[i:end]))
            i = end
    return "".join(out)


def _decode_run(encoded: str, name: str) -> str:
    bits = len(encoded) * 6
    if bits % 16 >= 6:
        raise _invalid(name, "truncated base64 run")
    padded = encoded.replace(",", "/") + "=" * (-len(encoded) % 4)
    try:
        data = base64.b64decode(padded, validate=True)
    except binascii.Error:
        raise _invalid(name, "bad base64") from None
    if base64.b64encode(data).decode("ascii").rstrip("=") != encoded.replace(",", "/"):
        raise _invalid(name, "non-zero padding bits")
    try:
        text = data.decode("utf-16-be")
    except UnicodeDecodeError:
        raise _invalid(name, "bad UTF-16") from None
    if any("\x20" <= char <= "\x7e" for char in text):
        raise _invalid(name, "printable ASCII must not be encoded")
    return text


def decode(name: str | bytes) -> str:
    """Decode a wire mailbox name; raise ValueError for anything not canonical modified UTF-7."""
    if isinstance(name, bytes):
        try:
            name = name.decode("ascii")
        except UnicodeDecodeError:
            raise ValueError("invalid modified UTF-7: 8-bit characters") from None
    out: list[str] = []
    i = 0
    previous_shifted = False
    while i < len(name):
        match = _DIRECT.match(name, i)
        if match is not None:
            out.append(match.group())
            i = match.end()
            previous_shifted = False
            continue
        if name[i] != "&":
            raise _invalid(name, f"character {quote_text(name[i])}")
        match = _SHIFTED.match(name, i)
        if match is None:
            raise _invalid(name, "unterminated '&'")
        encoded = match.group(1)
        if not encoded:
            out.append("&")
            previous_shifted = False
        elif previous_shifted:
            raise _invalid(name, "adjacent encoded runs")
        else:
            out.append(_decode_run(encoded, name))
            previous_shifted = True
        i = match.end()
    return "".join(out)


encode_mutf7 = encode
decode_mutf7 = decode


def quote_text(text: str, limit: int = 40) -> str:
    """`text` as an error message quotes it: printable ASCII (anything else "?"), cut at
    `limit` characters, in single quotes (as imap.tokens.quote_text, which is a row up)."""
    text = "".join(c if " " <= c <= "~" else "?" for c in text)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return "'" + text + "'"


def _invalid(name: str, why: str) -> ValueError:
    return ValueError(f"invalid modified UTF-7 {quote_text(name)}: {why}")
