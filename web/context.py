"""What every request handler of the web server needs, kept on the aiohttp application."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from core.dashboard import UnitStateCache

Clock = Callable[[], datetime]  # timezone-aware "now"; the tests drive it

HEALTH_TIMEOUT = 1.0  # seconds the database has to answer /healthz


@dataclass(frozen=True)
class WebContext:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    health_timeout: float = HEALTH_TIMEOUT
    # The dashboard's per-unit summaries and charts, kept while nothing moves them.
    dashboard: UnitStateCache = field(default_factory=UnitStateCache)


CONTEXT = web.AppKey("dondoc", WebContext)
