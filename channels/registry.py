"""Which channels ``python -m bot run`` runs: each one whose token is set.

A channel is a bot.runner.ChannelRunner made from the program's AppState. To add one,
add a line to ``CHANNELS``: when it runs (its token is set) and how to make its runner.
The scheduler sends through every running channel (bot.runner.sending_adapters).
"""

from __future__ import annotations

from collections.abc import Callable

from bot.runner import ChannelRunner
from bot.settings import Settings
from channels.telegram_app import TelegramRunner
from channels.zalo_app import ZaloRunner
from handlers.base import AppState

MakeRunner = Callable[[AppState], ChannelRunner]

CHANNELS: tuple[tuple[Callable[[Settings], bool], MakeRunner], ...] = (
    (lambda settings: settings.telegram_bot_token is not None, TelegramRunner),
    (lambda settings: settings.zalo_bot_token is not None, ZaloRunner),
)


def configured_channels(settings: Settings) -> list[MakeRunner]:
    """How to make the runner of each channel whose token is set, in ``CHANNELS`` order."""
    return [make for enabled, make in CHANNELS if enabled(settings)]
