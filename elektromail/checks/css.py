"""A small CSS reader for the HTML check: which properties, values, at-rules, selectors, units
and functions a style sheet or a style attribute uses, as caniemail.com feature slugs.

Not a validating parser: it never raises, runs in time linear in its input, and reads what is
there in malformed CSS as a mail client would, by skipping what it cannot read.
"""

from __future__ import annotations

import re
from collections import Counter

MAX_DECLARATIONS = 20_000  # per style sheet or attribute; the rest is not looked at
_COMMENT_RE = re.compile(r"/\*.*?(?:\*/|\Z)", re.S)
_STRING_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"?|\'(?:[^\'\\\n]|\\.)*\'?')
_PROPERTY_RE = re.compile(r"\s*(-?[a-zA-Z][a-zA-Z0-9-]*)\s*:(.*)", re.S)
_FUNCTION_RE = re.compile(r"([a-zA-Z-]+)\(")
_UNIT_RE = re.compile(
    r"(?<![\w#-])[+-]?(?:\d+(?:\.\d*)?|\.\d+)(px|em|rem|%|vh|vw|vmin|vmax|ch|ex|cm|mm|in|pt|pc)(?![\w-])",
    re.I,
)
_AT_RE = re.compile(r"@([a-zA-Z-]+)")
_MEDIA_FEATURES = {
    "prefers-color-scheme": "css-at-media-prefers-color-scheme",
    "prefers-reduced-motion": "css-at-media-prefers-reduced-motion",
    "orientation": "css-at-media-orientation",
    "hover": "css-at-media-hover",
    "device-pixel-ratio": "css-at-media-device-pixel-ratio",
    "resolution": "css-at-media-device-pixel-ratio",
}
_FUNCTIONS = {
    "linear-gradient": "css-linear-gradient",
    "repeating-linear-gradient": "css-linear-gradient",
    "radial-gradient": "css-radial-gradient",
    "repeating-radial-gradient": "css-radial-gradient",
    "conic-gradient": "css-conic-gradient",
    "calc": "css-unit-calc",
    "var": "css-variables",
    "rgb": "css-rgb",
    "rgba": "css-rgba",
    "min": "css-function-min",
    "max": "css-function-max",
    "clamp": "css-function-clamp",
    "light-dark": "css-function-light-dark",
    "lab": "css-modern-color",
    "lch": "css-modern-color",
    "oklab": "css-modern-color",
    "oklch": "css-modern-color",
    "color-mix": "css-modern-color",
}
# Longhands that caniemail counts under their shorthand's slug.
_SHORTHAND_OF = ("margin", "padding", "border", "list-style", "text-decoration", "background")
_ALIASES = {
    "left": "css-left-right-top-bottom",
    "right": "css-left-right-top-bottom",
    "top": "css-left-right-top-bottom",
    "bottom": "css-left-right-top-bottom",
    "gap": "css-gap",
    "row-gap": "css-gap",
    "column-gap": "css-gap",
    "grid-template-columns": "css-grid-template",
    "grid-template-rows": "css-grid-template",
    "grid-template-areas": "css-grid-template",
    "column-width": "css-column-layout-properties",
    "column-rule": "css-column-layout-properties",
    "column-span": "css-column-layout-properties",
    "columns": "css-column-layout-properties",
    "word-wrap": "css-word-wrap",
    "-webkit-text-size-adjust": None,
}
_PSEUDO_RE = re.compile(r"(::?)([a-zA-Z-]+)")


def property_slugs(name: str, value: str, known: frozenset[str]) -> list[str]:
    """The slugs one declaration `name: value` uses."""
    name = name.lower()
    out: list[str] = []
    if name.startswith("--"):
        out.append("css-variables")
    elif name in _ALIASES:
        if _ALIASES[name]:
            out.append(_ALIASES[name])
    elif f"css-{name}" in known:
        out.append(f"css-{name}")
    else:
        for short in _SHORTHAND_OF:
            if name.startswith(short + "-") and f"css-{short}" in known:
                out.append(f"css-{short}")
                break
    lowered = value.lower()
    if name == "display":
        shown = lowered.replace("!important", "").strip()
        for kind in ("flex", "grid", "none"):
            if shown in (kind, f"inline-{kind}"):
                out.append(f"css-display-{kind}")
    if "!important" in lowered.replace(" ", ""):
        out.append("css-important")
    for fn in _FUNCTION_RE.findall(lowered):
        slug = _FUNCTIONS.get(fn)
        if slug:
            out.append(slug)
    for unit in _UNIT_RE.findall(lowered):
        unit = unit.lower()
        out.append("css-unit-percent" if unit == "%" else f"css-unit-{unit}")
    if "initial" in lowered.split():
        out.append("css-unit-initial")
    if "system-ui" in lowered:
        out.append("css-sytem-ui")  # caniemail's own spelling of the slug
    return [slug for slug in out if slug in known]


def declarations(text: str, known: frozenset[str], found: Counter) -> None:
    """Count the slugs of a declaration list (a style attribute or a rule's body)."""
    for count, piece in enumerate(text.split(";")):
        if count >= MAX_DECLARATIONS:
            break
        m = _PROPERTY_RE.match(piece)
        if m:
            for slug in property_slugs(m.group(1), m.group(2), known):
                found[slug] += 1


def style_attribute(text: str, known: frozenset[str], found: Counter) -> None:
    text, comments = _COMMENT_RE.subn("", text)
    if comments:
        found["css-comments"] += 1
    declarations(_STRING_RE.sub('""', text), known, found)


def style_sheet(text: str, known: frozenset[str], found: Counter) -> None:
    """Count the slugs a <style> block uses: at-rules, selectors and declarations. Braces
    that do not match (malformed CSS) close or open blocks as they come, never fail."""
    text, comments = _COMMENT_RE.subn("", text)
    if comments and "css-comments" in known:
        found["css-comments"] += 1
    text = _STRING_RE.sub('""', text)
    depth = 0
    start = 0
    preludes: list[str] = []
    for count, m in enumerate(re.finditer(r"[{};]", text)):
        if count >= MAX_DECLARATIONS:
            break
        char = m.group()
        chunk = text[start : m.start()]
        start = m.end()
        if char == "{":
            prelude = chunk.strip()
            preludes.append(prelude)
            depth += 1
            _prelude(prelude, known, found)
        elif char == "}":
            declarations(chunk, known, found)  # whitespace after a nested block's rules
            if depth:
                depth -= 1
                preludes.pop()
        elif char == ";":
            if depth == 0:
                _prelude(chunk.strip(), known, found)  # @import url(...);
            else:
                declarations(chunk, known, found)


def _prelude(prelude: str, known: frozenset[str], found: Counter) -> None:
    if not prelude:
        return
    if prelude.startswith("@"):
        m = _AT_RE.match(prelude)
        if not m:
            return
        name = m.group(1).lower()
        slug = f"css-at-{name}"
        if slug in known:
            found[slug] += 1
        if name == "media":
            lowered = prelude.lower()
            for feature, feature_slug in _MEDIA_FEATURES.items():
                if feature in lowered and feature_slug in known:
                    found[feature_slug] += 1
        return
    if re.fullmatch(r"[\d.%\s,]+|from|to", prelude.lower()):  # keyframe selectors
        return
    for slug in selector_slugs(prelude):
        if slug in known:
            found[slug] += 1


def selector_slugs(selector: str) -> list[str]:
    out = []
    for colons, name in _PSEUDO_RE.findall(selector):
        name = name.lower()
        kind = (
            "element"
            if colons == "::" or name in ("before", "after", "first-line", "first-letter")
            else "class"
        )
        out.append(f"css-pseudo-{kind}-{name}")
    if "," in selector:
        out.append("css-selector-grouping")
    bare = _PSEUDO_RE.sub("", re.sub(r"\[[^\]]*\]?", "[]", selector))
    if "[]" in bare:
        out.append("css-selector-attribute")
    if "#" in bare:
        out.append("css-selector-id")
    if "." in bare:
        out.append("css-selector-class")
    if ">" in bare:
        out.append("css-selector-child")
    if "+" in bare:
        out.append("css-selector-adjacent-sibling")
    if "~" in bare:
        out.append("css-selector-general-sibling")
    if "*" in bare:
        out.append("css-selector-universal")
    for single in bare.split(","):
        words = [w for w in re.split(r"\s*[>+~]\s*|\s+", single.strip()) if w]
        if len(words) > 1:
            out.append("css-selector-descendant")
        if any(re.match(r"[a-zA-Z]", w) for w in words):
            out.append("css-selector-type")
        if any(re.match(r"[a-zA-Z*]?[\w-]*(?:[.#\[][^.#\[]*){2,}", w) for w in words):
            out.append("css-selector-chaining")
    return out
