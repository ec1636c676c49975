"""Replies and sends through PTB share the bot's budget across processes (channels.telegram_budget).

Two PTB bots (two processes' worth) with one token talk real HTTP to the fake Bot
API; their budgets share the database. The clock is driven by the budget's
sleep, so the waits are exact and nothing sleeps for real.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import ExtBot

from channels.telegram_budget import SharedRateLimiter, is_paced
from core.send_budget import HEADROOM, Rates, SendBudget, bot_key
from storage.db import make_engine, make_session_factory
from tests.fakes.telegram_api import FakeTelegram

RATES = Rates(per_second=30, per_chat_interval=1.0, group_interval=3.0)


class DrivenClock:
    """Wall-clock stand-in: sleeping moves it on at once."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[list[async_sessionmaker[AsyncSession]]]:
    engines = [make_engine(database_url), make_engine(database_url)]
    yield [make_session_factory(engine) for engine in engines]
    for engine in engines:
        await engine.dispose()


def limiter(
    tg: FakeTelegram, sessions: async_sessionmaker[AsyncSession], clock: DrivenClock
) -> SharedRateLimiter:
    budget = SendBudget(
        sessions=sessions,
        key=bot_key("telegram", tg.token),
        rates=RATES,
        clock=clock,
        sleep=clock.sleep,
    )
    return SharedRateLimiter(budget)


async def test_two_processes_keep_a_group_at_twenty_a_minute(
    sessions: list[async_sessionmaker[AsyncSession]],
) -> None:
    clock = DrivenClock()
    async with FakeTelegram() as tg:
        bots = [
            ExtBot(tg.token, base_url=tg.base_url, rate_limiter=limiter(tg, s, clock))
            for s in sessions
        ]
        async with bots[0], bots[1]:
            for n in range(4):
                await bots[n % 2].send_message(chat_id=-100, text=f"tin {n}")
            await bots[1].get_me()  # not a message: never waits
        assert tg.messages_to(-100) == ["tin 0", "tin 1", "tin 2", "tin 3"]
        # The first goes at once; each later one waits 3 s, whichever process sends it.
        assert clock.slept == [3.0, 3.0, 3.0]


async def test_private_replies_share_the_bot_rate_but_never_wait_per_chat(
    sessions: list[async_sessionmaker[AsyncSession]],
) -> None:
    clock = DrivenClock()
    async with FakeTelegram() as tg:
        tg.user(42)
        bots = [
            ExtBot(tg.token, base_url=tg.base_url, rate_limiter=limiter(tg, s, clock))
            for s in sessions
        ]
        async with bots[0], bots[1]:
            for n in range(4):
                await bots[n % 2].send_message(chat_id=42, text=f"tin {n}")
        assert tg.messages_to(42) == ["tin 0", "tin 1", "tin 2", "tin 3"]
        # Only the bot's spacing (30/s less the headroom), shared by both processes: no
        # one-second waits.
        step = 1 / (30 * (1 - HEADROOM))
        assert clock.slept == pytest.approx([step] * 3, abs=0.002)


async def test_a_429_pauses_the_other_process_too(
    sessions: list[async_sessionmaker[AsyncSession]],
) -> None:
    clock = DrivenClock()
    async with FakeTelegram() as tg:
        tg.user(7)
        tg.user(8)
        first, second = (
            ExtBot(tg.token, base_url=tg.base_url, rate_limiter=limiter(tg, s, clock))
            for s in sessions
        )
        async with first, second:
            tg.force_429(1, retry_after=5)
            await first.send_message(chat_id=7, text="một")  # 429, waits 5 s, sent on retry
            start = clock.now
            await second.send_message(chat_id=8, text="hai")
        assert tg.messages_to(7) == ["một"] and tg.messages_to(8) == ["hai"]
        assert len(tg.calls("sendMessage")) == 3
        assert clock.slept[0] == pytest.approx(5.0, abs=0.01)
        assert clock.now == pytest.approx(start)  # the pause had passed: "hai" went at once


def test_only_messages_are_paced() -> None:
    assert is_paced("sendMessage") and is_paced("editMessageText") and is_paced("sendPhoto")
    assert not is_paced("sendChatAction")
    assert not is_paced("answerCallbackQuery") and not is_paced("getUpdates")
