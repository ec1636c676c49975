"""Pausing reminders (snooze one item, away for a while) and a unit's reminder settings.

Used by the chat commands /hoanlai, /nghi and /caidat and by ``python -m bot
settings``. Every change is audited; the caller commits.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import audit
from core.reminder_rules import PolicyError, ReminderPolicy
from core.reminders import unit_rules
from storage.models import Absence, Criterion, Officer, Snooze, Unit

MAX_AWAY_DAYS = 180


class PauseError(ValueError):
    """A snooze or an absence that is not allowed; the message is Vietnamese."""


async def snooze(
    session: AsyncSession,
    *,
    officer: Officer,
    criterion: Criterion,
    days: int,
    today: date,
    actor: str,
) -> date:
    """No reminders about ``criterion`` for ``officer`` for ``days`` days; returns the last day."""
    limit = unit_rules(await session.get_one(Unit, officer.unit_id)).policy.max_snooze_days
    if not 1 <= days <= limit:
        raise PauseError(f"Chỉ hoãn được từ 1 đến {limit} ngày.")
    until = today + timedelta(days=days)
    existing = await session.scalar(
        select(Snooze).where(Snooze.officer_id == officer.id, Snooze.criterion_id == criterion.id)
    )
    old = existing.until.isoformat() if existing else None
    if existing is None:
        session.add(
            Snooze(
                unit_id=officer.unit_id,
                officer_id=officer.id,
                criterion_id=criterion.id,
                until=until,
            )
        )
    else:
        existing.until = until
    audit(
        session,
        unit_id=officer.unit_id,
        actor=actor,
        actor_officer_id=officer.id,
        action="reminder.snooze",
        entity="criterion",
        entity_id=criterion.id,
        old={"until": old},
        new={"until": until.isoformat()},
    )
    return until


async def set_away(
    session: AsyncSession, *, officer: Officer, until: date | None, today: date, actor: str
) -> None:
    """Pause every reminder for ``officer`` up to and including ``until`` (None: back now)."""
    if until is not None and not today <= until <= today + timedelta(days=MAX_AWAY_DAYS):
        raise PauseError(f"Ngày nghỉ đến phải từ hôm nay đến tối đa {MAX_AWAY_DAYS} ngày sau.")
    existing = await session.scalar(select(Absence).where(Absence.officer_id == officer.id))
    old = existing.until.isoformat() if existing else None
    if until is None:
        await session.execute(delete(Absence).where(Absence.officer_id == officer.id))
    elif existing is None:
        session.add(Absence(unit_id=officer.unit_id, officer_id=officer.id, until=until))
    else:
        existing.until = until
    audit(
        session,
        unit_id=officer.unit_id,
        actor=actor,
        actor_officer_id=officer.id,
        action="reminder.away",
        entity="officer",
        entity_id=officer.id,
        old={"until": old},
        new={"until": until.isoformat() if until else None},
    )


# The settings a coordinator may change, as typed in /caidat or on the command line.
SETTING_KEYS = {
    "gio": "reminder_time",
    "reminder_time": "reminder_time",
    "truoc": "days_before",
    "days_before": "days_before",
    "quahan": "overdue_workdays",
    "overdue_workdays": "overdue_workdays",
    "baolen": "escalate_after_workdays",
    "escalate_after_workdays": "escalate_after_workdays",
    "hoantoida": "max_snooze_days",
    "max_snooze_days": "max_snooze_days",
    "tongket": "summary_cron",
    "summary_cron": "summary_cron",
    "nghi": "days_off",
    "days_off": "days_off",
}


def current_settings(unit: Unit, *, defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    rules = unit_rules(unit, defaults=defaults)
    values = rules.policy.as_settings()
    values["days_off"] = sorted(day.isoformat() for day in rules.calendar.days_off)
    values["summary_cron"] = (unit.settings or {}).get("summary_cron")
    return values


async def change_setting(
    session: AsyncSession,
    *,
    unit: Unit,
    key: str,
    value: str,
    actor: str,
    actor_officer_id: int | None = None,
) -> dict[str, Any]:
    """Set one reminder setting of a unit from text; returns the new settings."""
    name = SETTING_KEYS.get(key.strip().lower())
    if name is None:
        raise PolicyError(f"Không có mục cài đặt «{key}». Các mục: {', '.join(_KEY_HINT)}.")
    settings = dict(unit.settings or {})
    old = current_settings(unit)
    if name == "days_off":
        settings["days_off"] = sorted({_iso(part) for part in _parts(value)})
    elif name == "summary_cron":
        settings["summary_cron"] = _cron(value)
    else:
        reminders = dict(settings.get("reminders", {}))
        reminders[name] = _policy_value(name, value)
        ReminderPolicy.from_settings(reminders)  # refuse a bad value before saving it
        settings["reminders"] = reminders
    unit.settings = settings
    new = current_settings(unit)
    audit(
        session,
        unit_id=unit.id,
        actor=actor,
        actor_officer_id=actor_officer_id,
        action="unit.settings",
        entity="unit",
        entity_id=unit.id,
        old=old,
        new=new,
    )
    return new


_KEY_HINT = ("gio", "truoc", "quahan", "baolen", "hoantoida", "tongket", "nghi")


def _parts(value: str) -> list[str]:
    return [part for part in value.replace(";", ",").replace(" ", ",").split(",") if part]


def _policy_value(name: str, value: str) -> Any:
    if name == "reminder_time":
        return value.strip()
    try:
        numbers = [int(part) for part in _parts(value)]
    except ValueError:
        raise PolicyError(f"«{value}» phải là số, ví dụ 7,3,1,0.") from None
    if name in ("days_before", "overdue_workdays"):
        return numbers
    if len(numbers) != 1:
        raise PolicyError(f"«{value}» phải là một số.")
    return numbers[0]


def _iso(text: str) -> str:
    """ "dd/mm/yyyy" or "yyyy-mm-dd" -> "yyyy-mm-dd"."""
    try:
        if "/" in text:
            return datetime.strptime(text, "%d/%m/%Y").date().isoformat()
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise PolicyError(f"Ngày «{text}» không hợp lệ; ví dụ 02/09/2025.") from None


def _cron(value: str) -> str:
    try:
        CronTrigger.from_crontab(value.strip())
    except ValueError:
        raise PolicyError(
            "Lịch tổng hợp phải có dạng «phút giờ ngày tháng thứ», ví dụ «0 16 * * fri»."
        ) from None
    return value.strip()
