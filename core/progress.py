"""Progress reports on plan items, and the overdue rule.

A report is a new row, never an edit: the latest row per item is its state, and
the rows before it are the history the weekly summary compares against.
Authorisation (who may report on what) is :func:`core.ownership.can_update`'s
job; this module only refuses what is invalid for anyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import BindParameter, Integer, Row, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts import actor_on
from core.audit import audit
from core.officers import note_activity
from core.text import nfc
from storage.db import prepared_insert_ignoring
from storage.models import PROGRESS_STATUSES, Criterion, Officer, ProgressUpdate, Unit

STATUSES = PROGRESS_STATUSES  # ("not_started", "in_progress", "done", "blocked")
STATUS_LABELS = {
    "not_started": "Chưa làm",
    "in_progress": "Đang làm",
    "done": "Hoàn thành",
    "blocked": "Gặp khó khăn",
}
# Bound parameters per IN (...) list: far below SQLite's and asyncpg's limits.
_CHUNK = 5000


class ProgressError(ValueError):
    """An invalid report; nothing was written. The message is Vietnamese."""


@dataclass(frozen=True)
class ItemState:
    percent: int = 0
    status: str = "not_started"
    updated_at: datetime | None = None
    last_note: str | None = None
    officer_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {"percent": self.percent, "status": self.status, "note": self.last_note}


NOT_STARTED = ItemState()
_INFERRED = {0: "not_started", 100: "done"}


def _resolve(
    percent: int | None, status: str | None, note: str | None, previous: ItemState
) -> tuple[int, str]:
    """The (percent, status) a report means, or ProgressError."""
    if percent is not None and not 0 <= percent <= 100:
        raise ProgressError("Phần trăm phải từ 0 đến 100.")
    if status is not None and status not in STATUSES:
        raise ProgressError("Trạng thái không hợp lệ.")
    if status is None:
        if percent is None:
            raise ProgressError("Cần ghi phần trăm (0–100) hoặc trạng thái.")
        return percent, _INFERRED.get(percent, "in_progress")
    if status == "blocked":
        if not (note or "").strip():
            raise ProgressError("Hãy ghi lý do gặp khó khăn.")
        return (previous.percent if percent is None else percent), status
    implied = {"done": 100, "not_started": 0}.get(status)
    if implied is not None and percent not in (None, implied):
        raise ProgressError(f"Trạng thái này ứng với {implied}%.")
    if status == "in_progress" and percent == 100:
        raise ProgressError("100% là hoàn thành.")
    if implied is not None:
        return implied, status
    return (previous.percent if percent is None else percent), status


async def record_progress(
    session: AsyncSession,
    *,
    officer: Officer,
    criterion: Criterion,
    percent: int | None = None,
    status: str | None = None,
    note: str | None = None,
    source: str,
    source_update_id: str | None,
    now: datetime,
    actor: str | None = None,
) -> Row[Any] | None:
    """Record a report: the new progress_updates row, or None when this (source,
    update id) was already recorded.

    ``actor`` defaults to "<source>:<the officer's id on that channel>".
    """
    if officer.unit_id != criterion.unit_id:
        raise ProgressError("Mục này không thuộc đơn vị của bạn.")
    previous = (await current_states(session, criterion_ids=[criterion.id])).get(
        criterion.id, NOT_STARTED
    )
    new_percent, new_status = _resolve(percent, status, note, previous)
    values = {
        "unit_id": criterion.unit_id,
        "criterion_id": criterion.id,
        "officer_id": officer.id,
        "percent": new_percent,
        "status": new_status,
        "note": nfc(note or "").strip() or None,  # NFC without control characters
        "source": source,
        "source_update_id": source_update_id,
        "created_at": now,
    }
    # One statement: a twin delivery (same source and update id) inserts nothing,
    # without spoiling the rest of the caller's transaction (see
    # storage.db.insert_ignoring_conflicts), and the new row comes back with it.
    insert = prepared_insert_ignoring(
        session,
        ProgressUpdate,
        columns=tuple(values),
        unique=("source", "source_update_id"),
        returning=_REPORT_FIELDS,
    )
    row = (await session.execute(insert, values)).first()
    if row is None:
        return None
    await note_activity(session, officer=officer, account=None, now=now)
    audit(
        session,
        unit_id=criterion.unit_id,
        actor=actor or await actor_on(session, officer=officer, channel=source),
        actor_officer_id=officer.id,
        action="progress.record",
        entity="criterion",
        entity_id=criterion.id,
        old=previous.as_json(),
        new={"percent": new_percent, "status": new_status, "note": row.note, "source": source},
        at=now,
    )
    await session.flush()
    return row


# Hot statements are built once, and on the table rather than the model: SQLAlchemy
# takes longer to build a statement (and its cache key), and twice as long to
# read rows through the ORM, as SQLite takes to run it. Lists of ids are
# expanding parameters, passed in chunks far below SQLite's and asyncpg's limits.
_REPORTS = ProgressUpdate.__table__.c
_REPORT_FIELDS = tuple(column.name for column in _REPORTS)
_IDS: BindParameter[list[int]] = bindparam("ids", expanding=True)
_NEWEST_FIRST = (_REPORTS.created_at.desc(), _REPORTS.id.desc())
_RANK = func.row_number().over(partition_by=_REPORTS.criterion_id, order_by=_NEWEST_FIRST)
_COUNTED = _REPORTS.withdrawn_at.is_(None)  # a report undone with /hoantac is history only
_RANKED = (
    select(*_REPORTS, _RANK.label("rank"))
    .where(_REPORTS.criterion_id.in_(_IDS), _COUNTED)
    .subquery()
)
_LATEST_PER_ITEM = select(_RANKED).where(_RANKED.c.rank == 1)
_RECENT = (
    select(*_REPORTS)
    .where(_REPORTS.criterion_id == bindparam("criterion_id"), _COUNTED)
    .order_by(*_NEWEST_FIRST)
    .limit(bindparam("limit", type_=Integer))
)
_REPORT_TIMES = select(_REPORTS.criterion_id, _REPORTS.created_at).where(
    _REPORTS.criterion_id.in_(_IDS), _COUNTED
)


def _chunks(ids: Iterable[int]) -> list[list[int]]:
    ordered = sorted(set(ids))
    return [ordered[start : start + _CHUNK] for start in range(0, len(ordered), _CHUNK)]


async def current_states(
    session: AsyncSession, *, criterion_ids: Iterable[int]
) -> dict[int, ItemState]:
    """The latest report per item; items never reported are missing (use NOT_STARTED)."""
    states: dict[int, ItemState] = {}
    for chunk in _chunks(criterion_ids):
        for row in await session.execute(_LATEST_PER_ITEM, {"ids": chunk}):
            states[row.criterion_id] = item_state(row)
    return states


class Report(Protocol):
    """A progress report: a ProgressUpdate, or a row of its columns."""

    @property
    def percent(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def note(self) -> str | None: ...
    @property
    def officer_id(self) -> int | None: ...


def item_state(report: Report) -> ItemState:
    """The state a report leaves its item in (a ProgressUpdate, or a row of its columns)."""
    return ItemState(
        percent=report.percent,
        status=report.status,
        updated_at=report.created_at,
        last_note=report.note,
        officer_id=report.officer_id,
    )


def state_of(states: dict[int, ItemState], criterion_id: int) -> ItemState:
    return states.get(criterion_id, NOT_STARTED)


async def recent_updates(
    session: AsyncSession, *, criterion: Criterion, limit: int = 3
) -> list[Row[Any]]:
    """The item's latest reports (rows of progress_updates), newest first.

    The first is the item's current state (see item_state).
    """
    rows = await session.execute(_RECENT, {"criterion_id": criterion.id, "limit": limit})
    return list(rows.all())


# --- the overdue rule -------------------------------------------------------------------------
#
# One rule for every place that says "late": the overdue list, the item lists,
# the weekly summary and the reminders. An item's milestones are its due dates
# (one, several steps, or the occurrences of a recurring item). The *open*
# milestone is the earliest one not yet met:
#   * the last milestone is met only when the item is done;
#   * an earlier one is met by a progress report made after the milestone before
#     it (for the first one: any report), each report meeting one milestone only.
# So a late report in January covers last year's milestone, not this December's.


def open_milestone(
    milestones: Sequence[date], *, done: bool, update_days: Iterable[date] = ()
) -> date | None:
    """The earliest milestone not yet met (see above), or None when all are met."""
    if done or not milestones:
        return None
    ordered = sorted(milestones)
    reports = sorted(update_days)
    used = 0
    previous: date | None = None
    for milestone in ordered[:-1]:
        while used < len(reports) and previous is not None and reports[used] <= previous:
            used += 1  # too early to count for this period
        if used == len(reports):
            return milestone
        used += 1
        previous = milestone
    return ordered[-1]


def missed_date(
    due_dates: Sequence[date],
    status: str,
    recurrence: str | None,
    today: date,
    update_days: Iterable[date] = (),
) -> date | None:
    """The open milestone if it is already past, else None.

    Ongoing ("Thường xuyên") items without dates have no deadline to miss;
    done items missed nothing.
    """
    del recurrence  # ongoing items with dated steps are late like any other
    milestone = open_milestone(due_dates, done=status == "done", update_days=update_days)
    return milestone if milestone is not None and milestone < today else None


def is_overdue(
    due_dates: Sequence[date],
    status: str,
    recurrence: str | None,
    today: date,
    update_days: Iterable[date] = (),
) -> bool:
    return missed_date(due_dates, status, recurrence, today, update_days) is not None


def days_late(
    due_dates: Sequence[date],
    status: str,
    recurrence: str | None,
    today: date,
    update_days: Iterable[date] = (),
) -> int:
    """Days since the open milestone passed; 0 when not overdue."""
    missed = missed_date(due_dates, status, recurrence, today, update_days)
    return (today - missed).days if missed else 0


DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


def unit_tz(unit: Unit) -> ZoneInfo:
    """The unit's time zone (the settings' TIMEZONE default is Vietnam's)."""
    return ZoneInfo(unit.timezone or DEFAULT_TIMEZONE)


async def report_days(
    session: AsyncSession, *, criterion_ids: Iterable[int], tz: tzinfo
) -> dict[int, list[date]]:
    """The local dates of every progress report of these items (which milestones they meet)."""
    days: dict[int, list[date]] = {}
    for chunk in _chunks(criterion_ids):
        for criterion_id, created_at in await session.execute(_REPORT_TIMES, {"ids": chunk}):
            days.setdefault(criterion_id, []).append(created_at.astimezone(tz).date())
    return days
