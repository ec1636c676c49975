"""The sender, driven through python-telegram-bot's real HTTP stack against the fake Bot API.

Time is injected (a fake clock and sleep) everywhere but the flood-limit test, which lets the
fake server's sliding windows judge the real pacing.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import random
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot
from telegram.error import NetworkError, TimedOut

from channels.telegram_outbound import TelegramOutbound
from scheduler.delivery import CLAIM_TIMEOUT, claim, reclaim_stale
from scheduler.sender import (
    FANOUT_CONCURRENCY,
    OutgoingMessage,
    Sender,
    SendResult,
    describe,
    gather_bounded,
)
from storage.models import Delivery
from tests.fakes.telegram_api import FakeTelegram, FloodLimits
from tests.test_delivery import DAY, T0, Seeded, seed_unit

DIGEST = "Nhắc việc: 1.1 Ban hành kế hoạch CCHC, hạn 31/03/2024"


@pytest.fixture(autouse=True)
def retry_after_as_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22 warns when RetryAfter.retry_after is an int; opt in to the timedelta form."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


class FakeTime:
    """A monotonic clock and a sleep that never really sleeps.

    Automatic (the default): a sleep moves the clock to the sleeper's wake-up time at once.
    Manual: a sleep waits until the test calls ``advance``, so a test can look at who is
    waiting, and for how long, before letting time pass.
    """

    def __init__(self, *, manual: bool = False) -> None:
        self.now = 1000.0
        self.manual = manual
        self.sleeps: list[float] = []
        self._ticked = asyncio.Event()
        self._wake = asyncio.Event()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        target = self.now + seconds
        if not self.manual:
            self.now = max(self.now, target)
            await asyncio.sleep(0)
            return
        self._ticked.set()
        while self.now < target:
            await self._wake.wait()

    async def advance(self, seconds: float) -> None:
        self.now += seconds
        self._wake.set()
        await asyncio.sleep(0)
        self._wake = asyncio.Event()

    async def wait_for_sleepers(self, count: int) -> None:
        while len(self.sleeps) < count:
            self._ticked.clear()
            await self._ticked.wait()


class RecordingBot:
    """The real Bot, noting on the fake clock when each request left."""

    def __init__(self, bot: Bot, time: FakeTime) -> None:
        self.bot = bot
        self.time = time
        self.departures: list[tuple[int, float]] = []

    async def send_message(self, chat_id: int, text: str, **kwargs: Any) -> Any:
        self.departures.append((chat_id, self.time.now))
        return await self.bot.send_message(chat_id, text, **kwargs)


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(tg.token, base_url=tg.base_url) as real_bot:
        yield real_bot


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def recorder(bot: Bot, time: FakeTime) -> RecordingBot:
    return RecordingBot(bot, time)


@pytest.fixture
def sender(recorder: RecordingBot, time: FakeTime) -> Sender:
    return Sender(
        TelegramOutbound(recorder), clock=time.clock, sleep=time.sleep, rng=random.Random(7)
    )


# --------------------------------------------------------------------------- send


async def test_a_message_with_buttons_and_html_arrives(sender: Sender, tg: FakeTelegram) -> None:
    result = await sender.send(
        42,
        "<b>Nhắc việc</b> hôm nay",
        buttons=[[("Mở 1.1", "card:1"), ("Xong", "done:1")]],
        html=True,
    )
    (message,) = tg.sent(42)
    assert result == SendResult("sent", message.message_id, None)
    assert message.parse_mode == "HTML"
    assert [(b["text"], b["callback_data"]) for b in message.buttons] == [
        ("Mở 1.1", "card:1"),
        ("Xong", "done:1"),
    ]


async def test_429_waits_retry_after_and_sends_once(
    sender: Sender, tg: FakeTelegram, time: FakeTime
) -> None:
    tg.force_429(1, retry_after=3)
    result = await sender.send(42, DIGEST)
    assert result.status == "sent"
    assert len(tg.sent(42)) == 1
    assert tg.stats.too_many_requests == 1
    assert 3.0 in time.sleeps


async def test_429_pauses_every_chat_not_only_the_one_refused(
    recorder: RecordingBot, tg: FakeTelegram
) -> None:
    time = FakeTime(manual=True)
    recorder.time = time
    sender = Sender(TelegramOutbound(recorder), clock=time.clock, sleep=time.sleep)
    tg.force_429(1, retry_after=2)
    refused = asyncio.create_task(sender.send(1, DIGEST))
    await time.wait_for_sleepers(1)  # chat 1 got its 429 and is waiting 2 s
    assert time.sleeps == [2.0]

    other = asyncio.create_task(sender.send(2, DIGEST))
    await time.wait_for_sleepers(2)
    assert time.sleeps[1] == pytest.approx(2.0)  # chat 2 waits out the same pause
    assert tg.sent(2) == []

    time.manual = False  # from here on, sleeps pass at once
    await time.advance(2.0)
    assert (await refused).status == "sent"
    assert (await other).status == "sent"
    assert all(t >= 1002.0 for chat, t in recorder.departures[1:])


async def test_5xx_backs_off_then_sends_once(
    recorder: RecordingBot, tg: FakeTelegram, time: FakeTime
) -> None:
    # No per-chat interval here, so that the only sleeps are the back-offs.
    sender = Sender(
        TelegramOutbound(recorder), clock=time.clock, sleep=time.sleep, per_chat_interval=0
    )
    tg.fail_next(2, status=502)
    result = await sender.send(42, DIGEST)
    assert result.status == "sent"
    assert len(tg.sent(42)) == 1
    assert tg.stats.server_errors == 2
    first, second = time.sleeps
    assert 0.25 <= first <= 0.5 and 0.5 <= second <= 1.0  # exponential, jittered


async def test_transient_errors_give_up_after_max_retries(
    recorder: RecordingBot, tg: FakeTelegram, time: FakeTime
) -> None:
    sender = Sender(TelegramOutbound(recorder), clock=time.clock, sleep=time.sleep, max_retries=2)
    tg.fail_next(10, status=500)
    result = await sender.send(42, DIGEST)
    assert result.status == "failed"
    assert result.error is not None and "NetworkError" in result.error
    assert len(tg.calls("sendMessage")) == 3  # the first try and two retries
    assert tg.sent(42) == []


async def test_a_time_out_is_retried(time: FakeTime) -> None:
    class FlakyBot:
        calls = 0

        async def send_message(self, chat_id: int, text: str, **kwargs: Any) -> Any:
            FlakyBot.calls += 1
            if FlakyBot.calls == 1:
                raise TimedOut()
            return type("Message", (), {"message_id": 8})()

    sender = Sender(TelegramOutbound(FlakyBot()), clock=time.clock, sleep=time.sleep)
    assert await sender.send(42, DIGEST) == SendResult("sent", 8, None)
    assert FlakyBot.calls == 2


async def test_403_is_blocked_without_retry(sender: Sender, tg: FakeTelegram) -> None:
    tg.block(42)
    result = await sender.send(42, DIGEST)
    assert result.status == "blocked"
    assert result.message_id is None
    assert len(tg.calls("sendMessage")) == 1


async def test_400_fails_without_retry(sender: Sender, tg: FakeTelegram) -> None:
    result = await sender.send(42, "x" * 5000)  # over Telegram's 4096 characters
    assert result.status == "failed"
    assert result.error is not None and "BadRequest" in result.error
    assert len(tg.calls("sendMessage")) == 1


async def test_logs_carry_neither_token_nor_text_at_info(
    sender: Sender, tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    tg.fail_next(1, status=500)
    tg.block(43)
    with caplog.at_level(logging.INFO):
        await sender.send(42, "bí mật 1")
        await sender.send(43, "bí mật 2")
        await sender.send(44, "x" * 5000)
    # httpx's own request log carries the URL, token included: the application's logging
    # setup raises httpx to WARNING. Here we check what the sender itself says.
    logged = "\n".join(
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.INFO and r.name.startswith("scheduler")
    )
    assert "43" in logged and "44" in logged  # the failures were logged …
    assert "bí mật" not in logged and "xxxx" not in logged  # … without texts
    assert tg.token not in logged and tg.token.split(":")[1] not in logged


def test_error_descriptions_hide_the_token() -> None:
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    error = NetworkError(f"ConnectError for https://api.telegram.org/bot{token}/sendMessage")
    assert token not in describe(error)
    assert "bot[REDACTED]/sendMessage" in describe(error)
    short = "42:short-test-token"  # not token-shaped: only known as the bot's own
    assert short not in describe(NetworkError(f"at /bot{short}/x"), short)


# --------------------------------------------------------------------------- pacing


async def test_one_chat_gets_at_most_one_message_a_second(
    sender: Sender, recorder: RecordingBot, tg: FakeTelegram
) -> None:
    messages = [OutgoingMessage(1, "một"), OutgoingMessage(2, "hai"), OutgoingMessage(1, "ba")]
    results = await sender.send_many(messages)
    assert [r.status for r in results] == ["sent"] * 3
    times = {chat: [t for c, t in recorder.departures if c == chat] for chat in (1, 2)}
    assert times[1][1] - times[1][0] >= 1.0
    assert times[1][1] - times[1][0] < 1.1  # and not much more
    assert times[2][0] - times[1][0] < 0.1  # another chat is not held back by chat 1
    assert tg.messages_to(1) == ["một", "ba"]  # in order


async def test_a_group_gets_at_most_twenty_messages_a_minute(
    sender: Sender, recorder: RecordingBot
) -> None:
    group = -1001234567890
    await sender.send_many(OutgoingMessage(group, f"tin {i}") for i in range(21))
    times = [t for _, t in recorder.departures]
    assert len(times) == 21
    assert times[20] - times[0] >= 60.0  # 20 gaps of 3 s: never 21 inside one minute


async def test_requests_leave_no_faster_than_the_overall_rate(
    sender: Sender, recorder: RecordingBot
) -> None:
    await sender.send_many(OutgoingMessage(chat, "tin") for chat in range(1, 61))
    times = sorted(t for _, t in recorder.departures)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 1 / 29.5 - 1e-9
    # The sliding-window view: no 31 requests inside any one second.
    assert all(times[i + 30] - times[i] > 1.0 for i in range(len(times) - 30))


async def test_a_real_fan_out_stays_under_telegram_limits() -> None:
    """Real time, real pacing: the fake answers 429 if any sliding window is exceeded."""
    async with (
        FakeTelegram(flood=FloodLimits(global_per_second=30, per_chat_per_second=1)) as server,
        Bot(server.token, base_url=server.base_url) as real_bot,
    ):
        sender = Sender(TelegramOutbound(real_bot))
        chats = range(9001, 9121)  # 120 messages: about 4 s
        results = await sender.send_many(OutgoingMessage(c, f"Nhắc việc {c}") for c in chats)
        assert [r.status for r in results] == ["sent"] * len(chats)
        assert server.stats.too_many_requests == 0
        assert sorted(m.chat_id for m in server.sent()) == list(chats)


async def test_gather_bounded_keeps_order_and_limit() -> None:
    running = peak = 0

    async def job(value: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0)
        running -= 1
        return value * 2

    results = await gather_bounded([functools.partial(job, v) for v in range(20)], 3)
    assert results == [v * 2 for v in range(20)]
    assert peak == 3


# --------------------------------------------------------------------------- claimed delivery


async def deliver(
    sender: Sender,
    sessions: async_sessionmaker[AsyncSession],
    seeded: Seeded,
    *,
    officer: int = 0,
    text: str = DIGEST,
    blocked: list[int] | None = None,
) -> str:
    async def on_blocked(officer_id: int) -> None:
        assert blocked is not None
        blocked.append(officer_id)

    return await sender.deliver_claimed(
        sessions=sessions,
        unit_id=seeded.unit_id,
        officer_id=seeded.officer_ids[officer],
        kind="digest",
        key_date=DAY,
        chat_id=seeded.chat_ids[officer],
        text=text,
        buttons=[[("Mở 1.1", "card:1")]],
        now_fn=lambda: T0,
        on_blocked=on_blocked,
    )


async def only_delivery(sessions: async_sessionmaker[AsyncSession]) -> Delivery:
    async with sessions() as session:
        return (await session.scalars(select(Delivery))).one()


async def test_deliver_claimed_twice_sends_once(
    sender: Sender, tg: FakeTelegram, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    seeded = await seed_unit(session_factory)
    assert await deliver(sender, session_factory, seeded) == "sent"
    assert await deliver(sender, session_factory, seeded) == "duplicate"
    (message,) = tg.sent(seeded.chat_ids[0])
    delivery = await only_delivery(session_factory)
    assert (delivery.status, delivery.message_id, delivery.sent_at) == (
        "sent",
        message.message_id,
        T0,
    )


async def test_concurrent_deliveries_of_one_key_send_once(
    sender: Sender, tg: FakeTelegram, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    seeded = await seed_unit(session_factory)
    outcomes = await asyncio.gather(*(deliver(sender, session_factory, seeded) for _ in range(3)))
    assert sorted(outcomes) == ["duplicate", "duplicate", "sent"]
    assert len(tg.sent(seeded.chat_ids[0])) == 1


async def test_a_blocked_officer_is_reported_and_the_claim_failed(
    sender: Sender, tg: FakeTelegram, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    seeded = await seed_unit(session_factory)
    tg.block(seeded.chat_ids[1])
    blocked: list[int] = []
    assert await deliver(sender, session_factory, seeded, officer=1, blocked=blocked) == "blocked"
    assert blocked == [seeded.officer_ids[1]]
    delivery = await only_delivery(session_factory)
    assert delivery.status == "failed"
    assert delivery.error is not None and delivery.error.startswith("blocked: Forbidden")
    assert await deliver(sender, session_factory, seeded, officer=1, blocked=blocked) == "duplicate"
    assert blocked == [seeded.officer_ids[1]]  # reported once


async def test_a_refused_message_is_marked_failed(
    sender: Sender, tg: FakeTelegram, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    seeded = await seed_unit(session_factory)
    assert await deliver(sender, session_factory, seeded, text="x" * 5000, blocked=[]) == "failed"
    delivery = await only_delivery(session_factory)
    assert delivery.status == "failed"
    assert delivery.error is not None and delivery.error.startswith("failed: BadRequest")


async def test_the_mark_survives_a_cancel_right_after_the_send(
    bot: Bot, tg: FakeTelegram, time: FakeTime, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    class CancelledAfterSend:
        async def send_message(self, chat_id: int, text: str, **kwargs: Any) -> Any:
            message = await bot.send_message(chat_id, text, **kwargs)
            task = asyncio.current_task()
            assert task is not None
            task.cancel()  # delivered at the caller's next suspension: the mark
            return message

    seeded = await seed_unit(session_factory)
    sender = Sender(TelegramOutbound(CancelledAfterSend()), clock=time.clock, sleep=time.sleep)
    delivery_task = asyncio.create_task(deliver(sender, session_factory, seeded))
    with pytest.raises(asyncio.CancelledError):
        await delivery_task
    (message,) = tg.sent(seeded.chat_ids[0])
    delivery = await only_delivery(session_factory)
    assert (delivery.status, delivery.message_id) == ("sent", message.message_id)


async def test_a_reclaimed_delivery_is_sent_by_send_claimed(
    sender: Sender, tg: FakeTelegram, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    seeded = await seed_unit(session_factory)
    async with session_factory() as session:  # a process claims, then dies before sending
        won = await claim(
            session,
            unit_id=seeded.unit_id,
            officer_id=seeded.officer_ids[2],
            kind="digest",
            key_date=date(2024, 3, 4),
            chat_id=seeded.chat_ids[2],
            now=T0,
        )
        await session.commit()
    assert won is not None
    later = T0 + CLAIM_TIMEOUT + timedelta(seconds=1)
    async with session_factory() as session:
        (taken,) = await reclaim_stale(session, now=later)
        await session.commit()
    assert taken.chat_id is not None
    status = await sender.send_claimed(
        sessions=session_factory,
        claim_id=taken.id,
        officer_id=taken.officer_id,
        chat_id=taken.chat_id,
        text=DIGEST,
        now_fn=lambda: later,
    )
    assert status == "sent"
    (message,) = tg.sent(seeded.chat_ids[2])
    delivery = await only_delivery(session_factory)
    assert (delivery.status, delivery.message_id, delivery.attempts) == (
        "sent",
        message.message_id,
        2,
    )
    assert delivery.sent_at == later


async def test_a_fan_out_of_claimed_deliveries_reaches_everyone_once(
    sender: Sender, tg: FakeTelegram, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    seeded = await seed_unit(session_factory, officers=40)

    def job(officer: int) -> Any:
        return lambda: deliver(sender, session_factory, seeded, officer=officer)

    jobs = [job(i) for i in range(40)] * 2  # every delivery asked for twice
    outcomes = await gather_bounded(jobs, FANOUT_CONCURRENCY)
    assert outcomes.count("sent") == 40 and outcomes.count("duplicate") == 40
    assert sorted(m.chat_id for m in tg.sent()) == seeded.chat_ids
