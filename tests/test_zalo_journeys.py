"""Journeys only Zalo has, with the real ``python -m bot run`` against the fake Zalo Bot API:
photo URLs that expire, group chats, strangers, and the inbox that outlives a killed process.

The people and the plan are those of tests/test_journeys.py; the driver is tests/journeys.py's
ZaloChat, on one bot process for the module (the kill test runs processes of its own).
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from storage.models import Evidence, ProgressUpdate, ZaloInbox
from tests.bot_processes import bot_processes
from tests.conftest import DatabaseUnderTest
from tests.fakes.zalo_api import FakeZalo
from tests.journeys import START, ZaloChat, ZaloProcess, zalo_module_process
from tests.test_journeys import LAN, STRANGER, World, seed


@pytest.fixture(scope="module")
def zalo(
    database_under_test: DatabaseUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ZaloProcess]:
    yield from zalo_module_process(database_under_test, tmp_path_factory)


@pytest.fixture
async def world(zalo: ZaloProcess) -> AsyncIterator[World]:
    async with zalo.fresh() as chat:
        yield World(chat, await seed(chat))


def zalo_of(world: World) -> tuple[ZaloChat, FakeZalo]:
    chat = world.chat
    assert isinstance(chat, ZaloChat)
    return chat, chat.zalo


async def test_an_expired_photo_url_asks_for_the_photo_again_and_stores_nothing(
    world: World,
) -> None:
    chat, zalo = zalo_of(world)
    lan = chat.account(LAN)
    # Named by its caption: the photo is downloaded at once, and its URL is already dead.
    mark = zalo.checkpoint()
    zalo.send_photo(lan, "2.1.1 bảng tin", expired=True)
    await zalo.wait_for(
        lambda m: m.chat_id == lan and m.content == texts.ZALO_PHOTO_EXPIRED, after=mark
    )
    # Sent after "Gửi minh chứng" on the item's card: the same.
    listing = await chat.say(LAN, "/viec", "Việc của bạn (3)")
    card = await chat.choose(LAN, listing, "PAR 2.1.2 ", "PAR 2.1.2 — ")
    await chat.act(LAN, card, "evidence", texts.ask_evidence("PAR 2.1.2"))
    mark = zalo.checkpoint()
    zalo.send_photo(lan, None, expired=True)
    await zalo.wait_for(
        lambda m: m.chat_id == lan and m.content == texts.ZALO_PHOTO_EXPIRED, after=mark
    )
    assert await world.count(Evidence) == 0
    # A photo sent again is kept.
    await chat.photo(LAN, "2.1.2", "Đã nhận 1 tệp minh chứng cho PAR 2.1.2")
    assert await world.count(Evidence) == 1


async def test_a_group_chat_gets_one_polite_line_and_nothing_else(world: World) -> None:
    chat, zalo = zalo_of(world)
    group = f"{chat.prefix}group"
    for text in ("/viec", "/capnhat 2.1.1 50"):
        mark = zalo.checkpoint()
        zalo.send_text(chat.account(LAN), text, group=group)
        await zalo.wait_for(lambda m: m.chat_id == group, after=mark)
    zalo.send_sticker(chat.account(LAN), group=group)
    await chat.say(LAN, "/help", texts.HELP_TITLE)  # after the group's three, in order
    assert zalo.texts_to(group) == [texts.PRIVATE_ONLY] * 3
    assert [t for t in zalo.texts_to(chat.account(LAN)) if texts.HELP_TITLE not in t] == []
    assert await world.count(ProgressUpdate) == 0


async def test_a_stranger_is_told_how_to_join_and_nothing_of_theirs_is_kept(
    world: World,
) -> None:
    chat, zalo = zalo_of(world)
    await chat.say(STRANGER, "/viec", texts.STRANGER)
    await chat.say(STRANGER, "/capnhat 2.1.1 50", texts.STRANGER)
    mark = zalo.checkpoint()
    zalo.send_voice(chat.account(STRANGER))
    voice = await zalo.wait_for(lambda m: m.chat_id == chat.account(STRANGER), after=mark)
    assert voice.content == texts.ZALO_VOICE
    await chat.photo(STRANGER, "2.1.1", texts.STRANGER)
    assert (await world.count(ProgressUpdate), await world.count(Evidence)) == (0, 0)


async def test_a_message_in_the_inbox_when_the_process_was_killed_is_handled_after_restart(
    database_url: str, session_factory: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    zalo = FakeZalo()
    with bot_processes(database_url, tmp_path, zalo=zalo, REMINDER_TIME="23:00") as bots:
        chat = ZaloChat(zalo, session_factory, "k-")
        world = World(chat, await seed(chat))
        first = bots.start(START)
        await zalo.wait_for_request("getUpdates", timeout=60, finished=False)
        zalo.hold_sends_after(0)  # the bot's answers hang, as on a dead network
        in_hand = zalo.send_text(chat.account(LAN), "/viec")
        await zalo.wait_for_held(1, timeout=20)  # the worker is stuck on /viec's answer
        kept = zalo.send_text(chat.account(LAN), "/capnhat 2.1.2 80")
        await zalo.wait_for_poll_after(kept, timeout=20)  # polled and kept, not handled
        first.process.kill()
        assert first.process.wait(timeout=10) == -signal.SIGKILL
        assert await zalo.release_held() == 1  # dropped: never answered, never recorded
        async with session_factory() as session:
            rows = await session.scalars(select(ZaloInbox))
            inbox = {row.message_id: row.handled_at for row in rows}
        assert set(inbox) == {in_hand, kept} and set(inbox.values()) == {None}
        assert zalo.texts_to(chat.account(LAN)) == []

        mark = zalo.checkpoint()
        second = bots.start(START + timedelta(minutes=10))
        saved = texts.progress_saved("PAR 2.1.2", "in_progress", 80)
        await zalo.wait_for(lambda m: saved in m.content, timeout=30, after=mark)
        await chat.say(LAN, "/help", texts.HELP_TITLE)  # after the inbox's two, in order
        bots.stop(second)
    texts_to_lan = zalo.texts_to(chat.account(LAN))
    assert len([t for t in texts_to_lan if saved in t]) == 1
    # The message in hand was claimed (handled) before its answer hung: never answered twice.
    assert len([t for t in texts_to_lan if t.startswith("Việc của bạn")]) <= 1
    assert await world.reports() == [("2.1.2", "in_progress", 80, None)]
    async with session_factory() as session:
        assert all(row.handled_at for row in await session.scalars(select(ZaloInbox)))
