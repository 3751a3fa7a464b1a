"""Headers for handing a mail-supplied file to a browser (GET /messages/{uid}/attachments/N):
always a download, never a page of this server's origin, whatever type the mail claims."""

from __future__ import annotations

import re
import urllib.parse

# RFC 2045 §5.1: type "/" subtype, each a token; anything else is served as octets.
_MEDIA_TYPE_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+/[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_UNSAFE_FALLBACK_RE = re.compile(r'[^ !#-\[\]-~]|["\\]')  # what a quoted ASCII name cannot hold


def download_headers(content_type: str, filename: str | None) -> dict[bytes, bytes]:
    """Content-Type, Content-Disposition (RFC 6266, with an RFC 8187 UTF-8 name) and the
    headers that keep a browser from running the file as part of the API's origin."""
    kind = content_type.lower() if _MEDIA_TYPE_RE.match(content_type) else ""
    kind = kind or "application/octet-stream"
    return {
        b"Content-Type": kind.encode("ascii"),
        b"Content-Disposition": disposition(filename).encode("ascii"),
        b"X-Content-Type-Options": b"nosniff",
        # Opened in a tab anyway (an HTML or SVG attachment): no scripts, no same origin.
        b"Content-Security-Policy": b"sandbox; default-src 'none'",
        b"Cache-Control": b"no-store",
    }


def disposition(filename: str | None) -> str:
    """`attachment`, with the file name as ASCII fallback and as `filename*` when needed."""
    name = _safe_name(filename or "")
    if not name:
        return "attachment"
    fallback = _UNSAFE_FALLBACK_RE.sub("_", name)
    header = f'attachment; filename="{fallback}"'
    if fallback != name:
        header += "; filename*=UTF-8''" + urllib.parse.quote(name, safe="")
    return header


def _safe_name(filename: str) -> str:
    """The last path component, without controls: a mail cannot pick a directory."""
    name = re.split(r"[/\\]", filename)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().strip(".")
    return name[:200]
