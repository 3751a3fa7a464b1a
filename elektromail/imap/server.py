"""The IMAP protocol class: a thin adapter between a socket and the sans-I/O `Connection`.

It subclasses Twisted's IMAP4Server for its place in the Twisted ecosystem (and TimeoutMixin),
but none of that class's parser or dispatcher runs: bytes go to `connection.Connection`, and the
bytes it answers come back here. What stays is what needs the socket: moving bytes, STARTTLS
and its handshake, the idle timeouts, TCP_NODELAY and back-pressure (the `Peer` interface).
"""

from __future__ import annotations

from twisted.internet import tcp
from twisted.internet.interfaces import IHandshakeListener, IPushProducer, ITLSTransport
from twisted.internet.protocol import ServerFactory
from twisted.mail import imap4
from zope.interface import implementer

from elektromail.admission import Connections
from elektromail.config import Settings
from elektromail.events import Event, ServerReset, UserDeleted
from elektromail.imap.connection import Connection
from elektromail.imap.dispatch import Services
from elektromail.imap.session import Session
from elektromail.metrics import Metrics
from elektromail.postoffice import PostOffice
from elektromail.tcp import quick_ack
from elektromail.tls import TLSMaterial, tls_failed

__all__ = ["IMAPFactory", "IMAPServer", "Services"]


@implementer(IPushProducer)
class PacedOutput:
    """The transport's streaming producer while a long answer is written: the transport
    pauses it when its write buffer is full and resumes it when the buffer has drained, and
    the connection's answer waits in between."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def pauseProducing(self) -> None:
        self._connection.pause_writing()

    def resumeProducing(self) -> None:
        self._connection.resume_writing()

    def stopProducing(self) -> None:  # the connection is gone: never leave the answer waiting
        self._connection.resume_writing()


@implementer(IHandshakeListener)
class IMAPServer(imap4.IMAP4Server):
    """One IMAP connection on a socket; the `Peer` of its `Connection`."""

    def __init__(self, services: Services, implicit_tls: bool = False) -> None:
        super().__init__()
        self.services = services
        self.connection = Connection(services, self, tls=implicit_tls)
        self._paced_output = PacedOutput(self.connection)

    @property
    def session(self) -> Session:
        return self.connection.session

    # --- the socket's events ------------------------------------------------------------------

    def connectionMade(self) -> None:
        if hasattr(self.transport, "setTcpNoDelay"):
            self.transport.setTcpNoDelay(True)
        self.setTimeout(self.connection.idle_timeout)
        if not self.factory.connections.admit(self):
            self.connection.turn_away()
            return
        self.connection.greet()

    def connectionLost(self, reason=None) -> None:
        if tls_failed(reason):
            self.services.metrics.error("tls_handshake")
        self.setTimeout(None)
        self.factory.connections.forget(self)
        self.connection.connection_lost()

    def dataReceived(self, data: bytes) -> None:
        if self.connection.closing:  # nothing is read after the goodbye, nor resets its timer
            return
        self.resetTimeout()
        self.connection.feed(data)
        if self.connection.awaiting_rest:
            quick_ack(self.transport)

    def handshakeCompleted(self) -> None:
        self.connection.handshake_completed()

    def timeoutConnection(self) -> None:
        if self.connection.closing:
            # Still open a whole timeout after the goodbye: a TLS handshake that never ends
            # (the goodbye waits for it), or a peer that reads nothing.
            self.transport.abortConnection()
            return
        self.connection.timed_out()

    # --- what the factory calls ---------------------------------------------------------------

    def end_session(self, text: str) -> None:
        """BYE [UNAVAILABLE] and close: what the session stood on is gone."""
        self.connection.end_session(text)

    def close_after_output(self) -> None:
        """Close once what was written is sent (the server stops)."""
        self.connection.close()

    # --- Peer: what the Connection calls ------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Write `data` now when nothing waits before it: an answer that fits the socket's
        buffer leaves in this call, not one reactor turn later (the transport would only
        queue it for the next writable event). What the socket does not take is queued as
        usual, so the transport's buffer, and the pacing that watches it, see the rest."""
        transport = self.transport
        if _sends_at_once(transport):
            sent = transport.writeSomeData(data)
            if isinstance(sent, int):  # else the connection is lost: the transport finds out
                if sent == len(data):
                    return
                data = data[sent:]
        transport.write(data)

    def pause_reading(self) -> None:
        self.transport.pauseProducing()

    def resume_reading(self) -> None:
        self.transport.resumeProducing()

    def can_start_tls(self) -> bool:
        return ITLSTransport.providedBy(self.transport)

    def start_tls(self) -> None:
        self.transport.startTLS(self.services.tls.options())

    def close(self) -> None:
        """loseConnection, and abort if closing takes a whole timeout: loseConnection on a TLS
        connection whose handshake is unfinished waits for it."""
        self.transport.loseConnection()
        self.setTimeout(self.timeOut or self.services.settings.imap_login_timeout)

    def set_idle_timeout(self, seconds: float) -> None:
        self.setTimeout(seconds)

    def begin_paced_output(self) -> None:
        if self.transport.producer is None:  # nothing else paces this connection now
            self.transport.registerProducer(self._paced_output, True)

    def end_paced_output(self) -> None:
        # Registered only while the answer is written: a paused producer would otherwise keep
        # loseConnection from ever closing the connection.
        if self.transport.producer is self._paced_output:
            self.transport.unregisterProducer()


def _sends_at_once(transport: object) -> bool:
    """Whether bytes may go straight to `transport`'s socket: a plain TCP connection (TLS
    writes go through the TLS layer), open, with nothing of its own waiting to be sent."""
    return (
        isinstance(transport, tcp.Connection)
        and not transport.TLS
        and transport.connected
        and not transport.disconnecting
        and not transport._writeDisconnected
        and not transport._tempDataLen
        and transport.offset == len(transport.dataBuffer)
    )


class IMAPFactory(ServerFactory):
    """Builds one IMAPServer per connection and remembers them, to close them at stop."""

    def __init__(
        self,
        postoffice: PostOffice,
        settings: Settings,
        tls: TLSMaterial,
        implicit_tls: bool = False,
    ) -> None:
        self.implicit_tls = implicit_tls  # the port speaks TLS from the first byte (IMAPS)
        # GET /metrics' counters (a stand-in post office of a unit test may have none)
        self.metrics: Metrics = getattr(postoffice, "metrics", None) or Metrics()
        self.command_times = self.metrics.commands("imap")
        self.services = Services(postoffice, settings, tls, self.metrics)
        self.connections: Connections[IMAPServer] = Connections(
            "IMAP", settings.max_connections, self.metrics
        )
        self._unsubscribe = None

    def startFactory(self) -> None:
        self._unsubscribe = self.services.postoffice.events.subscribe(self._event)

    def stopFactory(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _event(self, event: Event) -> None:
        """End the sessions a reset or a deleted user leaves without ground."""
        if not isinstance(event, (ServerReset, UserDeleted)):
            return
        for protocol in list(self.connections):
            text = protocol.session.ended_by(event)
            if text is not None:
                protocol.end_session(text)

    def buildProtocol(self, addr) -> IMAPServer:
        protocol = IMAPServer(self.services, implicit_tls=self.implicit_tls)
        protocol.factory = self
        return protocol

    def close_connections(self) -> None:
        self.connections.close_all(IMAPServer.close_after_output)
