"""The demo unit for trying dondoc with no chat account (``python -m bot chat --demo``).

A seed plan shipped with the package and four fictional people: a coordinator, two
officers and a leader, holding positions that lead items of the plan. Made once; a
second run finds the unit and changes nothing (people added or removed since stay so).
"""

from __future__ import annotations

from importlib import resources

from sqlalchemy.ext.asyncio import AsyncSession

from core.officers import add_officer
from core.plan_store import find_unit, import_plan
from core.plan_yaml import load_yaml_plan
from storage.models import Unit

DEMO_UNIT = "Xã Minh Họa"
DEMO_SEED = "songcau_2023_cchc.yaml"
# (name, positions, roles); the first is the one the shell plays unless told otherwise.
DEMO_PEOPLE: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("Trần Thu Hà", ("VPTK",), ("coordinator",)),
    ("Lê Minh Tuấn", ("TPHT",), ("officer",)),
    ("Phạm Thị Mai", ("TCKT",), ("officer",)),
    ("Nguyễn Văn Bình", ("UBND",), ("leader",)),
)
COORDINATOR = DEMO_PEOPLE[0][0]


async def ensure_demo_unit(session: AsyncSession, *, actor: str) -> tuple[Unit, bool]:
    """The demo unit, created with its plan and people unless it exists; True when created.

    The caller commits.
    """
    unit = await find_unit(session, name=DEMO_UNIT)
    if unit is not None:
        return unit, False
    text = resources.files("seeds").joinpath(DEMO_SEED).read_text("utf-8")
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
