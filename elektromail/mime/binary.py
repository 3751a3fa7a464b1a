"""Binary content (RFC 3516): binary parts of an APPENDed literal8 stored as base64, and the
decoded data FETCH BINARY[...] sends; both as Dovecot 2.3 does them.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterator

from elektromail.mime.decode import decode_body
from elektromail.mime.model import IDENTITY_ENCODINGS, BodyPart, ParsedMessage
from elektromail.mime.parse import parse
from elektromail.mime.sections import section_part

__all__ = ["UnknownEncoding", "binary_section", "encode_binary_parts", "is_leaf"]

# The Content-Transfer-Encoding line that makes a part convertible, read as Dovecot's
# istream-binary-converter reads it: one line (not folded), at most one blank after the colon,
# the value exactly "binary". The line break stays where it is; a header that ends without one
# (a part with no body, cut by its delimiter) ends at \Z.
_CTE_BINARY_LINE = re.compile(
    rb"^content-transfer-encoding[ \t]*:[ \t]?binary(?=\r?\n(?![ \t])|\Z)", re.I | re.M
)
_CTE_FIELD = re.compile(
    rb"^content-transfer-encoding[ \t]*:[^\n]*(?:\n[ \t][^\n]*)*\n?", re.I | re.M
)
_BASE64_LINE_INPUT = 57  # 76 characters a line (RFC 2045 §6.8), as Dovecot writes them
_DECODED = frozenset({"base64", "quoted-printable"})
_ENCAPSULATED = frozenset({"rfc822", "global"})


class UnknownEncoding(ValueError):
    """A part of the section has a Content-Transfer-Encoding no one here can undo."""


def is_leaf(part: BodyPart) -> bool:
    """RFC 9051 §6.4.5's leaf body part: a media type "other than multipart/*, message/rfc822,
    or message/global"."""
    if part.type == "multipart":
        return False
    return not (part.type == "message" and part.subtype in _ENCAPSULATED)


# -- APPEND of a literal8 -----------------------------------------------------------------------


def encode_binary_parts(raw: bytes) -> bytes:
    """`raw` with every "Content-Transfer-Encoding: binary" leaf part turned into base64.

    RFC 3516 §4.4: "The server MAY modify the CTE of the appended data, however any such
    transformation MUST NOT result in a loss of data." Dovecot does this to every literal8
    APPEND so that no NUL is ever stored where a plain literal must carry it; so do we, the same
    way: only the CTE line and the part's body change (76-character lines, no line break after
    the last, so the delimiter's own CRLF follows), every other byte stays. Multiparts keep
    their "binary" label, as in Dovecot. Unlike Dovecot, a message/rfc822 part is left alone:
    RFC 2046 §5.2.1 allows it no base64, and Dovecot relabels it without encoding its content.
    """
    out = []
    pos = 0
    for part in _binary_leaves(parse(raw).body):
        header = raw[part.start : part.body_start]
        match = _CTE_BINARY_LINE.search(header)
        if match is None:  # folded, two blanks, a trailing blank: Dovecot leaves those too
            continue
        newline = b"\n" if header[match.end() : match.end() + 1] == b"\n" else b"\r\n"
        out += [
            raw[pos : part.start + match.start()],
            b"Content-Transfer-Encoding: base64",
            raw[part.start + match.end() : part.body_start],
            _base64_lines(raw[part.body_start : part.end], newline),
        ]
        pos = part.end
    if not out:
        return raw
    out.append(raw[pos:])
    return b"".join(out)


def _binary_leaves(part: BodyPart) -> Iterator[BodyPart]:
    if part.parts:
        for child in part.parts:
            yield from _binary_leaves(child)
    elif part.message is not None:
        yield from _binary_leaves(part.message)
    elif part.encoding == "binary" and is_leaf(part):
        yield part


def _base64_lines(data: bytes, newline: bytes) -> bytes:
    return newline.join(
        binascii.b2a_base64(data[i : i + _BASE64_LINE_INPUT], newline=False)
        for i in range(0, len(data), _BASE64_LINE_INPUT)
    )


# -- FETCH BINARY -------------------------------------------------------------------------------


def binary_section(raw: bytes, msg: ParsedMessage, path: tuple[int, ...]) -> bytes | None:
    """BINARY[path]: the section with its Content-Transfer-Encoding undone (RFC 3516 §4.2);
    None when the message has no such part. Raises UnknownEncoding.

    BINARY[] is the whole message. A multipart or an encapsulated message comes back as it is
    stored, except that each base64 or quoted-printable part inside it is decoded and its
    header says "Content-Transfer-Encoding: binary" instead, as Dovecot sends it: RFC 3516 asks
    for the section "after removing any CTE-related encoding", and leaves open whether that
    reaches into the parts. Any part whose encoding is unknown fails the whole section.
    """
    if not path:
        return b"".join(_decoded(raw, msg.body, with_header=True))
    part = section_part(msg, path)
    if part is None:
        return None
    return b"".join(_decoded(raw, part, with_header=False))


def _decoded(raw: bytes, part: BodyPart, with_header: bool) -> Iterator[bytes]:
    encoding = part.encoding
    if encoding not in IDENTITY_ENCODINGS and encoding not in _DECODED:
        raise UnknownEncoding(encoding)
    if with_header:
        header = raw[part.start : part.body_start]
        yield _binary_header(header) if encoding in _DECODED else header
    if part.parts:
        pos = part.body_start
        for child in part.parts:
            yield raw[pos : child.start]  # preamble or delimiter line
            yield from _decoded(raw, child, with_header=True)
            pos = child.end
        yield raw[pos : part.end]  # the closing delimiter and the epilogue
    elif part.message is not None:
        yield from _decoded(raw, part.message, with_header=True)
    else:
        yield decode_body(raw[part.body_start : part.end], encoding)


def _binary_header(header: bytes) -> bytes:
    """The header of a decoded part: its Content-Transfer-Encoding fields replaced by one that
    says binary, placed last (before the blank line), where Dovecot puts it."""
    kept = _CTE_FIELD.sub(b"", header)
    for blank in (b"\r\n", b"\n"):
        fields = kept[: -len(blank)]
        if kept.endswith(blank) and (not fields or fields.endswith(b"\n")):
            return fields + b"Content-Transfer-Encoding: binary" + blank + blank
    # no blank line: a part without a body
    if kept and not kept.endswith(b"\n"):
        kept += b"\r\n"
    return kept + b"Content-Transfer-Encoding: binary\r\n"
