"""Units (the communes and wards) by name: which exists, which a document names, renaming.

A unit is created only on purpose: ``unit add``, the first import of a plan
document that names it, or a confirmed /kehoach. Every other command looks
an existing unit up, so a typo ("Phường 66") is refused with the closest
names instead of silently starting an empty unit.

Two names mean the same unit when their folded keys agree once the
administrative prefix is set aside: "Phường Sông Cầu", "phuong song cau" and
"Sông Cầu" are one unit; "Phường 6" and "Phường Sông Cầu" are not.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import audit
from core.plan_model import ParsedPlan
from core.plan_store import UnitNameError, clean_unit_name, find_unit
from core.text import fold
from storage.models import Officer, Plan, Unit

# Folded prefixes a unit's name may carry or drop ("thi tran" before "thi" matters not:
# only whole leading words are removed).
_PREFIXES = ("thi tran", "phuong", "xa")
MAX_SUGGESTIONS = 3


class UnknownUnitError(UnitNameError):
    """No unit of that name; the message suggests the closest existing names."""


class UnitMismatchError(UnitNameError):
    """The document names another unit than the one it is being imported into."""


def unit_core_key(name: str) -> str:
    """The folded name without its leading "xã/phường/thị trấn" ("Phường 6" -> "6")."""
    key = fold(name)
    for prefix in _PREFIXES:
        if key.startswith(prefix + " "):
            return key[len(prefix) + 1 :]
    return key


def same_unit(first: str, second: str) -> bool:
    return unit_core_key(first) == unit_core_key(second)


def document_unit_conflict(plan: ParsedPlan, unit_name: str) -> str | None:
    """The unit the document names when it is not ``unit_name``; None when they agree
    or the document names none."""
    if plan.unit and not same_unit(plan.unit, unit_name):
        return plan.unit
    return None


def unit_conflict_text(named: str, target: str) -> str:
    return f"Tệp là kế hoạch của «{named}», không phải «{target}»."


async def lookup_unit(session: AsyncSession, *, name: str) -> Unit | None:
    """The unit of that name, also when written with or without its prefix."""
    return await find_unit(session, name=name) or await _namesake(session, name=name)


async def existing_unit(session: AsyncSession, *, name: str) -> Unit:
    """The unit of that name, or UnknownUnitError naming the closest ones."""
    unit = await lookup_unit(session, name=name)
    if unit is None:
        raise UnknownUnitError(await unknown_unit_message(session, name=name))
    return unit


async def unknown_unit_message(session: AsyncSession, *, name: str) -> str:
    names = list(await session.scalars(select(Unit.name).order_by(Unit.name_key)))
    close = _closest(name, names)
    text = f"Chưa có đơn vị «{clean_unit_name(name)}»."
    if close:
        text += " Có phải: " + ", ".join(f"«{n}»" for n in close) + "?"
    elif names:
        text += " Xem danh sách: python -m bot unit list."
    return text + " Tạo đơn vị mới: python -m bot unit add TÊN."


def _closest(name: str, names: list[str]) -> list[str]:
    by_key: dict[str, str] = {}
    for known in names:
        by_key.setdefault(unit_core_key(known), known)
        by_key.setdefault(fold(known), known)
    keys = difflib.get_close_matches(unit_core_key(name), list(by_key), MAX_SUGGESTIONS * 2, 0.6)
    keys += difflib.get_close_matches(fold(name), list(by_key), MAX_SUGGESTIONS * 2, 0.6)
    found: list[str] = []
    for key in keys:
        if by_key[key] not in found:
            found.append(by_key[key])
    return found[:MAX_SUGGESTIONS]


async def add_unit(session: AsyncSession, *, name: str, actor: str) -> Unit:
    """Create a unit; refused when one of that name (or the same name without prefix) exists."""
    cleaned = clean_unit_name(name)
    clash = await _namesake(session, name=cleaned)
    if clash is not None:
        raise UnitNameError(f"Đã có đơn vị «{clash.name}».")
    unit = Unit(name=cleaned, name_key=fold(cleaned))
    session.add(unit)
    await session.flush()
    audit(
        session,
        unit_id=unit.id,
        actor=actor,
        actor_officer_id=None,
        action="unit.add",
        entity="unit",
        entity_id=unit.id,
        old=None,
        new={"name": cleaned},
    )
    return unit


async def rename_unit(session: AsyncSession, *, unit: Unit, new_name: str, actor: str) -> str:
    """Rename (a merged commune's new name); returns the old name. Audited."""
    cleaned = clean_unit_name(new_name)
    clash = await _namesake(session, name=cleaned)
    if clash is not None and clash.id != unit.id:
        raise UnitNameError(f"Đã có đơn vị «{clash.name}».")
    old = unit.name
    unit.name, unit.name_key = cleaned, fold(cleaned)
    audit(
        session,
        unit_id=unit.id,
        actor=actor,
        actor_officer_id=None,
        action="unit.rename",
        entity="unit",
        entity_id=unit.id,
        old={"name": old},
        new={"name": cleaned},
    )
    await session.flush()
    return old


async def _namesake(session: AsyncSession, *, name: str) -> Unit | None:
    key = unit_core_key(name)
    for unit in await session.scalars(select(Unit).order_by(Unit.id)):
        if unit_core_key(unit.name) == key:
            return unit
    return None


@dataclass(frozen=True)
class UnitLine:
    name: str
    plans: int
    officers: int


async def list_units(session: AsyncSession) -> list[UnitLine]:
    """Every unit with how many active plans and officers it has, by name."""
    plans = await _counts(session, Plan.unit_id, Plan.active)
    officers = await _counts(session, Officer.unit_id, Officer.active)
    units = await session.scalars(select(Unit).order_by(Unit.name_key))
    return [UnitLine(u.name, plans.get(u.id, 0), officers.get(u.id, 0)) for u in units]


async def _counts(session: AsyncSession, unit_id: Any, active: Any) -> dict[int, int]:
    rows = await session.execute(
        select(unit_id, func.count()).where(active.is_(True)).group_by(unit_id)
    )
    return {unit: count for unit, count in rows}
