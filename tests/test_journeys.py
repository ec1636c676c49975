"""The journeys of issue 13, written once and run on Telegram (buttons), on the text
rendering (numbered choices) and on Zalo (the real ``python -m bot run`` against the fake
Zalo Bot API, one process for the module): see tests/journeys.py. The database is the
test's (SQLite or PostgreSQL; on Zalo, the module's); what each journey changed is checked
there."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.settings import Settings
from core.accounts import channel_label
from core.officers import add_officer
from storage.models import Base, Criterion, Evidence, Officer, ProgressUpdate
from tests.conftest import DatabaseUnderTest
from tests.fakes.telegram_api import BOT_USERNAME
from tests.journeys import Chat, ZaloProcess, open_chat, zalo_module_process
from tests.text_world import link, yaml_unit

PLAN = """
dondoc_plan: 1
unit: Xã Hành Trình
year: 2024
criteria:
  - {index: PAR, code: "2", title: Khu vực hai}
  - {index: PAR, code: "2.1.1", title: Ban hành kế hoạch cải cách hành chính, lead: VPTK, deadline: 29/03/2024}
  - {index: PAR, code: "2.1.2", title: Báo cáo kết quả quý I, lead: VPTK, deadline: 15/04/2024}
  - {index: PAR, code: "2.1.3", title: Niêm yết thủ tục hành chính, lead: VPTK, deadline: 26/02/2024}
  - {index: PAR, code: "2.2.1", title: Tuyên truyền cải cách hành chính, lead: VHXH, deadline: 30/06/2024}
"""  # noqa: E501

LAN, BINH, HA, AN = 7001, 7002, 7003, 7004  # officer, officer, coordinator, admin
STRANGER = 7999
PEOPLE = (
    (LAN, "Nguyễn Thị Lan", ["VPTK"], ["officer"]),
    (BINH, "Trần Văn Bình", ["VPTK"], ["officer"]),
    (HA, "Lê Thu Hà", ["VHXH"], ["coordinator"]),
    (AN, "Phạm Văn An", [], ["admin"]),
)


@dataclass
class World:
    chat: Chat
    unit_id: int

    async def count(self, model: type[Base], *where: object) -> int:
        async with self.chat.sessions() as session:
            query = select(func.count()).select_from(model)
            for condition in where:
                query = query.where(condition)  # type: ignore[arg-type]
            return int(await session.scalar(query) or 0)

    async def reports(self) -> list[tuple[str, str, int, str | None]]:
        async with self.chat.sessions() as session:
            rows = await session.execute(
                select(Criterion.code, ProgressUpdate.status, ProgressUpdate.percent)
                .add_columns(ProgressUpdate.note)
                .join(Criterion, Criterion.id == ProgressUpdate.criterion_id)
                .order_by(ProgressUpdate.id)
            )
            return [tuple(row) for row in rows]  # type: ignore[misc]


async def seed(chat: Chat) -> int:
    async with chat.sessions() as session, session.begin():
        unit = await yaml_unit(session, PLAN)
        for user, name, positions, roles in PEOPLE:
            officer, _ = await add_officer(
                session, unit=unit, name=name, positions=positions, roles=roles, actor="test"
            )
            await link(session, chat.channel, officer.id, chat.account(user))
        return unit.id


@pytest.fixture(scope="module")
def zalo(
    database_under_test: DatabaseUnderTest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ZaloProcess]:
    """The module's bot on Zalo: started by the first Zalo journey, stopped after the last."""
    yield from zalo_module_process(database_under_test, tmp_path_factory)


@pytest.fixture(params=["telegram", "text", "zalo"])
async def world(
    request: pytest.FixtureRequest,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> AsyncIterator[World]:
    process = request.getfixturevalue("zalo") if request.param == "zalo" else None
    async with open_chat(request.param, settings, session_factory, tmp_path, process) as chat:
        yield World(chat, await seed(chat))


async def test_linking_with_an_invite(world: World) -> None:
    chat = world.chat
    invite = await chat.say(AN, "/moi VPTK Đỗ Văn Nam", "mã mời")
    code = invite.text.rsplit(" ", 1)[-1]
    # Telegram runs in the Telegram world only: its deep link is offered there, the code always.
    link = f"https://t.me/{BOT_USERNAME}?start={code}"
    assert (link in invite.text) == (chat.channel == "telegram"), invite.text
    await chat.say(STRANGER, "/viec", texts.STRANGER)
    welcome = await chat.say(STRANGER, f"/start {code}", "Xin chào Đỗ Văn Nam!")
    assert welcome.text.startswith(texts.linked(channel_label(chat.channel)))
    assert "Vị trí: VPTK." in welcome.text
    await chat.say(STRANGER, "/viec", "Việc của bạn (3)")


async def test_list_card_progress_done_blocked_and_back(world: World) -> None:
    chat = world.chat
    listing = await chat.say(LAN, "/viec", "Việc của bạn (3)")
    card = await chat.choose(LAN, listing, "PAR 2.1.1 ", "PAR 2.1.1 — Ban hành kế hoạch")
    card = await chat.percent(LAN, card, 50, "Trạng thái: Đang làm 50%")
    card = await chat.act(LAN, card, "done", "Trạng thái: Hoàn thành 100%")
    await chat.act(LAN, card, "blocked", texts.ASK_BLOCKED_REASON)
    await chat.say(LAN, "Chưa có con dấu", texts.blocked_saved("PAR 2.1.1"))
    listing = await chat.say(LAN, "/viec", "Việc của bạn (3)")
    card = await chat.choose(LAN, listing, "PAR 2.1.1 ", "Trạng thái: Gặp khó khăn 100%")
    listing = await chat.act(LAN, card, "back", "Việc của bạn (3)")
    assert await world.reports() == [
        ("2.1.1", "in_progress", 50, None),
        ("2.1.1", "done", 100, None),
        ("2.1.1", "blocked", 100, "Chưa có con dấu"),
    ]


async def test_evidence_from_a_card_and_by_caption(world: World) -> None:
    chat = world.chat
    listing = await chat.say(LAN, "/viec", "Việc của bạn (3)")
    card = await chat.choose(LAN, listing, "PAR 2.1.2 ", "PAR 2.1.2 — ")
    await chat.act(LAN, card, "evidence", texts.ask_evidence("PAR 2.1.2"))
    await chat.photo(LAN, None, "Đã nhận 1 tệp minh chứng cho PAR 2.1.2")
    await chat.photo(LAN, "2.1.1 bảng tin", "Đã nhận 1 tệp minh chứng cho PAR 2.1.1")
    assert await world.count(Evidence) == 2


async def test_overdue_summary_and_who_may_see_them(world: World) -> None:
    chat = world.chat
    overdue = await chat.say(HA, "/quahan", texts.overdue_title(1, 0, 1))
    assert "PAR 2.1.3 Niêm yết thủ tục hành chính" in overdue.text
    await chat.say(HA, "/tonghop", chat.files_note)
    await chat.say(LAN, "/quahan", texts.NOT_ALLOWED)
    await chat.say(LAN, "/tonghop", texts.NOT_ALLOWED)


async def test_assigning_and_positions(world: World) -> None:
    chat = world.chat
    await chat.say(AN, "/giao 2.2.1 Nguyễn Thị Lan", texts.assigned("PAR 2.2.1", "Nguyễn Thị Lan"))
    await chat.say(LAN, "/viec", "Việc của bạn (4)")
    await chat.say(LAN, "/giao 2.1.1 Trần Văn Bình", texts.NOT_ALLOWED)

    positions = await chat.say(AN, "/vitri", texts.POSITIONS_TITLE)
    binh = await chat.choose(AN, positions, "Trần Văn Bình", "Vị trí của Trần Văn Bình: VPTK.")
    await chat.choose(AN, binh, "TPHT", "Vị trí của Trần Văn Bình: VPTK, TPHT.")
    async with chat.sessions() as session:
        officer = await session.scalar(select(Officer).where(Officer.name == "Trần Văn Bình"))
        assert officer is not None and officer.positions == ["VPTK", "TPHT"]


async def test_snooze_and_away(world: World) -> None:
    chat = world.chat
    await chat.say(LAN, "/hoanlai 2.1.1 5", texts.snoozed("PAR 2.1.1", date(2024, 3, 9)))
    await chat.say(LAN, "/hoanlai 2.1.1 99", "từ 1 đến 14 ngày")
    await chat.say(BINH, "/nghi 15/03/2024", texts.away_until(date(2024, 3, 15)))
    await chat.say(BINH, "/nghi xong", texts.BACK_FROM_AWAY)


async def test_a_redelivered_event_counts_once(world: World) -> None:
    chat = world.chat
    listing = await chat.say(LAN, "/viec", "Việc của bạn (3)")
    card = await chat.choose(LAN, listing, "PAR 2.1.2 ", "PAR 2.1.2 — ")
    await chat.percent(LAN, card, 75, "Trạng thái: Đang làm 75%")
    await chat.again()
    await chat.say(LAN, "/capnhat 2.1.2 80", texts.progress_saved("PAR 2.1.2", "in_progress", 80))
    await chat.again()
    await chat.say(LAN, "/help", texts.HELP_TITLE)  # after the twins: they were consumed
    assert await world.reports() == [
        ("2.1.2", "in_progress", 75, None),
        ("2.1.2", "in_progress", 80, None),
    ]
