"""The README's settings table is the user's list of settings: every SETTINGS row is in it, with
its option and environment variable, and it names no setting the server does not have."""

from __future__ import annotations

import re
from pathlib import Path

from elektromail.config import SETTINGS

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def table_rows() -> dict[str, str]:
    """option -> environment variable, from the Configuration section's table."""
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"\| `--([a-z0-9-]+)` \| `?([A-Z0-9_]*)`? \|", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def test_every_setting_has_a_row_with_its_environment_variable():
    rows = table_rows()
    missing = [s.option for s in SETTINGS if s.option not in rows]
    assert missing == []
    wrong = [(s.option, s.env, rows[s.option]) for s in SETTINGS if (s.env or "") != rows[s.option]]
    assert wrong == []


def test_no_row_names_a_setting_that_does_not_exist():
    options = {s.option for s in SETTINGS}
    assert [option for option in table_rows() if option not in options] == []
