"""The test suite on PostgreSQL: `pytest --store-db=postgresql` (or
ELEKTROMAIL_TEST_STORE=postgresql) gives every store the tests make in memory (Store(), so
MailServer's too) a PostgreSQL database of one throwaway cluster (tests/pgcluster.py), started
once per test session.

A database is taken from a pool when a store is made and given back when it closes; the next
store to take it finds its tables emptied (DELETE, a millisecond), not a new database
(CREATE DATABASE and the schema cost ~0.1 s), so a test session makes as many databases as it
has stores open at once.
"""

from __future__ import annotations

import threading
from typing import Any

from tests.pgcluster import ThrowawayCluster

CHOICES = ("sqlite", "postgresql")


class DatabasePool:
    def __init__(self, cluster: ThrowawayCluster) -> None:
        import psycopg

        self._psycopg = psycopg
        self.cluster = cluster
        self._lock = threading.Lock()
        self._free: list[str] = []
        self._made = 0
        self._admin = psycopg.connect(cluster.url(), autocommit=True)
        self._connections: dict[str, Any] = {}

    def take(self) -> str:
        with self._lock:
            if self._free:
                url = self._free.pop()
                self._empty(url)
                return url
            self._made += 1
            name = f"store_{self._made}"
            self._admin.execute(f"CREATE DATABASE {name}")
            return self.cluster.url(name)

    def give_back(self, url: str) -> None:
        with self._lock:
            if url not in self._free:
                self._free.append(url)

    def _empty(self, url: str) -> None:
        conn = self._connections.get(url)
        if conn is None:
            conn = self._connections[url] = self._psycopg.connect(url, autocommit=True)
            # foreign keys unchecked on this connection (the cluster's superuser), so the
            # tables empty in any order
            conn.execute("SET session_replication_role = replica")
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                " AND tablename != 'schema_version'"
            )
        ]
        # and the row ids start again at 1, as in a new database (schema.rowid_sequences)
        sequences = [
            name
            for (name,) in conn.execute(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()"
            )
        ]
        statements = [f"DELETE FROM {table}" for table in tables]
        statements += [f"ALTER SEQUENCE {name} RESTART" for name in sequences]
        if statements:  # DELETE: a test's few rows go in ~0.3 ms, TRUNCATE takes 20 to 60
            conn.execute("; ".join(statements))

    def close(self) -> None:
        for conn in [self._admin, *self._connections.values()]:
            conn.close()


def install(pool: DatabasePool) -> None:
    """Every Store made without a path (SQLite in memory) gets a database of `pool` instead."""
    from elektromail.store import db

    original_init = db.Store.__init__
    original_close = db.Store.close

    def __init__(self, path: str | None = None, *args: Any, **kw: Any) -> None:
        taken = None
        if path is None:
            taken = path = pool.take()
        original_init(self, path, *args, **kw)
        self._test_database = taken

    def close(self) -> None:
        try:
            original_close(self)
        finally:
            taken, self._test_database = getattr(self, "_test_database", None), None
            if taken is not None:
                pool.give_back(taken)

    db.Store.__init__ = __init__  # type: ignore[method-assign]
    db.Store.close = close  # type: ignore[method-assign]
