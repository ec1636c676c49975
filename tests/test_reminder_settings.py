"""Snooze, away and a unit's reminder settings, in the real database."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.reminder_rules import PolicyError
from core.reminder_settings import PauseError, change_setting, current_settings, set_away, snooze
from core.reminders import plan_day, unit_rules
from storage.models import Absence, AuditLog, Criterion, Officer, Snooze, Unit
from tests.test_reminders import setup

Sessions = async_sessionmaker[AsyncSession]
TODAY = date(2024, 3, 13)


async def people(session: AsyncSession) -> tuple[Unit, dict[str, Criterion], dict[str, Officer]]:
    unit = (await session.scalars(select(Unit))).one()
    criteria = {c.code: c for c in await session.scalars(select(Criterion))}
    officers = {o.name: o for o in await session.scalars(select(Officer))}
    return unit, criteria, officers


async def test_snooze_is_capped_and_replaces_the_previous_one(session_factory: Sessions) -> None:
    await setup(session_factory)
    async with session_factory() as session, session.begin():
        _, criteria, officers = await people(session)
        lan, item = officers["Lan"], criteria["1.1"]
        with pytest.raises(PauseError, match="14"):
            await snooze(session, officer=lan, criterion=item, days=15, today=TODAY, actor="t")
        assert await snooze(
            session, officer=lan, criterion=item, days=3, today=TODAY, actor="t"
        ) == date(2024, 3, 16)
        assert await snooze(
            session, officer=lan, criterion=item, days=7, today=TODAY, actor="t"
        ) == date(2024, 3, 20)
    async with session_factory() as session:
        rows = (await session.scalars(select(Snooze))).all()
        assert [(row.until) for row in rows] == [date(2024, 3, 20)]
        actions = list(await session.scalars(select(AuditLog.action)))
        assert actions.count("reminder.snooze") == 2


async def test_away_until_a_date_then_back(session_factory: Sessions) -> None:
    await setup(session_factory)
    async with session_factory() as session, session.begin():
        _, _, officers = await people(session)
        with pytest.raises(PauseError):
            await set_away(
                session, officer=officers["Lan"], until=date(2024, 3, 1), today=TODAY, actor="t"
            )
        await set_away(
            session, officer=officers["Lan"], until=date(2024, 3, 20), today=TODAY, actor="t"
        )
    async with session_factory() as session:
        unit, _, _ = await people(session)
        assert "Lan" not in [d.officer_name for d in await plan_day(session, unit=unit, day=TODAY)]
    async with session_factory() as session, session.begin():
        _, _, officers = await people(session)
        await set_away(session, officer=officers["Lan"], until=None, today=TODAY, actor="t")
    async with session_factory() as session:
        unit, _, _ = await people(session)
        assert (await session.scalars(select(Absence))).all() == []
        assert "Lan" in [d.officer_name for d in await plan_day(session, unit=unit, day=TODAY)]


async def test_unit_settings_change_and_refuse_bad_values(session_factory: Sessions) -> None:
    await setup(session_factory)
    async with session_factory() as session, session.begin():
        unit, _, _ = await people(session)
        assert current_settings(unit)["reminder_time"] == "07:30"
        await change_setting(session, unit=unit, key="gio", value="8h15", actor="t")
        await change_setting(session, unit=unit, key="truoc", value="3, 1", actor="t")
        await change_setting(session, unit=unit, key="nghi", value="14/03/2024", actor="t")
        await change_setting(session, unit=unit, key="tongket", value="0 9 * * mon", actor="t")
        for key, value in (
            ("gio", "25:00"),
            ("truoc", "5"),
            ("nghi", "31/02/2024"),
            ("tongket", "thứ sáu"),
            ("khongco", "1"),
        ):
            with pytest.raises(PolicyError):
                await change_setting(session, unit=unit, key=key, value=value, actor="t")
    async with session_factory() as session:
        unit, _, _ = await people(session)
        settings = current_settings(unit)
        assert settings["reminder_time"] == "08:15"
        assert settings["days_before"] == [3, 1]
        assert settings["days_off"] == ["2024-03-14"]
        assert settings["summary_cron"] == "0 9 * * mon"
        rules = unit_rules(unit)
        assert not rules.calendar.is_workday(date(2024, 3, 14))
        # Nothing on the unit's own day off: a Thursday.
        assert await plan_day(session, unit=unit, day=date(2024, 3, 14)) == []
