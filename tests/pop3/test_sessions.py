"""What POP3 shares with IMAP: namespaces (`user@<ns>` logs in with the namespace's token),
the connection limit (--max-connections), and the idle timeouts (RFC 1939 §3: the autologout
timer closes the session without the UPDATE state)."""

from __future__ import annotations

import imaplib
import poplib

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from elektromail.config import Settings
from elektromail.pop3.server import POP3Factory
from elektromail.testing import MailServer


def test_namespace_user_logs_in_with_the_namespace_token():
    with MailServer() as server:
        postoffice = server.server.postoffice
        _namespace, token = server.call(postoffice.create_namespace, "team")
        with imaplib.IMAP4(server.host, server.imap_port) as imap:
            imap.login("alice@team", token)
            imap.append("INBOX", None, None, b"Subject: ns\r\n\r\nhello\r\n")
        pop = poplib.POP3(server.host, server.pop3_port, timeout=10)
        pop.user("alice@team")
        pop.pass_(token)
        assert pop.stat()[0] == 1
        pop.quit()
        pop = poplib.POP3(server.host, server.pop3_port, timeout=10)
        pop.user("alice@team")
        try:
            pop.pass_("not-the-token")
            raise AssertionError("logged in with a wrong token")
        except poplib.error_proto as e:
            assert b"[AUTH]" in e.args[0]
        pop.quit()


def test_connections_beyond_the_limit_are_refused():
    with MailServer(max_connections=2) as server:
        first = poplib.POP3(server.host, server.pop3_port, timeout=10)
        second = poplib.POP3(server.host, server.pop3_port, timeout=10)
        try:
            poplib.POP3(server.host, server.pop3_port, timeout=10)
            raise AssertionError("a third connection was admitted")
        except poplib.error_proto as e:
            assert e.args[0].startswith(b"-ERR [SYS/TEMP] Too many connections")
        first.quit()
        second.quit()


def protocol_on_clock(settings: Settings):
    factory = POP3Factory(postoffice=None, settings=settings, tls=None)
    protocol = factory.buildProtocol(None)
    clock = Clock()
    protocol.callLater = clock.callLater
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport, clock


def test_idle_before_login_times_out_with_the_imap_login_timeout():
    protocol, transport, clock = protocol_on_clock(Settings(imap_login_timeout=60))
    assert transport.value().startswith(b"+OK elektromail POP3 ready <")
    clock.advance(59)
    assert not transport.disconnecting
    protocol.dataReceived(b"CAPA\r\n")  # input resets the timer
    clock.advance(59)
    assert not transport.disconnecting
    clock.advance(2)
    assert transport.value().endswith(b"-ERR Autologout; idle for too long\r\n")
    assert transport.disconnecting


def _read_line(pop: poplib.POP3) -> bytes:
    return pop._getline()[0]


def test_a_reset_ends_logged_in_sessions_without_the_update_state():
    # As IMAP's sessions end with BYE [UNAVAILABLE]: the maildrop the session numbered is gone.
    with MailServer(users="user:pass,alice:wonder") as server:
        server.inject("user", b"Subject: one\r\n\r\nx\r\n")
        pop = poplib.POP3(server.host, server.pop3_port, timeout=10)
        pop.user("user")
        pop.pass_("pass")
        pop.dele(1)
        waiting = poplib.POP3(server.host, server.pop3_port, timeout=10)  # not logged in
        server.reset()
        assert _read_line(pop) == b"-ERR [SYS/TEMP] Server reset to its start state"
        assert pop.sock.recv(100) == b""  # closed
        assert waiting.user("user").startswith(b"+OK")  # before login: not ended
        waiting.quit()
        server.inject("user", b"Subject: after\r\n\r\ny\r\n")
        again = poplib.POP3(server.host, server.pop3_port, timeout=10)
        again.user("user")
        again.pass_("pass")  # the maildrop lock went with the session
        assert again.stat()[0] == 1  # the DELE of the old maildrop did not act
        again.quit()


def test_deleting_a_user_ends_only_that_users_session():
    with MailServer(users="user:pass,alice:wonder") as server:
        alice = poplib.POP3(server.host, server.pop3_port, timeout=10)
        alice.user("alice")
        alice.pass_("wonder")
        user = poplib.POP3(server.host, server.pop3_port, timeout=10)
        user.user("user")
        user.pass_("pass")
        server.delete_user("alice")
        assert _read_line(alice) == b"-ERR [SYS/TEMP] User deleted"
        assert user.stat() == (0, 0)
        user.quit()
