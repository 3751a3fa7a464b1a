"""The command table and the dispatcher: which command runs in which state, with the
precondition checks made once here instead of in every handler (Dovecot's cmd table)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from elektromail.imap.session import Session, State
from elektromail.imap.tokens import Atom, String

if TYPE_CHECKING:
    from types import TracebackType

    from elektromail.config import Settings
    from elektromail.events import Events
    from elektromail.postoffice import PostOffice
    from elektromail.tls import TLSMaterial

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


@dataclass(frozen=True)
class Services:
    """What command handlers may use."""

    postoffice: PostOffice
    events: Events
    settings: Settings
    tls: TLSMaterial


# What the reader makes of a command's arguments: atoms, strings and parenthesized lists.
Argument = Atom | String | list["Argument"]


class Pacing(Protocol):
    """A long answer's pace: `await sent()` after each piece waits while the client is slower
    than the server, so the answer never piles up in memory."""

    def __enter__(self) -> Pacing: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def sent(self) -> Awaitable[None]: ...


class Context(Protocol):
    """What a handler may use; the Connection provides it."""

    tag: str
    name: str  # upper-case command name, "UID FETCH" for UID forms
    uid: bool  # the command came with the UID prefix
    session: Session
    services: Services

    @property
    def closed(self) -> bool: ...  # the connection is gone: a long answer may stop early

    def write(self, data: bytes) -> None: ...

    def paced(self) -> Pacing: ...

    def continuation(self, text: str = "") -> None: ...

    def push(self, data: bytes) -> None: ...  # write now, not at the end of the command

    def read_line(self) -> Awaitable[bytes]: ...

    def start_tls(self) -> None: ...


Handler = Callable[[Context, list[Argument]], Awaitable[Done | None]]


@dataclass(frozen=True)
class CommandSpec:
    """One entry of the command table: the handler, where it may run, and its flags."""

    name: str
    handler: Handler
    states: frozenset[State]
    uid: bool = False  # also valid after the UID prefix
    # EXPUNGE responses may not be sent while answering FETCH, STORE or SEARCH (RFC 9051 §7.5.1)
    allows_expunge: bool = True


class CommandTable:
    def __init__(self) -> None:
        self._commands: dict[str, CommandSpec] = {}
        self._capabilities: list[tuple[str, frozenset[State] | None]] = []

    def advertise(self, *names: str, states: frozenset[State] | None = None) -> None:
        """Announce capabilities in CAPABILITY (in the states given, else in every state);
        the module that implements a capability advertises it."""
        for name in names:
            self._capabilities.append((name, states))

    def capabilities(self, state: State) -> list[str]:
        return [name for name, states in self._capabilities if states is None or state in states]

    def register(
        self, name: str, states: frozenset[State], **flags: Any
    ) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            self._commands[name] = CommandSpec(name, handler, states, **flags)
            return handler

        return decorate

    def lookup(self, name: str) -> CommandSpec | None:
        return self._commands.get(name)

    def names(self) -> list[str]:
        return sorted(self._commands)


TABLE = CommandTable()
command = TABLE.register
advertise = TABLE.advertise


class Invocation(NamedTuple):
    """A command found in the table: its entry, its name as answered ("UID FETCH"), the
    arguments the handler gets, and whether the UID prefix came with it."""

    spec: CommandSpec
    name: str
    args: list[Argument]
    uid: bool


def lookup_command(name: str, args: list, table: CommandTable = TABLE) -> Invocation:
    """The table entry for a parsed command, the UID prefix taken off; Bad when unknown."""
    if name == "UID":
        if not args or not isinstance(args[0], Atom):
            raise Bad("UID needs a command")
        sub = args[0].upper()
        spec = table.lookup(sub)
        if spec is None or not spec.uid:
            raise Bad(f"Unknown command UID {sub}")
        return Invocation(spec, f"UID {sub}", list(args[1:]), True)
    spec = table.lookup(name)
    if spec is None:
        raise Bad(f"Unknown command {name}")
    return Invocation(spec, name, list(args), False)


def check_state(cmd: CommandSpec, session: Session) -> None:
    if session.state in cmd.states:
        return
    if session.state is State.NOT_AUTHENTICATED:
        raise Bad(f"{cmd.name} not allowed before authentication")
    if session.state is State.SELECTED or State.SELECTED not in cmd.states:
        raise Bad(f"{cmd.name} not allowed now")
    raise Bad(f"{cmd.name} needs a selected mailbox")
