"""Refusals and idempotency, end to end: strangers, officers trying admin commands, forged
button data naming another unit's item, and updates delivered twice."""

from __future__ import annotations

import pytest

from bot import texts
from storage.models import (
    AssignmentOverride,
    AuditLog,
    Evidence,
    Invite,
    Officer,
    ProgressUpdate,
    Unit,
)
from tests.e2e import BotUnderTest
from tests.e2e_support import (
    button_data,
    count,
    criterion_id,
    press,
    say,
    seed_officer,
    seed_unit,
)
from tests.fakes.telegram_api import TINY_PNG
from tests.seed_files import PHUONG6, TANDUC, seed_bytes

STRANGER, LAN, OTHER_ADMIN = 9001, 3001, 7001
ADMIN_COMMANDS = (
    "/moi VPTK Kẻ Lạ",
    "/giao 1.5 Nguyễn Thị Lan",
    "/vitri",
    "/vitri TPHT Nguyễn Thị Lan",
    "/kehoach",
)


@pytest.fixture
async def units(bot: BotUnderTest) -> tuple[int, int]:
    """Tân Đức with the officer Lan; Phường 6 with its own admin."""
    tan_duc = await seed_unit(bot, TANDUC, "Xã Tân Đức")
    await seed_officer(bot, tan_duc, "Nguyễn Thị Lan", ["VPTK"], telegram_id=LAN)
    phuong6 = await seed_unit(bot, PHUONG6, "Phường 6")
    await seed_officer(bot, phuong6, "Quản trị P6", roles=("admin",), telegram_id=OTHER_ADMIN)
    return tan_duc, phuong6


async def snapshot(bot: BotUnderTest) -> tuple[int, ...]:
    models = (ProgressUpdate, Evidence, Invite, AssignmentOverride, AuditLog, Officer, Unit)
    return tuple([await count(bot, model) for model in models])


async def test_a_stranger_gets_nothing_but_the_explanation(
    bot: BotUnderTest, units: tuple[int, int]
) -> None:
    tan_duc, _ = units
    item = await criterion_id(bot, tan_duc, "PAR", "1.5")
    before = await snapshot(bot)
    for command in ("/viec", "/capnhat 1.5 50", "/quahan", "/canbo", *ADMIN_COMMANDS):
        assert (await say(bot, STRANGER, command)).content == texts.STRANGER, command

    mark = bot.tg.checkpoint()
    await bot.tg.send_document(
        STRANGER, seed_bytes(TANDUC), TANDUC, "text/plain", caption="/kehoach"
    )
    assert (await bot.tg.wait_for(lambda m: m.chat_id == STRANGER, after=mark)).content == (
        texts.STRANGER
    )
    mark = bot.tg.checkpoint()
    await bot.tg.send_photo(STRANGER, caption="1.5")
    assert (await bot.tg.wait_for(lambda m: m.chat_id == STRANGER, after=mark)).content == (
        texts.STRANGER
    )

    message = bot.tg.last(STRANGER)
    mark = bot.tg.checkpoint()
    await bot.tg.press_button(STRANGER, message.message_id, f"P:{item}:100:0", strict=False)
    answer = await bot.tg.wait_for_request("answerCallbackQuery", after=mark)
    assert answer.params.get("text") == texts.STRANGER[:190]
    assert await snapshot(bot) == before
    assert bot.tg.calls("getFile") == []


async def test_an_officer_is_refused_admin_commands_and_forged_buttons(
    bot: BotUnderTest, units: tuple[int, int]
) -> None:
    tan_duc, phuong6 = units
    theirs = await criterion_id(bot, phuong6, "PAR", "1.1")
    not_mine = await criterion_id(bot, tan_duc, "PAR", "2.1.1")  # led by TPHT
    before = await snapshot(bot)

    for command in ADMIN_COMMANDS:
        assert (await say(bot, LAN, command)).content == texts.NOT_ALLOWED, command
    for caption in ("/kehoach", "/canbo"):
        mark = bot.tg.checkpoint()
        await bot.tg.send_document(LAN, b"name,positions\n", "x.csv", "text/csv", caption=caption)
        refused = await bot.tg.wait_for(lambda m: m.chat_id == LAN, after=mark)
        assert refused.content == texts.NOT_ALLOWED

    # Before the forged presses: a refused press is answered at once (an alert) and its message
    # follows at the bot's pace, so a later wait could meet it.
    mark = bot.tg.checkpoint()
    await bot.tg.send_photo(LAN, caption="2.1.1 ảnh", file_bytes=TINY_PNG)
    refused = await bot.tg.wait_for(lambda m: m.chat_id == LAN, after=mark)
    assert refused.content == texts.not_owner("PAR 2.1.1")
    assert await count(bot, Evidence) == 0

    listing = await say(bot, LAN, "/viec")
    forged = {
        f"P:{theirs}:100:0": texts.STALE_BUTTON,  # another unit's item: as if it did not exist
        f"D:{theirs}:0": texts.STALE_BUTTON,
        f"C:{theirs}:0": texts.STALE_BUTTON,
        f"E:{theirs}:0": texts.STALE_BUTTON,
        f"P:{not_mine}:50:0": texts.NOT_ALLOWED,  # same unit, not theirs
        f"B:{not_mine}:0": texts.NOT_ALLOWED,
        "K:ok:AAAAAAAA": texts.NOT_ALLOWED,
        "V:1": texts.NOT_ALLOWED,
        f"Q:abcdef:{not_mine}": texts.CHOICE_EXPIRED,
        "Z:whatever": texts.STALE_BUTTON,
    }
    for data, alert in forged.items():
        mark = bot.tg.checkpoint()
        await bot.tg.press_button(LAN, listing.message_id, data, strict=False)
        answer = await bot.tg.wait_for_request("answerCallbackQuery", after=mark)
        assert answer.params.get("text") == alert, data
    assert await snapshot(bot) == before
    assert await count(bot, Evidence) == 0


async def test_updates_delivered_twice_record_once(
    bot: BotUnderTest, units: tuple[int, int]
) -> None:
    tan_duc, _ = units
    item = await criterion_id(bot, tan_duc, "PAR", "1.5")
    command = await bot.tg.send_text(LAN, "/capnhat 1.5 40")
    await bot.tg.wait_for(lambda m: m.chat_id == LAN)
    await bot.tg.redeliver(command)

    listing = await say(bot, LAN, "/viec")  # later updates prove the twin was consumed
    card = await press(bot, LAN, listing, "PAR 1.5 ")
    mark = bot.tg.checkpoint()
    pressed = await bot.tg.press_button(LAN, card.message_id, button_data(card, "75%"))
    await bot.tg.wait_for(lambda m: "Đang làm 75%" in m.content, after=mark)
    await bot.tg.redeliver(pressed)

    mark = bot.tg.checkpoint()
    photo = await bot.tg.send_photo(LAN, caption="1.5")
    await bot.tg.wait_for(lambda m: m.chat_id == LAN, after=mark)
    await bot.tg.redeliver(photo)
    last = await say(bot, LAN, "/help")
    assert last.content.startswith(texts.HELP_TITLE)

    assert await count(bot, ProgressUpdate, ProgressUpdate.criterion_id == item) == 2
    assert await count(bot, Evidence) == 1
    assert len(bot.tg.calls("getFile")) == 1
    replies = [m for m in bot.tg.sent(LAN) if m.content.startswith("Đã ghi PAR 1.5")]
    assert len(replies) == 1


async def test_a_twin_of_a_card_press_leaves_a_later_question_pending(
    bot: BotUnderTest, units: tuple[int, int]
) -> None:
    """Cards are read-only and claim their update last: a twin must not undo what came after."""
    tan_duc, _ = units
    item = await criterion_id(bot, tan_duc, "PAR", "1.5")
    listing = await say(bot, LAN, "/viec")
    mark = bot.tg.checkpoint()
    opened = await bot.tg.press_button(LAN, listing.message_id, button_data(listing, "PAR 1.5 "))
    card = await bot.tg.wait_for(lambda m: m.chat_id == LAN, after=mark)
    mark = bot.tg.checkpoint()
    await bot.tg.press_button(LAN, card.message_id, button_data(card, texts.BLOCKED_BUTTON))
    await bot.tg.wait_for(lambda m: texts.ASK_BLOCKED_REASON in m.content, after=mark)

    await bot.tg.redeliver(opened)  # the earlier "open the card" press, again
    await say(bot, LAN, "/help")  # a later update proves the twin was consumed
    mark = bot.tg.checkpoint()
    await bot.tg.send_text(LAN, "Thiếu kinh phí")
    saved = texts.blocked_saved("PAR 1.5")
    await bot.tg.wait_for(lambda m: m.chat_id == LAN and m.content == saved, after=mark)

    assert await count(bot, ProgressUpdate, ProgressUpdate.criterion_id == item) == 1
    assert texts.FREE_TEXT_HINT not in [m.content for m in bot.tg.sent(LAN)]
