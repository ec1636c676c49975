"""Conversation state lives in the database, end to end: a restart, two bot processes on one
database, an album split between processes, and state past its expiry.

A "process" here is a whole bot application with an engine (connection pool) of its own and
nothing in memory shared with the other: what one knows, the other can only learn from the
database. Tests that need to say which process handles an update hand it over directly
(``process_update``, as a webhook worker would) instead of letting both poll.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Update
from telegram.ext import Application

from bot import texts
from bot.settings import Settings
from channels.telegram_app import build_application, start_bot
from channels.telegram_outbound import TelegramOutbound, plain_bot
from handlers.base import AppState
from scheduler.jobs import make_ticker
from storage.db import make_engine, make_session_factory
from storage.models import Base, ConversationState, Criterion, Evidence, ProgressUpdate
from tests.e2e import BotUnderTest, SettableClock, bot_settings
from tests.e2e_support import button_data, seed_officer, seed_unit
from tests.fakes.telegram_api import TINY_PNG, FakeTelegram, SentMessage
from tests.seed_files import TANDUC

LAN = 3001
NOW = datetime(2024, 3, 4, 2, 0, tzinfo=UTC)  # 09:00 in Vietnam


@asynccontextmanager
async def bot_process(
    tg: FakeTelegram, settings: Settings, clock: SettableClock, *, poll: bool = True
) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """One bot process on the test's database, with its own engine; leaving it stops it."""
    engine = make_engine(settings.database_url)
    # No reminder tick (bot.runner starts that): no digests in the middle of these conversations.
    state = AppState(
        settings=bot_settings(settings, tg), sessions=make_session_factory(engine), clock=clock
    )
    app = build_application(state)
    try:
        async with app:
            await start_bot(app)
            assert app.updater is not None
            if poll:
                await app.updater.start_polling(poll_interval=0, timeout=1)
            try:
                yield app
            finally:
                if poll:
                    await app.updater.stop()
                await app.stop()
    finally:
        await engine.dispose()


async def handled_by(app: Application, tg: FakeTelegram, update_id: int) -> None:  # type: ignore[type-arg]
    """This process, and no other, handles the update (as a webhook worker would)."""
    await app.process_update(Update.de_json(tg.update(update_id), app.bot))


async def seeded(tg: FakeTelegram, settings: Settings, clock: SettableClock) -> int:
    engine = make_engine(settings.database_url)
    try:
        sessions = make_session_factory(engine)
        setup: Any = BotUnderTest(tg, None, sessions, settings, clock)  # type: ignore[arg-type]
        unit = await seed_unit(setup, TANDUC, "Xã Tân Đức")
        await seed_officer(setup, unit, "Nguyễn Thị Lan", ["VPTK"], telegram_id=LAN)
        return unit
    finally:
        await engine.dispose()


async def count(sessions: async_sessionmaker[AsyncSession], model: type[Base]) -> int:
    async with sessions() as session:
        return len((await session.scalars(select(model))).all())


async def item_id(sessions: async_sessionmaker[AsyncSession], unit: int, code: str) -> int:
    async with sessions() as session:
        found = await session.scalar(
            select(Criterion.id).where(
                Criterion.unit_id == unit, Criterion.index_name == "PAR", Criterion.code == code
            )
        )
    assert found is not None
    return found


async def progress_rows(
    sessions: async_sessionmaker[AsyncSession], criterion: int
) -> list[tuple[str, str | None]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(ProgressUpdate)
            .where(ProgressUpdate.criterion_id == criterion)
            .order_by(ProgressUpdate.id)
        )
        return [(row.status, row.note) for row in rows]


async def open_card(tg: FakeTelegram, code: str) -> SentMessage:
    mark = tg.checkpoint()
    await tg.send_text(LAN, "/viec")
    listing = await tg.wait_for(lambda m: m.chat_id == LAN, after=mark)
    mark = tg.checkpoint()
    await tg.press_button(LAN, listing.message_id, button_data(listing, code))
    return await tg.wait_for(lambda m: m.chat_id == LAN, after=mark)


async def test_a_restart_between_the_blocked_button_and_the_reason(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    clock = SettableClock(NOW)
    async with FakeTelegram() as tg:
        unit = await seeded(tg, settings, clock)
        item = await item_id(session_factory, unit, "1.5")
        async with bot_process(tg, settings, clock):
            card = await open_card(tg, "PAR 1.5 ")
            mark = tg.checkpoint()
            await tg.press_button(LAN, card.message_id, button_data(card, texts.BLOCKED_BUTTON))
            await tg.wait_for(lambda m: texts.ASK_BLOCKED_REASON in m.content, after=mark)
        async with bot_process(tg, settings, clock):  # restarted: nothing in memory
            mark = tg.checkpoint()
            await tg.send_text(LAN, "Chưa có kinh phí")
            saved = texts.blocked_saved("PAR 1.5")
            await tg.wait_for(lambda m: m.chat_id == LAN and m.content == saved, after=mark)
            edited = await tg.wait_for(lambda m: m.message_id == card.message_id, after=mark)
            assert "Chưa có kinh phí" in edited.content
    assert await progress_rows(session_factory, item) == [("blocked", "Chưa có kinh phí")]
    assert await count(session_factory, ConversationState) == 0  # answered: forgotten


async def test_two_processes_the_press_handled_by_one_and_the_reason_by_the_other(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    clock = SettableClock(NOW)
    async with FakeTelegram() as tg:
        unit = await seeded(tg, settings, clock)
        item = await item_id(session_factory, unit, "1.5")
        async with (
            bot_process(tg, settings, clock, poll=False) as first,
            bot_process(tg, settings, clock, poll=False) as second,
        ):
            await handled_by(first, tg, await tg.send_text(LAN, "/viec"))
            listing = tg.last(LAN)
            pressed = await tg.press_button(
                LAN, listing.message_id, button_data(listing, "PAR 1.5 ")
            )
            await handled_by(second, tg, pressed)
            card = tg.last(LAN)
            pressed = await tg.press_button(
                LAN, card.message_id, button_data(card, texts.BLOCKED_BUTTON)
            )
            await handled_by(first, tg, pressed)
            assert texts.ASK_BLOCKED_REASON in tg.last(LAN).content

            mark = tg.checkpoint()
            await handled_by(second, tg, await tg.send_text(LAN, "Thiếu người"))
            answered = {m.message_id: m.content for m in tg.sent(LAN) if m.seq > mark}
            assert texts.blocked_saved("PAR 1.5") in answered.values()
            assert "Thiếu người" in answered[card.message_id]  # the card that asked, updated

            # The reason was taken once: the next text, in either process, is just text.
            mark = tg.checkpoint()
            await handled_by(first, tg, await tg.send_text(LAN, "cảm ơn"))
            assert [m.content for m in tg.sent(LAN) if m.seq > mark] == [texts.FREE_TEXT_HINT]
    assert await progress_rows(session_factory, item) == [("blocked", "Thiếu người")]


async def test_an_album_whose_photos_are_handled_by_two_processes(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """The uncaptioned photo reaches the second process before the captioned one is handled
    by the first: it waits for the album's decision row, then follows it."""
    clock = SettableClock(NOW)
    photos = [TINY_PNG + bytes([n]) for n in range(3)]
    async with FakeTelegram() as tg:
        unit = await seeded(tg, settings, clock)
        item = await item_id(session_factory, unit, "7.1.1")
        async with (
            bot_process(tg, settings, clock, poll=False) as first,
            bot_process(tg, settings, clock, poll=False) as second,
        ):
            captioned = await tg.send_photo(
                LAN, caption="7.1.1 họp dân", file_bytes=photos[0], media_group_id="a9"
            )
            early = await tg.send_photo(LAN, file_bytes=photos[1], media_group_id="a9")
            late = await tg.send_photo(LAN, file_bytes=photos[2], media_group_id="a9")
            waiting = asyncio.create_task(handled_by(second, tg, early))
            await handled_by(first, tg, captioned)
            await waiting
            await handled_by(second, tg, late)
    async with session_factory() as session:
        stored = (
            await session.scalars(select(Evidence).where(Evidence.criterion_id == item))
        ).all()
    assert sorted(row.sha256 for row in stored) == sorted(
        hashlib.sha256(p).hexdigest() for p in photos
    )
    answers = [m.content for m in tg.sent(LAN)]
    assert texts.evidence_saved("PAR 7.1.1", 3, 0, 3) in answers  # the album's total
    assert texts.EVIDENCE_NO_TARGET not in answers


async def test_expired_state_is_never_acted_on_and_the_tick_deletes_it(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    clock = SettableClock(NOW)
    async with FakeTelegram() as tg:
        unit = await seeded(tg, settings, clock)
        item = await item_id(session_factory, unit, "1.5")
        async with bot_process(tg, settings, clock):
            card = await open_card(tg, "PAR 1.5 ")
            mark = tg.checkpoint()
            await tg.press_button(LAN, card.message_id, button_data(card, texts.BLOCKED_BUTTON))
            await tg.wait_for(lambda m: texts.ASK_BLOCKED_REASON in m.content, after=mark)
            mark = tg.checkpoint()
            await tg.send_text(LAN, "/capnhat 1.55 10")
            offered = await tg.wait_for(lambda m: m.chat_id == LAN, after=mark)
            assert offered.content.startswith("Không thấy mục «1.55»")
            assert await count(session_factory, ConversationState) == 2

            clock.set(NOW + timedelta(hours=2, minutes=1))  # both past their expiry
            mark = tg.checkpoint()
            await tg.send_text(LAN, "Chưa có kinh phí")
            hint = await tg.wait_for(lambda m: m.chat_id == LAN, after=mark)
            assert hint.content == texts.FREE_TEXT_HINT
            mark = tg.checkpoint()
            await tg.press_button(LAN, offered.message_id, button_data(offered, "PAR 1.5 "))
            answer = await tg.wait_for_request("answerCallbackQuery", after=mark)
            assert answer.params.get("text") == texts.CHOICE_EXPIRED
        assert await progress_rows(session_factory, item) == []

        ticker = make_ticker(
            bot_settings(settings, tg),
            session_factory,
            TelegramOutbound(plain_bot(bot_settings(settings, tg))),
            clock,
        )
        assert await ticker.forget_expired_state(clock()) == 2
    assert await count(session_factory, ConversationState) == 0
