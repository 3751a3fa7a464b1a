"""POP3 end to end with Python's poplib (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034
SASL), and the maildrop lock, UIDL and the UPDATE state through the one door."""

from __future__ import annotations

import base64
import hashlib
import imaplib
import poplib
import socket
import ssl

import pytest

from elektromail.testing import MailServer

MESSAGE = (
    b"From: a@example.org\r\nTo: user@example.org\r\nSubject: hi\r\n\r\n"
    b"line one\r\n.dot line\r\n..two dots\r\nlast\r\n"
)


@pytest.fixture
def server():
    with MailServer(users="user:pass,alice:wonder") as mail:
        yield mail


def connect(server: MailServer) -> poplib.POP3:
    return poplib.POP3(server.host, server.pop3_port, timeout=10)


def logged_in(server: MailServer) -> poplib.POP3:
    pop = connect(server)
    pop.user("user")
    pop.pass_("pass")
    return pop


def test_capa_lists_rfc2449_capabilities(server):
    pop = connect(server)
    caps = pop.capa()
    for name in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "USER", "STLS"):
        assert name in caps
    assert caps["SASL"] == ["PLAIN", "LOGIN"]
    assert caps["EXPIRE"] == ["NEVER"]
    assert caps["IMPLEMENTATION"] == ["elektromail"]
    pop.quit()


def test_retr_returns_the_stored_bytes_dot_stuffed_on_the_wire(server):
    server.inject("user", MESSAGE)
    pop = logged_in(server)
    assert pop.stat() == (1, len(MESSAGE))
    resp, lines, _octets = pop.retr(1)  # poplib removes the dot-stuffing
    assert b"\r\n".join(lines) + b"\r\n" == MESSAGE
    assert resp.startswith(b"+OK")
    pop.quit()


def test_retr_on_the_wire_is_dot_stuffed(server):
    server.inject("user", MESSAGE)
    with socket.create_connection((server.host, server.pop3_port), timeout=10) as s:
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"USER user\r\nPASS pass\r\nRETR 1\r\n")
        f.readline(), f.readline()
        assert f.readline().startswith(b"+OK")
        body = b""
        while not body.endswith(b"\r\n.\r\n"):
            body += f.readline()
    assert body == MESSAGE.replace(b"\r\n.", b"\r\n..") + b".\r\n"


def test_list_uidl_top_and_sizes(server):
    uid1 = server.inject("user", MESSAGE)
    uid2 = server.inject("user", b"Subject: two\r\n\r\nbody\r\n")
    pop = logged_in(server)
    _, listing, _ = pop.list()
    assert listing == [b"1 %d" % len(MESSAGE), b"2 %d" % len(b"Subject: two\r\n\r\nbody\r\n")]
    assert pop.list(2).startswith(b"+OK 2 ")
    with imaplib.IMAP4(server.host, server.imap_port) as imap:
        imap.login("user", "pass")
        _typ, _data = imap.select("INBOX")
        uidvalidity = int(imap.response("UIDVALIDITY")[1][0])
    _, uidls, _ = pop.uidl()
    # Dovecot's default pop3_uidl_format %08Xu%08Xv: IMAP UID, then UIDVALIDITY
    assert uidls == [b"1 %08X%08X" % (uid1, uidvalidity), b"2 %08X%08X" % (uid2, uidvalidity)]
    _, top, _ = pop.top(1, 1)
    assert top == [
        b"From: a@example.org",
        b"To: user@example.org",
        b"Subject: hi",
        b"",
        b"line one",
    ]
    _, top0, _ = pop.top(1, 0)
    assert top0[-1] == b"" and b"line one" not in top0
    pop.quit()


def test_dele_rset_and_update_expunge_seen_by_imap(server):
    server.inject("user", MESSAGE)
    server.inject("user", b"Subject: two\r\n\r\nbody\r\n")
    imap = imaplib.IMAP4(server.host, server.imap_port)
    imap.login("user", "pass")
    imap.select("INBOX")
    pop = logged_in(server)
    pop.dele(1)
    assert pop.stat()[0] == 1
    with pytest.raises(poplib.error_proto, match="deleted"):
        pop.retr(1)
    pop.rset()
    assert pop.stat()[0] == 2
    pop.dele(1)
    assert pop.quit().startswith(b"+OK")
    imap.noop()
    assert imap.untagged_responses.get("EXPUNGE") == [b"1"]
    _typ, data = imap.uid("SEARCH", "ALL")
    assert data == [b"2"]
    imap.logout()


def test_quit_in_authorization_removes_nothing(server):
    server.inject("user", MESSAGE)
    pop = connect(server)
    pop.user("user")
    pop.quit()
    assert logged_in(server).stat()[0] == 1


def test_a_dropped_connection_removes_nothing(server):
    """RFC 1939 §6: without QUIT there is no UPDATE state."""
    server.inject("user", MESSAGE)
    pop = logged_in(server)
    pop.dele(1)
    pop.close()
    again = logged_in_retry(server)
    assert again.stat()[0] == 1
    again.quit()


def logged_in_retry(server):
    """Log in once the server has seen the earlier connection close (each `call` is a trip
    through the reactor, so this waits on the server's own progress, not on a clock)."""

    def open_count():
        return len(server._server().factories["pop3"].connections)

    for _ in range(1000):
        if server.call(open_count) == 0:
            return logged_in(server)
    raise AssertionError("the closed connection is still open on the server")


def test_maildrop_lock_answers_in_use(server):
    """RFC 1939 §8 lock; RFC 2449 §8.1.2 [IN-USE]."""
    first = logged_in(server)
    second = connect(server)
    second.user("user")
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
        second.pass_("pass")
    other = connect(server)
    other.user("alice")
    other.pass_("wonder")  # another user's maildrop is free
    other.quit()
    first.quit()
    second.user("user")
    second.pass_("pass")  # released at QUIT
    second.quit()


def test_wrong_password_gets_auth_code(server):
    pop = connect(server)
    pop.user("user")
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        pop.pass_("wrong")
    pop.quit()


def test_apop(server):
    pop = connect(server)
    assert pop.apop("user", "pass").startswith(b"+OK")
    pop.quit()
    pop = connect(server)
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        pop.apop("user", "nope")
    pop.quit()


def test_apop_digest_is_md5_of_timestamp_and_password(server):
    pop = connect(server)
    stamp = pop.welcome[pop.welcome.index(b"<") :]
    digest = hashlib.md5(stamp + b"pass").hexdigest()
    assert pop._shortcmd(f"APOP user {digest}").startswith(b"+OK")
    pop.quit()


def test_sasl_plain_with_initial_response(server):
    pop = connect(server)
    token = base64.b64encode(b"\0user\0pass").decode()
    assert pop._shortcmd(f"AUTH PLAIN {token}").startswith(b"+OK")
    assert pop.stat() == (0, 0)
    pop.quit()


def test_sasl_plain_and_login_with_continuations(server):
    pop = connect(server)
    assert pop._shortcmd("AUTH PLAIN") == b"+ "
    assert pop._shortcmd(base64.b64encode(b"\0user\0pass").decode()).startswith(b"+OK")
    pop.quit()
    pop = connect(server)
    assert pop._shortcmd("AUTH LOGIN") == b"+ " + base64.b64encode(b"Username:")
    assert pop._shortcmd(base64.b64encode(b"user").decode()) == b"+ " + base64.b64encode(
        b"Password:"
    )
    assert pop._shortcmd(base64.b64encode(b"pass").decode()).startswith(b"+OK")
    pop.quit()


def test_sasl_failures(server):
    pop = connect(server)
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        pop._shortcmd("AUTH PLAIN " + base64.b64encode(b"\0user\0bad").decode())
    assert pop._shortcmd("AUTH PLAIN") == b"+ "
    with pytest.raises(poplib.error_proto, match="cancelled"):
        pop._shortcmd("*")
    with pytest.raises(poplib.error_proto, match="base64"):
        pop._shortcmd("AUTH PLAIN !!!")
    with pytest.raises(poplib.error_proto, match="Unsupported"):
        pop._shortcmd("AUTH CRAM-MD5")
    with pytest.raises(poplib.error_proto, match="Log in first"):
        pop.stat()  # still in the AUTHORIZATION state
    pop.quit()


def test_stls_then_login(server):
    pop = connect(server)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    pop.stls(context)
    assert "STLS" not in pop.capa()
    pop.user("user")
    pop.pass_("pass")
    pop.quit()


def test_plaintext_after_stls_is_discarded(server):
    """RFC 2595 §3.1 (as RFC 3207 §4.2 for SMTP): the plaintext sent with STLS is dropped."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((server.host, server.pop3_port), timeout=10) as raw:
        f = raw.makefile("rb")
        f.readline()
        raw.sendall(b"STLS\r\nUSER user\r\nPASS pass\r\n")
        assert f.readline().startswith(b"+OK")
        with context.wrap_socket(raw) as tls:
            tls.sendall(b"STAT\r\n")
            assert tls.recv(100).startswith(b"-ERR Log in first")


def test_pop3s_implicit_tls():
    with MailServer(pop3s_port=0) as server:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        pop = poplib.POP3_SSL(server.host, server.pop3s_port, context=context, timeout=10)
        assert "STLS" not in pop.capa()
        pop.user("user")
        pop.pass_("pass")
        pop.quit()


def test_auth_disabled_any_user():
    with MailServer(auth_disabled=True) as server:
        pop = connect(server)
        pop.user("someone")
        pop.pass_("whatever")
        assert pop.stat() == (0, 0)
        pop.quit()
        pop = connect(server)
        pop.apop("other", "x")
        pop.quit()


def test_pop3_off():
    with MailServer(pop3_port=None) as server:
        assert server.pop3_port is None


def test_another_sasl_mechanism_plugs_in_by_name(server):
    """The OAuth2 mechanisms register as PLAIN and LOGIN do (elektromail.pop3.server)."""
    from elektromail.pop3 import server as pop3_server

    async def shout(exchange, initial):
        answer = await exchange.challenge(b"who?")
        return await exchange.check_password(answer.decode(), "pass")

    pop3_server.register_mechanism("X-SHOUT", shout, enabled=lambda settings: True)
    try:
        pop = connect(server)
        assert pop.capa()["SASL"] == ["PLAIN", "LOGIN", "X-SHOUT"]
        assert pop._shortcmd("AUTH X-SHOUT") == b"+ " + base64.b64encode(b"who?")
        assert pop._shortcmd(base64.b64encode(b"user").decode()).startswith(b"+OK")
        pop.quit()
    finally:
        del pop3_server.MECHANISMS["X-SHOUT"]


def test_a_message_expunged_over_imap_meanwhile_is_an_error_not_a_crash(server):
    server.inject("user", MESSAGE)
    pop = logged_in(server)
    with imaplib.IMAP4(server.host, server.imap_port) as imap:
        imap.login("user", "pass")
        imap.select("INBOX")
        imap.store("1", "+FLAGS", "\\Deleted")
        imap.expunge()
    with pytest.raises(poplib.error_proto, match="removed"):
        pop.retr(1)
    assert pop.noop().startswith(b"+OK")
    pop.quit()


def test_imap_deleted_flag_is_still_listed_as_dovecot_does(server):
    server.inject("user", MESSAGE, flags=["\\Deleted"])
    pop = logged_in(server)
    assert pop.stat() == (1, len(MESSAGE))
    assert pop.quit().startswith(b"+OK Bye, 0 messages")
    again = logged_in_retry(server)
    assert again.stat()[0] == 1
    again.quit()
