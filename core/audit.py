"""One helper for the audit log, so every change is recorded the same way."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditLog


def audit(
    session: AsyncSession,
    *,
    unit_id: int,
    actor: str,
    actor_officer_id: int | None,
    action: str,
    entity: str,
    entity_id: int | None,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    at: datetime | None = None,
) -> AuditLog:
    """Add an audit row to the caller's transaction; ``at`` defaults to the insert time."""
    row = AuditLog(
        unit_id=unit_id,
        actor=actor,
        actor_officer_id=actor_officer_id,
        action=action,
        entity=entity,
        entity_id=entity_id,
        old=old,
        new=new,
    )
    if at is not None:
        row.created_at = at
    session.add(row)
    return row
