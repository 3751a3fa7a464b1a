"""Run a full-screen mail client (mutt, neomutt) on a pseudo-terminal until it exits."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from pathlib import Path


def run_on_terminal(argv: list[str], home: Path, timeout: float = 60) -> bytes:
    """Run `argv` with a pseudo-terminal as its stdin, stdout and stderr, and HOME `home`;
    return what it drew. Killed after `timeout` seconds (a client waiting for a key)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        argv,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={"HOME": str(home), "TERM": "vt100", "PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
        close_fds=True,
    )
    os.close(terminal)
    screen = b""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.5)
        if ready:
            try:
                screen += os.read(controller, 65536)
            except OSError:
                break
    if process.poll() is None:
        process.kill()
    process.wait(10)
    os.close(controller)
    return screen


def tail(screen: bytes) -> str:
    """The end of what a client drew, for an assertion message."""
    return screen.decode(errors="replace")[-2000:]
