"""A DB-API module for the tests of StorePool's reconnecting (tests/store/test_reconnect.py):
sqlite3 on a file, whose connections fail as a database server's do when `server` says so.

`server.stop()` is a server going away as PostgreSQL's fast shutdown does it: every session
gets a farewell on its socket (readable without a question asked) and its next statement
fails; new connections are refused until `server.start()`. `server.cut()` is a network cut:
no farewell, the next statement fails. `server.die_at_commit` makes the next COMMIT fail with
the connection lost, its outcome unknown to the client (here: not committed). A connection
that failed is `closed`, as psycopg's is.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable

apilevel = "2.0"
threadsafety = 2
paramstyle = "qmark"

Error = sqlite3.Error
OperationalError = sqlite3.OperationalError


class Server:
    def __init__(self) -> None:
        self.up = True
        self.die_at_commit = False
        self.connects = 0  # connection attempts
        self.on_connect: Callable[[], None] = lambda: None  # a test's clock moves here
        self.live: list[Connection] = []

    def stop(self) -> None:
        self.up = False
        for conn in self.live:
            conn.farewell()

    def start(self) -> None:
        self.up = True

    def cut(self) -> None:
        for conn in self.live:
            conn.broken = True


server = Server()


def connect(path: str) -> Connection:
    server.connects += 1
    server.on_connect()
    if not server.up:
        raise OperationalError("connection refused (flakydb: the server is down)")
    return Connection(path)


class Connection:
    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level="DEFERRED")
        self._read, self._write = os.pipe()
        self.closed = False
        self.broken = False
        server.live.append(self)

    def fileno(self) -> int:
        if self.closed:
            raise OperationalError("the connection is closed")
        return self._read

    def farewell(self) -> None:
        os.write(self._write, b"FATAL")
        self.broken = True

    def _check(self) -> None:
        if self.closed:
            raise OperationalError("the connection is closed")
        if self.broken:
            self._lose()
            raise OperationalError("server closed the connection unexpectedly")

    def _lose(self) -> None:
        self._db.rollback()  # the server rolls back what was not committed
        self.closed = True

    def cursor(self) -> Cursor:
        self._check()
        return Cursor(self)

    def execute(self, sql: str, params: tuple = ()) -> Cursor:
        return self.cursor().execute(sql, params)

    def commit(self) -> None:
        self._check()
        if server.die_at_commit:
            server.die_at_commit = False
            self._lose()
            raise OperationalError("server closed the connection unexpectedly (at COMMIT)")
        self._db.commit()

    def rollback(self) -> None:
        self._check()
        self._db.rollback()

    def close(self) -> None:
        if self in server.live:
            server.live.remove(self)
            self._db.close()
            os.close(self._read)
            os.close(self._write)
        self.closed = True


class Cursor:
    def __init__(self, conn: Connection) -> None:
        self.connection = conn
        self._cursor = conn._db.cursor()

    def execute(self, sql: str, params: tuple = ()) -> Cursor:
        self.connection._check()
        self._cursor.execute(sql, params)
        return self

    def fetchone(self):
        return self._cursor.fetchone()

    def fetchall(self):
        return self._cursor.fetchall()

    def close(self) -> None:
        self._cursor.close()
