"""The bot's frame, end to end: real PTB over HTTP against the fake Bot API server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.settings import Settings
from storage.db import make_engine, make_session_factory
from storage.models import ChannelAccount, Officer, ProcessedUpdate, Unit
from tests.e2e import BotUnderTest, running_bot
from tests.e2e_support import seed_officer, seed_unit
from tests.fakes.telegram_api import FakeTelegram
from tests.seed_files import REPO_DIR, TANDUC


@pytest.fixture
async def bot(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[BotUnderTest]:
    async with running_bot(settings, session_factory) as running:
        yield running


async def test_a_stranger_gets_an_explanation_and_nothing_else(bot: BotUnderTest) -> None:
    await bot.tg.send_text(501, "/start")
    reply = await bot.tg.wait_for(lambda m: m.chat_id == 501)
    assert reply.text == texts.STRANGER
    await bot.tg.send_text(501, "/help")
    second = await bot.tg.wait_for(lambda m: m.chat_id == 501, after=reply.seq)
    assert second.text == texts.STRANGER
    assert bot.tg.messages_to(501) == [texts.STRANGER, texts.STRANGER]


async def test_default_command_menu_is_vietnamese(bot: BotUnderTest) -> None:
    await bot.tg.wait_for_request("setMyCommands")
    names = [c["command"] for c in bot.tg.commands_for(None)]
    assert names == [name for name, _ in texts.OFFICER_COMMANDS]
    assert all(c["description"] for c in bot.tg.commands_for(None))


async def test_an_update_delivered_twice_is_handled_once(bot: BotUnderTest) -> None:
    async with bot.sessions() as session, session.begin():
        unit = Unit(name="Phường 6", name_key="phuong 6")
        session.add(unit)
        await session.flush()
        lan = Officer(
            unit_id=unit.id, name="Lan", name_key="lan", positions=["VPTK"], roles=["officer"]
        )
        session.add(lan)
        await session.flush()
        session.add(ChannelAccount(channel="telegram", external_id="77", officer_id=lan.id))
    update_id = await bot.tg.send_text(77, "/start")
    first = await bot.tg.wait_for(lambda m: m.chat_id == 77)
    await bot.tg.redeliver(update_id)
    await bot.tg.send_text(77, "/help")  # a later update proves the redelivery was consumed
    await bot.tg.wait_for(lambda m: m.chat_id == 77, after=first.seq)
    assert len(bot.tg.messages_to(77)) == 2
    async with bot.sessions() as session:
        claimed = await session.scalar(
            select(func.count())
            .select_from(ProcessedUpdate)
            .where(ProcessedUpdate.update_id == update_id)
        )
        assert claimed == 1


def test_run_subprocess_talks_to_the_bot_api(tmp_path: Path, database_url: str) -> None:
    """`python -m bot run` as a real process, polling the fake server in its own thread."""
    tg = FakeTelegram()
    url = tg.start_in_thread()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=REPO_DIR,
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "TELEGRAM_BOT_TOKEN": tg.token,
            "TELEGRAM_API_BASE_URL": f"{url}/bot",
            "TELEGRAM_FILE_BASE_URL": f"{url}/file/bot",
            "EVIDENCE_DIR": str(tmp_path / "evidence"),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        tg.submit(tg.send_text(909, "/start"))
        reply = tg.submit(tg.wait_for(lambda m: m.chat_id == 909, timeout=30))
        assert reply.text == texts.STRANGER
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
        tg.stop()
    assert process.returncode == 0, err
    assert tg.token not in err


async def test_lists_and_reports_at_once_share_a_one_connection_pool(
    settings: Settings, database_url: str
) -> None:
    """Lists read before the writer's turn and give their connection back before waiting
    for it; a report takes its turn before its connection. Were a list to wait for the turn
    holding the only connection, the report holding the turn would wait for the connection
    (on SQLite), and both would fail when the pool gave up."""
    engine = make_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=5)
    sessions = make_session_factory(engine)
    try:
        async with running_bot(settings, sessions) as bot:
            unit = await seed_unit(bot, TANDUC, "Xã Tân Đức")
            chats = [6001, 6002, 6003, 6004]
            for n, chat in enumerate(chats):
                await seed_officer(bot, unit, f"Cán bộ {n}", ["VPTK"], telegram_id=chat)
            for chat in chats:  # all at once: nobody waits for an answer before sending
                await bot.tg.send_text(chat, "/viec")
                await bot.tg.send_text(chat, "/capnhat 1.5 40")
                await bot.tg.send_text(chat, "/viec")
            for chat in chats:
                await bot.tg.wait_for(lambda m, c=chat: m.chat_id == c and len(bot.tg.sent(c)) >= 3)
            answers = [m.content for chat in chats for m in bot.tg.sent(chat)]
    finally:
        await engine.dispose()
    assert texts.ERROR not in answers
    assert sum(a.startswith("Đã ghi PAR 1.5") for a in answers) == len(chats)
    listing = texts.tasks_title(0, 0, 1).split("(")[0]
    assert sum(a.startswith(listing) for a in answers) == 2 * len(chats)
