"""One conversation, three channels: the journeys of tests/test_journeys.py are written once
and run on Telegram (the real bot polling the fake Bot API: buttons, edits), on the text
rendering (the local channel: numbered choices, words on a card, new messages), and on Zalo
(the real ``python -m bot run``, a subprocess polling the fake Zalo Bot API over HTTP: the
text rendering on the wire).

A journey speaks through :class:`Chat`: ``say`` what a user types, ``choose`` one of the
choices a message offered (a press, or its number), ``percent`` and ``act`` on an open item
card (a button, or a number and a word), ``photo`` to send a picture, ``again`` to deliver
the last event a second time. Each step names text the answer must contain and returns it.
A journey's people are numbers; ``account`` is how the channel knows one of them (Zalo's
are prefixed per journey, as one bot process serves a whole test module).

On Zalo the bot is one process per test module (:func:`zalo_process`): each journey empties
the database first (``ZaloProcess.fresh``). Its clock starts at START and ticks
(tests.fakes.frozen_bot); REMINDER_TIME is set late so that no digest crosses a journey.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Protocol

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.settings import Settings
from channels.local import CAPABILITIES, LocalChannel, typed_event
from core.conversation import Inbound
from handlers.base import AppState
from storage.db import make_engine, make_session_factory
from tests.bot_processes import BotProcess, Bots, bot_processes
from tests.conftest import DatabaseUnderTest, empty_all_tables
from tests.e2e import SettableClock, running_bot
from tests.e2e_support import button_data
from tests.fakes.telegram_api import TINY_PNG, FakeTelegram, SentMessage
from tests.fakes.zalo_api import FakeZalo
from tests.text_world import CHANNEL, RecordingSink, numbered

START = datetime(2024, 3, 4, 2, 0, tzinfo=UTC)  # Monday 04/03/2024, 09:00 in Vietnam
ACTIONS = {  # a card's action: (Telegram's button, the word typed on a text channel)
    "done": (texts.DONE_BUTTON, texts.WORD_DONE),
    "blocked": (texts.BLOCKED_BUTTON, texts.WORD_BLOCKED),
    "evidence": (texts.EVIDENCE_BUTTON, texts.WORD_EVIDENCE),
    "back": (texts.BACK, texts.WORD_BACK),
}


@dataclass
class Seen:
    """A message the user saw: its text, and the labels of the choices it offered."""

    text: str
    labels: list[str]
    message: SentMessage | None = None  # Telegram's, to press its buttons


class Chat(Protocol):
    channel: str  # the channel's name, for linking accounts
    sessions: async_sessionmaker[AsyncSession]
    # What tells the user a file came (a workbook's caption; on Zalo without the web server,
    # the line saying files need it, under the text summary).
    files_note: str

    def account(self, user: int) -> str:
        """The user's id on this channel (what an account links)."""
        ...

    async def say(self, user: int, text: str, expect: str) -> Seen: ...

    async def choose(self, user: int, seen: Seen, label: str, expect: str) -> Seen: ...

    async def percent(self, user: int, card: Seen, percent: int, expect: str) -> Seen: ...

    async def act(self, user: int, card: Seen, action: str, expect: str) -> Seen: ...

    async def photo(self, user: int, caption: str | None, expect: str) -> Seen: ...

    async def again(self) -> None: ...


def label_matching(labels: list[str], start: str) -> str:
    for label in labels:
        if label == start or label.startswith(start):
            return label
    raise AssertionError(f"no choice {start!r} among {labels}")


@dataclass
class TelegramChat:
    tg: FakeTelegram
    sessions: async_sessionmaker[AsyncSession]
    clock: SettableClock
    channel: str = "telegram"
    files_note: str = texts.WORKBOOK_CAPTION
    last: int = 0  # the last update's id

    def account(self, user: int) -> str:
        return str(user)

    async def _answer(self, user: int, mark: int, expect: str) -> Seen:
        message = await self.tg.wait_for(
            lambda m: m.chat_id == user and expect in m.content, after=mark
        )
        return Seen(message.content, [b["text"] for b in message.buttons], message)

    async def say(self, user: int, text: str, expect: str) -> Seen:
        mark = self.tg.checkpoint()
        self.last = await self.tg.send_text(user, text)
        return await self._answer(user, mark, expect)

    async def choose(self, user: int, seen: Seen, label: str, expect: str) -> Seen:
        assert seen.message is not None
        data = button_data(seen.message, label_matching(seen.labels, label), exact=True)
        mark = self.tg.checkpoint()
        self.last = await self.tg.press_button(user, seen.message.message_id, data)
        return await self._answer(user, mark, expect)

    async def percent(self, user: int, card: Seen, percent: int, expect: str) -> Seen:
        return await self.choose(user, card, f"{percent}%", expect)

    async def act(self, user: int, card: Seen, action: str, expect: str) -> Seen:
        return await self.choose(user, card, ACTIONS[action][0], expect)

    async def photo(self, user: int, caption: str | None, expect: str) -> Seen:
        mark = self.tg.checkpoint()
        self.last = await self.tg.send_photo(user, caption=caption)
        return await self._answer(user, mark, expect)

    async def again(self) -> None:
        await self.tg.redeliver(self.last)


class TypedChoices:
    """Choosing on a channel without buttons: a number from the list, a number, a word."""

    async def say(self, user: int, text: str, expect: str) -> Seen:
        raise NotImplementedError

    async def choose(self, user: int, seen: Seen, label: str, expect: str) -> Seen:
        number = seen.labels.index(label_matching(seen.labels, label)) + 1
        return await self.say(user, str(number), expect)

    async def percent(self, user: int, card: Seen, percent: int, expect: str) -> Seen:
        return await self.say(user, str(percent), expect)

    async def act(self, user: int, card: Seen, action: str, expect: str) -> Seen:
        return await self.say(user, ACTIONS[action][1], expect)


@dataclass
class TextChat(TypedChoices):
    local: LocalChannel
    sink: RecordingSink
    clock: SettableClock
    files: Path
    channel: str = CHANNEL
    files_note: str = texts.WORKBOOK_CAPTION
    last: Inbound | None = None
    _events: count[int] = field(default_factory=lambda: count(1))

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.local.app.sessions

    def account(self, user: int) -> str:
        return str(user)

    async def _send(self, event: Inbound, expect: str) -> Seen:
        self.last = event
        mark = len(self.sink.sent)
        await self.local.handle(event)
        replies = [s.text for s in self.sink.sent[mark:] if s.chat_id == event.chat_id]
        for reply in replies:
            if expect in reply:
                return Seen(reply, list(numbered(reply)))
        raise AssertionError(f"no answer with {expect!r} among {replies}")

    async def say(self, user: int, text: str, expect: str) -> Seen:
        event = typed_event(
            text,
            channel=self.channel,
            user_id=str(user),
            display_name=str(user),
            event_id=str(next(self._events)),
        )
        return await self._send(event, expect)

    async def photo(self, user: int, caption: str | None, expect: str) -> Seen:
        path = self.files / f"anh-{len(self.sink.sent)}.png"
        path.write_bytes(TINY_PNG)
        return await self.say(user, f"/file {path} {caption or ''}".rstrip(), expect)

    async def again(self) -> None:
        assert self.last is not None
        await self.local.handle(self.last)


@dataclass
class ZaloChat(TypedChoices):
    """The journey's users on the fake Zalo server; the bot is a ``python -m bot run``."""

    zalo: FakeZalo
    sessions: async_sessionmaker[AsyncSession]
    prefix: str  # this journey's, so that no answer to an earlier journey is taken for one
    channel: str = "zalo"
    files_note: str = texts.FILES_NEED_WEB
    last: str = ""  # the last message's id

    def account(self, user: int) -> str:
        return f"{self.prefix}{user}"

    async def _answer(self, user: int, mark: int, expect: str) -> Seen:
        chat = self.account(user)
        message = await self.zalo.wait_for(
            lambda m: m.chat_id == chat and expect in m.content, timeout=20, after=mark
        )
        return Seen(message.content, list(numbered(message.content)))

    async def say(self, user: int, text: str, expect: str) -> Seen:
        mark = self.zalo.checkpoint()
        self.last = self.zalo.send_text(self.account(user), text)
        return await self._answer(user, mark, expect)

    async def photo(self, user: int, caption: str | None, expect: str) -> Seen:
        mark = self.zalo.checkpoint()
        self.last = self.zalo.send_photo(self.account(user), caption)
        return await self._answer(user, mark, expect)

    async def again(self) -> None:
        self.zalo.redeliver(self.last)


@dataclass
class ZaloProcess:
    """One ``python -m bot run`` on Zalo for a test module, and its database."""

    zalo: FakeZalo
    bots: Bots
    bot: BotProcess
    database_url: str
    journeys: count[int] = field(default_factory=lambda: count(1))

    @asynccontextmanager
    async def fresh(self) -> AsyncIterator[ZaloChat]:
        """A chat on an emptied database, with users of its own."""
        await empty_all_tables(self.database_url)
        engine = make_engine(self.database_url)
        try:
            yield ZaloChat(self.zalo, make_session_factory(engine), f"j{next(self.journeys)}-")
        finally:
            await engine.dispose()


@contextmanager
def zalo_process(database_url: str, tmp_path: Path) -> Iterator[ZaloProcess]:
    """The bot on Zalo in a subprocess from START on, polling a fake served from a thread."""
    zalo = FakeZalo()
    with bot_processes(database_url, tmp_path, zalo=zalo, REMINDER_TIME="23:00") as bots:
        bot = bots.start(START)
        zalo.submit(zalo.wait_for_request("getUpdates", timeout=60, finished=False), timeout=70)
        yield ZaloProcess(zalo, bots, bot, database_url)
        bots.stop(bot)


def zalo_module_process(
    database_under_test: DatabaseUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ZaloProcess]:
    """For a module-scoped fixture: the bot on Zalo, on a database of the module's own."""
    directory = tmp_path_factory.mktemp("zalo-journeys")
    # Asked for by an async fixture, in a running loop: the database is made in a thread.
    with ThreadPoolExecutor(1) as pool:
        url = pool.submit(asyncio.run, database_under_test.fresh(directory)).result()
    with zalo_process(url, directory) as process:
        yield process


@asynccontextmanager
async def open_chat(
    kind: str,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    files: Path,
    zalo: ZaloProcess | None = None,
) -> AsyncIterator[Chat]:
    """The conversation on Telegram ("telegram"), on the text rendering ("text"), or on Zalo
    ("zalo", through the module's bot process ``zalo``)."""
    if kind == "zalo":
        assert zalo is not None
        async with zalo.fresh() as chat:
            yield chat
        return
    if kind == "telegram":
        async with running_bot(settings, sessions, now=START) as bot:
            yield TelegramChat(bot.tg, sessions, bot.clock)
        return
    clock = SettableClock(START)
    app = AppState(settings=settings, sessions=sessions, clock=clock)
    sink = RecordingSink()
    local = LocalChannel(app=app, sink=sink, name=CHANNEL, capabilities=CAPABILITIES)
    yield TextChat(local, sink, clock, files)
