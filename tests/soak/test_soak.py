"""The soak test (issue 9, "Load and concurrency"): 200 concurrent IMAP sessions selecting,
fetching, storing, appending and idling, while 20 SMTP connections deliver and the API injects
and lists, against `python -m elektromail` in a child process, twice; then what every client
was told is checked against what the server stored.

Sizes: the CI size (default) sends 4,000 SMTP messages and 400 injects per round; the full
size (`ELEKTROMAIL_SOAK=full`, or `--soak=full` with `pytest tests/soak`) sends the issue's
10,000 messages over 20 connections and 1,000 injects per round. Both keep 200 IMAP sessions,
50 of them idling, and 8 users with three mailboxes each. `bench/soak.py` runs the same load
with any parameters and prints its figures.

Each round starts from purged mailboxes; the first is the warm-up that "RSS before" is
measured after (why: `tests/soak/run.py`).
"""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.soak.load import Plan
from tests.soak.run import (
    HTTP_AGREES,
    IDLE,
    STORED_ONCE,
    UIDS,
    ServerProcess,
    soak,
    summary,
)

SIZES = {
    "ci": Plan(sessions=200, messages=4_000, connections=20, injects=400),
    "full": Plan(sessions=200, messages=10_000, connections=20, injects=1_000),
}
BUDGET = {"ci": 600, "full": 3600}  # seconds for the whole run: a hang fails, not blocks
RSS_SLACK = 0.20

# One run serves every test here: under pytest-xdist, `--dist loadgroup` keeps them on one
# worker (with plain `-n`, each worker that gets one of them runs the soak).
pytestmark = [pytest.mark.timeout(BUDGET["full"] + 300), pytest.mark.xdist_group("soak")]


@pytest.fixture(scope="module")
def soaked(soak_size: str, tmp_path_factory: pytest.TempPathFactory):
    """The soak run, once for the module: its report and the server's log."""
    plan = SIZES[soak_size]
    server = ServerProcess(plan.users, str(tmp_path_factory.mktemp("soak"))).start()
    try:
        report = asyncio.run(
            asyncio.wait_for(soak(plan, server.ports, server.pid), BUDGET[soak_size])
        )
    finally:
        server.stop()
    print(f"\nsoak ({soak_size} size):\n{summary(report)}")
    return report, server.log()


def test_every_planned_message_was_acknowledged(soaked):
    report, _ = soaked
    for done in report.rounds:
        plan, outcome = done.plan, done.outcome
        by_source = {"smtp": 0, "inject": 0}
        for ids in outcome.acked.values():
            for message_id in ids:
                source = message_id.split(".")[1]
                by_source[source] = by_source.get(source, 0) + 1
        # every tenth SMTP message goes to two users, stored once for each
        assert by_source["smtp"] == plan.messages + plan.messages // 10, summary(report)
        assert by_source["inject"] == plan.injects
        assert by_source.get("append", 0) > 0  # the sessions did append


def test_every_acknowledged_message_is_stored_exactly_once(soaked):
    report, _ = soaked
    assert report.problems(STORED_ONCE) == []


def test_uids_are_unique_and_increase_in_every_mailbox(soaked):
    report, _ = soaked
    assert report.problems(UIDS) == []


def test_the_api_lists_what_imap_shows(soaked):
    report, _ = soaked
    assert report.problems(HTTP_AGREES) == []


def test_every_idle_session_saw_every_exists(soaked):
    report, _ = soaked
    assert report.problems(IDLE) == []
    for done in report.rounds:
        idlers = round(done.plan.sessions * done.plan.idle_share)
        assert len(done.outcome.idle_seen) == idlers
        # each selected an empty mailbox: every message it counted was pushed while idling
        assert all(seen[0] == 0 for _, _, seen in done.outcome.idle_seen)
        # those on INBOX and Injected at least (Drafts gets only what sessions append)
        assert sum(1 for _, _, seen in done.outcome.idle_seen if seen[-1]) >= idlers * 2 // 3


def test_no_session_got_an_error_it_did_not_cause(soaked):
    report, _ = soaked
    assert report.errors == []


def test_rss_after_the_load_is_within_20_percent_of_before(soaked):
    report, _ = soaked
    assert report.rss_after <= report.rss_before * (1 + RSS_SLACK), summary(report)


def test_the_server_logged_no_failure(soaked):
    _, log = soaked
    failures = [
        line
        for line in log.splitlines()
        if re.search(r"#(error|critical|warn)\]|Traceback|Unhandled", line)
    ]
    assert failures == []
