"""`--workers N`: N worker processes serve the same ports; the parent binds them and watches.

The parent binds, for every enabled port, one listening socket per worker with SO_REUSEPORT,
all on the same port (port 0 is resolved once, by the first), and hands worker i its own
socket: the kernel then spreads new connections evenly over the workers, where one socket
that every child accepts on would wake them all and give most connections to whichever is
quickest. The parent keeps the sockets open and never accepts on them, so connections that
reach a worker while it restarts wait in its queue for the new process instead of being
refused, and a restarted worker needs no bind. Workers report readiness over a pipe; the
parent prints the one ready line when all are up. A worker that dies after start-up is
logged and restarted after a backoff (1 s, doubling to 30 s while it keeps dying); one that
fails during the first start-up stops the whole server. More than one worker requires the
PostgreSQL store (config.is_shared_database).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from twisted.application.service import Service
from twisted.internet import defer, fdesc
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from elektromail.config import Settings

log = Logger()

# Internal, set by the parent for each child: which worker it is, its inherited descriptors
# and the parent's command-line values. A process with it is a worker, whatever --workers says.
WORKER_ENV = "ELEKTROMAIL_INTERNAL_WORKER"
STATUS_FD = 3  # the child writes "ready\n" here
FIRST_SOCKET_FD = 4
BACKLOG = 128
STOP_GRACE = 10.0  # seconds a worker has to stop on SIGTERM before SIGKILL

# (name, Settings attribute, how the user set it): every port Server._listeners may open.
PORTS = (
    ("smtp", "smtp_port", "SMTP_PORT/--smtp-port"),
    ("imap", "imap_port", "IMAP_PORT/--imap-port"),
    ("http", "http_port", "HTTP_PORT/--http-port"),
    ("smtps", "smtps_port", "ELEKTROMAIL_SMTPS_PORT/--smtps-port"),
    ("imaps", "imaps_port", "ELEKTROMAIL_IMAPS_PORT/--imaps-port"),
    ("pop3", "pop3_port", "POP3_PORT/--pop3-port"),
    ("pop3s", "pop3s_port", "ELEKTROMAIL_POP3S_PORT/--pop3s-port"),
)

# set when the first start-up failed, for the exit status (elektromail/__main__.py)
failed = False


# --- binding (parent) --------------------------------------------------------------------------


def address_family(bind: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in bind else socket.AF_INET


def bind_all(settings: Settings, count: int) -> dict[str, list[socket.socket]]:
    """`count` listening SO_REUSEPORT sockets on one port for each enabled listener. Raises
    BindError naming the port that cannot be bound."""
    bound: dict[str, list[socket.socket]] = {}
    try:
        for name, attr, setting in PORTS:
            port = getattr(settings, attr)
            if port is not None:
                bound[name] = _bind_group(settings.bind, port, count, name, setting)
    except BaseException:
        for group in bound.values():
            for sock in group:
                sock.close()
        raise
    return bound


class BindError(Exception):
    """A port cannot be bound; the message is the one line to show."""


def _bind_group(bind: str, port: int, count: int, name: str, setting: str) -> list[socket.socket]:
    family = address_family(bind)
    group: list[socket.socket] = []
    try:
        # A plain bind first: it fails where anything else holds the port (a reuseport group
        # of the same user would let us join it silently), and it picks port 0's number.
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((bind, port))
            port = probe.getsockname()[1]
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            group.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((bind, port))
            sock.listen(BACKLOG)
            sock.setblocking(False)
    except OSError as e:
        for sock in group:
            sock.close()
        raise BindError(
            f"cannot listen on {bind}:{port} for {name.upper()} ({setting}): {e.strerror or e}"
        ) from None
    return group


# --- backoff -----------------------------------------------------------------------------------


@dataclass
class Backoff:
    """Seconds to wait before restarting a worker that died: `first`, doubled for each death
    in a row up to `longest`; a worker that ran `settle` seconds starts the count again."""

    first: float = 1.0
    longest: float = 30.0
    settle: float = 60.0
    deaths: int = 0

    def delay(self, ran_for: float) -> float:
        if ran_for >= self.settle:
            self.deaths = 0
        self.deaths += 1
        return min(self.first * 2 ** (self.deaths - 1), self.longest)


# --- the parent ----------------------------------------------------------------------------------


def describe_end(reason: Failure) -> str:
    """`exited with status 3` or `was killed by signal 9 (SIGKILL)`."""
    number = getattr(reason.value, "signal", None)
    if number:
        try:
            named = signal.Signals(number).name
        except ValueError:
            named = "?"
        return f"was killed by signal {number} ({named})"
    return f"exited with status {getattr(reason.value, 'exitCode', None)}"


@dataclass(frozen=True)
class ServerHooks:
    """What the parent takes from service.py, handed in by tap.py (the two modules share a row
    and do not import each other): the ready line's format and the once-only stop on
    SIGTERM/SIGINT."""

    ready_line: Callable[[str, Callable[[str], int | None]], str]
    on_signals: Callable[[object], None]


class WorkerProcess(ProcessProtocol):
    """The parent's side of one worker process: its readiness pipe and its end."""

    def __init__(self, supervisor: Supervisor, index: int, preload: bool) -> None:
        self.supervisor = supervisor
        self.index = index
        self.preload = preload
        self.pid: int | None = None
        self.ready = False
        self.started_at = supervisor.reactor.seconds()
        self.status = b""
        self.ended: defer.Deferred = defer.Deferred()
        self.kill_call = None

    def connectionMade(self) -> None:
        self.pid = self.transport.pid

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        if childFD != STATUS_FD:
            return
        self.status += data
        if b"ready\n" in self.status and not self.ready:
            self.ready = True
            self.supervisor.worker_ready(self)

    def processEnded(self, reason: Failure) -> None:
        if self.kill_call is not None and self.kill_call.active():
            self.kill_call.cancel()
        self.supervisor.worker_ended(self, reason)
        self.ended.callback(None)

    def terminate(self) -> None:
        """SIGTERM now, SIGKILL if it has not stopped after STOP_GRACE seconds."""
        self._signal("TERM")
        self.kill_call = self.supervisor.reactor.callLater(STOP_GRACE, self._signal, "KILL")

    def _signal(self, name: str) -> None:
        try:
            self.transport.signalProcess(name)
        except Exception:  # already gone (ProcessExitedAlready)
            pass


class Supervisor(Service):
    """The parent process of `--workers N`: starts the workers (the first one alone, so that
    the schema, the users and the preloaded fixtures are set up once), prints the ready line
    when all are up, restarts one that dies, and stops them all when it stops."""

    def __init__(
        self, settings: Settings, cli: dict, sockets, hooks: ServerHooks, reactor=None, spawn=None
    ) -> None:
        if reactor is None:
            from twisted.internet import reactor
        self.reactor = reactor
        self.settings = settings
        self.hooks = hooks
        self.cli = cli
        self.sockets: dict[str, list[socket.socket]] = sockets
        self.count = settings.workers
        self.workers: dict[int, WorkerProcess] = {}
        self.backoff: dict[int, Backoff] = {i: Backoff() for i in range(1, self.count + 1)}
        self.restarts: dict[int, object] = {}  # index -> pending callLater
        self.announced = False
        self.stopping = False
        self._spawn = spawn or reactor.spawnProcess

    # the ready line is the single server's (service.Server.ready_line), from these ports
    def port(self, name: str) -> int | None:
        group = self.sockets.get(name)
        return group[0].getsockname()[1] if group else None

    def ready_line(self) -> str:
        return self.hooks.ready_line(self.settings.bind, self.port) + f" workers={self.count}"

    def startService(self) -> None:
        super().startService()
        self.reactor.callWhenRunning(self.hooks.on_signals, self.reactor)
        self.reactor.callWhenRunning(self.start_worker, 1, True)

    def start_worker(self, index: int, preload: bool = False) -> None:
        self.restarts.pop(index, None)
        if self.stopping:
            return
        worker = WorkerProcess(self, index, preload)
        child_fds: dict[int, object] = {0: "w", 1: 1, 2: 2, STATUS_FD: "r"}
        fds = {}
        for offset, name in enumerate(sorted(self.sockets)):
            fd = FIRST_SOCKET_FD + offset
            child_fds[fd] = self.sockets[name][index - 1].fileno()
            fds[name] = fd
        spec = {"index": index, "count": self.count, "fds": fds, "preload": preload}
        spec["cli"] = self.cli
        env = {**os.environ, WORKER_ENV: json.dumps(spec)}
        args = [sys.executable, "-m", "elektromail"]
        self._spawn(worker, sys.executable, args, env=env, childFDs=child_fds)
        self.workers[index] = worker

    def worker_ready(self, worker: WorkerProcess) -> None:
        if self.stopping:
            return
        log.info(
            "worker {index} of {count} ready (pid {pid})",
            index=worker.index,
            count=self.count,
            pid=worker.pid,
        )
        if self.announced:
            return
        if worker.index == 1 and len(self.workers) == 1:
            for index in range(2, self.count + 1):
                self.start_worker(index)
        if len(self.workers) == self.count and all(w.ready for w in self.workers.values()):
            self.announced = True
            log.info(self.ready_line())

    def worker_ended(self, worker: WorkerProcess, reason: Failure) -> None:
        if self.workers.get(worker.index) is worker:
            del self.workers[worker.index]
        if self.stopping:
            return
        how = describe_end(reason)
        if not self.announced:
            global failed
            failed = True
            log.error(
                "elektromail: worker {index} (pid {pid}) {how} during start-up; stopping",
                index=worker.index,
                pid=worker.pid,
                how=how,
            )
            self.reactor.stop()
            return
        ran_for = self.reactor.seconds() - worker.started_at
        delay = self.backoff[worker.index].delay(ran_for)
        log.warn(
            "worker {index} (pid {pid}) {how}; restarting it in {delay:g}s",
            index=worker.index,
            pid=worker.pid,
            how=how,
            delay=delay,
        )
        self.restarts[worker.index] = self.reactor.callLater(delay, self.start_worker, worker.index)

    def stopService(self):
        super().stopService()
        self.stopping = True
        for call in self.restarts.values():
            if call.active():
                call.cancel()
        self.restarts.clear()
        running = list(self.workers.values())
        for worker in running:
            worker.terminate()
        return defer.gatherResults([w.ended for w in running])


# --- a worker (child) --------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerSpec:
    index: int
    count: int
    fds: dict[str, int]
    preload: bool
    cli: dict = field(default_factory=dict)


def worker_spec(environ=None) -> WorkerSpec | None:
    """This process's worker spec, given by its parent; None in a process that is no worker."""
    raw = (os.environ if environ is None else environ).get(WORKER_ENV)
    if not raw:
        return None
    data = json.loads(raw)
    return WorkerSpec(data["index"], data["count"], data["fds"], data["preload"], data["cli"])


def worker_settings(settings: Settings, spec: WorkerSpec) -> Settings:
    """The worker's settings: the fixtures are loaded once, by the first worker's first start."""
    return settings if spec.preload else replace(settings, preload_dir=None)


def make_worker_server(server_class, settings: Settings, spec: WorkerSpec):
    """A service.Server (`server_class`) that adopts its parent's sockets instead of binding,
    and tells the parent it is ready instead of printing the ready line."""
    from twisted.protocols.tls import TLSMemoryBIOFactory

    # Its own process group: a terminal's Ctrl-C reaches the parent, which stops the workers,
    # rather than every worker at once (which the parent would take for deaths).
    try:
        os.setpgrp()
    except OSError:
        pass

    class WorkerServer(server_class):
        def _listen(self, listener, factory):
            fd = spec.fds.get(listener.name)
            if fd is None:  # workers.PORTS lacks a listener the server has
                raise RuntimeError(f"no socket inherited for {listener.name}")
            if listener.tls:
                factory = TLSMemoryBIOFactory(self.tls.options(), False, factory)
            port = self.reactor.adoptStreamPort(fd, address_family(settings.bind), factory)
            os.close(fd)  # adoptStreamPort keeps its own duplicate
            return port

        def announce_ready(self) -> None:
            try:
                os.write(STATUS_FD, b"ready\n")
            except OSError:
                pass  # the parent is gone: the watch on stdin stops this worker
            os.close(STATUS_FD)

        async def start(self) -> None:
            watch_parent(self.reactor)
            await super().start()

    return WorkerServer(settings)


class _ParentWatch:
    """Reads the worker's stdin, a pipe from the parent: end of file means the parent is gone
    (even by SIGKILL), and the worker stops rather than serve on as an orphan."""

    def __init__(self, reactor) -> None:
        self.reactor = reactor
        self.gone = False

    def fileno(self) -> int:
        return 0

    def logPrefix(self) -> str:
        return "parent-watch"

    def doRead(self):
        try:
            data = os.read(0, 4096)
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EINTR):
                return None
            data = b""
        if not data:
            self.reactor.removeReader(self)
            self.parent_gone()
        return None

    def connectionLost(self, reason) -> None:
        # epoll reports a closed pipe as a hang-up: the reactor drops the reader and says so
        self.parent_gone()

    def parent_gone(self) -> None:
        if self.gone:
            return
        self.gone = True
        log.warn("the parent process is gone; stopping this worker")
        if self.reactor.running:
            self.reactor.stop()


def watch_parent(reactor) -> None:
    fdesc.setNonBlocking(0)
    reactor.addReader(_ParentWatch(reactor))
