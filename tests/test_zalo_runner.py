"""``python -m bot run``'s machinery with Zalo (channels.zalo_app.ZaloRunner), over real HTTP
against the fake Zalo Bot API, on SQLite or PostgreSQL: officers link by typing their invite
code, /viec and numbered choices, progress, long replies in parts, the webhook, the daily
digest from the tick, and the send budget shared by two processes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.settings import Settings
from storage.models import ChannelAccount, ProgressUpdate
from tests.fakes.zalo_api import FakeZalo
from tests.text_world import number_of, numbered
from tests.zalo_world import zalo_bot

Sessions = async_sessionmaker[AsyncSession]


async def test_an_officer_links_by_code_picks_by_number_and_reports_progress(
    settings: Settings, session_factory: Sessions
) -> None:
    async with FakeZalo() as zalo, zalo_bot(settings, session_factory, zalo) as bot:
        lan = await bot.officer("Nguyễn Thị Lan", ["VPTK"])
        listing = await bot.say(lan, "/viec")
        card = await bot.say(lan, number_of(listing, "PAR 2.1.2 "))
        saved = await bot.say(lan, "60")

    assert listing.startswith("Việc của bạn (3):")
    assert list(numbered(listing).values()) == ["1", "2", "3"]
    assert card.startswith("PAR 2.1.2 — Báo cáo kết quả thực hiện kế hoạch quý I")
    assert saved.startswith(texts.progress_toast("in_progress", 60))
    assert zalo.calls("deleteWebhook") and not zalo.calls("setWebhook")  # long polling
    async with session_factory() as session:
        account = (await session.scalars(select(ChannelAccount))).one()
        progress = (await session.scalars(select(ProgressUpdate))).one()
    assert (account.channel, account.external_id) == ("zalo", lan.id)
    assert (progress.status, progress.percent) == ("in_progress", 60)
