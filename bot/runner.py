"""``python -m bot run`` once the database is open: the web server, every channel, the minute tick.

Channel-neutral: a chat channel plugs in as a :class:`ChannelRunner` (Telegram's is
channels.telegram_app.TelegramRunner), and channels.registry lists which ones run, by
the tokens that are set. The minute tick (scheduler.jobs) runs on its own AsyncIOScheduler
in this loop, whatever channels run, and sends through their adapters.

Start: each channel connects (a refused token stops everything here, before a port is
opened); the web server when PUBLIC_BASE_URL is set, with the webhook route of every
channel that has one; then each channel takes updates (by its webhook when it has a
route on the server, so its first delivery finds it; else by polling); then the tick,
whose first run is the catch-up. Stop, in this order: the web server; each channel
stops taking updates; the tick is paused and the tick in flight may finish its fan-out
(scheduler.jobs.stop_schedule); then each channel finishes the updates in flight and
closes its connections, the sending ones last used by that tick.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.outbound import Outbound
from handlers.base import AppState, Channel
from scheduler.jobs import Ticker, make_ticker, start_schedule, stop_schedule
from web.server import Webhook, WebServer, start_web_server

log = logging.getLogger(__name__)


class ChannelError(Exception):
    """A channel could not start; ``str()`` is the operator's message (Vietnamese, no secret)."""


class ChannelRefused(ChannelError):
    """The platform refused the channel's token: a configuration error."""


class ChannelUnreachable(ChannelError):
    """The platform's API did not answer at start."""


class ChannelRunner(Protocol):
    """One chat channel of the running bot, as the runner drives it.

    ``outbound`` is what the scheduler's sender sends through, usable from the end of
    :meth:`start` to :meth:`stop`; ``inbound`` is the conversation side the features
    answer through. Both exist from construction on.
    """

    name: str  # "telegram", "zalo": the channel's name in the database

    @property
    def inbound(self) -> Channel: ...

    @property
    def outbound(self) -> Outbound: ...

    def webhook(self) -> Webhook | None:
        """Its route on the web server, or None if it only polls."""
        ...

    async def start(self) -> None:
        """Connect (check the token) and be ready to handle updates and send.

        Raises :class:`ChannelError` for a refused token or an unreachable API, here or in
        :meth:`receive`; :meth:`stop_receiving` and :meth:`stop` are still called after a
        failed start, so they must cope with a partial one."""
        ...

    async def receive(self, *, webhook: bool) -> None:
        """Take updates: by ``webhook`` (the web server listens on its route) or by polling."""
        ...

    async def stop_receiving(self) -> None:
        """Take no new updates."""
        ...

    async def stop(self) -> None:
        """Finish the updates in flight and close every connection (the outbound's too)."""
        ...


def sending_adapters(channels: Sequence[ChannelRunner]) -> dict[str, Outbound]:
    """The adapters the scheduler's sender sends through, by channel name.

    The sender addresses people: each message goes to an account of the person on
    one of these channels (scheduler.sender, core.accounts.delivery_order).
    """
    if not channels:
        raise ValueError("no channel to send reminders through")
    return {channel.name: channel.outbound for channel in channels}


@dataclass
class Schedule:
    """The minute tick while it runs."""

    scheduler: AsyncIOScheduler
    ticker: Ticker

    async def stop(self) -> None:
        await stop_schedule(self.scheduler, self.ticker)


def start_ticking(state: AppState, channels: Sequence[ChannelRunner]) -> Schedule:
    """The minute tick on an AsyncIOScheduler in the running loop; its first tick runs now."""
    adapters = sending_adapters(channels)
    ticker = make_ticker(state.settings, state.sessions, adapters, state.clock)
    return Schedule(start_schedule(ticker), ticker)


@dataclass
class Running:
    channels: Sequence[ChannelRunner]
    server: WebServer | None
    schedule: Schedule | None


@asynccontextmanager
async def running(
    state: AppState, channels: Sequence[ChannelRunner], *, schedule: bool = True
) -> AsyncIterator[Running]:
    """Everything started, in the order of the module docstring; stopped in order on exit.

    ``schedule=False`` leaves the tick out (tests of the conversation alone).
    """
    settings = state.settings
    hooks = [channel.webhook() if settings.web_enabled else None for channel in channels]
    server: WebServer | None = None
    started: list[ChannelRunner] = []
    ticking: Schedule | None = None
    try:
        for channel in channels:
            started.append(channel)  # a failed start is still stopped
            await channel.start()
        if settings.web_enabled:
            server = await start_web_server(
                settings,
                sessions=state.sessions,
                clock=state.clock,
                webhooks=[hook for hook in hooks if hook is not None],
            )
        for channel, hook in zip(channels, hooks, strict=True):
            await channel.receive(webhook=hook is not None)
        if schedule:
            ticking = start_ticking(state, channels)
        names = ", ".join(channel.name for channel in channels) or "-"
        where = f"web server on port {server.port}" if server is not None else "no web server"
        log.warning("dondoc is running (channels: %s; %s)", names, where)
        # Everything made so far (modules, PTB, SQLAlchemy, caches) lives as long as the
        # process: frozen, a full collection no longer walks it. bench/mixed_channels.py:
        # full collections stalled replies 100-160 ms every few seconds; now 10-25 ms about
        # every 20 s. (Young collections stay at Python's default size: at 50,000 objects
        # each took 60-70 ms, most of it the cycles httpx and SQLAlchemy leave behind.)
        gc.freeze()
        yield Running(channels, server, ticking)
    finally:
        await _stop(server, started, ticking)


async def _stop(
    server: WebServer | None, channels: Sequence[ChannelRunner], ticking: Schedule | None
) -> None:
    if server is not None:
        await server.stop()
    for channel in channels:
        await channel.stop_receiving()
    if ticking is not None:
        await ticking.stop()
    for channel in channels:
        await channel.stop()


async def run_until_stopped(state: AppState, channels: Sequence[ChannelRunner]) -> None:
    """Run everything until SIGINT or SIGTERM, then stop cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running(state, channels):
        await stop.wait()
