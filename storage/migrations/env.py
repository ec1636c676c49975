"""Alembic environment for dondoc (async engines, SQLite and PostgreSQL).

The URL comes from, in order: ``config.attributes["url"]`` (set by
storage.migrate when the application migrates itself), ``alembic -x url=…``,
or the DATABASE_URL setting. It is never printed: it may hold a password.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection

from storage.db import is_sqlite, make_engine
from storage.models import Base

config = context.config
target_metadata = Base.metadata

# Only the `alembic` command line has an ini file. When the application
# migrates itself it keeps its own logging (and its secret-redacting filter).
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    url = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    if url:
        return str(url)
    from bot.settings import load_settings  # only the alembic command line gets here

    return load_settings().database_url


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=is_sqlite(database_url()),  # SQLite can only ALTER by copying
        compare_type=True,
        **kwargs,  # type: ignore[arg-type]
    )


def run_migrations_offline() -> None:
    _configure(url=database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # With foreign keys on, the DROP TABLE inside a batch (copy-and-move)
        # migration would fire ON DELETE CASCADE and empty the child tables.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
    if sqlite:
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        connection.rollback()
        if broken:
            raise RuntimeError(f"migration left {len(broken)} rows with broken foreign keys")


async def run_migrations_online() -> None:
    engine = make_engine(database_url(), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
