"""store/memory.py: the C heap's free pages go back to the system after a large delete."""

from __future__ import annotations

import sys

import pytest
from twisted.internet.task import Clock

from elektromail.store import Store, db
from elektromail.store.memory import release_freed_memory
from elektromail.testing import MailServer
from tests.store.conftest import add_mailbox, add_user, append, run


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_release_freed_memory_calls_malloc_trim_on_linux():
    assert release_freed_memory() is True


def _pages(cursor) -> int:
    return cursor.execute("PRAGMA page_count").fetchone()[0]


@pytest.mark.sqlite_only  # the in-memory database's pages
def test_deleting_a_full_mailbox_gives_its_pages_back():
    """Issue 15: the RSS after an account is emptied comes back near where it was. The RSS
    follows the in-memory database's page count, checked here; RSS figures are bench/'s."""
    with MailServer() as mail:
        store = mail.server.store
        before = mail.call(store._pool.runInteraction, _pages)
        for i in range(300):
            mail.inject("user", b"Subject: %d\r\n\r\n" % i + b"x" * 4000 + b"\r\n", mailbox="Big")
        full = mail.call(store._pool.runInteraction, _pages)
        assert full > before + 300
        user = mail.call(store.get_user, "user")
        mail.call(store.delete_mailbox, user.id, "Big")
        after = mail.call(store._pool.runInteraction, _pages)
        assert after - before < (full - before) // 10


@pytest.mark.sqlite_only  # the in-memory database's heap
def test_expunges_give_the_heap_back_at_most_once_a_second_and_after_the_last(monkeypatch):
    """malloc_trim costs the reactor ~0.2 ms: not after every small EXPUNGE, nor after one that
    removed nothing, but never left out after the last one that removed something."""
    trims: list[float] = []
    clock = Clock()
    monkeypatch.setattr(db, "release_freed_memory", lambda: trims.append(clock.seconds()))
    store = Store(clock=clock)
    run(store.open)
    try:
        box = add_mailbox(store, add_user(store))
        run(store.expunge, box.id)  # nothing to remove
        assert trims == []
        for _ in range(3):
            append(store, box, b"Subject: x\r\n\r\nbody\r\n", flags=("\\Deleted",))
            assert run(store.expunge, box.id)
        assert trims == [0.0]  # the first at once, the later two wait
        run(clock.advance, db.RELEASE_EVERY)
        assert trims == [0.0, db.RELEASE_EVERY]
        assert clock.getDelayedCalls() == []
    finally:
        run(store.close)


def test_deleting_a_mailbox_empties_the_caches_of_recurring_values():
    """Issue 15: entries these caches made during a load keep Python's arenas after the
    mailbox is gone (bench/rss.py); a large delete empties them, an EXPUNGE does not."""
    from elektromail import mime
    from elektromail.imap import format as fmt
    from elektromail.imap.format import format_envelope

    raw = b"From: Ann <ann@example.com>\r\nContent-Type: text/plain\r\nSubject: s\r\n\r\nhi\r\n"
    with MailServer() as mail:
        store = mail.server.store
        for _ in range(3):
            mail.inject("user", raw, mailbox="Big")
        parsed = mime.parse(raw)
        format_envelope(parsed.envelope)
        mime.from_json(mime.to_json(parsed))
        assert mime.from_json.cache_info().currsize > 0 and fmt._ADDRESS_LISTS
        user = mail.call(store.get_user, "user")
        box = mail.call(store.get_mailbox, user.id, "Big")
        mail.call(store.store_flags, box.id, [1], "add", ["\\Deleted"])
        mail.call(store.expunge, box.id)  # a small delete keeps them
        assert mime.from_json.cache_info().currsize > 0 and fmt._ADDRESS_LISTS
        mail.call(store.delete_mailbox, user.id, "Big")
        assert mime.from_json.cache_info().currsize == 0 and not fmt._ADDRESS_LISTS


def test_every_cache_of_recurring_values_is_registered():
    from elektromail import caches, mime
    from elektromail.imap import format as fmt

    mime.parse(b"From: a@b\r\nContent-Type: text/plain\r\n\r\nx\r\n")
    fmt.format_flags(("\\Seen",))
    assert caches.empty_all() >= 6
    parse = __import__("sys").modules["elektromail.mime.parse"]
    assert not parse._content_types and not parse._address_lists
    assert fmt._format_flag_tuple.cache_info().currsize == 0
