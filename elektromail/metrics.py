"""What GET /metrics shows: counters kept as plain dicts that hot paths bump (a dict increment,
no lock: everything runs on the one reactor thread), turned into Prometheus families only when
scraped, by a collector on a registry of the server's own (never prometheus_client's global
one: a test process runs many servers)."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator
from typing import Any

# Protocols whose sessions and commands are counted; a new one is one name here (its listener
# calls session_opened/closed and command), so it shows as zeros before its first session.
PROTOCOLS = ("smtp", "imap")

# Seconds. A command answered from memory takes tens of microseconds; a SEARCH over a large
# mailbox or a delayed rule seconds.
COMMAND_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
COMMAND_BUCKETS += (0.5, 1.0, 2.5, 5.0, 10.0)
TRANSACTION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
TRANSACTION_BUCKETS += (10.0, 30.0, 60.0)

# Command labels are the command tables' names; anything else counts as this one, so a client
# cannot grow the label set.
UNKNOWN = "UNKNOWN"


class Histogram:
    """Counts per bucket (`le`, cumulative only when scraped) and the sum of what was seen."""

    __slots__ = ("buckets", "counts", "sum")

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)  # the last one: over the largest bucket (+Inf)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.buckets, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, int]]:
        out, total = [], 0
        for bound, n in zip((*self.buckets, float("inf")), self.counts, strict=True):
            total += n
            out.append(("+Inf" if bound == float("inf") else repr(bound), total))
        return out


class Metrics:
    """The server's counters. Each method is what one hot path calls."""

    def __init__(self) -> None:
        self.sessions: Counter[str] = Counter({p: 0 for p in PROTOCOLS})  # open now
        self.sessions_total: Counter[str] = Counter({p: 0 for p in PROTOCOLS})
        self.latency: dict[tuple[str, str], Histogram] = {}  # (protocol, command)
        self.transactions = Histogram(TRANSACTION_BUCKETS)  # SMTP MAIL to the DATA answer
        self.received: Counter[str] = Counter()  # protocol -> messages it took in
        self.received_bytes: Counter[str] = Counter()
        self.stored: Counter[str] = Counter()  # way (smtp, dsn, append, inject) -> messages
        self.stored_bytes: Counter[str] = Counter()
        self.refused: Counter[tuple[str, str, str]] = Counter()  # (protocol, class, status)
        self.bounced: Counter[str] = Counter()  # reason -> DSNs delivered
        self.errors: Counter[str] = Counter()  # kind -> count
        self.webhooks: Counter[str] = Counter()  # outcome (sent, failed, retried, dropped)
        self.webhook_queue = 0  # deliveries waiting or in flight
        self.store_size: tuple[int, int] | None = None  # (messages, bytes), set when scraped

    def session_opened(self, protocol: str) -> None:
        self.sessions[protocol] += 1
        self.sessions_total[protocol] += 1

    def session_closed(self, protocol: str) -> None:
        self.sessions[protocol] -= 1

    def command(self, protocol: str, name: str, seconds: float) -> None:
        """One command of `protocol` answered after `seconds`; its count is the histogram's."""
        histogram = self.latency.get((protocol, name))
        if histogram is None:
            histogram = self.latency[(protocol, name)] = Histogram(COMMAND_BUCKETS)
        histogram.counts[bisect_left(histogram.buckets, seconds)] += 1
        histogram.sum += seconds

    def message_received(self, protocol: str, size: int) -> None:
        self.received[protocol] += 1
        self.received_bytes[protocol] += size

    def message_stored(self, way: str, size: int) -> None:
        self.stored[way] += 1
        self.stored_bytes[way] += size

    def reply_refused(self, protocol: str, code: int, status: str | None) -> None:
        """A 4xx or 5xx reply: its class (`4xx`, `5xx`) and enhanced status code."""
        self.refused[(protocol, f"{code // 100}xx", status or str(code))] += 1

    def bounce(self, reason: str) -> None:
        self.bounced[reason] += 1

    def error(self, kind: str) -> None:
        self.errors[kind] += 1


class Collector:
    """A prometheus_client collector over one server's Metrics."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> list:
        return []  # no families at registration: collect() is asked only when scraped

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        m = self.metrics
        family = GaugeMetricFamily(
            "elektromail_sessions_open", "Sessions open now, by protocol", labels=["protocol"]
        )
        for protocol, n in sorted(m.sessions.items()):
            family.add_metric([protocol], n)
        yield family
        family = CounterMetricFamily(
            "elektromail_sessions", "Sessions opened since start, by protocol", labels=["protocol"]
        )
        for protocol, n in sorted(m.sessions_total.items()):
            family.add_metric([protocol], n)
        yield family
        commands = CounterMetricFamily(
            "elektromail_commands",
            "Commands answered, by protocol and command",
            labels=["protocol", "command"],
        )
        latency = HistogramMetricFamily(
            "elektromail_command_duration_seconds",
            "Time from a command's arrival to its answer",
            labels=["protocol", "command"],
        )
        for (protocol, name), histogram in sorted(m.latency.items()):
            commands.add_metric([protocol, name], histogram.count)
            latency.add_metric([protocol, name], histogram.cumulative(), histogram.sum)
        yield commands
        yield latency
        family = HistogramMetricFamily(
            "elektromail_smtp_transaction_duration_seconds",
            "SMTP transactions, from MAIL to the answer to the message",
        )
        family.add_metric([], m.transactions.cumulative(), m.transactions.sum)
        yield family
        yield _counter(
            "elektromail_messages_received",
            "Messages received, by protocol (before delivery rules and storage)",
            "protocol",
            m.received,
        )
        yield _counter(
            "elektromail_received_bytes",
            "Bytes of the messages received, by protocol",
            "protocol",
            m.received_bytes,
        )
        yield _counter(
            "elektromail_messages_stored",
            "Messages stored, by the way they came (smtp, dsn, append, inject)",
            "way",
            m.stored,
        )
        yield _counter(
            "elektromail_stored_bytes",
            "Bytes of the messages stored, by the way they came",
            "way",
            m.stored_bytes,
        )
        family = CounterMetricFamily(
            "elektromail_replies_refused",
            "Refusing replies (4xx temporary, 5xx permanent), by enhanced status code",
            labels=["protocol", "class", "status"],
        )
        for (protocol, cls, status), n in sorted(m.refused.items()):
            family.add_metric([protocol, cls, status], n)
        yield family
        yield _counter(
            "elektromail_messages_bounced",
            "DSNs (bounces) delivered to senders, by reason (rule, quota)",
            "reason",
            m.bounced,
        )
        yield _counter("elektromail_errors", "Errors, by kind", "kind", m.errors)
        yield _counter(
            "elektromail_webhooks",
            "Webhook deliveries, by outcome (sent, failed after the last attempt, retried,"
            " dropped: the queue was full)",
            "outcome",
            m.webhooks,
        )
        yield GaugeMetricFamily(
            "elektromail_webhook_queue", "Webhook deliveries waiting or in flight", m.webhook_queue
        )
        if m.store_size is not None:
            messages, octets = m.store_size
            yield GaugeMetricFamily("elektromail_store_messages", "Messages stored now", messages)
            yield GaugeMetricFamily("elektromail_store_bytes", "Bytes stored now", octets)


def _counter(name: str, text: str, label: str, counts: Counter[str]) -> Any:
    from prometheus_client.core import CounterMetricFamily

    family = CounterMetricFamily(name, text, labels=[label])
    for value, n in sorted(counts.items()):
        family.add_metric([value], n)
    return family


def exposition(metrics: Metrics) -> bytes:
    """The Prometheus text format of `metrics`, from a registry of its own."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Collector(metrics))
    return generate_latest(registry)
