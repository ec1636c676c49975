"""End-to-end harness: the real PTB application, polling the fake Bot API server over HTTP.

Usage in a test::

    async def test_something(bot: BotUnderTest) -> None:
        await bot.tg.send_text(42, "/start")
        reply = await bot.tg.wait_for(lambda m: m.chat_id == 42)

``bot.sessions`` opens sessions on the same test database the bot uses, for
setting up data and checking what the bot wrote. ``bot.clock`` is a settable
clock the bot reads instead of the wall clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import Application

from bot.settings import Settings
from channels.telegram_app import build_application, start_bot
from handlers.base import AppState
from tests.fakes.telegram_api import FakeTelegram


class SettableClock:
    """A clock a test moves by hand; the bot calls it for "now"."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now


@dataclass
class BotUnderTest:
    tg: FakeTelegram
    app: Application  # type: ignore[type-arg]
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    clock: SettableClock


def bot_settings(settings: Settings, tg: FakeTelegram, **overrides: object) -> Settings:
    """The test's settings, pointed at the fake server. ``overrides`` use field names."""
    return settings.model_copy(
        update={
            "telegram_bot_token": SecretStr(tg.token),
            "telegram_api_base_url": tg.base_url,
            "telegram_file_base_url": tg.base_file_url,
            **overrides,
        }
    )


@asynccontextmanager
async def running_bot(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    *,
    now: datetime | None = None,
    **overrides: object,
) -> AsyncIterator[BotUnderTest]:
    """The bot, polling the fake server; no reminder tick (bot.runner starts that)."""
    clock = SettableClock(now or datetime(2024, 3, 4, 2, 0, tzinfo=UTC))
    async with FakeTelegram() as tg:
        config = bot_settings(settings, tg, **overrides)
        app = build_application(AppState(settings=config, sessions=sessions, clock=clock))
        async with app:
            await start_bot(app)
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0, timeout=1)
            try:
                yield BotUnderTest(tg, app, sessions, config, clock)
            finally:
                await app.updater.stop()
                await app.stop()
