"""The storage layer: migrations, connection settings, column types, constraints."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, delete, func, inspect, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.db import make_engine, session_scope
from storage.migrate import head_revision, upgrade_database
from storage.models import (
    Absence,
    AssignmentOverride,
    AuditLog,
    Base,
    ChannelAccount,
    ConversationState,
    Criterion,
    Delivery,
    Escalation,
    Evidence,
    Invite,
    Milestone,
    Officer,
    Plan,
    PlanIndexClaim,
    PositionAlias,
    ProcessedUpdate,
    ProgressUpdate,
    ProvinceInvite,
    ProvinceUser,
    SendBudgetRow,
    Snooze,
    Unit,
    WebLogin,
    WebSession,
    ZaloInbox,
)
from storage.types import UTCDateTime, utcnow

HANOI = timezone(timedelta(hours=7))


def make_unit(name: str = "UBND xã Thử") -> Unit:
    return Unit(name=name, name_key=name.lower())


async def add_unit_with_everything(session: AsyncSession, name: str, update_id: int) -> Unit:
    """A unit with one row in every table that belongs to it."""
    unit = make_unit(name)
    session.add(unit)
    await session.flush()
    officer = Officer(unit_id=unit.id, name="Nguyễn Văn A", name_key="nguyen van a")
    plan = Plan(unit_id=unit.id, indexes=["PAR"], source_name="kh.txt", source_format="text")
    criterion = Criterion(unit_id=unit.id, index_name="PAR", code="1", ordinal=1, title="Việc")
    criterion.milestones.append(Milestone(unit_id=unit.id, due_date=date(2025, 3, 31)))
    plan.criteria.append(criterion)
    session.add_all([officer, plan])
    await session.flush()
    session.add(ChannelAccount(channel="telegram", external_id=name, officer_id=officer.id))
    session.add_all(
        [
            PositionAlias(
                unit_id=unit.id, alias_text="VP-TK", alias_key="vptk", position_code="VPTK"
            ),
            AssignmentOverride(unit_id=unit.id, criterion_id=criterion.id, officer_id=officer.id),
            PlanIndexClaim(unit_id=unit.id, plan_id=plan.id, period_key="", index_name="PAR"),
            ProgressUpdate(
                unit_id=unit.id,
                criterion_id=criterion.id,
                officer_id=officer.id,
                percent=50,
                status="in_progress",
                source="cli",
            ),
            Evidence(
                unit_id=unit.id,
                criterion_id=criterion.id,
                sha256="a" * 64,
                size_bytes=3,
                storage_path="aa/aaaa",
            ),
            Delivery(
                unit_id=unit.id,
                officer_id=officer.id,
                kind="due_7",
                key_date=date(2025, 3, 24),
                dedupe_key=f"{name}:due_7",
            ),
            AuditLog(unit_id=unit.id, actor="cli", action="import", entity="plan"),
            Snooze(
                unit_id=unit.id,
                officer_id=officer.id,
                criterion_id=criterion.id,
                until=date(2025, 3, 20),
            ),
            Absence(unit_id=unit.id, officer_id=officer.id, until=date(2025, 3, 28)),
            Escalation(unit_id=unit.id, criterion_id=criterion.id, milestone=date(2025, 3, 31)),
            Invite(
                unit_id=unit.id,
                officer_id=officer.id,
                code=f"code-{update_id}",
                expires_at=datetime(2025, 3, 31, tzinfo=UTC),
            ),
            ProcessedUpdate(unit_id=unit.id, channel="telegram", update_id=update_id),
            ConversationState(
                unit_id=unit.id,
                channel="telegram",
                chat_id=str(update_id),
                user_id=str(update_id),
                slot="await",
                data={"kind": "blocked"},
                expires_at=datetime(2025, 3, 31, tzinfo=UTC),
            ),
        ]
    )
    await session.flush()
    return unit


async def count(session: AsyncSession, model: type[Base]) -> int:
    return await session.scalar(select(func.count()).select_from(model)) or 0


# --- migrations ------------------------------------------------------------


async def test_migrations_create_sqlite_file_in_missing_directory(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade_database(url)
    await upgrade_database(url)  # a second run is a no-op

    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
            version = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    finally:
        await engine.dispose()
    assert tables == set(Base.metadata.tables) | {"alembic_version"}
    assert version == head_revision()


def _schema_diffs(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrated_schema_matches_models(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        assert await connection.run_sync(_schema_diffs) == []


async def test_database_starts_empty(session: AsyncSession) -> None:
    for model in (Unit, Officer, Plan, Criterion, ProgressUpdate, Delivery, ProcessedUpdate):
        assert await count(session, model) == 0


# --- connection settings ---------------------------------------------------


async def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'sub' / 'p.db'}")
    try:
        async with engine.connect() as connection:
            pragmas = {
                name: await connection.scalar(text(f"PRAGMA {name}"))
                for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
            }
    finally:
        await engine.dispose()
    assert pragmas == {
        "journal_mode": "wal",
        "busy_timeout": 5000,
        "foreign_keys": 1,
        "synchronous": 1,
    }


async def test_foreign_keys_are_enforced(session: AsyncSession) -> None:
    session.add(Plan(unit_id=999, indexes=[]))
    with pytest.raises(IntegrityError):
        await session.flush()


async def test_session_scope_commits_or_rolls_back(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_scope(session_factory) as session:
        session.add(make_unit("Xã Một"))
    with pytest.raises(RuntimeError):
        async with session_scope(session_factory) as session:
            session.add(make_unit("Xã Hai"))
            await session.flush()
            raise RuntimeError("boom")
    async with session_factory() as session:
        names = (await session.scalars(select(Unit.name))).all()
    assert names == ["Xã Một"]


# --- UTCDateTime -----------------------------------------------------------


async def test_utc_datetime_round_trips_aware_values(
    session: AsyncSession, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    local = datetime(2025, 1, 31, 23, 30, 15, 123456, tzinfo=HANOI)
    session.add(Unit(name="Xã Giờ", name_key="xa gio", created_at=local))
    await session.commit()

    async with session_factory() as fresh:
        unit = await fresh.scalar(select(Unit).where(Unit.created_at == local))
        later = await fresh.scalar(select(func.count()).where(Unit.created_at > local))
    assert unit is not None
    assert unit.created_at == local
    assert unit.created_at.tzinfo is UTC
    assert unit.created_at.hour == 16
    assert later == 0


async def test_utc_datetime_stores_naive_utc_text_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'naive.db'}"
    await upgrade_database(url)
    engine = make_engine(url)
    try:
        async with session_scope(_factory(engine)) as session:
            session.add(
                Unit(name="X", name_key="x", created_at=datetime(2025, 1, 1, 7, tzinfo=HANOI))
            )
        async with engine.connect() as connection:
            stored = await connection.scalar(text("SELECT created_at FROM units"))
    finally:
        await engine.dispose()
    assert stored == "2025-01-01 00:00:00.000000"


def _factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def test_utc_datetime_refuses_naive_values(session: AsyncSession) -> None:
    session.add(Unit(name="X", name_key="x", created_at=datetime(2025, 1, 1, 8, 0)))
    with pytest.raises(StatementError, match="naive datetime"):
        await session.flush()


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()])
def test_utc_datetime_bind_and_result(dialect: object) -> None:
    column_type = UTCDateTime()
    aware = datetime(2025, 6, 1, 12, tzinfo=HANOI)
    bound = column_type.process_bind_param(aware, dialect)  # type: ignore[arg-type]
    assert bound is not None
    assert bound.replace(tzinfo=bound.tzinfo or UTC) == aware
    assert column_type.process_result_value(bound, dialect) == aware  # type: ignore[arg-type]
    assert column_type.process_bind_param(None, dialect) is None  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="naive"):
        column_type.process_bind_param(datetime(2025, 6, 1), dialect)  # type: ignore[arg-type]


def test_utcnow_is_aware_utc() -> None:
    now = utcnow()
    assert now.tzinfo is UTC
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


# --- constraints ------------------------------------------------------------


async def _unit(session: AsyncSession) -> Unit:
    unit = make_unit()
    session.add(unit)
    await session.flush()
    return unit


def _delivery(unit: Unit, key: str) -> Delivery:
    return Delivery(unit_id=unit.id, kind="due_3", key_date=date(2025, 3, 28), dedupe_key=key)


async def test_delivery_dedupe_key_is_unique(session: AsyncSession) -> None:
    unit = await _unit(session)
    session.add(_delivery(unit, "officer:1|item:2|due_3|2025-03-28"))
    await session.commit()

    session.add(_delivery(unit, "officer:1|item:2|due_3|2025-03-28"))
    with pytest.raises(IntegrityError):
        await session.commit()
    await session.rollback()
    assert await count(session, Delivery) == 1


async def test_processed_update_is_unique_per_channel(session: AsyncSession) -> None:
    session.add_all(
        [
            ProcessedUpdate(unit_id=None, channel="telegram", update_id=5_000_000_001),
            ProcessedUpdate(unit_id=None, channel="zalo", update_id=5_000_000_001),
        ]
    )
    await session.commit()
    session.add(ProcessedUpdate(channel="telegram", update_id=5_000_000_001))
    with pytest.raises(IntegrityError):
        await session.commit()


async def _criterion(session: AsyncSession) -> Criterion:
    unit = await _unit(session)
    plan = Plan(unit_id=unit.id, indexes=["PAR"])
    criterion = Criterion(unit_id=unit.id, index_name="PAR", code="1", ordinal=1, title="T")
    plan.criteria.append(criterion)
    session.add(plan)
    await session.flush()
    return criterion


def _progress(criterion: Criterion, update_id: str | None, percent: int = 10) -> ProgressUpdate:
    return ProgressUpdate(
        unit_id=criterion.unit_id,
        criterion_id=criterion.id,
        percent=percent,
        status="in_progress",
        source="telegram",
        source_update_id=update_id,
    )


async def test_progress_source_update_id_is_idempotent_but_null_repeats(
    session: AsyncSession,
) -> None:
    criterion = await _criterion(session)
    session.add_all(
        [_progress(criterion, None), _progress(criterion, None), _progress(criterion, "7")]
    )
    await session.commit()
    session.add(_progress(criterion, "7"))
    with pytest.raises(IntegrityError):
        await session.commit()


async def test_progress_percent_must_be_within_0_and_100(session: AsyncSession) -> None:
    criterion = await _criterion(session)
    session.add(_progress(criterion, None, percent=101))
    with pytest.raises(IntegrityError):
        await session.flush()


async def test_criterion_identity_is_unique_within_a_plan(session: AsyncSession) -> None:
    criterion = await _criterion(session)
    twin = Criterion(
        unit_id=criterion.unit_id,
        plan_id=criterion.plan_id,
        index_name="PAR",
        code="1",
        ordinal=2,
        title="T again",
    )
    session.add(twin)
    with pytest.raises(IntegrityError):
        await session.flush()


async def test_milestones_load_in_order(
    session: AsyncSession, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    criterion = await _criterion(session)
    for ordinal, day in ((2, 30), (0, 10), (1, 20)):
        session.add(
            Milestone(
                unit_id=criterion.unit_id,
                criterion_id=criterion.id,
                due_date=date(2025, 4, day),
                ordinal=ordinal,
            )
        )
    await session.commit()
    async with session_factory() as fresh:
        loaded = await fresh.get(Criterion, criterion.id)
        assert loaded is not None
        assert [m.due_date.day for m in loaded.milestones] == [10, 20, 30]


async def test_json_list_edits_in_place_are_saved(
    session: AsyncSession, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    unit = await _unit(session)
    officer = Officer(unit_id=unit.id, name="B", name_key="b", roles=["officer"])
    session.add(officer)
    await session.commit()
    officer.roles.append("admin")
    unit.settings["reminder_hour"] = 8
    await session.commit()
    async with session_factory() as fresh:
        assert (await fresh.get(Officer, officer.id)).roles == ["officer", "admin"]  # type: ignore[union-attr]
        assert (await fresh.get(Unit, unit.id)).settings == {"reminder_hour": 8}  # type: ignore[union-attr]


# --- tenancy ----------------------------------------------------------------


async def test_deleting_a_unit_cascades_to_everything_it_owns(session: AsyncSession) -> None:
    doomed = await add_unit_with_everything(session, "Xã Bỏ", update_id=100)
    kept = await add_unit_with_everything(session, "Xã Giữ", update_id=200)
    session.add(ProcessedUpdate(unit_id=None, channel="telegram", update_id=1))
    await session.commit()

    await session.execute(delete(Unit).where(Unit.id == doomed.id))
    await session.commit()

    # Province users (and their invites) and web logins/sessions belong to no unit (an officer's
    # go with the officer), nor do channel accounts (a province user's has none) or a bot's send
    # budget; Zalo's inbox holds updates before anyone knows who sent them.
    unitless = {Unit, ProvinceUser, ProvinceInvite, WebLogin, WebSession, ChannelAccount,
                SendBudgetRow, ZaloInbox}  # fmt: skip
    owned = [m.class_ for m in Base.registry.mappers if m.class_ not in unitless]
    assert len(owned) == len(Base.metadata.tables) - len(unitless)
    for model in owned:
        remaining = await session.scalar(
            select(func.count()).select_from(model).where(model.unit_id == doomed.id)  # type: ignore[attr-defined]
        )
        assert remaining == 0, model.__tablename__
        kept_rows = await session.scalar(
            select(func.count()).select_from(model).where(model.unit_id == kept.id)  # type: ignore[attr-defined]
        )
        assert kept_rows == 1, model.__tablename__
    assert await count(session, ProcessedUpdate) == 2  # the kept unit's and the stranger's
    assert await count(session, ChannelAccount) == 1  # the doomed unit's officer's went with them


async def test_each_test_starts_empty_with_ids_from_one(session: AsyncSession) -> None:
    # Runs after tests that inserted rows: the fixture must have emptied the
    # tables and restarted the id sequences.
    assert await count(session, Unit) == 0
    unit = await _unit(session)
    assert unit.id == 1
