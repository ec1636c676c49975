"""The bot's own Telegram username, for the invite links the command line prints.

The Telegram side of the command line (bot/cli_officer.py), kept here because only
channel adapters import ``telegram``. TELEGRAM_BOT_USERNAME wins when set;
otherwise one getMe call per token and process (cached), so printing many
links asks Telegram once. Failure is not fatal: an invite code works without
a link, so the caller prints the code and says why there is no link.
"""

from __future__ import annotations

import hashlib
import logging

from telegram import Bot
from telegram.error import TelegramError

from bot.settings import Settings

log = logging.getLogger(__name__)
_cache: dict[str, str] = {}  # sha256 of the token -> username


class UnknownBotUsername(Exception):
    """No username: the message (Vietnamese) says what to set."""


async def bot_username(settings: Settings) -> str:
    if settings.telegram_bot_username:
        return settings.telegram_bot_username.lstrip("@")
    if settings.telegram_bot_token is None:
        raise UnknownBotUsername(
            "chưa biết tên bot: đặt TELEGRAM_BOT_USERNAME (hoặc TELEGRAM_BOT_TOKEN)"
        )
    token = settings.telegram_bot_token.get_secret_value()
    key = hashlib.sha256(token.encode()).hexdigest()
    if key not in _cache:
        _cache[key] = await _get_me(settings, token)
    return _cache[key]


async def _get_me(settings: Settings, token: str) -> str:
    bot = Bot(token, base_url=settings.telegram_api_base_url)
    try:
        async with bot:  # initialising asks getMe
            username = bot.username
    except TelegramError as exc:
        # PTB's messages carry no token; the type and text say enough.
        log.info("getMe failed: %s", type(exc).__name__)
        raise UnknownBotUsername(
            f"không hỏi được tên bot từ Telegram ({type(exc).__name__}); đặt TELEGRAM_BOT_USERNAME"
        ) from None
    return username


def clear_cache() -> None:
    """For tests: forget the usernames looked up."""
    _cache.clear()
