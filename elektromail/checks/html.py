"""HTML compatibility: the HTML elements, attributes, image formats and CSS (style attributes
and <style> blocks) an HTML part uses, checked against caniemail.com's support data, and the
size past which Gmail clips a message. Parses with the stdlib html.parser, never raises."""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser

from elektromail.checks import caniemail, css
from elektromail.checks.findings import Finding, info, warning
from elektromail.checks.message import Message

MAX_HTML = 1024 * 1024  # characters of one HTML part that are read; the rest is not
MAX_PARTS = 5  # HTML parts checked
GMAIL_CLIP = 102 * 1024  # bytes: Gmail shows "[Message clipped]" past about this size
_SEMANTIC = frozenset(
    (
        "article aside details figcaption figure footer header main mark nav section summary time"
    ).split()
)
_LISTS = frozenset({"ul", "ol", "li", "dl", "dt", "dd"})
_ATTRIBUTES = (
    "align background cellpadding cellspacing dir height width lang hidden loading role srcset"
    " target valign required popover aria-describedby aria-hidden aria-label aria-labelledby"
    " aria-live"
).split()
_IMAGE_TYPES = {
    "apng": "image-apng",
    "avif": "image-avif",
    "bmp": "image-bmp",
    "gif": "image-gif",
    "hdr": "image-hdr",
    "heif": "image-heif",
    "heic": "image-heif",
    "ico": "image-ico",
    "jpg": "image-jpg",
    "jpeg": "image-jpg",
    "png": "image-png",
    "svg": "image-svg",
    "svg+xml": "image-svg",
    "tif": "image-tiff",
    "tiff": "image-tiff",
    "webp": "image-webp",
}
_EXTENSION_RE = re.compile(r"\.([a-z0-9]{2,5})(?:[?#]|$)")
_DATA_IMAGE_RE = re.compile(r"data:image/([a-z0-9.+-]+)")


class _Collector(HTMLParser):
    """Counts the caniemail slugs of the markup it is fed."""

    def __init__(self, known: frozenset[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.known = known
        self.found: Counter[str] = Counter()
        self.first_line: dict[str, int] = {}
        self._style: list[str] | None = None

    def _add(self, slug: str) -> None:
        if slug in self.known:
            self.found[slug] += 1
            self.first_line.setdefault(slug, self.getpos()[0])

    def _add_all(self, counter: Counter) -> None:
        for slug, count in counter.items():
            self.found[slug] += count
            self.first_line.setdefault(slug, self.getpos()[0])

    def handle_decl(self, decl: str) -> None:
        if decl.lower().startswith("doctype"):
            self._add("html-doctype")

    def handle_comment(self, data: str) -> None:
        self._add("html-comments")

    def handle_startendtag(self, tag, attrs) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "style":
            self.handle_endtag(tag)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self._element(tag, values)
        for name in values:
            if name in _ATTRIBUTES:
                self._add(f"html-{name}")
        if tag == "html" and ("⚡4email" in values or "amp4email" in values):
            self._add("amp")
        style = values.get("style")
        if style:
            counter: Counter[str] = Counter()
            css.style_attribute(style, self.known, counter)
            self._add_all(counter)
        if tag == "style":
            self._style = []

    def _element(self, tag: str, values: dict[str, str]) -> None:
        if re.fullmatch(r"h[1-6]", tag):
            self._add("html-h1-h6")
        elif tag in _LISTS:
            self._add("html-lists")
        elif tag in _SEMANTIC:
            self._add("html-semantics")
        elif tag in ("map", "area"):
            self._add("html-image-maps")
        elif tag == "input":
            self._add(f"html-input-{values.get('type', 'text').lower() or 'text'}")
        elif tag == "button":
            self._add(f"html-button-{values.get('type', 'submit').lower() or 'submit'}")
        elif tag == "meta" and values.get("name", "").lower() in (
            "color-scheme",
            "supported-color-schemes",
        ):
            self._add("html-meta-color-scheme")
        else:
            self._add(f"html-{tag}")
        if tag == "a":
            href = values.get("href", "").strip().lower()
            if href.startswith("#") and len(href) > 1:
                self._add("html-anchor-links")
            elif href.startswith("mailto:"):
                self._add("html-mailto-links")
        if tag in ("img", "source") or (tag == "input" and values.get("type") == "image"):
            for source in (values.get("src", ""), values.get("srcset", "")):
                self._image(source.strip().lower())

    def _image(self, source: str) -> None:
        if not source:
            return
        if m := _DATA_IMAGE_RE.match(source):
            self._add("image-base64")
            kind = m.group(1)
        else:
            m = _EXTENSION_RE.search(source.split()[0] if source.split() else source)
            kind = m.group(1) if m else ""
        slug = _IMAGE_TYPES.get(kind)
        if slug:
            self._add(slug)

    def handle_data(self, data: str) -> None:
        if self._style is not None:
            self._style.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "style" and self._style is not None:
            counter: Counter[str] = Counter()
            css.style_sheet("".join(self._style), self.known, counter)
            self._add_all(counter)
            self._style = None

    def close(self) -> None:
        if self._style is not None:  # an unclosed <style> still counts: html.parser drops it
            self._style.append(self.rawdata)
            self.rawdata = ""
        super().close()
        self.handle_endtag("style")


def features_used(markup: str, known: frozenset[str]) -> tuple[Counter, dict[str, int]]:
    """(slug -> occurrences, slug -> first line) of an HTML document."""
    collector = _Collector(known)
    try:
        collector.feed(markup)
        collector.close()
    except Exception:  # html.parser is lenient; whatever it still raises on, keep what was read
        pass
    return collector.found, collector.first_line


def check(message: Message) -> list[Finding]:
    data = caniemail.load()
    parts = message.html_parts()
    if not parts:
        return [info("html.no-html", "no text/html part")]
    found: list[Finding] = []
    for number, part in parts[:MAX_PARTS]:
        found.extend(check_part(message, number, part, data))
    if len(parts) > MAX_PARTS:
        found.append(info("html.skipped", f"{len(parts) - MAX_PARTS} more HTML parts not checked"))
    return found


def check_part(message: Message, number: str, part, data: caniemail.Data) -> list[Finding]:
    """RFC 2045/2046 text/html part, read against caniemail.com (dated in the findings)."""
    markup = message.text_of(part)
    out: list[Finding] = []
    size = len(markup.encode("utf-8", "surrogatepass"))
    if size > GMAIL_CLIP:
        out.append(
            warning(
                "html.gmail-clip",
                f"the HTML part is {size // 1024} KB: Gmail clips messages over about 102 KB",
                part=number,
            )
        )
    if len(markup) > MAX_HTML:
        out.append(
            info(
                "html.truncated",
                f"only the first {MAX_HTML // 1024} K characters of {len(markup) // 1024} K"
                " were checked",
                part=number,
            )
        )
        markup = markup[:MAX_HTML]
    counts, lines = features_used(markup, data.slugs)
    lacking: dict[str, dict[str, list[str]]] = {}  # family -> kind -> feature titles
    fine = 0
    for slug in sorted(counts, key=lambda s: (lines.get(s, 0), s)):
        feature = data.features[slug]
        families = caniemail.by_family(data, feature)
        if not families:
            fine += 1
            continue
        unsupported = any("not supported" in g for g in families.values())
        make = warning if unsupported else info
        finding = make(
            f"html.{slug}",
            caniemail.summary(data, feature),
            part=number,
            line=lines.get(slug),
        )
        details = {"feature": slug, "uses": counts[slug], "url": feature.url, "clients": families}
        out.append(Finding(finding.id, finding.severity, finding.message, finding.where, details))
        for family, grouped in families.items():
            for kind in ("not supported", "partial"):
                if kind in grouped:
                    lacking.setdefault(family, {}).setdefault(kind, []).append(feature.title)
    out.append(
        Finding(
            "html.clients",
            "info",
            _clients_line(lacking, len(counts), fine, data.date),
            {"part": number},
            {"families": lacking, "features_used": len(counts), "data_date": data.date},
        )
    )
    return out


def _clients_line(lacking: dict, used: int, fine: int, date: str) -> str:
    head = f"{used} caniemail features used, {fine} supported everywhere (data of {date[:10]})"
    if not lacking:
        return head
    worst = sorted(lacking.items(), key=lambda kv: -len(kv[1].get("not supported", [])))
    shown = []
    for family, kinds in worst[:6]:
        counts = ", ".join(f"{len(v)} {k}" for k, v in kinds.items())
        shown.append(f"{family}: {counts}")
    return head + "; " + "; ".join(shown)
