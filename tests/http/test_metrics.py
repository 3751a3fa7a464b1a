"""GET /metrics over real sockets, read back with prometheus_client's own parsers: the counters
move after SMTP, IMAP and POP3 sessions, refusals and bounces carry their reasons, sessions
open go up and back down, histograms have their buckets, POST /reset leaves counters alone,
the token rule, and bad input (HEAD, POST, query strings, Accept)."""

from __future__ import annotations

import imaplib
import poplib
import smtplib
import socket
import time
from collections.abc import Iterator

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_families
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import defer

from elektromail.store.errors import StoreUnavailable
from elektromail.testing import MailServer, call_in_reactor, reactor_in_thread
from tests.http.client import Api, Response
from tests.http.conftest import TOKEN, USERS
from tests.webhooks.receiver import Receiver, listen, url_of

RAW = b"From: ann@example.org\r\nTo: user@example.org\r\nSubject: hi\r\n\r\nHello\r\n"
DEADLINE = 10.0  # seconds a poll waits for the server to see a client leave


@pytest.fixture(scope="module")
def server() -> Iterator[MailServer]:
    """One server for the tests that only look at counters going up: each compares a scrape
    before and after what it does, so they need no server of their own."""
    with MailServer(users=USERS, http_port=0) as mail:
        yield mail


class Scrape:
    """One scrape's samples: `scrape["elektromail_commands_total", protocol="smtp", ...]`."""

    def __init__(self, response: Response) -> None:
        assert response.status == 200, response.body[:300]
        self.response = response
        self.text = response.body.decode("utf-8")
        self.families = {f.name: f for f in text_string_to_metric_families(self.text)}
        self.samples: dict[tuple[str, frozenset], float] = {}
        for family in self.families.values():
            for sample in family.samples:
                self.samples[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def value(self, name: str, **labels: str) -> float:
        """The sample's value; 0 when it is not there (a counter not yet moved)."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)


def scrape(mail: MailServer, token: str | None = None, target: str = "/metrics") -> Scrape:
    return Scrape(Api(mail, token).get(target))


def deliver(mail: MailServer, to: str = "user@example.org", sender: str = "ann@example.org"):
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as client:
        return client.sendmail(sender, [to], RAW)


def poll(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


# --- the format ------------------------------------------------------------------------------


def test_metrics_answer_the_prometheus_text_format(server):
    answer = Api(server).get("/metrics")
    assert answer.status == 200
    # The text format's media type, version 0.0.4 (what Prometheus asks for by default)
    assert answer.content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert answer.headers["Cache-Control"] == "no-store"
    families = Scrape(answer).families
    for name, kind in [
        ("elektromail_sessions_open", "gauge"),
        ("elektromail_sessions", "counter"),
        ("elektromail_commands", "counter"),
        ("elektromail_command_duration_seconds", "histogram"),
        ("elektromail_smtp_transaction_duration_seconds", "histogram"),
        ("elektromail_messages_received", "counter"),
        ("elektromail_received_bytes", "counter"),
        ("elektromail_messages_stored", "counter"),
        ("elektromail_stored_bytes", "counter"),
        ("elektromail_replies_refused", "counter"),
        ("elektromail_bounced_recipients", "counter"),
        ("elektromail_errors", "counter"),
        ("elektromail_store_messages", "gauge"),
        ("elektromail_store_bytes", "gauge"),
        ("elektromail_store_mailboxes", "gauge"),
        ("elektromail_store_users", "gauge"),
    ]:
        assert families[name].type == kind, name
        assert families[name].documentation, name


def test_every_protocol_and_error_kind_shows_before_it_is_used():
    with MailServer(users=USERS, http_port=0) as mail:
        first = scrape(mail)
    for protocol in ("smtp", "imap", "pop3"):
        assert ("elektromail_sessions_open", frozenset({("protocol", protocol)})) in first.samples
        assert ("elektromail_sessions_total", frozenset({("protocol", protocol)})) in first.samples
    for kind in ("command_failed", "store_unavailable", "tls_handshake"):
        assert ("elektromail_errors_total", frozenset({("kind", kind)})) in first.samples


def test_openmetrics_when_the_scraper_asks_for_it(server):
    answer = Api(server).get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert answer.status == 200
    assert answer.content_type.startswith("application/openmetrics-text")
    text = answer.body.decode()
    assert text.endswith("# EOF\n")
    names = {family.name for family in om_families(text)}
    assert {"elektromail_commands", "elektromail_store_messages"} <= names


# --- counters move ---------------------------------------------------------------------------


def test_an_smtp_delivery_moves_received_stored_commands_and_the_store(server):
    before = scrape(server)
    deliver(server)
    after = scrape(server)
    size = float(len(RAW))

    def moved(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert moved("elektromail_messages_received_total", protocol="smtp") == 1
    assert moved("elektromail_received_bytes_total", protocol="smtp") == size
    assert moved("elektromail_messages_stored_total", way="smtp") == 1
    assert moved("elektromail_stored_bytes_total", way="smtp") == size
    assert moved("elektromail_sessions_total", protocol="smtp") == 1
    for command in ("EHLO", "MAIL", "RCPT", "DATA", "QUIT"):
        assert moved("elektromail_commands_total", protocol="smtp", command=command) == 1
        count = "elektromail_command_duration_seconds_count"
        assert moved(count, protocol="smtp", command=command) == 1, command
    assert moved("elektromail_smtp_transaction_duration_seconds_count") == 1
    assert moved("elektromail_smtp_transaction_duration_seconds_sum") > 0
    assert moved("elektromail_store_messages") == 1
    assert moved("elektromail_store_bytes") == size


def test_an_imap_command_is_counted_by_name_and_an_unknown_one_as_unknown(server):
    before = scrape(server)
    with imaplib.IMAP4(server.host, server.imap_port, timeout=10) as client:
        client.login("user", "pass")
        client.select("INBOX")
        client.uid("FETCH", "1:*", "(FLAGS)")
        with pytest.raises(imaplib.IMAP4.error):
            client.xatom("FROBNICATE")
        client.logout()
    after = scrape(server)

    def moved(command: str) -> float:
        labels = {"protocol": "imap", "command": command}
        return after.value("elektromail_commands_total", **labels) - before.value(
            "elektromail_commands_total", **labels
        )

    assert moved("LOGIN") == 1
    assert moved("SELECT") == 1
    assert moved("UID FETCH") == 1
    assert moved("LOGOUT") == 1
    assert moved("UNKNOWN") == 1
    assert not any(
        labels == frozenset({("protocol", "imap"), ("command", "FROBNICATE")})
        for _, labels in after.samples
    ), "a client's command name must not become a label"


def test_a_pop3_login_is_counted(server):
    before = scrape(server)
    client = poplib.POP3(server.host, server.pop3_port, timeout=10)
    client.user("user")
    client.pass_("pass")
    client.stat()
    client.quit()
    after = scrape(server)
    for command in ("USER", "PASS", "STAT", "QUIT"):
        labels = {"protocol": "pop3", "command": command}
        name = "elektromail_commands_total"
        assert after.value(name, **labels) - before.value(name, **labels) == 1, command
    name = "elektromail_sessions_total"
    assert after.value(name, protocol="pop3") - before.value(name, protocol="pop3") == 1


def test_sessions_open_go_up_and_back_down(server):
    def open_now(protocol: str) -> float:
        return scrape(server).value("elektromail_sessions_open", protocol=protocol)

    idle = {p: open_now(p) for p in ("smtp", "imap", "pop3")}
    smtp = smtplib.SMTP(server.host, server.smtp_port, timeout=10)
    imap = imaplib.IMAP4(server.host, server.imap_port, timeout=10)
    pop = poplib.POP3(server.host, server.pop3_port, timeout=10)
    try:
        now = scrape(server)
        for protocol in ("smtp", "imap", "pop3"):
            assert now.value("elektromail_sessions_open", protocol=protocol) == idle[protocol] + 1
    finally:
        smtp.quit()
        imap.logout()
        pop.quit()
    for protocol in ("smtp", "imap", "pop3"):
        poll(lambda p=protocol: open_now(p) == idle[p], f"{protocol} sessions to close")


def test_an_smtp_session_refused_at_the_limit_is_not_open_and_says_421():
    with MailServer(users=USERS, http_port=0, max_connections=1) as mail:
        first = smtplib.SMTP(mail.host, mail.smtp_port, timeout=10)
        try:
            with socket.create_connection((mail.host, mail.smtp_port), timeout=10) as second:
                assert second.recv(512).startswith(b"421 4.3.2")
            now = scrape(mail)
            assert now.value("elektromail_sessions_open", protocol="smtp") == 1
            assert now.value("elektromail_sessions_total", protocol="smtp") == 1
            labels = {"protocol": "smtp", "class": "4xx", "code": "421", "status": "4.3.2"}
            assert now.value("elektromail_replies_refused_total", **labels) == 1
        finally:
            first.quit()


# --- refused and bounced, with their reasons -----------------------------------------------


def test_refusals_are_counted_by_class_code_and_status():
    with MailServer(users=USERS, http_port=0) as mail:
        mail.set_rules([{"action": "reject", "recipient": "nobody@*"}])
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            deliver(mail, to="nobody@example.org")
        with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as client:
            assert client.docmd("FROB")[0] == 500
            assert client.docmd("RCPT TO:<user@example.org>")[0] == 503
        now = scrape(mail)
    refused = "elektromail_replies_refused_total"
    assert now.value(refused, protocol="smtp", **{"class": "5xx"}, code="550", status="5.1.1") == 1
    assert now.value(refused, protocol="smtp", **{"class": "5xx"}, code="500", status="5.5.1") == 1
    assert now.value(refused, protocol="smtp", **{"class": "5xx"}, code="503", status="5.5.1") == 1
    assert now.value("elektromail_messages_received_total", protocol="smtp") == 0
    assert now.value("elektromail_commands_total", protocol="smtp", command="UNKNOWN") == 1


def test_a_temporary_refusal_is_class_4xx():
    with MailServer(users=USERS, http_port=0) as mail:
        mail.set_rules([{"action": "tempfail", "recipient": "later@*"}])
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            deliver(mail, to="later@example.org")
        now = scrape(mail)
    samples = [
        dict(labels)
        for (name, labels), value in now.samples.items()
        if name == "elektromail_replies_refused_total" and value == 1
    ]
    assert [s["class"] for s in samples] == ["4xx"], samples
    assert samples[0]["code"].startswith("4") and samples[0]["status"].startswith("4.")


def test_bounces_are_counted_by_reason_and_status():
    bounce = {"recipient": "bounce@*", "action": "bounce", "status": "5.2.2", "diagnostic": "Full"}
    with MailServer(users=USERS, http_port=0) as mail:
        mail.set_rules([bounce])
        deliver(mail, to="bounce@example.org", sender="alice@example.org")
        now = scrape(mail)
    assert now.value("elektromail_bounced_recipients_total", reason="rule", status="5.2.2") == 1
    assert now.value("elektromail_messages_stored_total", way="dsn") == 1  # the DSN itself
    assert now.value("elektromail_messages_stored_total", way="smtp") == 0


def test_a_bounce_to_the_null_sender_is_not_counted():
    bounce = {"recipient": "bounce@*", "action": "bounce"}
    with MailServer(users=USERS, http_port=0) as mail:
        mail.set_rules([bounce])
        deliver(mail, to="bounce@example.org", sender="")
        now = scrape(mail)
    bounced = [k for k in now.samples if k[0] == "elektromail_bounced_recipients_total"]
    assert bounced == []


def test_a_full_mailbox_bounces_with_reason_quota():
    with MailServer(users=USERS, http_port=0) as mail:
        mail.call(mail.server.postoffice.set_quota, "bob", None, 0)
        with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as client:
            client.ehlo()
            client.mail("alice@example.org")  # no SIZE=: RCPT cannot refuse bob yet
            assert client.rcpt("bob@example.org")[0] == 250
            assert client.rcpt("user@example.org")[0] == 250
            assert client.data(RAW)[0] == 250  # taken for user; bob's copy bounces (552 5.2.2)
        now = scrape(mail)
    assert now.value("elektromail_bounced_recipients_total", reason="quota", status="5.2.2") == 1


# How each protocol starts TLS: (its port's name, the lines to send, the go-ahead's start).
STARTTLS = {
    "smtp": ("smtp_port", [b"EHLO x\r\n", b"STARTTLS\r\n"], b"220 "),
    "imap": ("imap_port", [b"a STARTTLS\r\n"], b"a OK"),
    "pop3": ("pop3_port", [b"STLS\r\n"], b"+OK"),
}


@pytest.mark.parametrize("protocol", sorted(STARTTLS))
def test_a_failed_tls_handshake_is_an_error_of_its_kind(protocol):
    attribute, lines, go_ahead = STARTTLS[protocol]
    with MailServer(users=USERS, http_port=0) as mail:
        with socket.create_connection((mail.host, getattr(mail, attribute)), timeout=10) as raw:
            reader = raw.makefile("rb")
            reader.readline()  # the greeting
            for line in lines:
                raw.sendall(line)
            while not reader.readline().startswith(go_ahead):
                pass
            raw.sendall(b"this is no TLS ClientHello\r\n" * 4)
            assert reader.read() is not None  # the server hangs up
        poll(
            lambda: scrape(mail).value("elektromail_errors_total", kind="tls_handshake") == 1,
            "the handshake failure to be counted",
        )


def test_store_failures_are_errors_of_their_kind_in_every_protocol():
    with MailServer(users=USERS, http_port=0) as mail:
        mail.call(mail.server.store.simulate_read_only, True)
        with pytest.raises(smtplib.SMTPDataError) as refused:
            deliver(mail)
        assert refused.value.smtp_code == 451
        with imaplib.IMAP4(mail.host, mail.imap_port, timeout=10) as client:
            client.login("user", "pass")
            assert client.append("INBOX", None, None, RAW)[0] == "NO"
            client.logout()
        inject = Api(mail).post("/inject", {"user": "user", "raw": RAW.decode()})
        assert inject.status == 503
        mail.call(mail.server.store.simulate_read_only, False)
        now = scrape(mail)
    assert now.value("elektromail_errors_total", kind="store_unavailable") == 3
    assert now.value("elektromail_errors_total", kind="command_failed") == 0
    labels = {"protocol": "smtp", "class": "4xx", "code": "451", "status": "4.3.0"}
    assert now.value("elektromail_replies_refused_total", **labels) == 1


def test_without_the_store_the_counters_are_still_served():
    def gone():
        return defer.fail(StoreUnavailable("database is locked"))

    with MailServer(users=USERS, http_port=0) as mail:
        deliver(mail)
        mail.call(setattr, mail.server.postoffice, "store_size", gone)
        now = scrape(mail)
    assert now.value("elektromail_messages_stored_total", way="smtp") == 1
    assert now.value("elektromail_errors_total", kind="store_unavailable") == 1
    assert not [name for name in now.families if name.startswith("elektromail_store_")]


def test_messages_pruned_by_retention_are_counted():
    with MailServer(users=USERS, http_port=0, max_messages=1) as mail:
        for _ in range(3):
            deliver(mail)
        poll(
            lambda: scrape(mail).value("elektromail_messages_pruned_total") == 2,
            "retention to prune down to --max-messages",
        )
        now = scrape(mail)
    assert now.value("elektromail_store_messages") == 1
    assert now.value("elektromail_messages_stored_total", way="smtp") == 3


# --- webhooks --------------------------------------------------------------------------------


def test_webhook_deliveries_are_counted_by_outcome_without_their_urls():
    receiver = Receiver(script=[400])  # the first is refused (given up at once), then 200s
    port = call_in_reactor(listen, reactor_in_thread(), receiver)
    secret_url = url_of(port, "/hook/s3cret-path")
    try:
        with MailServer(users=USERS, http_port=0, webhook_urls=[secret_url]) as mail:
            assert scrape(mail).value("elektromail_webhook_deliveries_total", outcome="sent") == 0
            deliver(mail)
            deliver(mail)
            receiver.wait_for(2)

            def counted() -> bool:
                now = scrape(mail)
                sent = now.value("elektromail_webhook_deliveries_total", outcome="sent")
                failed = now.value("elektromail_webhook_deliveries_total", outcome="failed")
                return (sent, failed) == (1, 1)

            poll(counted, "both webhook outcomes to be counted")
            now = scrape(mail)
    finally:
        call_in_reactor(port.stopListening)
    assert now.value("elektromail_webhook_deliveries_total", outcome="dropped") == 0
    assert now.value("elektromail_webhook_queue") == 0
    assert "s3cret-path" not in now.text


# --- histograms ------------------------------------------------------------------------------


def test_histograms_have_cumulative_buckets_up_to_inf(server):
    deliver(server)
    now = scrape(server)
    for family_name, labels in [
        ("elektromail_command_duration_seconds", {"protocol": "smtp", "command": "MAIL"}),
        ("elektromail_smtp_transaction_duration_seconds", {}),
    ]:
        family = now.families[family_name]
        buckets = [
            s
            for s in family.samples
            if s.name.endswith("_bucket")
            and {k: v for k, v in s.labels.items() if k != "le"} == labels
        ]
        bounds = [float(s.labels["le"]) for s in buckets]
        assert len(bounds) > 10 and bounds == sorted(bounds) and bounds[-1] == float("inf")
        counts = [s.value for s in buckets]
        assert counts == sorted(counts), "buckets are cumulative"
        assert counts[-1] == now.value(f"{family_name}_count", **labels) >= 1


# --- reset -----------------------------------------------------------------------------------


def test_reset_leaves_the_counters_and_the_store_gauges_follow_the_store():
    with MailServer(users=USERS, http_port=0) as mail:
        deliver(mail)
        before = scrape(mail)
        assert before.value("elektromail_store_messages") == 1
        assert Api(mail).post("/reset").status == 200
        after = scrape(mail)
    # Prometheus counters only go up while the process lives: a reset between tests is no
    # restart, and a counter going down would read as one in rate().
    assert after.value("elektromail_messages_stored_total", way="smtp") == 1
    assert after.value("elektromail_messages_received_total", protocol="smtp") == 1
    assert after.value("elektromail_sessions_total", protocol="smtp") == 1
    assert after.value("elektromail_store_messages") == 0
    assert after.value("elektromail_store_bytes") == 0
    assert after.value("elektromail_store_users") == before.value("elektromail_store_users")


# --- the token rule ------------------------------------------------------------------------


def test_with_a_token_the_metrics_want_it_in_the_header(guarded):
    answer = Api(guarded).get("/metrics")
    assert answer.status == 401 and answer.error == "bearer token required"
    assert Api(guarded, "wrong").get("/metrics").status == 401
    # Not in the query: Prometheus sends a header, and a URL ends up in logs
    assert Api(guarded).get(f"/metrics?token={TOKEN}").status == 401
    assert scrape(guarded, TOKEN).value("elektromail_store_users") == 3


def test_a_namespace_token_is_refused_the_server_wide_metrics(guarded):
    made = Api(guarded, TOKEN).post("/namespaces", {"name": "team"})
    assert made.status == 201
    answer = Api(guarded, made.json()["token"]).get("/metrics")
    assert answer.status == 403 and "server's token" in answer.error


def test_without_a_token_configured_the_metrics_are_open(server):
    assert Api(server).get("/metrics").status == 200


# --- bad input -------------------------------------------------------------------------------


def test_head_answers_the_headers_without_a_body(server):
    answer = Api(server).request("HEAD", "/metrics", check=False)
    assert answer.status == 200
    assert answer.content_type.startswith("text/plain; version=0.0.4")
    assert answer.body == b""


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405_json(server, method):
    answer = Api(server).request(method, "/metrics", data=b"x", check=False)
    assert answer.status == 405
    assert "not allowed" in answer.error
    assert set(answer.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}


def test_name_picks_families_as_prometheus_client_does(server):
    picked = scrape(
        server, target="/metrics?name[]=elektromail_store_messages&name[]=elektromail_errors_total"
    )
    assert set(picked.families) == {"elektromail_store_messages", "elektromail_errors"}
    assert scrape(server, target="/metrics?name[]=no_such_metric").text == ""


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("name[]=", "1 to 200"),
        ("name[]=%FF", "ASCII"),
        ("name[]=" + "x" * 201, "1 to 200"),
        ("&".join(["name[]=a"] * 101), "at most 100"),
    ],
    ids=["empty-name", "not-ascii", "long-name", "too-many"],
)
def test_bad_query_strings_are_400(server, query, words):
    answer = Api(server).get(f"/metrics?{query}")
    assert answer.status == 400 and words in answer.error


def test_a_namespace_parameter_is_400_the_metrics_are_the_servers():
    with MailServer(users=USERS, http_port=0) as mail:
        assert Api(mail).post("/namespaces", {"name": "team"}).status == 201
        answer = Api(mail).get("/metrics?namespace=team")
        assert answer.status == 400 and "server-wide" in answer.error
        assert Api(mail).get("/metrics?namespace=nosuch").status == 404


def test_unknown_query_parameters_are_ignored(server):
    assert scrape(server, target="/metrics?debug=1&format=json&%00=x").families


def test_a_hostile_accept_header_gets_the_text_format(server):
    answer = Api(server).get("/metrics", headers={"Accept": "\x7f;;;,,application/json;q=x"})
    assert answer.status == 200 and answer.content_type.startswith("text/plain")
