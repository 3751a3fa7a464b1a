"""store/pending.py: a body stored unparsed is parsed once, by the first reader that needs its
structure, renderings or index, or by the idle-time backfill, and then reads exactly as a body
parsed before it was stored."""

from __future__ import annotations

import sqlite3

import pytest
from twisted.internet.task import Clock

from elektromail.imap.format import format_envelope, render_fetch_data
from elektromail.store import Store
from elektromail.store.db import BACKFILL_BATCH, IDLE_SECONDS
from elektromail.store.errors import StoreUnavailable
from elektromail.store.pending import parse_for
from elektromail.store.rows import prepare, unparsed
from tests.store.conftest import add_mailbox, add_user, message, run

RAW = message("quarterly numbers", "the budget is inside", sender="Ann <ann@example.com>")


def waiting(store: Store) -> int:
    """How many stored bodies wait for their parse."""
    sql = "SELECT count(*) FROM bodies WHERE structure = ''"
    return run(store._run, lambda cursor: cursor.execute(sql).fetchone()[0])


@pytest.fixture
def rendering_store(store: Store) -> Store:
    store.render = render_fetch_data
    return store


def test_an_unparsed_body_is_stored_at_once_and_parsed_by_the_first_fetch_that_needs_it(
    rendering_store,
):
    store = rendering_store
    box = add_mailbox(store, add_user(store))
    uid = run(store.append, box.id, unparsed(RAW))
    assert waiting(store) == 1
    [flags_only] = run(store.fetch, box.id, [uid])  # needs no parse
    assert flags_only.size == len(RAW) and waiting(store) == 1
    [row] = run(store.fetch, box.id, [uid], structure=True, rendered=True, raw=True)
    assert waiting(store) == 0
    expected = prepare(RAW, render_fetch_data)
    assert (row.structure, row.raw) == (expected.structure, RAW)
    assert (row.envelope, row.bodystructure, row.body) == expected.rendered


def test_a_fetch_parses_the_waiting_bodies_among_its_rows_and_only_those(rendering_store):
    """Parsed and waiting messages mixed, one body under two UIDs (a copy), and rendered
    columns alone: every row comes back parsed, in UID order, and nothing waits after."""
    store = rendering_store
    box = add_mailbox(store, add_user(store))
    other = message("parsed at delivery")
    first = run(store.append, box.id, prepare(other, render_fetch_data))
    waiting_uid = run(store.append, box.id, unparsed(RAW))
    _, copied = run(store.copy, box.id, [waiting_uid], box.id)
    copy_uid = copied[0][1]
    untouched = run(store.append, box.id, unparsed(message("not fetched")))
    assert waiting(store) == 2
    wanted = [first, waiting_uid, copy_uid]
    rows = run(store.fetch, box.id, wanted, rendered=True)
    assert [row.uid for row in rows] == wanted
    assert [(r.envelope, r.bodystructure, r.body) for r in rows] == [
        prepare(other, render_fetch_data).rendered,
        prepare(RAW, render_fetch_data).rendered,
        prepare(RAW, render_fetch_data).rendered,
    ]
    assert waiting(store) == 1  # the message not fetched still waits
    [row] = run(store.fetch, box.id, [untouched], structure=True)
    assert row.structure == prepare(message("not fetched"), render_fetch_data).structure
    assert waiting(store) == 0


def test_a_body_is_parsed_only_once(rendering_store, monkeypatch):
    store = rendering_store
    box = add_mailbox(store, add_user(store))
    uid = run(store.append, box.id, unparsed(RAW))
    parses = []
    import elektromail.store.pending as pending

    real = pending.prepare
    monkeypatch.setattr(pending, "prepare", lambda *a, **k: parses.append(1) or real(*a, **k))
    for _ in range(3):
        run(store.fetch, box.id, [uid], structure=True)
    run(store.list_messages)
    assert parses == [1]


def test_listing_and_text_search_parse_what_waits(rendering_store):
    store = rendering_store
    box = add_mailbox(store, add_user(store))
    run(store.append, box.id, unparsed(RAW))
    run(store.append, box.id, unparsed(message("other", "nothing here")))
    found = run(store.search_messages, None, None, "budget", False)
    assert [s.uid for s in found] == [1]
    assert waiting(store) == 0


def test_get_message_parses_its_own_body_only(rendering_store):
    store = rendering_store
    box = add_mailbox(store, add_user(store))
    run(store.append, box.id, unparsed(RAW))
    run(store.append, box.id, unparsed(message("other")))
    summary = run(store.get_message, "user", "INBOX", 2)
    assert '"other"' in summary.structure or "other" in summary.structure
    assert waiting(store) == 1


def test_expunging_an_unparsed_message_forgets_its_body(rendering_store):
    store = rendering_store
    box = add_mailbox(store, add_user(store))
    uid = run(store.append, box.id, unparsed(RAW, flags=("\\Deleted",)))
    run(store.expunge, box.id, [uid])
    assert waiting(store) == 0


def test_purge_forgets_the_waiting_bodies(rendering_store):
    store = rendering_store
    box = add_mailbox(store, add_user(store))
    run(store.append, box.id, unparsed(RAW))
    run(store.purge)
    assert waiting(store) == 0


def test_the_idle_store_parses_in_batches_once_nothing_arrived_for_a_while():
    clock = Clock()
    store = Store(clock=clock)
    store.render = render_fetch_data
    store.backfill_seconds = 60  # batches bounded by their count here (the next tests: time,
    store.backfill_makes_way = False  # and other work waiting for the store thread)
    run(store.open)
    try:
        box = add_mailbox(store, add_user(store))
        for n in range(BACKFILL_BATCH + 3):
            run(store.append, box.id, unparsed(message(f"m{n}")))
        run(clock.advance, IDLE_SECONDS)  # messages came since the last look: wait again
        assert waiting(store) == BACKFILL_BATCH + 3
        run(clock.advance, IDLE_SECONDS)  # quiet: one batch
        assert waiting(store) == 3
        run(clock.advance, 0)  # the next batch follows at once
        assert waiting(store) == 0
        assert clock.getDelayedCalls() == []
    finally:
        run(store.close)


def test_a_backfill_batch_stops_at_its_time_budget_and_the_next_goes_on():
    """A command that comes while a batch parses waits for it: a batch parses for at most
    `backfill_seconds` (one body at least), and the backfill goes on until none waits."""
    clock = Clock()
    store = Store(clock=clock)
    store.render = render_fetch_data
    store.backfill_seconds = 0  # every batch is cut after its first body
    store.backfill_makes_way = False
    run(store.open)
    try:
        box = add_mailbox(store, add_user(store))
        for n in range(4):
            run(store.append, box.id, unparsed(message(f"m{n}")))
        run(clock.advance, IDLE_SECONDS)  # stored since the last look: wait again
        run(clock.advance, IDLE_SECONDS)  # quiet: the first batch, one body
        assert waiting(store) == 3
        for left in (2, 1, 0):
            run(clock.advance, 0)  # the next batch follows at once
            assert waiting(store) == left
        run(clock.advance, 0)  # the last batch was cut too: one more look finds nothing
        assert clock.getDelayedCalls() == []
    finally:
        run(store.close)


def test_a_backfill_batch_makes_way_for_work_waiting_for_the_store_thread():
    """A SELECT or FETCH given to the store thread while a batch parses waits for one body's
    parse, not the batch: the batch stops, says more may wait, and the rest waits on."""
    store = Store(clock=Clock())  # no backfill of its own: the batches are the test's
    store.render = render_fetch_data
    run(store.open)
    try:
        box = add_mailbox(store, add_user(store))
        for n in range(3):
            run(store.append, box.id, unparsed(message(f"m{n}")))
        batch = run(store._run, parse_for, store.render, BACKFILL_BATCH, 60, lambda: True)
        assert batch == (1, True)
        assert waiting(store) == 2
        batch = run(store._run, parse_for, store.render, BACKFILL_BATCH, 60, lambda: False)
        assert batch == (2, False)
        assert waiting(store) == 0
    finally:
        run(store.close)


def test_a_file_reopened_with_waiting_bodies_parses_them_when_idle(tmp_path):
    path = str(tmp_path / "mail.db")
    store = Store(path, clock=Clock())
    run(store.open)
    box = add_mailbox(store, add_user(store))
    run(store.append, box.id, unparsed(RAW))
    run(store.close)
    clock = Clock()
    reopened = Store(path, clock=clock)
    run(reopened.open)
    try:
        run(clock.advance, IDLE_SECONDS)
        assert waiting(reopened) == 0
    finally:
        run(reopened.close)
    conn = sqlite3.connect(path)
    [(structure,)] = conn.execute("SELECT structure FROM bodies").fetchall()
    assert structure == prepare(RAW).structure
    conn.close()


def test_a_read_only_database_still_answers_reads_of_unparsed_bodies(rendering_store):
    """The parse cannot be stored, so each read parses for itself; the waiting body stays
    waiting, and the backfill stores nothing (and does not spin)."""
    store = rendering_store
    box = add_mailbox(store, add_user(store))
    uid = run(store.append, box.id, unparsed(RAW))
    run(store.simulate_read_only, True)
    try:
        [row] = run(store.fetch, box.id, [uid], structure=True, rendered=True)
        expected = prepare(RAW, render_fetch_data)
        assert row.structure == expected.structure
        assert (row.envelope, row.bodystructure, row.body) == expected.rendered
        [listed] = run(store.list_messages)
        assert listed.structure == expected.structure
        assert run(store.get_message, "user", "INBOX", uid).structure == expected.structure
        with pytest.raises(StoreUnavailable):
            run(store.search_messages, None, None, "budget", False)
        assert run(store.parse_pending) == 0
    finally:
        run(store.simulate_read_only, False)
    assert waiting(store) == 1
    assert run(store.parse_pending) == 1
    assert [s.uid for s in run(store.search_messages, None, None, "budget", False)] == [uid]


def index_rows(store: Store) -> tuple[int, int]:
    """(search_envelope rows, search_header rows): the SEARCH header index."""

    def count(cursor):
        envelope = cursor.execute("SELECT count(*) FROM search_envelope").fetchone()[0]
        return envelope, cursor.execute("SELECT count(*) FROM search_header").fetchone()[0]

    return run(store._run, count)


def test_imap_search_by_header_parses_the_mailbox_waiting_bodies_first(rendering_store):
    """The header index is written when a body is parsed: a SEARCH FROM/SUBJECT/HEADER/SENT*
    parses what waits in that mailbox, so mail acknowledged a moment ago is found."""
    store = rendering_store
    box = add_mailbox(store, add_user(store))
    other = add_mailbox(store, add_user(store, "other"))
    run(store.append, box.id, unparsed(RAW))
    run(store.append, box.id, unparsed(message("other", "nothing here")))
    run(store.append, other.id, unparsed(message("elsewhere", sender="ann@example.com")))
    assert index_rows(store) == (0, 0)
    assert run(store.search_uids, box.id, ("size", True, 1)) == [1, 2]  # needs no parse
    assert waiting(store) == 3
    assert run(store.search_uids, box.id, ("address", "from", "ann@example")) == [1]
    assert waiting(store) == 1  # only this mailbox's bodies
    assert index_rows(store)[0] == 2
    assert run(store.search_uids, box.id, ("subject", "quarterly")) == [1]
    assert run(store.search_uids, other.id, ("header", "subject", "elsewhere")) == [1]
    assert waiting(store) == 0


def test_imap_search_by_header_fails_temporarily_when_parses_cannot_be_stored(rendering_store):
    """A read-only database cannot take the index rows: the header SEARCH fails as the store
    being unavailable (NO [UNAVAILABLE] to the client) instead of missing the waiting mail."""
    store = rendering_store
    box = add_mailbox(store, add_user(store))
    run(store.append, box.id, unparsed(RAW))
    run(store.simulate_read_only, True)
    try:
        with pytest.raises(StoreUnavailable):
            run(store.search_uids, box.id, ("address", "from", "ann@example"))
        assert run(store.search_uids, box.id, ("size", True, 1)) == [1]
    finally:
        run(store.simulate_read_only, False)
    assert run(store.search_uids, box.id, ("address", "from", "ann@example")) == [1]


def test_a_body_parsed_later_gets_the_index_a_parsed_one_gets_at_delivery(rendering_store):
    store = rendering_store
    box = add_mailbox(store, add_user(store))

    def rows(cursor, body_id):
        return (
            cursor.execute(
                "SELECT subject, from_text, to_text, cc_text, bcc_text, sent"
                " FROM search_envelope WHERE body_id = ?",
                (body_id,),
            ).fetchall(),
            cursor.execute(
                "SELECT name, position, value FROM search_header WHERE body_id = ?"
                " ORDER BY position",
                (body_id,),
            ).fetchall(),
        )

    run(store.append, box.id, prepare(RAW, render_fetch_data))
    run(store.append, box.id, unparsed(RAW))
    assert run(store.parse_pending) == 1
    assert run(store._run, rows, 1) == run(store._run, rows, 2) != ([], [])


def test_a_fetch_that_saw_a_body_waiting_reads_it_when_another_process_parsed_it_meanwhile(
    rendering_store, monkeypatch
):
    """Processes sharing a PostgreSQL database: the body a FETCH found waiting was parsed and
    stored by another before this one took it (pending.py locks the bodies and leaves such
    ones out): the FETCH still answers with its parse."""
    from elektromail.store import db, pending

    store = rendering_store
    box = add_mailbox(store, add_user(store))
    uid = run(store.append, box.id, unparsed(RAW))

    def parsed_elsewhere(cursor, render, body_ids):
        pending.parse_bodies(cursor, render, body_ids)  # "the other process"
        return {}

    monkeypatch.setattr(db, "parse_bodies", parsed_elsewhere)
    [row] = run(store.fetch, box.id, [uid], structure=True, rendered=True)
    expected = prepare(RAW, render_fetch_data)
    assert row.structure == expected.structure
    assert (row.envelope, row.bodystructure, row.body) == expected.rendered
    assert waiting(store) == 0


def test_a_fetch_leaves_out_a_message_another_process_expunged_while_it_read(
    rendering_store, monkeypatch
):
    """Processes sharing a PostgreSQL database: the message a FETCH found waiting for its
    parse was expunged, body and all, by another before this one took the body. The FETCH
    answers the other messages and leaves that one out (its EXPUNGE reaches the session as
    an event), rather than a row with no structure for the IMAP layer to fail on (imaptest
    with two workers found it: NO [SERVERBUG])."""
    from elektromail.store import db

    store = rendering_store
    box = add_mailbox(store, add_user(store))
    first = run(store.append, box.id, unparsed(RAW))
    second = run(store.append, box.id, unparsed(RAW.replace(b"Subject:", b"X-Two: 2\r\nSubject:")))

    def expunged_elsewhere(cursor, render, body_ids):
        cursor.execute("DELETE FROM messages WHERE mailbox_id = ? AND uid = ?", (box.id, first))
        cursor.execute("DELETE FROM bodies WHERE id NOT IN (SELECT body_id FROM messages)")
        return {}

    monkeypatch.setattr(db, "parse_bodies", expunged_elsewhere)
    rows = run(store.fetch, box.id, [first, second], rendered=True)
    assert [row.uid for row in rows] == [second]
    assert rows[0].bodystructure is not None


def test_an_envelope_fetch_leaves_out_a_message_another_process_expunged_while_it_read(
    envelope_store, monkeypatch
):
    """The same for ENVELOPE alone, made from the header (pending.render_envelopes): a body
    gone by then gives no row, not a row without its ENVELOPE."""
    from elektromail.store import db, pending

    store = envelope_store
    box = add_mailbox(store, add_user(store))
    first = run(store.append, box.id, unparsed(RAW))
    second = run(store.append, box.id, unparsed(RAW))
    real = pending.render_envelopes

    def expunged_elsewhere(cursor, render_envelope, body_ids):
        cursor.execute("DELETE FROM messages WHERE mailbox_id = ? AND uid = ?", (box.id, first))
        cursor.execute("DELETE FROM bodies WHERE id NOT IN (SELECT body_id FROM messages)")
        return real(cursor, render_envelope, body_ids)

    monkeypatch.setattr(db, "render_envelopes", expunged_elsewhere)
    rows = run(store.fetch, box.id, [first, second], rendered=True, envelope_only=True)
    assert [row.uid for row in rows] == [second]
    assert rows[0].envelope is not None


# -- ENVELOPE before the whole parse (pending.render_envelopes) ---------------------------------


@pytest.fixture
def envelope_store(rendering_store: Store) -> Store:
    rendering_store.render_envelope = format_envelope
    return rendering_store


def kept_envelope(store: Store, uid: int) -> bytes | None:
    sql = (
        "SELECT b.fetch_envelope FROM bodies b JOIN messages m ON m.body_id = b.id WHERE m.uid = ?"
    )
    return run(store._run, lambda cursor: cursor.execute(sql, (uid,)).fetchone()[0])


HOSTILE = (
    b"From: =?utf-8?q?J=C3=B6rg?=\r\n <j@x>, friends: a@b, c@d;\r\nSubject: caf\xe9\r\n"
    b"  folded\r\nTo: undisclosed-recipients:;\r\nFrom: second@from\r\n"
    + b"X-Pad: "
    + b"p" * 200_000
    + b"\r\n\r\nbody\r\n"
)


@pytest.mark.parametrize(
    "raw", [RAW, HOSTILE, b"", b"no header at all"], ids=["plain", "hostile", "empty", "junk"]
)
def test_a_fetch_of_envelope_alone_renders_it_from_the_header_and_leaves_the_parse_waiting(
    envelope_store, raw
):
    store = envelope_store
    box = add_mailbox(store, add_user(store))
    uid = run(store.append, box.id, unparsed(raw))
    [row] = run(store.fetch, box.id, [uid], rendered=True, envelope_only=True)
    expected = prepare(raw, render_fetch_data)
    assert row.envelope == expected.rendered[0]
    assert (row.bodystructure, row.body, row.structure) == (None, None, None)
    assert waiting(store) == 1  # the body's parse and index still wait
    assert kept_envelope(store, uid) == expected.rendered[0]
    assert index_rows(store) == (0, 0)
    # the whole parse comes later, once, and gives the same ENVELOPE
    assert run(store.parse_pending) == 1
    [row] = run(store.fetch, box.id, [uid], rendered=True)
    assert (row.envelope, row.bodystructure, row.body) == expected.rendered


def test_the_envelope_of_the_header_is_made_once_and_the_whole_parse_once(
    envelope_store, monkeypatch
):
    store = envelope_store
    box = add_mailbox(store, add_user(store))
    uid = run(store.append, box.id, unparsed(RAW))
    _, copied = run(store.copy, box.id, [uid], box.id)  # one body under two UIDs
    import elektromail.store.pending as pending

    headers, parses = [], []
    real_envelope, real_prepare = pending.mime.parse_envelope, pending.prepare
    monkeypatch.setattr(
        pending.mime, "parse_envelope", lambda raw: headers.append(1) or real_envelope(raw)
    )
    monkeypatch.setattr(
        pending, "prepare", lambda *a, **k: parses.append(1) or real_prepare(*a, **k)
    )
    both = [uid, copied[0][1]]
    for _ in range(3):
        rows = run(store.fetch, box.id, both, rendered=True, envelope_only=True)
        assert [r.envelope for r in rows] == [prepare(RAW, render_fetch_data).rendered[0]] * 2
    assert (headers, parses) == ([1], [])
    [row] = run(store.fetch, box.id, [uid], rendered=True)  # BODYSTRUCTURE: the whole parse
    assert row.bodystructure == prepare(RAW, render_fetch_data).rendered[1]
    run(store.fetch, box.id, both, rendered=True, envelope_only=True)
    assert (headers, parses) == ([1], [1])
    assert waiting(store) == 0


def test_envelope_alone_with_parsed_and_waiting_messages_mixed(envelope_store):
    store = envelope_store
    box = add_mailbox(store, add_user(store))
    raws = [message(f"m{i}", sender=f"S {i} <s{i}@x>") for i in range(6)]
    uids = [
        run(store.append, box.id, prepare(raw, render_fetch_data) if i % 2 else unparsed(raw))
        for i, raw in enumerate(raws)
    ]
    rows = run(store.fetch, box.id, uids, rendered=True, envelope_only=True)
    assert [r.uid for r in rows] == uids
    assert [r.envelope for r in rows] == [
        prepare(raw, render_fetch_data).rendered[0] for raw in raws
    ]
    assert waiting(store) == 3


def test_without_an_envelope_renderer_envelope_alone_waits_for_the_whole_parse(rendering_store):
    store = rendering_store  # render_envelope None: the store has only the whole renderer
    box = add_mailbox(store, add_user(store))
    uid = run(store.append, box.id, unparsed(RAW))
    [row] = run(store.fetch, box.id, [uid], rendered=True, envelope_only=True)
    assert row.envelope == prepare(RAW, render_fetch_data).rendered[0]
    assert waiting(store) == 0


def test_a_read_only_database_still_answers_envelope_from_the_header(envelope_store):
    store = envelope_store
    box = add_mailbox(store, add_user(store))
    uid = run(store.append, box.id, unparsed(RAW))
    run(store.simulate_read_only, True)
    try:
        for _ in range(2):
            [row] = run(store.fetch, box.id, [uid], rendered=True, envelope_only=True)
            assert row.envelope == prepare(RAW, render_fetch_data).rendered[0]
    finally:
        run(store.simulate_read_only, False)
    assert kept_envelope(store, uid) is None and waiting(store) == 1


def test_the_idle_time_parse_waits_while_bodies_are_read():
    """A client fetching ENVELOPE or BODY[] of a mailbox just filled is at work: the backfill
    waits until nothing was stored or read for IDLE_SECONDS; a FETCH of flags alone is no
    reason to wait."""
    clock = Clock()
    store = Store(clock=clock)
    store.render = render_fetch_data
    store.render_envelope = format_envelope
    store.backfill_seconds = 60
    store.backfill_makes_way = False
    run(store.open)
    try:
        box = add_mailbox(store, add_user(store))
        uids = [run(store.append, box.id, unparsed(message(f"m{n}"))) for n in range(3)]
        run(clock.advance, IDLE_SECONDS)  # stored since the last look
        for wanted in ({"rendered": True, "envelope_only": True}, {"raw": True}):
            run(store.fetch, box.id, uids, **wanted)
            run(clock.advance, IDLE_SECONDS)  # read since the last look: wait again
            assert waiting(store) == 3
        run(store.fetch, box.id, uids)  # UID and FLAGS: not a read of the bodies
        run(clock.advance, IDLE_SECONDS)
        assert waiting(store) == 0
    finally:
        run(store.close)


def test_a_mailbox_is_parsed_batch_by_batch_each_stored_before_the_next(rendering_store):
    from elektromail.store import pending

    store = rendering_store
    box = add_mailbox(store, add_user(store))
    other = add_mailbox(store, add_user(store, "other"), "INBOX")
    for n in range(5):
        run(store.append, box.id, unparsed(message(f"m{n}")))
    run(store.append, other.id, unparsed(message("elsewhere")))
    batches = []

    def parse(cursor):
        real = pending._parse

        def counted(*args, **kwargs):
            found = real(*args, **kwargs)
            batches.append(len(found[0]))
            return found

        pending._parse = counted
        try:
            return pending.parse_mailbox(cursor, store.render, box.id, batch=2)
        finally:
            pending._parse = real

    assert run(store._run, parse) is True
    assert batches == [2, 2, 1, 0]
    assert waiting(store) == 1  # the other mailbox's
    run(store.simulate_read_only, True)
    try:
        assert run(store._run, pending.parse_mailbox, store.render, other.id) is False
    finally:
        run(store.simulate_read_only, False)
    assert waiting(store) == 1
