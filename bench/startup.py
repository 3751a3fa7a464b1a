"""Start-up time: from process start until every port accepts connections.

Two ways to start a server, each in a fresh interpreter, 10 runs each, median printed:

- `twistd -n --pidfile= elektromail` (what the Docker image and the systemd unit run);
- `MailServer().start()` in a Python program (what the pytest plugin runs), and, inside one
  process, the cost of each further `MailServer` once the first has started.

The clock starts just before the process is spawned and stops when a TCP connection to each of
the server's ports (SMTP, IMAP and, when built, HTTP) succeeds; the ports are chosen free
beforehand so the bench knows where to knock. Knocking is a connect attempt every millisecond
until a deadline: that is what a client waiting for a container does.

    python bench/startup.py            # 10 runs each
    python bench/startup.py --runs 3 --json
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

HOST = "127.0.0.1"
TARGET_MS = 500.0
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# Started in a fresh interpreter: import, start, then keep running until stdin closes.
MAILSERVER_PROGRAM = textwrap.dedent(
    """
    import sys
    from elektromail.testing import MailServer
    ports = [int(p) for p in sys.argv[1:]]
    settings = dict(smtp_port=ports[0], imap_port=ports[1])
    if len(ports) > 2:
        settings["http_port"] = ports[2]
    MailServer(**settings).start()
    sys.stdin.read()
    """
)

# One process: how long each further MailServer takes once the reactor thread runs.
WARM_PROGRAM = textwrap.dedent(
    """
    import json, sys, time
    from elektromail.testing import MailServer
    MailServer().start().stop()
    times = []
    for _ in range(int(sys.argv[1])):
        started = time.perf_counter()
        server = MailServer().start()
        times.append((time.perf_counter() - started) * 1000)
        server.stop()
    print(json.dumps(times))
    """
)


def http_built() -> bool:
    """Whether this checkout has the HTTP control API (then its port is waited for too)."""
    return (ROOT / "elektromail" / "http" / "__init__.py").exists()


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def wait_for_ports(ports: list[int], process: subprocess.Popen, deadline: float) -> None:
    waiting = list(ports)
    while waiting:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before listening")
        if time.perf_counter() > deadline:
            raise TimeoutError(f"ports {waiting} still closed")
        try:
            socket.create_connection((HOST, waiting[0]), timeout=1).close()
            waiting.pop(0)
        except OSError:
            time.sleep(0.001)


def clean_env() -> dict[str, str]:
    """The environment without elektromail's own variables, so the given ports are used, and
    with bytecode caching on, as in any installation (pip writes .pyc files; a shell with
    PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module at every start)."""
    ours = {"SMTP_PORT", "IMAP_PORT", "HTTP_PORT", "BIND_ADDR", "PYTHONDONTWRITEBYTECODE"}
    return {k: v for k, v in os.environ.items() if k not in ours and not k.startswith("ELEKTRO")}


def cpu_ms(pid: int) -> float | None:
    """CPU time (user + system, all threads) the process has used so far; Linux only."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def time_process(argv_for_ports, with_http: bool) -> tuple[float, float | None]:
    """(milliseconds from spawning argv_for_ports(ports) until all its ports accept, the CPU
    milliseconds it used until then): on a busy machine the second shows what the first hides."""
    ports = free_ports(3 if with_http else 2)
    argv = argv_for_ports(ports)
    started = time.perf_counter()
    process = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=clean_env(),
        cwd=ROOT,
    )
    try:
        wait_for_ports(ports, process, started + 30)
        return (time.perf_counter() - started) * 1000, cpu_ms(process.pid)
    finally:
        process.terminate()
        process.stdin.close()
        process.wait(10)


def twistd_argv(ports: list[int]) -> list[str]:
    argv = [str(BIN / "twistd"), "--nodaemon", "--pidfile=", "elektromail"]
    argv += ["--smtp-port", str(ports[0]), "--imap-port", str(ports[1])]
    if len(ports) > 2:
        argv += ["--http-port", str(ports[2])]
    return argv


def mailserver_argv(ports: list[int]) -> list[str]:
    return [sys.executable, "-c", MAILSERVER_PROGRAM, *map(str, ports)]


def warm_starts(runs: int) -> list[float]:
    out = subprocess.run(
        [sys.executable, "-c", WARM_PROGRAM, str(runs)],
        capture_output=True,
        text=True,
        check=True,
        env=clean_env(),
        cwd=ROOT,
        timeout=120,
    )
    return json.loads(out.stdout)


def interpreter_ms(runs: int) -> list[float]:
    """A bare `python -c pass`, the floor under both cold starts."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs per row (10)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    with_http = http_built()
    # One start of each kind first, not counted: it writes the bytecode caches.
    time_process(twistd_argv, with_http)
    time_process(mailserver_argv, with_http)
    rows: dict[str, list[float]] = {"python -c pass": interpreter_ms(args.runs)}
    cpu: dict[str, list[float]] = {}
    for label, argv_for_ports in (
        ("twistd -n elektromail", twistd_argv),
        ("MailServer (new process)", mailserver_argv),
    ):
        runs = [time_process(argv_for_ports, with_http) for _ in range(args.runs)]
        rows[label] = [wall for wall, _ in runs]
        cpu[label] = [used for _, used in runs if used is not None]
    rows["MailServer (one more, in process)"] = warm_starts(args.runs)
    medians = {label: statistics.median(times) for label, times in rows.items()}
    cpu_medians = {label: statistics.median(times) for label, times in cpu.items() if times}
    if args.json:
        print(
            json.dumps(
                {
                    "runs": args.runs,
                    "http": with_http,
                    "median_ms": medians,
                    "median_cpu_ms": cpu_medians,
                }
            )
        )
    else:
        ports = "SMTP, IMAP and HTTP" if with_http else "SMTP and IMAP"
        print(f"start-up until {ports} accept connections, median of {args.runs} runs")
        for label, median in medians.items():
            spread = f"{min(rows[label]):.0f}-{max(rows[label]):.0f}"
            used = f"  CPU {cpu_medians[label]:4.0f} ms" if label in cpu_medians else ""
            print(f"  {label:36} {median:7.1f} ms  (range {spread:>9} ms){used}")
        print(f"  target for a cold start: under {TARGET_MS:.0f} ms")
    cold = ("twistd -n elektromail", "MailServer (new process)")
    return 0 if all(medians[label] < TARGET_MS for label in cold) else 1


if __name__ == "__main__":
    sys.exit(main())
