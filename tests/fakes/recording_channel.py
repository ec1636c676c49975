"""A test-only channel adapter: the outbound side of a channel that records what it is sent.

It stands at the adapter boundary (core.outbound.Outbound), where Telegram's
adapter would make an API call, so everything above it (the schedule, the
sender's pacing and claims, the database) is the real thing. ``blocked``
accounts raise Blocked, as a chat API does for a user who blocked the bot.
Chat ids are compared as text (accounts and deliveries hold them so), so a test
may name them by Telegram's integers or by Zalo-like strings.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from itertools import count

from core.outbound import Attachment, Blocked, Buttons


@dataclass
class Sent:
    chat_id: str
    text: str
    buttons: Buttons | None
    attachment: Attachment | None


@dataclass
class RecordingChannel:
    name: str = "test"
    per_second: float = 30.0
    blocked: set[int | str] = field(default_factory=set)
    sent: list[Sent] = field(default_factory=list)
    _ids: count[int] = field(default_factory=lambda: count(1))
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def send(
        self,
        chat_id: int | str,
        text: str,
        *,
        buttons: Buttons | None = None,
        html: bool = False,
        attachment: Attachment | None = None,
    ) -> int | None:
        if str(chat_id) in {str(chat) for chat in self.blocked}:
            raise Blocked("Blocked: the user blocked the bot")
        async with self._arrived:
            self.sent.append(Sent(str(chat_id), text, buttons, attachment))
            self._arrived.notify_all()
        return next(self._ids)

    def texts_to(self, chat_id: int | str) -> list[str]:
        return [message.text for message in self.sent if message.chat_id == str(chat_id)]

    async def wait_for(self, messages: int) -> None:
        """Until at least ``messages`` have been sent (bound it with asyncio.timeout)."""
        async with self._arrived:
            await self._arrived.wait_for(lambda: len(self.sent) >= messages)
