"""Open the application database: migrate it first, then hand out engine and sessions.

Every entry point that touches the database (the bot, each CLI command) goes
through :func:`open_database`, so a fresh install or an upgrade never meets
an old schema.
"""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.settings import Settings
from storage.db import make_engine, make_session_factory
from storage.migrate import upgrade_database

# A dead server raises OSError; a wrong password or a missing database a bare
# DBAPIError (asyncpg's errors are not classified further); an unwritable
# SQLite path OSError or OperationalError. Integrity and data errors during a
# migration are bugs, not an unavailable database, and are left alone.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (DBAPIError, OSError, TimeoutError)
NOT_UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (IntegrityError, DataError)


class DatabaseUnavailable(Exception):
    """The database cannot be reached or opened. The message never holds the URL."""


def describe_database(url: str) -> str:
    """A short, password-free description: the dialect and the database name."""
    sa_url = make_url(url)
    return f"{sa_url.get_backend_name()}: {sa_url.database or 'bộ nhớ'}"


def scrub(text: str, url: str) -> str:
    password = make_url(url).password
    return text.replace(str(password), "***") if password else text


def unavailable(exc: BaseException, url: str) -> DatabaseUnavailable:
    reason = scrub(str(getattr(exc, "orig", None) or exc), url).splitlines()
    detail = reason[0] if reason else type(exc).__name__
    return DatabaseUnavailable(
        f"Không mở được cơ sở dữ liệu ({describe_database(url)}): {type(exc).__name__}: {detail}"
    )


async def open_database(settings: Settings) -> tuple[AsyncEngine, async_sessionmaker[AsyncSession]]:
    """Migrate the database to the newest schema, then return an engine and a session factory.

    Raises DatabaseUnavailable when the database cannot be reached.
    """
    url = settings.database_url
    try:
        await upgrade_database(url)
    except NOT_UNAVAILABLE_ERRORS:
        raise
    except UNAVAILABLE_ERRORS as exc:
        raise unavailable(exc, url) from exc
    engine = make_engine(url)
    return engine, make_session_factory(engine)
