"""Giving memory back after a large delete, for the in-memory database.

An in-memory SQLite database keeps its pages in the C heap. With auto_vacuum = FULL (set for
":memory:" in schema.prepare_connection) a commit that frees pages truncates the database, and
glibc's malloc_trim then returns the freed heap to the system: without both, the server's RSS
after a 10,000-message mailbox is deleted stays where the mailbox had taken it. After such a
delete the caches of recurring values are emptied too (elektromail/caches.py).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

from elektromail.caches import empty_all

_libc = None
if sys.platform.startswith("linux"):
    try:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        _libc = None


def release_freed_memory(*, caches: bool = False) -> bool:
    """Return the C heap's free pages to the system; False where that cannot be done. With
    `caches` (after a large delete), first empty the process's caches of recurring values
    (elektromail/caches.py), whose entries made during the load keep Python's arenas."""
    if caches:
        empty_all()
    if _libc is None:
        return False
    _libc.malloc_trim(0)
    return True
