"""TCP tuning the protocols share: acknowledging at once while a command is half-read, and
sending a short answer at once rather than at the reactor's next turn."""

from __future__ import annotations

import socket
from typing import Any

from twisted.internet import tcp

_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux


def quick_ack(transport: Any) -> None:
    """Acknowledge what has arrived now rather than when the delayed-ACK timer fires (~40 ms
    on Linux). Call it when the server waits for the rest of a command: a client with Nagle's
    algorithm on (imaplib, most libraries) holds a small write, such as the CRLF after an
    APPEND literal, until its last one is acknowledged, and a server that has nothing to say
    yet has no answer for the ACK to ride on, so both sides wait. The option is not sticky
    (the kernel leaves quick-ACK mode by itself), hence a call per read. Elsewhere than Linux,
    or on a transport without a socket, nothing happens."""
    if _QUICKACK is None:
        return
    for _ in range(3):  # a TLS wrapper's own transport holds the socket
        get_handle = getattr(transport, "getHandle", None)
        handle = get_handle() if get_handle is not None else None
        if isinstance(handle, socket.socket):
            try:
                handle.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
            except OSError:
                pass
            return
        transport = getattr(transport, "transport", None)
        if transport is None:
            return


def write_now(transport: Any, data: bytes) -> None:
    """`transport.write(data)`, sent at once when nothing waits in the transport's buffer.

    Twisted's write only queues: it registers the socket for writing (one epoll_ctl), the
    reactor's next turn sends, and the emptied buffer unregisters it again (another). A
    protocol that answers each command with a line (SMTP without pipelining) pays that on
    every reply. Here a plain TCP connection with an empty buffer (no TLS, no producer, not
    closing) gets the send now, as its own doWrite would make it; whatever is not sent (a full
    socket buffer, an error) goes through `write`, which keeps the order and handles the error
    as always. Any other transport (TLS, a test's StringTransport) gets `write`."""
    if (
        isinstance(transport, tcp.Connection)
        and not transport.TLS
        and transport.connected
        and not transport.disconnecting
        and transport.producer is None
        and not transport.dataBuffer
        and not getattr(transport, "_tempDataBuffer", True)
        and not getattr(transport, "_writeDisconnected", True)
    ):
        # writeSomeData's send, without its memoryview slice and untilConcludes wrapper (the
        # socket module retries EINTR itself, PEP 475): a reply is far under SEND_LIMIT.
        if len(data) <= transport.SEND_LIMIT:
            try:
                sent = transport.socket.send(data)
            except OSError:  # EWOULDBLOCK, ENOBUFS, or an error doWrite will report
                sent = 0
        else:
            sent = transport.writeSomeData(data)
            if sent.__class__ is not int:
                sent = 0
        if sent == len(data):
            return
        data = data[sent:]
    transport.write(data)
