"""Shared fixtures: an in-process elektromail on free ports, and a child-process one."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from elektromail.config import SETTINGS
from elektromail.testing import MailServer
from tests import pgstore
from tests.pgcluster import ClusterUnavailable, ThrowawayCluster

# POP3 listens on 1110 by default: servers started by tests (child processes inherit this)
# take a free port instead, so parallel tests never collide on it.
os.environ.setdefault("POP3_PORT", "0")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store-db",
        choices=pgstore.CHOICES,
        default=None,
        help="the engine of the stores tests make: sqlite (in memory, the default) or"
        " postgresql (a throwaway cluster); also ELEKTROMAIL_TEST_STORE",
    )


def _store_engine(config: pytest.Config) -> str:
    engine = config.getoption("--store-db") or os.environ.get("ELEKTROMAIL_TEST_STORE", "sqlite")
    if engine not in pgstore.CHOICES:
        raise pytest.UsageError(f"ELEKTROMAIL_TEST_STORE={engine!r}: expected sqlite or postgresql")
    return engine


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sqlite_only: needs SQLite itself (its PRAGMAs, files, memory); not run on"
        " --store-db=postgresql",
    )
    config._elektromail_pg = None  # type: ignore[attr-defined]
    config._elektromail_pg_skip = None  # type: ignore[attr-defined]
    if _store_engine(config) != "postgresql":
        return
    try:
        import psycopg  # noqa: F401

        cluster = ThrowawayCluster().start()
    except ImportError:
        reason = "psycopg is not installed (pip install 'elektromail[postgresql]')"
        config._elektromail_pg_skip = reason  # type: ignore[attr-defined]
        return
    except ClusterUnavailable as e:
        config._elektromail_pg_skip = str(e).splitlines()[0]  # type: ignore[attr-defined]
        return
    pool = pgstore.DatabasePool(cluster)
    pgstore.install(pool)
    config._elektromail_pg = (cluster, pool)  # type: ignore[attr-defined]


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    # Before xdist's own: a worker that has reported its end may be interrupted by the
    # controller, and a cluster half removed stays behind in /tmp.
    _stop_cluster(session.config)


def pytest_unconfigure(config: pytest.Config) -> None:
    _stop_cluster(config)


def _stop_cluster(config: pytest.Config) -> None:
    running = getattr(config, "_elektromail_pg", None)
    config._elektromail_pg = None  # type: ignore[attr-defined]
    if running is not None:
        cluster, pool = running
        pool.close()
        cluster.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _store_engine(config) != "postgresql":
        return
    skip_all = getattr(config, "_elektromail_pg_skip", None)
    for item in items:
        if skip_all:
            item.add_marker(pytest.mark.skip(reason=f"--store-db=postgresql: {skip_all}"))
        elif item.get_closest_marker("sqlite_only"):
            item.add_marker(pytest.mark.skip(reason="SQLite only (--store-db=postgresql)"))


@pytest.fixture
def mail() -> Iterator[MailServer]:
    """A fresh server with the default user `user`/`pass` plus alice and bob."""
    with MailServer(users="user:pass,alice:alice@example.org:wonder,bob:builder") as server:
        yield server


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class ChildServer:
    """`python -m elektromail` (or another command) in a child process, ready when it logs
    the ready line; ports are read from that line."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        # The caller's own settings must not leak into the server under test.
        ours = {s.env for s in SETTINGS if s.env}
        full_env = {k: v for k, v in os.environ.items() if k not in ours}
        full_env["POP3_PORT"] = "0"  # not POP3's fixed 1110: parallel tests would collide
        full_env.update(env or {})
        self.process = subprocess.Popen(
            argv,
            # A shell without job control starts background jobs (`pytest &`) with SIGINT
            # ignored, and children inherit that: twistd then installs no SIGINT handler. The
            # server under test gets the disposition a terminal's user gives it.
            preexec_fn=_default_sigint,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=full_env,
        )
        self.output = b""
        self.ports: dict[str, int] = {}

    def wait_ready(self, timeout: float = 20.0) -> ChildServer:
        line = self.wait_for(b"elektromail ready", timeout)
        for word in line.split(b"elektromail ready", 1)[1].split():
            name, _, addr = word.decode().partition("=")
            if addr != "off" and ":" in addr:  # not `workers=2` (--workers)
                self.ports[name] = int(addr.rsplit(":", 1)[1])
        return self

    def wait_for(self, marker: bytes, timeout: float = 20.0) -> bytes:
        """The first output line holding `marker`; fails when the process ends first."""
        deadline = time.monotonic() + timeout
        fd = self.process.stdout.fileno()
        while True:
            for line in self.output.splitlines():
                if marker in line:
                    return line
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {marker!r} in time; output:\n{self.output.decode()}")
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    self.process.wait(5)
                    raise AssertionError(
                        f"exited {self.process.returncode} before {marker!r}:\n"
                        + self.output.decode()
                    )
                self.output += chunk

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process.stdout.close()


@pytest.fixture
def child_server():
    """Start child servers with `child_server([...args], env={...})`; all stopped at the end."""
    started: list[ChildServer] = []

    def start(args: list[str], env: dict[str, str] | None = None, command=None) -> ChildServer:
        argv = command or [sys.executable, "-m", "elektromail"]
        child = ChildServer([*argv, *args], env)
        started.append(child)
        return child

    yield start
    for child in started:
        child.stop()
