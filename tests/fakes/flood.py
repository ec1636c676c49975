"""Flood limits enforced by the fakes with sliding windows: Telegram's (30 messages a second
overall, one a second per chat, 20 a minute per group), or any the test sets (a Zalo quota).
Groups are Telegram's negative chat ids; other ids (Zalo's text ids) are private chats.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class FloodLimits:
    """Telegram's flood limits, enforced with sliding windows when passed to FakeTelegram."""

    global_per_second: int = 30
    per_chat_per_second: int = 1
    per_group_per_minute: int = 20  # chats with a negative id


class FloodControl:
    """Sliding windows of accepted sends: overall, per chat, per group."""

    def __init__(self, limits: FloodLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self.clock = clock
        self._global: deque[float] = deque()
        self._per_chat: dict[int | str, deque[float]] = {}

    def retry_after(self, chat_id: int | str | None) -> int | None:
        """Seconds to wait before a send to chat_id would be accepted, or None if it would be."""
        now = self.clock()
        waits = [_window_wait(self._global, now, 1.0, self.limits.global_per_second)]
        if chat_id is not None:
            window, limit = self._chat_window(chat_id)
            waits.append(_window_wait(self._per_chat.get(chat_id, deque()), now, window, limit))
        worst = max(waits)
        return None if worst <= 0 else max(1, math.ceil(worst))

    def record(self, chat_id: int | str | None) -> None:
        now = self.clock()
        self._global.append(now)
        if chat_id is not None:
            self._per_chat.setdefault(chat_id, deque()).append(now)

    def _chat_window(self, chat_id: int | str) -> tuple[float, int]:
        if isinstance(chat_id, int) and chat_id < 0:
            return 60.0, self.limits.per_group_per_minute
        return 1.0, self.limits.per_chat_per_second


def _window_wait(stamps: deque[float], now: float, window: float, limit: int) -> float:
    """How long until a new event fits: drops expired stamps, then looks at the limit-th
    newest one, which is the next to leave the window."""
    while stamps and stamps[0] <= now - window:
        stamps.popleft()
    if len(stamps) < limit:
        return 0.0
    return stamps[-limit] + window - now
