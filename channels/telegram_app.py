"""Telegram as a channel of the running bot: PTB's Application, built, started and stopped.

:class:`TelegramRunner` is Telegram's bot.runner.ChannelRunner: PTB's Application takes the
updates (long polling, or the webhook route it hands the web server) and passes them to
channels.telegram; the scheduler's sender gets a :class:`TelegramOutbound` on a Bot of its
own, without PTB's rate limiter, since the sender paces and retries by itself. PTB's start-up
errors become the runner's (a refused token, an unreachable API), with the message an
operator needs. ``build_application`` and ``start_bot`` are the pieces the end-to-end tests
drive directly, polling the fake Bot API server.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Update
from telegram.error import InvalidToken, NetworkError
from telegram.ext import Application, ApplicationBuilder, Defaults, ExtBot

from bot import texts
from bot.runner import ChannelRefused, ChannelUnreachable
from bot.settings import TELEGRAM_WEBHOOK_PATH, Settings
from channels.telegram import (
    CHANNEL_KEY,
    TelegramChannel,
    register,
    set_chat_menu,
    set_default_menu,
)
from channels.telegram_budget import SharedRateLimiter
from channels.telegram_outbound import TELEGRAM_MESSAGES_PER_SECOND, TelegramOutbound
from core.send_budget import Rates, SendBudget, bot_key
from handlers.base import TELEGRAM, AppState
from storage.models import ChannelAccount, Officer
from web.server import Webhook

log = logging.getLogger(__name__)

# Updates from different users are handled side by side; one user's updates
# still arrive in order because PTB hands them out in sequence.
CONCURRENT_UPDATES = 32
STATE_KEY = "dondoc"
WEBHOOK_PATH = TELEGRAM_WEBHOOK_PATH
TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def build_application(state: AppState) -> Application:  # type: ignore[type-arg]
    """PTB's application for the bot, its handlers registered; not started."""
    settings = state.settings
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is required to build the application")
    app = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_file_base_url)
        .defaults(Defaults(tzinfo=settings.tz))
        .rate_limiter(SharedRateLimiter(telegram_budget(state), max_retries=3))
        .concurrent_updates(CONCURRENT_UPDATES)
        .build()
    )
    app.bot_data[STATE_KEY] = state
    register(app, state)
    return app


# Telegram: about 30 messages a second per bot (core.send_budget paces a little under it) and
# 20 a minute per group. (One a second per private chat: see channels.telegram_budget.)
TELEGRAM_RATES = Rates(
    per_second=TELEGRAM_MESSAGES_PER_SECOND, per_chat_interval=1.0, group_interval=3.0
)


def telegram_budget(state: AppState) -> SendBudget:
    """The bot's send budget, shared with every other process on this token and database."""
    token = state.settings.telegram_bot_token
    assert token is not None
    return SendBudget(
        sessions=state.sessions,
        key=bot_key(TELEGRAM, token.get_secret_value()),
        rates=TELEGRAM_RATES,
    )


def sending_bot(state: AppState) -> ExtBot:  # type: ignore[type-arg]
    """The bot the scheduler's sender sends through: within the same shared budget as the
    replies, but a 429 goes back to the sender at once (it waits and retries by itself,
    scheduler.sender) after pausing the budget for every process."""
    settings = state.settings
    assert settings.telegram_bot_token is not None
    return ExtBot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=settings.telegram_api_base_url,
        base_file_url=settings.telegram_file_base_url,
        rate_limiter=SharedRateLimiter(telegram_budget(state), max_retries=0, each_chat=True),
    )


@asynccontextmanager
async def telegram_sending(state: AppState) -> AsyncIterator[TelegramOutbound]:
    """Telegram's sending side alone (the CLI's remind/summary --send), initialised for the
    block's duration."""
    async with sending_bot(state) as bot:
        yield TelegramOutbound(bot)


async def start_bot(app: Application) -> None:  # type: ignore[type-arg]
    """Start processing updates, then set the command menus.

    Not PTB's post_init: that hook runs only inside run_polling/run_webhook,
    and we drive the lifecycle ourselves so tests and the runner share it.
    """
    await app.start()
    state = app.bot_data[STATE_KEY]
    state.bot_usernames[TELEGRAM] = app.bot.username  # invite links, from any channel (/moi)
    await _set_menus(app, state.sessions)


async def _set_menus(app: Application, sessions: async_sessionmaker[AsyncSession]) -> None:  # type: ignore[type-arg]
    await set_default_menu(app.bot)
    async with sessions() as session:
        linked = await session.execute(
            select(ChannelAccount.external_id, Officer.roles)
            .join(Officer, Officer.id == ChannelAccount.officer_id)
            .where(ChannelAccount.channel == TELEGRAM, Officer.active.is_(True))
        )
        managers = [(chat, roles) for chat, roles in linked if set(roles or ()) - {"officer"}]
    for chat, roles in managers:
        await set_chat_menu(app.bot, chat_id=int(chat), roles=roles)


def telegram_webhook(app: Application, settings: Settings) -> Webhook:  # type: ignore[type-arg]
    """Telegram's route on the web server: PTB's custom-webhook pattern.

    The server checks the secret header; the body becomes an Update on the
    application's queue, where polling would have put it.
    """

    async def accept(body: dict[str, Any]) -> None:
        await app.update_queue.put(Update.de_json(body, app.bot))

    return Webhook(
        path=WEBHOOK_PATH,
        header=TELEGRAM_SECRET_HEADER,
        secret=settings.webhook_secret_for(WEBHOOK_PATH),
        accept=accept,
    )


class TelegramRunner:
    """Telegram for bot.runner: see the module docstring."""

    name = TELEGRAM

    def __init__(self, state: AppState) -> None:
        self.settings = state.settings
        self.app = build_application(state)
        self.inbound: TelegramChannel = self.app.bot_data[CHANNEL_KEY]
        self._sending = sending_bot(state)
        self.outbound = TelegramOutbound(self._sending)

    def webhook(self) -> Webhook:
        return telegram_webhook(self.app, self.settings)

    async def start(self) -> None:
        async with self._start_errors():
            await self.app.initialize()  # getMe: a refused token stops here
            await self._sending.initialize()
            await start_bot(self.app)

    async def receive(self, *, webhook: bool) -> None:
        async with self._start_errors():
            await (self._set_webhook() if webhook else self._poll())

    @asynccontextmanager
    async def _start_errors(self) -> AsyncIterator[None]:
        """PTB's start-up errors as the runner's, with the operator's message."""
        try:
            yield
        except InvalidToken:
            raise ChannelRefused(texts.TOKEN_REFUSED) from None
        except NetworkError:
            # Only the start can raise it (getMe, setWebhook/deleteWebhook); once running,
            # PTB retries by itself. One clear line, not a traceback per attempt.
            where = urlsplit(self.settings.telegram_api_base_url).netloc or "?"
            raise ChannelUnreachable(texts.TELEGRAM_UNREACHABLE.format(where=where)) from None

    async def _poll(self) -> None:
        assert self.app.updater is not None
        await self.app.updater.start_polling(allowed_updates=Update.ALL_TYPES)
        log.warning("Telegram: long polling")

    async def _set_webhook(self) -> None:
        """Tell Telegram the webhook URL and the secret token the server checks (403 without)."""
        url = self.settings.telegram_webhook_url
        assert url is not None  # the web server runs, so a public URL is set
        await self.app.bot.set_webhook(
            url,
            secret_token=self.settings.webhook_secret_for(WEBHOOK_PATH),
            allowed_updates=Update.ALL_TYPES,
        )
        log.warning("Telegram: webhook")

    async def stop_receiving(self) -> None:
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()

    async def stop(self) -> None:
        """Wait for the updates in flight, then close both bots (either may never have started)."""
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()
        await self._sending.shutdown()
