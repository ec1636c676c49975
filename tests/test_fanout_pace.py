"""A reminder fan-out runs as many deliveries side by side as each channel's pace needs.

Every delivery claims its digest before it is sent, so deliveries in flight are claims held
ahead of the send. On Telegram (30 messages a second) sixteen keep the channel busy; on a
channel paced at 5 a second (Zalo's default) four do, and more would only hold claims and,
when a unit's fan-out starts, put a burst of writes ahead of the conversation's.

The two channels are RecordingChannels that hold every send until the test lets them go
(where a channel adapter makes its API call); the sender, the claims and the database are
the real ones.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler.reminders import ReminderSender
from scheduler.sender import Sender, fanout_concurrency
from storage.models import Delivery
from tests.fakes.recording_channel import RecordingChannel
from tests.reminder_world import DAY, MORNING, seed
from tests.test_sender import FakeTime

Sessions = async_sessionmaker[AsyncSession]
OFFICERS = 40  # even numbers on Telegram, odd on Zalo: 20 each


@dataclass
class HeldChannel(RecordingChannel):
    """Records what it is sent, once ``release`` is set; counts the sends waiting for it."""

    waiting: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def send(self, *args: Any, **kwargs: Any) -> int | None:
        async with self._changed:
            self.waiting += 1
            self._changed.notify_all()
        await self.release.wait()
        return await super().send(*args, **kwargs)

    async def until_waiting(self, sends: int) -> None:
        async with asyncio.timeout(10), self._changed:
            await self._changed.wait_for(lambda: self.waiting >= sends)


def on_both(number: int) -> tuple[str, ...]:
    return ("telegram",) if number % 2 == 0 else ("zalo",)


async def claimed(sessions: Sessions) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status == "claimed")
        )
    return int(count or 0)


async def test_each_channel_runs_as_many_deliveries_at_once_as_its_pace_needs(
    session_factory: Sessions,
) -> None:
    unit_id = await seed(session_factory, OFFICERS, channels=on_both)
    telegram = HeldChannel(name="telegram", per_second=30)
    zalo = HeldChannel(name="zalo", per_second=5)
    time = FakeTime()
    sender = Sender({"telegram": telegram, "zalo": zalo}, clock=time.clock, sleep=time.sleep)
    reminders = ReminderSender(session_factory, sender, lambda: MORNING)
    fast, slow = fanout_concurrency(30), fanout_concurrency(5)
    assert slow < fast <= OFFICERS // 2

    fan_out = asyncio.create_task(reminders.send_day(unit_id=unit_id, day=DAY))
    await telegram.until_waiting(fast)
    await zalo.until_waiting(slow)
    for _ in range(20):  # nothing else starts: each further delivery waits for a free worker
        await asyncio.sleep(0)
    in_flight = (telegram.waiting, zalo.waiting, await claimed(session_factory))
    telegram.release.set()
    zalo.release.set()
    report = await asyncio.wait_for(fan_out, timeout=30)

    assert in_flight == (fast, slow, fast + slow)
    assert report.outcomes == {"sent": OFFICERS}
    assert (len(telegram.sent), len(zalo.sent)) == (OFFICERS // 2, OFFICERS // 2)
