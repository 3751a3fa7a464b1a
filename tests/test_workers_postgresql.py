"""--workers 2 on a real PostgreSQL (a throwaway cluster): mail delivered through either
worker is read through either, with UIDs unique in the mailbox. Requires the PostgreSQL store;
skipped with the reason where it, psycopg or PostgreSQL itself is absent."""

from __future__ import annotations

import imaplib
import smtplib

import pytest

from tests.pgcluster import own_cluster
from tests.test_workers import PORTS, connection_owners, worker_pids

pytest.importorskip("psycopg", reason="psycopg is not installed (elektromail[postgresql])")


@pytest.fixture(scope="module")
def cluster():
    yield from own_cluster()


def test_mail_through_either_worker_is_read_through_either(child_server, cluster):
    db = cluster.new_database()
    server = child_server(["--workers", "2", *PORTS, "--db", db]).wait_ready(timeout=60)
    assert server.output.count(b"elektromail ready") == 1
    pids = set(worker_pids(server).values())
    senders = []
    for number in range(24):
        client = smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10)
        senders.append(client)
        body = f"Subject: {number}\r\n\r\nhello {number}\r\n"
        client.sendmail("app@example.com", ["user@example.com"], body)
    clients = {c.sock.getsockname()[1] for c in senders}
    owners = connection_owners(server.ports["smtp"], clients, pids)
    assert set(owners.values()) == pids  # both workers delivered
    for client in senders:
        client.quit()
    readers = [imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=10) for _ in range(24)]
    owners = connection_owners(
        server.ports["imap"], {r.sock.getsockname()[1] for r in readers}, pids
    )
    assert set(owners.values()) == pids  # both workers read
    for reader in readers:
        reader.login("user", "pass")
        assert reader.select("INBOX") == ("OK", [b"24"])
        _, data = reader.uid("SEARCH", "ALL")
        assert sorted(int(uid) for uid in data[0].split()) == list(range(1, 25))
        reader.logout()
