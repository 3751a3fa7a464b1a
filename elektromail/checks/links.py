"""The links of a message (HTML hrefs and URLs in text parts, deduplicated) and the findings
made from probing them. Probing itself needs the network and lives with the HTTP door
(elektromail/http/linkcheck.py); this module stays pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from elektromail.checks.findings import Finding, error, info, warning
from elektromail.checks.message import Message

MAX_FOUND = 10_000  # distinct links collected; more are counted, not kept
MAX_TEXT = 1024 * 1024  # characters of a part searched for links
_TEXT_URL_RE = re.compile(r"\bhttps?://[^\s<>\"'()\[\]{}]+", re.I)
_TRAILING = ".,;:!?"


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    part: str


@dataclass(frozen=True, slots=True)
class Probe:
    """What asking for one link gave: `status` the final HTTP status (None: no answer),
    `error` why there was none ("timeout", "refused scheme file", ...), `redirects` the
    Location chain followed."""

    url: str
    status: int | None = None
    error: str | None = None
    redirects: tuple[str, ...] = ()
    method: str = "HEAD"


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self.extra = 0  # hrefs past the cap, counted

    def handle_starttag(self, tag, attrs) -> None:
        if tag in ("a", "area"):
            for name, value in attrs:
                if name == "href" and value and value.strip():
                    if len(self.urls) < 2 * MAX_FOUND:
                        self.urls.append(value.strip())
                    else:
                        self.extra += 1


def extract(message: Message) -> tuple[list[Link], int]:
    """(distinct links in order, how many more distinct ones were left out)."""
    seen: dict[str, Link] = {}
    dropped: set[str] = set()
    extra = 0

    def add(url: str, part: str) -> None:
        if url in seen:
            return
        if len(seen) >= MAX_FOUND:
            if len(dropped) < MAX_FOUND:
                dropped.add(url)
            return
        seen[url] = Link(url, part)

    for number, part in message.html_parts():
        parser = _Hrefs()
        try:
            parser.feed(message.text_of(part)[:MAX_TEXT])
            parser.close()
        except Exception:
            pass
        for url in parser.urls:
            add(url, number)
        extra += parser.extra
    for number, part in message.text_parts():
        for m in _TEXT_URL_RE.finditer(message.text_of(part)[:MAX_TEXT]):
            add(m.group().rstrip(_TRAILING), number)
    return list(seen.values()), len(dropped) + extra


def is_checkable(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def not_checked(links: list[Link], more: int) -> list[Finding]:
    web = sum(1 for link in links if is_checkable(link.url))
    return [
        info(
            "links.not-checked",
            f"{web} web link(s) found ({len(links) + more} in all); ask with ?links=1 to"
            " check them",
        )
    ]


def findings(links: list[Link], probes: list[Probe], skipped: int, more: int) -> list[Finding]:
    """Findings for probed links: 2xx fine, 3xx followed, 4xx/5xx broken, no answer."""
    out: list[Finding] = []
    part_of = {link.url: link.part for link in links}
    fine = 0
    for probe in probes:
        where = {"url": probe.url[:2000], "part": part_of.get(probe.url)}
        details = {
            "status": probe.status,
            "error": probe.error,
            "redirects": list(probe.redirects),
            "method": probe.method,
        }
        if probe.error is not None:
            make = info if probe.error.startswith("not checked") else warning
            f = make("links.unreachable", f"{_short(probe.url)}: {probe.error}", **where)
        elif probe.status is not None and 200 <= probe.status < 300:
            fine += 1
            if not probe.redirects:
                continue
            f = info(
                "links.redirected",
                f"{_short(probe.url)}: {probe.status} after {len(probe.redirects)} redirect(s)",
                **where,
            )
        else:
            f = error("links.broken", f"{_short(probe.url)}: HTTP {probe.status}", **where)
        out.append(Finding(f.id, f.severity, f.message, f.where, details))
    summary = f"{len(probes)} link(s) checked, {fine} answered 2xx"
    if skipped:
        summary += f"; {skipped} more not checked (the link-check cap)"
    if more:
        summary += f"; {more} more distinct links not even collected"
    out.append(info("links.summary", summary))
    return out


def _short(url: str) -> str:
    return url if len(url) <= 120 else url[:117] + "..."
