"""TCP tuning the protocols share: acknowledging at once while a command is half-read."""

from __future__ import annotations

import socket
from typing import Any

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
