"""storage.sqlite_driver: what runs on the event loop's thread and what on the connection's.

Reads, and writes after a transaction's first one, run on the loop's thread; a
transaction's first write (it may wait for another process's lock) and its
commit go to the connection's thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from storage.db import make_engine


async def test_reads_stay_on_the_loop_thread_and_writes_go_to_the_connections(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")

    @event.listens_for(engine.sync_engine, "connect")
    def add_thread_function(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("thread_id", 0, threading.get_ident)

    loop_thread = threading.get_ident()
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (n INTEGER, written_by INTEGER)"))
            inserted = await connection.execute(
                text("INSERT INTO t VALUES (:n, thread_id())"), [{"n": 1}, {"n": 2}, {"n": 3}]
            )
            read_by = await connection.scalar(text("SELECT thread_id()"))
            written = await connection.execute(text("SELECT n, written_by FROM t ORDER BY n"))
            rows = written.all()
            changed = await connection.execute(text("UPDATE t SET n = n * 10 WHERE n >= 2"))
            await connection.execute(text("INSERT INTO t VALUES (4, thread_id())"))
            after = (await connection.execute(text("SELECT n, written_by FROM t ORDER BY n"))).all()
        async with engine.connect() as connection:  # committed
            committed = list(await connection.scalars(text("SELECT n FROM t ORDER BY n")))
    finally:
        await engine.dispose()
    assert read_by == loop_thread
    assert [n for n, _ in rows] == [1, 2, 3]
    first_writer = {writer for _, writer in rows}
    assert len(first_writer) == 1 and first_writer != {loop_thread}  # the connection's thread
    assert inserted.rowcount == 3 and changed.rowcount == 2
    assert after == [(1, *first_writer), (4, loop_thread), (20, *first_writer), (30, *first_writer)]
    assert committed == [1, 4, 20, 30]


async def test_an_in_memory_database_works_too() -> None:
    engine = make_engine("sqlite+aiosqlite://")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (n INTEGER)"))
            await connection.execute(text("INSERT INTO t VALUES (7)"))
            assert await connection.scalar(text("SELECT n FROM t")) == 7
    finally:
        await engine.dispose()


async def test_a_first_write_after_a_savepoint_waits_off_the_loop(tmp_path: Path) -> None:
    """A SAVEPOINT opens a transaction without taking the write lock: the write after it may
    still have to wait for another connection, and must do so on the connection's thread.

    Another connection holds the lock; the loop releases it as soon as it gets a turn. Had
    the insert run on the loop, the loop would be stuck in SQLite's busy wait until the
    timeout and the insert would fail with "database is locked".
    """
    path = tmp_path / "driver.db"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")

    @event.listens_for(engine.sync_engine, "connect")
    def add_thread_function(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("thread_id", 0, threading.get_ident)

    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (n INTEGER, written_by INTEGER)"))
        holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        async with engine.connect() as connection:
            await connection.execute(text("SAVEPOINT before_writing"))
            asyncio.get_running_loop().call_soon(holder.execute, "COMMIT")
            await connection.execute(text("INSERT INTO t VALUES (1, thread_id())"))
            await connection.execute(text("RELEASE before_writing"))
            await connection.commit()
            writer = await connection.scalar(text("SELECT written_by FROM t"))
        holder.close()
    finally:
        await engine.dispose()
    assert writer is not None and writer != threading.get_ident()
