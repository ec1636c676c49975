"""The conversation on a channel without buttons, driven through the real local channel.

Usage in a test::

    world = await text_world(settings, session_factory)
    lan = await world.officer("Nguyễn Thị Lan", ["VPTK"])
    replies = await world.say(lan, "/viec")   # the texts sent back, in order

Everything below the channel's sink is the real thing: routing, the frame, the features,
the database (SQLite or PostgreSQL), the numbered lists kept there. The sink records what
a terminal (or Zalo) would show. ``world.clock`` is the bot's clock, moved by hand.

Identity: :func:`link` is the one place that says how a person is known on this channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from channels.local import CAPABILITIES, LOCAL, LocalChannel, typed_event
from core.accounts import link_account
from core.conversation import Capabilities, Inbound
from core.officers import add_officer
from core.plan_store import import_plan
from core.plan_yaml import load_yaml_plan
from handlers.base import AppState
from storage.models import Officer, Unit
from tests.e2e import SettableClock

# The channel the text tests speak on: the local shell's, the same rendering as Zalo's.
CHANNEL = LOCAL

PLAN = """
dondoc_plan: 1
unit: Xã Thử Nghiệm
year: 2024
criteria:
  - {index: PAR, code: "2", title: Khu vực hai}
  - {index: PAR, code: "2.1.1", title: Ban hành kế hoạch cải cách hành chính năm 2024, lead: VPTK, deadline: 29/03/2024}
  - {index: PAR, code: "2.1.2", title: Báo cáo kết quả thực hiện kế hoạch quý I, lead: VPTK, deadline: 15/04/2024}
  - {index: PAR, code: "2.1.3", title: Kiểm tra công tác cải cách hành chính tại các thôn, lead: VPTK, deadline: 30/06/2024}
  - {index: PAR, code: "2.2.1", title: Tuyên truyền cải cách hành chính, lead: VHXH, deadline: 30/06/2024}
"""  # noqa: E501


@dataclass
class Said:
    chat_id: str
    text: str
    file: str | None = None  # the file's name, when one was sent (``text`` is its caption)


@dataclass
class RecordingSink:
    """A terminal that remembers what it showed (channels.text_rendering.TextSink)."""

    sent: list[Said] = field(default_factory=list)
    _ids: count[int] = field(default_factory=lambda: count(1))

    async def send_text(self, chat_id: str, text: str) -> int | None:
        self.sent.append(Said(chat_id, text))
        return next(self._ids)

    async def send_file(
        self, chat_id: str, name: str, content: bytes | Path, *, caption: str | None, photo: bool
    ) -> int | None:
        self.sent.append(Said(chat_id, caption or "", name))
        return next(self._ids)


@dataclass
class TextWorld:
    app: AppState
    channel: LocalChannel
    sink: RecordingSink
    clock: SettableClock
    unit_id: int = 0
    _events: count[int] = field(default_factory=lambda: count(1))
    _people: count[int] = field(default_factory=lambda: count(7001))

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.app.sessions

    def event(self, user: str, line: str) -> Inbound:
        name, number = self.channel.name, str(self.next_id())
        return typed_event(line, channel=name, user_id=user, display_name=user, event_id=number)

    def next_id(self) -> int:
        return next(self._events)

    async def say(self, user: str, line: str) -> list[str]:
        """The user types ``line``; the texts sent back to them."""
        return await self.send(self.event(user, line))

    async def send(self, event: Inbound) -> list[str]:
        mark = len(self.sink.sent)
        await self.channel.handle(event)
        return [said.text for said in self.sink.sent[mark:] if said.chat_id == event.chat_id]

    async def officer(
        self, name: str, positions: Sequence[str], roles: Sequence[str] = ("officer",)
    ) -> str:
        """A new officer of the unit, linked on this channel; their chat id."""
        user = str(next(self._people))
        async with self.sessions() as session, session.begin():
            unit = await session.get_one(Unit, self.unit_id)
            officer, _ = await add_officer(
                session, unit=unit, name=name, positions=positions, roles=roles, actor="test"
            )
            await link(session, self.channel.name, officer.id, user)
        return user


async def link(session: AsyncSession, channel: str, officer_id: int, user: str) -> None:
    """Make ``user`` the officer's account on ``channel``."""
    officer = await session.get_one(Officer, officer_id)
    await link_account(session, channel=channel, external_id=user, officer=officer, actor="test")


async def text_world(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    *,
    capabilities: Capabilities = CAPABILITIES,
    now: datetime | None = None,
    name: str = CHANNEL,
) -> TextWorld:
    """The unit of :data:`PLAN` and the channel, with the clock on Monday 04/03/2024.

    ``name``: the channel's name; another than "local" for what is pushed to people (the
    local shell's accounts never get reminders, core.accounts.TRY_OUT_CHANNELS)."""
    clock = SettableClock(now or datetime(2024, 3, 4, 2, 0, tzinfo=UTC))
    app = AppState(settings=settings, sessions=sessions, clock=clock)
    sink = RecordingSink()
    channel = LocalChannel(app=app, sink=sink, name=name, capabilities=capabilities)
    async with sessions() as session, session.begin():
        unit = await yaml_unit(session, PLAN)
    return TextWorld(app, channel, sink, clock, unit.id)


async def yaml_unit(session: AsyncSession, plan: str) -> Unit:
    """The unit a YAML plan names, made from it (the test database holds no other)."""
    parsed = load_yaml_plan(plan)
    assert parsed.unit is not None
    await import_plan(
        session,
        unit_name=parsed.unit,
        plan=parsed,
        source_name="kh.yaml",
        source_sha256=None,
        actor="test",
    )
    return (await session.scalars(select(Unit))).one()


def numbered(text: str) -> dict[str, str]:
    """The numbered list at the end of a reply: {label: number}."""
    found = {}
    for line in text.split("\n"):
        number, dot, label = line.partition(". ")
        if dot and number.isdigit():
            found[label] = number
    return found


def number_of(text: str, label_start: str) -> str:
    for label, number in numbered(text).items():
        if label.startswith(label_start):
            return number
    raise AssertionError(f"no choice {label_start!r} in {text!r}")
