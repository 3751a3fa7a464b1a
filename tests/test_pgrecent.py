"""\\Recent with two servers on one PostgreSQL database (issue 20): RFC 3501 §2.3.2 "the
message is recent in exactly one session, the first to be notified", whichever process that
session is in. The claim is made in the store, under the mailbox row's lock."""

from __future__ import annotations

import re
import threading

from tests.test_pgevents import _imap, _send, nodes  # noqa: F401 (a fixture)
from tests.test_postgresql import cluster, needs_postgresql  # noqa: F401 (a fixture)

RECENT = re.compile(rb"^\* (\d+) RECENT$")


def _recent_uids(client, tag: str) -> set[int]:
    client.send(f"{tag} UID FETCH 1:* (FLAGS)")
    lines = client.until(f"{tag} OK".encode())
    return {
        int(re.search(rb"UID (\d+)", line).group(1))
        for line in lines
        if b" FETCH " in line and b"\\Recent" in line
    }


def _wait_exists(client, tag: str, count: int) -> None:
    """IDLE until the session has been told of `count` messages (RFC 2177 §3)."""
    client.send(f"{tag} IDLE")
    seen = client.until(b"+ ")
    while not any(line == b"* %d EXISTS" % count for line in seen):
        seen = [client.line()]
    client.send("DONE")
    client.until(f"{tag} OK".encode())


@needs_postgresql
def test_each_delivery_is_recent_in_exactly_one_session_across_the_nodes(nodes):  # noqa: F811
    first, second, _ = nodes
    one, two = _imap(first.imap_port), _imap(second.imap_port)  # rev1 SELECTs, read-write
    for i in range(8):  # delivered through both nodes, in turn
        _send((first if i % 2 else second).smtp_port, f"m{i}")
    _wait_exists(one, "c", 8)
    _wait_exists(two, "c", 8)
    mine, theirs = _recent_uids(one, "d"), _recent_uids(two, "d")
    assert not mine & theirs, f"recent in both sessions: {sorted(mine & theirs)}"
    assert mine | theirs == set(range(1, 9))  # each in the first session told of it
    late = _imap(second.imap_port, select=None)
    late.send("e SELECT INBOX")
    assert b"* 0 RECENT" in late.until(b"e OK")  # all taken already
    for client in (one, two, late):
        client.close()


@needs_postgresql
def test_selects_on_two_nodes_at_once_share_out_the_recent_set_once(nodes):  # noqa: F811
    first, second, _ = nodes
    for i in range(5):
        _send(first.smtp_port, f"m{i}")
    clients = [_imap(port, select=None) for port in (first.imap_port, second.imap_port)]
    answers: list[list[bytes]] = [[], []]

    def select(i: int) -> None:
        clients[i].send("s SELECT INBOX")
        answers[i] = clients[i].until(b"s OK")

    threads = [threading.Thread(target=select, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    counts = [
        int(m.group(1)) for lines in answers for m in map(RECENT.match, lines) if m is not None
    ]
    assert sorted(counts) == [0, 5]
    recent = [_recent_uids(client, "f") for client in clients]
    assert sorted(map(len, recent)) == [0, 5]
    examine = _imap(second.imap_port, select=None)
    examine.send("x EXAMINE INBOX")
    assert b"* 0 RECENT" in examine.until(b"x OK")
    for client in (*clients, examine):
        client.close()


@needs_postgresql
def test_examine_sees_recent_messages_without_taking_them(nodes):  # noqa: F811
    """RFC 3501 §6.3.2: EXAMINE is read-only; as in Dovecot it does not take \\Recent, so a
    later SELECT on the other node still gets the messages as recent."""
    first, second, _ = nodes
    _send(first.smtp_port, "one")
    looker = _imap(first.imap_port, select=None)
    looker.send("x EXAMINE INBOX")
    assert b"* 1 RECENT" in looker.until(b"x OK")
    _send(second.smtp_port, "two")
    _wait_exists(looker, "y", 2)
    assert _recent_uids(looker, "z") == {1, 2}
    taker = _imap(second.imap_port, select=None)
    taker.send("s SELECT INBOX")
    assert b"* 2 RECENT" in taker.until(b"s OK")
    for client in (looker, taker):
        client.close()
