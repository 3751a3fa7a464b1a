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


# --- MAIL FROM parameters and the reply to the data, against a scripted upstream -----------

EIGHT_BIT = b"Subject: caf\xc3\xa9\r\n\r\n\xe9t\xe9\r\n.dot\r\n"


def _send_to(up, raw, **kwargs):
    return call_in_reactor(
        relay.send, _reactor(), "127.0.0.1", up.port, "a@x.test", ["b@x.test"], raw, **kwargs
    )


def test_8bit_mail_says_body_8bitmime_and_size_when_offered():
    # RFC 1652 §3 (RFC 6152): "BODY=8BITMIME" on MAIL FROM for a body with 8-bit octets;
    # RFC 1870 §6: "SIZE=" the message size, when the server offered SIZE.
    from tests.fake_smtp import FakeUpstream

    with FakeUpstream([b"8BITMIME", b"SIZE 1000000"]) as up:
        _send_to(up, EIGHT_BIT)
    assert up.mail_from() == b"MAIL FROM:<a@x.test> BODY=8BITMIME SIZE=%d" % len(EIGHT_BIT)
    assert up.messages == [EIGHT_BIT]


def test_7bit_mail_says_no_body_parameter():
    from tests.fake_smtp import FakeUpstream

    with FakeUpstream([b"8BITMIME"]) as up:
        _send_to(up, b"Subject: plain\r\n\r\nascii\r\n")
    assert up.mail_from() == b"MAIL FROM:<a@x.test>"


def test_8bit_mail_to_an_upstream_without_8bitmime_is_not_sent():
    # RFC 1652 §3: "the client SMTP must not, under any circumstances, attempt to transfer a
    # content which contains characters outside the US-ASCII octet range"; converting it to
    # 7 bits would change the stored bytes, so the release fails and says why.
    from tests.fake_smtp import FakeUpstream

    with FakeUpstream([b"SIZE 1000000"]) as up:
        with pytest.raises(relay.EightBitRefused) as caught:
            _send_to(up, EIGHT_BIT)
    assert b"8BITMIME" in caught.value.resp
    assert not any(line.upper().startswith(b"MAIL") for line in up.lines)
    assert up.messages == []


def test_the_reply_to_the_data_is_passed_back():
    from tests.fake_smtp import FakeUpstream

    with FakeUpstream(data_reply=b"250 2.0.0 Ok: queued as 4XyZ") as up:
        outcome = _send_to(up, b"Subject: x\r\n\r\ny\r\n")
    assert (outcome.code, outcome.message) == (250, "2.0.0 Ok: queued as 4XyZ")
    assert outcome.recipients == [("b@x.test", 250, "ok")]


def test_release_times_out_on_the_clock_with_504():
    from twisted.internet import protocol
    from twisted.internet.task import Clock

    from elektromail.testing import build_settings

    clock = Clock()

    async def run():
        reactor = _reactor()
        listening = reactor.listenTCP(
            0, protocol.Factory.forProtocol(protocol.Protocol), interface="127.0.0.1"
        )
        settings = build_settings(
            relay_host="127.0.0.1",
            relay_port=listening.getHost().port,
            relay_tls="none",
            relay_timeout="7",
        )
        try:
            d = defer_release(reactor, settings, clock)
            reactor.callLater(0.01, clock.advance, 7)  # the deadline passes on the Clock only
            try:
                await d
            except relay.ReleaseError as e:
                return e.status, e.message
        finally:
            await listening.stopListening()

    status, message = call_in_reactor(run)
    assert status == 504
    assert "within 7 s" in message


def defer_release(reactor, settings, clock):
    from twisted.internet import defer

    return defer.Deferred.fromCoroutine(
        relay.release(reactor, settings, b"x\r\n", "a@x.test", ["b@x.test"], clock=clock)
    )


@pytest.mark.parametrize(
    ("transcript", "raw", "expected"),
    [
        (
            {
                "mail_from": {"address": "app@x.test"},
                "recipients": [
                    {"address": "a@x.test", "accepted": True},
                    {"address": "gone@x.test", "accepted": False},
                    {"address": "a@x.test", "accepted": True},
                ],
            },
            b"To: other@x.test\r\n\r\n",
            ("app@x.test", ["a@x.test"]),
        ),
        (None, b"From: A <a@x.test>\r\nTo: b@x.test, C <c@x.test>\r\nCc: d@x.test\r\n\r\n", None),
        (None, b"Return-Path: <bounce@x.test>\r\nFrom: a@x.test\r\n\r\n", ("bounce@x.test", [])),
        (None, b"Subject: none\r\n\r\n", ("", [])),
    ],
    ids=["transcript", "headers", "return-path", "nothing"],
)
def test_original_envelope(transcript, raw, expected):
    if expected is None:
        expected = ("a@x.test", ["b@x.test", "c@x.test", "d@x.test"])
    assert relay.original_envelope(transcript, raw) == expected


@pytest.mark.parametrize(
    ("raw", "offset"),
    [
        (b"a\r\nb\r\n", None),
        (b"a\r\n\r\n", None),
        (b"a\nb\r\n", 1),
        (b"a\r\nx\n.\r\nMAIL FROM:<x@y>\r\n", 4),  # the smuggling shape
        (b"a\rb\r\n", 1),
        (b"ab\r", 2),
        (b"\n", 0),
    ],
)
def test_bare_cr_or_lf_is_found(raw, offset):
    # RFC 5321 §2.3.8: "SMTP client implementations MUST NOT transmit these characters
    # except when they are intended as line terminators"
    assert relay.bare_line_end(raw) == offset


# --- MailServer.release, the Python API of elektromail.testing ------------------------------


def _relaying(up, **more):
    return MailServer(
        users="user:pw",
        http_port=None,
        imap_port=None,
        pop3_port=None,
        relay_host="127.0.0.1",
        relay_port=up.smtp_port,
        relay_tls="none",
        **more,
    )


def test_mail_server_release_sends_the_bytes_and_gives_the_reply():
    import smtplib

    raw = b"To: user@x.test\r\nSubject: r\r\n\r\n.dot\r\n\xc3\xa9\r\n"
    with _upstream() as up, _relaying(up) as mail:
        with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as client:
            client.sendmail("app@x.test", ["user@x.test"], raw)
        [caught] = mail.wait_for_messages(1)
        out = mail.release(caught["uid"], to=["bob@localhost"])
        assert out["reply"]["code"] == 250 and out["from"] == "app@x.test"
        assert [r["address"] for r in out["recipients"]] == ["bob@localhost"]
        [got] = up.wait_for_messages(1, user="bob")
        assert got["raw"] == raw
        # Without `to`: the RCPT TO it came with (user@x.test reaches the upstream's user).
        again = mail.release(caught["uid"], user="user", sender="")
        assert [r["address"] for r in again["recipients"]] == ["user@x.test"]
        assert again["from"] == ""
        [got] = up.wait_for_messages(1, user="user")
        assert got["raw"] == raw


def test_mail_server_release_errors():
    rules = [{"recipient": "nobody@*", "action": "reject", "code": 550}]
    with _upstream(dsn_rules=rules) as up, _relaying(up, relay_allow="*@localhost") as mail:
        uid = mail.inject("user", b"Subject: x\r\n\r\ny\r\n")
        with pytest.raises(relay.ReleaseError) as caught:
            mail.release(uid, to=["nobody@localhost"])
        assert caught.value.status == 502 and caught.value.upstream[0] == 550
        assert caught.value.recipients[0][:2] == ("nobody@localhost", 550)
        with pytest.raises(relay.ReleaseError) as caught:
            mail.release(uid, to=["bob@elsewhere.test"])
        assert caught.value.status == 403
        with pytest.raises(relay.ReleaseError) as caught:
            mail.release(uid, to=["bob@localhost\r\nDATA"])
        assert caught.value.status == 400
        with pytest.raises(relay.ReleaseError) as caught:
            mail.release(uid)  # no transcript, no To or Cc: nobody to go back to
        assert caught.value.status == 400
        with pytest.raises(LookupError):
            mail.release(uid + 1, to=["bob@localhost"])
    with MailServer(http_port=None, imap_port=None, pop3_port=None) as plain:
        uid = plain.inject("user", b"To: a@x.test\r\n\r\ny\r\n")
        with pytest.raises(relay.ReleaseError) as caught:
            plain.release(uid)
        assert caught.value.status == 409


def _upstream(**settings):
    return MailServer(
        users="bob:pw,user:pw", http_port=None, imap_port=None, pop3_port=None, **settings
    )


def test_8bit_headers_say_smtputf8_when_offered():
    # RFC 6531 §3.4: "If the envelope or message being sent requires the capabilities of the
    # SMTPUTF8 extension, the SMTPUTF8-aware SMTP client MUST supply the SMTPUTF8 parameter"
    from tests.fake_smtp import FakeUpstream

    with FakeUpstream([b"8BITMIME", b"SMTPUTF8"]) as up:
        _send_to(up, EIGHT_BIT)  # its Subject has 8-bit bytes
    assert up.mail_from() == b"MAIL FROM:<a@x.test> BODY=8BITMIME SMTPUTF8"
    with FakeUpstream([b"8BITMIME", b"SMTPUTF8"]) as up:
        _send_to(up, b"Subject: plain\r\n\r\n\xc3\xa9 body only\r\n")
    assert up.mail_from() == b"MAIL FROM:<a@x.test> BODY=8BITMIME"
    with FakeUpstream([b"8BITMIME"]) as up:
        _send_to(up, EIGHT_BIT)  # no SMTPUTF8 offered: sent with BODY=8BITMIME, as Postfix does
    assert up.mail_from() == b"MAIL FROM:<a@x.test> BODY=8BITMIME"
    assert up.messages == [EIGHT_BIT]
