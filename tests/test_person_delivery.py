"""Reminders addressed to a person with accounts on two channels (issue 12).

The officer "Cán bộ 000" has a Telegram account (the fake Bot API server, reached through the
real TelegramOutbound) and a second account on a channel registered as "zalo". The second
channel is a RecordingChannel, which stands where a channel adapter makes its API call
(core.outbound.Outbound): a real Zalo adapter can take its place in ``two_channels`` without
changing a test. Everything above it (the sender, its claims, the database) is the real thing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot

from bot import texts
from channels.telegram_outbound import TelegramOutbound
from core.accounts import delivery_order, link_account, officer_accounts
from core.outbound import Outbound
from scheduler.reminders import ReminderSender
from scheduler.sender import Sender
from storage.models import ChannelAccount, Delivery, Officer
from tests.e2e import BotUnderTest
from tests.e2e_support import say, seed_officer, seed_unit, telegram_officer
from tests.fakes.recording_channel import RecordingChannel
from tests.fakes.telegram_api import FakeTelegram
from tests.seed_files import PHUONG6
from tests.test_reminder_faults import COORDINATOR_CHAT, DAY, FIRST_CHAT, MORNING, seed
from tests.test_sender import FakeTime

Sessions = async_sessionmaker[AsyncSession]
SECOND = "zalo"  # the second channel's name
SECOND_ACCOUNT = "zalo-can-bo-000"
NEXT_DAY = DAY + timedelta(days=1)  # Thursday: the item is overdue, so still reminded


@dataclass
class Channels:
    tg: FakeTelegram
    second: RecordingChannel
    sender: Sender

    def digests(self) -> tuple[list[str], list[str]]:
        """The digests the officer got on (Telegram, the second channel)."""
        header = texts.digest_header(DAY)
        on_telegram = [t for t in self.tg.messages_to(FIRST_CHAT) if t.startswith(header)]
        on_second = [t for t in self.second.texts_to(SECOND_ACCOUNT) if t.startswith(header)]
        return on_telegram, on_second


@asynccontextmanager
async def two_channels(*, second_running: bool = True) -> AsyncIterator[Channels]:
    second = RecordingChannel(name=SECOND)
    async with FakeTelegram() as tg, Bot(tg.token, base_url=tg.base_url) as bot:
        adapters: dict[str, Outbound] = {"telegram": TelegramOutbound(bot)}
        if second_running:
            adapters[SECOND] = second
        time = FakeTime()
        yield Channels(tg, second, Sender(adapters, clock=time.clock, sleep=time.sleep))


async def officer_with_two_accounts(sessions: Sessions, *, preferred: str | None) -> int:
    """The unit of test_reminder_faults (one item due DAY) with one officer and a coordinator;
    the officer also has an account on the second channel. The unit's id."""
    unit_id = await seed(sessions, 1, coordinator=True)
    async with sessions() as session, session.begin():
        officer = await officer_named(session, "Cán bộ 000")
        await link_account(
            session, channel=SECOND, external_id=SECOND_ACCOUNT, officer=officer, actor="test"
        )
        officer.preferred_channel = preferred
    return unit_id


async def officer_named(session: AsyncSession, name: str) -> Officer:
    found = await session.scalar(select(Officer).where(Officer.name == name))
    assert found is not None
    return found


async def reachable(sessions: Sessions) -> dict[str, bool]:
    """The officer's accounts: channel -> reachable."""
    async with sessions() as session:
        officer = await officer_named(session, "Cán bộ 000")
        accounts = await officer_accounts(session, officer_id=officer.id)
    return {a.channel: not a.unreachable for a in accounts}


async def digest_rows(sessions: Sessions) -> list[tuple[Any, ...]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Delivery.key_date, Delivery.status, Delivery.channel, Delivery.chat_id)
            .join(Officer, Officer.id == Delivery.officer_id)
            .where(Delivery.kind == "digest", Officer.name == "Cán bộ 000")
            .order_by(Delivery.id)
        )
        return [tuple(row) for row in rows]


def reminders(sessions: Sessions, channels: Channels) -> ReminderSender:
    return ReminderSender(sessions, channels.sender, lambda: MORNING)


async def test_a_two_account_officer_gets_one_digest_a_day_on_the_preferred_channel(
    session_factory: Sessions,
) -> None:
    unit_id = await officer_with_two_accounts(session_factory, preferred=SECOND)
    async with two_channels() as channels:
        sending = reminders(session_factory, channels)
        first = await sending.send_day(unit_id=unit_id, day=DAY)
        again = await sending.send_day(unit_id=unit_id, day=DAY)  # a later tick, same day
        assert (first.outcomes, again.outcomes) == ({"sent": 1}, {"duplicate": 1})
        on_telegram, on_second = channels.digests()
        assert (len(on_telegram), len(on_second)) == (0, 1)
    assert await digest_rows(session_factory) == [(DAY, "sent", SECOND, SECOND_ACCOUNT)]


async def test_without_a_preference_the_account_used_last_gets_it(
    session_factory: Sessions,
) -> None:
    unit_id = await officer_with_two_accounts(session_factory, preferred=None)
    async with session_factory() as session, session.begin():
        officer = await officer_named(session, "Cán bộ 000")
        for account in await officer_accounts(session, officer_id=officer.id):
            used = {"telegram": MORNING - timedelta(days=1), SECOND: MORNING - timedelta(hours=1)}
            account.last_used_at = used[account.channel]
    async with two_channels() as channels:
        report = await reminders(session_factory, channels).send_day(unit_id=unit_id, day=DAY)
        assert report.outcomes == {"sent": 1}
        assert [len(found) for found in channels.digests()] == [0, 1]


async def test_with_the_preferred_account_blocked_the_other_gets_it(
    session_factory: Sessions,
) -> None:
    unit_id = await officer_with_two_accounts(session_factory, preferred=SECOND)
    async with two_channels() as channels:
        channels.second.blocked.add(SECOND_ACCOUNT)
        report = await reminders(session_factory, channels).send_day(unit_id=unit_id, day=DAY)
        assert report.outcomes == {"sent": 1}
        on_telegram, on_second = channels.digests()
        assert (len(on_telegram), len(on_second)) == (1, 0)
        assert channels.tg.messages_to(COORDINATOR_CHAT) == []  # one account still reaches them
    assert await reachable(session_factory) == {"telegram": True, SECOND: False}
    # One claim for the person; it records the chat the digest went to in the end.
    assert await digest_rows(session_factory) == [(DAY, "sent", "telegram", str(FIRST_CHAT))]


async def test_with_both_accounts_blocked_the_coordinator_is_told_once(
    session_factory: Sessions,
) -> None:
    unit_id = await officer_with_two_accounts(session_factory, preferred="telegram")
    notice = texts.unreachable_notice("Cán bộ 000")
    async with two_channels() as channels:
        channels.tg.block(FIRST_CHAT)
        channels.second.blocked.add(SECOND_ACCOUNT)
        sending = reminders(session_factory, channels)
        report = await sending.send_day(unit_id=unit_id, day=DAY)
        assert report.outcomes == {"blocked": 1}
        assert channels.tg.messages_to(COORDINATOR_CHAT) == [notice]
        assert await reachable(session_factory) == {"telegram": False, SECOND: False}

        # The next day nobody is tried, and the coordinator is not told again (the overdue
        # item nobody can be reminded of goes up to them as an escalation instead).
        sending.now_fn = lambda: MORNING + timedelta(days=1)
        next_day = await sending.send_day(unit_id=unit_id, day=NEXT_DAY)
        assert next_day.outcomes == {"unreachable": 1, "escalation_sent": 1}
        assert channels.tg.stats.forbidden == 1 and channels.second.sent == []
        told = channels.tg.messages_to(COORDINATOR_CHAT)
        assert [t for t in told if t == notice] == [notice]
        assert [t for t in told if t.startswith(texts.escalation_header(NEXT_DAY))] != []
    rows = await digest_rows(session_factory)
    assert [row[:2] for row in rows] == [(DAY, "failed"), (NEXT_DAY, "failed")]


async def test_an_account_on_a_channel_not_running_is_skipped_but_not_marked(
    session_factory: Sessions,
) -> None:
    unit_id = await officer_with_two_accounts(session_factory, preferred=SECOND)
    async with two_channels(second_running=False) as channels:
        report = await reminders(session_factory, channels).send_day(unit_id=unit_id, day=DAY)
        assert report.outcomes == {"sent": 1}
        assert [len(found) for found in channels.digests()] == [1, 0]
    assert await reachable(session_factory) == {"telegram": True, SECOND: True}


async def test_blocked_with_only_a_channel_not_running_left_the_coordinator_is_told(
    session_factory: Sessions,
) -> None:
    """An account on a channel that does not run reaches nobody today: it does not spare the
    coordinators the notice (nor does a local shell account, which nothing is pushed to)."""
    unit_id = await officer_with_two_accounts(session_factory, preferred="telegram")
    async with session_factory() as session, session.begin():
        officer = await officer_named(session, "Cán bộ 000")
        await link_account(
            session, channel="local", external_id="thu-tren-may", officer=officer, actor="test"
        )
    notice = texts.unreachable_notice("Cán bộ 000")
    async with two_channels(second_running=False) as channels:
        channels.tg.block(FIRST_CHAT)
        report = await reminders(session_factory, channels).send_day(unit_id=unit_id, day=DAY)
        assert report.outcomes == {"blocked": 1}
        assert channels.tg.messages_to(COORDINATOR_CHAT) == [notice]
    assert await reachable(session_factory) == {"local": True, "telegram": False, SECOND: True}


def test_a_local_shell_account_is_never_a_delivery_target() -> None:
    telegram = ChannelAccount(channel="telegram", external_id="1", unreachable=False)
    shell = ChannelAccount(channel="local", external_id="thu", unreachable=False)
    assert delivery_order([shell, telegram], "local") == [telegram]
    assert delivery_order([shell], None) == []


def test_delivery_order_preferred_then_used_last_and_never_blocked() -> None:
    now = datetime(2024, 3, 13, 1, 0).astimezone()

    def account(channel: str, used: datetime | None, *, blocked: bool = False) -> ChannelAccount:
        return ChannelAccount(
            channel=channel, external_id="x", last_used_at=used, unreachable=blocked
        )

    telegram = account("telegram", now - timedelta(days=3))
    zalo = account("zalo", now)
    shell = account("shell", None)
    assert delivery_order([telegram, zalo, shell], None) == [zalo, telegram, shell]
    assert delivery_order([telegram, zalo, shell], "telegram") == [telegram, zalo, shell]
    zalo.unreachable = True
    assert delivery_order([telegram, zalo, shell], "zalo") == [telegram, shell]


async def test_a_message_from_a_blocked_account_makes_it_reachable_again(
    bot: BotUnderTest,
) -> None:
    unit_id = await seed_unit(bot, PHUONG6, "Phường 6")
    await seed_officer(bot, unit_id, "Nguyễn Thị Lan", ["VPTK"], telegram_id=FIRST_CHAT)
    async with bot.sessions() as session, session.begin():
        officer = await telegram_officer(session, FIRST_CHAT)
        assert officer is not None
        (account,) = await officer_accounts(session, officer_id=officer.id)
        account.unreachable = True  # a digest came back Blocked
    await say(bot, FIRST_CHAT, "/viec")
    async with bot.sessions() as session:
        (account,) = await officer_accounts(session, officer_id=officer.id)
    assert not account.unreachable and account.last_used_at is not None
