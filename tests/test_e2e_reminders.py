"""Pausing reminders, their settings, and the evidence pack from the chat, end to end."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot import texts
from core.reminders import plan_day
from handlers import reports
from storage.models import Absence, Snooze, Unit
from tests.e2e import BotUnderTest
from tests.e2e_support import count, say, seed_officer, seed_unit
from tests.seed_files import TANDUC

LAN, COORDINATOR, LEADER = 3101, 3102, 3103


@pytest.fixture
async def unit_id(bot: BotUnderTest) -> int:
    unit = await seed_unit(bot, TANDUC, "Xã Tân Đức")
    await seed_officer(bot, unit, "Nguyễn Thị Lan", ["VPTK"], telegram_id=LAN)
    await seed_officer(bot, unit, "Đào Đầu Mối", roles=("coordinator",), telegram_id=COORDINATOR)
    await seed_officer(bot, unit, "Võ Minh Chủ", roles=("leader",), telegram_id=LEADER)
    return unit


async def test_snooze_an_item(bot: BotUnderTest, unit_id: int) -> None:
    reply = await say(bot, LAN, "/hoanlai 1.5 5")  # the clock says 04/03/2024
    assert reply.content == texts.snoozed("PAR 1.5", date(2024, 3, 9))
    too_long = await say(bot, LAN, "/snooze 1.5 30")
    assert "14" in too_long.content
    usage = await say(bot, LAN, "/hoanlai 1.5")
    assert usage.content == texts.SNOOZE_USAGE
    unknown = await say(bot, LAN, "/hoanlai 9.9.9 3")
    assert "9.9.9" in unknown.content
    others = await say(bot, LAN, "/hoanlai 2.1.1 3")  # led by Tư pháp, not Lan's
    assert others.content == texts.not_owner("PAR 2.1.1")
    async with bot.sessions() as session:
        rows = (await session.scalars(select(Snooze))).all()
        assert [row.until for row in rows] == [date(2024, 3, 9)]


async def test_away_and_back(bot: BotUnderTest, unit_id: int) -> None:
    reply = await say(bot, LAN, "/nghi 15/03/2024")
    assert reply.content == texts.away_until(date(2024, 3, 15))
    async with bot.sessions() as session:
        unit = await session.get_one(Unit, unit_id)
        names = [d.officer_name for d in await plan_day(session, unit=unit, day=date(2024, 3, 5))]
        assert "Nguyễn Thị Lan" not in names
    assert (await say(bot, LAN, "/nghi 01/01/2020")).content.startswith("Ngày nghỉ đến phải")
    assert (await say(bot, LAN, "/away 31/02/2024")).content == texts.AWAY_USAGE
    assert (await say(bot, LAN, "/nghi xong")).content == texts.BACK_FROM_AWAY
    assert await count(bot, Absence) == 0


async def test_settings_view_and_change_by_the_coordinator_only(
    bot: BotUnderTest, unit_id: int
) -> None:
    view = await say(bot, LEADER, "/caidat")
    assert view.content.startswith("Cài đặt nhắc việc của đơn vị:")
    assert "• Giờ nhắc: 07:30" in view.content
    refused = await say(bot, LEADER, "/caidat gio 08:00")
    assert refused.content == texts.NOT_ALLOWED
    saved = await say(bot, COORDINATOR, "/caidat gio 8h15")
    assert saved.content.startswith(texts.SETTINGS_SAVED) and "• Giờ nhắc: 08:15" in saved.content
    bad = await say(bot, COORDINATOR, "/settings truoc 5")
    assert bad.content == "Nhắc trước hạn chỉ nhận các mốc 7, 3, 1, 0 ngày."
    assert (await say(bot, LAN, "/caidat")).content == texts.NOT_ALLOWED
    async with bot.sessions() as session:
        unit = await session.get_one(Unit, unit_id)
        assert unit.settings["reminders"]["reminder_time"] == "8h15"


async def test_export_pack_in_parts_from_the_chat(
    bot: BotUnderTest, unit_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    await say(bot, LAN, "/xong 1.5")
    await bot.tg.send_photo(LAN, caption="1.5 bảng tin", file_bytes=b"x" * 3000)
    await bot.tg.wait_for(
        lambda m: m.chat_id == LAN and "1.5" in m.content and "minh chứng" in m.content.lower()
    )
    monkeypatch.setattr(reports, "MAX_PART_BYTES", 6000)  # a tiny limit forces a split
    refused = await say(bot, LEADER, "/xuat")
    assert refused.content == texts.NOT_ALLOWED
    ready = await say(bot, COORDINATOR, "/xuat 2024")
    assert ready.content.startswith("Gói minh chứng: 40 mục, 1 tệp")
    parts = []
    for _ in range(2):
        parts.append(
            await bot.tg.wait_for(
                lambda m: (
                    m.chat_id == COORDINATOR
                    and m.method == "sendDocument"
                    and m.message_id not in [p.message_id for p in parts]
                )
            )
        )
    names = []
    for part in parts:
        assert part.file_bytes is not None
        with zipfile.ZipFile(io.BytesIO(part.file_bytes)) as archive:
            names += archive.namelist()
            if "TuDanhGia.xlsx" in archive.namelist():
                book = load_workbook(io.BytesIO(archive.read("TuDanhGia.xlsx")))
                assert book.sheetnames == ["Tự đánh giá", "Thiếu minh chứng"]
    assert names.count("TuDanhGia.xlsx") == 1
    assert len([n for n in names if n.startswith("PAR/1.5 ")]) == 1
