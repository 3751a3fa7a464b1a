"""Hypothesis budgets for the property tests: a CI profile (the whole directory in well under
a minute on two cores) and a long one for soak runs, chosen by ELEKTROMAIL_HYPOTHESIS_PROFILE.

    ELEKTROMAIL_HYPOTHESIS_PROFILE=long python -m pytest tests/property

Profiles are named settings objects rather than a global `load_profile`, so that the other
hypothesis users of the suite (tests/imap/test_search_property.py, schemathesis) keep theirs.
Each test asks for a share of the profile's examples according to its cost per example.
Failing examples are kept in `.hypothesis/` in the working directory (ignored by git).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

ENV = "ELEKTROMAIL_HYPOTHESIS_PROFILE"

settings.register_profile(
    "elektromail-ci",
    max_examples=300,
    deadline=None,  # a shared CI machine stalls now and then: never fail on timing
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "elektromail-long",
    parent=settings.get_profile("elektromail-ci"),
    max_examples=30_000,
)

PROFILE = os.environ.get(ENV, "ci")
try:
    BASE = settings.get_profile(f"elektromail-{PROFILE}")
except Exception:
    raise RuntimeError(f"{ENV}={PROFILE!r}: use 'ci' or 'long'") from None


def budget(share: float = 1.0) -> settings:
    """The chosen profile with `share` of its examples (at least 10)."""
    return settings(BASE, max_examples=max(10, round(BASE.max_examples * share)))
