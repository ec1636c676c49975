"""An officer's journeys, end to end: the list, the card and its buttons, typed reports, codes."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from bot import texts
from core.ownership import officer_items
from storage.models import AuditLog, Officer, ProgressUpdate
from tests.e2e import BotUnderTest
from tests.e2e_support import count, criterion_id, press, say, seed_officer, seed_unit
from tests.seed_files import PHUSON, TANDUC

LAN = 3001
TODAY = date(2024, 3, 4)  # the harness clock's default day


async def tan_duc_with_lan(bot: BotUnderTest) -> tuple[int, int]:
    unit_id = await seed_unit(bot, TANDUC, "Xã Tân Đức")
    lan = await seed_officer(bot, unit_id, "Nguyễn Thị Lan", ["VPTK"], telegram_id=LAN)
    return unit_id, lan


async def rows_of(bot: BotUnderTest, criterion: int) -> list[tuple[str, int, str | None]]:
    async with bot.sessions() as session:
        found = await session.scalars(
            select(ProgressUpdate)
            .where(ProgressUpdate.criterion_id == criterion)
            .order_by(ProgressUpdate.id)
        )
        return [(row.status, row.percent, row.note) for row in found]


async def test_officer_lists_items_opens_a_card_sets_50_done_and_blocked(bot: BotUnderTest) -> None:
    unit_id, lan_id = await tan_duc_with_lan(bot)
    item = await criterion_id(bot, unit_id, "PAR", "1.5")
    async with bot.sessions() as session:
        mine = await officer_items(
            session, officer=await session.get_one(Officer, lan_id), today=TODAY
        )

    listing = await say(bot, LAN, "/viec")
    assert listing.content.startswith(f"Việc của bạn ({len(mine)}) — trang 1/")
    assert "Hạn sau:" in listing.content and "31/12/2024 · Chưa làm 0%" in listing.content
    second = await press(bot, LAN, listing, texts.NEXT)
    assert second.message_id == listing.message_id and "trang 2/" in second.content
    listing = await press(bot, LAN, second, texts.PREV)
    assert "trang 1/" in listing.content

    card = await press(bot, LAN, listing, "PAR 1.5 ")
    assert card.message_id == listing.message_id  # the list became the card
    assert card.content.startswith("PAR 1.5 — Phối hợp với cấp trên")
    assert "Thời hạn:" in card.content and "Mốc: 31/12/2024" in card.content
    assert "Phụ trách: Nguyễn Thị Lan" in card.content
    assert f"Mục #{item}" in card.content
    assert [b["text"] for b in card.buttons][:5] == ["0%", "25%", "50%", "75%", "100%"]

    card = await press(bot, LAN, card, "50%")
    assert "Trạng thái: Đang làm 50%" in card.content
    assert "Nguyễn Thị Lan: Đang làm 50%" in card.content  # the last updates
    card = await press(bot, LAN, card, texts.DONE_BUTTON)
    assert "Trạng thái: Hoàn thành 100%" in card.content

    asked = await press(bot, LAN, card, texts.BLOCKED_BUTTON)
    assert texts.ASK_BLOCKED_REASON in asked.content
    assert [b["text"] for b in asked.buttons] == [texts.CANCEL]
    mark = bot.tg.checkpoint()
    await bot.tg.send_text(LAN, "Chưa có kinh phí in bảng")
    confirmed = await bot.tg.wait_for(lambda m: m.message_id != card.message_id, after=mark)
    assert confirmed.content == texts.blocked_saved("PAR 1.5")
    edited = await bot.tg.wait_for(lambda m: m.message_id == card.message_id, after=mark)
    assert "Trạng thái: Gặp khó khăn 100%" in edited.content
    assert "Chưa có kinh phí in bảng" in edited.content

    assert await rows_of(bot, item) == [
        ("in_progress", 50, None),
        ("done", 100, None),
        ("blocked", 100, "Chưa có kinh phí in bảng"),
    ]
    assert await count(bot, AuditLog, AuditLog.action == "progress.record") == 3
    back = await press(bot, LAN, edited, texts.BACK)
    assert back.content.startswith("Việc của bạn")

    after = await say(bot, LAN, "cảm ơn")  # no question pending any more
    assert after.content == texts.FREE_TEXT_HINT


async def test_typed_reports_and_their_mistakes(bot: BotUnderTest) -> None:
    unit_id, _ = await tan_duc_with_lan(bot)
    item = await criterion_id(bot, unit_id, "PAR", "1.5")

    assert (await say(bot, LAN, "/capnhat 1.5 30 đã dự thảo")).content == texts.progress_saved(
        "PAR 1.5", "in_progress", 30
    )
    assert (await say(bot, LAN, "/done 1.5")).content == texts.progress_saved(
        "PAR 1.5", "done", 100
    )
    assert (await say(bot, LAN, "/capnhat 1.5 150")).content == texts.BAD_PERCENT
    assert (await say(bot, LAN, "/capnhat")).content == texts.UPDATE_USAGE
    assert (await say(bot, LAN, "/capnhat 2.1.1 10")).content == texts.not_owner("PAR 2.1.1")
    unknown = await say(bot, LAN, "/capnhat 1.55 10")
    assert unknown.content.startswith("Không thấy mục «1.55»")
    assert unknown.buttons and unknown.buttons[0]["text"].startswith("PAR 1.5")
    assert await rows_of(bot, item) == [("in_progress", 30, "đã dự thảo"), ("done", 100, None)]

    chosen = await press(bot, LAN, unknown, "PAR 1.5 ")
    assert chosen.content == texts.progress_saved("PAR 1.5", "in_progress", 10)
    assert (await rows_of(bot, item))[-1] == ("in_progress", 10, None)


async def test_an_ambiguous_code_asks_which_index(bot: BotUnderTest) -> None:
    unit_id = await seed_unit(bot, PHUSON, "Phường Phú Sơn")
    await seed_officer(
        bot, unit_id, "Lê Văn Tâm", ["VPTK"], roles=("coordinator",), telegram_id=LAN
    )
    pci = await criterion_id(bot, unit_id, "PCI", "2.1")

    asked = await say(bot, LAN, "/capnhat 2.1 40 đã họp doanh nghiệp")
    assert asked.content == texts.ambiguous_code("2.1")
    assert [b["text"].split(" ", 2)[:2] for b in asked.buttons] == [
        ["PAPI", "2.1"],
        ["PAR", "2.1"],
        ["PCI", "2.1"],
        ["SIPAS", "2.1"],
    ]
    assert await count(bot, ProgressUpdate) == 0
    done = await press(bot, LAN, asked, "PCI 2.1")
    assert done.content == texts.progress_saved("PCI 2.1", "in_progress", 40)
    assert await rows_of(bot, pci) == [("in_progress", 40, "đã họp doanh nghiệp")]

    typed = await say(bot, LAN, "/xong PCI 2.1")
    assert typed.content == texts.progress_saved("PCI 2.1", "done", 100)
    assert len(await rows_of(bot, pci)) == 2
