"""/hoantac: an officer takes back their last progress report or evidence file.

A wrong tap must not become a wrong score, but nothing is ever lost: the row
(and the file on disk) stay, marked withdrawn, and every count, summary and
evidence pack leaves them out. The audit log keeps the original entry and the
withdrawal. Only the most recent of the officer's own entries can be taken
back, and only within UNDO_WINDOW of making it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import audit
from core.progress import NOT_STARTED, ItemState, current_states
from storage.models import Criterion, Evidence, Officer, ProgressUpdate

UNDO_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class Undone:
    kind: Literal["progress", "evidence"]
    criterion: Criterion
    made_at: datetime
    percent: int | None = None  # the withdrawn report's
    status: str | None = None
    file_name: str | None = None  # the withdrawn file's
    state_now: ItemState = NOT_STARTED  # the item's state once the report is withdrawn


async def undo_last(
    session: AsyncSession, *, officer: Officer, now: datetime, actor: str
) -> Undone | None:
    """Withdraw the officer's latest report or file made within UNDO_WINDOW; None if none."""
    since = now - UNDO_WINDOW
    report = await session.scalar(
        select(ProgressUpdate)
        .where(
            ProgressUpdate.officer_id == officer.id,
            ProgressUpdate.withdrawn_at.is_(None),
            ProgressUpdate.created_at >= since,
        )
        .order_by(ProgressUpdate.created_at.desc(), ProgressUpdate.id.desc())
        .limit(1)
    )
    evidence = await session.scalar(
        select(Evidence)
        .where(
            Evidence.officer_id == officer.id,
            Evidence.withdrawn_at.is_(None),
            Evidence.created_at >= since,
        )
        .order_by(Evidence.created_at.desc(), Evidence.id.desc())
        .limit(1)
    )
    if evidence is not None and (report is None or evidence.created_at >= report.created_at):
        return await _withdraw_evidence(session, evidence, officer=officer, now=now, actor=actor)
    if report is not None:
        return await _withdraw_report(session, report, officer=officer, now=now, actor=actor)
    return None


async def _withdraw_report(
    session: AsyncSession, report: ProgressUpdate, *, officer: Officer, now: datetime, actor: str
) -> Undone:
    report.withdrawn_at = now
    await session.flush()
    criterion = await session.get_one(Criterion, report.criterion_id)
    state = (await current_states(session, criterion_ids=[criterion.id])).get(
        criterion.id, NOT_STARTED
    )
    audit(
        session,
        unit_id=report.unit_id,
        actor=actor,
        actor_officer_id=officer.id,
        action="progress.withdraw",
        entity="criterion",
        entity_id=criterion.id,
        old={"report_id": report.id, "percent": report.percent, "status": report.status},
        new={"report_id": report.id, "withdrawn": True, "state": state.as_json()},
        at=now,
    )
    await session.flush()
    return Undone(
        "progress",
        criterion,
        report.created_at,
        percent=report.percent,
        status=report.status,
        state_now=state,
    )


async def _withdraw_evidence(
    session: AsyncSession, evidence: Evidence, *, officer: Officer, now: datetime, actor: str
) -> Undone:
    evidence.withdrawn_at = now
    criterion = await session.get_one(Criterion, evidence.criterion_id)
    audit(
        session,
        unit_id=evidence.unit_id,
        actor=actor,
        actor_officer_id=officer.id,
        action="evidence.withdraw",
        entity="criterion",
        entity_id=criterion.id,
        old={"evidence_id": evidence.id, "path": evidence.storage_path},
        new={"evidence_id": evidence.id, "withdrawn": True},
        at=now,
    )
    await session.flush()
    return Undone(
        "evidence",
        criterion,
        evidence.created_at,
        file_name=evidence.original_name or evidence.storage_path.rsplit("/", 1)[-1],
    )
