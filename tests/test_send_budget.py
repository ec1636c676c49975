"""The shared send budget (core.send_budget): two "processes" (two engines) on one database.

The clock is frozen (every reservation is made at the same instant), so the
slots the database hands out show the pacing exactly.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.send_budget import (
    HEADROOM,
    IDLE_AFTER_SECONDS,
    Rates,
    SendBudget,
    bot_key,
    forget_idle_budgets,
)
from storage.db import make_engine, make_session_factory
from storage.models import SendBudgetRow

NOW = 1_800_000_000.0
TELEGRAM = Rates(per_second=30, per_chat_interval=1.0, group_interval=3.0)


class Clock:
    def __init__(self) -> None:
        self.now = NOW
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


@pytest.fixture
async def two_processes(
    database_url: str,
) -> AsyncIterator[tuple[async_sessionmaker[AsyncSession], async_sessionmaker[AsyncSession]]]:
    first, second = make_engine(database_url), make_engine(database_url)
    yield make_session_factory(first), make_session_factory(second)
    await first.dispose()
    await second.dispose()


def budgets(
    factories: tuple[async_sessionmaker[AsyncSession], ...], clock: Clock, rates: Rates = TELEGRAM
) -> list[SendBudget]:
    key = bot_key("telegram", "123456:SECRET-TOKEN")
    return [
        SendBudget(sessions=f, key=key, rates=rates, clock=clock, sleep=clock.sleep)
        for f in factories
    ]


async def test_two_processes_share_one_overall_rate(two_processes: tuple) -> None:
    clock = Clock()
    first, second = budgets(two_processes, clock)
    slots = await asyncio.gather(
        *(first.reserve(f"a{n}") for n in range(30)),
        *(second.reserve(f"b{n}") for n in range(30)),
    )
    ordered = sorted(slots)
    gaps = [later - earlier for earlier, later in itertools.pairwise(ordered)]
    assert ordered[0] == pytest.approx(NOW)
    step = first.interval
    assert step == pytest.approx(1 / (30 * (1 - HEADROOM)))  # a little under the limit
    assert min(gaps) >= step - 1e-6
    # 60 messages at 30/s: the last leaves two seconds later (each process alone would say one).
    assert ordered[-1] == pytest.approx(NOW + 59 * step)


async def test_one_chat_gets_one_message_a_second_across_processes(two_processes: tuple) -> None:
    clock = Clock()
    first, second = budgets(two_processes, clock)
    slots = sorted(
        [await first.reserve("42"), await second.reserve("42"), await first.reserve("42")]
    )
    assert slots == pytest.approx([NOW, NOW + 1, NOW + 2])


async def test_groups_wait_longer_and_bursts_are_allowed_where_asked(two_processes: tuple) -> None:
    clock = Clock()
    first, _ = budgets(two_processes, clock)
    group = [await first.reserve("-100", group=True) for _ in range(2)]
    assert group[1] - group[0] == pytest.approx(3.0)

    bursty = budgets(two_processes, clock, Rates(30, 1.0, 3.0, chat_burst=3))[1]
    clock.now += 100
    slots = [await bursty.reserve("7") for _ in range(4)]
    assert slots[2] < clock.now + 0.1  # three at once (paced only by the overall rate)
    assert slots[3] == pytest.approx(clock.now + 1.0)


async def test_a_pause_in_one_process_holds_the_other(two_processes: tuple) -> None:
    clock = Clock()
    first, second = budgets(two_processes, clock)
    await first.pause(5.0)
    assert await second.reserve("9") == pytest.approx(NOW + 5.0)
    await first.pause(1.0)  # a shorter pause never shortens a longer one
    assert await second.reserve("10") >= NOW + 5.0


async def test_wait_turn_sleeps_until_the_slot(two_processes: tuple) -> None:
    clock = Clock()
    first, _ = budgets(two_processes, clock)
    assert await first.wait_turn("1") == 0.0
    assert await first.wait_turn("1") == pytest.approx(1.0)
    assert clock.slept == pytest.approx([1.0])


async def test_idle_rows_are_forgotten_and_the_key_hides_the_token(
    two_processes: tuple, session: AsyncSession
) -> None:
    clock = Clock()
    first, _ = budgets(two_processes, clock)
    await first.reserve("old")
    clock.now += IDLE_AFTER_SECONDS + 10
    await first.reserve("new")
    assert await forget_idle_budgets(session, now=clock.now) == 1
    await session.commit()
    keys = set(await session.scalars(select(SendBudgetRow.key)))
    assert keys == {first.key, f"{first.key}:new"}
    assert await session.scalar(select(func.count()).select_from(SendBudgetRow)) == 2
    assert "SECRET" not in first.key and first.key.startswith("telegram:")


async def test_a_slot_reached_late_is_given_up_for_a_fresh_one(two_processes: tuple) -> None:
    """The loop woke 50 ms after its slot, while the other process had taken the next three:
    sent then, it would leave right among theirs, so it takes a fresh slot after them."""
    clock = Clock()
    first, second = budgets(two_processes, clock)
    await first.reserve("other")  # the slot at NOW is taken: ours is one step later
    late = [0.05]

    async def oversleeping(seconds: float) -> None:
        clock.slept.append(seconds)
        if late:
            for n in range(3):  # meanwhile the other process takes the next three slots
                await second.reserve(f"x{n}")
            clock.now += seconds + late.pop()
        else:
            clock.now += seconds

    first.sleep = oversleeping
    waited = await first.wait_turn("9")
    step = first.interval
    # Slept to its slot (NOW + step), woke at NOW + step + 50 ms, then slept to NOW + 5 steps.
    # (Seconds since 1970 in a float: microseconds is the precision to expect.)
    assert clock.slept == pytest.approx([step, 5 * step - (step + 0.05)], abs=1e-5)
    assert waited == pytest.approx(sum(clock.slept))
    assert clock.now == pytest.approx(NOW + 5 * step, abs=1e-5)
