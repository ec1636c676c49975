"""Admin journeys, end to end: plan import with preview, invites, roster, assignment, positions."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.settings import Settings
from channels.telegram_app import build_application, start_bot
from core.ownership import officer_items
from handlers.base import AppState
from storage.models import (
    AssignmentOverride,
    AuditLog,
    ChannelAccount,
    Criterion,
    Officer,
    PositionAlias,
    Unit,
)
from tests.e2e import BotUnderTest, SettableClock, bot_settings, running_bot
from tests.e2e_support import (
    button_data,
    count,
    criterion_id,
    press,
    say,
    seed_officer,
    seed_unit,
    telegram_officer,
)
from tests.fakes.telegram_api import ApiRequest, FakeTelegram
from tests.seed_files import PHUONG6, TANDUC, seed_bytes

ADMIN = 1000
LINK = re.compile(r"https://t\.me/dondoc_test_bot\?start=([A-Za-z0-9_-]+)")


@pytest.fixture
async def bot(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[BotUnderTest]:
    async with running_bot(settings, session_factory, admin_telegram_ids=[ADMIN]) as running:
        yield running


async def test_configured_admin_imports_a_plan_maps_a_lead_and_confirms(bot: BotUnderTest) -> None:
    first = await say(bot, ADMIN, "/start")
    assert first.text == texts.ADMIN_WITHOUT_UNIT

    mark = bot.tg.checkpoint()
    await bot.tg.send_document(
        ADMIN, seed_bytes(PHUONG6), PHUONG6, "text/plain", caption="/kehoach"
    )
    preview = await bot.tg.wait_for(lambda m: m.chat_id == ADMIN, after=mark)
    assert "Phường 6" in preview.content and "PAR: 109 mục" in preview.content
    assert "«Truyền thanh»" in preview.content
    assert await count(bot, Unit) == 0  # nothing written before "Xác nhận"

    picker = await press(bot, ADMIN, preview, "Gán «Truyền thanh»")
    assert picker.message_id == preview.message_id  # edited in place
    assert picker.content == texts.choose_position("Truyền thanh")
    mapped = await press(bot, ADMIN, picker, "VHXH", exact=True)
    assert "Đã gán: «Truyền thanh» → VHXH" in mapped.content
    assert not [b for b in mapped.buttons if b["text"].startswith("Gán")]

    done = await press(bot, ADMIN, mapped, texts.CONFIRM)
    assert done.content.startswith("Đã nhập kế hoạch cho Phường 6.")
    assert "Thêm mới 109" in done.content

    async with bot.sessions() as session:
        unit = await session.scalar(select(Unit).where(Unit.name == "Phường 6"))
        assert unit is not None
        admin = await telegram_officer(session, ADMIN)
        assert admin is not None and admin.unit_id == unit.id and "admin" in admin.roles
        alias = await session.scalar(select(PositionAlias).where(PositionAlias.unit_id == unit.id))
        assert alias is not None and (alias.alias_text, alias.position_code) == (
            "Truyền thanh",
            "VHXH",
        )
        imports = await session.scalars(select(AuditLog).where(AuditLog.action == "plan.import"))
        assert [row.actor for row in imports] == [f"telegram:{ADMIN}"]
    assert await count(bot, Criterion, Criterion.active.is_(True)) == 109
    menu = await bot.tg.wait_for_request(
        "setMyCommands", lambda r: (r.params.get("scope") or {}).get("chat_id") == ADMIN
    )
    assert "kehoach" in {c["command"] for c in menu.params["commands"]}


def menu_for(chat: int, request: ApiRequest) -> bool:
    return bool((request.params.get("scope") or {}).get("chat_id") == chat)


@asynccontextmanager
async def app_on(
    tg: FakeTelegram, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[None]:
    """One run of the bot on an existing fake server: leaving it is a restart."""
    config = bot_settings(settings, tg, admin_telegram_ids=[ADMIN])
    clock = SettableClock(datetime.now(UTC))
    app = build_application(AppState(settings=config, sessions=sessions, clock=clock))
    async with app:
        await start_bot(app)
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            yield
        finally:
            await app.updater.stop()
            await app.stop()


async def test_a_preview_survives_a_restart_and_a_cancelled_one_is_gone(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with FakeTelegram() as tg:
        async with app_on(tg, settings, session_factory):
            mark = tg.checkpoint()
            await tg.send_text(ADMIN, "/kehoach")
            asked = await tg.wait_for(lambda m: m.chat_id == ADMIN, after=mark)
            assert asked.text == texts.ASK_PLAN_FILE
            mark = tg.checkpoint()
            await tg.send_document(ADMIN, seed_bytes(TANDUC), TANDUC, "text/plain")
            preview = await tg.wait_for(lambda m: m.chat_id == ADMIN, after=mark)
            assert "Xã Tân Đức" in preview.content
        async with app_on(tg, settings, session_factory):  # restarted: memory is empty
            mark = tg.checkpoint()
            await tg.press_button(ADMIN, preview.message_id, button_data(preview, texts.CONFIRM))
            done = await tg.wait_for(lambda m: m.message_id == preview.message_id and m.seq > mark)
            assert done.content.startswith("Đã nhập kế hoạch cho Xã Tân Đức.")

            mark = tg.checkpoint()
            await tg.send_document(
                ADMIN, seed_bytes(TANDUC), TANDUC, "text/plain", caption="/import"
            )
            again = await tg.wait_for(lambda m: m.chat_id == ADMIN, after=mark)
            confirm = button_data(again, texts.CONFIRM)
            mark = tg.checkpoint()
            await tg.press_button(ADMIN, again.message_id, button_data(again, texts.CANCEL))
            cancelled = await tg.wait_for(
                lambda m: m.message_id == again.message_id and m.seq > mark
            )
            assert cancelled.content == texts.PLAN_CANCELLED
            mark = tg.checkpoint()
            await tg.press_button(ADMIN, again.message_id, confirm, strict=False)
            gone = await tg.wait_for(lambda m: m.message_id == again.message_id and m.seq > mark)
            assert gone.content == texts.PLAN_GONE
    async with session_factory() as session:
        imports = (
            await session.scalars(select(AuditLog).where(AuditLog.action == "plan.import"))
        ).all()
        assert len(imports) == 1


async def test_admin_invites_two_officers_who_link_through_the_deep_link(bot: BotUnderTest) -> None:
    unit_id = await seed_unit(bot, TANDUC, "Xã Tân Đức")
    await seed_officer(bot, unit_id, "Quản trị", roles=("admin",), telegram_id=ADMIN)
    lan = await say(bot, ADMIN, "/moi VPTK Nguyễn Thị Lan")
    hung = await say(bot, ADMIN, "/invite TPHT Trần Văn Hùng")
    lan_code = LINK.search(lan.content)
    hung_code = LINK.search(hung.content)
    assert lan_code and hung_code, (lan.content, hung.content)

    for user, code, name, position in (
        (3001, lan_code.group(1), "Nguyễn Thị Lan", "VPTK"),
        (3002, hung_code.group(1), "Trần Văn Hùng", "TPHT"),
    ):
        greeting = await say(bot, user, f"/start {code}")
        async with bot.sessions() as session:
            officer = await telegram_officer(session, user)
            assert officer is not None and officer.name == name
            items = await officer_items(session, officer=officer, today=datetime(2024, 3, 4).date())
        assert greeting.content.startswith(texts.LINKED)
        assert f"Vị trí: {position}." in greeting.content
        assert f"Bạn phụ trách {len(items.owned())} việc" in greeting.content
        assert len(items.owned()) > 0
        await bot.tg.wait_for_request("setMyCommands", partial(menu_for, user))

    reused = await say(bot, 3003, f"/start {lan_code.group(1)}")
    assert "đã được dùng" in reused.content
    assert await count(bot, ChannelAccount, ChannelAccount.external_id == "3003") == 0


ROSTER = (
    "Họ tên,Vị trí,Vai trò,Telegram ID\nLê Thị Mai,VHXH,đầu mối,4001\nPhạm Văn Nam,TCKT,,\n"
).encode()
BAD_ROSTER = "Họ tên,Vị trí\nĐỗ Văn Bình,TCKT\nNgô Thị Hà,Thủ quỹ\n".encode()


async def test_a_roster_sent_with_the_caption_canbo_adds_officers_all_or_nothing(
    bot: BotUnderTest,
) -> None:
    unit_id = await seed_unit(bot, TANDUC, "Xã Tân Đức")
    await seed_officer(bot, unit_id, "Quản trị", roles=("admin",), telegram_id=ADMIN)

    mark = bot.tg.checkpoint()
    await bot.tg.send_document(ADMIN, BAD_ROSTER, "canbo.csv", "text/csv", caption="/canbo")
    failed = await bot.tg.wait_for(lambda m: m.chat_id == ADMIN, after=mark)
    assert failed.content.startswith("Danh sách có lỗi, chưa nhập gì:")
    assert "Dòng 3" in failed.content
    assert await count(bot, Officer, Officer.name == "Đỗ Văn Bình") == 0

    mark = bot.tg.checkpoint()
    await bot.tg.send_document(ADMIN, ROSTER, "canbo.csv", "text/csv", caption="/canbo")
    done = await bot.tg.wait_for(lambda m: m.chat_id == ADMIN, after=mark)
    assert done.content == texts.roster_imported(2, 0)
    async with bot.sessions() as session:
        mai = await telegram_officer(session, 4001)
        assert mai is not None and mai.roles == ["coordinator"]
    await bot.tg.wait_for_request(
        "setMyCommands", lambda r: (r.params.get("scope") or {}).get("chat_id") == 4001
    )
    listing = await say(bot, ADMIN, "/canbo")
    assert "Lê Thị Mai — VHXH (đầu mối)" in listing.content
    assert "Phạm Văn Nam — TCKT" in listing.content and "chưa liên kết" in listing.content


async def test_a_bad_roster_that_changes_the_admins_own_row_lists_its_problems(
    bot: BotUnderTest,
) -> None:
    """The import rolls back after flushing the admin's row: the frame must not trip on it."""
    unit_id = await seed_unit(bot, TANDUC, "Xã Tân Đức")
    await seed_officer(bot, unit_id, "Quản trị", roles=("admin",), telegram_id=ADMIN)
    await seed_officer(bot, unit_id, "Lê Văn A", ["CA"], telegram_id=5000)
    taken_id = "Họ tên,Vị trí,Vai trò,Telegram ID\nQuản trị,VPTK,,\nNgô Thị Hà,TCKT,,5000\n"

    mark = bot.tg.checkpoint()
    await bot.tg.send_document(ADMIN, taken_id.encode(), "canbo.csv", "text/csv", caption="/canbo")
    failed = await bot.tg.wait_for(lambda m: m.chat_id == ADMIN, after=mark)

    assert failed.content.startswith("Danh sách có lỗi, chưa nhập gì:")
    async with bot.sessions() as session:
        admin = await telegram_officer(session, ADMIN)
        assert admin is not None and admin.positions == []
    assert await count(bot, Officer, Officer.name == "Ngô Thị Hà") == 0


async def test_admin_reassigns_an_item_and_changes_positions_by_button(bot: BotUnderTest) -> None:
    unit_id = await seed_unit(bot, TANDUC, "Xã Tân Đức")
    await seed_officer(bot, unit_id, "Quản trị", roles=("admin",), telegram_id=ADMIN)
    hung = await seed_officer(bot, unit_id, "Trần Văn Hùng", ["TPHT"])
    item = await criterion_id(bot, unit_id, "PAR", "1.5")

    reply = await say(bot, ADMIN, "/giao 1.5 Hùng")
    assert reply.content == texts.assigned("PAR 1.5", "Trần Văn Hùng")
    async with bot.sessions() as session:
        override = await session.scalar(
            select(AssignmentOverride).where(AssignmentOverride.criterion_id == item)
        )
        assert override is not None and override.officer_id == hung

    listing = await say(bot, ADMIN, "/vitri")
    assert "TPHT (Tư pháp - Hộ tịch): Trần Văn Hùng" in listing.content
    card = await press(bot, ADMIN, listing, "Trần Văn Hùng")
    assert card.content.startswith("Vị trí của Trần Văn Hùng: TPHT.")
    toggled = await press(bot, ADMIN, card, "VPTK", exact=True)
    assert "✓ VPTK" in [b["text"] for b in toggled.buttons]
    async with bot.sessions() as session:
        officer = await session.get_one(Officer, hung)
        assert officer.positions == ["TPHT", "VPTK"]
        changes = await session.scalars(
            select(AuditLog).where(AuditLog.action == "officer.positions")
        )
        assert [c.new for c in changes] == [{"positions": ["TPHT", "VPTK"]}]

    typed = await say(bot, ADMIN, "/vitri TPHT Trần Văn Hùng")
    assert typed.content == texts.positions_changed("Trần Văn Hùng", ["TPHT"])
