"""``python -m bot run``: start the bot (long polling, or the web server and a webhook)."""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import urlsplit

from telegram.error import InvalidToken, NetworkError

from bot import texts
from bot.application import build_application, run_until_stopped
from bot.cli import EXIT_CONFIG, EXIT_DB_UNAVAILABLE, CommandError
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
    except InvalidToken:
        raise CommandError(texts.TOKEN_REFUSED, exit_code=EXIT_CONFIG) from None
    except NetworkError:
        # Only the start can raise it (getMe, setWebhook/deleteWebhook); once running,
        # PTB retries by itself. One clear line, not a traceback per attempt.
        where = urlsplit(settings.telegram_api_base_url).netloc or "?"
        raise CommandError(
            texts.TELEGRAM_UNREACHABLE.format(where=where), exit_code=EXIT_DB_UNAVAILABLE
        ) from None
    finally:
        await engine.dispose()
    return 0
