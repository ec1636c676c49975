"""The reminders' world of the fault tests and the fan-out bench: one unit whose one item,
led by VPTK, is due on Wednesday 13/03/2024, and officers holding VPTK, each with a chat on
the channels chosen; each must get exactly one digest that morning.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.officers import add_officer
from core.plan_store import import_plan
from core.plan_yaml import load_yaml_plan
from storage.models import Delivery, Unit
from tests.text_world import link

Sessions = async_sessionmaker[AsyncSession]

ICT = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2024, 3, 13)  # a Wednesday, a workday; the item is due that day
MORNING = datetime(2024, 3, 13, 8, 0, tzinfo=ICT)  # after REMINDER_TIME: the catch-up sends
LATER = datetime(2024, 3, 13, 8, 30, tzinfo=ICT)  # a restart: the dead claims are > 5 min old
FIRST_CHAT = 10_000


def chat_ids(count: int) -> frozenset[str]:
    """The chats of the first ``count`` officers, as ids are kept: text."""
    return frozenset(str(FIRST_CHAT + number) for number in range(count))


COORDINATOR_CHAT = 99

PLAN = """
dondoc_plan: 1
unit: Phường Thử
year: 2024
criteria:
  - {index: PAR, code: "1", title: Khu vực một}
  - {index: PAR, code: "1.1", title: Ban hành kế hoạch, lead: VPTK, deadline: 13/03/2024}
"""


async def seed(
    sessions: Sessions,
    officers: int,
    *,
    coordinator: bool = False,
    channels: Callable[[int], Sequence[str]] = lambda number: ("telegram",),
    unit_name: str = "Phường Thử",
    first: int = 0,
) -> int:
    """The plan and ``officers`` VPTK officers with chats FIRST_CHAT… on the ``channels`` of
    each officer's number (the coordinator's on Telegram); returns the unit's id.

    ``unit_name`` and ``first`` (the first officer's number) seed one more unit beside
    another: a bench's officers spread over units of a commune's size."""
    async with sessions() as session, session.begin():
        await import_plan(
            session,
            unit_name=unit_name,
            plan=load_yaml_plan(PLAN),
            source_name="kh.yaml",
            source_sha256=None,
            actor="test",
        )
        unit = (await session.scalars(select(Unit).where(Unit.name == unit_name))).one()
        for number in range(first, first + officers):
            officer, _ = await add_officer(
                session, unit=unit, name=f"Cán bộ {number:03d}", positions=["VPTK"], actor="test"
            )
            for channel in channels(number):
                await link(session, channel, officer.id, str(FIRST_CHAT + number))
        if coordinator:
            await add_officer(
                session,
                unit=unit,
                name="Điều phối",
                positions=[],
                roles=["coordinator"],
                telegram_id=COORDINATOR_CHAT,
                actor="test",
            )
        return unit.id


async def deliveries(sessions: Sessions) -> list[Delivery]:
    async with sessions() as session:
        return list(await session.scalars(select(Delivery).order_by(Delivery.id)))
