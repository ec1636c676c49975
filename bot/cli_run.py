"""``python -m bot run``: start the bot (long polling, or the web server and a webhook)."""

from __future__ import annotations

import argparse
from typing import Any

from bot import texts
from bot.application import build_application, run_until_stopped
from bot.cli import EXIT_CONFIG, CommandError
from bot.database import open_database
from bot.settings import Settings


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    run = subparsers.add_parser(
        "run", help="chạy bot (long polling; máy chủ web và webhook nếu đặt PUBLIC_BASE_URL)"
    )
    run.set_defaults(handler=run_command)


async def run_command(args: argparse.Namespace, settings: Settings) -> int:
    if settings.telegram_bot_token is None:
        raise CommandError(texts.NO_TOKEN, exit_code=EXIT_CONFIG)
    engine, sessions = await open_database(settings)
    try:
        app = build_application(settings, sessions=sessions)
        await run_until_stopped(app, settings)
    finally:
        await engine.dispose()
    return 0
