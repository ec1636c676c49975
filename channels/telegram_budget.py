"""PTB's rate limiter slot, filled with the bot's shared send budget (core.send_budget).

Every request python-telegram-bot makes passes through its rate limiter, so
putting the shared budget there covers every message: replies to users as well
as the sender's digests and summaries. (PTB's own AIORateLimiter, used before,
paces one process only.) A request that shows a user something (send…, edit…,
copy…, forward…) waits for the bot's turn, and in a group for the group's turn
too (20 a minute); everything else (answering a button, getFile, setMyCommands,
getUpdates) goes at once, as Telegram does not count it against the message
limits. A private chat's one-a-second is not applied here: a reply waiting on
it would hold one of PTB's update slots meanwhile, so that one person's flood
could stall everyone's answers. The scheduler's bot (``each_chat``) does
take the chat's turn too, so that two processes' digests and escalations to one person keep
one a second; replies were never paced per private chat.

A 429 answer pauses the whole bot in every process (SendBudget.pause) and the
request is tried again, up to ``max_retries`` times, as AIORateLimiter did;
after that the RetryAfter reaches the caller (the sender then waits and retries
the same message, see scheduler.sender).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from channels.telegram_outbound import retry_after_seconds
from core.send_budget import SendBudget

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]
_PACED_PREFIXES = ("send", "edit", "copy", "forward")
_NOT_A_MESSAGE = frozenset({"sendChatAction"})


def is_paced(endpoint: str) -> bool:
    return endpoint.startswith(_PACED_PREFIXES) and endpoint not in _NOT_A_MESSAGE


def is_group(chat_id: object) -> bool:
    """Telegram's group and channel ids are negative, or an @username."""
    text = str(chat_id)
    return text.startswith(("-", "@"))


class SharedRateLimiter(BaseRateLimiter[None]):
    """Waits for the shared budget before each message; pauses everyone on a 429."""

    def __init__(
        self, budget: SendBudget, *, max_retries: int = 3, each_chat: bool = False
    ) -> None:
        self.budget = budget
        self.max_retries = max_retries
        # The scheduler's bot: a private chat's one a second holds across processes too.
        self.each_chat = each_chat

    async def initialize(self) -> None:
        """Nothing to open: the budget lives in the database."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> JSONResult:
        chat_id = data.get("chat_id")
        paced = chat_id is not None and is_paced(endpoint)
        group = is_group(chat_id)
        for attempt in range(self.max_retries + 1):
            if paced:
                per_chat = group or self.each_chat
                await self.budget.wait_turn(str(chat_id) if per_chat else None, group=group)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == self.max_retries:
                    raise
                await self.budget.pause(retry_after_seconds(exc))
                if not paced:  # a paced retry waits for its turn, which the pause moved
                    await self.budget.sleep(retry_after_seconds(exc))
        raise AssertionError("unreachable: the last attempt returns or raises")
