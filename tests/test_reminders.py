"""Who gets which reminder on which day, from the real database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.officers import add_officer
from core.plan_store import import_plan
from core.plan_yaml import load_yaml_plan
from core.progress import record_progress
from core.reminders import Digest, plan_day, record_escalations
from storage.models import Absence, Criterion, Officer, Snooze, Unit
from tests.seed_files import PHUSON, parsed_seed

Sessions = async_sessionmaker[AsyncSession]

PLAN = """
dondoc_plan: 1
unit: Phường Thử
year: 2024
criteria:
  - {index: PAR, code: "1", title: Khu vực một}
  - {index: PAR, code: "1.1", title: Ban hành kế hoạch, lead: VPTK, deadline: 13/03/2024}
  - {index: PAR, code: "1.2", title: Rà soát văn bản, lead: TPHT, deadline: 17/03/2024}
  - {index: PAR, code: "1.3", title: Niêm yết công khai, lead: VPTK, deadline: Thường xuyên}
  - {index: PAR, code: "1.4", title: Quy hoạch đất, lead: Địa chính, deadline: 08/03/2024}
  - {index: PAR, code: "1.5", title: Giải ngân vốn, lead: Tài chính, deadline: 01/03/2024}
  - {index: PAR, code: "2", title: Việc chung, lead: Các ngành liên quan, deadline: 13/03/2024}
"""

# Nobody holds Địa chính (1.4 goes to the coordinator); Tùng holds Tài chính but has no chat.
PEOPLE = (
    ("Hoa", [], ["coordinator"], 103),
    ("Lan", ["VPTK"], ["officer"], 101),
    ("Minh", ["TPHT"], ["officer"], 102),
    ("Sơn", [], ["leader"], 104),
    ("Tùng", ["TCKT"], ["officer"], None),
)


async def setup(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        await import_plan(
            session,
            unit_name="Phường Thử",
            plan=load_yaml_plan(PLAN),
            source_name="kh.yaml",
            source_sha256=None,
            actor="test",
        )
        unit = (await session.scalars(select(Unit))).one()
        for name, positions, roles, telegram_id in PEOPLE:
            await add_officer(
                session,
                unit=unit,
                name=name,
                positions=positions,
                roles=roles,
                telegram_id=telegram_id,
                actor="test",
            )


async def day(sessions: Sessions, when: str) -> list[Digest]:
    async with sessions() as session:
        unit = (await session.scalars(select(Unit))).one()
        return await plan_day(session, unit=unit, day=date.fromisoformat(when))


def summary(digests: Sequence[Digest]) -> list[tuple[str, bool, list[tuple[str, str, str]]]]:
    return [
        (
            d.officer_name,
            d.escalation,
            [(i["code"], i["kind"], i["due_date"]) for i in d.as_json()["items"]],
        )
        for d in digests
    ]


async def ids(session: AsyncSession) -> tuple[Unit, dict[str, Criterion], dict[str, Officer]]:
    unit = (await session.scalars(select(Unit))).one()
    criteria = {c.code: c for c in await session.scalars(select(Criterion))}
    officers = {o.name: o for o in await session.scalars(select(Officer))}
    return unit, criteria, officers


async def test_a_day_of_digests_and_escalations(session_factory: Sessions) -> None:
    await setup(session_factory)
    digests = await day(session_factory, "2024-03-13")
    assert summary(digests) == [
        # The coordinator owns the unheld Địa chính item and the ALL item.
        ("Hoa", False, [("1.4", "overdue", "2024-03-08"), ("2", "due_today", "2024-03-13")]),
        ("Lan", False, [("1.1", "due_today", "2024-03-13")]),
        # 1.5 (Tùng has no chat) and 1.4 (3 workdays late today) go up, worst first.
        ("Hoa", True, [("1.5", "overdue", "2024-03-01"), ("1.4", "overdue", "2024-03-08")]),
        ("Sơn", True, [("1.5", "overdue", "2024-03-01"), ("1.4", "overdue", "2024-03-08")]),
    ]
    lan = next(d for d in digests if d.officer_name == "Lan")
    assert lan.as_json() == {
        "unit": "Phường Thử",
        "officer": "Lan",
        "accounts": ["telegram:101"],  # was "telegram_id": 101 before 0013
        "items": [{"index": "PAR", "code": "1.1", "kind": "due_today", "due_date": "2024-03-13"}],
        "escalation": False,
    }
    escalation = next(d for d in digests if d.escalation)
    assert escalation.lines[0].owners == ["Tùng"]


async def test_escalation_happens_once(session_factory: Sessions) -> None:
    await setup(session_factory)
    first = await day(session_factory, "2024-03-13")
    async with session_factory() as session, session.begin():
        unit = (await session.scalars(select(Unit))).one()
        escalated = next(d for d in first if d.escalation)
        await record_escalations(session, unit=unit, lines=escalated.lines)
        await record_escalations(session, unit=unit, lines=escalated.lines)  # a second process
    later = await day(session_factory, "2024-03-18")
    # 1.4 and 1.5 are not escalated again; 1.1 and 2 (due 13/03) now are, for the first time.
    assert [(d.officer_name, [line.code for line in d.lines]) for d in later if d.escalation] == [
        ("Hoa", ["1.1", "2"]),
        ("Sơn", ["1.1", "2"]),
    ]
    async with session_factory() as session, session.begin():
        unit = (await session.scalars(select(Unit))).one()
        await record_escalations(
            session, unit=unit, lines=[line for d in later for line in d.lines]
        )
    # The digests keep reminding the owners, though: 19/03 is the 7th workday after 08/03.
    tuesday = summary(await day(session_factory, "2024-03-19"))
    assert ("Hoa", False, [("1.4", "overdue", "2024-03-08")]) in tuesday
    assert not any(escalation for _, escalation, _ in tuesday)


async def test_weekend_and_sunday_due_date(session_factory: Sessions) -> None:
    await setup(session_factory)
    assert await day(session_factory, "2024-03-16") == []  # Saturday: nothing at all
    friday = summary(await day(session_factory, "2024-03-15"))
    assert ("Minh", False, [("1.2", "due_today", "2024-03-17")]) in friday


async def test_done_items_are_never_listed(session_factory: Sessions) -> None:
    await setup(session_factory)
    async with session_factory() as session, session.begin():
        _, criteria, officers = await ids(session)
        await record_progress(
            session,
            officer=officers["Lan"],
            criterion=criteria["1.1"],
            status="done",
            source="cli",
            source_update_id=None,
            now=datetime(2024, 3, 12, tzinfo=UTC),
        )
    assert all(d.officer_name != "Lan" for d in await day(session_factory, "2024-03-13"))
    assert all(
        "1.1" not in [line.code for line in d.lines]
        for d in await day(session_factory, "2024-03-18")
    )


async def test_snooze_and_away(session_factory: Sessions) -> None:
    await setup(session_factory)
    async with session_factory() as session, session.begin():
        unit, criteria, officers = await ids(session)
        session.add(
            Snooze(
                unit_id=unit.id,
                officer_id=officers["Lan"].id,
                criterion_id=criteria["1.1"].id,
                until=date(2024, 3, 20),
            )
        )
        session.add(
            Absence(unit_id=unit.id, officer_id=officers["Minh"].id, until=date(2024, 3, 25))
        )
    assert "Lan" not in [d.officer_name for d in await day(session_factory, "2024-03-13")]
    # Minh is away: his item, overdue on Monday, goes to the coordinator with his name on it.
    monday = await day(session_factory, "2024-03-18")
    assert "Minh" not in [d.officer_name for d in monday]
    hoa = next(d for d in monday if d.officer_name == "Hoa" and not d.escalation)
    forwarded = next(line for line in hoa.lines if line.code == "1.2")
    assert (forwarded.kind, forwarded.owners) == ("overdue", ["Minh"])
    # Once the snooze ends, Lan hears about 1.1 again (7th workday after 13/03).
    assert ("Lan", False, [("1.1", "overdue", "2024-03-13")]) in summary(
        await day(session_factory, "2024-03-22")
    )


async def test_monthly_checkin_for_ongoing_items(session_factory: Sessions) -> None:
    await setup(session_factory)
    april = summary(await day(session_factory, "2024-04-01"))
    lan = next(entry for entry in april if entry[0] == "Lan")
    assert ("1.3", "checkin", None) in lan[2]


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2024-12-31", "due_today"),  # Tuesday
        ("2025-01-02", "overdue"),  # 1st workday after 31/12/2024 (01/01 is a holiday)
    ],
)
async def test_multi_year_annual_milestones(
    session_factory: Sessions, when: str, expected: str
) -> None:
    """Phú Sơn 2023–2025: PAR 8.1 "Quý IV hàng năm" is due 31/12 every year."""
    async with session_factory() as session, session.begin():
        await import_plan(
            session,
            unit_name="Phường Phú Sơn",
            plan=parsed_seed(PHUSON),
            source_name="ps.txt",
            source_sha256=None,
            actor="test",
        )
        unit = (await session.scalars(select(Unit))).one()
        officer, _ = await add_officer(
            session, unit=unit, name="Lan", positions=["VPTK"], telegram_id=101, actor="test"
        )
        item = (
            await session.scalars(
                select(Criterion).where(Criterion.index_name == "PAR", Criterion.code == "8.1")
            )
        ).one()
        # Reported for 2023 in January 2024; 2024's milestone is the open one.
        await record_progress(
            session,
            officer=officer,
            criterion=item,
            percent=60,
            source="cli",
            source_update_id=None,
            now=datetime(2024, 1, 10, 3, tzinfo=UTC),
        )
    digests = await day(session_factory, when)
    lan = next(d for d in digests if d.officer_name == "Lan" and not d.escalation)
    line = next(line for line in lan.lines if line.code == "8.1" and line.index == "PAR")
    assert (line.kind, line.due_date) == (expected, date(2024, 12, 31))
