"""Message checks, on demand: header lint, DKIM verification against given keys (never DNS),
List-Unsubscribe and one-click, HTML compatibility against caniemail.com's data, and the links
(probed only when asked, by the HTTP door). Pure code: each check is a function of the bytes
(and of the keys or probe results it is handed) returning findings.

    report = checks.run(raw, ring)  # {"checks": [...], "summary": {...}}
"""

from __future__ import annotations

from typing import Any

from elektromail.checks import dkim, headers, html, links, unsubscribe
from elektromail.checks.findings import ERROR, INFO, WARNING, Finding
from elektromail.checks.keys import DkimKeyError, KeyRing
from elektromail.checks.message import Message, Transaction

__all__ = [
    "CHECK_NAMES",
    "DkimKeyError",
    "Finding",
    "KeyRing",
    "Message",
    "Transaction",
    "report",
    "run",
    "static_checks",
]

CHECK_NAMES = ("headers", "dkim", "list-unsubscribe", "html", "links")


def static_checks(message: Message, ring: KeyRing) -> list[tuple[str, list[Finding]]]:
    """Every check that needs no network, in CHECK_NAMES order (links last, apart)."""
    signatures = dkim.verify(message, ring)
    return [
        ("headers", headers.check(message)),
        ("dkim", dkim.check(message, ring, signatures)),
        ("list-unsubscribe", unsubscribe.check(message, signatures)),
        ("html", html.check(message)),
    ]


def report(results: list[tuple[str, list[Finding]]]) -> dict[str, Any]:
    """The route's answer: each check's findings and the counts by severity."""
    counts = {ERROR: 0, WARNING: 0, INFO: 0}
    for _, found in results:
        for finding in found:
            counts[finding.severity] += 1
    return {
        "checks": [
            {"check": name, "findings": [f.to_json() for f in found]} for name, found in results
        ],
        "summary": {"errors": counts[ERROR], "warnings": counts[WARNING], "infos": counts[INFO]},
    }


def run(
    raw: bytes,
    ring: KeyRing | None = None,
    transaction: Transaction | None = None,
    probes: list[links.Probe] | None = None,
) -> dict[str, Any]:
    """All checks of one message; `probes` are the link probe results when links were
    checked (None: the links check only counts them)."""
    message = Message(raw, transaction)
    results = static_checks(message, ring or KeyRing())
    found, more = links.extract(message)
    if probes is None:
        results.append(("links", links.not_checked(found, more)))
    else:
        skipped = sum(1 for link in found if links.is_checkable(link.url)) - len(probes)
        results.append(("links", links.findings(found, probes, max(skipped, 0), more)))
    return report(results)
