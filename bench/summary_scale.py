"""How long the weekly summary takes on a province-sized database.

Run: .venv/bin/python bench/summary_scale.py [--units 100] [--postgres URL]

Builds a fresh database (SQLite in a temporary folder, or the given PostgreSQL
server, where it creates and drops its own database): 100 units with 30
officers each, the five seed plans spread over them, and a year of progress
reports (about one a month per item) with evidence on the items done. Then it
prints the time to compute one unit's summary, all units' summaries, and the
SQL statements each summary issues — for a small plan and for the largest, to
show the count does not grow with the number of items. Targets: at most 50 ms
for one unit and 2 s for all 100.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import insert, select, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker  # noqa: E402

from core.plan_model import ParsedPlan  # noqa: E402
from core.plan_store import import_plan  # noqa: E402
from core.plans import parse_plan_file  # noqa: E402
from core.summary import compute_summary  # noqa: E402
from storage.db import make_engine, make_session_factory  # noqa: E402
from storage.migrate import upgrade_database  # noqa: E402
from storage.models import Criterion, Evidence, Officer, ProgressUpdate, Unit  # noqa: E402
from tests.seed_files import ALL_SEEDS  # noqa: E402
from tests.sql_counting import counted_statements  # noqa: E402

POSITIONS = ("VPTK", "TPHT", "TCKT", "VHXH", "DCXD", "CA", "QS", "NV", "MOTCUA")
AS_OF = date(2024, 6, 28)


def retarget(plan: ParsedPlan) -> ParsedPlan:
    """Move every plan into the year before AS_OF so a year of reports applies to all."""
    shift = 2024 - (plan.year or 2024)
    for criterion in plan.criteria:
        criterion.due_dates = [_shift(d, shift) for d in criterion.due_dates]
        for milestone in criterion.milestones:
            milestone.due_date = _shift(milestone.due_date, shift)
    plan.year, plan.period = 2024, (2024, 2024)
    return plan


def _shift(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


async def build(
    sessions: async_sessionmaker[AsyncSession], units: int, shared: Path, first: int = 0
) -> None:
    """``units`` communes, numbered from ``first`` (bench/web.py builds in two steps)."""
    plans = [(name, (shared / "seeds" / name).read_bytes()) for name in ALL_SEEDS]
    rng = random.Random(7 + first)
    for number in range(first, first + units):
        name, data = plans[number % len(plans)]
        async with sessions() as session, session.begin():
            report = await import_plan(
                session,
                unit_name=f"Xã Thử {number:03}",
                plan=retarget(parse_plan_file(data)),
                source_name=name,
                source_sha256=None,
                actor="bench",
            )
            unit = await session.scalar(select(Unit).where(Unit.name == f"Xã Thử {number:03}"))
            assert unit is not None and report.plan_id
            await _people_and_history(session, unit.id, rng)


async def _people_and_history(session: AsyncSession, unit_id: int, rng: random.Random) -> None:
    officers = [
        {
            "unit_id": unit_id,
            "name": f"Cán bộ {n:02}",
            "name_key": f"can bo {n:02}",
            "positions": [POSITIONS[n % len(POSITIONS)]],
            "roles": ["coordinator"] if n == 0 else ["leader"] if n == 1 else ["officer"],
            "created_at": datetime(2024, 1, 2, tzinfo=UTC),
        }
        for n in range(30)
    ]
    await session.execute(insert(Officer), officers)
    officer_ids = list(await session.scalars(select(Officer.id).where(Officer.unit_id == unit_id)))
    leaves = list(
        await session.scalars(
            select(Criterion.id).where(Criterion.unit_id == unit_id, Criterion.is_leaf.is_(True))
        )
    )
    reports, evidence = [], []
    for criterion_id in leaves:
        percent = 0
        for month in range(1, 7):
            percent = min(100, percent + rng.choice((0, 10, 20, 25)))
            status = "done" if percent == 100 else "in_progress" if percent else "not_started"
            moment = datetime(2024, month, rng.randint(1, 27), 3, tzinfo=UTC)
            reports.append(
                {
                    "unit_id": unit_id,
                    "criterion_id": criterion_id,
                    "officer_id": rng.choice(officer_ids),
                    "percent": percent,
                    "status": status,
                    "note": None,
                    "source": "bench",
                    "created_at": moment,
                }
            )
        if percent == 100 and rng.random() < 0.8:
            evidence.append(
                {
                    "unit_id": unit_id,
                    "criterion_id": criterion_id,
                    "sha256": f"{criterion_id:064x}",
                    "size_bytes": 1,
                    "storage_path": "x",
                    "created_at": datetime(2024, 6, 20, tzinfo=UTC),
                }
            )
    await session.execute(insert(ProgressUpdate), reports)
    if evidence:
        await session.execute(insert(Evidence), evidence)


async def measure(sessions: async_sessionmaker[AsyncSession], engine: object) -> None:
    async with sessions() as session:
        units = list(await session.scalars(select(Unit).order_by(Unit.id)))
        sizes = {
            unit_id: count
            for unit_id, count in (
                await session.execute(
                    text("SELECT unit_id, count(*) FROM criteria GROUP BY unit_id")
                )
            ).all()
        }
        reports = await session.scalar(text("SELECT count(*) FROM progress_updates"))
    print(f"units: {len(units)}, criteria: {sum(sizes.values())}, progress reports: {reports}")

    async with sessions() as session:
        await compute_summary(session, unit=units[0], as_of=AS_OF)  # warm-up
    one = []
    for unit in units[:20]:
        async with sessions() as session:
            started = time.perf_counter()
            await compute_summary(session, unit=unit, as_of=AS_OF)
            one.append((time.perf_counter() - started) * 1000)
    print(
        f"one unit's summary: median {statistics.median(one):.1f} ms, "
        f"max {max(one):.1f} ms over 20 units (target <= 50 ms)"
    )

    started = time.perf_counter()
    async with sessions() as session:
        for unit in units:
            await compute_summary(session, unit=unit, as_of=AS_OF)
    print(
        f"all {len(units)} units' summaries: {time.perf_counter() - started:.2f} s (target <= 2 s)"
    )

    small = min(units, key=lambda u: sizes[u.id])
    large = max(units, key=lambda u: sizes[u.id])
    for label, unit in (("smallest plan", small), ("largest plan", large)):
        print(
            f"SQL statements per summary, {label} ({sizes[unit.id]} criteria): "
            f"{await statements(sessions, engine, unit)}"
        )


async def statements(sessions: async_sessionmaker[AsyncSession], engine: object, unit: Unit) -> int:
    async with sessions() as session:
        with counted_statements(engine) as seen:  # type: ignore[arg-type]
            await compute_summary(session, unit=unit, as_of=AS_OF)
    return len(seen)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--postgres", help="postgresql+asyncpg://… server to use instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.postgres or f"sqlite+aiosqlite:///{folder}/bench.db"
        await upgrade_database(url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        started = time.perf_counter()
        await build(sessions, args.units, args.shared)
        print(f"built the database in {time.perf_counter() - started:.1f} s ({url.split(':')[0]})")
        await measure(sessions, engine)
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
