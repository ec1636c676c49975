"""The running bot on Zalo, against the fake Zalo Bot API over real HTTP: a test's helpers.

Usage::

    async with FakeZalo() as zalo, zalo_bot(settings, session_factory, zalo) as bot:
        lan = await bot.officer("Nguyễn Thị Lan", ["VPTK"])   # invited; types the code
        listing = await bot.say(lan, "/viec")                 # the reply's text

``zalo_bot`` runs bot.runner.running with a channels.zalo_app.ZaloRunner (the
machinery of ``python -m bot run``, in this process), on the test database and with the
bot's clock on Monday 04/03/2024 (``bot.clock`` moves it). ``schedule=True`` adds the
minute tick; ``web=True`` the web server (the webhook mode), on a free port: then
``say`` posts to the webhook, as Zalo would, and ``post`` sends any update there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.runner import Running, running
from bot.settings import ZALO_WEBHOOK_PATH, Settings, load_settings
from channels.zalo_app import ZALO_SECRET_HEADER, ZaloRunner
from core.officers import add_officer, create_invite
from handlers.base import AppState
from storage.models import Unit
from tests.e2e import SettableClock
from tests.fakes.zalo_api import FakeZalo, FakeZaloUser, zalo_id
from tests.test_telegram_budget import DrivenClock
from tests.text_world import PLAN, yaml_unit

MONDAY = datetime(2024, 3, 4, 2, 0, tzinfo=UTC)  # 09:00 in Hà Nội
WEB_SECRET = "a-web-secret-for-the-zalo-tests-0123456789"
PUBLIC_URL = "https://dondoc.example.vn"


def zalo_settings(settings: Settings, zalo: FakeZalo, *, web: bool = False) -> Settings:
    """The test's settings, with the fake's token and URL; ``web``: the web server on a free
    port of 127.0.0.1 (the webhook mode)."""
    extra: dict[str, Any] = {}
    if web:
        extra = {"PUBLIC_BASE_URL": PUBLIC_URL, "WEB_SECRET": WEB_SECRET, "WEB_LISTEN": "127.0.0.1"}
    configured = load_settings(
        DATABASE_URL=settings.database_url,
        EVIDENCE_DIR=settings.evidence_dir,
        TELEGRAM_BOT_TOKEN=None,
        ZALO_BOT_TOKEN=zalo.token,
        ZALO_API_BASE_URL=zalo.base_url,
        _env_file=None,
        **extra,
    )
    return configured.model_copy(update={"port": 0}) if web else configured


@dataclass
class ZaloBot:
    zalo: FakeZalo
    state: AppState
    runner: ZaloRunner
    run: Running
    clock: SettableClock
    unit_id: int

    @property
    def webhook_url(self) -> str:
        """Where the web server takes Zalo's webhook requests (``web=True``)."""
        assert self.run.server is not None
        return f"http://127.0.0.1:{self.run.server.port}/{ZALO_WEBHOOK_PATH}"

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.state.sessions

    async def say(self, user: FakeZaloUser, text: str) -> str:
        """The user sends ``text``; the bot's first message back to them."""
        return (await self.said(user, text, 1))[0]

    async def said(self, user: FakeZaloUser, text: str, count: int) -> list[str]:
        """The user sends ``text`` (by the webhook in webhook mode, else to the fake, which
        the bot polls); the bot's first ``count`` messages back to them."""
        mark = self.zalo.checkpoint()
        if self.run.server is not None:
            answer = await self.post(text_update(user, text, zalo_id()))
            assert answer.status_code == 200, answer.status_code
        else:
            self.zalo.send_text(user, text)
        return await self.replies(user, count, after=mark)

    async def post(self, update: dict[str, Any], *, secret: str | None = None) -> httpx.Response:
        """POST ``update`` to the webhook, with the right secret unless ``secret`` is given."""
        if secret is None:
            secret = self.state.settings.webhook_secret_for(ZALO_WEBHOOK_PATH)
        async with httpx.AsyncClient() as client:
            return await client.post(
                self.webhook_url, json=update, headers={ZALO_SECRET_HEADER: secret}
            )

    async def replies(self, user: FakeZaloUser, count: int, *, after: int) -> list[str]:
        """The first ``count`` messages to ``user`` from the fake's index ``after`` on."""
        found: list[str] = []
        for _ in range(count):
            message = await self.zalo.wait_for(lambda m: m.chat_id == user.id, after=after)
            after = self.zalo.sent().index(message) + 1
            found.append(message.content)
        return found

    async def invite(
        self, name: str, positions: Sequence[str], roles: Sequence[str] = ("officer",)
    ) -> str:
        """A new officer of the unit and a fresh invite code for them."""
        async with self.sessions() as session, session.begin():
            unit = await session.get_one(Unit, self.unit_id)
            officer, _ = await add_officer(
                session, unit=unit, name=name, positions=positions, roles=roles, actor="test"
            )
            invite = await create_invite(
                session, unit=unit, officer=officer, actor="test", now=self.clock()
            )
        return invite.code

    async def officer(
        self, name: str, positions: Sequence[str], roles: Sequence[str] = ("officer",)
    ) -> FakeZaloUser:
        """An officer who linked their Zalo account by typing their invite code."""
        code = await self.invite(name, positions, roles)
        user = self.zalo.user(display_name=name)
        greeting = await self.say(user, code)
        assert greeting.startswith("Đã liên kết tài khoản Zalo"), greeting
        return user


def text_update(user: FakeZaloUser, text: str, message_id: str) -> dict[str, Any]:
    """A text message as Zalo's webhook posts it (the documented shape: see the fake)."""
    return {
        "event_name": "message.text.received",
        "message": {
            "from": user.to_json(),
            "chat": {"id": user.id, "chat_type": "PRIVATE"},
            "text": text,
            "message_id": message_id,
            "date": 1709517600000,
        },
    }


@asynccontextmanager
async def zalo_bot(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    zalo: FakeZalo,
    *,
    schedule: bool = False,
    web: bool = False,
    now: datetime = MONDAY,
    plan: str = PLAN,
    runner_options: dict[str, Any] | None = None,
) -> AsyncIterator[ZaloBot]:
    """The unit of ``plan`` (tests.text_world.PLAN) and the running bot on Zalo (see the
    docstring)."""
    configured = zalo_settings(settings, zalo, web=web)
    clock = SettableClock(now)
    state = AppState(settings=configured, sessions=sessions, clock=clock)
    async with sessions() as session, session.begin():
        unit = await yaml_unit(session, plan)
    budget_clock = DrivenClock()  # the send budget's waits pass at once (nothing sleeps)
    options = {"clock": budget_clock, "sleep": budget_clock.sleep, **(runner_options or {})}
    runner = ZaloRunner(state, **options)
    async with running(state, [runner], schedule=schedule) as run:
        yield ZaloBot(zalo, state, runner, run, clock, unit.id)
