"""Finding the item a user means, and checking they may see or change it.

Codes are typed as in the plan ("7.2.6.1", "PCI 2.1"). An ambiguous or
unknown code gets buttons (the matching items, or the closest ones); the
action the user typed waits in a :class:`~handlers.state.Choice` and runs
when they press one. Every press is checked again: the id must be one the
choice offered, and the item must be in the user's unit and theirs to touch.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from bot import texts
from core.items import Ambiguous, Resolved, live_criteria_query, resolve_code
from core.ownership import can_update
from core.plan_years import years_label
from core.roles import is_manager
from core.unit_snapshot import unit_snapshot
from handlers.base import (
    OFFICER,
    Inbound,
    Option,
    Reply,
    Request,
    Result,
    as_int,
    callback_data,
    callback_parts,
    handler,
)
from handlers.state import Choice, drop_choice, get_choice, new_choice
from storage.models import Criterion, Plan

CHOICE_PREFIX = "Q"
BUTTON_TITLE_CHARS = 40

ChoiceAction = Callable[[Request, Choice, Criterion], Awaitable[Result]]
_actions: dict[str, ChoiceAction] = {}


def choice_action(kind: str) -> Callable[[ChoiceAction], ChoiceAction]:
    """Register what a pressed choice of this kind does (modules register at import)."""

    def register(action: ChoiceAction) -> ChoiceAction:
        _actions[kind] = action
        return action

    return register


def label(criterion: Criterion) -> str:
    return f"{criterion.index_name} {criterion.code}"


def button_title(
    criterion: Criterion, limit: int = BUTTON_TITLE_CHARS, *, year: str | None = None
) -> str:
    head = f"{label(criterion)} ({year})" if year else label(criterion)
    text = f"{head} {criterion.title}"
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


_LIVE_ITEM = (
    live_criteria_query(bindparam("unit_id"))
    .where(Criterion.id == bindparam("criterion_id"))
    .options(joinedload(Criterion.milestones))  # one round trip, not two
)  # built once: every button press runs it


async def load_item(request: Request, criterion_id: int) -> Criterion | None:
    """The live item with this id in the user's unit, or None (gone, or someone else's)."""
    if request.officer is None:
        return None
    params = {"criterion_id": criterion_id, "unit_id": request.officer.unit_id}
    return (await request.session.scalars(_LIVE_ITEM, params)).unique().one_or_none()


async def may_update(request: Request, criterion: Criterion) -> bool:
    """core.ownership.can_update, asked once per item and update."""
    if request.officer is None:
        return False
    key = ("may_update", criterion.id)
    if key not in request.memo:
        request.memo[key] = await can_update(
            request.session, officer=request.officer, criterion=criterion
        )
    return bool(request.memo[key])


async def may_view(request: Request, criterion: Criterion) -> bool:
    """Owners and anyone who may report; leaders and coordinators see the whole unit."""
    if request.officer is None or request.officer.unit_id != criterion.unit_id:
        return False
    return is_manager(request.officer) or await may_update(request, criterion)


async def unit_indexes(request: Request) -> list[str]:
    """The indexes of the unit's live plans ("PAR", "PCI", …), to read "PCI 2.1" as one code."""
    if request.officer is None:
        return []
    facts = await unit_snapshot(request.session, unit_id=request.officer.unit_id, day=request.today)
    return sorted(facts.indexes)


def split_code(args: Sequence[str], indexes: Sequence[str] = ()) -> tuple[str, list[str]]:
    """("PCI 2.1", rest) when the first word names an index of the plan, else (first, rest)."""
    if len(args) >= 2 and args[0].upper() in {i.upper() for i in indexes}:
        return f"{args[0]} {args[1]}", list(args[2:])
    return (args[0], list(args[1:])) if args else ("", [])


async def find_item(request: Request, code: str, choice: Choice) -> Criterion | Reply:
    """The item for ``code``, or a reply offering buttons that carry ``choice`` on."""
    assert request.unit is not None
    found = await resolve_code(request.session, unit=request.unit, text=code, day=request.today)
    if isinstance(found, Resolved):
        return found.criterion
    if isinstance(found, Ambiguous):
        years = await plan_years_of(request, found.options)
        return await offer(choice, found.options, texts.ambiguous_code(code), request, years)
    text = texts.unknown_code(code, bool(found.suggestions))
    return await offer(choice, found.suggestions, text, request)


async def offer(
    choice: Choice,
    options: Sequence[Criterion],
    text: str,
    request: Request,
    years: dict[int, str] | None = None,
) -> Reply:
    """Buttons for ``options``; with ``years`` (plan id -> "2025"), each names its plan's year."""
    if not options:
        return Reply(text)
    choice.options = [c.id for c in options]
    ref = await new_choice(request, choice)
    buttons = [
        [
            (
                button_title(c, year=(years or {}).get(c.plan_id)),
                callback_data(CHOICE_PREFIX, ref, c.id),
            )
        ]
        for c in options
    ]
    return Reply(text, choices=buttons)


async def plan_years_of(request: Request, options: Sequence[Criterion]) -> dict[int, str] | None:
    """The options' plan years when they come from several plans ("PAR 1.5 (2025)"), else None."""
    plan_ids = {c.plan_id for c in options}
    if len(plan_ids) < 2:
        return None
    rows = await request.session.execute(
        select(Plan.id, Plan.period_start, Plan.period_end).where(Plan.id.in_(plan_ids))
    )
    return {plan_id: years_label(start, end) for plan_id, start, end in rows}


@handler(OFFICER)
async def on_choice(event: Inbound, request: Request) -> Result:
    """A press on "Q:<ref>:<id>": run the waiting action on the chosen item."""
    _, ref, raw_id = callback_parts(event, 3)
    choice = await get_choice(request, ref)
    chosen = as_int(raw_id)
    if choice is None or chosen is None or chosen not in choice.options:
        return Reply(texts.CHOICE_EXPIRED, edit=True, alert=texts.CHOICE_EXPIRED)
    criterion = await load_item(request, chosen)
    if criterion is None:
        return Reply(texts.ITEM_GONE, edit=True)
    action = _actions.get(choice.kind)
    if action is None:
        return Reply(texts.CHOICE_EXPIRED, edit=True)
    await drop_choice(request, ref)
    return await action(request, choice, criterion)


def rows(buttons: Sequence[Option], per_row: int) -> list[list[Option]]:
    return [list(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row)]
