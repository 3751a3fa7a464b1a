"""Target selection and fixtures of the RFC 9051 harness.

By default every test module gets its own in-process elektromail on free loopback ports.
With RFC9051_TEST_HOST (and _PORT, _USER, _PASS, optionally _TLS, _USER2, _PASS2,
_IMAPS_PORT, _DISPOSABLE) the tests run against that server instead; they then only touch
mailboxes they create themselves (a unique `rfc9051-<random>` prefix) and delete them again.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from tests.rfc9051.client import ImapClient, quote
from tests.rfc9051.response import list_entry, string_value

ENV = "RFC9051_TEST_"
TRUE = {"1", "true", "yes", "on"}

# The in-process server's users; the second user is always available there.
LOCAL_USERS = (("user", "pass"), ("alice", "secret"), ("bob", "bob"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "dovecot_deviation(reason): Dovecot breaks the RFC here; expected to fail against "
        "Dovecot only (strict xfail), see tests/rfc9051/README.md",
    )


def _env(name: str) -> str | None:
    value = os.environ.get(ENV + name)
    return value if value not in (None, "") else None


@dataclass
class Target:
    """The server under test, how to reach it, and what it told us (cached)."""

    host: str
    port: int
    user: str
    password: str
    tls: bool = False  # implicit TLS on `port`
    user2: str | None = None
    password2: str | None = None
    imaps_port: int | None = None  # an implicit-TLS port besides `port`, when known
    external: bool = False
    disposable: bool = False  # tests may change INBOX and other mail they did not create
    max_message_size: int | None = None  # the largest APPEND the server accepts, when known
    _cache: dict = field(default_factory=dict)

    # --- connections ------------------------------------------------------------------------

    def connect(self, tls: bool | None = None, port: int | None = None) -> ImapClient:
        return ImapClient(self.host, port or self.port, tls=self.tls if tls is None else tls)

    def login(self, client: ImapClient, user: str | None = None, password: str | None = None):
        """Log `client` in (after STARTTLS when the server wants it); fails the test on NO."""
        user = user or self.user
        password = password if password is not None else self.password
        if not client.tls and "LOGINDISABLED" in self.capabilities_before_login:
            if "STARTTLS" not in self.capabilities_before_login:
                pytest.skip("LOGINDISABLED without STARTTLS on this port")
            result = client.starttls()
            if result.status != "OK":
                raise AssertionError(f"STARTTLS failed:\n{result}")
        result = client.login(user, password)
        if result.status != "OK":
            raise AssertionError(f"LOGIN {user} failed:\n{result}\n{client.tail()}")
        return result

    # --- what the server told us ------------------------------------------------------------

    def _cached(self, key: str, compute: Callable[[], object]):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    @property
    def capabilities_before_login(self) -> set[str]:
        def compute() -> set[str]:
            client = self.connect()
            try:
                return client.capabilities()
            finally:
                client.logout()
                client.close()

        return self._cached("caps-pre", compute)

    @property
    def capabilities(self) -> set[str]:
        """Capabilities in the authenticated state."""

        def compute() -> set[str]:
            client = self.connect()
            try:
                self.login(client)
                return client.capabilities()
            finally:
                client.logout()
                client.close()

        return self._cached("caps", compute)

    @property
    def identity(self) -> str:
        """Greeting text plus the ID response's name, for recognising known servers."""

        def compute() -> str:
            client = self.connect()
            try:
                text = client.greeting.text
                if "ID" in self.capabilities_before_login:
                    result = client.command("ID", "NIL")
                    for response in result.of("ID"):
                        values = response.data[0] if response.data else None
                        if isinstance(values, list):
                            text += " " + " ".join(string_value(v) or "" for v in values)
                return text
            finally:
                client.logout()
                client.close()

        return self._cached("identity", compute)

    @property
    def is_dovecot(self) -> bool:
        return "dovecot" in self.identity.lower()

    def _with_session(self, fn: Callable[[ImapClient], object]):
        client = self.connect()
        try:
            self.login(client)
            return fn(client)
        finally:
            client.logout()
            client.close()

    @property
    def delimiter(self) -> str | None:
        """The hierarchy delimiter of the personal namespace (None: flat names)."""

        def compute(client: ImapClient) -> str | None:
            result = client.list("", "")
            for response in result.of("LIST"):
                return list_entry(response).delimiter
            return None

        return self._cached("delimiter", lambda: self._with_session(compute))

    @property
    def personal_prefix(self) -> str:
        """Where this user's own mailboxes live ("" or e.g. "INBOX.")."""

        def compute(client: ImapClient) -> str:
            if "NAMESPACE" not in self.capabilities and "IMAP4REV2" not in self.capabilities:
                return ""
            result = client.command("NAMESPACE")
            for response in result.of("NAMESPACE"):
                personal = response.data[0] if response.data else None
                if isinstance(personal, list) and personal and isinstance(personal[0], list):
                    return string_value(personal[0][0]) or ""
            return ""

        return self._cached("prefix", lambda: self._with_session(compute))


def _external_target() -> Target | None:
    host = _env("HOST")
    if host is None:
        return None
    missing = [n for n in ("PORT", "USER", "PASS") if _env(n) is None]
    if missing:
        raise pytest.UsageError(f"RFC9051_TEST_HOST needs {', '.join(ENV + n for n in missing)}")
    tls = (_env("TLS") or "").lower() in TRUE
    imaps = _env("IMAPS_PORT")
    limit = _env("MAX_MESSAGE_SIZE")
    return Target(
        host=host,
        port=int(_env("PORT")),
        user=_env("USER"),
        password=os.environ[ENV + "PASS"],
        tls=tls,
        user2=_env("USER2"),
        password2=os.environ.get(ENV + "PASS2"),
        imaps_port=int(imaps) if imaps else (int(_env("PORT")) if tls else None),
        external=True,
        disposable=(_env("DISPOSABLE") or "").lower() in TRUE,
        max_message_size=int(limit) if limit else None,
    )


@pytest.fixture(scope="session")
def _external() -> Target | None:
    return _external_target()


@pytest.fixture(scope="module")
def target(request: pytest.FixtureRequest, _external: Target | None) -> Iterator[Target]:
    """The server under test: the external one, or an in-process elektromail per module
    (with the module's ELEKTROMAIL_SETTINGS, e.g. a small message size limit)."""
    if _external is not None:
        yield _external
        return
    from elektromail.testing import MailServer

    users = ",".join(f"{name}:{password}" for name, password in LOCAL_USERS)
    settings = dict(getattr(request.module, "ELEKTROMAIL_SETTINGS", {}))
    settings.setdefault("smtp_port", None)  # IMAP only
    server = MailServer(users=users, imaps_port=0, **settings).start()
    try:
        (user, password), (user2, password2) = LOCAL_USERS[0], LOCAL_USERS[1]
        yield Target(
            host=server.host,
            port=server.imap_port,
            user=user,
            password=password,
            user2=user2,
            password2=password2,
            imaps_port=server.server.port("imaps"),
            disposable=True,
            max_message_size=settings.get("max_message_size"),
        )
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _known_deviations(request: pytest.FixtureRequest, target: Target) -> None:
    marker = request.node.get_closest_marker("dovecot_deviation")
    if marker is not None and target.is_dovecot:
        reason = marker.args[0] if marker.args else "known Dovecot deviation"
        request.applymarker(pytest.mark.xfail(reason=f"Dovecot: {reason}", strict=True))


@pytest.fixture
def connect(target: Target) -> Iterator[Callable[..., ImapClient]]:
    """`connect(login=False, user=None, password=None, tls=None, port=None)`: new clients,
    all closed after the test."""
    clients: list[ImapClient] = []

    def open_client(
        login: bool = False,
        user: str | None = None,
        password: str | None = None,
        tls: bool | None = None,
        port: int | None = None,
    ) -> ImapClient:
        client = target.connect(tls=tls, port=port)
        client.label = f"#{len(clients) + 1}"
        clients.append(client)
        if login:
            target.login(client, user, password)
        return client

    yield open_client
    for client in clients:
        client.close()


@pytest.fixture
def client(connect) -> ImapClient:
    """A connection in the not authenticated state."""
    return connect()


@pytest.fixture
def imap(connect) -> ImapClient:
    """A logged-in connection in the server's default dialect."""
    return connect(login=True)


@pytest.fixture
def in_state(connect, target: Target) -> Callable[[str], ImapClient]:
    """`in_state("not_authenticated" | "authenticated" | "selected")`: a new connection in
    that state; "selected" has INBOX open read-only (EXAMINE changes no mail)."""

    def open_in(state: str) -> ImapClient:
        client = connect(login=state != "not_authenticated")
        if state == "selected":
            result = client.select("INBOX", examine=True)
            if result.status != "OK":
                raise AssertionError(f"EXAMINE INBOX failed:\n{result}")
        return client

    return open_in


def _rev1(connect, target: Target) -> ImapClient:
    if "IMAP4REV1" not in target.capabilities:
        pytest.skip("server does not advertise IMAP4rev1")
    client = connect(login=True)
    client.dialect = "rev1"
    return client


def _rev2(connect, target: Target) -> ImapClient:
    if "IMAP4REV2" not in target.capabilities:
        pytest.skip("server does not advertise IMAP4rev2")
    client = connect(login=True)
    if "IMAP4REV1" in target.capabilities:
        result = client.command("ENABLE", "IMAP4rev2")
        if result.status != "OK":
            raise AssertionError(f"ENABLE IMAP4rev2 failed:\n{result}")
    client.dialect = "rev2"
    return client


@pytest.fixture
def rev1(connect, target: Target) -> ImapClient:
    """A logged-in IMAP4rev1 session (RFC 3501 rules); skips on rev2-only servers."""
    return _rev1(connect, target)


@pytest.fixture
def rev2(connect, target: Target) -> ImapClient:
    """A logged-in session after ENABLE IMAP4rev2 (RFC 9051 rules); skips unless offered."""
    return _rev2(connect, target)


@pytest.fixture(params=["rev1", "rev2"])
def session(request: pytest.FixtureRequest, connect, target: Target) -> ImapClient:
    """A logged-in session in each dialect, for behaviour both dialects share."""
    return _rev1(connect, target) if request.param == "rev1" else _rev2(connect, target)


@pytest.fixture
def second_user(target: Target) -> tuple[str, str]:
    """(user, password) of a second account; skips without RFC9051_TEST_USER2/_PASS2."""
    if not target.user2 or target.password2 is None:
        pytest.skip("needs RFC9051_TEST_USER2 and RFC9051_TEST_PASS2")
    return target.user2, target.password2


@pytest.fixture
def disposable(target: Target) -> None:
    """For tests that change mail they did not create (INBOX): in-process servers, or
    external ones with RFC9051_TEST_DISPOSABLE=1."""
    if not target.disposable:
        pytest.skip("changes INBOX; set RFC9051_TEST_DISPOSABLE=1 for a throw-away server")


@pytest.fixture
def delimiter(target: Target) -> str:
    """The hierarchy delimiter; skips on servers with flat mailbox names."""
    found = target.delimiter
    if not found:
        pytest.skip("server has no mailbox hierarchy")
    return found


class Names:
    """Mailbox names private to one test: `new()` gives fresh ones under a random prefix;
    whatever exists or is subscribed under that prefix is removed after the test."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.base = f"{target.personal_prefix}rfc9051-{secrets.token_hex(4)}"
        self._count = 0

    def new(self, hint: str = "box") -> str:
        self._count += 1
        return f"{self.base}-{hint}{self._count}"

    def child(self, parent: str, name: str) -> str:
        delimiter = self.target.delimiter
        if not delimiter:
            pytest.skip("server has no mailbox hierarchy")
        return f"{parent}{delimiter}{name}"

    def created(self, client: ImapClient, hint: str = "box") -> str:
        """A new mailbox, created through `client`."""
        name = self.new(hint)
        result = client.create(name)
        if result.status != "OK":
            raise AssertionError(f"CREATE {name} failed:\n{result}")
        return name

    def cleanup(self) -> list[str]:
        """Unsubscribe and delete everything under the prefix; returns what is left."""
        client = self.target.connect()
        try:
            self.target.login(client)
            pattern = self.base + "*"
            for name in self._subscribed(client, pattern):
                client.command("UNSUBSCRIBE", quote(name))
            for _ in range(3):
                names = self._existing(client, pattern)
                if not names:
                    return []
                depth = self.target.delimiter or "\0"
                for name in sorted(names, key=lambda n: (-n.count(depth), -len(n))):
                    client.delete(name)
            return self._existing(client, pattern)
        finally:
            client.logout()
            client.close()

    @staticmethod
    def _existing(client: ImapClient, pattern: str) -> list[str]:
        result = client.list("", pattern)
        return [list_entry(r).name for r in result.of("LIST")]

    def _subscribed(self, client: ImapClient, pattern: str) -> list[str]:
        found: set[str] = set()
        caps = self.target.capabilities
        if "LIST-EXTENDED" in caps or "IMAP4REV2" in caps:
            if "IMAP4REV1" in caps and "IMAP4REV2" in caps and "LIST-EXTENDED" not in caps:
                client.command("ENABLE", "IMAP4rev2")
            result = client.command("LIST", "(SUBSCRIBED)", quote(""), quote(pattern))
            found.update(list_entry(r).name for r in result.of("LIST"))
        if "IMAP4REV1" in caps:
            result = client.command("LSUB", quote(""), quote(pattern))
            found.update(list_entry(r).name for r in result.of("LSUB"))
        return sorted(found)


@pytest.fixture
def names(target: Target) -> Iterator[Names]:
    """Fresh mailbox names for this test, cleaned up afterwards on external servers."""
    helper = Names(target)
    yield helper
    if not target.external:
        return  # the in-process server goes away with the module
    left: list[str] = []
    with contextlib.suppress(Exception):
        left = helper.cleanup()
    if left:
        warnings.warn(f"could not delete test mailboxes {left}", stacklevel=1)
