"""``python -m bot run``: run every channel whose token is set, the web server and the schedule."""

from __future__ import annotations

import argparse
from typing import Any

from bot import texts
from bot.cli import EXIT_CONFIG, EXIT_DB_UNAVAILABLE, CommandError
from bot.database import open_database
from bot.runner import ChannelRefused, ChannelUnreachable, run_until_stopped
from bot.settings import Settings
from channels.registry import configured_channels
from handlers.base import AppState


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    run = subparsers.add_parser(
        "run",
        help="chạy bot trên mọi kênh đã có token (long polling; máy chủ web và webhook nếu đặt"
        " PUBLIC_BASE_URL)",
    )
    run.set_defaults(handler=run_command)


async def run_command(args: argparse.Namespace, settings: Settings) -> int:
    makers = configured_channels(settings)
    if not makers:  # before the database: nothing to run, nothing to migrate
        raise CommandError(texts.NO_TOKEN, exit_code=EXIT_CONFIG)
    engine, sessions = await open_database(settings)
    try:
        state = AppState(settings=settings, sessions=sessions)
        await run_until_stopped(state, [make(state) for make in makers])
    except ChannelRefused as exc:
        raise CommandError(str(exc), exit_code=EXIT_CONFIG) from None
    except ChannelUnreachable as exc:
        raise CommandError(str(exc), exit_code=EXIT_DB_UNAVAILABLE) from None
    finally:
        await engine.dispose()
    return 0
