"""Telegram's sending side for the scheduler's sender: one Bot API call per message.

``TelegramOutbound`` implements core.outbound.Outbound: it builds the inline
keyboard and parse mode, calls the Bot API once, and turns PTB's errors into
the sender's (RetryAfter → RateLimited, Forbidden → Blocked, BadRequest and
other API errors → Refused, network errors, time outs and 5xx → Transient).
Pacing and retries stay in scheduler.sender, whatever the channel.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.settings import Settings
from core.outbound import (
    Attachment,
    Blocked,
    Buttons,
    RateLimited,
    Refused,
    Transient,
    describe,
)

CHANNEL = "telegram"


def keyboard(buttons: Buttons | None) -> InlineKeyboardMarkup | None:
    """Rows of (label, callback data) as an inline keyboard; None when there are none."""
    if not buttons:
        return None
    rows = [
        [InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in buttons
    ]
    return InlineKeyboardMarkup(rows)


def retry_after_seconds(exc: RetryAfter) -> float:
    # PTB 22 stores a timedelta and warns when the public attribute is read as an int; the
    # private field avoids the warning under either setting of PTB_TIMEDELTA.
    value = getattr(exc, "_retry_after", None)
    if value is None:
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


# About 30 messages a second per bot (channels.telegram_app.TELEGRAM_RATES).
TELEGRAM_MESSAGES_PER_SECOND = 30.0


class TelegramOutbound:
    """Sends through a ``telegram.Bot`` (or anything with its send methods)."""

    name = CHANNEL
    per_second = TELEGRAM_MESSAGES_PER_SECOND

    def __init__(self, bot: Any) -> None:
        self.bot = bot

    async def send(
        self,
        chat_id: int | str,
        text: str,
        *,
        buttons: Buttons | None = None,
        html: bool = False,
        attachment: Attachment | None = None,
    ) -> int | None:
        try:
            chat = int(chat_id)  # accounts and deliveries hold chat ids as text
        except ValueError:
            raise Refused(f"not a Telegram chat id: {str(chat_id)[:40]!r}") from None
        try:
            message = await self._call(chat, text, buttons, html, attachment)
        except RetryAfter as exc:
            raise RateLimited(self._describe(exc), retry_after_seconds(exc)) from exc
        except Forbidden as exc:
            raise Blocked(self._describe(exc)) from exc
        except BadRequest as exc:  # a subclass of NetworkError: must come first
            raise Refused(self._describe(exc)) from exc
        except NetworkError as exc:  # time outs, connection errors, 5xx
            raise Transient(self._describe(exc)) from exc
        except TelegramError as exc:  # invalid token, chat migrated, conflict: not transient
            raise Refused(self._describe(exc)) from exc
        return getattr(message, "message_id", None)

    async def _call(
        self,
        chat_id: int,
        text: str,
        buttons: Buttons | None,
        html: bool,
        attachment: Attachment | None,
    ) -> Any:
        options = {"reply_markup": keyboard(buttons), "parse_mode": "HTML" if html else None}
        if attachment is None:
            return await self.bot.send_message(chat_id, text, **options)
        caption = text or None
        if attachment.kind == "photo":
            return await self.bot.send_photo(
                chat_id, attachment.content, caption=caption, **options
            )
        return await self.bot.send_document(
            chat_id, attachment.content, filename=attachment.filename, caption=caption, **options
        )

    def _describe(self, exc: BaseException) -> str:
        return describe(exc, getattr(self.bot, "token", None))


def plain_bot(settings: Settings) -> Bot:
    """A Bot without any rate limiter (tests that look at the Sender's own pacing)."""
    assert settings.telegram_bot_token is not None
    return Bot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=settings.telegram_api_base_url,
        base_file_url=settings.telegram_file_base_url,
    )
