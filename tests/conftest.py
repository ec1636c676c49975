"""Shared fixtures: an empty, migrated database per test, and isolated settings.

The database under test is SQLite unless DONDOC_TEST_DATABASE_URL names a
PostgreSQL server, e.g.::

    DONDOC_TEST_DATABASE_URL=postgresql+asyncpg://root@127.0.0.1:5432/test pytest

Migrating is the slow part, so it happens once per session: SQLite migrates a
template file that each test copies; PostgreSQL gets a database of its own
(``dondoc_test_<pid>``, created from the given one and dropped at the end)
whose tables are emptied (and id sequences restarted) before each test.

Fixtures, from low to high level: ``database_url`` (str), ``engine``
(AsyncEngine), ``session_factory`` (async_sessionmaker), ``session``
(AsyncSession; commit it yourself), and ``settings`` (Settings pointing at
the test database, with a per-test EVIDENCE_DIR and no bot token).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Protocol

import pytest
from sqlalchemy import TextClause, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import NullPool

from bot.settings import Settings, get_settings, load_settings
from storage.db import make_engine, make_session_factory
from storage.migrate import upgrade_database_sync
from storage.models import Base
from tests.e2e import BotUnderTest, running_bot

TEST_DATABASE_ENV = "DONDOC_TEST_DATABASE_URL"
SETTING_NAMES = {(field.alias or name).upper() for name, field in Settings.model_fields.items()} | {
    name.upper() for name in Settings.model_fields
}


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


class DatabaseUnderTest(Protocol):
    dialect: str

    async def fresh(self, tmp_path: Path) -> str: ...

    def close(self) -> None: ...


class SqliteTemplate:
    """Migrate once into a template file; each test gets a copy."""

    dialect = "sqlite"

    def __init__(self, directory: Path) -> None:
        self.template = directory / "template.db"
        upgrade_database_sync(sqlite_url(self.template))

    async def fresh(self, tmp_path: Path) -> str:
        target = tmp_path / "dondoc-test.db"
        shutil.copyfile(self.template, target)
        return sqlite_url(target)

    def close(self) -> None:
        pass


def empty_all_tables_statement() -> TextClause:
    """Empty every table and restart its id sequence, in one round trip.

    Same result as ``TRUNCATE … RESTART IDENTITY CASCADE``, but about 8 times
    faster on tables this small (13 ms instead of 100 ms per test): TRUNCATE
    creates and syncs new files for every table and index.
    """
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]  # children first
    deletes = " ".join(f'DELETE FROM "{name}";' for name in tables)
    restarts = " ".join(
        f"PERFORM setval(pg_get_serial_sequence('\"{name}\"', 'id'), 1, false);"
        for name in tables
        if "id" in Base.metadata.tables[name].columns
    )
    return text(f"DO $$ BEGIN {deletes} {restarts} END $$")


async def empty_all_tables(url: str) -> None:
    """Empty every table of the database at ``url`` (SQLite or PostgreSQL), e.g. between the
    tests that share one bot process."""
    engine = make_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                await connection.execute(empty_all_tables_statement())
            else:
                for table in reversed(Base.metadata.sorted_tables):  # children first
                    await connection.execute(table.delete())
    finally:
        await engine.dispose()


class PostgresDatabase:
    """A database of this test session's own, migrated once, emptied before each test."""

    dialect = "postgresql"

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.name = f"dondoc_test_{os.getpid()}"
        self.url = (
            make_url(server_url).set(database=self.name).render_as_string(hide_password=False)
        )
        asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        asyncio.run(self._admin(f'CREATE DATABASE "{self.name}"'))
        upgrade_database_sync(self.url)

    async def _admin(self, statement: str) -> None:
        # CREATE/DROP DATABASE refuse to run inside a transaction.
        engine = make_engine(self.server_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()

    async def fresh(self, tmp_path: Path) -> str:
        await empty_all_tables(self.url)
        return self.url

    def close(self) -> None:
        asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def database_under_test(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseUnderTest]:
    server_url = os.environ.get(TEST_DATABASE_ENV)
    database: DatabaseUnderTest
    if server_url:
        database = PostgresDatabase(server_url)
    else:
        database = SqliteTemplate(tmp_path_factory.mktemp("template"))
    yield database
    database.close()


@pytest.fixture(autouse=True)
def isolated_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep a developer's environment and .env file out of every test."""
    for key in list(os.environ):
        if key.upper() in SETTING_NAMES:
            monkeypatch.delenv(key)
    monkeypatch.setitem(Settings.model_config, "env_file", None)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
async def database_url(database_under_test: DatabaseUnderTest, tmp_path: Path) -> str:
    """URL of a fresh, migrated, empty database for this test."""
    return await database_under_test.fresh(tmp_path)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_session_factory(engine)


@pytest.fixture
async def session(
    session_factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    async with session_factory() as session:
        yield session


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        DATABASE_URL=database_url,
        EVIDENCE_DIR=tmp_path / "evidence",
        TELEGRAM_BOT_TOKEN=None,
        _env_file=None,
    )


@pytest.fixture
async def bot(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[BotUnderTest]:
    """The real bot polling the fake Bot API server (tests/e2e.py), on this test's database."""
    async with running_bot(settings, session_factory) as running:
        yield running
