"""storage.sqlite_driver: what runs on the event loop's thread and what on the connection's,
and how this process's writers take turns.

Reads, and writes after a transaction's first one, run on the loop's thread; a
transaction's first write (it may wait for another process's lock) and its
commit go to the connection's thread. A transaction's first write waits for the
engine's writer's turn; background work (the tick) lets the conversation go first.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError, OperationalError

from storage import sqlite_driver
from storage.db import make_engine
from storage.priority import background_work


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


# --- the writer's turn -------------------------------------------------------------------------


def no_busy_wait(engine: Any) -> None:
    """busy_timeout 0: a write that met another connection's lock would fail at once, so a
    write that succeeds here waited for its turn in the driver, not in SQLite."""

    @event.listens_for(engine.sync_engine, "connect")
    def no_busy_timeout(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")


async def made_table(tmp_path: Path) -> Any:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'turns.db'}")
    no_busy_wait(engine)
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE t (who TEXT UNIQUE)"))
    return engine


async def turn_of(connection: Any) -> sqlite_driver.WriterTurn:
    raw = await connection.get_raw_connection()
    turn = raw.driver_connection.writer_turn
    assert turn is not None
    return turn


async def until_waiting(turn: sqlite_driver.WriterTurn, writers: int) -> None:
    """Until that many writers wait for the turn (a condition, not a time; at most 5 s)."""
    for _ in range(5000):
        if turn.waiting >= writers:
            return
        await asyncio.sleep(0.001)  # the writers open their connections on their threads
    raise AssertionError(f"{turn.waiting} writers waiting, not {writers}")


async def write(engine: Any, who: str, done: list[str]) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO t VALUES (:who)"), {"who": who})
    done.append(who)


async def test_writers_of_one_engine_take_turns_instead_of_meeting_sqlites_lock(
    tmp_path: Path,
) -> None:
    engine = await made_table(tmp_path)
    done: list[str] = []
    try:
        async with engine.connect() as holder:
            await holder.execute(text("INSERT INTO t VALUES ('holder')"))
            others = [asyncio.create_task(write(engine, f"w{n}", done)) for n in range(3)]
            await until_waiting(await turn_of(holder), 3)
            waiting = list(done)
            await holder.commit()
        await asyncio.gather(*others)
        async with engine.connect() as connection:
            rows = set(await connection.scalars(text("SELECT who FROM t")))
    finally:
        await engine.dispose()
    assert waiting == []  # none wrote while the holder's transaction was open
    assert sorted(done) == ["w0", "w1", "w2"]
    assert rows == {"holder", "w0", "w1", "w2"}


async def test_a_reply_writes_before_the_ticks_queued_writes(tmp_path: Path) -> None:
    """Background writers (the tick) wait one at a time: a foreground write that comes
    after five of them goes second, behind the one already waiting, not sixth."""
    engine = await made_table(tmp_path)
    done: list[str] = []

    async def background(who: str) -> None:
        with background_work():
            await write(engine, who, done)

    try:
        async with engine.connect() as holder:
            await holder.execute(text("INSERT INTO t VALUES ('holder')"))
            turn = await turn_of(holder)
            tick = [asyncio.create_task(background(f"tick{n}")) for n in range(5)]
            await until_waiting(turn, 5)
            reply = asyncio.create_task(write(engine, "reply", done))
            await until_waiting(turn, 6)
            await holder.commit()
        await asyncio.gather(reply, *tick)
    finally:
        await engine.dispose()
    assert sorted(done) == ["reply", "tick0", "tick1", "tick2", "tick3", "tick4"]
    assert done.index("reply") == 1


async def test_the_turn_passes_on_after_a_failed_write_and_its_rollback(tmp_path: Path) -> None:
    engine = await made_table(tmp_path)
    done: list[str] = []
    try:
        await write(engine, "first", done)
        with pytest.raises(IntegrityError):
            await write(engine, "first", done)  # UNIQUE: fails inside its transaction
        await asyncio.wait_for(write(engine, "second", done), timeout=2)
    finally:
        await engine.dispose()
    assert done == ["first", "second"]


async def test_a_writer_kept_waiting_too_long_hears_the_database_is_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_driver, "BUSY_TIMEOUT_SECONDS", 0.1)
    engine = await made_table(tmp_path)
    try:
        async with engine.connect() as holder:
            await holder.execute(text("INSERT INTO t VALUES ('holder')"))
            with pytest.raises(OperationalError, match="database is locked"):
                await write(engine, "late", [])
            await holder.commit()
        await write(engine, "after", [])  # the failed wait left nothing behind
    finally:
        await engine.dispose()


@pytest.mark.parametrize("background", [False, True])
async def test_background_reads_give_the_event_loop_back(tmp_path: Path, background: bool) -> None:
    """A read runs on the loop's thread without a pause; in background work it then lets
    whatever is ready run (a reply's next step) before going on."""
    engine = await made_table(tmp_path)
    ran: list[str] = []
    try:
        async with engine.connect() as connection:
            with background_work() if background else contextlib.nullcontext():
                asyncio.get_running_loop().call_soon(ran.append, "ready")
                await connection.execute(text("SELECT count(*) FROM t"))
                seen = list(ran)
    finally:
        await engine.dispose()
    assert seen == (["ready"] if background else [])


async def test_a_connection_stopped_without_closing_gives_the_turn_back(tmp_path: Path) -> None:
    """SQLAlchemy stops a connection it lost track of (garbage-collected while checked out)
    without closing it: a transaction it had begun must not keep the turn."""
    engine = await made_table(tmp_path)
    done: list[str] = []
    try:
        lost = await engine.connect()
        await lost.execute(text("INSERT INTO t VALUES ('lost')"))
        raw = await lost.get_raw_connection()
        raw.driver_connection.stop()
        await asyncio.wait_for(write(engine, "next", done), timeout=2)
        await lost.invalidate()
    finally:
        await engine.dispose()
    assert done == ["next"]
