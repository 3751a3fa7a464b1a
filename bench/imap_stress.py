"""Dovecot's imaptest in stress mode against one server: commands per second from its totals.

See ../shared/tools/imaptest/README.md. imaptest works in one mailbox (`box=`), APPENDing from
an mbox, and at the end prints "Totals:" with a column per command kind; the commands per
second are their sum over the run's seconds.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from imap_targets import Target

IMAPTEST = Path("/tmp/imaptest-build/imaptest/src/imaptest")
PROFILES = {"persistent sessions (logout=0)": ["logout=0"], "default profile": []}
ANSI = re.compile(rb"\x1b\[[0-9;]*m")


@dataclass
class Stress:
    commands_per_second: float
    totals: dict[str, int]
    errors: int
    first_errors: list[str] = field(default_factory=list)
    server_cpu: float | None = None
    machine_busy: float | None = None  # share of all cores busy meanwhile, everyone's


def run_imaptest(
    binary: Path,
    target: Target,
    mailbox: str,
    mbox: Path,
    options: list[str],
    clients: int,
    seconds: int,
) -> Stress:
    command = [
        str(binary),
        f"host={target.host}",
        f"port={target.port}",
        f"user={target.user}",
        f"pass={target.password}",
        f"box={mailbox}",
        f"mbox={mbox}",
        f"clients={clients}",
        f"secs={seconds}",
        "seed=123",
        *options,
    ]
    env = dict(os.environ, LD_LIBRARY_PATH="/usr/lib/dovecot")
    done = subprocess.run(
        command, env=env, capture_output=True, timeout=seconds + 300, check=False, stdin=None
    )
    return parse(done.stdout + done.stderr, seconds, done.returncode)


def parse(output: bytes, seconds: int, returncode: int = 0) -> Stress:
    text = ANSI.sub(b"", output).decode(errors="replace")
    errors = [line for line in text.splitlines() if "Error:" in line or "Panic:" in line]
    if "Totals:" not in text:
        raise RuntimeError(f"imaptest printed no totals (exit {returncode}):\n{text[-2000:]}")
    lines = [line for line in text.split("Totals:", 1)[1].splitlines() if line.strip()]
    names = lines[0].split()
    rows = [line.split() for line in lines[1:]]
    counts = next(
        [int(v) for v in row]
        for row in rows
        if len(row) == len(names) and all(map(str.isdigit, row))
    )
    totals = dict(zip(names, counts, strict=True))
    return Stress(sum(counts) / seconds, totals, len(errors), errors[:3])
