"""twistd entry: `twistd -n elektromail [options]`; options come from config.SETTINGS."""

from __future__ import annotations

import sys

from twisted.python import usage

from elektromail.config import SETTINGS, ConfigError, Settings, resolve


class Options(usage.Options):
    """Every setting as `--kebab-name`; the value wins over its env var, which wins over the
    default. Values are validated by config.resolve, not by usage coerce functions."""

    optFlags = [[s.option, None, s.help] for s in SETTINGS if s.flag]
    optParameters = [
        [s.option, None, None, s.help + (f" [{s.env}]" if s.env else "")]
        for s in SETTINGS
        if not s.flag
    ]

    settings: Settings

    def postOptions(self) -> None:
        cli = {s.option: (self[s.option] or None) for s in SETTINGS}
        try:
            self.settings = resolve(cli)
        except ConfigError as e:
            fail(str(e))


def fail(message: str) -> None:
    """One clear line and a non-zero exit, never a traceback or the whole usage text."""
    sys.stderr.write(f"elektromail: {message}\n")
    sys.stderr.flush()
    raise SystemExit(2)


def makeService(options: Options):
    from elektromail.service import ElektromailService, Server, StartupError
    from elektromail.store.schema import check_database
    from elektromail.tls import TLSError

    settings = options.settings
    try:
        if settings.db:
            check_database(settings.db)
        server = Server(settings)
        server.listen()
    except (StartupError, TLSError) as e:
        fail(str(e))
    except ValueError as e:
        fail(f"invalid ELEKTROMAIL_DB/--db={settings.db!r}: {e}")
    return ElektromailService(server)
