"""contrib/elektromail.service: a systemd unit that systemd accepts, hardened, whose command line
starts a working server."""

from __future__ import annotations

import re
import shlex
import shutil
import smtplib
import subprocess
import sys
from pathlib import Path

import pytest

from elektromail.tap import Options
from tests.conftest import ChildServer

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "contrib" / "elektromail.service"
SCRIPT = Path(sys.executable).parent / "elektromail"  # the console script of this environment


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """{section: {key: [values in order]}}; `\\` continues a line, `#` and `;` start comments."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped[0] in "#;"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        stripped, pending = pending + stripped, ""
        if stripped.startswith("[") and stripped.endswith("]"):
            current = sections.setdefault(stripped[1:-1], {})
            continue
        assert current is not None, f"a setting before any section: {stripped!r}"
        key, equals, value = stripped.partition("=")
        assert equals, f"not KEY=VALUE: {stripped!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


SERVICE = parse_unit(UNIT.read_text(encoding="utf-8"))["Service"]


def exec_start() -> list[str]:
    [line] = SERVICE["ExecStart"]
    return shlex.split(line)


def test_runs_the_console_script_in_the_foreground():
    """The `elektromail` script, not twistd: it runs in the foreground without a pid file and
    names its service, so it scans no plugins (tests/test_cli.py) and writes no dropin.cache,
    which under ProtectSystem=strict logged "Unable to write to plugin cache" at each start."""
    argv = exec_start()
    assert argv[0] == "/opt/elektromail/bin/elektromail"
    assert not any("twistd" in arg or arg.startswith("--pidfile") for arg in argv)
    assert SERVICE["Type"] == ["simple"]


def test_the_comment_names_the_readme_section_that_exists():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = re.findall(r'see README, "([^"]+)"', UNIT.read_text(encoding="utf-8"))
    assert named == ["systemd"]
    assert f"\n## {named[0]}\n" in readme


def test_its_tap_options_are_valid_and_the_database_is_in_the_state_directory(tmp_path):
    options = Options()
    args = [arg.replace("%S", str(tmp_path)) for arg in exec_start()[1:]]
    (tmp_path / "elektromail").mkdir()
    options.parseOptions(args)
    assert options.settings.db == str(tmp_path / "elektromail" / "mail.db")
    assert SERVICE["StateDirectory"] == ["elektromail"]


def test_runs_as_a_user_of_its_own_never_root():
    assert SERVICE["User"] == ["elektromail"] and SERVICE["DynamicUser"] == ["yes"]
    assert SERVICE["CapabilityBoundingSet"] == [""]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectControlGroups", "yes"),
        ("RestrictSUIDSGID", "yes"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("SystemCallFilter", "@system-service"),
    ],
)
def test_hardening(key, value):
    assert value in SERVICE.get(key, [])


def test_the_command_line_starts_a_server_that_keeps_mail_in_the_state_directory(tmp_path):
    argv = [str(SCRIPT), *exec_start()[1:]]
    argv = [arg.replace("%S", str(tmp_path)) for arg in argv]
    for option in ("--smtp-port", "--imap-port", "--http-port"):  # free ports, not the unit's
        argv[argv.index(option) + 1] = "0"
    (tmp_path / "elektromail").mkdir()
    server = ChildServer(argv).wait_ready()
    try:
        with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as client:
            client.sendmail("a@example.com", ["user@example.com"], b"Subject: x\r\n\r\nhi\r\n")
    finally:
        server.stop()
    assert (tmp_path / "elektromail" / "mail.db").stat().st_size > 0
    assert b"plugin cache" not in server.output and b"dropin" not in server.output


def unit_for_this_machine(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this environment's script (systemd checks that the
    program exists)."""
    text = UNIT.read_text(encoding="utf-8").replace(exec_start()[0], str(SCRIPT))
    path = tmp_path / "elektromail.service"
    path.write_text(text, encoding="utf-8")
    return path


needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze not installed (Debian package systemd)",
)


@needs_systemd_analyze
def test_systemd_analyze_verify_finds_nothing(tmp_path):
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit_for_this_machine(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # verify exits 0 on unknown keys and bad values, but names them: any output is a finding.
    assert result.returncode == 0 and result.stdout + result.stderr == ""


@needs_systemd_analyze
def test_systemd_rates_its_exposure_ok(tmp_path):
    result = subprocess.run(
        [
            "systemd-analyze",
            "security",
            "--offline=yes",
            "--threshold=20",  # "OK" and better: an exposure level of 2.0 of 10 at most
            str(unit_for_this_machine(tmp_path)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout[-2000:]
