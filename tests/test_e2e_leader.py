"""Leaders and coordinators, end to end: the overdue list, the short status, the officers."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot import texts
from core.overview import overdue_items
from storage.models import Unit
from tests.e2e import BotUnderTest
from tests.e2e_support import press, say, seed_officer, seed_unit
from tests.seed_files import TANDUC

LAN, HUNG, LEADER = 3001, 3002, 5001
AFTER_DEADLINES = datetime(2025, 1, 10, 2, 0, tzinfo=UTC)  # 09:00 in Vietnam


@pytest.fixture
async def unit_id(bot: BotUnderTest) -> int:
    unit = await seed_unit(bot, TANDUC, "Xã Tân Đức")
    await seed_officer(bot, unit, "Nguyễn Thị Lan", ["VPTK"], telegram_id=LAN)
    await seed_officer(bot, unit, "Trần Văn Hùng", ["TPHT"], telegram_id=HUNG)
    await seed_officer(bot, unit, "Võ Minh Chủ", roles=("leader",), telegram_id=LEADER)
    return unit


async def test_a_leader_lists_overdue_items_with_owners_and_days_late(
    bot: BotUnderTest, unit_id: int
) -> None:
    done = await say(bot, LAN, "/xong 1.5")  # finished in time: never overdue
    assert done.content == texts.progress_saved("PAR 1.5", "done", 100)
    nothing = await say(bot, LEADER, "/quahan")
    assert nothing.content == texts.NO_OVERDUE

    bot.clock.set(AFTER_DEADLINES)
    async with bot.sessions() as session:
        expected = await overdue_items(
            session, unit=await session.get_one(Unit, unit_id), today=date(2025, 1, 10)
        )
    listing = await say(bot, LEADER, "/overdue")
    assert listing.content.startswith(f"Việc quá hạn ({len(expected)}) — trang 1/")
    assert "• PAR 7.3.2 " in listing.content
    assert "trễ 102 ngày (hạn 30/09/2024)" in listing.content  # the latest first
    assert "PAR 1.5 " not in listing.content

    pages = [listing.content]
    while any(b["text"] == texts.NEXT for b in listing.buttons):
        listing = await press(bot, LEADER, listing, texts.NEXT)
        pages.append(listing.content)
    everything = "\n".join(pages)
    assert everything.count("\n• ") == len(expected)
    assert (
        "PAR 2.1.1 " in everything and "trễ 10 ngày (hạn 31/12/2024) · Trần Văn Hùng" in everything
    )


async def test_summary_and_officers_for_managers_only(bot: BotUnderTest, unit_id: int) -> None:
    await say(bot, LAN, "/capnhat 1.5 50")
    summary = await say(bot, LEADER, "/tonghop")
    assert summary.content.startswith("TỔNG HỢP CCHC – Xã Tân Đức\nSố liệu đến ngày 04/03/2024")
    # The same bundle as the weekly summary: the message, then the chart and the workbook.
    document = await bot.tg.wait_for(lambda m: m.chat_id == LEADER and m.method == "sendDocument")
    photos = [m for m in bot.tg.sent(LEADER) if m.method == "sendPhoto"]
    assert len(photos) == 1
    assert document.file_bytes is not None and document.file_bytes[:2] == b"PK"  # an .xlsx

    officers = await say(bot, LEADER, "/canbo")
    assert officers.content.startswith("Cán bộ Xã Tân Đức (3):")
    assert "Nguyễn Thị Lan — VPTK\n   đã liên kết · hoạt động: 04/03/2024 09:00" in officers.content

    for command in ("/quahan", "/tonghop", "/canbo"):
        refused = await say(bot, LAN, command)
        assert refused.content == texts.NOT_ALLOWED
