"""Who hears about what on a given day: the digests and escalations of one unit.

Computed from the database every time (the database is the truth; nothing is
stored as a scheduled job). The rules themselves are in core/reminder_rules.py;
this module gathers the facts and routes each reminder to people:

* an item's reminder goes to its owners (core/ownership.py), except owners
  who snoozed that item and owners who are away;
* while an owner is away, their *overdue* items go to the coordinators;
* an item overdue N workdays (3 by default) is escalated once to the
  coordinators and leaders; so is an overdue item nobody can be reminded of
  (no owner has a linked chat account).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts import accounts_by_officer, can_reach, delivery_order, pushable
from core.items import live_leaf_criteria
from core.ownership import owners_by_criterion
from core.progress import NOT_STARTED, current_states, report_days, unit_tz
from core.reminder_rules import ItemFacts, Kind, Reminder, ReminderPolicy, Rules, sort_for_digest
from core.text import short_title
from core.workdays import WorkCalendar
from storage.db import insert_ignoring_conflicts
from storage.models import (
    Absence,
    ChannelAccount,
    Criterion,
    Escalation,
    Officer,
    Plan,
    Snooze,
    Unit,
)

TASK_CHARS = 80  # a digest line stays short on a phone


@dataclass
class DigestLine:
    criterion_id: int
    index: str
    code: str
    title: str
    short_title: str
    kind: Kind
    due_date: date | None
    days_late: int = 0
    owners: list[str] = field(default_factory=list)  # shown when it is someone else's item
    short_task: str | None = None  # what to do, shortened, where the plan says it


@dataclass
class Digest:
    """One message to one person: a daily digest, or an escalation."""

    unit_id: int
    unit_name: str
    officer_id: int
    officer_name: str
    lines: list[DigestLine]
    escalation: bool = False
    # The person's chat accounts ("telegram:5001"): the reachable ones first, in
    # core.accounts.delivery_order, then those that blocked the bot. Empty: not linked.
    accounts: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "unit": self.unit_name,
            "officer": self.officer_name,
            "accounts": list(self.accounts),
            "items": [
                {
                    "index": line.index,
                    "code": line.code,
                    "kind": line.kind,
                    "due_date": line.due_date.isoformat() if line.due_date else None,
                }
                for line in self.lines
            ],
            "escalation": self.escalation,
        }


def unit_rules(unit: Unit, *, defaults: dict[str, Any] | None = None) -> Rules:
    """The unit's reminder policy and calendar, from ``units.settings`` over ``defaults``."""
    settings = unit.settings or {}
    calendar = WorkCalendar(
        days_off=[date.fromisoformat(day) for day in settings.get("days_off", [])],
        extra_workdays=[date.fromisoformat(day) for day in settings.get("extra_workdays", [])],
    )
    policy = {**(defaults or {}), **settings.get("reminders", {})}
    return Rules(calendar, ReminderPolicy.from_settings(policy))


@dataclass
class _DayFacts:
    criteria: list[Criterion]
    facts: dict[int, ItemFacts]
    owners: dict[int, list[Officer]]
    snoozed: set[tuple[int, int]]  # (officer id, criterion id)
    away: set[int]
    escalated: set[tuple[int, date]]  # (criterion id, milestone)
    coordinators: list[Officer]
    leaders: list[Officer]
    # The unit's active officers' accounts, as Digest.accounts orders them.
    accounts: dict[int, list[ChannelAccount]]
    reachable: set[int]  # officers with an account that did not block the bot


async def plan_day(session: AsyncSession, *, unit: Unit, day: date) -> list[Digest]:
    """Every message the unit's people should get on ``day``: digests, then escalations."""
    rules = unit_rules(unit)
    if not rules.calendar.is_workday(day):
        return []  # offices are closed; reminders due today went out the workday before
    facts = await _gather(session, unit=unit, day=day)
    inbox = _Inbox(unit)
    escalations: list[DigestLine] = []
    for criterion in facts.criteria:
        item = facts.facts[criterion.id]
        owners = facts.owners.get(criterion.id, [])
        reminder = rules.reminder_for(item, day)
        if reminder is not None:
            _route(inbox, criterion, reminder, owners, facts)
        line = _escalation_line(rules, criterion, item, owners, facts, day)
        if line is not None:
            escalations.append(line)
    digests = inbox.digests() + _escalation_digests(unit, escalations, facts)
    for digest in digests:
        found = facts.accounts.get(digest.officer_id, ())
        digest.accounts = tuple(f"{a.channel}:{a.external_id}" for a in found)
    return digests


async def _gather(session: AsyncSession, *, unit: Unit, day: date) -> _DayFacts:
    criteria = await live_leaf_criteria(session, unit_id=unit.id, day=day)
    ids = [c.id for c in criteria]
    states = await current_states(session, criterion_ids=ids)
    reports = await report_days(session, criterion_ids=ids, tz=unit_tz(unit))
    periods = await _plan_periods(session, unit_id=unit.id)
    facts = {
        c.id: ItemFacts(
            criterion_id=c.id,
            milestones=tuple(sorted(m.due_date for m in c.milestones)),
            recurrence=c.recurrence,
            done=states.get(c.id, NOT_STARTED).status == "done",
            update_days=tuple(reports.get(c.id, ())),
            period=periods.get(c.plan_id),
        )
        for c in criteria
    }
    owners = await owners_by_criterion(session, unit=unit, criteria=criteria)
    officers = list(
        (
            await session.scalars(
                select(Officer).where(Officer.unit_id == unit.id, Officer.active.is_(True))
            )
        ).all()
    )
    accounts = await _accounts(session, officers)
    return _DayFacts(
        criteria=criteria,
        facts=facts,
        owners=owners,
        snoozed=await _snoozed(session, unit_id=unit.id, day=day),
        away=await _away(session, unit_id=unit.id, day=day),
        escalated=await _escalated(session, unit_id=unit.id),
        coordinators=[o for o in officers if "coordinator" in (o.roles or ())],
        leaders=[o for o in officers if "leader" in (o.roles or ())],
        accounts=accounts,
        reachable={oid for oid, found in accounts.items() if any(map(can_reach, found))},
    )


async def _accounts(
    session: AsyncSession, officers: Sequence[Officer]
) -> dict[int, list[ChannelAccount]]:
    preferred = {o.id: o.preferred_channel for o in officers}
    found = await accounts_by_officer(session, officer_ids=preferred)
    ordered = {oid: pushable(mine) for oid, mine in found.items()}
    return {
        oid: [*delivery_order(mine, preferred[oid]), *(a for a in mine if a.unreachable)]
        for oid, mine in ordered.items()
        if mine
    }


async def _plan_periods(session: AsyncSession, *, unit_id: int) -> dict[int, tuple[int, int]]:
    rows = await session.execute(
        select(Plan.id, Plan.period_start, Plan.period_end).where(Plan.unit_id == unit_id)
    )
    return {pid: (start, end) for pid, start, end in rows if start is not None and end is not None}


async def _snoozed(session: AsyncSession, *, unit_id: int, day: date) -> set[tuple[int, int]]:
    rows = await session.execute(
        select(Snooze.officer_id, Snooze.criterion_id).where(
            Snooze.unit_id == unit_id, Snooze.until >= day
        )
    )
    return {(officer_id, criterion_id) for officer_id, criterion_id in rows}


async def _away(session: AsyncSession, *, unit_id: int, day: date) -> set[int]:
    rows = await session.scalars(
        select(Absence.officer_id).where(Absence.unit_id == unit_id, Absence.until >= day)
    )
    return set(rows.all())


async def _escalated(session: AsyncSession, *, unit_id: int) -> set[tuple[int, date]]:
    rows = await session.execute(
        select(Escalation.criterion_id, Escalation.milestone).where(Escalation.unit_id == unit_id)
    )
    return {(criterion_id, milestone) for criterion_id, milestone in rows}


class _Inbox:
    """Digest lines collected per recipient."""

    def __init__(self, unit: Unit) -> None:
        self.unit = unit
        self.people: dict[int, Officer] = {}
        self.lines: dict[int, dict[int, DigestLine]] = {}

    def add(self, officer: Officer, line: DigestLine) -> None:
        self.people[officer.id] = officer
        existing = self.lines.setdefault(officer.id, {}).get(line.criterion_id)
        if existing is None:
            self.lines[officer.id][line.criterion_id] = line
        else:  # forwarded for an away colleague and also their own: keep one line
            existing.owners = sorted(set(existing.owners) | set(line.owners))

    def digests(self) -> list[Digest]:
        result = []
        for officer_id, lines in self.lines.items():
            officer = self.people[officer_id]
            result.append(_digest(self.unit, officer, list(lines.values()), escalation=False))
        return sorted(result, key=lambda digest: digest.officer_name)


def _line(criterion: Criterion, reminder: Reminder, owners: Iterable[Officer] = ()) -> DigestLine:
    return DigestLine(
        criterion_id=criterion.id,
        index=criterion.index_name,
        code=criterion.code,
        title=criterion.title,
        short_title=short_title(criterion.title),
        kind=reminder.kind,
        due_date=reminder.due_date,
        days_late=reminder.days_late,
        owners=[o.name for o in owners],
        short_task=short_title(criterion.task, TASK_CHARS) if criterion.task else None,
    )


def _route(
    inbox: _Inbox,
    criterion: Criterion,
    reminder: Reminder,
    owners: Sequence[Officer],
    facts: _DayFacts,
) -> None:
    coordinators = {o.id for o in facts.coordinators}
    for owner in owners:
        if owner.id in facts.away:
            if reminder.kind == "overdue":
                for coordinator in facts.coordinators:
                    if coordinator.id not in facts.away:
                        inbox.add(coordinator, _line(criterion, reminder, [owner]))
            continue
        if (owner.id, criterion.id) in facts.snoozed:
            continue
        # A coordinator who owns an item by fallback sees who else owns it, if anyone.
        others = [o for o in owners if o.id != owner.id] if owner.id in coordinators else []
        inbox.add(owner, _line(criterion, reminder, others))


def _escalation_line(
    rules: Rules,
    criterion: Criterion,
    item: ItemFacts,
    owners: Sequence[Officer],
    facts: _DayFacts,
    day: date,
) -> DigestLine | None:
    milestone = rules.escalation_due(item, day)
    nobody = not any(o.id in facts.reachable for o in owners)
    if milestone is None and rules.is_overdue(item, day) and nobody:
        milestone = rules.open_milestone(item)  # nobody can be reminded: escalate now
    if milestone is None or (criterion.id, milestone) in facts.escalated:
        return None
    late = Reminder(criterion.id, "overdue", milestone, (day - milestone).days)
    return _line(criterion, late, owners)


def _escalation_digests(unit: Unit, lines: list[DigestLine], facts: _DayFacts) -> list[Digest]:
    if not lines:
        return []
    recipients = {o.id: o for o in (*facts.coordinators, *facts.leaders) if o.id not in facts.away}
    return [
        _digest(unit, officer, list(lines), escalation=True)
        for officer in sorted(recipients.values(), key=lambda o: o.name)
    ]


def _digest(unit: Unit, officer: Officer, lines: list[DigestLine], *, escalation: bool) -> Digest:
    codes = {line.criterion_id: line.code for line in lines}
    by_id = {line.criterion_id: line for line in lines}
    order = sort_for_digest(
        [Reminder(line.criterion_id, line.kind, line.due_date, line.days_late) for line in lines],
        codes,
    )
    return Digest(
        unit_id=unit.id,
        unit_name=unit.name,
        officer_id=officer.id,
        officer_name=officer.name,
        lines=[by_id[reminder.criterion_id] for reminder in order],
        escalation=escalation,
    )


async def record_escalations(
    session: AsyncSession, *, unit: Unit, lines: Iterable[DigestLine]
) -> None:
    """Remember that these items were escalated (for their milestone), so never again.

    Two bot processes may record the same escalation: the second insert is a no-op.
    """
    rows = [
        {"unit_id": unit.id, "criterion_id": line.criterion_id, "milestone": line.due_date}
        for line in lines
        if line.due_date is not None
    ]
    if rows:
        statement = insert_ignoring_conflicts(session, Escalation).values(rows)
        await session.execute(
            statement.on_conflict_do_nothing(index_elements=["criterion_id", "milestone"])
        )
