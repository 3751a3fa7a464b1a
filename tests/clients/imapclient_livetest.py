"""Run imapclient's own live test suite (livetest.py of its sdist) and print one JSON object:
each test's name (as livetest.main registers its classes) to its outcome and detail.

Usage: python imapclient_livetest.py SDIST_DIR LIVETEST_INI. Runs in a child process, with
the sdist's imapclient package first on sys.path, so that the suite and the library it tests
are of the same release.
"""

from __future__ import annotations

import json
import sys
import traceback
import unittest


class Recorder(unittest.TestResult):
    def __init__(self, prefix: str, outcomes: dict[str, dict[str, str]]) -> None:
        super().__init__()
        self.prefix, self.outcomes = prefix, outcomes

    def _note(self, test, outcome: str, detail: str = "") -> None:
        name = getattr(test, "_testMethodName", None) or str(test)
        self.outcomes[f"{self.prefix}.{name}"] = {"outcome": outcome, "detail": detail}

    def addSuccess(self, test) -> None:
        super().addSuccess(test)
        self._note(test, "pass")

    def addFailure(self, test, err) -> None:
        super().addFailure(test, err)
        self._note(test, "fail", _summary(err))

    def addError(self, test, err) -> None:
        super().addError(test, err)
        self._note(test, "error", _summary(err))

    def addSkip(self, test, reason: str) -> None:
        super().addSkip(test, reason)
        self._note(test, "skip", reason)


def _summary(err) -> str:
    """The exception's type and first line, and the line of livetest.py that raised it."""
    kind, exc, tb = err
    where = [frame for frame in traceback.extract_tb(tb) if frame.filename.endswith("livetest.py")]
    text = (str(exc).splitlines() or [""])[0][:300]
    line = f" (livetest.py:{where[-1].lineno})" if where else ""
    return f"{kind.__name__}: {text}{line}"


def run_registered(module: str = "livetests", **_ignored) -> None:
    """Stands in for the unittest.main(module="livetests") that ends livetest.main(): runs each
    registered class under the name livetest gives it (TestWithUIDs, TestWithoutUIDs...)."""
    registered = sys.modules[module]
    outcomes: dict[str, dict[str, str]] = {}
    for name, cls in sorted(vars(registered).items()):
        if isinstance(cls, type) and issubclass(cls, unittest.TestCase):
            suite = unittest.defaultTestLoader.loadTestsFromTestCase(cls)
            suite.run(Recorder(name, outcomes))
    print(json.dumps(outcomes))


def main(sdist: str, ini: str) -> None:
    sys.path.insert(0, sdist)
    sys.argv = ["livetest.py", ini]
    import livetest

    unittest.main = run_registered
    livetest.main()


if __name__ == "__main__":
    main(*sys.argv[1:])
