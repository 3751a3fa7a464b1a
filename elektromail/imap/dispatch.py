"""The command table and the dispatcher: which command runs in which state, with the
precondition checks made once here instead of in every handler (Dovecot's cmd table)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from elektromail.imap.session import Session, State

ANY = frozenset(State) - {State.LOGOUT}
NOT_AUTH = frozenset({State.NOT_AUTHENTICATED})
AUTH = frozenset({State.AUTHENTICATED, State.SELECTED})
SELECTED = frozenset({State.SELECTED})


class Bad(Exception):
    """Answer the command with a tagged BAD."""

    def __init__(self, text: str, code: str | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.code = code


class No(Exception):
    """Answer the command with a tagged NO."""

    def __init__(self, text: str, code: str | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.code = code


@dataclass(frozen=True)
class Done:
    """A handler's tagged OK: optional response code and text."""

    text: str | None = None
    code: str | None = None


class Context(Protocol):
    """What a handler may use; the protocol class provides it."""

    tag: str
    name: str  # upper-case command name, "UID FETCH" for UID forms
    uid: bool  # the command came with the UID prefix
    session: Session
    services: Any  # the Services bundle (postoffice, store, settings, tls)
    closed: bool  # the connection is gone: a long answer may stop early

    def write(self, data: bytes) -> None: ...

    def paced(self) -> Any: ...  # context manager whose `sent()` waits for a slow client

    def continuation(self, text: str = "") -> None: ...

    def read_line(self) -> Awaitable[bytes]: ...

    def start_tls(self) -> None: ...


Handler = Callable[[Context, list], Awaitable[Done | None]]


@dataclass(frozen=True)
class Command:
    name: str
    handler: Handler
    states: frozenset[State]
    uid: bool = False  # also valid after the UID prefix
    # EXPUNGE responses may not be sent while answering FETCH, STORE or SEARCH (RFC 9051 §7.5.1)
    allows_expunge: bool = True


class CommandTable:
    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}
        self._capabilities: list[tuple[str, frozenset[State] | None]] = []

    def advertise(self, *names: str, states: frozenset[State] | None = None) -> None:
        """Announce capabilities in CAPABILITY (in the states given, else in every state);
        the module that implements a capability advertises it."""
        for name in names:
            self._capabilities.append((name, states))

    def capabilities(self, state: State) -> list[str]:
        return [name for name, states in self._capabilities if states is None or state in states]

    def register(self, name: str, states: frozenset[State], **flags: Any):
        def decorate(handler: Handler) -> Handler:
            self._commands[name] = Command(name, handler, states, **flags)
            return handler

        return decorate

    def lookup(self, name: str) -> Command | None:
        return self._commands.get(name)

    def names(self) -> list[str]:
        return sorted(self._commands)


TABLE = CommandTable()
command = TABLE.register
advertise = TABLE.advertise


def check_state(cmd: Command, session: Session) -> None:
    if session.state in cmd.states:
        return
    if session.state is State.NOT_AUTHENTICATED:
        raise Bad(f"{cmd.name} not allowed before authentication")
    if session.state is State.SELECTED or State.SELECTED not in cmd.states:
        raise Bad(f"{cmd.name} not allowed now")
    raise Bad(f"{cmd.name} needs a selected mailbox")
