"""``units.data_version``: the triggers of migration 0005 change it, in the writing
transaction, whenever the unit's officers or plan items change, and only then.

Rows are written with the models alone, as in test_storage: the triggers must
see every writer, whichever code path it takes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import (
    AssignmentOverride,
    ChannelAccount,
    Criterion,
    Milestone,
    Officer,
    Plan,
    Unit,
)
from tests.test_storage import make_unit


@dataclass
class World:
    """One unit's rows, as the tests below change them."""

    unit: Unit
    plan: Plan
    criteria: dict[str, Criterion]
    officer: Officer
    override: AssignmentOverride
    account: ChannelAccount


def new_officer(unit: Unit, name: str) -> Officer:
    return Officer(
        unit_id=unit.id,
        name=name,
        name_key=name.lower(),
        positions=["VPTK"],
        roles=["officer"],
    )


async def make_world(session: AsyncSession, unit_name: str) -> World:
    unit = make_unit(unit_name)
    session.add(unit)
    await session.flush()
    plan = Plan(unit_id=unit.id, indexes=["PAR"], source_name="kh.txt", source_format="text")
    for ordinal, code in enumerate(("1", "2"), start=1):
        criterion = Criterion(
            unit_id=unit.id, index_name="PAR", code=code, ordinal=ordinal, title=f"Việc {code}"
        )
        criterion.milestones.append(Milestone(unit_id=unit.id, due_date=date(2024, 12, 31)))
        plan.criteria.append(criterion)
    officer = new_officer(unit, f"Cán bộ {unit_name}")
    session.add_all([plan, officer])
    await session.flush()
    account = ChannelAccount(
        channel="telegram", external_id=str(1_000 + unit.id), officer_id=officer.id
    )
    session.add(account)
    criteria = {criterion.code: criterion for criterion in plan.criteria}
    override = AssignmentOverride(
        unit_id=unit.id, criterion_id=criteria["1"].id, officer_id=officer.id
    )
    session.add(override)
    await session.flush()
    return World(
        unit=unit, plan=plan, criteria=criteria, officer=officer, override=override, account=account
    )


async def version(session: AsyncSession, unit_id: int) -> int:
    value = await session.scalar(select(Unit.data_version).where(Unit.id == unit_id))
    assert value is not None
    return value


@pytest.fixture
async def worlds(session: AsyncSession) -> tuple[World, World]:
    """Units A and B, committed."""
    a = await make_world(session, "Xã A")
    b = await make_world(session, "Xã B")
    await session.commit()
    return a, b


Change = Callable[[AsyncSession, World], Awaitable[None]]


async def add_officer(session: AsyncSession, w: World) -> None:
    session.add(new_officer(w.unit, "Trần Thị Mới"))


async def rename_officer(session: AsyncSession, w: World) -> None:
    w.officer.name = "Tên Khác"


async def change_positions(session: AsyncSession, w: World) -> None:
    w.officer.positions = [*w.officer.positions, "CA"]


async def change_department(session: AsyncSession, w: World) -> None:
    w.officer.department = "PKT"


async def make_department_head(session: AsyncSession, w: World) -> None:
    w.officer.department_head = True


async def change_roles_in_place(session: AsyncSession, w: World) -> None:
    w.officer.roles.append("admin")


async def deactivate_officer(session: AsyncSession, w: World) -> None:
    w.officer.active = False


async def delete_officer_in_bulk(session: AsyncSession, w: World) -> None:
    await session.execute(delete(Officer).where(Officer.id == w.officer.id))


async def add_override(session: AsyncSession, w: World) -> None:
    session.add(
        AssignmentOverride(
            unit_id=w.unit.id, criterion_id=w.criteria["2"].id, officer_id=w.officer.id
        )
    )


async def delete_override(session: AsyncSession, w: World) -> None:
    await session.delete(w.override)


async def add_criterion(session: AsyncSession, w: World) -> None:
    session.add(
        Criterion(
            unit_id=w.unit.id,
            plan_id=w.plan.id,
            index_name="PAR",
            code="3",
            ordinal=3,
            title="Việc mới",
        )
    )


async def retitle_criterion(session: AsyncSession, w: World) -> None:
    w.criteria["1"].title = "Tên việc khác"


async def deactivate_criteria_in_bulk(session: AsyncSession, w: World) -> None:
    await session.execute(
        update(Criterion).where(Criterion.unit_id == w.unit.id).values(active=False)
    )


async def add_milestone(session: AsyncSession, w: World) -> None:
    session.add(
        Milestone(
            unit_id=w.unit.id,
            criterion_id=w.criteria["2"].id,
            due_date=date(2025, 6, 30),
            ordinal=1,
        )
    )


async def deactivate_plan(session: AsyncSession, w: World) -> None:
    w.plan.active = False


async def touch_last_activity(session: AsyncSession, w: World) -> None:
    w.officer.last_activity_at = datetime(2025, 1, 2, 3, tzinfo=UTC)


async def mark_unreachable(session: AsyncSession, w: World) -> None:
    w.account.unreachable = True  # an account's flag since 0013


async def change_telegram_id(session: AsyncSession, w: World) -> None:
    w.account.external_id = "987654321"  # the account row since 0013


async def change_preferred_channel(session: AsyncSession, w: World) -> None:
    w.officer.preferred_channel = "zalo"


async def change_phone_and_zalo(session: AsyncSession, w: World) -> None:
    w.officer.phone = "0912345678"
    w.account.channel = "zalo"  # was officers.zalo_id before 0013


CHANGES_THAT_COUNT: list[Change] = [
    add_officer,
    rename_officer,
    change_positions,
    change_department,
    make_department_head,
    change_roles_in_place,
    deactivate_officer,
    delete_officer_in_bulk,
    add_override,
    delete_override,
    add_criterion,
    retitle_criterion,
    deactivate_criteria_in_bulk,
    add_milestone,
    deactivate_plan,
]
CHANGES_THE_CACHE_IGNORES: list[Change] = [
    touch_last_activity,
    mark_unreachable,
    change_telegram_id,
    change_preferred_channel,
    change_phone_and_zalo,
]


def ids(changes: list[Change]) -> list[str]:
    return [change.__name__ for change in changes]


@pytest.mark.parametrize(
    ("change", "counts"),
    [(change, True) for change in CHANGES_THAT_COUNT]
    + [(change, False) for change in CHANGES_THE_CACHE_IGNORES],
    ids=ids(CHANGES_THAT_COUNT) + ids(CHANGES_THE_CACHE_IGNORES),
)
async def test_a_change_bumps_its_units_version_only_if_the_cache_holds_it(
    session: AsyncSession, worlds: tuple[World, World], change: Change, counts: bool
) -> None:
    a, b = worlds
    before_a, before_b = await version(session, a.unit.id), await version(session, b.unit.id)

    await change(session, a)
    await session.commit()  # on PostgreSQL the bump is deferred to the commit

    assert (await version(session, a.unit.id) != before_a) is counts
    assert await version(session, b.unit.id) == before_b


async def test_a_new_unit_starts_at_zero_and_each_write_changes_it_again(
    session: AsyncSession,
) -> None:
    unit = Unit(name="Xã Mới", name_key="xa moi")
    session.add(unit)
    await session.commit()
    seen = [await version(session, unit.id)]
    assert seen == [0]

    officer = new_officer(unit, "Lê Văn C")
    session.add(officer)
    await session.commit()
    seen.append(await version(session, unit.id))
    officer.active = False
    await session.commit()
    seen.append(await version(session, unit.id))
    officer.active = True
    await session.commit()
    seen.append(await version(session, unit.id))

    assert len(set(seen)) == len(seen)  # back to the same data, still a new version


async def test_moving_an_officer_to_another_unit_bumps_both(
    session: AsyncSession, worlds: tuple[World, World]
) -> None:
    a, b = worlds
    before_a, before_b = await version(session, a.unit.id), await version(session, b.unit.id)

    await session.delete(a.override)  # it names the officer and a criterion of unit A
    await session.commit()
    after_delete_a = await version(session, a.unit.id)
    a.officer.unit_id = b.unit.id
    await session.commit()

    assert await version(session, a.unit.id) not in (before_a, after_delete_a)
    assert await version(session, b.unit.id) != before_b


async def test_a_rolled_back_change_leaves_the_version_and_a_later_one_gets_a_new_one(
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    worlds: tuple[World, World],
) -> None:
    a, _ = worlds
    unit_id, officer_id = a.unit.id, a.officer.id  # the rollback expires the objects
    committed = await version(session, unit_id)

    await deactivate_officer(session, a)
    await session.flush()
    async with session_factory() as other:  # uncommitted: invisible elsewhere
        assert await version(other, unit_id) == committed
    await session.rollback()

    assert await version(session, unit_id) == committed
    officer = await session.get(Officer, officer_id)
    assert officer is not None
    assert officer.active
    officer.active = False  # the very change that was rolled back
    await session.commit()

    async with session_factory() as other:
        assert await version(other, unit_id) != committed


async def test_two_writers_of_one_unit_in_opposite_orders_both_commit(
    session_factory: async_sessionmaker[AsyncSession], worlds: tuple[World, World]
) -> None:
    """A roster import (officer A, then B) beside /vitri on B. Had the bump locked the
    unit's row at once, on PostgreSQL each would wait for the other: a deadlock. SQLite
    has one writer at a time, so there the second simply follows the first."""
    a, _ = worlds
    async with session_factory() as setup:
        second = new_officer(a.unit, "Người thứ hai")
        setup.add(second)
        await setup.commit()
        before = await version(setup, a.unit.id)
    first_id, second_id = a.officer.id, second.id
    concurrent = session_factory.kw["bind"].dialect.name == "postgresql"

    def set_positions(officer_id: int, positions: list[str]) -> Any:
        return update(Officer).where(Officer.id == officer_id).values(positions=positions)

    async with session_factory() as roster, session_factory() as vitri:
        await roster.execute(set_positions(first_id, ["CA"]))
        if not concurrent:
            await roster.execute(set_positions(second_id, ["CA"]))
            await roster.commit()
        # A guard, not a pause: with the unit's row locked by the roster this would hang.
        await asyncio.wait_for(vitri.execute(set_positions(second_id, ["QS"])), timeout=20)
        if concurrent:  # the roster now waits for /vitri's row lock on B, then goes on
            waiting = asyncio.ensure_future(roster.execute(set_positions(second_id, ["CA"])))
            await vitri.commit()
            await waiting
            await roster.commit()
        else:
            await vitri.commit()

    async with session_factory() as check:
        positions = (await check.get_one(Officer, second_id)).positions
        assert positions == (["CA"] if concurrent else ["QS"])
        assert await version(check, a.unit.id) != before
