"""The pytest plugin: fixtures, marker, ini and command-line settings, xdist, the README example."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent

# A test file for pytester: each test records the port it was given and what it saw.
RECORDING_TESTS = """
import smtplib

def send(server, to, subject):
    with smtplib.SMTP(server.host, server.smtp_port) as client:
        client.sendmail("app@example.com", [to], f"Subject: {subject}\\r\\n\\r\\n".encode())

def test_first(mail_server):
    send(mail_server, "user@example.com", "first")
    assert [m["subject"] for m in mail_server.wait_for_messages(1)] == ["first"]
    print("PORT", mail_server.smtp_port)

def test_second_sees_no_mail_of_the_first(mail_server):
    assert mail_server.messages(mailbox=None) == []
    print("PORT", mail_server.smtp_port)
"""


@pytest.fixture(scope="module", autouse=True)
def server_modules_loaded_before_pytester() -> None:
    """Start and stop a server once, so that every module it needs is imported before pytester
    snapshots sys.modules: an in-process run drops the modules it imported, and importing
    some again (klein registers adapters with Twisted) fails or installs a second reactor."""
    from elektromail.testing import MailServer

    MailServer().start().stop()


def ports_printed(result: pytest.RunResult) -> list[int]:
    return [int(port) for port in re.findall(r"PORT (\d+)", result.stdout.str())]


def test_the_plugin_is_registered_as_a_pytest11_entry_point():
    entry_points = importlib.metadata.entry_points(group="pytest11")
    assert {ep.name: ep.value for ep in entry_points}["elektromail"] == "elektromail.pytest_plugin"


def test_loading_the_plugin_imports_nothing_of_the_server():
    program = (
        "import sys, elektromail.pytest_plugin; "
        "print(sorted(m for m in sys.modules if m.startswith(('twisted', 'elektromail.'))))"
    )
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert out.stdout.strip() == "['elektromail.pytest_plugin']"


def test_mail_server_is_one_server_reset_before_each_test(pytester):
    pytester.makepyfile(RECORDING_TESTS)
    result = pytester.runpytest("-s")
    result.assert_outcomes(passed=2)
    first, second = ports_printed(result)
    assert first == second


def test_marker_gives_a_server_with_those_settings(pytester):
    pytester.makepyfile(
        """
        import imaplib
        import pytest

        @pytest.mark.mail_server(users="alice:secret", smtp_port="off")
        def test_alice_can_log_in(mail_server):
            assert mail_server.smtp_port is None
            imap = imaplib.IMAP4(mail_server.host, mail_server.imap_port)
            imap.login("alice", "secret")
            imap.logout()
            print("PORT", mail_server.imap_port)

        @pytest.mark.mail_server(smtp_port="off", users="alice:secret")
        def test_same_settings_share_the_server(mail_server):
            print("PORT", mail_server.imap_port)

        def test_without_marker_alice_is_unknown(mail_server):
            assert mail_server.smtp_port is not None
            with pytest.raises(imaplib.IMAP4.error):
                imaplib.IMAP4(mail_server.host, mail_server.imap_port).login("alice", "secret")
        """
    )
    result = pytester.runpytest("-s")
    result.assert_outcomes(passed=3)
    first, second = ports_printed(result)
    assert first == second


def test_a_class_marker_applies_to_its_tests_and_the_closest_wins(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.mail_server(users="a:pw", auth_disabled=True)
        class TestGroup:
            def test_class_settings(self, mail_server):
                assert [u.name for u in mail_server.settings.users] == ["a"]
                assert mail_server.settings.auth_disabled

            @pytest.mark.mail_server(users="b:pw")
            def test_method_marker_wins(self, mail_server):
                assert [u.name for u in mail_server.settings.users] == ["b"]
                assert mail_server.settings.auth_disabled
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_ini_settings_and_the_command_line_option(pytester):
    pytester.makeini(
        """
        [pytest]
        mail_server_settings =
            users = carol:pw
            imap-port = off
        """
    )
    pytester.makepyfile(
        """
        def test_settings(mail_server):
            assert [u.name for u in mail_server.settings.users] == ["dave"]
            assert mail_server.imap_port is None

        def test_factory_starts_from_them_too(mail_server_factory):
            server = mail_server_factory(smtp_port="off")
            assert [u.name for u in server.settings.users] == ["dave"]
            assert server.smtp_port is None and server.imap_port is None
        """
    )
    pytester.runpytest("--mail-server-setting", "users=dave:pw").assert_outcomes(passed=2)


def test_a_malformed_setting_line_is_a_usage_error(pytester):
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest("--mail-server-setting", "users")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--mail-server-setting: expected NAME=VALUE, got 'users'*"])


def test_an_unknown_setting_fails_the_tests_that_use_it(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.mail_server(smtp_prot=0)
        def test_typo(mail_server):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*unknown setting 'smtp_prot'*"])


def test_mail_server_factory_servers_stop_after_the_test(pytester):
    pytester.makepyfile(
        """
        import socket
        import pytest

        PORTS = []

        def test_two_servers_of_its_own(mail_server_factory):
            first = mail_server_factory(users="x:pw")
            second = mail_server_factory(users="y:pw")
            assert first.smtp_port != second.smtp_port
            PORTS.extend([first.smtp_port, second.smtp_port])

        def test_they_are_stopped():
            # Binding proves nobody listens (a connect could meet itself on a free port).
            for port in PORTS:
                with socket.socket() as s:
                    # REUSEADDR passes over TIME_WAIT leftovers but not over a listener
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(("127.0.0.1", port))
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


@pytest.mark.skipif(importlib.util.find_spec("xdist") is None, reason="pytest-xdist not installed")
def test_xdist_workers_each_get_their_own_server_and_database(pytester, monkeypatch):
    record = """
        import os

        def test_{name}(mail_server):
            mail_server.inject("user", b"Subject: {name}\\r\\n\\r\\n")
            assert [m["subject"] for m in mail_server.messages()] == ["{name}"]
            with open("ports.txt", "a") as f:
                print(os.environ["PYTEST_XDIST_WORKER"], mail_server.smtp_port, file=f)
        """
    pytester.makepyfile(**{f"test_{n}": record.format(name=n) for n in ("a", "b", "c", "d")})
    # Other installed plugins (hypothesis, ...) would cost seconds in each worker.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    plugins = ["-p", "xdist", "-p", "elektromail.pytest_plugin"]
    db = f"db={pytester.path / 'mail.db'}"
    result = pytester.runpytest_subprocess(
        *plugins, "-n", "2", "--dist", "loadfile", "--mail-server-setting", db
    )
    result.assert_outcomes(passed=4)
    assert sorted(p.name for p in pytester.path.glob("mail*.db")) == ["mail.gw0.db", "mail.gw1.db"]
    pairs = {tuple(line.split()) for line in (pytester.path / "ports.txt").read_text().splitlines()}
    workers = {worker for worker, _ in pairs}
    ports = {port for _, port in pairs}
    assert len(workers) == 2 and len(ports) == 2 and len(pairs) == 2  # a server per worker


@pytest.mark.skipif(importlib.util.find_spec("xdist") is None, reason="pytest-xdist not installed")
def test_xdist_workers_on_postgresql_each_get_a_database_of_their_own(pytester, monkeypatch):
    """A `postgresql://` db: worker gw0 gets `<db>_gw0` (made with CREATE DATABASE when it is
    not there, found again by the next run), as a file gets `mail.gw0.db`."""
    if importlib.util.find_spec("psycopg") is None:
        pytest.skip("psycopg is not installed (pip install 'elektromail[postgresql]')")
    from tests.pgcluster import ClusterUnavailable, ThrowawayCluster

    try:
        cluster = ThrowawayCluster().start()
    except ClusterUnavailable as e:
        pytest.skip(str(e).splitlines()[0])
    try:
        record = """
            import os

            def test_{name}(mail_server):
                mail_server.inject("user", b"Subject: {name}\\r\\n\\r\\n")
                assert [m["subject"] for m in mail_server.messages()] == ["{name}"]
                with open("dbs.txt", "a") as f:
                    print(os.environ["PYTEST_XDIST_WORKER"], mail_server.settings.db, file=f)
            """
        pytester.makepyfile(**{f"test_{n}": record.format(name=n) for n in ("a", "b", "c", "d")})
        monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        plugins = ["-p", "xdist", "-p", "elektromail.pytest_plugin"]
        setting = ["--mail-server-setting", f"db={cluster.url('mail')}"]  # `mail` not there
        for _ in range(2):  # the second run finds the databases the first made
            result = pytester.runpytest_subprocess(
                *plugins, "-n", "2", "--dist", "loadfile", *setting
            )
            result.assert_outcomes(passed=4)
        pairs = {
            tuple(line.split()) for line in (pytester.path / "dbs.txt").read_text().splitlines()
        }
        assert {worker for worker, _ in pairs} == {"gw0", "gw1"}
        assert {db for _, db in pairs} == {cluster.url("mail_gw0"), cluster.url("mail_gw1")}
        assert len(pairs) == 2
        import psycopg

        with psycopg.connect(cluster.url()) as conn:
            names = {n for (n,) in conn.execute("SELECT datname FROM pg_database")}
        assert {"mail_gw0", "mail_gw1"} <= names and "mail" not in names
        for worker in ("gw0", "gw1"):  # each worker's last test left its mail there
            with psycopg.connect(cluster.url(f"mail_{worker}")) as conn:
                assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 1
    finally:
        cluster.stop()


def test_without_xdist_a_postgresql_url_is_used_as_given(monkeypatch):
    from elektromail.pytest_plugin import _per_worker

    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    settings = {"db": "postgresql://u@db.example/mail"}
    assert _per_worker(settings) == settings


# --- the README example, in a fresh virtual environment -----------------------------------------


def readme_example() -> str:
    """The README's pytest example (the python block with a test using `mail_server`), or
    docs/pytest-example.py until the README has it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for block in re.findall(r"```python\n(.*?)```", readme, re.DOTALL):
        if "def test_" in block and "mail_server" in block:
            return block
    return (ROOT / "docs" / "pytest-example.py").read_text(encoding="utf-8")


def test_the_readme_example_is_a_test_under_ten_lines():
    example = readme_example()
    assert len(example.strip().splitlines()) <= 10
    assert "smtplib" in example and "mail_server.wait_for_messages(1)" in example


@pytest.mark.slow
def test_the_readme_example_passes_in_a_fresh_virtual_environment(tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.pop("PYTEST_ADDOPTS", None)
    # As the README says: pip install of this checkout, and pytest.
    subprocess.run(
        [python, "-m", "pip", "install", "-q", str(ROOT), "pytest"],
        check=True,
        timeout=300,
        env=env,
        capture_output=True,
    )
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_mail.py").write_text(readme_example(), encoding="utf-8")
    result = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
