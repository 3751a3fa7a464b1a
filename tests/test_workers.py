"""--workers N: N processes on the same ports, one ready line, SIGTERM stops all, a dead worker
is restarted, and more than one worker without a shared (PostgreSQL) database is refused.

The store is not shared on this branch yet, so the process tests set the test-only
ELEKTROMAIL_TEST_ONLY_UNSHARED_WORKERS=1 (each worker then has its own in-memory store) and
check the plumbing: ports, readiness, signals, restarts. They never look at stored mail."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import ssl
import sys
import time
import urllib.request

import pytest
from twisted.python.failure import Failure

from elektromail import workers
from elektromail.config import TEST_UNSHARED_WORKERS_ENV
from elektromail.workers import Backoff, describe_end, worker_spec
from tests.test_startup import run_to_exit

pytestmark = pytest.mark.skipif(
    not hasattr(socket, "SO_REUSEPORT"), reason="--workers needs SO_REUSEPORT (Linux, BSD)"
)

UNSHARED = {TEST_UNSHARED_WORKERS_ENV: "1"}
PORTS = ["--smtp-port", "0", "--imap-port", "0", "--http-port", "0", "--pop3-port", "0"]
READY_WORKER = re.compile(rb"worker (\d+) of (\d+) ready \(pid (\d+)\)")


def start(child_server, count: int = 2, extra: list[str] | None = None):
    server = child_server(["--workers", str(count), *PORTS, *(extra or [])], env=UNSHARED)
    return server.wait_ready(timeout=60)


def worker_pids(server) -> dict[int, int]:
    """Worker index -> pid of its latest start, from the parent's log lines."""
    pids = {}
    for found in READY_WORKER.finditer(server.output):
        pids[int(found.group(1))] = int(found.group(3))
    return pids


def wait_for_pattern(server, pattern: re.Pattern, timeout: float = 60.0) -> re.Match:
    """The first match of `pattern` in the output; reads more until it comes."""
    deadline = time.monotonic() + timeout
    fd = server.process.stdout.fileno()
    while True:
        found = pattern.search(server.output)
        if found:
            return found
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {pattern.pattern!r}; output:\n{server.output.decode()}")
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 65536)
            assert chunk, f"exited before {pattern.pattern!r}:\n{server.output.decode()}"
            server.output += chunk


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pids, timeout: float = 30.0) -> list[int]:
    """The pids still alive after up to `timeout` seconds (polled with a deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        left = [pid for pid in pids if alive(pid)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def connection_owners(server_port: int, client_ports: set[int], pids) -> dict[int, int]:
    """client port -> pid of the process holding the accepted end, from /proc/net/tcp."""
    inode_of = {}
    with open("/proc/net/tcp") as table:
        for row in table.read().splitlines()[1:]:
            cols = row.split()
            local, remote, inode = cols[1], cols[2], cols[9]
            if int(local.split(":")[1], 16) == server_port:
                client = int(remote.split(":")[1], 16)
                if client in client_ports:
                    inode_of[client] = inode
    owners = {}
    for pid in pids:
        held = socket_inodes(pid)
        for client, inode in inode_of.items():
            if inode in held:
                owners[client] = pid
    return owners


def smtp_greeting(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    assert sock.recv(1000).startswith(b"220 ")  # accepted and answered by a worker
    return sock


def test_one_ready_line_with_every_port_and_the_worker_count(child_server):
    tls = ["--smtps-port", "0", "--imaps-port", "0", "--pop3s-port", "0"]
    server = start(child_server, 2, tls)
    assert server.output.count(b"elektromail ready") == 1
    line = server.wait_for(b"elektromail ready")
    assert line.endswith(b" workers=2")
    assert set(server.ports) == {"smtp", "imap", "http", "pop3", "smtps", "imaps", "pop3s"}
    assert sorted(worker_pids(server)) == [1, 2]
    smtp_greeting(server.ports["smtp"]).close()
    with socket.create_connection(("127.0.0.1", server.ports["imap"]), timeout=10) as imap:
        assert imap.recv(1000).startswith(b"* OK")
    url = f"http://127.0.0.1:{server.ports['http']}/healthz"
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.status == 200
    config = f"http://127.0.0.1:{server.ports['http']}/config"
    with urllib.request.urlopen(config, timeout=10) as answer:
        shown = json.load(answer)
    assert shown["workers"] == 2 and shown["smtp_port"] == server.ports["smtp"]
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", server.ports["imaps"]), timeout=10)
    with context.wrap_socket(raw) as imaps:  # the adopted TLS port speaks TLS
        assert imaps.recv(1000).startswith(b"* OK")


def test_connections_are_spread_over_the_workers(child_server):
    server = start(child_server, 2)
    pids = set(worker_pids(server).values())
    held = [smtp_greeting(server.ports["smtp"]) for _ in range(24)]
    clients = {sock.getsockname()[1] for sock in held}
    owners = connection_owners(server.ports["smtp"], clients, pids)
    assert set(owners) == clients  # every connection is held by a worker, none by the parent
    # SO_REUSEPORT hashes each connection to one of the two sockets: all 24 on one worker
    # happens once in 2**23 runs.
    assert set(owners.values()) == pids
    for sock in held:
        sock.close()


def test_sigterm_stops_every_worker_and_ends_with_its_status(child_server):
    server = start(child_server, 3)
    pids = list(worker_pids(server).values())
    assert len(pids) == 3
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(30) == -signal.SIGTERM
    assert wait_gone(pids, timeout=0) == []  # the parent waited for them: no orphans


def test_sigint_stops_every_worker(child_server):
    server = start(child_server, 2)
    pids = list(worker_pids(server).values())
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(30) == -signal.SIGINT
    assert wait_gone(pids, timeout=0) == []


def test_a_killed_worker_is_logged_and_restarted_on_the_same_port(child_server):
    server = start(child_server, 2)
    old = worker_pids(server)[2]
    os.kill(old, signal.SIGKILL)
    wait_for_pattern(
        server,
        re.compile(
            rb"worker 2 \(pid %d\) was killed by signal 9 \(SIGKILL\); restarting it in 1s" % old
        ),
    )
    wait_for_pattern(server, re.compile(rb"worker 2 of 2 ready \(pid (?!%d\))\d+\)" % old))
    new = worker_pids(server)[2]
    assert new != old and alive(new)
    assert server.output.count(b"elektromail ready") == 1  # no second ready line
    # Both workers serve again: a connection reaches the new one.
    pids = set(worker_pids(server).values())
    held = [smtp_greeting(server.ports["smtp"]) for _ in range(24)]
    owners = connection_owners(server.ports["smtp"], {s.getsockname()[1] for s in held}, pids)
    assert new in owners.values()
    for sock in held:
        sock.close()


def test_workers_stop_when_the_parent_is_killed(child_server):
    server = start(child_server, 2)
    pids = list(worker_pids(server).values())
    server.process.kill()  # SIGKILL: the parent cannot stop them; their stdin pipe closes
    server.process.wait(10)
    assert wait_gone(pids) == []


def test_a_worker_that_fails_to_start_stops_the_server(child_server, tmp_path):
    missing = str(tmp_path / "no-such-dir")
    server = child_server(["--workers", "2", *PORTS, "--preload-dir", missing], env=UNSHARED)
    server.wait_for(b"during start-up; stopping")
    output, _ = server.process.communicate(timeout=30)
    text = (server.output + output).decode()
    assert server.process.returncode == 1, text
    assert "elektromail ready" not in text and "Traceback" not in text


def test_more_than_one_worker_without_postgresql_is_refused_in_one_line():
    result = run_to_exit([sys.executable, "-m", "elektromail", "--workers", "2", *PORTS])
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "--workers=2" in lines[0] and "PostgreSQL" in lines[0]


@pytest.mark.parametrize("value", ["0", "-1", "1000", "x"])
@pytest.mark.parametrize("how", ["option", "env"])
def test_bad_worker_counts_are_refused_in_one_line(value, how):
    args, env = ([f"--workers={value}"], {}) if how == "option" else ([], {})
    if how == "env":
        env = {"ELEKTROMAIL_WORKERS": value}
    result = run_to_exit([sys.executable, "-m", "elektromail", *args, *PORTS], env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "1 to 64" in lines[0] and "Traceback" not in result.stderr


def test_a_port_in_use_is_named_in_one_line():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_to_exit(
            [
                sys.executable,
                "-m",
                "elektromail",
                "--workers",
                "2",
                *PORTS,
                "--imap-port",
                str(port),
            ],
            UNSHARED,
        )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"127.0.0.1:{port}" in lines[0] and "IMAP_PORT/--imap-port" in lines[0]


# --- pure parts --------------------------------------------------------------------------------


def test_backoff_doubles_while_a_worker_keeps_dying_and_settles_after_a_good_run():
    backoff = Backoff(first=1, longest=30, settle=60)
    assert [backoff.delay(ran_for=2) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.delay(ran_for=61) == 1  # it ran long enough: a new count
    assert backoff.delay(ran_for=0) == 2


def test_describe_end_names_the_status_or_the_signal():
    from twisted.internet.error import ProcessDone, ProcessTerminated

    assert describe_end(Failure(ProcessDone(0))) == "exited with status 0"
    assert describe_end(Failure(ProcessTerminated(3))) == "exited with status 3"
    assert describe_end(Failure(ProcessTerminated(signal=9))) == "was killed by signal 9 (SIGKILL)"


def test_no_worker_spec_outside_a_worker():
    assert worker_spec({}) is None
    spec = worker_spec(
        {
            workers.WORKER_ENV: '{"index": 2, "count": 3, "fds": {"smtp": 4}, "preload": false,'
            ' "cli": {"smtp-port": "0"}}'
        }
    )
    assert (spec.index, spec.count, spec.fds, spec.preload) == (2, 3, {"smtp": 4}, False)
    assert spec.cli == {"smtp-port": "0"}


def test_every_listener_of_the_server_has_a_socket_from_the_parent():
    # workers.PORTS must name every listener service.Server opens, with its setting's name.
    import inspect

    from elektromail import service

    source = inspect.getsource(service.Server)
    opened = set(re.findall(r'Listener\("(\w+)"', source))
    assert opened == {name for name, _, _ in workers.PORTS}


def test_one_worker_is_the_single_process_server(child_server):
    server = child_server(["--workers", "1", *PORTS]).wait_ready()  # no PostgreSQL needed
    line = server.wait_for(b"elektromail ready")
    assert b"workers=" not in line and not READY_WORKER.search(server.output)
    smtp_greeting(server.ports["smtp"]).close()
