"""Dovecot's imaptest, an outside instrument: every scripted test it has runs against the server.

Every base-protocol script must pass, and every extension script whose capabilities the server
advertises; the others run no command (imaptest checks the capabilities itself). The binary is
$IMAPTEST, else the one `../shared/tools/imaptest/build.sh` builds, which this test runs once
(`.ci/run` installs its Debian packages); without either the test skips and says why.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from elektromail.testing import MailServer

TOOL = Path(__file__).resolve().parents[2].parent / "shared" / "tools" / "imaptest"
BUILD_PACKAGES = "dovecot-dev build-essential autoconf automake libtool pkg-config"


def _binary() -> Path:
    given = os.environ.get("IMAPTEST")
    if given:
        if not os.access(given, os.X_OK):
            pytest.fail(f"IMAPTEST={given} is not an executable")
        return Path(given)
    built = Path("/tmp/imaptest-build/imaptest/src/imaptest")
    if built.exists():
        return built
    if not (TOOL / "build.sh").exists():
        pytest.skip(f"imaptest's sources are not at {TOOL}")
    if shutil.which("autoreconf") is None or not Path("/usr/include/dovecot").exists():
        pytest.skip(f"building imaptest needs the Debian packages {BUILD_PACKAGES}")
    result = subprocess.run(
        [str(TOOL / "build.sh")], capture_output=True, text=True, timeout=900, check=False
    )
    if result.returncode != 0:
        pytest.skip(f"imaptest did not build: {result.stderr.strip()[-300:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def _scripts(directory: Path) -> list[Path]:
    return sorted(path for path in directory.iterdir() if path.is_file() and path.suffix != ".mbox")


def _is_extension(script: Path) -> bool:
    """A script whose header (the lines before the first empty one) names capabilities."""
    for line in script.read_text(errors="replace").splitlines():
        if not line.strip():
            return False
        if line.split(":")[0].strip().lower() == "capabilities":
            return True
    return False


@pytest.fixture(scope="module")
def imaptest() -> Path:
    return _binary()


@pytest.fixture(scope="module")
def server():
    # imaptest logs user2 in with the same password as user
    with MailServer(users="user:pass,user2:pass") as mail:
        yield mail


def run_script(binary: Path, mail: MailServer, script: Path) -> tuple[str, dict[str, str]]:
    env = {**os.environ, "LD_LIBRARY_PATH": "/usr/lib/dovecot"}
    args = [
        str(binary),
        f"host={mail.host}",
        f"port={mail.imap_port}",
        "user=user",
        "pass=pass",
        "user2=user2",
        f"test={script}",
    ]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    log = result.stdout + result.stderr
    counts = {}
    for label, key in (("base protocol", "base"), ("extensions", "ext")):
        found = re.search(rf"^{label}: (\d+)/(\d+) individual commands failed", log, re.M)
        counts[key] = f"{found.group(1)}/{found.group(2)}" if found else "?"
    groups = re.search(r"^1 test groups: (\d+) failed", log, re.M)
    counts["groups"] = groups.group(1) if groups else "?"
    return log, counts


def test_every_imaptest_script_passes(imaptest, server):
    """All 31 base-protocol scripts pass; each extension script either passes or runs nothing
    because we do not advertise what it needs (then it must be one we do not claim)."""
    failures, summary = [], []
    for script in _scripts(imaptest.parent / "tests"):
        log, counts = run_script(imaptest, server, script)
        ran = counts["base"] != "0/0" or counts["ext"] != "0/0"
        passed = (
            counts["base"].startswith("0/")
            and counts["ext"].startswith("0/")
            and counts["groups"] == "0"
        )
        kind = "ext" if _is_extension(script) else "base"
        verdict = ("PASS" if passed else "FAIL") if ran else "NOTRUN"
        summary.append(f"{script.name:32} {kind:4} {verdict:6} {counts['base']:7} {counts['ext']}")
        if verdict == "FAIL" or (kind == "base" and verdict != "PASS"):
            failures.append(f"--- {script.name}\n" + _first_failure(log))
    print("\n".join(summary))
    assert not failures, "\n".join(failures)


def _first_failure(log: str) -> str:
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(("*** Test", "Error:")):
            return "\n".join(lines[i : i + 8])
    return "\n".join(lines[-15:])
