"""Stand-ins for driving an IMAP `Connection` with no socket and no store: a peer that records
what the connection asks of the I/O side, and a post office with only what LOGIN needs."""

from __future__ import annotations

from dataclasses import dataclass, field

from twisted.internet import defer

from elektromail.config import Settings
from elektromail.events import Events
from elektromail.imap.connection import Connection
from elektromail.imap.dispatch import Services
from elektromail.store import UserRow

PASSWORDS = {"user": "pass"}


class RecordingPeer:
    """A `connection.Peer` that keeps every call, in order, as a tuple: ("send", bytes),
    ("start_tls",), ("close",), ("timeout", seconds), ("pause_reading",), ..."""

    def __init__(self, *, tls_possible: bool = True) -> None:
        self.calls: list[tuple] = []
        self.tls_possible = tls_possible
        self._taken = 0

    def send(self, data: bytes) -> None:
        self.calls.append(("send", bytes(data)))

    def pause_reading(self) -> None:
        self.calls.append(("pause_reading",))

    def resume_reading(self) -> None:
        self.calls.append(("resume_reading",))

    def can_start_tls(self) -> bool:
        return self.tls_possible

    def start_tls(self) -> None:
        self.calls.append(("start_tls",))

    def close(self) -> None:
        self.calls.append(("close",))

    def set_idle_timeout(self, seconds: float) -> None:
        self.calls.append(("timeout", seconds))

    def begin_paced_output(self) -> None:
        self.calls.append(("begin_paced_output",))

    def end_paced_output(self) -> None:
        self.calls.append(("end_paced_output",))

    @property
    def sent(self) -> bytes:
        """Every byte sent so far."""
        return b"".join(call[1] for call in self.calls if call[0] == "send")

    def take(self) -> bytes:
        """The bytes sent since the last take()."""
        sent = self.sent
        new, self._taken = sent[self._taken :], len(sent)
        return new

    def forget(self) -> None:
        """Start the record afresh."""
        self.calls.clear()
        self._taken = 0

    def asked(self, name: str) -> list[tuple]:
        """The calls named `name` (other than send)."""
        return [call for call in self.calls if call[0] == name]


@dataclass
class FakePostOffice:
    """What the commands driven here call: `authenticate` for LOGIN and AUTHENTICATE, and the
    `events` IMAPFactory takes from it. A test may set `failure` (raised
    by the next calls) or `hold` (the answer waits in `held`)."""

    events: Events = field(default_factory=Events)
    failure: Exception | None = None
    hold: bool = False
    held: list[tuple[defer.Deferred, UserRow | None]] = field(default_factory=list)

    def authenticate(self, name: str, password: str) -> defer.Deferred[UserRow | None]:
        if self.failure is not None:
            return defer.fail(self.failure)
        user = None
        if PASSWORDS.get(name) == password:
            user = UserRow(id=1, name=name, password=password, email=None, seeded=True)
        if self.hold:
            d: defer.Deferred[UserRow | None] = defer.Deferred()
            self.held.append((d, user))
            return d
        return defer.succeed(user)

    def release(self) -> None:
        """Answer the held calls."""
        held, self.held = self.held, []
        for d, user in held:
            d.callback(user)


class FakeTLS:
    """TLSMaterial as STARTTLS sees it: options() gives something to start TLS with."""

    def options(self) -> object:
        return object()


def make_services(
    postoffice: FakePostOffice | None = None, settings: Settings | None = None
) -> Services:
    postoffice = postoffice or FakePostOffice()
    return Services(
        postoffice=postoffice,  # type: ignore[arg-type]
        settings=settings or Settings(),
        tls=FakeTLS(),  # type: ignore[arg-type]
    )


def connect(
    services: Services | None = None, peer: RecordingPeer | None = None, *, tls: bool = False
) -> tuple[Connection, RecordingPeer]:
    """A greeted connection, with the greeting left out of the peer's record."""
    peer = peer or RecordingPeer()
    connection = Connection(services or make_services(), peer, tls=tls)
    connection.greet()
    peer.forget()
    return connection, peer
