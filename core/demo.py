"""The demo unit for trying dondoc with no chat account (``python -m bot chat --demo``).

A seed plan shipped with the package, moved to the current year (its years 2022 and 2023
become last year and this one, so that its deadlines fall in this year: some already
past, as in a real commune by December), and four
fictional people: a coordinator, two officers and a leader, the first three holding
positions that lead items of the plan. Made once; a second run finds the unit and
changes nothing (people added or removed since stay so).
"""

from __future__ import annotations

import re
from importlib import resources

from sqlalchemy.ext.asyncio import AsyncSession

from core.officers import add_officer
from core.plan_store import find_unit, import_plan
from core.plan_yaml import load_yaml_plan
from storage.models import Unit

DEMO_UNIT = "Xã Minh Họa"
DEMO_SEED = "songcau_2023_cchc.yaml"
SEED_YEARS = re.compile(r"\b(2022|2023)\b")  # the plan's year and the one before (no 29/02)
# (name, positions, roles); the first is the one the shell plays unless told otherwise.
DEMO_PEOPLE: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("Trần Thu Hà", ("VPTK",), ("coordinator",)),
    ("Lê Minh Tuấn", ("TPHT",), ("officer",)),
    ("Phạm Thị Mai", ("TCKT",), ("officer",)),
    ("Nguyễn Văn Bình", (), ("leader",)),
)
COORDINATOR = DEMO_PEOPLE[0][0]


async def ensure_demo_unit(session: AsyncSession, *, year: int, actor: str) -> tuple[Unit, bool]:
    """The demo unit, created with its plan for ``year`` and its people unless it exists;
    True when created. The caller commits.
    """
    unit = await find_unit(session, name=DEMO_UNIT)
    if unit is not None:
        return unit, False
    seed = resources.files("seeds").joinpath(DEMO_SEED).read_text("utf-8")
    text = SEED_YEARS.sub(lambda found: str(year + int(found[1]) - 2023), seed)
    await import_plan(
        session,
        unit_name=DEMO_UNIT,
        plan=load_yaml_plan(text),
        source_name=DEMO_SEED,
        source_sha256=None,
        actor=actor,
    )
    unit = await find_unit(session, name=DEMO_UNIT)
    assert unit is not None
    for name, positions, roles in DEMO_PEOPLE:
        await add_officer(
            session, unit=unit, name=name, positions=positions, roles=roles, actor=actor
        )
    return unit, True
