"""Evidence, end to end: a captioned photo, an album, duplicates, a file too big, and the
other ways of naming the item (a card's button, a reply to a card, picking a suggestion)."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from bot import texts
from storage.models import AuditLog, Evidence
from tests.e2e import BotUnderTest
from tests.e2e_support import count, criterion_id, press, say, seed_officer, seed_unit
from tests.fakes.telegram_api import TINY_PNG
from tests.seed_files import TANDUC

LAN = 3001
PDF = b"%PDF-1.4\n% bien ban niem yet\n%%EOF\n"


@pytest.fixture
async def unit_id(bot: BotUnderTest) -> int:
    unit = await seed_unit(bot, TANDUC, "Xã Tân Đức")
    await seed_officer(bot, unit, "Nguyễn Thị Lan", ["VPTK"], telegram_id=LAN)
    return unit


async def evidence_of(bot: BotUnderTest, criterion: int) -> list[Evidence]:
    async with bot.sessions() as session:
        rows = await session.scalars(
            select(Evidence).where(Evidence.criterion_id == criterion).order_by(Evidence.id)
        )
        return list(rows.all())


async def test_a_captioned_photo_then_the_same_photo_and_file_again(
    bot: BotUnderTest, unit_id: int
) -> None:
    item = await criterion_id(bot, unit_id, "PAR", "1.5")
    mark = bot.tg.checkpoint()
    await bot.tg.send_photo(LAN, caption="1.5 bảng tin khu phố", sizes=3)
    saved = await bot.tg.wait_for(lambda m: m.chat_id == LAN, after=mark)
    assert saved.content == texts.evidence_saved("PAR 1.5", 1, 0, 1)

    [row] = await evidence_of(bot, item)
    digest = hashlib.sha256(TINY_PNG).hexdigest()
    assert row.storage_path == f"{unit_id}/PAR/1.5/{digest}.jpg"
    assert (bot.settings.evidence_dir / row.storage_path).read_bytes() == TINY_PNG
    assert row.caption == "1.5 bảng tin khu phố" and row.mime == "image/jpeg"
    [get_file] = bot.tg.calls("getFile")
    assert get_file.params["file_id"].endswith("-2")  # the largest of the three sizes
    assert await count(bot, AuditLog, AuditLog.action == "evidence.add") == 1

    mark = bot.tg.checkpoint()
    await bot.tg.send_photo(LAN, caption="1.5", sizes=2)  # same file_unique_id
    again = await bot.tg.wait_for(lambda m: m.chat_id == LAN, after=mark)
    assert again.content == texts.evidence_saved("PAR 1.5", 0, 1, 1)
    assert len(bot.tg.calls("getFile")) == 1  # recognised without downloading

    mark = bot.tg.checkpoint()
    await bot.tg.send_document(LAN, TINY_PNG, "anh.png", "image/png", caption="1.5")
    same_bytes = await bot.tg.wait_for(lambda m: m.chat_id == LAN, after=mark)
    assert same_bytes.content == texts.evidence_saved("PAR 1.5", 0, 1, 1)  # same SHA-256
    assert len(await evidence_of(bot, item)) == 1


async def test_an_album_with_one_caption_attaches_every_photo(
    bot: BotUnderTest, unit_id: int
) -> None:
    item = await criterion_id(bot, unit_id, "PAR", "7.1.1")
    photos = [TINY_PNG + bytes([n]) for n in range(3)]
    mark = bot.tg.checkpoint()
    await bot.tg.send_photo(LAN, caption="7.1.1 họp dân", file_bytes=photos[0], media_group_id="a1")
    for photo in photos[1:]:
        await bot.tg.send_photo(LAN, file_bytes=photo, media_group_id="a1")
    final = texts.evidence_saved("PAR 7.1.1", 3, 0, 3)
    await bot.tg.wait_for(lambda m: m.chat_id == LAN and m.content == final, after=mark)
    stored = await evidence_of(bot, item)
    assert sorted(row.sha256 for row in stored) == sorted(
        hashlib.sha256(p).hexdigest() for p in photos
    )
    new_messages = [m for m in bot.tg.sent(LAN) if m.seq > mark and m.edit_count == 0]
    assert len(new_messages) <= 1  # one confirmation, edited as the photos come in
    assert len([m for m in bot.tg.sent(LAN) if m.content == final]) == 1


async def test_a_file_over_20_mb_is_refused_and_nothing_is_stored(
    bot: BotUnderTest, unit_id: int
) -> None:
    mark = bot.tg.checkpoint()
    await bot.tg.send_document(
        LAN, PDF, "ho_so.pdf", "application/pdf", caption="1.5", file_size=25 * 1024 * 1024
    )
    refused = await bot.tg.wait_for(lambda m: m.chat_id == LAN, after=mark)
    assert refused.content == texts.FILE_TOO_BIG
    assert bot.tg.calls("getFile") == []
    assert await count(bot, Evidence) == 0
    stored = [p for p in bot.settings.evidence_dir.rglob("*") if p.is_file()]
    assert stored == []


async def test_files_after_the_button_and_in_reply_to_a_card(
    bot: BotUnderTest, unit_id: int
) -> None:
    first = await criterion_id(bot, unit_id, "PAR", "7.1.2")
    second = await criterion_id(bot, unit_id, "PAR", "7.1.1")
    listing = await say(bot, LAN, "/viec")
    card = await press(bot, LAN, listing, "PAR 7.1.2 ")

    mark = bot.tg.checkpoint()
    await bot.tg.send_photo(LAN, reply_to_message_id=card.message_id)
    reply = await bot.tg.wait_for(lambda m: m.chat_id == LAN, after=mark)
    assert reply.content == texts.evidence_saved("PAR 7.1.2", 1, 0, 1)
    assert len(await evidence_of(bot, first)) == 1

    back = await press(bot, LAN, card, texts.BACK)
    card = await press(bot, LAN, back, "PAR 7.1.1 ")
    asked = await press(bot, LAN, card, texts.EVIDENCE_BUTTON)
    assert texts.ask_evidence("PAR 7.1.1") in asked.content
    mark = bot.tg.checkpoint()
    await bot.tg.send_document(LAN, PDF, "bien_ban.pdf", "application/pdf")
    saved = await bot.tg.wait_for(lambda m: m.chat_id == LAN and m.seq > mark, after=mark)
    assert saved.content == texts.evidence_saved("PAR 7.1.1", 1, 0, 1)
    [row] = await evidence_of(bot, second)
    assert row.original_name == "bien_ban.pdf" and row.storage_path.endswith(".pdf")


async def test_an_unclear_caption_offers_items_and_the_pick_stores_the_file(
    bot: BotUnderTest, unit_id: int
) -> None:
    item = await criterion_id(bot, unit_id, "PAR", "1.5")
    mark = bot.tg.checkpoint()
    await bot.tg.send_document(LAN, PDF, "kh.pdf", "application/pdf", caption="1.55 kế hoạch")
    offered = await bot.tg.wait_for(lambda m: m.chat_id == LAN, after=mark)
    assert offered.content.startswith("Không thấy mục «1.55»")
    assert await count(bot, Evidence) == 0
    picked = await press(bot, LAN, offered, "PAR 1.5 ")
    assert picked.content == texts.evidence_saved("PAR 1.5", 1, 0, 1)
    assert len(await evidence_of(bot, item)) == 1

    mark = bot.tg.checkpoint()
    await bot.tg.send_photo(LAN, file_bytes=TINY_PNG + b"x")
    nowhere = await bot.tg.wait_for(lambda m: m.chat_id == LAN, after=mark)
    assert nowhere.content == texts.EVIDENCE_NO_TARGET
    assert await count(bot, Evidence) == 1
