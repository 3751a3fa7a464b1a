"""pytest plugin (entry point `pytest11`): the `mail_server` and `mail_server_factory` fixtures.

    def test_signup_sends_mail(mail_server):
        my_app.signup("bob@example.com", smtp_port=mail_server.smtp_port)
        [message] = mail_server.wait_for_messages(1)

Settings, lowest to highest priority: `MailServer`'s defaults (free ports on 127.0.0.1),
the ini option `mail_server_settings` (lines of `name=value`), the command-line option
`--mail-server-setting name=value`, and a test's `@pytest.mark.mail_server(name=value, ...)`.
Names are those of the command line (`users`, `auth-disabled`, `db`, `preload-dir`,
`dsn-rules`, ...). Under pytest-xdist each worker has servers of its own, on ports of their own;
a `db` file gets the worker's name (`mail.db` -> `mail.gw0.db`) so that workers do not share one.

Pointed at a running server (`--mail-server-url URL`, or ELEKTROMAIL_URL; its token with
`--mail-server-token` or ELEKTROMAIL_HTTP_TOKEN), `mail_server` is instead a fresh namespace
of that server for each test (an `elektromail.remote.RemoteMailServer`, dropped after the test),
so parallel jobs and xdist workers share one server without seeing each other's mail. Settings
cannot be changed there: a test marked with `mail_server(...)` settings is skipped.
pytest loads this module in every run of every project that has
elektromail installed, so it imports nothing of elektromail until a fixture is used.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from elektromail.remote import RemoteMailServer
    from elektromail.testing import MailServer

INI_NAME = "mail_server_settings"
MARKER = "mail_server"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("elektromail", "elektromail mail server fixtures")
    group.addoption(
        "--mail-server-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting of the mail_server fixtures' servers, e.g. users=alice:secret "
        "(repeatable; wins over the ini option)",
    )
    parser.addini(
        INI_NAME,
        type="linelist",
        default=[],
        help="settings of the mail_server fixtures' servers, one NAME=VALUE a line",
    )
    group.addoption(
        "--mail-server-url",
        default=None,
        metavar="URL",
        help="the HTTP API of a running elektromail: mail_server is then a namespace of its "
        "own on it for each test (default: ELEKTROMAIL_URL; unset: a server in this process)",
    )
    group.addoption(
        "--mail-server-token",
        default=None,
        metavar="TOKEN",
        help="that server's bearer token (default: ELEKTROMAIL_HTTP_TOKEN)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**settings): the mail_server fixture of this test is a server with these "
        "settings (e.g. users='alice:secret', auth_disabled=True), shared by the tests that "
        "ask for the same ones and reset before each",
    )
    try:
        _configured_settings(config)
    except ValueError as e:
        raise pytest.UsageError(str(e)) from None


def _parse_pairs(lines: list[str], source: str) -> dict[str, str]:
    settings: dict[str, str] = {}
    for line in lines:
        name, equals, value = line.partition("=")
        if not equals or not name.strip():
            raise ValueError(f"{source}: expected NAME=VALUE, got {line!r}")
        settings[name.strip().replace("-", "_")] = value.strip()
    return settings


def _configured_settings(config: pytest.Config) -> dict[str, Any]:
    """The ini settings overlaid with the command-line ones."""
    settings = _parse_pairs(config.getini(INI_NAME), INI_NAME)
    settings.update(_parse_pairs(config.getoption("mail_server_setting"), "--mail-server-setting"))
    return settings


def _marker_settings(node: pytest.Item) -> dict[str, Any]:
    """The `mail_server` markers' settings, the closest marker winning."""
    settings: dict[str, Any] = {}
    for marker in reversed(list(node.iter_markers(MARKER))):
        if marker.args:
            raise pytest.UsageError(
                f"{node.nodeid}: @pytest.mark.{MARKER} takes settings by name, not {marker.args!r}"
            )
        settings.update({k.replace("-", "_"): v for k, v in marker.kwargs.items()})
    return settings


def _per_worker(settings: dict[str, Any]) -> dict[str, Any]:
    """`settings` with the database named for this pytest-xdist worker, if any: a file's
    name (`mail.db` -> `mail.gw0.db`), a PostgreSQL URL's database (`.../mail` ->
    `.../mail_gw0`, created on that server when missing)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    db = settings.get("db")
    if not worker or not db or str(db) in ("", ":memory:"):
        return settings
    if str(db).startswith(("postgresql://", "postgres://")):
        return {**settings, "db": _worker_database(str(db), worker)}
    if "://" in str(db):
        return settings
    root, extension = os.path.splitext(os.fspath(db))
    return {**settings, "db": f"{root}.{worker}{extension}"}


_made_databases: set[str] = set()  # the worker databases this process made or found


def _worker_database(url: str, worker: str) -> str:
    """The URL of `url`'s database with the worker's name appended (libpq's default, the
    user's name, when the URL names none), after making that database on the server with
    CREATE DATABASE (as the URL's user, who then owns it, and its citext extension) unless it
    is there. Kept after the run, as a worker's file is: each test's reset empties it."""
    from urllib.parse import quote, unquote, urlsplit, urlunsplit

    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    parts = urlsplit(url)
    given = conninfo_to_dict(url)
    base = unquote(parts.path.lstrip("/")) or str(given.get("user") or "") or _os_user()
    name = f"{base}_{worker}"
    mine = urlunsplit(parts._replace(path="/" + quote(name, safe="")))
    if mine in _made_databases:
        return mine
    try:
        with psycopg.connect(mine, connect_timeout=10):
            pass  # there already (an earlier run's)
    except psycopg.OperationalError:
        _create_database(url, parts, name)
        with psycopg.connect(mine, autocommit=True, connect_timeout=10) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS citext")
    _made_databases.add(mine)
    return mine


def _create_database(url: str, parts: Any, name: str) -> None:
    """CREATE DATABASE `name`, connected to `url`'s own database or, when that one is not
    there either, to the server's `postgres`."""
    from urllib.parse import urlunsplit

    import psycopg
    from psycopg import errors, sql

    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError:
        admin = psycopg.connect(
            urlunsplit(parts._replace(path="/postgres")), autocommit=True, connect_timeout=10
        )
    with admin:
        try:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except errors.DuplicateDatabase:
            pass  # made meanwhile (another run)


def _os_user() -> str:
    import getpass

    return getpass.getuser()


def _key(settings: dict[str, Any]) -> tuple:
    return tuple(sorted((name, repr(value)) for name, value in settings.items()))


class _Servers:
    """The session's servers, one per distinct set of settings, started on first use."""

    def __init__(self) -> None:
        self.running: dict[tuple, MailServer] = {}

    def get(self, settings: dict[str, Any]) -> MailServer:
        key = _key(settings)
        server = self.running.get(key)
        if server is None:
            from elektromail.testing import MailServer

            server = self.running[key] = MailServer(**_per_worker(settings)).start()
        return server

    def stop_all(self) -> None:
        servers, self.running = list(self.running.values()), {}
        for server in servers:
            server.stop()


@pytest.fixture(scope="session")
def _elektromail_servers() -> Iterator[_Servers]:
    servers = _Servers()
    yield servers
    servers.stop_all()


def remote_url(config: pytest.Config) -> str | None:
    """The running server the fixtures use (--mail-server-url, ELEKTROMAIL_URL), or None."""
    return config.getoption("mail_server_url") or os.environ.get("ELEKTROMAIL_URL") or None


@pytest.fixture
def mail_server(
    request: pytest.FixtureRequest, _elektromail_servers: _Servers
) -> Iterator[MailServer | RemoteMailServer]:
    """A running elektromail, reset to its start state (configured users, preloaded fixtures,
    the rules of its settings, no other mail) before this test. One server per session (per
    xdist worker) serves every test that has the same settings. With --mail-server-url (or
    ELEKTROMAIL_URL): a new namespace of that server, dropped after the test."""
    url = remote_url(request.config)
    if url is not None:
        if _marker_settings(request.node):
            pytest.skip(f"@pytest.mark.{MARKER} settings cannot be applied to the server at {url}")
        from elektromail.remote import RemoteMailServer

        token = request.config.getoption("mail_server_token") or os.environ.get(
            "ELEKTROMAIL_HTTP_TOKEN"
        )
        with RemoteMailServer(url, token=token) as remote:
            yield remote
        return
    settings = _configured_settings(request.config)
    settings.update(_marker_settings(request.node))
    server = _elektromail_servers.get(settings)
    server.reset()
    yield server


@pytest.fixture
def mail_server_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., MailServer]]:
    """`mail_server_factory(**settings)` starts a server of this test's own (the configured
    settings overlaid with `settings`); every server it started stops after the test."""
    base = _configured_settings(request.config)
    started: list[MailServer] = []

    def start(**settings: Any) -> MailServer:
        from elektromail.testing import MailServer

        server = MailServer(**_per_worker({**base, **settings})).start()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()
