"""The relay client of issue 19: address checks, --relay-allow patterns, SMTP transparency over
the stored bytes, and a send into a second elektromail that must store exactly those bytes."""

from __future__ import annotations

import pytest

from elektromail import relay
from elektromail.testing import MailServer, call_in_reactor


@pytest.mark.parametrize(
    "value",
    [
        "",
        "bob",
        "bob@",
        "@x.test",
        "a\r\nRCPT TO:<x@y>@x.test",
        "<bob@x.test>",
        "Bob <bob@x.test>",
        "bö@x.test",
        "a b@x.test",
        5,
        None,
        "x" * 250 + "@a.test",
    ],
    ids=repr,
)
def test_bad_addresses_are_refused(value):
    with pytest.raises(relay.AddressError):
        relay.check_address(value)


def test_null_reverse_path_only_when_allowed():
    assert relay.check_address("", allow_null=True) == ""
    assert relay.check_address("bob+tag@mail.example.com") == "bob+tag@mail.example.com"


@pytest.mark.parametrize(
    ("address", "patterns", "ok"),
    [
        ("bob@example.com", "*@example.com", True),
        ("bob@EXAMPLE.com", "*@example.com", True),
        ("bob@evil.com", "*@example.com", False),
        ("bob@a.test", "*.test", True),
        ("bob@test", "*.test", False),
        ("bob@x.org", "", True),
        ("bob@x.org", "*.test,bob@x.org", True),
    ],
)
def test_allow_patterns(address, patterns, ok):
    assert relay.allowed(address, relay.parse_allow(patterns)) is ok


def test_stuffing_doubles_leading_dots_and_keeps_every_other_byte():
    # RFC 5321 §4.5.2: "If it is a period, one additional period is inserted"
    raw = b".first\r\nSubject: x\r\n\r\n.\r\n..two\r\n\xe9 8-bit\r\nlast"
    assert (
        relay.stuffed(raw) == b"..first\r\nSubject: x\r\n\r\n..\r\n...two\r\n\xe9 8-bit\r\nlast\r\n"
    )


def test_release_into_a_second_server_stores_the_same_bytes():
    raw = (
        b"From: a@x.test\r\nTo: bob@localhost\r\nSubject: dots\r\n\r\n"
        b".\r\n..x\r\n.leading\r\n\xc3\xa9\xff 8-bit\r\n" + b"y" * 20000 + b"\r\n.\r\nend\r\n"
    )
    with MailServer(users="bob:pw", http_port=None, imap_port=None) as upstream:
        outcome = call_in_reactor(
            relay.send,
            _reactor(),
            upstream.host,
            upstream.smtp_port,
            "a@x.test",
            ["bob@localhost"],
            raw,
        )
        assert [r[:2] for r in outcome.recipients] == [("bob@localhost", 250)]
        [got] = upstream.wait_for_messages(1, user="bob")
        assert got["raw"] == raw


def test_refused_recipient_gives_the_upstream_code():
    from twisted.mail.smtp import SMTPDeliveryError

    rules = [{"recipient": "nobody@*", "action": "reject", "code": 550}]
    with MailServer(users="bob:pw", http_port=None, imap_port=None, dsn_rules=rules) as upstream:
        with pytest.raises(SMTPDeliveryError) as caught:
            call_in_reactor(
                relay.send,
                _reactor(),
                upstream.host,
                upstream.smtp_port,
                "a@x.test",
                ["nobody@elsewhere.invalid"],
                b"Subject: x\r\n\r\nbody\r\n",
            )
        assert caught.value.code == 550  # the upstream's RCPT reply


def test_closed_port_is_a_connection_error():
    from twisted.mail.smtp import SMTPConnectError

    with MailServer(users="bob:pw", http_port=None, imap_port=None) as upstream:
        port = upstream.smtp_port
    with pytest.raises(SMTPConnectError):
        call_in_reactor(
            relay.send, _reactor(), "127.0.0.1", port, "a@x.test", ["b@x.test"], b"x\r\n"
        )


def _reactor():
    from elektromail.testing import reactor_in_thread

    return reactor_in_thread()


def test_starttls_and_auth_into_a_server_that_requires_them():
    from twisted.internet.ssl import CertificateOptions

    raw = b"Subject: tls\r\n\r\n.dot\r\n"
    # Our generated certificate is self-signed: this test tells the client not to verify it.
    context = CertificateOptions(verify=False)
    with MailServer(users="relay:secret", http_port=None, imap_port=None, require_auth=True) as up:
        call_in_reactor(
            relay.send,
            _reactor(),
            up.host,
            up.smtp_port,
            "a@x.test",
            ["relay@localhost"],
            raw,
            user="relay",
            password="secret",
            tls_context=context,
            starttls=True,
        )
        [got] = up.wait_for_messages(1, user="relay")
        assert got["raw"] == raw


def test_an_upstream_that_never_answers_times_out_on_the_clock():
    from twisted.internet import defer, protocol
    from twisted.internet.task import Clock

    clock = Clock()
    connected = defer.Deferred()

    class Silent(protocol.Protocol):
        def connectionMade(self):
            connected.callback(None)

    async def run():
        reactor = _reactor()
        listening = reactor.listenTCP(
            0, protocol.Factory.forProtocol(Silent), interface="127.0.0.1"
        )
        try:
            d = relay.send(
                reactor,
                "127.0.0.1",
                listening.getHost().port,
                "a@x.test",
                ["b@x.test"],
                b"x\r\n",
                timeout=30,
                clock=clock,
            )
            await connected  # made on the real reactor; only the deadline is on the Clock
            clock.advance(30)
            try:
                await d
            except defer.TimeoutError:
                return "timed out"
            return "answered"
        finally:
            await listening.stopListening()

    assert call_in_reactor(run) == "timed out"
