"""Waiting on a fake server's state without polling: one Condition, notified on every change.

The fakes (telegram_api, zalo_api) notify after each request, message or update; a
test helper waits for a predicate over their state, with a time limit, and no sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def wait_for_change(
    changed: asyncio.Condition, condition: Callable[[], bool], seconds: float
) -> bool:
    """Whether ``condition()`` came true (checked after each notify) within ``seconds``."""
    try:
        async with asyncio.timeout(seconds), changed:
            await changed.wait_for(condition)
    except TimeoutError:
        return False
    return True


async def notify_change(changed: asyncio.Condition) -> None:
    async with changed:
        changed.notify_all()
