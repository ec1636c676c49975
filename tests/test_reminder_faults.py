"""Fault tests for reminders (issue 4): a killed bot, two bots at once, a flaky Bot API, a block.

The scenario: one unit, one item led by VPTK due on Wednesday 13/03/2024, and officers holding
VPTK, each with a chat; each must get exactly one digest that morning.

The 429/5xx and blocked-chat tests drive ReminderSender in this process, on a fake clock. The
subprocess tests (several hundred officers) run ``python -m bot run`` through
``tests.fakes.frozen_bot``, which starts the bot's clock at 08:00 that day (after
REMINDER_TIME, 07:30): the tick that runs at start-up is the catch-up, and sends the digests at
once. They run on Telegram and on Zalo (``channel``: the officers' accounts and the bot's
token are that channel's; Zalo's budget is set to Telegram's 30/s to keep them short). The
fake server runs in a thread of this process. Nothing sleeps: the tests wait on the fake
server's conditions (a request being held, every chat having a message) and on the
processes' exits.

The kill is made deterministic by the fake server: it accepts the first 150 digests, then holds
every later send unanswered. Once every fan-out worker is stuck on a held send, every earlier
digest has been marked sent (a worker marks its message before taking the next), and exactly
the held digests are claimed but unconfirmed: the state a SIGKILL in mid fan-out leaves.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random

import pytest
from sqlalchemy import select
from telegram import Bot
from telegram.error import NetworkError

from bot import texts
from channels.telegram_outbound import TelegramOutbound
from scheduler.reminders import ReminderSender
from scheduler.sender import FANOUT_CONCURRENCY, Sender
from storage.models import ChannelAccount, Delivery
from tests.bot_processes import Bots, bot_processes
from tests.fakes import frozen_bot
from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegram
from tests.fakes.zalo_api import FakeZalo
from tests.reminder_world import (
    COORDINATOR_CHAT,
    DAY,
    FIRST_CHAT,
    ICT,
    LATER,
    MORNING,
    Sessions,
    chat_ids,
    deliveries,
    seed,
)
from tests.seed_files import REPO_DIR
from tests.test_sender import FakeTime

OFFICERS = 300
CHATS = chat_ids(OFFICERS)
KILL_AFTER = 150  # digests the fake accepts before holding sends (the first bot's "half-way")


@pytest.fixture(autouse=True)
def retry_after_as_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22 warns when RetryAfter.retry_after is an int; opt in to the timedelta form."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


def states(rows: list[Delivery]) -> Counter[tuple[str, str]]:
    return Counter((row.kind, row.status) for row in rows)


def assert_one_digest_each(fake: FakeTelegram | FakeZalo, chats: frozenset[str]) -> None:
    """Every chat got exactly one message, a digest for DAY, and nobody else got anything."""
    sent = fake.sent()
    per_chat = Counter(str(message.chat_id) for message in sent)
    missing = sorted(chats - per_chat.keys())
    repeated = {chat: n for chat, n in per_chat.items() if n > 1}
    strangers = sorted(per_chat.keys() - chats)
    assert (missing, repeated, strangers) == ([], {}, [])
    header = texts.digest_header(DAY)
    assert [m.chat_id for m in sent if not m.content.startswith(header)] == []
    assert all("1.1" in m.content for m in sent)


def every_chat_has_a_message(fake: FakeTelegram | FakeZalo, chats: frozenset[str]) -> bool:
    return chats <= {str(message.chat_id) for message in fake.sent()}


# --------------------------------------------------------------------------- the harness


async def test_held_sends_are_never_answered_nor_recorded_as_sent() -> None:
    async with FakeTelegram() as tg, Bot(tg.token, base_url=tg.base_url) as bot:
        tg.hold_sends_after(2)
        sends = [asyncio.create_task(bot.send_message(chat, "hi")) for chat in (1, 2, 3, 4)]
        held = await tg.wait_for_held(2)
        assert sorted(int(r.params["chat_id"]) for r in held) == [3, 4]
        assert [m.chat_id for m in tg.sent()] == [1, 2]
        sends[2].cancel()  # one client gives up (as a killed bot would): still never recorded
        assert await tg.release_held() == 2
        outcomes = await asyncio.gather(*sends, return_exceptions=True)
        assert [m.chat_id for m in outcomes[:2]] == [1, 2]  # type: ignore[union-attr]
        assert isinstance(outcomes[2], asyncio.CancelledError)
        assert isinstance(outcomes[3], NetworkError)  # the connection dropped, no answer
        assert (tg.stats.sent, tg.stats.held, tg.held) == (2, 2, [])
        assert [r.status for r in held] == [499, 499]
        await bot.send_message(5, "after")  # the hold is over
        assert [m.chat_id for m in tg.sent()] == [1, 2, 5]


def test_holding_over_http_for_a_server_in_another_process(tmp_path: Path) -> None:
    journal = tmp_path / "telegram.jsonl"
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.telegram_api", "--port", "0", "--state", journal],
        cwd=REPO_DIR,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_DIR)},
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        api = f"{url}/bot{DEFAULT_TOKEN}"
        assert post_json(f"{url}/_fake/hold_sends_after", {"n": 1}) == {"ok": True, "result": None}
        post_json(f"{api}/sendMessage", {"chat_id": 7, "text": "một"})
        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(post_json, f"{api}/sendMessage", {"chat_id": 8, "text": "hai"})
            assert post_json(f"{url}/_fake/wait_for_held", {"count": 1})["result"] == 1
            assert post_json(f"{url}/_fake/release_held", {})["result"] == 1
            with pytest.raises((ConnectionError, http.client.HTTPException, urllib.error.URLError)):
                held.result(timeout=10)
        with urllib.request.urlopen(f"{url}/_fake/sent", timeout=10) as answer:
            assert [m["chat_id"] for m in json.load(answer)] == [7]
    finally:
        server.kill()
        server.wait(timeout=5)
    events = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    # One message; the held request is journalled once released, never as a message.
    assert [(e["kind"], e.get("status")) for e in events] == [
        ("message", None),
        ("request", 200),
        ("request", 499),
    ]


def post_json(url: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        result: dict[str, object] = json.load(answer)
    return result


def test_frozen_bot_runs_the_cli_on_a_ticking_frozen_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[list[str], datetime]] = []

    def fake_cli(argv: list[str]) -> int:
        calls.append((argv, datetime.now(UTC)))
        return 7

    monkeypatch.setattr(frozen_bot, "bot_main", fake_cli)
    assert frozen_bot.main(["--at", MORNING.isoformat(), "--", "--log-level", "INFO", "run"]) == 7
    [(argv, seen)] = calls[:1]
    assert argv == ["--log-level", "INFO", "run"]
    assert MORNING <= seen < MORNING + timedelta(seconds=5)
    assert datetime.now(UTC) > MORNING + timedelta(days=365)  # travel ends with the command
    since = datetime.now(UTC).timestamp() - 60  # a process started a minute after the caller
    assert frozen_bot.main(["--at", MORNING.isoformat(), "--since", str(since), "--", "run"]) == 7
    assert MORNING + timedelta(seconds=60) <= calls[-1][1] < MORNING + timedelta(seconds=65)
    with pytest.raises(SystemExit):
        frozen_bot.main(["--at", "2024-03-13T08:00:00", "--", "run"])  # no UTC offset
    with pytest.raises(SystemExit):
        frozen_bot.main(["--at", MORNING.isoformat()])  # nothing to run


# --------------------------------------------------------------------------- in process


async def test_429_and_5xx_for_a_while_then_every_digest_once_the_same_day(
    session_factory: Sessions,
) -> None:
    officers = 40
    chats = chat_ids(officers)
    unit_id = await seed(session_factory, officers)
    time = FakeTime()  # the sender's pacing, back-off and retry_after, without real waiting
    start = time.now

    def now() -> datetime:
        return MORNING + timedelta(seconds=time.now - start)

    async with (
        FakeTelegram(clock=time.clock) as tg,
        Bot(tg.token, base_url=tg.base_url) as bot,
    ):
        tg.fail_next(3, status=502)
        tg.fail_next(2, status=500)
        tg.force_429(3, retry_after=1)
        sender = Sender(TelegramOutbound(bot), clock=time.clock, sleep=time.sleep, rng=Random(4))
        reminders = ReminderSender(session_factory, sender, now)
        report = await reminders.send_day(unit_id=unit_id, day=DAY)

        assert report.outcomes == {"sent": officers}
        assert (tg.stats.server_errors, tg.stats.too_many_requests) == (5, 3)
        assert_one_digest_each(tg, chats)
        calls = tg.calls("sendMessage")
        assert len(calls) == officers + 5 + 3
        for failed in (c for c in calls if c.status != 200):
            chat = failed.params["chat_id"]
            retry = next(c for c in calls if c.seq > failed.seq and c.params["chat_id"] == chat)
            waited = retry.timestamp - failed.timestamp
            # retry_after is honoured to the second; a 5xx backs off (0.25 s at least).
            assert waited >= (1.0 if failed.status == 429 else 0.25), (failed, retry)

        again = await reminders.send_day(unit_id=unit_id, day=DAY)  # a second tick that day
        assert again.outcomes == {"duplicate": officers}
        assert len(tg.sent()) == officers
    rows = await deliveries(session_factory)
    assert states(rows) == {("digest", "sent"): officers}
    assert all(row.attempts == 1 for row in rows)
    assert all(
        row.sent_at is not None and row.sent_at.astimezone(ICT).date() == DAY for row in rows
    )


async def test_a_blocked_chat_marks_the_officer_unreachable_and_tells_the_coordinator_once(
    session_factory: Sessions,
) -> None:
    unit_id = await seed(session_factory, 5, coordinator=True)
    blocked_chat = FIRST_CHAT + 2
    async with FakeTelegram() as tg, Bot(tg.token, base_url=tg.base_url) as bot:
        tg.block(blocked_chat)
        time = FakeTime()
        sender = Sender(TelegramOutbound(bot), clock=time.clock, sleep=time.sleep)
        reminders = ReminderSender(session_factory, sender, lambda: MORNING)
        report = await reminders.send_day(unit_id=unit_id, day=DAY)
        assert report.outcomes == {"sent": 4, "blocked": 1}
        again = await reminders.send_day(unit_id=unit_id, day=DAY)  # a later tick, same day
        assert again.outcomes == {"duplicate": 5}

        assert tg.stats.forbidden == 1  # tried once: the failed claim is not retried
        assert tg.messages_to(blocked_chat) == []
        notice = texts.unreachable_notice("Cán bộ 002")
        assert tg.messages_to(COORDINATOR_CHAT) == [notice]
        others = frozenset(range(FIRST_CHAT, FIRST_CHAT + 5)) - {blocked_chat}
        assert Counter(m.chat_id for m in tg.sent()) == Counter([*others, COORDINATOR_CHAT])
    async with session_factory() as session:  # "unreachable" is the account's since 0013
        accounts = {int(a.external_id): a for a in await session.scalars(select(ChannelAccount))}
    assert [chat for chat, a in accounts.items() if a.unreachable] == [blocked_chat]
    rows = await deliveries(session_factory)
    blocked_id = accounts[blocked_chat].officer_id
    assert states(rows) == {
        ("digest", "sent"): 4,
        ("digest", "failed"): 1,
        (f"unreachable-{blocked_id}", "sent"): 1,
    }
    failed = next(row for row in rows if row.status == "failed")
    assert failed.chat_id == str(blocked_chat) and (failed.error or "").startswith("blocked")


def chat_of(row: Delivery) -> str:
    """The chat a delivery names (text since 0013, as Zalo's ids are)."""
    assert row.chat_id is not None
    return row.chat_id


# --------------------------------------------------------------------------- bot processes


@pytest.fixture(params=["telegram", "zalo"])
def channel(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextmanager
def bots_against_fake(
    database_url: str, tmp_path: Path, channel: str
) -> Iterator[tuple[Bots, FakeTelegram | FakeZalo]]:
    """Bot processes with the channel's token only, against its fake serving from a thread."""
    fake = FakeTelegram() if channel == "telegram" else FakeZalo()
    fakes = {"tg": fake} if isinstance(fake, FakeTelegram) else {"zalo": fake}
    with bot_processes(database_url, tmp_path, **fakes, ZALO_MESSAGES_PER_SECOND="30") as bots:
        yield bots, fake


def on(channel: str) -> Callable[[int], Sequence[str]]:
    return lambda number: (channel,)


# --------------------------------------------------------------------------- in subprocesses


async def test_the_start_up_tick_is_the_catch_up(
    database_url: str, session_factory: Sessions, tmp_path: Path, channel: str
) -> None:
    """Down at 07:30, started at 08:00: today's digests go out at start-up, not a tick later."""
    await seed(session_factory, 3, channels=on(channel))
    with bots_against_fake(database_url, tmp_path, channel) as (bots, fake):
        bot = bots.start(MORNING)
        await fake.wait_until(lambda: len(fake.sent()) == 3, timeout=15)
        bots.stop(bot)
        assert_one_digest_each(fake, chat_ids(3))


async def test_a_fan_out_killed_half_way_resumes_on_restart_without_loss_or_repeat(
    database_url: str, session_factory: Sessions, tmp_path: Path, channel: str
) -> None:
    await seed(session_factory, OFFICERS, channels=on(channel))
    with bots_against_fake(database_url, tmp_path, channel) as (bots, tg):
        tg.hold_sends_after(KILL_AFTER)
        first = bots.start(MORNING)
        # Every fan-out worker stuck on a held send: all earlier digests are marked sent.
        held = await tg.wait_for_held(FANOUT_CONCURRENCY, timeout=30)
        first.process.kill()  # SIGKILL: no clean-up, no marks, connections dropped
        assert first.process.wait(timeout=10) == -signal.SIGKILL
        held_chats = {str(request.params["chat_id"]) for request in held}
        assert len(held_chats) == FANOUT_CONCURRENCY
        assert await tg.release_held() >= FANOUT_CONCURRENCY  # dropped, never answered

        first_chats = {str(message.chat_id) for message in tg.sent()}
        assert len(tg.sent()) == len(first_chats) == KILL_AFTER
        assert not held_chats & first_chats
        rows = await deliveries(session_factory)
        assert states(rows) == {
            ("digest", "sent"): KILL_AFTER,
            ("digest", "claimed"): FANOUT_CONCURRENCY,
        }
        assert {chat_of(row) for row in rows if row.status == "sent"} == first_chats
        assert {chat_of(row) for row in rows if row.status == "claimed"} == held_chats

        # Restarted later that morning: the new tick claims what is left, and the dead
        # process's claims, unconfirmed for longer than CLAIM_TIMEOUT_SECONDS, are sent once.
        second = bots.start(LATER)
        await tg.wait_until(lambda: every_chat_has_a_message(tg, CHATS), timeout=40)
        bots.stop(second)  # a clean stop waits for the tick: anything extra would be sent now

        assert_one_digest_each(tg, CHATS)
        claimed_before = KILL_AFTER + FANOUT_CONCURRENCY
        assert second.reports() == [
            {"duplicate": claimed_before, "sent": OFFICERS - claimed_before}
        ]
    rows = await deliveries(session_factory)
    assert states(rows) == {("digest", "sent"): OFFICERS}
    assert {chat_of(row) for row in rows} == CHATS
    assert all(row.key_date == DAY for row in rows)
    if channel == "telegram":  # Zalo's message ids are text: not kept
        assert all(row.message_id is not None for row in rows)
    retried = {chat_of(row) for row in rows if row.attempts == 2}
    assert retried == held_chats
    assert all(row.attempts == 1 for row in rows if chat_of(row) not in held_chats)
    # The first process's digests went out at 08:00, the rest after the restart, same day.
    for row in rows:
        assert row.sent_at is not None
        sent_at = row.sent_at.astimezone(ICT)
        assert sent_at.date() == DAY
        assert (sent_at < LATER) == (chat_of(row) in first_chats), row


async def test_two_bot_processes_at_once_send_each_digest_once(
    database_url: str, session_factory: Sessions, tmp_path: Path, channel: str
) -> None:
    await seed(session_factory, OFFICERS, channels=on(channel))
    with bots_against_fake(database_url, tmp_path, channel) as (bots, tg):
        one, two = bots.start(MORNING), bots.start(MORNING)
        await tg.wait_until(lambda: every_chat_has_a_message(tg, CHATS), timeout=40)
        bots.stop(one)
        bots.stop(two)

        assert_one_digest_each(tg, CHATS)
        # Both really raced for the same digests: each sent some, and they add up.
        reports = [*one.reports(), *two.reports()]
        assert len(reports) == 2
        assert sum(report.get("sent", 0) for report in reports) == OFFICERS
        assert all(report.get("sent", 0) > 0 for report in reports), reports
        assert all(sum(report.values()) == OFFICERS for report in reports), reports
    rows = await deliveries(session_factory)
    assert states(rows) == {("digest", "sent"): OFFICERS}
    assert {chat_of(row) for row in rows} == CHATS
    assert all(row.attempts == 1 for row in rows)


async def test_one_digest_for_each_officer_on_a_channel_they_linked(
    database_url: str, session_factory: Sessions, tmp_path: Path
) -> None:
    """Telegram and Zalo in one process: an officer on Zalo only gets the digest there, one on
    Telegram only there, and one linked on both gets it once, on one of them."""
    linked = (("zalo",), ("telegram",), ("telegram", "zalo"))
    officers = 30
    await seed(session_factory, officers, channels=lambda number: linked[number % 3])
    chats = {
        kind: {c for c in chat_ids(officers) if linked[(int(c) - FIRST_CHAT) % 3] == kind}
        for kind in linked
    }
    tg, zalo = FakeTelegram(), FakeZalo()
    settings = {"ZALO_MESSAGES_PER_SECOND": "30"}
    with bot_processes(database_url, tmp_path, tg=tg, zalo=zalo, **settings) as bots:
        bot = bots.start(MORNING)
        await zalo.wait_until(lambda: every_chat_has_a_message(zalo, frozenset(chats[("zalo",)])))
        await tg.wait_until(lambda: every_chat_has_a_message(tg, frozenset(chats[("telegram",)])))
        bots.stop(bot)  # a clean stop waits for the tick: anything left would be sent now
        assert bot.reports() == [{"sent": officers}]
    on_zalo = {str(m.chat_id) for m in zalo.sent()}
    on_telegram = {str(m.chat_id) for m in tg.sent()}
    both = chats[("telegram", "zalo")]
    assert (on_zalo - both, on_telegram - both) == (chats[("zalo",)], chats[("telegram",)])
    assert (on_zalo & on_telegram, on_zalo | on_telegram) == (set(), set(chat_ids(officers)))
    assert_one_digest_each(zalo, frozenset(on_zalo))
    assert_one_digest_each(tg, frozenset(on_telegram))
    rows = await deliveries(session_factory)
    assert states(rows) == {("digest", "sent"): officers}
    assert {(row.channel, chat_of(row)) for row in rows} == {
        *(("zalo", chat) for chat in on_zalo),
        *(("telegram", chat) for chat in on_telegram),
    }
