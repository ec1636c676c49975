"""Engines and sessions for SQLite (the default) and PostgreSQL.

SQLite connections get WAL (readers never block the one writer), a busy
timeout (a second process waits for the lock instead of failing at once),
foreign keys (SQLite leaves them off unless asked, and the schema relies on
ON DELETE CASCADE) and synchronous=NORMAL (safe with WAL, much faster).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Table, bindparam, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.sqlite_driver import BUSY_TIMEOUT_SECONDS, sqlite_creator

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
)


SQLITE_POOL_SIZE = 24  # scheduler.sender.FANOUT_CONCURRENCY, and room for the conversation


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_file(url: str | URL) -> Path | None:
    """The database file of a SQLite URL, or None for an in-memory database."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def make_engine(url: str | URL, **kwargs: Any) -> AsyncEngine:
    """Create the async engine for ``url``; extra keyword arguments go to SQLAlchemy."""
    sa_url = make_url(url)
    if not is_sqlite(sa_url):
        kwargs.setdefault("pool_pre_ping", True)
        return create_async_engine(sa_url, **kwargs)
    path = sqlite_file(sa_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    if path is not None and "poolclass" not in kwargs:
        # Connections kept open rather than made and closed again: beyond the pool's size a
        # returned connection is closed, and a fan-out's 16 deliveries beside the chat's
        # updates would open a new one (a thread, a file, the pragmas) for most sessions.
        kwargs.setdefault("pool_size", SQLITE_POOL_SIZE)
    if "async_creator" not in kwargs:  # see storage.sqlite_driver
        kwargs["async_creator"] = sqlite_creator(sa_url, kwargs.pop("connect_args", None))
    engine = create_async_engine(sa_url, **kwargs)
    event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
    return engine


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: objects stay readable after commit; in async code
    # an expired attribute would need an implicit (and forbidden) lazy load.
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit if the block succeeds, roll back if it raises."""
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


def insert_ignoring_conflicts(session: AsyncSession, model: type[Any] | Table) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` for this session's database (SQLite or PostgreSQL).

    Both dialects speak this statement; SQLAlchemy only exposes it per dialect.
    Chain ``.values(...)``, ``.on_conflict_do_nothing(index_elements=[...])``.
    Pass the model's table instead of the model for a statement run with
    separate parameters: SQLAlchemy runs an ORM insert given parameters as a
    bulk insert, which reports no row count.

    Prefer it to a SAVEPOINT around an insert: the SQLite driver begins a
    transaction only before DML, so a SAVEPOINT as a transaction's first write
    would run on its own and its RELEASE would commit at once. (Taking BEGIN
    over from the driver fixes that but makes read-then-write transactions fail
    with "database is locked" under concurrent writers instead of waiting.)
    """
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return postgresql_insert(model) if dialect == "postgresql" else sqlite_insert(model)


_prepared: dict[tuple[object, ...], Any] = {}


def prepared_insert_ignoring(
    session: AsyncSession,
    model: type[Any],
    *,
    columns: tuple[str, ...],
    unique: tuple[str, ...],
    returning: tuple[str, ...] = (),
) -> Any:
    """``INSERT … ON CONFLICT (unique) DO NOTHING [RETURNING …]`` with a parameter per column.

    Built once per dialect and kept: for a statement run on every update,
    building it costs more than running it. Execute it with a dict of values;
    it is made on the model's table, so it reports its row count and returns rows.
    """
    table = model.metadata.tables[model.__tablename__]
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    key = (dialect, table.name, columns, unique, returning)
    if key not in _prepared:
        statement = (
            insert_ignoring_conflicts(session, table)
            .values({name: bindparam(name) for name in columns})
            .on_conflict_do_nothing(index_elements=list(unique))
        )
        if returning:
            statement = statement.returning(*(table.c[name] for name in returning))
        _prepared[key] = statement
    return _prepared[key]
