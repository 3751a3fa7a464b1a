"""SMTP transcripts: what each message keeps of its transaction (GET /messages/{uid}/transcript)
and the ring of the latest transactions, accepted or refused (GET /transcripts), over real
sockets with smtplib and a raw client: TLS, AUTH (never a secret), pipelining, refusals, a
client that vanishes, several transactions in a session, and hostile input."""

from __future__ import annotations

import base64
import json
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from elektromail.testing import MailServer
from tests.smtp.wire import Wire, use_rules

USERS = "user:pass,alice:alice-pw,bob:s3cret-Pa55"
SECRET = "s3cret-Pa55"
MESSAGE = b"Subject: hello\r\nFrom: a@example.com\r\n\r\nbody line\r\n"


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with MailServer(users=USERS, imap_port=None, http_port=0) as server:
        yield server


@pytest.fixture
def start_mail() -> Iterator[Callable[..., MailServer]]:
    servers: list[MailServer] = []

    def start(**settings: Any) -> MailServer:
        settings.setdefault("users", USERS)
        settings.setdefault("imap_port", None)
        settings.setdefault("http_port", 0)
        servers.append(MailServer(**settings).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def get(mail: MailServer, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(mail.http_url + path, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def ring(mail: MailServer, query: str = "") -> list[dict[str, Any]]:
    status, body = get(mail, "/transcripts" + query)
    assert status == 200, body
    return body["transcripts"]


def wait_ring(mail: MailServer, count: int, query: str = "") -> list[dict[str, Any]]:
    """The ring once it holds `count` transcripts (a connection's end reaches it after the
    client has closed)."""
    deadline = time.monotonic() + 10
    while True:
        found = ring(mail, query)
        if len(found) >= count or time.monotonic() > deadline:
            return found


def message_transcript(mail: MailServer, uid: int = 1, user: str = "bob") -> dict[str, Any]:
    status, body = get(mail, f"/messages/{uid}/transcript?user={user}")
    assert status == 200, body
    return body


def texts(transcript: dict[str, Any], direction: str | None = None) -> list[str]:
    return [
        line["text"]
        for line in transcript["lines"]
        if direction is None or line["direction"] == direction
    ]


def client_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def send(mail: MailServer, *, tls: bool = False, login: tuple[str, str] | None = None, **kw):
    with smtplib.SMTP(mail.host, mail.smtp_port, local_hostname="client.test") as client:
        if tls:
            client.starttls(context=client_context())
        if login:
            client.login(*login)
        return client.sendmail("a@example.com", kw.get("to", ["bob@example.com"]), MESSAGE)


# --- accepted messages -------------------------------------------------------------------


def test_a_message_keeps_its_transaction_with_client_facts_and_replies(mail):
    send(mail, to=["bob@example.com", "alice@example.com"])
    t = message_transcript(mail)
    assert t["outcome"] == "accepted"
    assert t["client"]["address"] == "127.0.0.1" and 0 < t["client"]["port"] < 65536
    assert t["helo"] == "client.test" and t["esmtp"] is True
    assert t["tls"] is None and t["auth"] is None
    assert t["mail_from"]["address"] == "a@example.com"
    assert t["mail_from"]["parameters"] == {"SIZE": str(len(MESSAGE))}
    assert t["mail_from"]["reply"].startswith("250 2.1.0")
    assert [r["address"] for r in t["recipients"]] == ["bob@example.com", "alice@example.com"]
    assert all(r["accepted"] for r in t["recipients"])
    assert t["size"] == len(MESSAGE)
    lines = texts(t)
    assert lines[0].startswith("220 ")
    assert lines[1] == "ehlo client.test"
    assert "250-PIPELINING" in lines
    assert f"<{len(MESSAGE)} octets of message data>" in lines
    assert lines[-1].startswith("250 2.0.0")
    assert "body line" not in json.dumps(t)  # the data itself is not in it
    stamps = [line["ms"] for line in t["lines"]]
    assert stamps == sorted(stamps) and stamps[0] >= 0
    assert {line["direction"] for line in t["lines"]} == {"client", "server", "note"}
    # both copies share it
    assert message_transcript(mail, user="alice")["lines"] == t["lines"]


def test_accepted_message_also_appears_in_the_ring(mail):
    send(mail)
    (entry,) = ring(mail)
    assert entry["outcome"] == "accepted" and entry["reason"] is None and entry["id"] == 1
    assert texts(entry)[-1].startswith("250 2.0.0")
    assert texts(entry) == texts(message_transcript(mail))


def test_starttls_records_version_and_cipher(mail):
    send(mail, tls=True)
    t = message_transcript(mail)
    assert t["tls"]["version"].startswith("TLSv1.")
    assert t["tls"]["cipher"]
    lines = texts(t, "client")
    assert lines[:3] == ["ehlo client.test", "STARTTLS", "ehlo client.test"]


def test_implicit_tls_port_records_tls(start_mail):
    mail = start_mail(smtps_port=0)
    wire = Wire(mail._port("smtps"), tls=client_context())
    wire.command(b"EHLO tls.test")
    wire.command(b"MAIL FROM:<a@example.com>")
    wire.command(b"RCPT TO:<bob@example.com>")
    wire.command(b"DATA")
    assert wire.command(MESSAGE + b".").startswith(b"250")
    wire.close()
    assert message_transcript(mail)["tls"]["version"].startswith("TLSv1.")


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_auth_records_mechanism_and_user_never_the_secret(mail, mechanism):
    with smtplib.SMTP(mail.host, mail.smtp_port) as client:
        client.starttls(context=client_context())
        client.ehlo()
        client.user, client.password = "bob", SECRET
        code, _ = client.auth(mechanism, getattr(client, "auth_" + mechanism.lower()))
        assert code == 235
        client.sendmail("a@example.com", ["bob@example.com"], MESSAGE)
    t = message_transcript(mail)
    assert t["auth"] == {"mechanism": mechanism, "user": "bob"}
    forms = [
        SECRET,
        base64.b64encode(SECRET.encode()).decode(),
        base64.b64encode(b"\0bob\0" + SECRET.encode()).decode(),
        base64.b64encode(b"bob").decode(),  # LOGIN's first line is redacted as well
    ]
    for where in (json.dumps(t), json.dumps(ring(mail))):
        for form in forms:
            assert form not in where
    assert any(line.startswith(f"AUTH {mechanism}") for line in texts(t, "client"))


def test_failed_auth_session_is_kept_in_the_ring_without_the_password(mail):
    with smtplib.SMTP(mail.host, mail.smtp_port) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login("bob", "wrong-" + SECRET)
    (entry,) = wait_ring(mail, 1)
    assert entry["outcome"] == "refused"
    assert "535" in entry["reason"]
    assert SECRET not in json.dumps(entry)
    assert base64.b64encode(b"\0bob\0wrong-" + SECRET.encode()).decode() not in json.dumps(entry)


def test_refused_auth_commands_and_stray_sasl_lines_are_redacted_too(mail, open_wire):
    plain = base64.b64encode(b"\0bob\0" + SECRET.encode())
    password = base64.b64encode(SECRET.encode())
    wire = open_wire()
    wire.command(b"EHLO stray.test")
    assert wire.command(b"AUTH PLAIN " + plain).startswith(b"235")
    assert wire.command(b"AUTH PLAIN " + plain).startswith(b"503")  # refused: already in
    assert wire.command(b"AUTH X-UNKNOWN " + password)[:1] == b"5"
    assert wire.command(password).startswith(b"500")  # a SASL answer sent too late
    wire.command(b"MAIL FROM:<a@example.com>")
    wire.command(b"RCPT TO:<bob@example.com>")
    wire.command(b"DATA")
    assert wire.command(MESSAGE + b".").startswith(b"250")
    t = message_transcript(mail)
    for form in (SECRET, plain.decode(), password.decode()):
        assert form not in json.dumps(t)
    client = texts(t, "client")
    assert client.count("AUTH PLAIN <initial response redacted>") == 2
    assert "AUTH X-UNKNOWN <initial response redacted>" in client
    assert "<unrecognised line that looks like base64, redacted>" in client


def test_pipelined_commands_appear_in_order_with_their_replies(mail, open_wire):
    wire = open_wire()
    wire.command(b"EHLO pipe.test")
    wire.send(
        b"MAIL FROM:<a@example.com> BODY=8BITMIME\r\nRCPT TO:<bob@example.com> NOTIFY=NEVER\r\n"
        b"RCPT TO:<alice@example.com>\r\nDATA\r\n"
    )
    assert [r[:3] for r in wire.replies(4)] == [b"250", b"250", b"250", b"354"]
    assert wire.command(MESSAGE + b".").startswith(b"250")
    t = message_transcript(mail)
    pairs = [(line["direction"], line["text"][:4]) for line in t["lines"]]
    start = pairs.index(("client", "MAIL"))
    assert pairs[start:] == [
        ("client", "MAIL"),
        ("server", "250 "),
        ("client", "RCPT"),
        ("server", "250 "),
        ("client", "RCPT"),
        ("server", "250 "),
        ("client", "DATA"),
        ("server", "354 "),
        ("note", "<50 "),
        ("server", "250 "),
    ]
    assert t["mail_from"]["parameters"] == {"BODY": "8BITMIME"}
    assert t["recipients"][0]["parameters"] == {"NOTIFY": "NEVER"}


@pytest.fixture
def open_wire(mail: MailServer) -> Iterator[Callable[[], Wire]]:
    wires: list[Wire] = []

    def connect() -> Wire:
        wires.append(Wire(mail.smtp_port))
        return wires[-1]

    yield connect
    for wire in wires:
        wire.close()


def test_each_message_of_a_session_gets_its_own_transaction_and_the_preamble(mail, open_wire):
    wire = open_wire()
    wire.command(b"EHLO many.test")
    for n in range(3):
        wire.command(b"MAIL FROM:<sender%d@example.com>" % n)
        wire.command(b"RCPT TO:<bob@example.com>")
        wire.command(b"DATA")
        assert wire.command(MESSAGE + b".").startswith(b"250")
        wire.command(b"RSET")
        wire.command(b"NOOP")
    for uid in (1, 2, 3):
        t = message_transcript(mail, uid)
        client = texts(t, "client")
        assert client[0] == "EHLO many.test"
        mails = [line for line in client if line.startswith("MAIL")]
        assert mails == [f"MAIL FROM:<sender{uid - 1}@example.com>"]
        assert t["mail_from"]["address"] == f"sender{uid - 1}@example.com"
        # the RSET and NOOP after the previous message lead into this one, none of its lines
        assert client.count("RSET") == (0 if uid == 1 else 1)


def test_rset_mid_transaction_is_a_refused_transaction(mail, open_wire):
    wire = open_wire()
    wire.command(b"EHLO rset.test")
    wire.command(b"MAIL FROM:<a@example.com>")
    wire.command(b"RCPT TO:<bob@example.com>")
    wire.command(b"RSET")
    (entry,) = ring(mail)
    assert entry["outcome"] == "refused"
    assert "RSET" in entry["reason"]
    assert texts(entry, "client")[-1] == "RSET"


# --- refusals ----------------------------------------------------------------------------


def test_refused_rcpt_by_rule_shows_in_the_transcript_and_the_ring(mail, open_wire):
    use_rules(mail, [{"recipient": "nobody@*", "action": "reject"}])
    wire = open_wire()
    wire.command(b"EHLO rule.test")
    wire.command(b"MAIL FROM:<a@example.com>")
    assert wire.command(b"RCPT TO:<nobody@example.com>").startswith(b"550")
    assert wire.command(b"RCPT TO:<bob@example.com>").startswith(b"250")
    wire.command(b"DATA")
    assert wire.command(MESSAGE + b".").startswith(b"250")
    t = message_transcript(mail)
    refused, taken = t["recipients"]
    assert refused["address"] == "nobody@example.com" and refused["accepted"] is False
    assert refused["reply"].startswith("550")
    assert taken["accepted"] is True
    # all recipients refused: the transaction is refused when the client gives up
    wire.command(b"MAIL FROM:<a@example.com>")
    wire.command(b"RCPT TO:<nobody@example.com>")
    assert wire.command(b"DATA")[:1] == b"5"
    wire.command(b"QUIT")
    refused_entry = wait_ring(mail, 1, "?outcome=refused")[0]
    assert refused_entry["reason"].startswith("the client quit mid-transaction (QUIT), after 503")
    assert refused_entry["recipients"][0]["reply"].startswith("550")
    assert [e["outcome"] for e in ring(mail)] == ["refused", "accepted"]


def test_rcpt_over_quota_is_refused_in_the_transcript(start_mail):
    mail = start_mail(quota_storage="10")
    wire = Wire(mail.smtp_port)
    wire.command(b"EHLO quota.test")
    wire.command(b"MAIL FROM:<a@example.com> SIZE=5000")
    assert wire.command(b"RCPT TO:<bob@example.com>").startswith(b"552")
    wire.command(b"QUIT")
    wire.close()
    (entry,) = wait_ring(mail, 1)
    assert entry["outcome"] == "refused"
    assert entry["recipients"][0]["reply"].startswith("552")


def test_refused_mail_is_a_refused_transaction(start_mail):
    mail = start_mail(require_auth=True)
    wire = Wire(mail.smtp_port)
    wire.command(b"EHLO noauth.test")
    assert wire.command(b"MAIL FROM:<a@example.com>").startswith(b"530")
    assert wire.command(b"MAIL FROM:<a@example.com> BOGUS=1")[:1] == b"5"
    wire.close()
    entries = ring(mail)
    assert [e["outcome"] for e in entries] == ["refused", "refused"]
    assert entries[1]["reason"].startswith("530")
    assert entries[1]["mail_from"]["accepted"] is False
    assert texts(entries[1], "client") == ["EHLO noauth.test", "MAIL FROM:<a@example.com>"]


def test_message_over_the_size_limit_is_refused_with_its_size(start_mail):
    mail = start_mail(max_message_size=100)
    wire = Wire(mail.smtp_port)
    wire.command(b"EHLO big.test")
    wire.command(b"MAIL FROM:<a@example.com>")
    wire.command(b"RCPT TO:<bob@example.com>")
    wire.command(b"DATA")
    assert wire.command(b"x" * 50 + b"\r\n" + b"y" * 500 + b"\r\n.").startswith(b"552")
    wire.close()
    (entry,) = ring(mail)
    assert entry["outcome"] == "refused" and entry["reason"].startswith("552")
    assert any("discarded" in line for line in texts(entry, "note"))
    assert "yyyy" not in json.dumps(entry)


def test_client_vanishing_mid_data_is_a_refused_transaction(mail, open_wire):
    wire = open_wire()
    wire.command(b"EHLO gone.test")
    wire.command(b"MAIL FROM:<a@example.com>")
    wire.command(b"RCPT TO:<bob@example.com>")
    wire.command(b"DATA")
    wire.send(b"Subject: half\r\n\r\nhalf a mess")
    wire.close()
    (entry,) = wait_ring(mail, 1)
    assert entry["outcome"] == "refused"
    assert entry["reason"] == "the connection closed during DATA"
    assert "half" not in json.dumps(entry)


# --- messages without a transcript, and bad requests --------------------------------------


def test_injected_message_has_no_transcript_with_a_clear_reason(mail):
    mail.inject("bob", MESSAGE)
    status, body = get(mail, "/messages/1/transcript?user=bob")
    assert status == 404
    assert "no SMTP transcript" in body["error"] and "injected" in body["error"]


def test_dsn_bounce_has_no_transcript_and_says_so(mail, open_wire):
    use_rules(mail, [{"recipient": "bounce@*", "action": "bounce"}])
    wire = open_wire()
    wire.command(b"EHLO dsn.test")
    wire.command(b"MAIL FROM:<bob@example.com>")
    wire.command(b"RCPT TO:<bounce@example.com>")
    wire.command(b"DATA")
    assert wire.command(MESSAGE + b".").startswith(b"250")
    status, body = get(mail, "/messages/1/transcript?user=bob")
    assert status == 404
    assert "delivery status notification" in body["error"]


def test_transcript_of_missing_message_user_or_bad_uid(mail):
    send(mail)
    assert get(mail, "/messages/9/transcript?user=bob")[0] == 404
    assert "no user" in get(mail, "/messages/1/transcript?user=nobody")[1]["error"]
    assert "no mailbox" in get(mail, "/messages/1/transcript?user=bob&mailbox=Nope")[1]["error"]
    assert get(mail, "/messages/abc/transcript?user=bob")[0] == 400
    assert get(mail, "/messages/0/transcript?user=bob")[0] == 400


def test_transcript_follows_a_copy_and_goes_with_a_delete(mail):
    send(mail)
    assert get(mail, "/messages/1/transcript")[0] == 200  # the only user with mail
    urllib.request.urlopen(
        urllib.request.Request(mail.http_url + "/messages/1?user=bob", method="DELETE")
    )
    assert get(mail, "/messages/1/transcript?user=bob")[0] == 404


@pytest.mark.parametrize(
    "query",
    [
        "?limit=0",
        "?limit=1001",
        "?limit=x",
        "?offset=-1",
        "?outcome=maybe",
        "?outcome=",
        "?limit=1e3",
    ],
)
def test_listing_refuses_bad_parameters(mail, query):
    status, body = get(mail, "/transcripts" + query)
    assert status == 400 and "error" in body


def test_listing_pages_newest_first_and_filters(mail):
    for _ in range(3):
        send(mail)
    use_rules(mail, [{"recipient": "nobody@*", "action": "reject"}])
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(mail, to=["nobody@example.com"])
    entries = wait_ring(mail, 4)
    assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)
    assert [e["outcome"] for e in entries] == ["refused", "accepted", "accepted", "accepted"]
    status, page = get(mail, "/transcripts?limit=2&offset=1&outcome=accepted")
    assert status == 200 and page["total"] == 3 and page["kept"] == 1000
    assert [e["id"] for e in page["transcripts"]] == [e["id"] for e in entries[2:4]]
    assert get(mail, "/transcripts?offset=99")[1]["transcripts"] == []


def test_ring_is_bounded_by_its_setting_and_emptied_by_reset(start_mail):
    mail = start_mail(smtp_transcripts=2)
    for _ in range(3):
        send(mail)
    entries = ring(mail)
    assert [e["id"] for e in entries] == [3, 2]
    urllib.request.urlopen(urllib.request.Request(mail.http_url + "/reset", method="POST"))
    assert ring(mail) == []


def test_zero_turns_transcripts_off(start_mail):
    mail = start_mail(smtp_transcripts=0)
    send(mail)
    assert ring(mail) == []
    status, body = get(mail, "/messages/1/transcript?user=bob")
    assert status == 404 and "--smtp-transcripts 0" in body["error"]


def test_transcripts_survive_a_restart_with_a_database_file(tmp_path):
    db = str(tmp_path / "mail.db")
    with MailServer(users=USERS, imap_port=None, http_port=0, db=db) as mail:
        send(mail, tls=True)
        before = message_transcript(mail)
    with MailServer(users=USERS, imap_port=None, http_port=0, db=db) as mail:
        assert message_transcript(mail) == before
        assert ring(mail) == []  # the ring is in memory


# --- hostile input -----------------------------------------------------------------------


def test_very_long_lines_and_binary_garbage_are_shown_bounded_and_escaped(mail, open_wire):
    wire = open_wire()
    wire.command(b"EHLO hostile.test")
    assert wire.command(b"NOOP " + b"a" * 5000)[:3] == b"250"
    assert wire.command(b"X" * 20000)[:3] == b"500"  # over the line limit
    wire.command(b"\x00\x01\xff\xfe\x1b[31m garbage \\ \r")
    wire.command(b"MAIL FROM:<a@example.com>")
    wire.command(b"RCPT TO:<bob@example.com>")
    wire.command(b"DATA")
    assert wire.command(MESSAGE + b".").startswith(b"250")
    t = message_transcript(mail)
    client = texts(t, "client")
    noop = next(line for line in client if line.startswith("NOOP"))
    assert len(noop) < 1100 and "more octets" in noop
    assert "<command line over the length limit, discarded>" in texts(t, "note")
    garbage = next(line for line in client if "garbage" in line)
    assert garbage == "\\x00\\x01\\xff\\xfe\\x1b[31m garbage \\ \\x0d"
    assert len(json.dumps(t)) < 20000


def test_ten_thousand_commands_are_cut_with_a_note(mail, open_wire):
    wire = open_wire()
    wire.command(b"EHLO flood.test")
    wire.command(b"MAIL FROM:<a@example.com>")
    wire.send(b"RCPT TO:<bob@example.com>\r\n" + b"NOOP\r\n" * 10_000)
    wire.replies(10_001)
    wire.command(b"DATA")
    assert wire.command(MESSAGE + b".").startswith(b"250")
    t = message_transcript(mail)
    assert t["truncated"] is True
    assert len(t["lines"]) < 500
    assert "transcript cut" in t["lines"][-1]["text"]
    assert len(json.dumps(t)) < 64 * 1024
    (entry,) = ring(mail)
    assert entry["truncated"] is True


@pytest.mark.parametrize(
    ("sent", "reason"),
    [
        (b"BDAT 20\r\nSubject: half", "the connection closed during a BDAT chunk"),
        (b"BDAT 5\r\nhello", "the connection closed mid-transaction"),  # between chunks
    ],
)
def test_client_vanishing_mid_bdat_is_a_refused_transaction(mail, open_wire, sent, reason):
    wire = open_wire()
    wire.command(b"EHLO gone.test")
    wire.command(b"MAIL FROM:<a@example.com>")
    wire.command(b"RCPT TO:<bob@example.com>")
    wire.send(sent)
    if sent.endswith(b"hello"):
        assert wire.reply() == b"250 2.0.0 5 octets received\r\n"
    wire.close()
    (entry,) = wait_ring(mail, 1)
    assert entry["outcome"] == "refused" and entry["reason"] == reason
    assert "half" not in json.dumps(entry) and "hello" not in json.dumps(entry)
