"""Plan items as officers see them: loading a unit's live items, and codes as typed.

An officer types "7.2.6.1", "7.2.6.1." or "PCI 2.1". A unit's plan can hold
several indexes (PAR, SIPAS, PAPI, PCI) that reuse the same codes, so a bare
code can be ambiguous; and a code can repeat inside one index (occurrence 2).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import BindParameter, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from core.text import nfc, one_line, roman_to_int
from core.unit_snapshot import unit_snapshot
from storage.models import Criterion, Plan, Unit

MAX_SUGGESTIONS = 3
_MIN_SIMILARITY = 50.0
_INDEX_PREFIX = re.compile(r"^\s*([A-Za-z]+)\s*(.*)$")


@dataclass(frozen=True)
class Resolved:
    criterion: Criterion


@dataclass(frozen=True)
class Ambiguous:
    options: list[Criterion]


@dataclass(frozen=True)
class Unknown:
    suggestions: list[Criterion]


Resolution = Resolved | Ambiguous | Unknown


def live_criteria_query(
    unit_id: int | BindParameter[int],
    plan_ids: Collection[int] | BindParameter[Any] | None = None,
) -> Select[Criterion]:
    """Active criteria of the unit's active plans, in document order.

    ``plan_ids`` narrows them to some plans: those current on a day
    (core.plan_years), for everything that nags or resolves codes.
    """
    query = (
        select(Criterion)
        .join(Plan, Plan.id == Criterion.plan_id)
        .where(Criterion.unit_id == unit_id, Criterion.active.is_(True), Plan.active.is_(True))
        .order_by(Criterion.plan_id, Criterion.ordinal)
    )
    if plan_ids is not None:
        query = query.where(Criterion.plan_id.in_(plan_ids))
    return query


# Built once: every /capnhat and /xong runs one. The milestones come in the same
# round trip (a join), not in a second query.
_BY_CODE = (
    live_criteria_query(bindparam("unit_id"), bindparam("plan_ids", expanding=True))
    .where(func.lower(Criterion.code) == bindparam("code"))
    .options(joinedload(Criterion.milestones))
)
_BY_INDEX_AND_CODE = _BY_CODE.where(Criterion.index_name == bindparam("index"))


async def live_leaf_criteria(
    session: AsyncSession, *, unit_id: int, day: date | None = None
) -> list[Criterion]:
    """The items people work on (leaves) of the plans current on ``day``, with their milestones.

    One query: a join rather than the relationship's default selectin load:
    selectin batches 500 ids per query, so thousands of items would cost a
    query each 500.
    """
    facts = await unit_snapshot(session, unit_id=unit_id, day=day)
    query = live_criteria_query(unit_id, facts.plan_ids).where(Criterion.is_leaf.is_(True))
    rows = await session.scalars(query.options(joinedload(Criterion.milestones)))
    return list(rows.unique().all())


def natural_key(code: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key putting "1.10" after "1.9" and "VII.a" after "VI"."""
    parts: list[tuple[int, int, str]] = []
    for part in code.split("."):
        number = int(part) if part.isdigit() else roman_to_int(part)
        parts.append((0, number, "") if number is not None else (1, 0, part.lower()))
    return tuple(parts)


def clean_code(text: str) -> str:
    return one_line(nfc(text)).replace(" ", "").rstrip(".")


def split_index(text: str, indexes: set[str]) -> tuple[str | None, str]:
    """("PCI", "2.1") from "pci2.1" when PCI is one of the unit's indexes, else (None, code).

    Roman codes ("VII.a") start with letters too; they are codes unless they name an index.
    """
    match = _INDEX_PREFIX.match(text)
    if match and match.group(1).upper() in indexes and match.group(2).strip():
        return match.group(1).upper(), clean_code(match.group(2))
    return None, clean_code(text)


async def resolve_code(
    session: AsyncSession, *, unit: Unit, text: str, day: date | None = None
) -> Resolution:
    """The item of the plans current on ``day`` that ``text`` names."""
    facts = await unit_snapshot(session, unit_id=unit.id, day=day)
    index, code = split_index(text, set(facts.indexes))
    if not code:
        return Unknown([])
    plan_ids = sorted(facts.plan_ids)
    params = {"unit_id": unit.id, "code": code.lower(), "index": index, "plan_ids": plan_ids}
    query = _BY_CODE if index is None else _BY_INDEX_AND_CODE
    found = list((await session.scalars(query, params)).unique().all())
    if len(found) == 1:
        return Resolved(found[0])
    if found:
        found.sort(key=lambda c: (c.index_name, c.occurrence, c.plan_id))
        return Ambiguous(found)
    return Unknown(
        await _suggestions(session, unit_id=unit.id, plan_ids=plan_ids, index=index, code=code)
    )


async def _suggestions(
    session: AsyncSession, *, unit_id: int, plan_ids: list[int], index: str | None, code: str
) -> list[Criterion]:
    query = live_criteria_query(unit_id, plan_ids).with_only_columns(
        Criterion.id, Criterion.index_name, Criterion.code
    )
    candidates = (await session.execute(query)).all()
    ranked = sorted(
        (row for row in candidates if _similarity(code, row.code) >= _MIN_SIMILARITY),
        key=lambda row: (
            -_shared_segments(code, row.code),
            row.index_name != index,
            -_similarity(code, row.code),
            natural_key(row.code),
            row.index_name,
        ),
    )
    chosen: list[int] = []
    seen: set[tuple[str, str]] = set()
    for row in ranked:
        if (row.index_name, row.code.lower()) not in seen:
            seen.add((row.index_name, row.code.lower()))
            chosen.append(row.id)
        if len(chosen) == MAX_SUGGESTIONS:
            break
    return await _by_ids(session, chosen)


async def _by_ids(session: AsyncSession, ids: Sequence[int]) -> list[Criterion]:
    if not ids:
        return []
    rows = await session.scalars(select(Criterion).where(Criterion.id.in_(ids)))
    by_id = {row.id: row for row in rows}
    return [by_id[i] for i in ids]


def _similarity(typed: str, code: str) -> float:
    return fuzz.ratio(typed.lower(), code.lower())


def _shared_segments(typed: str, code: str) -> int:
    count = 0
    for a, b in zip(typed.lower().split("."), code.lower().split("."), strict=False):
        if a != b:
            break
        count += 1
    return count
