"""Progress reports, the overdue rule, and the unit overview built on them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.officers import add_officer
from core.overview import overdue_items
from core.plan_model import Milestone, ParsedCriterion, ParsedPlan
from core.plan_store import find_unit, import_plan
from core.progress import (
    NOT_STARTED,
    ProgressError,
    current_states,
    days_late,
    is_overdue,
    recent_updates,
    record_progress,
)
from storage.models import AuditLog, Criterion, Officer, ProgressUpdate, Unit
from tests.sql_counting import counted_statements

NOW = datetime(2024, 5, 6, 2, 30, tzinfo=UTC)


def item(
    code: str, leads: list[str], *dates: date, recurrence: str | None = None
) -> ParsedCriterion:
    return ParsedCriterion(
        index="PAR" if not code.startswith("S") else "SIPAS",
        code=code.removeprefix("S"),
        parent=None,
        title=f"Việc {code}",
        leads=leads,
        due_dates=list(dates),
        milestones=[Milestone(due_date=d, leads=leads) for d in dates],
        recurrence=recurrence,  # type: ignore[arg-type]
    )


ITEMS = [
    item("1", ["VPTK"], date(2024, 3, 31)),
    item("2", ["VPTK"], date(2024, 5, 10)),
    item("3", ["TPHT"], date(2024, 4, 30), date(2024, 12, 31)),
    item("4", ["ALL"], recurrence="continuous"),
    item("5", ["VPTK"]),
    item("S1", ["MOTCUA"], date(2024, 5, 1)),
]


async def setup(session: AsyncSession) -> tuple[Unit, dict[str, Criterion], Officer]:
    plan = ParsedPlan(unit="Xã Thử", year=2024, period=(2024, 2024), criteria=ITEMS)
    await import_plan(
        session, unit_name="Xã Thử", plan=plan, source_name=None, source_sha256=None, actor="t"
    )
    unit = await find_unit(session, name="Xã Thử")
    assert unit is not None
    clerk, _ = await add_officer(
        session, unit=unit, name="Vũ Văn Phòng", positions=["VPTK"], telegram_id=77, actor="t"
    )
    rows = await session.scalars(select(Criterion).order_by(Criterion.ordinal))
    return unit, {f"{'S' if r.index_name == 'SIPAS' else ''}{r.code}": r for r in rows}, clerk


async def rows_count(session: AsyncSession, model: type) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def report(
    session: AsyncSession,
    officer: Officer,
    criterion: Criterion,
    *,
    at: datetime = NOW,
    update_id: str | None = None,
    **kwargs: Any,
) -> ProgressUpdate | None:
    return await record_progress(
        session,
        officer=officer,
        criterion=criterion,
        source="telegram",
        source_update_id=update_id,
        now=at,
        **kwargs,
    )


# --- validation and inference -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"percent": 101}, "từ 0 đến 100"),
        ({"percent": -1}, "từ 0 đến 100"),
        ({}, "phần trăm"),
        ({"status": "paused"}, "Trạng thái không hợp lệ"),
        ({"status": "blocked"}, "lý do"),
        ({"status": "blocked", "note": "   "}, "lý do"),
        ({"status": "done", "percent": 60}, "100%"),
        ({"status": "not_started", "percent": 10}, "0%"),
        ({"status": "in_progress", "percent": 100}, "hoàn thành"),
    ],
)
async def test_invalid_reports_write_nothing(
    session: AsyncSession, kwargs: dict[str, Any], message: str
) -> None:
    _, rows, clerk = await setup(session)
    with pytest.raises(ProgressError, match=message):
        await report(session, clerk, rows["1"], update_id="9", **kwargs)
    await session.commit()
    assert await rows_count(session, ProgressUpdate) == 0
    assert await rows_count(session, AuditLog) == 2  # the plan import and the officer only
    assert clerk.last_activity_at is None


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"percent": 0}, (0, "not_started")),
        ({"percent": 35}, (35, "in_progress")),
        ({"percent": 100}, (100, "done")),
        ({"status": "done"}, (100, "done")),
        ({"status": "done", "percent": 100}, (100, "done")),
        ({"status": "not_started"}, (0, "not_started")),
        ({"status": "in_progress"}, (50, "in_progress")),  # keeps the last percent
        ({"status": "blocked", "note": "Thiếu kinh phí"}, (50, "blocked")),
        ({"status": "blocked", "percent": 0, "note": "Chưa có hướng dẫn"}, (0, "blocked")),
    ],
)
async def test_status_and_percent_inference(
    session: AsyncSession, kwargs: dict[str, Any], expected: tuple[int, str]
) -> None:
    _, rows, clerk = await setup(session)
    await report(session, clerk, rows["1"], percent=50, at=NOW - timedelta(hours=1))
    row = await report(session, clerk, rows["1"], **kwargs)
    assert row is not None and (row.percent, row.status) == expected


async def test_a_report_is_a_new_row_with_an_audit_trail(session: AsyncSession) -> None:
    _, rows, clerk = await setup(session)
    first = await report(session, clerk, rows["2"], percent=30, note=" Đã họp ", update_id="1")
    later = NOW + timedelta(days=1)
    await report(
        session, clerk, rows["2"], status="blocked", note="Chờ huyện", update_id="2", at=later
    )
    await session.commit()
    assert first is not None and first.note == "Đã họp" and first.officer_id == clerk.id
    assert first.unit_id == rows["2"].unit_id and first.created_at == NOW
    assert clerk.last_activity_at == later
    trail = list(
        await session.scalars(
            select(AuditLog).where(AuditLog.action == "progress.record").order_by(AuditLog.id)
        )
    )
    assert [(a.actor, a.entity_id, a.old, a.new) for a in trail] == [
        (
            "telegram:77",
            rows["2"].id,
            {"percent": 0, "status": "not_started", "note": None},
            {"percent": 30, "status": "in_progress", "note": "Đã họp", "source": "telegram"},
        ),
        (
            "telegram:77",
            rows["2"].id,
            {"percent": 30, "status": "in_progress", "note": "Đã họp"},
            {"percent": 30, "status": "blocked", "note": "Chờ huyện", "source": "telegram"},
        ),
    ]


async def test_the_same_update_twice_records_once(session: AsyncSession) -> None:
    _, rows, clerk = await setup(session)
    assert await report(session, clerk, rows["1"], percent=20, update_id="501") is not None
    assert await report(session, clerk, rows["1"], percent=90, update_id="501") is None
    other_channel = await record_progress(
        session,
        officer=clerk,
        criterion=rows["1"],
        percent=40,
        source="zalo",
        source_update_id="501",
        now=NOW,
    )
    await session.commit()
    assert other_channel is not None
    percents = await session.scalars(select(ProgressUpdate.percent).order_by(ProgressUpdate.id))
    assert list(percents) == [20, 40]
    audited = select(func.count()).where(AuditLog.action == "progress.record")
    assert await session.scalar(audited) == 2


async def test_a_twin_inserts_nothing_and_the_transaction_goes_on(session: AsyncSession) -> None:
    """The unique (source, update id) constraint stops the second delivery in its INSERT."""
    _, rows, clerk = await setup(session)
    await report(session, clerk, rows["1"], percent=20, update_id="600")
    assert await report(session, clerk, rows["1"], percent=70, update_id="600") is None
    # The caller's transaction survives and goes on.
    assert await report(session, clerk, rows["2"], percent=10, update_id="601") is not None
    await session.commit()
    assert [r.percent for r in await session.scalars(select(ProgressUpdate))] == [20, 10]


async def test_reports_on_another_units_item_are_refused(session: AsyncSession) -> None:
    unit, rows, _ = await setup(session)
    outsider = Officer(unit_id=unit.id + 1000, name="X", name_key="x", positions=[], roles=[])
    with pytest.raises(ProgressError, match="không thuộc đơn vị"):
        await report(session, outsider, rows["1"], percent=10)


# --- reading state back -------------------------------------------------------------------------


async def test_current_states_take_the_latest_report(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    _, rows, clerk = await setup(session)
    await report(session, clerk, rows["1"], percent=80, at=NOW + timedelta(hours=2))
    await report(session, clerk, rows["1"], percent=20, at=NOW)  # arrives late, happened earlier
    await report(session, clerk, rows["2"], percent=30, at=NOW)
    await report(session, clerk, rows["2"], status="blocked", note="Chờ", at=NOW)  # same instant
    await session.commit()
    ids = [rows[code].id for code in ("1", "2", "3")]
    with counted_statements(engine) as statements:
        states = await current_states(session, criterion_ids=ids)
    assert len(statements) == 1
    assert (states[ids[0]].percent, states[ids[0]].status) == (80, "in_progress")
    assert states[ids[0]].updated_at == NOW + timedelta(hours=2)
    assert (states[ids[1]].status, states[ids[1]].last_note) == ("blocked", "Chờ")
    assert states[ids[1]].officer_id == clerk.id
    assert ids[2] not in states and NOT_STARTED.status == "not_started"
    assert await current_states(session, criterion_ids=[]) == {}


async def test_recent_updates_newest_first(session: AsyncSession) -> None:
    _, rows, clerk = await setup(session)
    for hours, percent in ((0, 10), (3, 40), (1, 20), (2, 30)):
        await report(session, clerk, rows["1"], percent=percent, at=NOW + timedelta(hours=hours))
    latest = await recent_updates(session, criterion=rows["1"])
    assert [u.percent for u in latest] == [40, 30, 20]
    assert [u.percent for u in await recent_updates(session, criterion=rows["1"], limit=10)] == [
        40,
        30,
        20,
        10,
    ]


# --- the overdue rule ---------------------------------------------------------------------------


def test_overdue_rule() -> None:
    today = date(2024, 5, 6)
    past, future = date(2024, 4, 30), date(2024, 12, 31)
    assert is_overdue([past], "in_progress", None, today)
    assert days_late([past], "blocked", None, today) == 6
    assert not is_overdue([today], "not_started", None, today)  # due today is not late yet
    assert not is_overdue([past], "done", None, today)
    # "Thường xuyên" alone is never late; a dated step of an ongoing item can be.
    assert not is_overdue([], "in_progress", "continuous", today)
    assert is_overdue([past], "in_progress", "continuous", today)
    assert not is_overdue([], "not_started", None, today)
    assert days_late([date(2024, 3, 31), past, future], "in_progress", "quarterly", today) == 36
    assert days_late([future], "not_started", None, today) == 0
    # A report after the first quarter meets it; the April milestone is still open.
    quarters = [date(2024, 3, 31), past, future]
    assert days_late(quarters, "in_progress", "quarterly", today, [date(2024, 4, 2)]) == 6
    assert not is_overdue(
        quarters, "in_progress", "quarterly", today, [date(2024, 4, 2), date(2024, 5, 2)]
    )


# --- overview -----------------------------------------------------------------------------------


async def test_overdue_items_with_owners(session: AsyncSession) -> None:
    unit, rows, clerk = await setup(session)
    coordinator, _ = await add_officer(
        session, unit=unit, name="Đoàn Đầu Mối", positions=[], roles=["coordinator"], actor="t"
    )
    await report(session, clerk, rows["2"], percent=60)
    await report(session, coordinator, rows["S1"], status="done")
    overdue = await overdue_items(session, unit=unit, today=date(2024, 5, 11))
    assert [
        (o.criterion.index_name, o.criterion.code, [p.name for p in o.owners], o.days_late)
        for o in overdue
    ] == [
        ("PAR", "1", ["Vũ Văn Phòng"], 41),
        ("PAR", "3", ["Đoàn Đầu Mối"], 11),  # nobody holds TPHT
        ("PAR", "2", ["Vũ Văn Phòng"], 1),
    ]
    assert (overdue[2].due_date, overdue[2].status, overdue[2].percent) == (
        date(2024, 5, 10),
        "in_progress",
        60,
    )
    assert await overdue_items(session, unit=unit, today=date(2024, 3, 31)) == []
