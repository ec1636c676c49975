"""Wiring the Telegram application: settings, database, the Telegram channel, menus, scheduler.

``build_application`` is used by ``python -m bot run`` and by the end-to-end
tests, which point ``TELEGRAM_API_BASE_URL`` at a fake Bot API server.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, Update
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, Defaults

from bot.settings import TELEGRAM_WEBHOOK_PATH, Settings
from channels.telegram import register, set_chat_menu, set_default_menu
from channels.telegram_outbound import TelegramOutbound, plain_bot
from handlers.base import AppState, Clock, utc_clock
from scheduler import jobs as scheduler_jobs
from scheduler.jobs import Ticker
from storage.models import ChannelAccount, Officer
from web.server import Webhook, WebServer, start_web_server

log = logging.getLogger(__name__)

# Updates from different users are handled side by side; one user's updates
# still arrive in order because PTB hands them out in sequence.
CONCURRENT_UPDATES = 32
STATE_KEY = "dondoc"
STARTUP_KEY = "dondoc_startup"
SCHEDULE_KEY = "dondoc_schedule"
STOP_WAIT_SECONDS = 60.0  # how long a clean stop waits for a tick's fan-out to finish
WEBHOOK_PATH = TELEGRAM_WEBHOOK_PATH
TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
StartupHook = Callable[[Application], Awaitable[None]]  # type: ignore[type-arg]


class DondocApplication(Application):  # type: ignore[type-arg]
    """PTB's application, which also stops the minute tick when it stops.

    The tick runs on its own AsyncIOScheduler (scheduler.jobs), not on PTB's
    JobQueue; stopping it here keeps every caller's ``app.stop()`` enough.
    """

    async def stop(self) -> None:
        running: tuple[AsyncIOScheduler, Ticker, Bot] | None = self.bot_data.pop(SCHEDULE_KEY, None)
        if running is not None:
            schedule, ticker, sending_bot = running
            # Pause first and wait for the tick in flight: APScheduler's shutdown cancels a
            # running coroutine job, which would cut a fan-out between a send and its mark.
            if schedule.running:
                schedule.pause()
            await ticker.finish(seconds=STOP_WAIT_SECONDS)
            if schedule.running:
                schedule.shutdown(wait=False)
            await sending_bot.shutdown()
        await super().stop()


def build_application(
    settings: Settings,
    *,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock = utc_clock,
    extra_startup: StartupHook | None = None,
    schedule: bool = True,
) -> Application:  # type: ignore[type-arg]
    """The bot; with ``schedule`` its reminder and summary tick too (tests may leave it out)."""
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is required to build the application")
    app = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_file_base_url)
        .defaults(Defaults(tzinfo=settings.tz))
        .rate_limiter(AIORateLimiter(max_retries=3))
        .concurrent_updates(CONCURRENT_UPDATES)
        .application_class(DondocApplication)
        .build()
    )
    state = AppState(settings=settings, sessions=sessions, clock=clock)
    app.bot_data[STATE_KEY] = state
    hooks = [_schedule_hook(settings, sessions, clock)] if schedule else []
    app.bot_data[STARTUP_KEY] = [*hooks, *([extra_startup] if extra_startup else [])]
    register(app, state)
    return app


def _schedule_hook(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], clock: Clock
) -> StartupHook:
    """Start the minute tick, sending through Telegram's adapter, once the bot has started."""

    async def start(app: Application) -> None:  # type: ignore[type-arg]
        bot = plain_bot(settings)  # no PTB rate limiter: the Sender paces and retries
        await bot.initialize()
        ticker = scheduler_jobs.make_ticker(settings, sessions, TelegramOutbound(bot), clock)
        app.bot_data[SCHEDULE_KEY] = (scheduler_jobs.start_schedule(ticker), ticker, bot)

    return start


async def start_bot(app: Application) -> None:  # type: ignore[type-arg]
    """Start processing updates, then do the start-up chores (menus, catch-up).

    Not PTB's post_init: that hook runs only inside run_polling/run_webhook,
    and we drive the lifecycle ourselves so tests and the CLI share it.
    """
    await app.start()
    state = app.bot_data[STATE_KEY]
    await _set_menus(app, state.sessions)
    for hook in app.bot_data.get(STARTUP_KEY, []):
        await hook(app)


async def _set_menus(app: Application, sessions: async_sessionmaker[AsyncSession]) -> None:  # type: ignore[type-arg]
    await set_default_menu(app.bot)
    async with sessions() as session:
        linked = await session.execute(
            select(ChannelAccount.external_id, Officer.roles)
            .join(Officer, Officer.id == ChannelAccount.officer_id)
            .where(ChannelAccount.channel == "telegram", Officer.active.is_(True))
        )
        managers = [(chat, roles) for chat, roles in linked if set(roles or ()) - {"officer"}]
    for chat, roles in managers:
        await set_chat_menu(app.bot, chat_id=int(chat), roles=roles)


async def run_until_stopped(app: Application, settings: Settings) -> None:  # type: ignore[type-arg]
    """Long polling, or the web server with a webhook, until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with app:
        await start_bot(app)
        server = await start_receiving(app, settings)
        await stop.wait()
        if server is not None:
            await server.stop()
        assert app.updater is not None
        if app.updater.running:
            await app.updater.stop()
        await app.stop()


async def start_receiving(app: Application, settings: Settings) -> WebServer | None:  # type: ignore[type-arg]
    """Long polling; or, with PUBLIC_BASE_URL (or WEBHOOK_URL), the web server and a webhook.

    The web server is started first, so that Telegram's first delivery finds
    it; then the webhook is registered with its secret token, which the
    server checks on every request (403 without the exact header).
    """
    assert app.updater is not None
    if not settings.web_enabled:
        await app.updater.start_polling(allowed_updates=Update.ALL_TYPES)
        log.warning("dondoc is running (long polling)")
        return None
    state = app.bot_data[STATE_KEY]
    server = await start_web_server(
        settings,
        sessions=state.sessions,
        clock=state.clock,
        webhooks=[telegram_webhook(app, settings)],
    )
    url = settings.telegram_webhook_url
    assert url is not None  # web_enabled
    try:
        await app.bot.set_webhook(
            url,
            secret_token=settings.webhook_secret_for(WEBHOOK_PATH),
            allowed_updates=Update.ALL_TYPES,
        )
    except BaseException:
        await server.stop()
        raise
    log.warning("dondoc is running (web server on port %s, Telegram webhook)", server.port)
    return server


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
