"""postoffice/traffic.py: at most one summary line a minute of what was stored, by way in, and
nothing from a quiet server."""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.logger import capturedLogs, formatEvent

from elektromail.postoffice.traffic import WINDOW_SECONDS, Traffic


def summaries(traffic: Traffic, clock: Clock, *steps) -> list[str]:
    with capturedLogs() as events:
        for step in steps:
            step()
    return [formatEvent(e) for e in events]


def test_one_line_a_minute_sums_what_came_in_by_each_way():
    clock = Clock()
    traffic = Traffic(clock=clock)
    lines = summaries(
        traffic,
        clock,
        lambda: [traffic.count("smtp", 100) for _ in range(5)],
        lambda: traffic.count("append", 30),
        lambda: clock.advance(WINDOW_SECONDS - 1),
    )
    assert lines == []
    lines = summaries(traffic, clock, lambda: clock.advance(1))
    assert lines == [
        "stored 6 messages (530 bytes) in the last minute: 5 over SMTP, 1 by IMAP APPEND"
    ]


def test_a_quiet_server_logs_nothing_and_the_next_message_opens_a_new_window():
    clock = Clock()
    traffic = Traffic(clock=clock)
    lines = summaries(
        traffic,
        clock,
        lambda: traffic.count("inject", 10),
        lambda: clock.advance(WINDOW_SECONDS),
        lambda: clock.advance(10 * WINDOW_SECONDS),
        lambda: traffic.count("dsn", 20),
        lambda: clock.advance(WINDOW_SECONDS),
    )
    assert lines == [
        "stored 1 messages (10 bytes) in the last minute: 1 by HTTP inject",
        "stored 1 messages (20 bytes) in the last minute: 1 as DSNs",
    ]
    assert clock.getDelayedCalls() == []


def test_flush_at_shutdown_says_what_the_open_window_counted():
    clock = Clock()
    traffic = Traffic(clock=clock)
    lines = summaries(
        traffic,
        clock,
        lambda: traffic.count("smtp", 7),
        lambda: clock.advance(12),
        traffic.flush,
        traffic.flush,  # nothing more to say
    )
    assert lines == ["stored 1 messages (7 bytes) in the last 12 s: 1 over SMTP"]
    assert clock.getDelayedCalls() == []
