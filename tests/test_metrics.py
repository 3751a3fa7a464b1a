"""The metrics core, pure: histograms put a value on a bucket's bound in that bucket (`le` is
"less or equal"), families come out as prometheus_client's parser reads them, and the labels of
every sample belong to its own count."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from elektromail.admission import Connections
from elektromail.metrics import COMMAND_BUCKETS, Histogram, Metrics, StoreSize, exposition


def samples(metrics: Metrics, store: StoreSize | None = None, names=()) -> dict:
    body, _ = exposition(metrics, store, None, names)
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_a_value_on_a_bound_counts_in_that_bucket():
    histogram = Histogram((0.1, 1.0))
    for value in (0.1, 0.5, 1.0, 3.0):
        histogram.observe(value)
    assert histogram.cumulative() == [("0.1", 1), ("1.0", 3), ("+Inf", 4)]
    assert histogram.count == 4 and histogram.sum == 4.6


def test_command_times_make_one_histogram_per_command():
    metrics = Metrics()
    times = metrics.commands("smtp")
    times.observe("MAIL", 0.0002)
    times.observe("MAIL", 20.0)
    times.observe("RCPT", COMMAND_BUCKETS[0])
    assert set(times) == {"MAIL", "RCPT"}
    got = samples(metrics)
    mail = (("command", "MAIL"), ("protocol", "smtp"))
    assert got[("elektromail_commands_total", mail)] == 2
    assert (
        got[
            (
                "elektromail_command_duration_seconds_bucket",
                (*mail[:1], ("le", "0.00025"), *mail[1:]),
            )
        ]
        == 1
    )
    assert (
        got[("elektromail_command_duration_seconds_bucket", (*mail[:1], ("le", "+Inf"), *mail[1:]))]
        == 2
    )
    rcpt = (("command", "RCPT"), ("le", "0.0001"), ("protocol", "smtp"))
    assert got[("elektromail_command_duration_seconds_bucket", rcpt)] == 1


def test_each_label_keeps_its_own_count_whatever_the_order_counted_in():
    metrics = Metrics()
    for protocol, times in (("pop3", 3), ("imap", 1), ("smtp", 2)):
        for _ in range(times):
            metrics.session_opened(protocol)
    metrics.session_closed("pop3")
    got = samples(metrics)
    assert got[("elektromail_sessions_total", (("protocol", "pop3"),))] == 3
    assert got[("elektromail_sessions_total", (("protocol", "imap"),))] == 1
    assert got[("elektromail_sessions_open", (("protocol", "pop3"),))] == 2
    metrics.reply_refused("smtp", 550, "5.1.1")
    metrics.reply_refused("smtp", 421, None)  # no enhanced code: the reply code stands in
    got = samples(metrics)
    refused = "elektromail_replies_refused_total"
    labels = (("class", "5xx"), ("code", "550"), ("protocol", "smtp"), ("status", "5.1.1"))
    assert got[(refused, labels)] == 1
    labels = (("class", "4xx"), ("code", "421"), ("protocol", "smtp"), ("status", "421"))
    assert got[(refused, labels)] == 1


def test_the_store_gauges_are_there_only_when_the_store_was_asked():
    assert not any(name.startswith("elektromail_store_") for name, _ in samples(Metrics()))
    got = samples(Metrics(), StoreSize(messages=2, octets=300, mailboxes=5, users=1))
    assert got[("elektromail_store_messages", ())] == 2
    assert got[("elektromail_store_bytes", ())] == 300
    assert got[("elektromail_store_mailboxes", ())] == 5
    assert got[("elektromail_store_users", ())] == 1


def test_names_pick_families_by_family_or_sample_name():
    got = samples(
        Metrics(), StoreSize(1, 1, 1, 1), ["elektromail_errors_total", "elektromail_store_users"]
    )
    assert {name for name, _ in got} == {"elektromail_errors_total", "elektromail_store_users"}


def test_connections_count_sessions_and_a_refused_one_never():
    metrics = Metrics()
    connections: Connections[str] = Connections("POP3", 1, metrics)
    assert connections.admit("a")
    assert not connections.admit("b")  # over the limit
    connections.forget("b")  # its connectionLost still runs
    assert metrics.sessions["pop3"] == 1 and metrics.sessions_total["pop3"] == 1
    connections.forget("a")
    connections.forget("a")
    assert metrics.sessions["pop3"] == 0
