"""store/memory.py: the C heap's free pages go back to the system after a large delete."""

from __future__ import annotations

import sys

import pytest

from elektromail.store.memory import release_freed_memory
from elektromail.testing import MailServer


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_release_freed_memory_calls_malloc_trim_on_linux():
    assert release_freed_memory() is True


def _pages(cursor) -> int:
    return cursor.execute("PRAGMA page_count").fetchone()[0]


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
