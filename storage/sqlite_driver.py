"""aiosqlite with fewer hand-overs to its thread: none for reads, one per write transaction.

aiosqlite runs every call on the connection's own thread and hands the result
back to the event loop, and SQLAlchemy's adapter makes four such calls per
statement: create a cursor, execute, fetch all rows, close the cursor. Each
hand-over costs the event loop about 0.1 ms of work, and on SQLite the one
writer's turn (handlers.base._one_writer) is held meanwhile: at a dozen
statements per chat update that was a third of the bot's time per update.

:class:`PrefetchingConnection` is aiosqlite's connection with a cursor that
does all four steps in one call and keeps the rows (SQLAlchemy reads them all
at once anyway):

* A SELECT runs right there, on the event loop's thread. In WAL mode a reader
  never waits for a lock, and the chat's reads take tens of microseconds, less
  than the hand-over would. (A big read, such as a summary's, holds the loop
  for its few milliseconds of SQLite work; reading its rows into Python objects
  takes longer than that and happens on the loop in either case.)
* So does an INSERT, UPDATE or DELETE in a transaction that has written
  already: it holds the database's write lock, so nothing can make it wait.
* Everything else goes to the connection's thread in one call: the first
  write of a transaction (it may wait for another process's lock), COMMIT (it
  may checkpoint the WAL to disk), SAVEPOINT and RELEASE, PRAGMAs, DDL.

Everything else (the thread, commit, rollback, close, errors) is aiosqlite's
own. The connection is opened with check_same_thread=False (SQLAlchemy does
the same for a file), and is never used by two threads at once: each call is
awaited before the next. It relies on two private names of aiosqlite (``_execute``,
``_conn``), as SQLAlchemy's own adapter does, so the dependency is pinned to
the minor version tested.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import URL

Description = tuple[tuple[Any, ...], ...] | None
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_Outcome = tuple[list[Any], Description, int, int | None]


class PrefetchingCursor:
    """The part of aiosqlite's cursor SQLAlchemy uses, one thread call per statement."""

    arraysize = 1

    def __init__(self, connection: PrefetchingConnection) -> None:
        self._connection = connection
        self._rows: list[Any] = []
        self.description: Description = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._inline = False
        self._writes = False

    async def __aenter__(self) -> PrefetchingCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> PrefetchingCursor:
        verb = sql.lstrip()[:7].upper()
        self._writes = verb.startswith(_WRITES)
        # See the module docstring.
        self._inline = verb.startswith("SELECT") or (
            self._writes and self._connection._holds_write_lock()
        )

        def run(cursor: sqlite3.Cursor) -> None:
            cursor.execute(sql, parameters or ())

        return await self._run(run)

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> PrefetchingCursor:
        def run(cursor: sqlite3.Cursor) -> None:
            cursor.executemany(sql, parameters)

        return await self._run(run)

    async def _run(self, statement: Callable[[sqlite3.Cursor], None]) -> PrefetchingCursor:
        connection = self._connection

        def in_one_call() -> _Outcome:
            cursor = connection._conn.cursor()
            try:
                statement(cursor)
                rows = cursor.fetchall() if cursor.description else []
                return rows, cursor.description, cursor.rowcount, cursor.lastrowid
            finally:
                cursor.close()

        if self._inline:
            outcome = in_one_call()
        else:
            outcome = await connection._execute(in_one_call)
        self._rows, self.description, self.rowcount, self.lastrowid = outcome
        if self._writes:
            connection._wrote = True  # it succeeded, so this transaction has the write lock
        return self

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def close(self) -> None:
        self._rows = []


class PrefetchingConnection(aiosqlite.Connection):
    # Set once a write of the open transaction succeeded: from then on the
    # transaction holds the database's write lock. (An open transaction alone
    # is not enough: a SAVEPOINT opens one without the lock, and so does a
    # first write that failed with SQLITE_BUSY.)
    _wrote = False

    def cursor(self) -> PrefetchingCursor:  # type: ignore[override]
        return PrefetchingCursor(self)

    def _holds_write_lock(self) -> bool:
        if not self._open_transaction():
            self._wrote = False
        return self._wrote

    # With no transaction open (only reads ran: the driver begins one before
    # the first write), COMMIT and ROLLBACK would do nothing: skip the hand-over.
    # Every pooled connection is rolled back when it is given back, so this
    # saves one per session that only read, and one per session after commit.

    async def commit(self) -> None:
        self._wrote = False
        if self._open_transaction():
            await super().commit()

    async def rollback(self) -> None:
        self._wrote = False
        if self._open_transaction():
            await super().rollback()

    def _open_transaction(self) -> bool:
        return self._connection is None or self._connection.in_transaction


def sqlite_creator(
    url: URL, connect_args: dict[str, Any] | None = None
) -> Callable[[], Coroutine[Any, Any, aiosqlite.Connection]]:
    """An ``async_creator`` for create_async_engine: the URL's database, as SQLAlchemy
    opens it, with ``connect_args`` for sqlite3.connect."""
    args, options = SQLiteDialect_aiosqlite().create_connect_args(url)
    options.update(connect_args or {})
    database: str = args[0]
    # Reads run on the loop's thread, the rest on the connection's (one at a time).
    options["check_same_thread"] = False

    def connector() -> sqlite3.Connection:
        return sqlite3.connect(database, **options)

    async def connect() -> aiosqlite.Connection:
        connection = PrefetchingConnection(connector, iter_chunk_size=64)
        connection._thread.daemon = True  # as SQLAlchemy does: never hold up interpreter exit
        return await connection

    return connect
