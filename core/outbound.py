"""Outbound messages, whatever the channel: what the sender hands an adapter, and what can go wrong.

The sender (scheduler.sender) paces, retries and claims; a channel adapter
(channels.telegram today) only turns one message into one API call and its
errors into the exceptions below. The sender decides what each means: wait
and retry, back off, give up, or mark the account unreachable. Nothing here
may import a chat library (a test checks it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

# A token inside an error text (a URL in a network error) must not reach the database or logs.
_TOKEN = re.compile(r"\d{6,}:[A-Za-z0-9_-]{30,}")

Buttons = Sequence[Sequence[tuple[str, str]]]  # rows of (label, callback data)


@dataclass(frozen=True)
class Attachment:
    """A file sent instead of a plain text message."""

    kind: Literal["photo", "document"]
    content: bytes
    filename: str


class SendError(Exception):
    """A message the channel did not take. ``str()`` is safe to store and log (no secrets)."""


class RateLimited(SendError):
    """The channel asks the whole bot to wait ``seconds`` before sending anything."""

    def __init__(self, description: str, seconds: float) -> None:
        super().__init__(description)
        self.seconds = seconds


class Blocked(SendError):
    """The account blocked the bot (or left): no use retrying."""


class Transient(SendError):
    """Network errors, time outs, server errors: worth retrying after a back-off."""


class Refused(SendError):
    """The channel refused this message for good (bad request, invalid token, …)."""


class Outbound(Protocol):
    """One channel's sending side: a single attempt, no pacing, no retries."""

    name: str  # "telegram", …: recorded with each claimed delivery
    # The most messages a second the channel takes from the bot (its send budget's rate):
    # a reminder fan-out runs as many deliveries side by side as this needs, and no more.
    per_second: float

    async def send(
        self,
        chat_id: int | str,
        text: str,
        *,
        buttons: Buttons | None = None,
        html: bool = False,
        attachment: Attachment | None = None,
    ) -> int | None:
        """Send once to the chat (the channel's id, as text; Telegram's may come as int);
        the message id, or raise a :class:`SendError`."""
        ...


def describe(exc: BaseException, secret: str | None = None) -> str:
    """A short, token-free description of an error, fit for the deliveries table and logs."""
    text = f"{type(exc).__name__}: {exc}"
    if secret:
        text = text.replace(secret, "[REDACTED]")
    return _TOKEN.sub("[REDACTED]", text)[:300]


def takes_files(outbound: Outbound) -> bool:
    """Whether the channel takes uploaded photos and documents. A text channel's outbound
    (channels.text_rendering.TextOutbound) carries its Capabilities; Zalo's say no."""
    capabilities = getattr(outbound, "capabilities", None)
    return capabilities is None or bool(capabilities.documents)
