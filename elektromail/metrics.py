"""What GET /metrics shows: counters kept as plain dicts that hot paths bump (a dict increment,
no lock: everything runs on the one reactor thread), turned into Prometheus families only when
scraped, by a collector on a registry of the server's own (never prometheus_client's global
one: a test process runs many servers)."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

# Protocols whose sessions and commands are counted; a new one is one name here (its listener
# passes it to admission.Connections and times its commands), so it shows as zeros before its
# first session.
PROTOCOLS = ("smtp", "imap", "pop3")

# Seconds. A command answered from memory takes tens of microseconds; a SEARCH over a large
# mailbox or a delayed rule seconds.
COMMAND_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
COMMAND_BUCKETS += (0.5, 1.0, 2.5, 5.0, 10.0)
TRANSACTION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
TRANSACTION_BUCKETS += (10.0, 30.0, 60.0)

# Command labels are the command tables' names; anything else counts as this one, so a client
# cannot grow the label set.
UNKNOWN = "UNKNOWN"

# The kinds of elektromail_errors_total, listed so each shows (as 0) before it first happens.
ERROR_KINDS = (
    "command_failed",  # an unexpected exception while answering a command (a bug: logged)
    "store_unavailable",  # the store refused or failed a write or read (full, read-only, gone)
    "tls_handshake",  # a TLS handshake (STARTTLS or an implicit-TLS port) failed
)


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


class CommandTimes(dict[str, Histogram]):
    """One protocol's command latencies, by command name: what its listener holds on to, so
    timing a command is one dict lookup, a bisect and two additions (no tuple key, no object
    made after a command's first time)."""

    def observe(self, name: str, seconds: float) -> None:
        histogram = self.get(name)
        if histogram is None:
            histogram = self[name] = Histogram(COMMAND_BUCKETS)
        histogram.counts[bisect_left(COMMAND_BUCKETS, seconds)] += 1
        histogram.sum += seconds


@dataclass(frozen=True, slots=True)
class StoreSize:
    """What the store holds now, asked when scraped (not counted at each change)."""

    messages: int
    octets: int
    mailboxes: int
    users: int


@dataclass(frozen=True, slots=True)
class WebhookTotals:
    """Every --webhook-url's counts added up (the webhooks keep them; read when scraped)."""

    sent: int = 0
    failed: int = 0  # given up on: a 4xx, or every attempt failed
    dropped: int = 0  # pushed out of a full queue, or pending at shutdown
    skipped: int = 0  # the message was gone before its summary was read
    retries: int = 0
    waiting: int = 0  # queued or in flight now


class Metrics:
    """The server's counters. Each method is what one hot path calls. Nothing here is reset by
    POST /reset: Prometheus counters only go up while the process lives (a reset between tests
    is not a restart), and rate() over a scrape would otherwise see a counter reset."""

    def __init__(self) -> None:
        self.sessions: Counter[str] = Counter({p: 0 for p in PROTOCOLS})  # open now
        self.sessions_total: Counter[str] = Counter({p: 0 for p in PROTOCOLS})
        self.latency: dict[str, CommandTimes] = {p: CommandTimes() for p in PROTOCOLS}
        self.transactions = Histogram(TRANSACTION_BUCKETS)  # SMTP MAIL to the message's answer
        self.received: Counter[str] = Counter()  # protocol -> messages it took in
        self.received_bytes: Counter[str] = Counter()
        self.stored: Counter[str] = Counter()  # way (smtp, dsn, append, inject) -> messages
        self.stored_bytes: Counter[str] = Counter()
        self.refused: Counter[tuple[str, int, str]] = Counter()  # (protocol, code, status)
        self.bounced: Counter[tuple[str, str]] = Counter()  # (reason, status) -> recipients
        self.errors: Counter[str] = Counter({kind: 0 for kind in ERROR_KINDS})
        self.pruned = 0  # messages retention (--max-messages, --max-age) removed

    def session_opened(self, protocol: str) -> None:
        self.sessions[protocol] += 1
        self.sessions_total[protocol] += 1

    def session_closed(self, protocol: str) -> None:
        self.sessions[protocol] -= 1

    def commands(self, protocol: str) -> CommandTimes:
        """The latencies `protocol`'s listener records its commands in."""
        return self.latency[protocol]

    def message_received(self, protocol: str, size: int) -> None:
        self.received[protocol] += 1
        self.received_bytes[protocol] += size

    def message_stored(self, way: str, size: int) -> None:
        self.stored[way] += 1
        self.stored_bytes[way] += size

    def reply_refused(self, protocol: str, code: int, status: str | None) -> None:
        """A 4xx or 5xx reply, with its enhanced status code (none: the code again)."""
        self.refused[(protocol, code, status or str(code))] += 1

    def bounce(self, reason: str, status: str) -> None:
        """One recipient reported failed in a DSN: `reason` rule (a bounce rule) or quota."""
        self.bounced[(reason, status)] += 1

    def error(self, kind: str) -> None:
        self.errors[kind] += 1


class Collector:
    """A prometheus_client collector over one server's Metrics (and the store's size, when
    it was asked for this scrape)."""

    def __init__(
        self,
        metrics: Metrics,
        store: StoreSize | None = None,
        names: Iterable[str] = (),
        webhooks: WebhookTotals | None = None,
    ) -> None:
        self.metrics = metrics
        self.store = store
        self.webhooks = WebhookTotals() if webhooks is None else webhooks
        self.names = frozenset(names)  # only these families (by family or sample name), if any

    def describe(self) -> list:
        return []  # no families at registration: collect() is asked only when scraped

    def collect(self) -> Iterator[Any]:
        names = self.names
        for family in self._families():
            if not names or family.name in names or any(s.name in names for s in family.samples):
                yield family

    def _families(self) -> Iterator[Any]:
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
        yield _by_one(
            "elektromail_sessions",
            "Sessions admitted since start, by protocol",
            "protocol",
            m.sessions_total,
        )
        commands = CounterMetricFamily(
            "elektromail_commands",
            "Commands answered, by protocol and command",
            labels=["protocol", "command"],
        )
        latency = HistogramMetricFamily(
            "elektromail_command_duration_seconds",
            "Time from the start of a command to its answer",
            labels=["protocol", "command"],
        )
        for protocol, times in sorted(m.latency.items()):
            for name, histogram in sorted(times.items()):
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
        yield _by_one(
            "elektromail_messages_received",
            "Messages received, by protocol (before delivery rules and storage)",
            "protocol",
            m.received,
        )
        yield _by_one(
            "elektromail_received_bytes",
            "Bytes of the messages received, by protocol",
            "protocol",
            m.received_bytes,
        )
        yield _by_one(
            "elektromail_messages_stored",
            "Messages stored, by the way they came (smtp, dsn, append, inject), one per copy",
            "way",
            m.stored,
        )
        yield _by_one(
            "elektromail_stored_bytes",
            "Bytes of the messages stored, by the way they came",
            "way",
            m.stored_bytes,
        )
        refused = sorted(m.refused.items())
        yield _counter(
            "elektromail_replies_refused",
            "Refusing replies (class 4xx temporary, 5xx permanent), by reply code and"
            " enhanced status code",
            ["protocol", "class", "code", "status"],
            ((p, f"{code // 100}xx", str(code), status) for (p, code, status), _ in refused),
            (n for _, n in refused),
        )
        bounced = sorted(m.bounced.items())
        yield _counter(
            "elektromail_bounced_recipients",
            "Recipients reported failed in DSNs sent back to the sender, by reason (rule: a"
            " bounce delivery rule; quota: the user's mailbox is full) and status",
            ["reason", "status"],
            (key for key, _ in bounced),
            (n for _, n in bounced),
        )
        yield _by_one("elektromail_errors", "Errors, by kind", "kind", m.errors)
        yield CounterMetricFamily(
            "elektromail_messages_pruned",
            "Messages removed by retention (--max-messages, --max-age), oldest first",
            m.pruned,
        )
        w = self.webhooks
        outcomes = {"dropped": w.dropped, "failed": w.failed, "sent": w.sent, "skipped": w.skipped}
        yield _by_one(
            "elektromail_webhook_deliveries",
            "Webhook deliveries, every URL's, by outcome (sent; failed: a 4xx or every attempt"
            " failed; dropped: the queue was full, or at shutdown; skipped: the message was gone)",
            "outcome",
            Counter(outcomes),
        )
        yield CounterMetricFamily(
            "elektromail_webhook_retries", "Webhook attempts retried after a failure", w.retries
        )
        yield GaugeMetricFamily(
            "elektromail_webhook_queue", "Webhook deliveries waiting or in flight", w.waiting
        )
        if self.store is not None:
            s = self.store
            yield GaugeMetricFamily("elektromail_store_messages", "Messages stored now", s.messages)
            yield GaugeMetricFamily(
                "elektromail_store_bytes", "Bytes of the messages stored now", s.octets
            )
            yield GaugeMetricFamily("elektromail_store_mailboxes", "Mailboxes now", s.mailboxes)
            yield GaugeMetricFamily("elektromail_store_users", "Users now", s.users)


def _counter(
    name: str, text: str, labels: list[str], keys: Iterable[tuple[str, ...]], values: Iterable[int]
) -> Any:
    from prometheus_client.core import CounterMetricFamily

    family = CounterMetricFamily(name, text, labels=labels)
    for key, n in zip(keys, values, strict=True):
        family.add_metric(list(key), n)
    return family


def _by_one(name: str, text: str, label: str, counts: Counter[str]) -> Any:
    items = sorted(counts.items())
    return _counter(name, text, [label], ((k,) for k, _ in items), (n for _, n in items))


def exposition(
    metrics: Metrics,
    store: StoreSize | None = None,
    accept: str | None = None,
    names: Iterable[str] = (),
    webhooks: WebhookTotals | None = None,
) -> tuple[bytes, str]:
    """(body, Content-Type) of `metrics` in the format `accept` (an Accept header) asks for:
    Prometheus text, or OpenMetrics when asked; only the families `names` lists, if any (as
    prometheus_client's own handler takes `?name[]=`)."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import choose_encoder

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Collector(metrics, store, names, webhooks))
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
