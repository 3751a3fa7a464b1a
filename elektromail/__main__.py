"""`python -m elektromail [options]` and the `elektromail` script: twistd in the foreground,
with our own usage line and version, and no plugin scan (the service is named directly)."""

from __future__ import annotations

import sys

DESCRIPTION = "Development and test mail server (SMTP, IMAP, HTTP)"
# As twistd's run() would be called, plus the two options a foreground server wants: no pid
# file, since a stale one would stop the next start (e.g. a restarted container).
TWISTD_ARGS = ["--nodaemon", "--pidfile="]


def main(argv: list[str] | None = None, prog: str = "elektromail") -> None:
    from twisted.application.service import ServiceMaker
    from twisted.python import usage
    from twisted.scripts.twistd import ServerOptions, runApp

    from elektromail.tap import Options

    class CommandOptions(Options):
        longdesc = (
            f"{DESCRIPTION}. An option wins over its environment variable (in brackets),"
            " which wins over the default."
        )

        def getSynopsis(self) -> str:
            return f"Usage: {prog} [options]"

    class Twistd(ServerOptions):
        # The one service, named here: twistd's own lookup scans every plugin and writes
        # twisted/plugins/dropin.cache, which fails (and says so) where that is read-only.
        subCommands = [("elektromail", None, CommandOptions, DESCRIPTION)]
        loadedPlugins = {
            "elektromail": ServiceMaker(
                "elektromail", "elektromail.tap", DESCRIPTION, "elektromail"
            )
        }

    args = sys.argv[1:] if argv is None else argv
    sys.argv = [prog, *TWISTD_ARGS, "elektromail", *args]
    config = Twistd()
    try:
        config.parseOptions(sys.argv[1:])
    except usage.error as e:
        sys.stderr.write(f"{prog}: {e} (see {prog} --help)\n")
        raise SystemExit(2) from None
    runApp(config)
    from elektromail import workers

    if workers.failed:  # --workers: a worker failed to start (the reason is logged)
        raise SystemExit(1)


if __name__ == "__main__":
    main(prog="python -m elektromail")
