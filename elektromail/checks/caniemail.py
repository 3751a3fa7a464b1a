"""caniemail.com's support data (the vendored, trimmed copy in data/caniemail.json; see
data/LICENSE and contrib/refresh_caniemail.py), and how to say which clients lack a feature."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "caniemail.json"
SUPPORT = {"y": "supported", "a": "partial", "n": "not supported", "u": "unknown"}


@dataclass(frozen=True, slots=True)
class Feature:
    slug: str
    title: str
    category: str
    url: str
    stats: dict[str, dict[str, str]]  # family -> platform -> "y", "a #1", "n", "u"
    notes: dict[str, str]


@dataclass(frozen=True, slots=True)
class Data:
    date: str
    features: dict[str, Feature]
    families: dict[str, str]  # slug -> nice name
    platforms: dict[str, str]

    @property
    def slugs(self) -> frozenset[str]:
        return frozenset(self.features)


@cache
def load() -> Data:
    raw = json.loads(DATA.read_text(encoding="utf-8"))
    features = {
        f["slug"]: Feature(f["slug"], f["title"], f["category"], f["url"], f["stats"], f["notes"])
        for f in raw["features"]
    }
    names = raw["nicenames"]
    return Data(raw["last_update_date"], features, names["family"], names["platform"])


def letter(value: str) -> str:
    return (value.strip()[:1] or "u").lower()


def by_family(data: Data, feature: Feature) -> dict[str, dict[str, list[str]]]:
    """{family name: {"not supported": [platforms], "partial": [...], ...}} for the families
    where support is not complete; families fully supporting it are left out."""
    out: dict[str, dict[str, list[str]]] = {}
    for family, platforms in feature.stats.items():
        grouped: dict[str, list[str]] = {}
        for platform, value in platforms.items():
            grouped.setdefault(SUPPORT.get(letter(value), "unknown"), []).append(
                data.platforms.get(platform, platform)
            )
        if set(grouped) - {"supported", "unknown"}:
            out[data.families.get(family, family)] = grouped
    return out


def summary(data: Data, feature: Feature) -> str:
    """`display:flex: not supported in Outlook (Windows, Windows Mail); partial in Gmail
    (Android)` — by family, each with the platforms where it falls short."""
    lacking: dict[str, list[str]] = {"not supported": [], "partial": []}
    for family, grouped in by_family(data, feature).items():
        for kind in ("not supported", "partial"):
            if kind not in grouped:
                continue
            platforms = grouped[kind]
            every = sum(len(v) for v in grouped.values()) == len(platforms)
            lacking[kind].append(family if every else f"{family} ({', '.join(platforms)})")
    parts = [f"{kind} in {', '.join(names)}" for kind, names in lacking.items() if names]
    return f"{feature.title}: " + ("; ".join(parts) if parts else "supported everywhere tested")
