"""A merged commune end to end: its 2026 plan imported with a whole unknown lead mapped,
a roster by department, and "Việc của phòng" for a department's members."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.settings import Settings
from storage.models import Criterion, PositionAlias, ProgressUpdate
from tests.e2e import BotUnderTest, running_bot
from tests.e2e_support import press, say, telegram_officer
from tests.plans2026 import TEXT_PLAN, fixture_bytes

ADMIN = 1000
BINH = 5002
ROSTER = (
    "Họ tên,Phòng/Đơn vị,Trưởng phòng,Vị trí,Vai trò,Telegram ID\n"
    "Nguyễn Văn An,Phòng Kinh tế,x,,,5001\n"
    f"Trần Thị Bình,Phòng Kinh tế xã,,,,{BINH}\n"
    "Lê Văn Cường,Văn phòng HĐND và UBND,x,,Đầu mối,\n"
).encode()


@pytest.fixture
async def bot(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[BotUnderTest]:
    async with running_bot(settings, session_factory, admin_telegram_ids=[ADMIN]) as running:
        yield running


async def test_a_merged_commune_from_plan_to_its_departments_items(bot: BotUnderTest) -> None:
    await say(bot, ADMIN, "/start")
    mark = bot.tg.checkpoint()
    await bot.tg.send_document(
        ADMIN, fixture_bytes(TEXT_PLAN), TEXT_PLAN, "text/plain", caption="/kehoach"
    )
    preview = await bot.tg.wait_for(lambda m: m.chat_id == ADMIN, after=mark)
    assert "Xã Phú Riềng" in preview.content
    # The unknown lead is offered whole, not as a fragment of it.
    assert "«Tổ công nghệ số cộng đồng» — 2 mục" in preview.content
    picker = await press(bot, ADMIN, preview, "Gán «Tổ công nghệ số cộng đồng»")
    mapped = await press(bot, ADMIN, picker, "PVHXH", exact=True)
    done = await press(bot, ADMIN, mapped, texts.CONFIRM)
    assert done.content.startswith("Đã nhập kế hoạch cho Xã Phú Riềng.")
    async with bot.sessions() as session:
        alias = await session.scalar(select(PositionAlias))
        assert alias is not None
        assert (alias.alias_text, alias.position_code) == ("Tổ công nghệ số cộng đồng", "PVHXH")
        item = await session.scalar(select(Criterion).where(Criterion.code == "8"))
        assert item is not None and item.leads == ["PVHXH"]

    mark = bot.tg.checkpoint()
    await bot.tg.send_document(ADMIN, ROSTER, "canbo.csv", "text/csv", caption="/canbo")
    imported = await bot.tg.wait_for(lambda m: m.chat_id == ADMIN, after=mark)
    assert imported.content == texts.roster_imported(3, 0)
    listing = await say(bot, ADMIN, "/canbo")
    assert "Nguyễn Văn An — Phòng Kinh tế (trưởng phòng)" in listing.content
    assert "Trần Thị Bình — Phòng Kinh tế\n" in listing.content

    tasks = await say(bot, BINH, "/viec")
    assert f"\n{texts.TASK_GROUPS['department']}:" in tasks.content
    assert "CCHC 5" in tasks.content and "CCHC 1 " not in tasks.content
    # A member opens the item and reports on it: the card says what to do.
    card = await press(bot, BINH, tasks, "CCHC 5 ")
    assert "Yêu cầu: Đúng quy định" in card.content
    assert f"{texts.CARD_TASK}: Công khai dự toán, quyết toán ngân sách xã" in card.content
    assert "Nguyễn Văn An" in card.content  # the head owns it
    await press(bot, BINH, card, "50%")
    async with bot.sessions() as session:
        update = await session.scalar(select(ProgressUpdate))
        binh = await telegram_officer(session, BINH)
        assert update is not None and binh is not None
        assert (update.officer_id, update.percent) == (binh.id, 50)
