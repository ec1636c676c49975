"""core.unit_snapshot: a unit's officers and items, cached while units.data_version holds.

The cache must never answer with facts older than the caller's transaction:
not after another session's commit, not after the caller's own change, not
after a rollback.
"""

from __future__ import annotations

from sqlalchemy import delete, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.unit_snapshot import WATCHED_TABLES, unit_snapshot
from storage.models import AssignmentOverride, Criterion, Officer
from tests.sql_counting import counted_statements
from tests.test_unit_data_version import World, make_world, new_officer


async def committed_world(sessions: async_sessionmaker[AsyncSession]) -> World:
    async with sessions() as session:
        world = await make_world(session, "Xã A")
        await session.commit()
    return world


async def test_a_second_transaction_reads_one_small_query(
    session_factory: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    world = await committed_world(session_factory)
    async with session_factory() as session:
        first = await unit_snapshot(session, unit_id=world.unit.id)
    async with session_factory() as session:
        with counted_statements(engine) as statements:
            again = await unit_snapshot(session, unit_id=world.unit.id)
            once_more = await unit_snapshot(session, unit_id=world.unit.id)
    assert again is first and once_more is first
    assert len(statements) == 1  # the version, once per transaction
    assert [item.code for item in first.items] == ["1", "2"]
    assert first.overrides == {world.criteria["1"].id: world.officer.id}


async def test_another_sessions_commit_is_seen(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    world = await committed_world(session_factory)
    async with session_factory() as session:
        before = await unit_snapshot(session, unit_id=world.unit.id)
    async with session_factory() as other:
        other.add(new_officer(world.unit, "Người mới"))
        await other.execute(
            update(Criterion)
            .where(Criterion.id == world.criteria["2"].id)
            .values(title="Việc hai, sửa lại")
        )
        await other.commit()
    async with session_factory() as session:
        after = await unit_snapshot(session, unit_id=world.unit.id)
    assert after.version != before.version
    assert "Người mới" in {p.name for p in after.people.by_id.values()}
    assert after.by_id[world.criteria["2"].id].title == "Việc hai, sửa lại"
    assert "Người mới" not in {p.name for p in before.people.by_id.values()}


async def test_the_callers_own_change_is_seen_at_once(session: AsyncSession) -> None:
    world = await make_world(session, "Xã A")
    await session.commit()
    before = await unit_snapshot(session, unit_id=world.unit.id)
    assert world.officer.id in before.people.by_id
    world.officer.active = False  # an ORM change, flushed by the next query
    without = await unit_snapshot(session, unit_id=world.unit.id)
    assert world.officer.id not in without.people.by_id
    await session.execute(
        delete(AssignmentOverride).where(AssignmentOverride.unit_id == world.unit.id)
    )
    assert (await unit_snapshot(session, unit_id=world.unit.id)).overrides == {}


async def test_a_rolled_back_change_never_comes_back(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    world = await committed_world(session_factory)
    async with session_factory() as session:
        session.add(new_officer(world.unit, "Chỉ thoáng qua"))
        seen = await unit_snapshot(session, unit_id=world.unit.id)
        assert "Chỉ thoáng qua" in {p.name for p in seen.people.by_id.values()}
        await session.rollback()
        after = await unit_snapshot(session, unit_id=world.unit.id)
    assert "Chỉ thoáng qua" not in {p.name for p in after.people.by_id.values()}
    async with session_factory() as session:
        await session.execute(
            update(Officer).where(Officer.id == world.officer.id).values(roles=["coordinator"])
        )
        await session.commit()
        latest = await unit_snapshot(session, unit_id=world.unit.id)
    assert "Chỉ thoáng qua" not in {p.name for p in latest.people.by_id.values()}
    assert latest.people.by_id[world.officer.id].roles == ("coordinator",)


async def test_units_do_not_share_facts(session: AsyncSession) -> None:
    a: World = await make_world(session, "Xã A")
    b: World = await make_world(session, "Xã B")
    await session.commit()
    facts_a = await unit_snapshot(session, unit_id=a.unit.id)
    facts_b = await unit_snapshot(session, unit_id=b.unit.id)
    assert set(facts_a.people.by_id) == {a.officer.id}
    assert set(facts_b.people.by_id) == {b.officer.id}
    assert not set(facts_a.by_id) & set(facts_b.by_id)


async def test_the_watched_tables_are_those_with_triggers(session: AsyncSession) -> None:
    dialect = session.bind.dialect.name if session.bind is not None else ""
    if dialect == "postgresql":
        query = text("SELECT DISTINCT event_object_table FROM information_schema.triggers")
    else:
        query = text("SELECT DISTINCT tbl_name FROM sqlite_master WHERE type = 'trigger'")
    assert set((await session.scalars(query)).all()) == WATCHED_TABLES
