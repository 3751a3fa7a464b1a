"""Stopping by signal is clean however often it is asked for: twistd's reactor asks itself to
stop on each SIGTERM or SIGINT, and a second one while it stops used to print a
ReactorNotRunning traceback."""

from __future__ import annotations

import os
import signal
import socket

import pytest

from tests.test_cli import MODULE, SCRIPT


def busy_server(child_server, command=None):
    """A server with connections to close on the way down (an event stream, a long-poll, an
    IMAP IDLE), so that stopping takes long enough for a second signal to land in it."""
    server = child_server(
        ["--smtp-port", "0", "--imap-port", "0", "--http-port", "0"], command=command
    ).wait_ready()
    held = []
    for path in ("/events", "/messages/wait?timeout=60"):
        sock = socket.create_connection(("127.0.0.1", server.ports["http"]), timeout=10)
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
        held.append(sock)
    imap = socket.create_connection(("127.0.0.1", server.ports["imap"]), timeout=10)
    imap.recv(1000)
    imap.sendall(b"a LOGIN user pass\r\nb SELECT INBOX\r\nc IDLE\r\n")
    assert read_until(imap, b"\r\n+ ").endswith(b"\r\n")  # idling
    held.append(imap)
    server.held = held  # open until the test ends
    return server


def read_until(sock, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def stop_with(server, first, then) -> str:
    """Send `first`, and once the server has logged it, every signal of `then` at once: while
    it is stopping. The whole output."""
    os.kill(server.process.pid, first)
    server.wait_for(b"Received " + signal.Signals(first).name.encode())
    for number in then:
        os.kill(server.process.pid, number)
    output, _ = server.process.communicate(timeout=20)
    return (server.output + output).decode(errors="replace")


def test_one_sigterm_ends_with_its_exit_status(child_server):
    # twistd ends a process stopped by a signal with that signal (systemd: a clean stop).
    server = busy_server(child_server)
    text = stop_with(server, signal.SIGTERM, [])
    assert server.process.returncode == -signal.SIGTERM, text
    assert "Traceback" not in text


@pytest.mark.parametrize("command", [SCRIPT, MODULE], ids=["console-script", "python-m"])
def test_two_sigterms_in_a_row_stop_cleanly(child_server, command):
    server = busy_server(child_server, command)
    text = stop_with(server, signal.SIGTERM, [signal.SIGTERM])
    assert server.process.returncode == -signal.SIGTERM, text
    assert "Traceback" not in text and "ReactorNotRunning" not in text


def test_sigint_then_sigterm_stop_cleanly(child_server):
    server = busy_server(child_server)
    text = stop_with(server, signal.SIGINT, [signal.SIGTERM])
    assert server.process.returncode == -signal.SIGINT, text
    assert "Traceback" not in text


def test_many_signals_while_stopping_stop_cleanly(child_server):
    server = busy_server(child_server)
    text = stop_with(server, signal.SIGTERM, [signal.SIGTERM, signal.SIGINT] * 3)
    assert server.process.returncode == -signal.SIGTERM, text
    assert "Traceback" not in text


class FakeReactor:
    def __init__(self):
        self.triggers = []

    def addSystemEventTrigger(self, phase, event, f):
        self.triggers.append((phase, event, f))


def test_only_the_first_signal_reaches_the_reactor(monkeypatch):
    from elektromail import service

    calls = []
    installed = {}
    monkeypatch.setattr(service.signal, "getsignal", lambda n: lambda *a: calls.append(n))
    monkeypatch.setattr(service.signal, "signal", lambda n, h: installed.__setitem__(n, h))
    reactor = FakeReactor()
    service.stop_once_on_signals(reactor)
    assert set(installed) == {signal.SIGTERM, signal.SIGINT}
    installed[signal.SIGTERM](signal.SIGTERM, None)
    installed[signal.SIGTERM](signal.SIGTERM, None)
    installed[signal.SIGINT](signal.SIGINT, None)
    assert calls == [signal.SIGTERM]


def test_a_signal_after_a_stop_from_elsewhere_is_ignored(monkeypatch):
    from elektromail import service

    calls = []
    installed = {}
    monkeypatch.setattr(service.signal, "getsignal", lambda n: lambda *a: calls.append(n))
    monkeypatch.setattr(service.signal, "signal", lambda n, h: installed.__setitem__(n, h))
    reactor = FakeReactor()
    service.stop_once_on_signals(reactor)
    [(phase, event, began)] = reactor.triggers
    assert (phase, event) == ("before", "shutdown")
    began()  # e.g. start-up failed and the server stopped the reactor itself
    installed[signal.SIGTERM](signal.SIGTERM, None)
    assert calls == []


def test_no_handlers_where_the_reactor_installed_none(monkeypatch):
    from elektromail import service

    installed = {}
    monkeypatch.setattr(service.signal, "getsignal", lambda n: signal.SIG_DFL)
    monkeypatch.setattr(service.signal, "signal", lambda n, h: installed.__setitem__(n, h))
    service.stop_once_on_signals(FakeReactor())
    assert installed == {}
