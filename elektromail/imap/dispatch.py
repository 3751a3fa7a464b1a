"""The command table and the dispatcher: which command runs in which state, with the
precondition checks made once here instead of in every handler (Dovecot's cmd table): the
state, and for a command that changes the selected mailbox, that it was not opened read-only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from elektromail.imap import format as fmt
from elektromail.imap.session import Session, State
from elektromail.imap.tokens import Atom, String
from elektromail.metrics import Metrics

if TYPE_CHECKING:
    from types import TracebackType

    from elektromail.config import Settings
    from elektromail.postoffice import PostOffice
    from elektromail.tls import TLSMaterial

ANY = frozenset(State) - {State.LOGOUT}
NOT_AUTH = frozenset({State.NOT_AUTHENTICATED})
AUTH = frozenset({State.AUTHENTICATED, State.SELECTED})
SELECTED = frozenset({State.SELECTED})


# A response code as tagged() takes it: a name from format.py's catalogue (fmt.TRYCREATE), or
# one with its data made by fmt.format_response_code (APPENDUID, COPYUID, CAPABILITY...).
Code = str | bytes | None


class Bad(Exception):
    """Answer the command with a tagged BAD: the command is malformed or not valid now."""

    def __init__(self, text: str, code: Code = None) -> None:
        super().__init__(text)
        self.text = text
        self.code = code


class No(Exception):
    """Answer the command with a tagged NO: it is valid, but cannot be carried out."""

    def __init__(self, text: str, code: Code = None) -> None:
        super().__init__(text)
        self.text = text
        self.code = code


@dataclass(frozen=True)
class Done:
    """A handler's tagged OK: optional response code and text."""

    text: str | None = None
    code: Code = None


@dataclass(frozen=True)
class Services:
    """What command handlers may use."""

    postoffice: PostOffice  # its `events` is what sessions listen to
    settings: Settings
    tls: TLSMaterial
    metrics: Metrics = field(default_factory=Metrics)  # GET /metrics' counters


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


# A handler gets the command's arguments, or what its table entry's `parse` made of them.
Handler = Callable[[Context, Any], Awaitable[Done | None]]
# Arguments into the request a handler takes; raises Bad. Runs before the read-write check, so
# a malformed command is BAD whatever the mailbox (as Dovecot answers).
Parser = Callable[[Context, list[Argument]], Any]


@dataclass(frozen=True)
class CommandSpec:
    """One entry of the command table: the handler, where it may run, and its flags."""

    name: str
    handler: Handler
    states: frozenset[State]
    uid: bool = False  # also valid after the UID prefix
    # EXPUNGE responses may not be sent while answering FETCH, STORE or SEARCH (RFC 9051 §7.5.1)
    allows_expunge: bool = True
    # Changes the selected mailbox: NO [READ-ONLY] after EXAMINE (RFC 9051 §6.3.3, §7.1).
    read_write: bool = False
    parse: Parser | None = None


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


def check_writable(cmd: CommandSpec, session: Session) -> None:
    """NO [READ-ONLY] for a command that changes the selected mailbox when it was opened
    read-only: RFC 9051 §6.3.3, "No changes to the permanent state of the mailbox, including
    per-user state, are permitted."."""
    if cmd.read_write and session.view is not None and session.view.readonly:
        raise No("Mailbox is read-only", fmt.READ_ONLY)


def check_state(cmd: CommandSpec, session: Session) -> None:
    if session.state in cmd.states:
        return
    if session.state is State.NOT_AUTHENTICATED:
        raise Bad(f"{cmd.name} not allowed before authentication")
    if session.state is State.SELECTED or State.SELECTED not in cmd.states:
        raise Bad(f"{cmd.name} not allowed now")
    raise Bad(f"{cmd.name} needs a selected mailbox")
