"""`python -m elektromail [options]` and the `elektromail` script: twistd in the foreground."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    from twisted.scripts.twistd import run

    args = sys.argv[1:] if argv is None else argv
    # No pid file: a stale one would stop the next start (e.g. a restarted container).
    sys.argv = ["elektromail", "--nodaemon", "--pidfile=", "elektromail", *args]
    run()


if __name__ == "__main__":
    main()
