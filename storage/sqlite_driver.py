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

Writers take turns in this process too (:class:`WriterTurn`): the first write
of a transaction waits for the engine's turn, and the transaction gives it back
when it ends. Without it, a write that finds another connection of this process
holding SQLite's lock waits in SQLite's busy handler, which sleeps in steps of
up to 100 ms; with it, the turn passes on the moment the writer commits. Work
marked background (storage.priority: the minute tick) lets the conversation's
writes go first, and gives the event loop back after each of its reads that
ran on the loop's thread, so that a fan-out's reads come in slices instead of
one block of tens of milliseconds. (bench/mixed_channels.py: while Zalo
digests went out, replies' p99 was 3 x the quiet one; SQLite lock waits of
20-180 ms, and the replies' writes queued behind a unit's burst of claims.)
Another process still meets SQLite's busy handler.

Everything else (the thread, commit, rollback, close, errors) is aiosqlite's
own. The connection is opened with check_same_thread=False (SQLAlchemy does
the same for a file), and is never used by two threads at once: each call is
awaited before the next. It relies on two private names of aiosqlite (``_execute``,
``_conn``), as SQLAlchemy's own adapter does, so the dependency is pinned to
the minor version tested.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import URL

from storage.priority import in_background

Description = tuple[tuple[Any, ...], ...] | None
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_Outcome = tuple[list[Any], Description, int, int | None]
# How long a write waits for the database's lock before "database is locked": SQLite's
# busy_timeout (storage.db) for another process, and as long for this process's writers.
BUSY_TIMEOUT_SECONDS = 5.0


class WriterTurn:
    """One writing transaction at a time among an engine's connections (module docstring).

    Conversation first: a background writer (storage.priority) waits for the turn only
    once no other background writer is waiting, so a reply's write queues behind at most
    one of the tick's, however many the fan-out has ready. Why our own: asyncio's locks
    are first come, first served, and no well-kept library offers a priority lock for it.
    One pair of locks per event loop: a lock belongs to the loop that first waits on it,
    and an engine may outlive a loop (tests, the command line's asyncio.run calls).
    """

    def __init__(self) -> None:
        self.waiting = 0  # writers waiting for the turn, in every loop
        self._locks: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[asyncio.Lock, asyncio.Lock]
        ] = weakref.WeakKeyDictionary()

    def _for_this_loop(self) -> tuple[asyncio.Lock, asyncio.Lock]:
        loop = asyncio.get_running_loop()
        locks = self._locks.get(loop)
        if locks is None:
            locks = self._locks[loop] = (asyncio.Lock(), asyncio.Lock())
        return locks

    async def take(self) -> asyncio.Lock:
        """Wait for the turn; the lock to release when the transaction ends.

        sqlite3.OperationalError after BUSY_TIMEOUT_SECONDS, as SQLite says itself when
        another process holds its lock that long."""
        turn, background_queue = self._for_this_loop()
        self.waiting += 1
        try:
            async with asyncio.timeout(BUSY_TIMEOUT_SECONDS):
                if in_background():
                    async with background_queue:
                        await turn.acquire()
                else:
                    await turn.acquire()
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked") from None
        finally:
            self.waiting -= 1
        return turn


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
        self._writes = sql.lstrip()[:7].upper().startswith(_WRITES)
        self._inline = False

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
            if self._writes:  # the transaction's first write: it needs the turn
                await connection.take_writer_turn()
            try:
                outcome = await connection._execute(in_one_call)
            except asyncio.CancelledError:
                # The statement may still run on the thread: the turn is kept until the
                # connection is rolled back or closed (SQLAlchemy closes it after this).
                raise
            except BaseException:
                connection.end_writer_turn_unless_writing()
                raise
            connection.end_writer_turn_unless_writing()
        self._rows, self.description, self.rowcount, self.lastrowid = outcome
        if self._writes:
            connection._wrote = True  # it succeeded, so this transaction has the write lock
        if self._inline and not connection.holds_writer_turn and in_background():
            await asyncio.sleep(0)  # let the conversation in between (module docstring)
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
    # The engine's writer's turn (set by sqlite_creator), and the lock while this holds it.
    writer_turn: WriterTurn | None = None
    _turn_held: asyncio.Lock | None = None

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
        await self._end_transaction(super().commit)

    async def rollback(self) -> None:
        await self._end_transaction(super().rollback)

    async def _end_transaction(self, end: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._wrote = False
        try:
            if self._open_transaction():
                await end()
        finally:
            self.end_writer_turn_unless_writing()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            self._end_writer_turn()

    def stop(self) -> asyncio.Future[None] | None:
        # SQLAlchemy's forced close (a connection garbage-collected while checked out, or a
        # failed close) stops the thread without close(): the turn must not stay taken.
        try:
            return super().stop()  # type: ignore[no-any-return]
        finally:
            self._end_writer_turn()

    @property
    def holds_writer_turn(self) -> bool:
        return self._turn_held is not None

    async def take_writer_turn(self) -> None:
        if self.writer_turn is not None and self._turn_held is None:
            self._turn_held = await self.writer_turn.take()

    def end_writer_turn_unless_writing(self) -> None:
        """Give the turn back once no transaction is open: after a commit or a rollback, a
        first write that failed, a RELEASE that ended the transaction a SAVEPOINT began."""
        connection = self._connection  # None once stopped: nothing is open any more
        if self._turn_held is not None and (connection is None or not connection.in_transaction):
            self._end_writer_turn()

    def _end_writer_turn(self) -> None:
        held, self._turn_held = self._turn_held, None
        if held is not None:
            held.release()

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

    writer_turn = WriterTurn()  # one for the engine: every connection it opens takes turns

    def connector() -> sqlite3.Connection:
        return sqlite3.connect(database, **options)

    async def connect() -> aiosqlite.Connection:
        connection = PrefetchingConnection(connector, iter_chunk_size=64)
        connection._thread.daemon = True  # as SQLAlchemy does: never hold up interpreter exit
        connection.writer_turn = writer_turn
        return await connection

    return connect
