"""The scheduler's tick, driven by a settable clock against the fake Bot API server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.settings import Settings
from channels.telegram_outbound import TelegramOutbound, plain_bot
from core.reminder_settings import change_setting
from scheduler.jobs import JOB_NAME, Ticker, make_ticker, start_schedule, summary_time_on
from scheduler.sender import Sender
from storage.models import Delivery, Unit
from tests.e2e import SettableClock, bot_settings
from tests.fakes.recording_channel import RecordingChannel
from tests.fakes.telegram_api import FakeTelegram
from tests.test_reminders import setup

Sessions = async_sessionmaker[AsyncSession]
LAN, MINH, HOA, SON = 101, 102, 103, 104


def hanoi(text: str) -> datetime:
    """A wall-clock time in Hà Nội."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


@dataclass
class World:
    tg: FakeTelegram
    sessions: Sessions
    clock: SettableClock
    config: Settings
    bot: object

    def ticker(self) -> Ticker:
        """A fresh ticker, as after a restart: nothing remembered but the database.

        Its sender skips the one-second gap between messages to one chat (the sender's
        own tests cover pacing), so a summary's five parts don't take five seconds.
        """
        channel = TelegramOutbound(self.bot)
        sender = Sender(channel, per_chat_interval=0.0)
        return make_ticker(self.config, self.sessions, channel, self.clock, sender)


@pytest.fixture
async def world(settings: Settings, session_factory: Sessions) -> AsyncIterator[World]:
    await setup(session_factory)
    async with FakeTelegram() as tg:
        config = bot_settings(settings, tg)
        async with plain_bot(config) as bot:
            yield World(tg, session_factory, SettableClock(hanoi("2024-03-13T07:00")), config, bot)


def digests_to(tg: FakeTelegram, chat: int, day: date) -> list[str]:
    header = texts.digest_header(day)
    return [text for text in tg.messages_to(chat) if text.startswith(header)]


async def test_digests_go_out_once_after_the_reminder_time(world: World) -> None:
    ticker = world.ticker()
    await ticker.tick()  # 07:00: too early
    assert world.tg.sent() == []
    world.clock.set(hanoi("2024-03-13T07:31"))
    await ticker.tick()
    day = date(2024, 3, 13)
    assert len(digests_to(world.tg, LAN, day)) == 1
    assert len(digests_to(world.tg, HOA, day)) == 1
    assert digests_to(world.tg, MINH, day) == []  # nothing for Minh that day
    escalation = texts.escalation_header(day)
    assert [t for t in world.tg.messages_to(SON) if t.startswith(escalation)] != []
    sent = len(world.tg.sent())
    await ticker.tick()
    world.clock.set(hanoi("2024-03-13T09:00"))
    await world.ticker().tick()  # a restart later the same morning
    assert len(world.tg.sent()) == sent
    async with world.sessions() as session:
        kinds = sorted(d.kind for d in await session.scalars(select(Delivery)))
    assert kinds == ["digest", "digest", "escalation", "escalation"]


async def test_catch_up_after_days_down_sends_only_today(world: World) -> None:
    world.clock.set(hanoi("2024-03-18T10:00"))  # the bot was down since Wednesday
    await world.ticker().tick()
    async with world.sessions() as session:
        key_dates = {d.key_date for d in await session.scalars(select(Delivery))}
    assert key_dates == {date(2024, 3, 18)}
    monday = digests_to(world.tg, LAN, date(2024, 3, 18))
    assert len(monday) == 1 and "1.1" in monday[0] and "quá hạn" in monday[0]


async def test_weekly_summary_once_across_a_restart(world: World) -> None:
    world.clock.set(hanoi("2024-03-15T15:59"))
    await world.ticker().tick()
    assert not any(m.method == "sendDocument" for m in world.tg.sent())
    world.clock.set(hanoi("2024-03-15T16:05"))
    await world.ticker().tick()
    world.clock.set(hanoi("2024-03-15T16:30"))
    await world.ticker().tick()  # restarted: must not send the summary again
    for chat in (HOA, SON):
        documents = [m for m in world.tg.sent(chat) if m.method == "sendDocument"]
        photos = [m for m in world.tg.sent(chat) if m.method == "sendPhoto"]
        assert (len(documents), len(photos)) == (1, 1), chat
    assert not any(m.method == "sendDocument" for m in world.tg.sent(LAN))


async def test_summary_moves_to_the_workday_before_a_day_off(world: World) -> None:
    async with world.sessions() as session, session.begin():
        unit = (await session.scalars(select(Unit))).one()
        await change_setting(session, unit=unit, key="nghi", value="15/03/2024", actor="t")
    async with world.sessions() as session:
        unit = (await session.scalars(select(Unit))).one()
        cron = world.config.summary_cron
        assert summary_time_on(unit, cron, date(2024, 3, 14)) == time(16, 0)
        assert summary_time_on(unit, cron, date(2024, 3, 15)) is None
        assert summary_time_on(unit, cron, date(2024, 3, 22)) == time(16, 0)
    world.clock.set(hanoi("2024-03-14T16:01"))
    await world.ticker().tick()
    assert len([m for m in world.tg.sent(HOA) if m.method == "sendDocument"]) == 1


async def test_the_schedule_ticks_with_no_telegram_at_all(
    settings: Settings, session_factory: Sessions
) -> None:
    """The minute tick on its own AsyncIOScheduler: the catch-up tick at start sends today's
    digests and escalations through whatever channel adapter it is given."""
    await setup(session_factory)
    # Registered under the accounts' channel name: messages go to a person's accounts on the
    # channels that run (issue 12), and the officers here have Telegram accounts.
    channel = RecordingChannel(name="telegram")
    clock = SettableClock(hanoi("2024-03-13T07:31"))
    ticker = make_ticker(settings, session_factory, channel, clock)
    schedule = start_schedule(ticker)
    try:
        assert [job.id for job in schedule.get_jobs()] == [JOB_NAME]
        async with asyncio.timeout(30):
            await channel.wait_for(4)  # Lan's and Hoa's digests, two escalations
    finally:
        schedule.shutdown(wait=False)
    day = date(2024, 3, 13)
    assert len([t for t in channel.texts_to(LAN) if t.startswith(texts.digest_header(day))]) == 1
    assert len([t for t in channel.texts_to(HOA) if t.startswith(texts.digest_header(day))]) == 1
    async with session_factory() as session:
        kinds = sorted(d.kind for d in await session.scalars(select(Delivery)))
    assert kinds == ["digest", "digest", "escalation", "escalation"]
