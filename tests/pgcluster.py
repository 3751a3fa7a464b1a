"""A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` in a temporary directory,
a server that listens on a Unix socket in that directory only (no TCP port to collide with
another run), and everything removed at the end.

PostgreSQL refuses to run as root; under root the cluster belongs to the unprivileged user
`nobody`. `pg_ctl start -w` returns once the server accepts connections, so nothing here
sleeps. Debian's `postgresql` package puts the programs in /usr/lib/postgresql/<major>/bin,
outside PATH; `find_bin_dir` looks there too. Durability is off (fsync, full-page writes):
a test's cluster never outlives a crash.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from urllib.parse import quote

DATABASE = "elektromail"
ROLE = "elektromail"
UNPRIVILEGED = "nobody"


class ClusterUnavailable(Exception):
    """No PostgreSQL here (or it cannot start): the text says why, for a test's skip."""


def find_bin_dir() -> str | None:
    """The directory of initdb/pg_ctl: on PATH, else Debian's newest major version."""
    on_path = shutil.which("initdb")  # maybe a link to Debian's, which has createdb beside it
    if on_path and os.path.exists(
        os.path.join(os.path.dirname(os.path.realpath(on_path)), "createdb")
    ):
        return os.path.dirname(os.path.realpath(on_path))
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(p.split("/")[-3]) if p.split("/")[-3].isdigit() else 0,
    )
    return os.path.dirname(found[-1]) if found else None


class ThrowawayCluster:
    """`start()` makes and starts the cluster (ClusterUnavailable when it cannot), `url` is
    a `postgresql://` URL for it, `new_database()` makes another empty database, `stop()`
    removes it all; `stop_server()` and `start_server()` take the server away and back,
    keeping the data."""

    def __init__(self) -> None:
        self.bin_dir = find_bin_dir()
        self.root: str | None = None
        self.running = False
        self._user: dict[str, int] = {}
        self._made = 0

    @property
    def data_dir(self) -> str:
        assert self.root is not None
        return os.path.join(self.root, "data")

    @property
    def socket_dir(self) -> str:
        assert self.root is not None
        return self.root

    def url(self, database: str = DATABASE) -> str:
        """libpq takes a socket directory as `host`; the path goes in the query."""
        return f"postgresql://{ROLE}@/{database}?host={quote(self.socket_dir, safe='')}"

    def start(self) -> ThrowawayCluster:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> ThrowawayCluster:
        if self.bin_dir is None:
            raise ClusterUnavailable(
                "PostgreSQL is not installed (Debian: apt-get install postgresql)"
            )
        self.root = tempfile.mkdtemp(prefix="elektromail-pg-")
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam(UNPRIVILEGED)
            except KeyError:
                raise ClusterUnavailable(
                    f"running as root and there is no user {UNPRIVILEGED}"
                ) from None
            self._user = {"user": entry.pw_uid, "group": entry.pw_gid}
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb", "-D", self.data_dir, "-U", ROLE, "--auth=trust", "-E", "UTF8",
            "--locale=C", "--no-sync",
        )  # fmt: skip
        self.start_server()
        self._run("createdb", "-h", self.socket_dir, "-U", ROLE, DATABASE)
        return self

    def start_server(self) -> None:
        """Start the cluster's server (again, after `stop_server`: same data, same URL);
        returns once it accepts connections."""
        assert self.root is not None and not self.running
        options = (
            f"-k {self.socket_dir} -c listen_addresses='' -c fsync=off"
            " -c full_page_writes=off -c synchronous_commit=off -c max_connections=200"
        )
        log = os.path.join(self.root, "server.log")
        self._run("pg_ctl", "-D", self.data_dir, "-o", options, "-l", log, "-w", "start")
        self.running = True

    def stop_server(self, mode: str = "fast") -> None:
        """Stop the server and keep the cluster (a database going away: `fast` ends every
        session with FATAL, `immediate` as a crash does); `start_server` brings it back."""
        assert self.running
        self._run("pg_ctl", "-D", self.data_dir, "-m", mode, "-w", "stop")
        self.running = False

    def new_database(self) -> str:
        """The URL of a new empty database of this cluster."""
        self._made += 1
        name = f"{DATABASE}_{self._made}"
        self._run("createdb", "-h", self.socket_dir, "-U", ROLE, name)
        return self.url(name)

    def stop(self) -> None:
        try:
            if self.running:
                self._run("pg_ctl", "-D", self.data_dir, "-m", "immediate", "-w", "stop")
        finally:
            self.running = False
            if self.root is not None:
                shutil.rmtree(self.root, ignore_errors=True)
                self.root = None

    def _run(self, program: str, *args: str) -> None:
        assert self.bin_dir is not None
        try:
            subprocess.run(
                [os.path.join(self.bin_dir, program), *args],
                check=True,
                capture_output=True,
                cwd=self.root,
                **self._user,
            )
        except OSError as e:
            raise ClusterUnavailable(f"{program} could not run: {e}") from None
        except subprocess.CalledProcessError as e:
            detail = (e.stderr or e.stdout or b"").decode("utf-8", "replace").strip()
            log = os.path.join(self.root or "", "server.log")
            if os.path.exists(log):
                with open(log, encoding="utf-8", errors="replace") as f:
                    detail += "\n" + f.read()[-2000:]
            raise ClusterUnavailable(f"{program} failed: {detail}") from None


def own_cluster() -> Iterator[ThrowawayCluster]:
    """The body of a test module's `cluster` fixture: a cluster of its own (one it may stop
    and start, or race connections on), removed at the end; the module's tests skip, saying
    why, without psycopg or PostgreSQL."""
    import pytest

    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install 'elektromail[postgresql]')")
    try:
        started = ThrowawayCluster().start()
    except ClusterUnavailable as e:
        pytest.skip(str(e).splitlines()[0])
    yield started
    started.stop()
