"""/web in chat: a one-time login link for the dashboard, over the fake Bot API.

The link the officer gets is the one the dashboard accepts: spending its token opens a
session for that officer, once. Without the web server, /web says so and issues nothing.
"""

from __future__ import annotations

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.settings import Settings
from core.web_login import session_viewer, spend_login
from storage.models import WebLogin
from tests.e2e import running_bot
from tests.e2e_support import count, say, seed_officer, seed_unit
from tests.seed_files import TANDUC

LAN = 3001
BASE = "https://dondoc.example.vn"
WEB = {"public_base_url": BASE, "web_secret": SecretStr("s" * 40)}


async def test_web_gives_a_login_link_that_opens_a_session_once(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with running_bot(settings, session_factory, **WEB) as running:
        unit = await seed_unit(running, TANDUC, "Xã Tân Đức")
        lan = await seed_officer(running, unit, "Nguyễn Thị Lan", ["VHXH"], telegram_id=LAN)
        reply = await say(running, LAN, "/web")
        now = running.clock()
    assert f"{BASE}/dangnhap/" in reply.content
    token = reply.content.rsplit("/dangnhap/", 1)[1].split()[0]
    async with session_factory() as session:
        cookie = await spend_login(session, token=token, now=now)
        assert cookie is not None
        viewer = await session_viewer(session, cookie=cookie, now=now)
        assert viewer is not None and viewer.officer is not None
        assert viewer.officer.id == lan
        assert await spend_login(session, token=token, now=now) is None  # spent
        await session.commit()


async def test_web_without_the_web_server_says_so_and_issues_nothing(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with running_bot(settings, session_factory) as running:
        unit = await seed_unit(running, TANDUC, "Xã Tân Đức")
        await seed_officer(running, unit, "Nguyễn Thị Lan", ["VHXH"], telegram_id=LAN)
        reply = await say(running, LAN, "/web")
        assert reply.content == texts.WEB_OFF
        assert await count(running, WebLogin) == 0
