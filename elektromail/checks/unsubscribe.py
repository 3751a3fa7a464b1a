"""List-Unsubscribe (RFC 2369) and one-click unsubscription (RFC 8058): present on bulk-looking
mail, well-formed, with an https URL for the one-click POST, and both fields covered by a
DKIM signature that verifies."""

from __future__ import annotations

import re
from collections.abc import Iterator

from elektromail.checks.dkim import Signature
from elektromail.checks.findings import Finding, error, info, warning
from elektromail.checks.message import Message

ONE_CLICK = "List-Unsubscribe=One-Click"
_ENTRY_RE = re.compile(r"\s*<([^<>]*)>\s*(?:\([^()]*\)\s*)?")
_BULK_WORDS_RE = re.compile(rb"unsubscribe|abmelden|d\xc3\xa9sinscri|desinscri|darse de baja", re.I)
BODY_SCAN = 256 * 1024  # bytes of the body looked at for an unsubscribe link


def bulk_signs(message: Message) -> list[str]:
    """Why the message looks like bulk mail (empty: it does not)."""
    signs = []
    if message.first("List-Id") is not None:
        signs.append("List-Id")
    precedence = message.first("Precedence")
    if precedence is not None and precedence.text.strip().lower() in ("bulk", "list", "junk"):
        signs.append(f"Precedence: {precedence.text.strip()}")
    if message.first("Feedback-ID") is not None:
        signs.append("Feedback-ID")
    body = message.raw[message.parsed.header_end : message.parsed.header_end + BODY_SCAN]
    if _BULK_WORDS_RE.search(body):
        signs.append("an unsubscribe link in the body")
    return signs


def parse_entries(value: str) -> tuple[list[str], str | None]:
    """The URIs of a List-Unsubscribe value and the first junk found (RFC 2369 §2: each URI in
    angle brackets, comma separated, comments allowed)."""
    uris: list[str] = []
    for piece in value.split(","):
        if not piece.strip():
            continue
        m = _ENTRY_RE.fullmatch(piece)
        if m is None:
            return uris, piece.strip()[:80]
        uris.append(re.sub(r"\s+", "", m.group(1)))
    return uris, None


def check(message: Message, signatures: list[Signature]) -> list[Finding]:
    return list(_findings(message, signatures))


def _findings(message: Message, signatures: list[Signature]) -> Iterator[Finding]:
    """RFC 2369 §3.2 (List-Unsubscribe), RFC 8058 §3.1 (List-Unsubscribe-Post) and §4 (DKIM)."""
    fields = message.get_all("List-Unsubscribe")
    posts = message.get_all("List-Unsubscribe-Post")
    signs = bulk_signs(message)
    if not fields:
        if signs:
            yield warning(
                "list-unsubscribe.missing",
                f"looks like bulk mail ({', '.join(signs)}) but has no List-Unsubscribe"
                " header (RFC 2369 §3.2; large mailbox providers require one, RFC 8058)",
            )
        else:
            yield info("list-unsubscribe.not-bulk", "no List-Unsubscribe; not bulk-looking mail")
        if posts:
            yield error(
                "list-unsubscribe.post-without-header",
                "List-Unsubscribe-Post without List-Unsubscribe (RFC 8058 §3.1)",
                header="List-Unsubscribe-Post",
                line=posts[0].line,
            )
        return
    if len(fields) > 1:
        yield error(
            "list-unsubscribe.duplicate",
            f"List-Unsubscribe occurs {len(fields)} times",
            header="List-Unsubscribe",
            line=fields[1].line,
        )
    field = fields[0]
    uris, junk = parse_entries(field.text)
    where = {"header": "List-Unsubscribe", "line": field.line}
    if junk is not None:
        yield error(
            "list-unsubscribe.malformed",
            f"List-Unsubscribe holds {junk!r}, not a URI in angle brackets (RFC 2369 §2)",
            **where,
        )
    https = [u for u in uris if u.lower().startswith("https://")]
    http = [u for u in uris if u.lower().startswith("http://")]
    mailto = [u for u in uris if u.lower().startswith("mailto:")]
    other = [u for u in uris if u not in https + http + mailto]
    for uri in other[:5]:
        yield warning(
            "list-unsubscribe.scheme",
            f"List-Unsubscribe URI {uri[:80]!r} is neither https nor mailto",
            **where,
        )
    if http:
        yield warning(
            "list-unsubscribe.http",
            "List-Unsubscribe has a plain http URL; one-click needs https (RFC 8058 §3.1)",
            **where,
        )
    if not uris and junk is None:
        yield error("list-unsubscribe.empty", "List-Unsubscribe is empty (RFC 2369 §2)", **where)
    if https or mailto:
        kinds = " and ".join(k for k, v in (("https", https), ("mailto", mailto)) if v)
        yield info("list-unsubscribe.present", f"List-Unsubscribe has {kinds}", **where)
    yield from _one_click(posts, https, signatures, signs)


def _one_click(posts, https, signatures: list[Signature], signs: list[str]) -> Iterator[Finding]:
    if not posts:
        if signs and https:
            yield warning(
                "list-unsubscribe.no-one-click",
                "no List-Unsubscribe-Post: List-Unsubscribe=One-Click (RFC 8058); bulk senders"
                " need one-click unsubscription",
                header="List-Unsubscribe",
            )
        return
    post = posts[0]
    where = {"header": "List-Unsubscribe-Post", "line": post.line}
    if len(posts) > 1 or post.text.strip() != ONE_CLICK:
        yield error(
            "list-unsubscribe.post-malformed",
            f"List-Unsubscribe-Post must be exactly {ONE_CLICK!r}, once (RFC 8058 §3.1)",
            **where,
        )
    if not https:
        yield error(
            "list-unsubscribe.post-without-https",
            "List-Unsubscribe-Post needs an https URI in List-Unsubscribe (RFC 8058 §3.1)",
            **where,
        )
    covering = [
        s
        for s in signatures
        if {"list-unsubscribe", "list-unsubscribe-post"} <= set(s.signed_headers)
    ]
    if any(s.result == "pass" for s in covering):
        yield info(
            "list-unsubscribe.one-click",
            "one-click unsubscription, covered by a DKIM signature that verifies (RFC 8058 §4)",
            **where,
        )
    elif any(s.result == "no-key" for s in covering):
        yield warning(
            "list-unsubscribe.signature-unverified",
            "a DKIM signature covers both List-Unsubscribe fields but its key is not known:"
            " give it to verify (RFC 8058 §4)",
            **where,
        )
    else:
        yield error(
            "list-unsubscribe.not-signed",
            "no DKIM signature that verifies covers both List-Unsubscribe and"
            " List-Unsubscribe-Post (RFC 8058 §4 requires one)",
            **where,
        )
