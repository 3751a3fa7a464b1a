"""The --workers parent's decisions, with a fake process spawner and a clock: start order,
the one ready line, restarts and their backoff, and what stopping cancels."""

from __future__ import annotations

import pytest
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import globalLogPublisher
from twisted.python.failure import Failure

from elektromail import workers
from elektromail.config import Settings
from elektromail.service import ready_line
from elektromail.workers import STATUS_FD, ServerHooks, Supervisor


class FakeSocket:
    def __init__(self, fd: int, port: int) -> None:
        self.fd, self.port = fd, port

    def fileno(self) -> int:
        return self.fd

    def getsockname(self):
        return ("127.0.0.1", self.port)


class FakeTransport:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.signals: list[str] = []

    def signalProcess(self, name: str) -> None:
        self.signals.append(name)


class Spawner:
    """Records each spawn as reactor.spawnProcess would make it."""

    def __init__(self) -> None:
        self.spawned: list[tuple] = []  # (protocol, env, childFDs)
        self.next_pid = 100

    def __call__(self, protocol, executable, args, env, childFDs):
        self.next_pid += 1
        protocol.makeConnection(FakeTransport(self.next_pid))
        self.spawned.append((protocol, env, childFDs))


@pytest.fixture
def logged():
    lines: list[str] = []

    def observe(event) -> None:
        from twisted.logger import formatEvent

        if event.get("log_namespace") == "elektromail.workers":
            lines.append(formatEvent(event))

    globalLogPublisher.addObserver(observe)
    yield lines
    globalLogPublisher.removeObserver(observe)


def supervisor(count: int = 3):
    reactor, spawn = MemoryReactorClock(), Spawner()
    settings = Settings(smtp_port=0, imap_port=0, pop3_port=None, workers=count)
    sockets = {
        "smtp": [FakeSocket(10 + i, 2525) for i in range(count)],
        "imap": [FakeSocket(20 + i, 1143) for i in range(count)],
    }
    hooks = ServerHooks(ready_line, lambda reactor: None)
    sup = Supervisor(settings, {"workers": str(count)}, sockets, hooks, reactor, spawn)
    sup.startService()
    reactor.run()  # the callWhenRunning hooks
    return sup, reactor, spawn


def ready(protocol) -> None:
    protocol.childDataReceived(STATUS_FD, b"rea")
    protocol.childDataReceived(STATUS_FD, b"dy\n")  # however the pipe splits it


def test_the_first_worker_starts_alone_then_the_others_then_one_ready_line(logged):
    _sup, _reactor, spawn = supervisor(3)
    assert len(spawn.spawned) == 1
    first, env, fds = spawn.spawned[0]
    assert fds[0] == "w" and fds[STATUS_FD] == "r" and fds[1] == 1 and fds[2] == 2
    assert sorted(v for k, v in fds.items() if k > STATUS_FD) == [10, 20]  # its own sockets
    assert '"preload": true' in env[workers.WORKER_ENV]
    ready(first)
    assert len(spawn.spawned) == 3
    assert all('"preload": false' in e[workers.WORKER_ENV] for _, e, _ in spawn.spawned[1:])
    assert sorted(v for k, v in spawn.spawned[2][2].items() if k > STATUS_FD) == [12, 22]
    assert not [line for line in logged if line.startswith("elektromail ready")]
    ready(spawn.spawned[1][0])
    ready(spawn.spawned[2][0])
    announced = [line for line in logged if line.startswith("elektromail ready")]
    assert announced == [
        "elektromail ready smtp=127.0.0.1:2525 imap=127.0.0.1:1143 http=off pop3=off workers=3"
    ]


def test_a_worker_dying_after_start_up_is_restarted_with_a_growing_wait(logged):
    _sup, reactor, spawn = supervisor(2)
    ready(spawn.spawned[0][0])
    ready(spawn.spawned[1][0])
    for expected_wait in (1, 2, 4):
        dying = spawn.spawned[-1][0]
        dying.processEnded(Failure(ProcessTerminated(signal=9)))
        assert f"restarting it in {expected_wait}s" in logged[-1]
        count = len(spawn.spawned)
        reactor.advance(expected_wait - 0.01)
        assert len(spawn.spawned) == count  # not before its time
        reactor.advance(0.01)
        assert len(spawn.spawned) == count + 1
        assert spawn.spawned[-1][0].index == 2
        ready(spawn.spawned[-1][0])
    reactor.advance(120)  # a good long run: the next death waits 1 s again
    spawn.spawned[-1][0].processEnded(Failure(ProcessDone(0)))
    assert "exited with status 0; restarting it in 1s" in logged[-1]
    assert sum(line.startswith("elektromail ready") for line in logged) == 1


def test_a_worker_failing_during_start_up_stops_the_server(logged, monkeypatch):
    monkeypatch.setattr(workers, "failed", False)
    sup, reactor, spawn = supervisor(2)
    ready(spawn.spawned[0][0])
    spawn.spawned[1][0].processEnded(Failure(ProcessTerminated(2)))
    assert "during start-up; stopping" in logged[-1]
    assert workers.failed and not reactor.running
    d = sup.stopService()
    assert spawn.spawned[0][0].transport.signals == ["TERM"]
    spawn.spawned[0][0].processEnded(Failure(ProcessTerminated(signal=15)))
    assert d.called
    assert len(spawn.spawned) == 2  # nothing restarted


def test_stopping_terminates_every_worker_and_cancels_a_pending_restart():
    sup, reactor, spawn = supervisor(2)
    ready(spawn.spawned[0][0])
    ready(spawn.spawned[1][0])
    spawn.spawned[1][0].processEnded(Failure(ProcessTerminated(signal=9)))  # restart pending
    d = sup.stopService()
    assert spawn.spawned[0][0].transport.signals == ["TERM"]
    assert not d.called  # waits for the worker to end
    reactor.advance(workers.STOP_GRACE)
    assert spawn.spawned[0][0].transport.signals == ["TERM", "KILL"]  # it did not stop in time
    spawn.spawned[0][0].processEnded(Failure(ProcessTerminated(signal=9)))
    assert d.called
    reactor.advance(60)
    assert len(spawn.spawned) == 2  # the pending restart was cancelled


def test_a_worker_ending_while_the_server_stops_is_not_restarted():
    sup, reactor, spawn = supervisor(2)
    ready(spawn.spawned[0][0])
    sup.stopService()  # worker 2 was starting: it gets TERM too, and worker 1's ready is late
    assert spawn.spawned[1][0].transport.signals == ["TERM"]
    for protocol, _, _ in spawn.spawned:
        protocol.processEnded(Failure(ProcessTerminated(signal=15)))
    reactor.advance(60)
    assert len(spawn.spawned) == 2
