"""SQLite, the default database engine: one file, plain sqlite3.

Queries run on the event loop thread: they are indexed point queries that take microseconds, and
a thread hop would cost more than the query (aiosqlite measured half as fast). Every write runs
in one BEGIN IMMEDIATE transaction, so writes are serial; an exception rolls it back.
"""

import contextlib
import os
import sqlite3

ERRORS = (sqlite3.Error,)
UNAVAILABLE = ()   # a file: never "down" the way a database server can be


class Queries:
    """The queries of one transaction (the interface every db module uses)."""

    def __init__(self, conn):
        self.raw = conn

    async def fetchone(self, sql, args=()):
        return self.raw.execute(sql, args).fetchone()

    async def fetchall(self, sql, args=()):
        return self.raw.execute(sql, args).fetchall()

    async def execute(self, sql, args=()):
        """Returns the rows the statement changed."""
        return self.raw.execute(sql, args).rowcount

    async def executemany(self, sql, rows):
        self.raw.executemany(sql, rows)

    async def insert(self, sql, args=()):
        """Returns the new row's id (tables with an id column)."""
        return self.raw.execute(sql, args).lastrowid


def _create_private(path):
    """Create the database file readable by its owner only (0600), whatever the umask; SQLite
    gives its -wal and -shm files the database file's mode. An existing file is left as it is."""
    if path == ":memory:" or path.startswith("file:"):
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


class SQLiteEngine:
    name = "sqlite"
    errors = ERRORS
    unavailable = UNAVAILABLE

    def __init__(self, path):
        self.path = str(path)
        self.conn = None

    def describe(self):
        return self.path

    async def connect(self, migrations):
        _create_private(self.path)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.conn = conn
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._migrate(migrations)
        except BaseException:
            self.conn = None
            conn.close()
            raise
        self._q = Queries(conn)
        # queries outside a transaction (autocommit): the same, on the same one connection
        self.fetchone, self.fetchall, self.execute = self._q.fetchone, self._q.fetchall, self._q.execute

    async def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    async def schema_version(self):
        return self._version()

    def _version(self):
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self, migrations):
        for version, path in migrations:
            if self._version() >= version:
                continue
            script = f"BEGIN IMMEDIATE;\n{path.read_text()}\nPRAGMA user_version = {version};\nCOMMIT;"
            try:
                self.conn.executescript(script)
            except sqlite3.Error:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                if self._version() >= version:   # another process migrated meanwhile
                    continue
                raise

    async def integrity_problems(self):
        """[] when the database passes its integrity check, else what the check found."""
        rows = self.conn.execute("PRAGMA integrity_check").fetchall()
        return [] if rows == [("ok",)] else [r[0] for r in rows]

    @contextlib.asynccontextmanager
    async def transaction(self, device=None):
        """BEGIN IMMEDIATE ... COMMIT: SQLite's write lock makes every write transaction serial,
        a device's own too (see PostgresEngine.transaction)."""
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._q
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
