"""The command line as a user meets it: `elektromail --help` and `--version` speak of
elektromail, not of twistd; and stopping is clean however often it is asked for."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
SCRIPT = [str(BIN / "elektromail")]
MODULE = [sys.executable, "-m", "elektromail"]
TWISTD = [str(BIN / "twistd")]
OURS = version("elektromail")


def run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("command", "usage"),
    [
        (SCRIPT, "Usage: elektromail [options]"),
        (MODULE, "Usage: python -m elektromail [options]"),
    ],
    ids=["console-script", "python-m"],
)
def test_help_names_our_command(command, usage):
    result = run([*command, "--help"])
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first == usage
    assert "twistd" not in result.stdout
    assert "--smtp-port=" in result.stdout  # the settings are all there


def test_twistd_keeps_its_own_usage_line():
    result = run([*TWISTD, "elektromail", "--help"])
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: twistd [options] elektromail [options]")


@pytest.mark.parametrize(
    "command",
    [SCRIPT, MODULE, [*TWISTD, "elektromail"]],
    ids=["console-script", "python-m", "twistd"],
)
def test_version_is_ours(command):
    result = run([*command, "--version"])
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"elektromail {OURS}")
    assert "Twisted version" not in result.stdout


def test_an_unknown_option_says_so_with_our_usage():
    result = run([*SCRIPT, "--no-such-option"])
    assert result.returncode != 0
    assert "no-such-option" in result.stdout + result.stderr
    assert "twistd" not in result.stdout + result.stderr


def test_the_console_script_does_not_scan_for_plugins(tmp_path, child_server):
    # Started by our own script, the server has no plugin to look for: no dropin.cache is
    # read or written (as root under systemd it could not be written, and said so each start).
    calls = tmp_path / "calls"
    code = (
        "import twisted.plugin\n"
        "def spy(*a, **k):\n"
        f"    open({str(calls)!r}, 'a').write('scanned\\n')\n"
        "    return iter(())\n"
        "twisted.plugin.getPlugins = spy\n"
        "from elektromail.__main__ import main\n"
        "main()\n"
    )
    server = child_server(
        ["--smtp-port", "0", "--imap-port", "0"], command=[sys.executable, "-c", code]
    )
    server.wait_ready()
    server.stop()
    assert not calls.exists(), server.output.decode()
    # and the spy would have seen twistd's own lookup:
    result = run(
        [
            sys.executable,
            "-c",
            code.replace(
                "from elektromail.__main__ import main\nmain()",
                "import sys; sys.argv = ['twistd', '--help']\n"
                "from twisted.scripts.twistd import run\nrun()",
            ),
        ]
    )
    assert result.returncode == 0 and calls.exists()
