"""Which channels ``python -m bot run`` runs: each one whose token is set.

A channel is a bot.runner.ChannelRunner made from the program's AppState. To add one,
add a line to ``CHANNELS``: when it runs (its token is set) and how to make its runner.
The scheduler sends through every running channel (bot.runner.sending_adapters).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

from bot.runner import ChannelRunner
from bot.settings import Settings
from channels.telegram_app import TelegramRunner, telegram_sending
from channels.zalo import CHANNEL as ZALO
from channels.zalo_app import ZaloRunner, zalo_sending
from core.outbound import Outbound
from handlers.base import TELEGRAM, AppState

MakeRunner = Callable[[AppState], ChannelRunner]

CHANNELS: tuple[tuple[Callable[[Settings], bool], MakeRunner], ...] = (
    (lambda settings: settings.telegram_bot_token is not None, TelegramRunner),
    (lambda settings: settings.zalo_bot_token is not None, ZaloRunner),
)


def configured_channels(settings: Settings) -> list[MakeRunner]:
    """How to make the runner of each channel whose token is set, in ``CHANNELS`` order."""
    return [make for enabled, make in CHANNELS if enabled(settings)]


@asynccontextmanager
async def sending_adapters(state: AppState) -> AsyncIterator[dict[str, Outbound]]:
    """The sending side of every channel whose token is set, without receiving anything:
    for commands that send by hand (remind --send, summary --send) beside a running bot."""
    async with AsyncExitStack() as stack:
        adapters: dict[str, Outbound] = {}
        if state.settings.telegram_bot_token is not None:
            adapters[TELEGRAM] = await stack.enter_async_context(telegram_sending(state))
        if state.settings.zalo_bot_token is not None:
            adapters[ZALO] = await stack.enter_async_context(zalo_sending(state))
        yield adapters
