"""The soak test's size: `ELEKTROMAIL_SOAK=full` (or `--soak=full` when pytest is started on
tests/soak itself) runs the issue's full load; the default is the CI size."""

from __future__ import annotations

import os

import pytest

SIZES = ("ci", "full")


def pytest_addoption(parser: pytest.Parser) -> None:
    # Registered only when pytest starts with tests/soak on its command line (a conftest below
    # the root is read late otherwise); the env var works from anywhere.
    parser.addoption(
        "--soak",
        choices=SIZES,
        default=None,
        help="soak test size: ci (default) or full; also ELEKTROMAIL_SOAK",
    )


@pytest.fixture(scope="session")
def soak_size(pytestconfig: pytest.Config) -> str:
    size = pytestconfig.getoption("--soak", default=None) or os.environ.get(
        "ELEKTROMAIL_SOAK", "ci"
    )
    if size not in SIZES:
        raise pytest.UsageError(f"ELEKTROMAIL_SOAK={size!r}: expected one of {', '.join(SIZES)}")
    return size
