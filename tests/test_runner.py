"""bot.runner: the web server, the channels and the minute tick, whatever the channels are.

The channel here is a test-only ChannelRunner around tests/fakes/recording_channel.py's
adapter: no Telegram at all. Everything else is real: the database, the web server on a
port, APScheduler in the test's loop, the ticker, the sender and its claims. The clock is
set, not waited for; the tick at start is the catch-up, so nothing sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.cli import EXIT_CONFIG, main
from bot.runner import ChannelRefused, running
from bot.settings import Settings
from core.accounts import link_account
from core.conversation import Action, Capabilities, Inbound, IncomingFile
from handlers.base import AppState
from storage.models import ChannelAccount, Delivery, Officer
from storage.priority import in_background
from tests.e2e import SettableClock
from tests.fakes.recording_channel import RecordingChannel
from tests.fakes.telegram_api import FakeTelegram
from tests.test_reminders import setup
from tests.test_ticks import HOA, LAN, hanoi
from web.server import Webhook

Sessions = async_sessionmaker[AsyncSession]
SECRET_HEADER = "X-Test-Secret"
TEXT_ONLY = Capabilities(False, False, False, 2000, 0, 0)
WEB = {"public_base_url": "https://dondoc.example.vn", "web_listen": "127.0.0.1", "port": 0}


@dataclass
class Conversation:
    """The inbound side the features would answer through (unused: no updates here)."""

    app: AppState
    name: str = "test"
    capabilities: Capabilities = field(default_factory=lambda: TEXT_ONLY)

    async def fetch(self, file: IncomingFile, target: Path, *, limit: int) -> None:
        raise NotImplementedError

    async def deliver(self, event: Inbound, actions: Sequence[Action]) -> None:
        raise NotImplementedError


class HeldChannel(RecordingChannel):
    """Records what it is sent; while ``hold`` is set, each send waits for ``release``."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = False
        self.release = asyncio.Event()
        self.waiting = asyncio.Event()
        self.sent_in_background: list[bool] = []  # storage.priority's mark, at each send

    async def send(self, *args: Any, **kwargs: Any) -> int | None:
        self.sent_in_background.append(in_background())
        if self.hold:
            self.waiting.set()
            await self.release.wait()
        return await super().send(*args, **kwargs)


class FakeChannelRunner:
    """A bot.runner.ChannelRunner with no chat platform behind it: it notes what it is told."""

    def __init__(self, state: AppState, *, name: str = "test", refuse: bool = False) -> None:
        self.name = name
        self.inbound = Conversation(state)
        self.outbound = HeldChannel()
        self.refuse = refuse
        self.secret = "test-webhook-secret-0123456789abcdef"
        self.steps: list[str] = []
        self.receiving_stopped = asyncio.Event()
        self.bodies: list[dict[str, Any]] = []

    def webhook(self) -> Webhook:
        async def accept(body: dict[str, Any]) -> None:
            self.bodies.append(body)

        return Webhook(path=self.name, header=SECRET_HEADER, secret=self.secret, accept=accept)

    async def start(self) -> None:
        self.steps.append("start")
        if self.refuse:
            raise ChannelRefused("token refused")

    async def receive(self, *, webhook: bool) -> None:
        self.steps.append(f"receive webhook={webhook}")

    async def stop_receiving(self) -> None:
        self.steps.append("stop_receiving")
        self.receiving_stopped.set()

    async def stop(self) -> None:
        self.steps.append(f"stop, {len(self.outbound.sent)} sent")


def web_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={**WEB, "web_secret": SecretStr("w" * 40)})


async def link_on_test_channel(session_factory: Sessions) -> None:
    """Every officer gets an account on the channel "test" too (same id as on Telegram)."""
    async with session_factory() as session:
        for account in list(await session.scalars(select(ChannelAccount))):
            officer = await session.get(Officer, account.officer_id)
            assert officer is not None
            await link_account(
                session, channel="test", external_id=account.external_id, officer=officer, actor="t"
            )
        await session.commit()


async def test_the_runner_ticks_and_serves_with_no_telegram(
    settings: Settings, session_factory: Sessions
) -> None:
    """Web server and a non-Telegram channel: the tick's catch-up sends today's digests and
    escalations through that channel's adapter (the officers' Telegram accounts are skipped:
    Telegram does not run), and the channel's webhook is on the server."""
    await setup(session_factory)
    await link_on_test_channel(session_factory)
    state = AppState(
        web_settings(settings), session_factory, SettableClock(hanoi("2024-03-13T07:31"))
    )
    channel = FakeChannelRunner(state)
    async with running(state, [channel]) as bot:
        assert bot.server is not None and bot.schedule is not None
        assert bot.schedule.scheduler.running
        async with asyncio.timeout(30):
            await channel.outbound.wait_for(4)  # Lan's and Hoa's digests, two escalations
        base = f"http://127.0.0.1:{bot.server.port}"
        async with httpx.AsyncClient() as client:
            health = await client.get(f"{base}/healthz")
            hook = await client.post(
                f"{base}/test", json={"n": 1}, headers={SECRET_HEADER: channel.secret}
            )
            refused = await client.post(f"{base}/test", json={"n": 2})
    assert (health.status_code, hook.status_code, refused.status_code) == (200, 200, 403)
    assert channel.bodies == [{"n": 1}]
    assert channel.steps == ["start", "receive webhook=True", "stop_receiving", "stop, 4 sent"]
    day = date(2024, 3, 13)
    for officer in (LAN, HOA):
        digests = channel.outbound.texts_to(officer)
        assert len([t for t in digests if t.startswith(texts.digest_header(day))]) == 1
    async with session_factory() as session:
        deliveries = list(await session.scalars(select(Delivery)))
    assert sorted(d.kind for d in deliveries) == ["digest", "digest", "escalation", "escalation"]
    assert {d.status for d in deliveries} == {"sent"}
    assert channel.outbound.sent_in_background == [True] * 4  # replies' writes go first


async def test_a_stop_waits_for_the_tick_in_flight_before_closing_the_channel(
    settings: Settings, session_factory: Sessions
) -> None:
    """Stop order: receiving stops at once; the channel closes only after the fan-out in
    flight has sent and noted its message (no web server here: the channel polls)."""
    await setup(session_factory)
    await link_on_test_channel(session_factory)
    state = AppState(settings, session_factory, SettableClock(hanoi("2024-03-13T07:31")))
    channel = FakeChannelRunner(state)
    channel.outbound.hold = True
    context = running(state, [channel])
    bot = await context.__aenter__()
    assert bot.server is None
    async with asyncio.timeout(30):
        await channel.outbound.waiting.wait()  # a send of the catch-up tick is in flight
    stopping = asyncio.create_task(context.__aexit__(None, None, None))
    async with asyncio.timeout(30):
        await channel.receiving_stopped.wait()  # the stop has reached the tick's wait
    assert channel.steps == ["start", "receive webhook=False", "stop_receiving"]  # not closed
    channel.outbound.release.set()
    async with asyncio.timeout(30):
        await stopping
    sent = len(channel.outbound.sent)
    assert sent >= 1 and channel.steps[-1] == f"stop, {sent} sent"
    async with session_factory() as session:
        statuses = [d.status for d in await session.scalars(select(Delivery))]
    assert statuses == ["sent"] * sent  # none left "claimed"


async def test_a_channel_that_cannot_start_stops_what_had_started(
    settings: Settings, session_factory: Sessions
) -> None:
    state = AppState(web_settings(settings), session_factory)
    first = FakeChannelRunner(state)
    refused = FakeChannelRunner(state, name="refusing", refuse=True)
    with pytest.raises(ChannelRefused):
        async with running(state, [first, refused]):
            raise AssertionError("must not run")
    # Neither took updates (the web server and receiving come after every channel started).
    assert first.steps == ["start", "stop_receiving", "stop, 0 sent"]
    assert refused.steps == ["start", "stop_receiving", "stop, 0 sent"]
    assert first.outbound.sent == []


def test_run_without_any_channel_token_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    database = tmp_path / "never.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    assert main(["run"]) == EXIT_CONFIG
    captured = capsys.readouterr()
    err = captured.err
    for needed in ("Zalo Bot Manager", "Tạo bot", "ZALO_BOT_TOKEN", "@BotFather"):
        assert err.count(needed) == 2, needed  # in Vietnamese and in English
    assert err.count("TELEGRAM_BOT_TOKEN=") == 2
    assert err.count("python -m bot chat --demo") == 2
    assert "Chưa có token" in err and "No chat channel token is set" in err
    assert "Traceback" not in err + captured.out
    assert not database.exists()  # refused before opening (and migrating) the database


def test_a_refused_telegram_token_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    tg = FakeTelegram()
    url = tg.start_in_thread()
    wrong = "123456:" + "x" * 35
    try:
        monkeypatch.setenv("DATABASE_URL", database_url)
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", wrong)
        monkeypatch.setenv("TELEGRAM_API_BASE_URL", f"{url}/bot")
        assert main(["run"]) == EXIT_CONFIG
    finally:
        tg.stop()
    err = capsys.readouterr().err
    assert err.strip() == texts.TOKEN_REFUSED
    assert wrong not in err
