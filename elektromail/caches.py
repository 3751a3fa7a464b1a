"""The process's caches of recurring values (parsed structures, rendered addresses, flag sets),
emptied together when the server gives memory back after a large delete (store/memory.py).

Measured with bench/rss.py: a cache entry made during a bulk load sits among the load's
short-lived objects, and Python's allocator can return an arena of 1 MiB only once nothing in
it lives: after a 10,000-message mailbox was deleted, a few hundred entries of these caches
held some 17 MB of otherwise empty arenas. They refill from the next commands, at a few
microseconds an entry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[[], object])

_clears: list[Callable[[], object]] = []


def emptied_on_release(clear: F) -> F:
    """Register `clear` (an lru_cache's cache_clear, a dict's clear) to be called by
    empty_all; returns it."""
    _clears.append(clear)
    return clear


def empty_all() -> int:
    """Empty every registered cache; how many there are."""
    for clear in _clears:
        clear()
    return len(_clears)
