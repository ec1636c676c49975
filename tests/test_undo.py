"""/hoantac and /vaitro at the core level: undo my last report or file; an admin sets roles."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.evidence import evidence_count, find_duplicate, new_incoming_path, store_evidence
from core.export import pack_contents
from core.officers import OfficerError, add_officer, change_roles
from core.plan_store import find_unit, import_plan
from core.progress import current_states, record_progress
from core.summary import compute_summary
from core.undo import UNDO_WINDOW, undo_last
from storage.models import AuditLog, Criterion, Evidence, Officer, ProgressUpdate, Unit
from tests.seed_files import PHUONG6, parsed_seed

NOW = datetime(2023, 12, 20, 2, 0, tzinfo=UTC)  # 09:00 in Vietnam
PHOTO = b"\xff\xd8\xff\xe0 bien ban hop"


@pytest.fixture
async def world(session: AsyncSession) -> tuple[Unit, Officer, Officer, dict[str, Criterion]]:
    await import_plan(
        session,
        unit_name="Phường 6",
        plan=parsed_seed(PHUONG6),
        source_name=PHUONG6,
        source_sha256=None,
        actor="t",
    )
    unit = await find_unit(session, name="Phường 6")
    assert unit is not None
    lan, _ = await add_officer(
        session, unit=unit, name="Lan", positions=["VPTK"], telegram_id=1, actor="t"
    )
    nam, _ = await add_officer(
        session, unit=unit, name="Nam", positions=["NV"], telegram_id=2, actor="t"
    )
    rows = await session.scalars(select(Criterion).where(Criterion.unit_id == unit.id))
    return unit, lan, nam, {row.code: row for row in rows}


async def report(
    session: AsyncSession, officer: Officer, criterion: Criterion, percent: int, at: datetime
) -> None:
    await record_progress(
        session,
        officer=officer,
        criterion=criterion,
        percent=percent,
        source="telegram",
        source_update_id=f"{officer.id}-{at.isoformat()}",
        now=at,
    )


async def send_file(
    session: AsyncSession, officer: Officer, criterion: Criterion, evidence_dir: Path, at: datetime
) -> Evidence:
    source = new_incoming_path(evidence_dir)
    source.write_bytes(PHOTO)
    result = await store_evidence(
        session,
        officer=officer,
        criterion=criterion,
        source=source,
        file_unique_id=None,
        mime="image/jpeg",
        original_name="bienban.jpg",
        caption=criterion.code,
        source_update_id=None,
        evidence_dir=evidence_dir,
        now=at,
    )
    return result.evidence


async def actions(session: AsyncSession) -> list[str]:
    rows = await session.scalars(
        select(AuditLog.action)
        .where(AuditLog.action.like("progress.%") | AuditLog.action.like("evidence.%"))
        .order_by(AuditLog.id)
    )
    return list(rows)


async def test_undo_takes_back_my_last_report_within_ten_minutes(
    session: AsyncSession, world: tuple[Unit, Officer, Officer, dict[str, Criterion]]
) -> None:
    _, lan, nam, rows = world
    item = rows["1.1"]
    await report(session, lan, item, 50, NOW)
    await report(session, lan, item, 100, NOW + timedelta(minutes=1))  # the wrong tap
    await report(session, nam, rows["1.2"], 25, NOW + timedelta(minutes=2))  # someone else's
    undone = await undo_last(session, officer=lan, now=NOW + timedelta(minutes=5), actor="t:1")
    assert undone is not None and undone.kind == "progress"
    assert (undone.criterion.code, undone.percent, undone.status) == ("1.1", 100, "done")
    assert (undone.state_now.percent, undone.state_now.status) == (50, "in_progress")
    states = await current_states(session, criterion_ids=[item.id, rows["1.2"].id])
    assert (states[item.id].percent, states[rows["1.2"].id].percent) == (50, 25)
    kept = list(await session.scalars(select(ProgressUpdate).order_by(ProgressUpdate.id)))
    assert [(r.percent, r.withdrawn_at is not None) for r in kept] == [
        (50, False),
        (100, True),
        (25, False),
    ]
    assert await actions(session) == ["progress.record"] * 3 + ["progress.withdraw"]
    # The 50 % report was made more than ten minutes before the next /hoantac.
    late = NOW + UNDO_WINDOW + timedelta(seconds=1)
    assert await undo_last(session, officer=lan, now=late, actor="t:1") is None
    states = await current_states(session, criterion_ids=[item.id])
    assert states[item.id].percent == 50


async def test_undo_withdraws_a_file_but_keeps_it(
    session: AsyncSession,
    world: tuple[Unit, Officer, Officer, dict[str, Criterion]],
    tmp_path: Path,
) -> None:
    unit, lan, _, rows = world
    item = rows["1.1"]
    evidence_dir = tmp_path / "evidence"
    await report(session, lan, item, 100, NOW)
    evidence = await send_file(session, lan, item, evidence_dir, NOW + timedelta(minutes=2))
    await session.commit()
    before = await compute_summary(session, unit=unit, as_of=date(2023, 12, 20))
    assert before.indexes[0].points is not None and before.indexes[0].points.secured == 2.0

    undone = await undo_last(session, officer=lan, now=NOW + timedelta(minutes=3), actor="t:1")
    await session.commit()
    assert undone is not None and (undone.kind, undone.file_name) == ("evidence", "bienban.jpg")
    assert (evidence_dir / evidence.storage_path).read_bytes() == PHOTO  # never deleted
    assert (await session.get_one(Evidence, evidence.id)).withdrawn_at == NOW + timedelta(minutes=3)
    assert await evidence_count(session, criterion_id=item.id) == 0
    # Not a duplicate any more: a resend is taken (and restores the row, below).
    assert await find_duplicate(session, criterion_id=item.id, sha256=evidence.sha256) is None
    assert (
        await find_duplicate(
            session, criterion_id=item.id, sha256=evidence.sha256, include_withdrawn=True
        )
        == evidence
    )
    after = await compute_summary(session, unit=unit, as_of=date(2023, 12, 20))
    points = after.indexes[0].points
    assert points is not None and (points.secured, points.at_risk) == (0.0, 2.0)
    assert after.evidence_added == 0
    pack = await pack_contents(session, unit=unit, year=2023, evidence_dir=evidence_dir)
    assert pack.files == [] and next(i for i in pack.items if i.code == "1.1").evidence_count == 0
    assert await actions(session) == ["progress.record", "evidence.add", "evidence.withdraw"]

    # The next /hoantac takes back the report made before the file.
    undone = await undo_last(session, officer=lan, now=NOW + timedelta(minutes=4), actor="t:1")
    assert undone is not None and undone.kind == "progress"
    assert (
        await undo_last(session, officer=lan, now=NOW + timedelta(minutes=4), actor="t:1") is None
    )

    # Sent again, the same file counts again (the unique row is restored, not duplicated).
    again = await send_file(session, lan, item, evidence_dir, NOW + timedelta(minutes=6))
    assert again.id == evidence.id and again.withdrawn_at is None
    assert await evidence_count(session, criterion_id=item.id) == 1
    assert (await actions(session))[-1] == "evidence.restore"


async def test_an_admin_sets_an_existing_officers_role(
    session: AsyncSession, world: tuple[Unit, Officer, Officer, dict[str, Criterion]]
) -> None:
    _, lan, nam, _ = world
    with pytest.raises(OfficerError, match="Chỉ quản trị viên"):
        await change_roles(session, admin=nam, officer=lan, roles_text="lãnh đạo", actor="t:2")
    lan.roles = ["officer", "admin"]
    roles = await change_roles(
        session, admin=lan, officer=nam, roles_text="Đầu mối; lãnh đạo", actor="t:1"
    )
    assert roles == ["coordinator", "leader"] and nam.roles == ["coordinator", "leader"]
    with pytest.raises(OfficerError, match="Vai trò «sếp» không hợp lệ"):
        await change_roles(session, admin=lan, officer=nam, roles_text="sếp", actor="t:1")
    with pytest.raises(OfficerError, match="tự bỏ vai trò quản trị"):
        await change_roles(session, admin=lan, officer=lan, roles_text="cán bộ", actor="t:1")
    other, _ = await add_officer(
        session,
        unit=(await _other_unit(session)),
        name="Khác",
        roles=["admin"],
        positions=[],
        actor="t",
    )
    with pytest.raises(OfficerError, match="Chỉ quản trị viên"):
        await change_roles(session, admin=other, officer=nam, roles_text="cán bộ", actor="t:9")
    assert nam.roles == ["coordinator", "leader"]
    audits = list(await session.scalars(select(AuditLog).where(AuditLog.action == "officer.roles")))
    assert [(a.actor, a.actor_officer_id, a.old, a.new) for a in audits] == [
        ("t:1", lan.id, {"roles": ["officer"]}, {"roles": ["coordinator", "leader"]})
    ]


async def _other_unit(session: AsyncSession) -> Unit:
    unit = Unit(name="Xã Khác", name_key="xa khac")
    session.add(unit)
    await session.flush()
    return unit
