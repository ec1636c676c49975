"""Bring a database to the newest schema (``alembic upgrade head``) from code.

The Alembic config is built here rather than read from alembic.ini, so this
works from any working directory and from an installed package.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    # In attributes, not in an option: ini interpolation would choke on a '%'
    # in the password, and options can end up in messages.
    config.attributes["url"] = url
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    if head is None:
        raise RuntimeError("no migration found in " + str(MIGRATIONS_DIR))
    return head


def upgrade_database_sync(url: str) -> None:
    """Blocking form, for callers with no event loop running in this thread."""
    command.upgrade(alembic_config(url), "head")


async def upgrade_database(url: str) -> None:
    # env.py calls asyncio.run(), which is refused inside a running loop, so
    # the (synchronous) Alembic command runs in a worker thread of its own.
    await asyncio.to_thread(upgrade_database_sync, url)
