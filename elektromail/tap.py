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
        if not s.flag and not s.repeatable
    ]

    settings: Settings

    def opt_version(self) -> None:
        """Display elektromail's version and exit."""
        print(version_line())
        sys.exit(0)

    def postOptions(self) -> None:
        from elektromail.workers import worker_spec

        cli = {s.option: (self.get(s.option) or None) for s in SETTINGS}
        spec = worker_spec()
        if spec is not None:  # a worker of --workers: its parent's command line
            cli = spec.cli
        self.cli = cli
        try:
            self.settings = resolve(cli)
        except ConfigError as e:
            fail(str(e))


def _repeated(setting):
    """An `opt_` handler that collects every value given, joined as the env var lists them."""

    def handler(self: Options, value: str) -> None:
        given = self.get(setting.option)
        self[setting.option] = value if given is None else f"{given},{value}"

    handler.__doc__ = setting.help + (f" [{setting.env}]" if setting.env else "")
    return handler


for _setting in SETTINGS:
    if _setting.repeatable:
        setattr(Options, "opt_" + _setting.option.replace("-", "_"), _repeated(_setting))


def version_line() -> str:
    """`elektromail 0.1.0 (Twisted 24.7.0, Python 3.11.2)`: ours first, as installed."""
    from importlib.metadata import PackageNotFoundError, version

    from twisted import __version__ as twisted_version

    try:
        ours = version("elektromail")
    except PackageNotFoundError:  # run from a checkout that was never installed
        ours = "(not installed)"
    python = ".".join(str(part) for part in sys.version_info[:3])
    return f"elektromail {ours} (Twisted {twisted_version}, Python {python})"


def fail(message: str) -> None:
    """One clear line and a non-zero exit, never a traceback or the whole usage text."""
    sys.stderr.write(f"elektromail: {message}\n")
    sys.stderr.flush()
    raise SystemExit(2)


def makeService(options: Options):
    from elektromail import workers
    from elektromail.service import (
        ElektromailService,
        Server,
        StartupError,
        ready_line,
        stop_once_on_signals,
    )
    from elektromail.store.schema import check_database
    from elektromail.tls import TLSError

    settings = options.settings
    spec = workers.worker_spec()
    try:
        if settings.db:
            check_database(settings.db)
        if spec is None and settings.workers > 1:
            sockets = workers.bind_all(settings, settings.workers)
            hooks = workers.ServerHooks(ready_line, stop_once_on_signals)
            return workers.Supervisor(settings, options.cli, sockets, hooks)
        if spec is None:
            server = Server(settings)
        else:
            own = workers.worker_settings(settings, spec)
            server = workers.make_worker_server(Server, own, spec)
        server.listen()
    except (StartupError, TLSError, workers.BindError) as e:
        fail(str(e))
    except ValueError as e:
        fail(f"invalid ELEKTROMAIL_DB/--db={settings.storage_path!r}: {e}")
    return ElektromailService(server)
