"""Issue 18: one plan year at a time, history kept, and merged units.

Everything runs on the real database (SQLite, or PostgreSQL with
DONDOC_TEST_DATABASE_URL) with the day passed in: no clock is read.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.cli import main
from bot.settings import Settings
from core.evidence import new_incoming_path, store_evidence
from core.export import pack_contents
from core.items import Ambiguous, Resolved, Unknown, live_leaf_criteria, resolve_code
from core.officers import add_officer, create_invite
from core.overview import overdue_items
from core.ownership import officer_items
from core.plan_model import Milestone, ParsedCriterion, ParsedPlan
from core.plan_store import find_unit, import_plan
from core.plan_years import PlanCloseError, close_plans, current_plans_text, plan_statuses
from core.progress import record_progress
from core.reminders import plan_day
from core.summary import compute_summary
from core.unit_merge import merge_units
from core.unit_snapshot import unit_snapshot
from handlers.lookup import button_title
from storage.models import (
    AuditLog,
    ChannelAccount,
    Criterion,
    Evidence,
    Invite,
    Officer,
    Plan,
    Unit,
)
from tests.e2e import running_bot
from tests.e2e_support import press, say
from tests.seed_files import PHUONG6, seed_bytes

Sessions = async_sessionmaker[AsyncSession]
PHOTO = b"\xff\xd8\xff\xe0 bien ban"
ADMIN = 1000


async def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def parsed(
    start: int,
    end: int | None = None,
    *,
    index: str = "PAR",
    codes: tuple[str, ...] = ("1.1", "1.2"),
) -> ParsedPlan:
    """A plan of leaf items, each due on 30 June of the plan's last year."""
    last = end or start
    due = date(last, 6, 30)
    criteria = [
        ParsedCriterion(
            index=index,
            code=code,
            parent=None,
            title=f"Việc {code} năm {start}",
            max_points=1.0,
            target_points=1.0,
            leads=["VPTK"],
            due_dates=[due],
            milestones=[Milestone(due_date=due, leads=["VPTK"])],
        )
        for code in codes
    ]
    return ParsedPlan(unit=None, year=start, period=(start, last), criteria=criteria)


async def load(session: AsyncSession, unit: str, plan: ParsedPlan) -> int:
    report = await import_plan(
        session, unit_name=unit, plan=plan, source_name=None, source_sha256=None, actor="t"
    )
    await session.commit()
    return report.plan_id


async def unit_named(session: AsyncSession, name: str) -> Unit:
    unit = await find_unit(session, name=name)
    assert unit is not None
    return unit


async def officer(session: AsyncSession, unit: Unit, name: str, telegram_id: int) -> Officer:
    found, _ = await add_officer(
        session, unit=unit, name=name, positions=["VPTK"], telegram_id=telegram_id, actor="t"
    )
    await session.commit()
    return found


async def current_plans(session: AsyncSession, unit: Unit, day: date) -> set[int]:
    """The plans whose items the officers are chased about on ``day``."""
    return {c.plan_id for c in await live_leaf_criteria(session, unit_id=unit.id, day=day)}


async def report(session: AsyncSession, who: Officer, item: Criterion, at: datetime) -> None:
    await record_progress(
        session,
        officer=who,
        criterion=item,
        percent=100,
        source="telegram",
        source_update_id=f"{who.id}-{item.id}-{at.isoformat()}",
        now=at,
    )
    await session.commit()


async def send_file(
    session: AsyncSession, who: Officer, item: Criterion, evidence_dir: Path, at: datetime
) -> None:
    source = new_incoming_path(evidence_dir)
    source.write_bytes(PHOTO + str(item.id).encode() + at.isoformat().encode())
    await store_evidence(
        session,
        officer=who,
        criterion=item,
        source=source,
        file_unique_id=None,
        mime="image/jpeg",
        original_name="bienban.jpg",
        caption=item.code,
        source_update_id=None,
        evidence_dir=evidence_dir,
        now=at,
    )
    await session.commit()


async def resolved(session: AsyncSession, unit: Unit, code: str, day: date) -> Criterion:
    found = await resolve_code(session, unit=unit, text=code, day=day)
    assert isinstance(found, Resolved), found
    return found.criterion


async def test_2024_then_2026_only_the_current_years_items_nag(session: AsyncSession) -> None:
    old = await load(session, "Xã Tân Đức", parsed(2024))
    unit = await unit_named(session, "Xã Tân Đức")
    lan = await officer(session, unit, "Lan", 1)
    summary_2024 = await compute_summary(session, unit=unit, as_of=date(2024, 12, 31))
    # No 2025 plan: 2024's stays current through 2025, and the admin is told so.
    assert await current_plans(session, unit, date(2025, 9, 1)) == {old}
    statuses = await plan_statuses(session, unit_id=unit.id, day=date(2025, 9, 1))
    assert "của năm 2024, chưa có kế hoạch năm 2025" in statuses[0].status
    assert "năm trước" in current_plans_text(statuses, year=2025)

    new = await load(session, "Xã Tân Đức", parsed(2026))
    day = date(2026, 8, 3)  # a Monday: reminders go out
    assert await current_plans(session, unit, day) == {new}
    mine = await officer_items(session, officer=lan, today=day)
    every = mine.overdue + mine.due_7 + mine.later + mine.ongoing + mine.unscheduled
    assert sorted(v.title for v in every) == ["Việc 1.1 năm 2026", "Việc 1.2 năm 2026"]
    late = await overdue_items(session, unit=unit, today=day)
    assert [(o.criterion.plan_id, o.days_late) for o in late] == [(new, 34), (new, 34)]
    assert (await resolved(session, unit, "1.1", day)).plan_id == new
    digests = await plan_day(session, unit=unit, day=day)
    assert digests and {line.criterion_id for d in digests for line in d.lines} <= {
        c.id for c in await live_leaf_criteria(session, unit_id=unit.id, day=day)
    }
    summary_2026 = await compute_summary(session, unit=unit, as_of=day)
    assert [len(i.items) for i in summary_2026.indexes] == [2]  # each area once
    # The 2024 summary is the one computed before the 2026 import.
    assert await compute_summary(session, unit=unit, as_of=date(2024, 12, 31)) == summary_2024
    statuses = await plan_statuses(session, unit_id=unit.id, day=day)
    assert [(s.plan.id, s.status) for s in statuses] == [(old, "đã qua"), (new, "hiện hành")]


async def test_an_early_import_in_december_takes_over_on_1_january(session: AsyncSession) -> None:
    old = await load(session, "Phường 6", parsed(2025))
    unit = await unit_named(session, "Phường 6")
    await officer(session, unit, "Lan", 1)
    before = await plan_day(session, unit=unit, day=date(2025, 12, 15))
    new = await load(session, "Phường 6", parsed(2026))
    assert await current_plans(session, unit, date(2025, 12, 15)) == {old}
    assert await plan_day(session, unit=unit, day=date(2025, 12, 15)) == before
    statuses = await plan_statuses(session, unit_id=unit.id, day=date(2025, 12, 31))
    assert statuses[1].status == "sắp tới (hiện hành từ 01/01/2026)"
    # One transaction, no write in between: the cached facts still turn over with the year.
    last = await unit_snapshot(session, unit_id=unit.id, day=date(2025, 12, 31))
    first = await unit_snapshot(session, unit_id=unit.id, day=date(2026, 1, 1))
    assert (last.plan_ids, first.plan_ids) == ({old}, {new})
    assert {i.title for i in first.items} == {"Việc 1.1 năm 2026", "Việc 1.2 năm 2026"}
    assert (await resolved(session, unit, "1.2", date(2026, 1, 1))).plan_id == new


async def test_a_late_import_in_february_leaves_no_gap(session: AsyncSession) -> None:
    old = await load(session, "Phường 7", parsed(2025))
    unit = await unit_named(session, "Phường 7")
    lan = await officer(session, unit, "Lan", 1)
    # January: last year's plan still nags, and a report goes to its item.
    january = date(2026, 1, 20)
    assert await current_plans(session, unit, january) == {old}
    item = await resolved(session, unit, "1.1", january)
    await report(session, lan, item, datetime(2026, 1, 20, 3, tzinfo=UTC))
    summary_2025 = await compute_summary(session, unit=unit, as_of=date(2025, 12, 31))
    new = await load(session, "Phường 7", parsed(2026))
    assert await current_plans(session, unit, date(2026, 2, 10)) == {new}
    assert await compute_summary(session, unit=unit, as_of=date(2025, 12, 31)) == summary_2025
    statuses = await plan_statuses(session, unit_id=unit.id, day=date(2026, 2, 10))
    assert current_plans_text(statuses, year=2026) == "Kế hoạch hiện hành: PAR 2026."


async def test_several_indexes_in_separate_documents_are_current_together(
    session: AsyncSession,
) -> None:
    await load(session, "Xã Hòa", parsed(2025))
    await load(session, "Xã Hòa", parsed(2025, index="PCI"))
    unit = await unit_named(session, "Xã Hòa")
    par = await load(session, "Xã Hòa", parsed(2026))
    # Per unit, not per index: 2025's PCI is history once any 2026 plan is in.
    assert await current_plans(session, unit, date(2026, 3, 1)) == {par}
    pci = await load(session, "Xã Hòa", parsed(2026, index="PCI", codes=("2.1",)))
    assert await current_plans(session, unit, date(2026, 3, 1)) == {par, pci}
    facts = await unit_snapshot(session, unit_id=unit.id, day=date(2026, 3, 1))
    assert facts.indexes == {"PAR", "PCI"}
    assert (await resolved(session, unit, "PCI 2.1", date(2026, 3, 1))).plan_id == pci
    summary = await compute_summary(session, unit=unit, as_of=date(2026, 3, 1))
    assert [i.index for i in summary.indexes] == ["PAR", "PCI"]


async def test_a_three_year_plan_is_current_through_its_last_year(session: AsyncSession) -> None:
    long = await load(session, "Xã Dài", parsed(2023, 2025))
    unit = await unit_named(session, "Xã Dài")
    for day in (date(2023, 2, 1), date(2024, 7, 1), date(2025, 12, 31), date(2026, 1, 5)):
        assert await current_plans(session, unit, day) == {long}
    statuses = await plan_statuses(session, unit_id=unit.id, day=date(2026, 1, 5))
    assert "năm trước" in current_plans_text(statuses, year=2026)
    single = await load(session, "Xã Dài", parsed(2026))
    assert await current_plans(session, unit, date(2026, 1, 5)) == {single}
    assert await current_plans(session, unit, date(2024, 7, 1)) == {long}


async def test_codes_shared_between_years_and_an_ambiguous_choice_shows_the_year(
    session: AsyncSession,
) -> None:
    long = await load(session, "Xã Mã", parsed(2024, 2026))
    single = await load(session, "Xã Mã", parsed(2026))
    unit = await unit_named(session, "Xã Mã")
    # 2025: only the multi-year plan covers it; its 1.1 is meant.
    assert (await resolved(session, unit, "1.1", date(2025, 5, 1))).plan_id == long
    # 2026: both cover it, so 1.1 is ambiguous, and each button names its plan's year.
    found = await resolve_code(session, unit=unit, text="1.1", day=date(2026, 5, 1))
    assert isinstance(found, Ambiguous)
    assert [c.plan_id for c in found.options] == [long, single]
    years = {long: "2024–2026", single: "2026"}
    titles = [button_title(c, year=years[c.plan_id]) for c in found.options]
    assert titles == ["PAR 1.1 (2024–2026) Việc 1.1 năm 2024", "PAR 1.1 (2026) Việc 1.1 năm 2026"]


async def test_plan_close_ends_a_plan_by_hand_audited_and_once(session: AsyncSession) -> None:
    await load(session, "Xã Đóng", parsed(2026))
    pci = await load(session, "Xã Đóng", parsed(2026, index="PCI"))
    unit = await unit_named(session, "Xã Đóng")
    closed = await close_plans(session, unit=unit, year=2026, index="pci", actor="cli")
    await session.commit()
    assert [p.id for p in closed] == [pci]
    assert pci not in await current_plans(session, unit, date(2026, 4, 1))
    again = await close_plans(session, unit=unit, year=2026, index="PCI", actor="cli")
    assert again == []
    audits = await session.scalar(
        select(func.count()).select_from(AuditLog).where(AuditLog.action == "plan.close")
    )
    assert audits == 1
    try:
        await close_plans(session, unit=unit, year=2019, index=None, actor="cli")
    except PlanCloseError as exc:
        assert "không có kế hoạch năm 2019" in str(exc)
    else:
        raise AssertionError("closing a year without a plan must be refused")
    statuses = await plan_statuses(session, unit_id=unit.id, day=date(2026, 4, 1))
    assert [s.status for s in statuses] == ["hiện hành", "đã đóng"]


async def test_a_merge_keeps_both_old_plans_as_history_then_the_new_plan_imports(
    session: AsyncSession, session_factory: Sessions, tmp_path: Path
) -> None:
    evidence_dir = tmp_path / "evidence"
    plans = {
        "Xã A": await load(session, "Xã A", parsed(2025)),
        "Xã B": await load(session, "Xã B", parsed(2025)),
    }
    done_at = datetime(2025, 9, 1, 3, tzinfo=UTC)
    workers: dict[str, Officer] = {}
    for n, (name, person) in enumerate((("Xã A", "Lan"), ("Xã B", "Hoa")), start=1):
        unit = await unit_named(session, name)
        workers[name] = await officer(session, unit, person, n)
        if name == "Xã B":  # a namesake of A's Lan, owning nothing
            await add_officer(session, unit=unit, name="Lan", positions=["NV"], actor="t")
        item = await resolved(session, unit, "1.1", date(2025, 9, 1))
        await report(session, workers[name], item, done_at)
        await send_file(session, workers[name], item, evidence_dir, done_at)
    a = await unit_named(session, "Xã A")
    old_ids = [a.id, (await unit_named(session, "Xã B")).id]
    invite = await create_invite(
        session, unit=a, officer=workers["Xã A"], actor="t", now=datetime.now(UTC)
    )
    invite_id = invite.id
    await session.commit()
    end_2025 = date(2025, 12, 31)
    before = {
        name: await compute_summary(session, unit=await unit_named(session, name), as_of=end_2025)
        for name in plans
    }
    packs_before = {
        name: await pack_contents(
            session, unit=await unit_named(session, name), year=2025, evidence_dir=evidence_dir
        )
        for name in plans
    }

    async with session_factory() as other, other.begin():
        merged = await merge_units(other, sources=["Xã A", "Xã B"], into="Xã C", actor="cli")
    assert merged.target_created and merged.moved["plans"] == 2
    assert merged.moved["officers"] == 3 and merged.moved["evidence"] == 2
    assert merged.renamed_officers == ["Lan (Xã B)"]
    session.expire_all()
    c = await unit_named(session, "Xã C")
    moved = list(await session.scalars(select(Plan).where(Plan.unit_id == c.id)))
    assert {(p.id, p.origin_unit_id, p.period_start) for p in moved} == {
        (plans["Xã A"], old_ids[0], 2025),
        (plans["Xã B"], old_ids[1], 2025),
    }
    # Both 2025 plans are history: nothing nags, no code resolves to them.
    assert await current_plans(session, c, date(2025, 9, 1)) == set()
    assert isinstance(
        await resolve_code(session, unit=c, text="1.1", day=date(2026, 1, 5)), Unknown
    )
    telegram_ids = await session.scalars(
        select(ChannelAccount.external_id)
        .join(Officer, Officer.id == ChannelAccount.officer_id)
        .where(Officer.unit_id == c.id)
    )
    assert sorted(int(t) for t in telegram_ids if t) == [1, 2]  # their chat links came along
    cancelled = await session.get_one(Invite, invite_id)
    assert cancelled.expires_at <= datetime.now(UTC)
    # The 2025 summary of the merged unit shows each old unit's plan apart, as it was.
    summary = await compute_summary(session, unit=c, as_of=end_2025)
    assert [i.index for i in summary.indexes] == ["PAR (Xã A)", "PAR (Xã B)"]
    for index, name in zip(summary.indexes, plans, strict=True):
        (old,) = before[name].indexes
        assert (index.totals, index.points, index.items) == (old.totals, old.points, old.items)
    pack = await pack_contents(session, unit=c, year=2025, evidence_dir=evidence_dir)
    assert [f.path for f in pack.files] == [f.path for p in packs_before.values() for f in p.files]
    assert {f.index for f in pack.files} == {"PAR (Xã A)", "PAR (Xã B)"}

    # Run again: nothing more changes, no second audit row.
    async with session_factory() as other, other.begin():
        again = await merge_units(other, sources=["Xã A", "Xã B"], into="Xã C", actor="cli")
    assert not again.changed
    audits = await session.scalar(
        select(func.count()).select_from(AuditLog).where(AuditLog.action == "unit.merge")
    )
    assert audits == 3  # one row on each of the three units, once

    # The merged unit's own 2026 plan is its current plan; 2025 stays as it was.
    new = await load(session, "Xã C", parsed(2026))
    day = date(2026, 3, 2)
    assert await current_plans(session, c, day) == {new}
    item = await resolved(session, c, "1.1", day)
    assert item.plan_id == new
    lan = await session.scalar(
        select(Officer).where(Officer.name == "Lan", Officer.unit_id == c.id)
    )
    assert lan is not None
    await report(session, lan, item, datetime(2026, 3, 2, 3, tzinfo=UTC))
    await send_file(session, lan, item, evidence_dir, datetime(2026, 3, 2, 3, tzinfo=UTC))
    assert await compute_summary(session, unit=c, as_of=end_2025) == summary
    after = await pack_contents(session, unit=c, year=2025, evidence_dir=evidence_dir)
    assert (after.items, after.files) == (pack.items, pack.files)
    files_2026 = await session.scalar(
        select(func.count()).select_from(Evidence).where(Evidence.criterion_id == item.id)
    )
    assert files_2026 == 1
    # A 2025 plan imported into the merged unit is its own, not an update of A's or B's.
    own_2025 = await load(session, "Xã C", parsed(2025))
    assert own_2025 not in plans.values()
    assert await current_plans(session, c, date(2025, 9, 1)) == {own_2025}
    pack = await pack_contents(session, unit=c, year=2025, evidence_dir=evidence_dir)
    assert [(i.index, i.owners) for i in pack.items][::2] == [
        ("PAR (Xã A)", ["Lan"]),
        ("PAR (Xã B)", ["Hoa"]),
        ("PAR", ["Hoa", "Lan"]),
    ]
    await close_plans(session, unit=c, year=2025, index=None, actor="t")
    await session.commit()
    summary = await compute_summary(session, unit=c, as_of=end_2025)  # closed after that day
    assert [i.index for i in summary.indexes] == ["PAR (Xã A)", "PAR (Xã B)", "PAR"]


async def test_past_summaries_and_packs_survive_later_years(
    session: AsyncSession, tmp_path: Path
) -> None:
    """A year's summary and pack, then later progress, evidence and imports (early, late)."""
    evidence_dir = tmp_path / "evidence"
    await load(session, "Xã Sử", parsed(2024))
    unit = await unit_named(session, "Xã Sử")
    lan = await officer(session, unit, "Lan", 1)
    at = datetime(2024, 5, 2, 3, tzinfo=UTC)
    first = await resolved(session, unit, "1.1", at.date())
    await report(session, lan, first, at)
    await send_file(session, lan, first, evidence_dir, at)

    async def year_2024() -> tuple[object, ...]:
        summary = await compute_summary(session, unit=unit, as_of=date(2024, 12, 31))
        pack = await pack_contents(session, unit=unit, year=2024, evidence_dir=evidence_dir)
        return (summary, pack.items, pack.files)

    kept = await year_2024()
    # A late 2025 import (in March), with January's report on the 2024 plan before it.
    await load(session, "Xã Sử", parsed(2025))
    await load(session, "Xã Sử", parsed(2026))  # and an early 2026 one in December 2025
    for day in (date(2025, 3, 1), date(2026, 2, 1)):
        item = await resolved(session, unit, "1.2", day)
        assert item.plan_id != first.plan_id
        moment = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=3)
        await report(session, lan, item, moment)
        await send_file(session, lan, item, evidence_dir, moment)
    assert await year_2024() == kept


async def test_the_admin_sees_the_current_plan_in_kehoach(
    settings: Settings, session_factory: Sessions
) -> None:
    """/kehoach says which plan is current, and when it is an earlier year's (no new plan yet)."""
    start = datetime(2023, 3, 6, 2, tzinfo=UTC)
    async with running_bot(settings, session_factory, admin_telegram_ids=[ADMIN], now=start) as bot:
        await say(bot, ADMIN, "/start")
        mark = bot.tg.checkpoint()
        await bot.tg.send_document(
            ADMIN, seed_bytes(PHUONG6), PHUONG6, "text/plain", caption="/kehoach"
        )
        preview = await bot.tg.wait_for(lambda m: m.chat_id == ADMIN, after=mark)
        done = await press(bot, ADMIN, preview, texts.CONFIRM)
        assert done.content.endswith("Kế hoạch hiện hành: PAR 2023.")
        bot.clock.set(datetime(2024, 2, 5, 2, tzinfo=UTC))
        asked = await say(bot, ADMIN, "/kehoach")
        assert asked.content == (
            "Kế hoạch hiện hành: PAR 2023, của năm trước (chưa có kế hoạch năm 2024; "
            f"vẫn nhắc việc theo kế hoạch này đến khi nhập kế hoạch mới).\n{texts.ASK_PLAN_FILE}"
        )


async def test_cli_plan_list_close_and_unit_merge(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    session: AsyncSession,
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    this_year = datetime.now(UTC).year  # the CLI's "today" is the real one
    await load(session, "Xã A", parsed(this_year - 1))
    await load(session, "Xã A", parsed(this_year))
    await load(session, "Xã B", parsed(this_year, index="PCI"))
    code, out, _ = await cli(capsys, "plan", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("Xã A\t") and lines[0].endswith("\tđã qua")
    assert lines[1].endswith("\thiện hành") and lines[2].endswith("\thiện hành")
    code, out, _ = await cli(capsys, "plan", "close", "--unit", "xa a", "--year", str(this_year))
    assert code == 0 and out.startswith(f"Đã đóng kế hoạch PAR {this_year} của Xã A")
    code, out, _ = await cli(capsys, "plan", "list")
    assert out.splitlines()[1].endswith("\tđã đóng")
    code, _, err = await cli(capsys, "plan", "close", "--unit", "Xã A", "--year", "1999")
    assert code == 2 and "không có kế hoạch năm 1999" in err
    code, out, _ = await cli(capsys, "unit", "merge", "Xã A", "Xã B", "--into", "Xã C")
    assert code == 0 and out.startswith("Đã sáp nhập Xã A, Xã B vào Xã C: 0 cán bộ, 3 kế hoạch")
    code, out, _ = await cli(capsys, "unit", "merge", "Xã A", "Xã B", "--into", "Xã C")
    assert code == 0 and "từ trước: không đổi gì" in out
    code, out, _ = await cli(capsys, "plan", "list")
    assert [line.split("\t")[-1] for line in out.splitlines()] == [
        "lịch sử (từ Xã A)",
        "lịch sử (từ Xã A)",
        "lịch sử (từ Xã B)",
    ]
