"""A big file being read holds up nobody else: the real bot over the fake Bot API.

The roster reader is held at a gate (a threading.Event) instead of being fed a
file that takes long: no timing in the test. While it is held, another officer
sends /help and must get the answer; only then is the gate opened. A reader on
the event loop would block the loop, /help could not be answered, and the gate
would give up on its own (the safety timeout), which the test sees.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterable

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.settings import Settings
from core import roster
from tests.e2e import BotUnderTest, running_bot
from tests.e2e_support import seed_officer, seed_unit
from tests.seed_files import TANDUC

ADMIN = 1000
OFFICER = 4002
ROSTER = "Họ tên,Vị trí,Vai trò\nLê Thị Mai,VHXH,đầu mối\n".encode()
GATE_SAFETY_SECONDS = 30  # only reached when the reader blocks the loop (the failure)


@pytest.fixture
async def bot(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[BotUnderTest]:
    async with running_bot(settings, session_factory, admin_telegram_ids=[ADMIN]) as running:
        yield running


async def test_help_is_answered_while_a_roster_is_being_read(
    bot: BotUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    unit_id = await seed_unit(bot, TANDUC, "Xã Tân Đức")
    await seed_officer(bot, unit_id, "Quản trị", roles=("admin",), telegram_id=ADMIN)
    await seed_officer(bot, unit_id, "Phạm Văn Nam", ("TCKT",), telegram_id=OFFICER)
    entered, release = threading.Event(), threading.Event()
    opened_by_test: list[bool] = []
    real_rows = roster._rows

    def held_rows(grid: Iterable[tuple[int, list[str]]]) -> list[roster.RosterRow]:
        entered.set()
        opened_by_test.append(release.wait(timeout=GATE_SAFETY_SECONDS))
        return real_rows(grid)

    monkeypatch.setattr(roster, "_rows", held_rows)
    mark = bot.tg.checkpoint()
    await bot.tg.send_document(ADMIN, ROSTER, "canbo.csv", "text/csv", caption="/canbo")
    assert await asyncio.to_thread(entered.wait, GATE_SAFETY_SECONDS)

    await bot.tg.send_text(OFFICER, "/help")
    answer = await bot.tg.wait_for(
        lambda m: m.chat_id == OFFICER, timeout=GATE_SAFETY_SECONDS, after=mark
    )
    release.set()
    done = await bot.tg.wait_for(lambda m: m.chat_id == ADMIN, after=mark)

    assert texts.HELP_TITLE in answer.content
    assert opened_by_test == [True]  # /help was answered while the roster was still held
    assert done.content == texts.roster_imported(1, 0)
