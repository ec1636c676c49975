"""/viec (/tasks): my items, grouped and paged, and the item card with its buttons.

Options carry ids only ("L:<page>", "C:<item>:<page>"); every press loads the
item again and checks it is in the user's unit and theirs to see.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import date

from sqlalchemy import exists, select

from bot import texts
from core.conversation import TypedAnswers
from core.evidence import evidence_count
from core.ownership import ItemView, officer_items, snapshot_owners
from core.progress import NOT_STARTED, Report, item_state, recent_updates
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
from handlers.lookup import choice_action, label, load_item, may_update, may_view
from handlers.state import Choice, expect, stop_awaiting
from storage.models import Criterion, Plan

PAGE_SIZE = 8
LIST_PREFIX = "L"
CARD_PREFIX = "C"
PERCENT_PREFIX = "P"
DONE_PREFIX = "D"
BLOCKED_PREFIX = "B"
EVIDENCE_PREFIX = "E"
PERCENT_STEPS = (0, 25, 50, 75, 100)
CARD_FOOTER = re.compile(r"Mục #(\d+)\s*$")
MAX_TITLE_CHARS = 900
MAX_REQUIREMENT_CHARS = 900
ITEM_BUTTON_CHARS = 40


# --- the list ----------------------------------------------------------------------------------


@handler(OFFICER, reads_only=True)
async def tasks_command(event: Inbound, request: Request) -> Reply:
    return await tasks_reply(request, page=0)


@handler(OFFICER, reads_only=True)
async def tasks_page(event: Inbound, request: Request) -> Reply:
    """ "L:<page>": another page, or back from a card (which also drops a pending question)."""
    await stop_awaiting(request, "blocked", "evidence")
    page = as_int(callback_parts(event, 2)[1]) or 0
    return await tasks_reply(request, page=page, edit=True)


async def tasks_reply(request: Request, *, page: int, edit: bool = False) -> Reply:
    assert request.officer is not None
    items = await officer_items(request.session, officer=request.officer, today=request.today)
    flat = [(group, item) for group, views in items.groups() for item in views]
    if not flat:
        empty = texts.NO_TASKS if await _unit_has_plan(request) else texts.NO_PLAN
        return Reply(empty, edit=edit)
    pages = math.ceil(len(flat) / PAGE_SIZE)
    page = min(max(page, 0), pages - 1)
    chunk = flat[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    lines = [texts.tasks_title(len(flat), page, pages)]
    shown_group = None
    for group, item in chunk:
        if group != shown_group:
            lines.append(f"\n{texts.TASK_GROUPS[group]}:")
            shown_group = group
        lines.append(_line(item))
    buttons = [[_item_button(item, page)] for _, item in chunk]
    buttons += pager(LIST_PREFIX, page, pages)
    return Reply("\n".join(lines), choices=buttons, edit=edit)


def _line(item: ItemView) -> str:
    return texts.task_line(
        f"{item.index} {item.code}", item.short_title, item.due_date, item.status, item.percent
    )


def _item_button(item: ItemView, page: int) -> Option:
    text = f"{item.index} {item.code} {item.short_title}"
    if len(text) > ITEM_BUTTON_CHARS:
        text = text[: ITEM_BUTTON_CHARS - 1].rstrip() + "…"
    return text, callback_data(CARD_PREFIX, item.criterion_id, page)


def pager(prefix: str, page: int, pages: int) -> list[list[Option]]:
    nav: list[Option] = []
    if page > 0:
        nav.append((texts.PREV, callback_data(prefix, page - 1)))
    if page < pages - 1:
        nav.append((texts.NEXT, callback_data(prefix, page + 1)))
    return [nav] if nav else []


async def _unit_has_plan(request: Request) -> bool:
    assert request.officer is not None
    query = select(exists().where(Plan.unit_id == request.officer.unit_id, Plan.active.is_(True)))
    return bool(await request.session.scalar(query))


# --- the card ----------------------------------------------------------------------------------


@handler(OFFICER, reads_only=True)
async def open_card(event: Inbound, request: Request) -> Reply:
    """ "C:<item>:<page>": show the card in place of the list (or of a question)."""
    await stop_awaiting(request, "blocked", "evidence")
    _, raw_id, raw_page = callback_parts(event, 3)
    criterion = await checked_item(request, as_int(raw_id), view_only=True)
    if isinstance(criterion, Reply):
        return criterion
    return await card_reply(request, criterion, page=as_int(raw_page) or 0, edit=True)


async def checked_item(
    request: Request, criterion_id: int | None, *, view_only: bool = False
) -> Criterion | Reply:
    """The item a button names, if it is live, in the user's unit, and theirs."""
    criterion = await load_item(request, criterion_id) if criterion_id is not None else None
    if criterion is None:
        return Reply(texts.ITEM_GONE, edit=True, alert=texts.STALE_BUTTON)
    permitted = await (may_view if view_only else may_update)(request, criterion)
    if not permitted:
        return Reply(texts.NOT_ALLOWED, alert=texts.NOT_ALLOWED)
    return criterion


async def await_answer_for_card(
    event: Inbound, request: Request, kind: str
) -> tuple[Criterion, int] | Reply:
    """A card button "<X>:<item>:<page>" whose answer is the user's next message.

    Remembers which card to update once the answer comes, so the reason or
    file lands on the item the officer pressed, not on whatever they last typed.
    """
    _, raw_id, raw_page = callback_parts(event, 3)
    criterion = await checked_item(request, as_int(raw_id))
    if isinstance(criterion, Reply):
        return criterion
    page = as_int(raw_page) or 0
    await expect(request, kind, criterion_id=criterion.id, message_id=event.message_id, page=page)
    return criterion, page


async def card_reply(
    request: Request,
    criterion: Criterion,
    *,
    page: int = 0,
    edit: bool = False,
    alert: str | None = None,
    notice: str | None = None,
    cancel_only: bool = False,
) -> Reply:
    text = await card_text(request, criterion, notice=notice)
    typed = None
    if cancel_only:
        buttons = [[(texts.CANCEL, callback_data(CARD_PREFIX, criterion.id, page))]]
    elif await may_update(request, criterion):
        buttons = card_buttons(criterion.id, page)
        typed = card_typed_answers(criterion.id, page)
    else:
        buttons = [[(texts.BACK, callback_data(LIST_PREFIX, page))]]
    return Reply(text, choices=buttons, edit=edit, alert=alert, typed=typed)


def card_buttons(criterion_id: int, page: int) -> list[list[Option]]:
    percents = [
        (f"{p}%", callback_data(PERCENT_PREFIX, criterion_id, p, page)) for p in PERCENT_STEPS
    ]
    return [
        percents,
        [
            (texts.DONE_BUTTON, callback_data(DONE_PREFIX, criterion_id, page)),
            (texts.BLOCKED_BUTTON, callback_data(BLOCKED_PREFIX, criterion_id, page)),
        ],
        [
            (texts.EVIDENCE_BUTTON, callback_data(EVIDENCE_PREFIX, criterion_id, page)),
            (texts.BACK, callback_data(LIST_PREFIX, page)),
        ],
    ]


def card_typed_answers(criterion_id: int, page: int) -> TypedAnswers:
    """The card's buttons as typed answers: a number is a percent, the others are words."""
    return TypedAnswers(
        hint=texts.CARD_TYPED_HINT,
        number_data=callback_data(PERCENT_PREFIX, criterion_id, "{n}", page),
        numbers=(0, 100),
        out_of_range=texts.CARD_PERCENT_RANGE,
        words=(
            (texts.WORD_DONE, callback_data(DONE_PREFIX, criterion_id, page)),
            (texts.DONE_BUTTON, callback_data(DONE_PREFIX, criterion_id, page)),
            (texts.WORD_BLOCKED, callback_data(BLOCKED_PREFIX, criterion_id, page)),
            (texts.BLOCKED_BUTTON, callback_data(BLOCKED_PREFIX, criterion_id, page)),
            (texts.WORD_EVIDENCE, callback_data(EVIDENCE_PREFIX, criterion_id, page)),
            (texts.EVIDENCE_BUTTON, callback_data(EVIDENCE_PREFIX, criterion_id, page)),
            (texts.WORD_BACK, callback_data(LIST_PREFIX, page)),
        ),
    )


async def card_text(request: Request, criterion: Criterion, *, notice: str | None = None) -> str:
    session = request.session
    facts = await unit_snapshot(session, unit_id=criterion.unit_id, day=request.today)
    recent = await recent_updates(session, criterion=criterion, limit=3)
    state = item_state(recent[0]) if recent else NOT_STARTED
    lines = [f"{label(criterion)} — {_cut(criterion.title, MAX_TITLE_CHARS)}"]
    if criterion.requirement:
        lines.append(
            f"{texts.CARD_REQUIREMENT}: {_cut(criterion.requirement, MAX_REQUIREMENT_CHARS)}"
        )
    if criterion.task:
        lines.append(f"{texts.CARD_TASK}: {_cut(criterion.task, MAX_REQUIREMENT_CHARS)}")
    lines += _deadline_lines(criterion)
    if criterion.max_points is not None or criterion.target_points is not None:
        lines.append(texts.card_points(criterion.max_points, criterion.target_points))
    who = ", ".join(o.name for o in snapshot_owners(facts, criterion)) or texts.CARD_NO_OWNER
    lines.append(f"{texts.CARD_OWNERS}: {who}")
    lines.append(f"{texts.CARD_STATUS}: {texts.status(state.status, state.percent)}")
    lines += _recent_lines(request, recent, facts.names)
    lines.append(texts.card_evidence(await evidence_count(session, criterion_id=criterion.id)))
    if notice:
        lines.append(f"\n{notice}")
    lines.append(texts.card_footer(criterion.id))
    return "\n".join(lines)


def _deadline_lines(criterion: Criterion) -> list[str]:
    lines = []
    if criterion.deadline_text:
        lines.append(f"{texts.CARD_DEADLINE}: {_cut(criterion.deadline_text, 300)}")
    if criterion.recurrence == "continuous":
        lines.append(f"{texts.CARD_DATES}: {texts.CARD_ONGOING}")
    else:
        dates: list[date] = sorted({m.due_date for m in criterion.milestones})
        if dates:
            lines.append(texts.card_dates(dates))
    return lines


def _recent_lines(request: Request, recent: Sequence[Report], names: dict[int, str]) -> list[str]:
    if not recent:
        return []
    lines = [texts.CARD_RECENT]
    for row in recent:
        when = texts.moment(row.created_at, request.tz)
        who = names.get(row.officer_id or -1, "?")
        lines.append(texts.card_update(when, who, row.status, row.percent, _cut(row.note, 120)))
    return lines


def _cut(text: str | None, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def card_item_id(text: str | None) -> int | None:
    """The item id in a card's footer ("Mục #123"), for files sent in reply to a card."""
    match = CARD_FOOTER.search(text or "")
    return as_int(match.group(1)) if match else None


@choice_action("open")
async def open_chosen(request: Request, choice: Choice, criterion: Criterion) -> Result:
    if not await may_view(request, criterion):
        return Reply(texts.NOT_ALLOWED, alert=texts.NOT_ALLOWED)
    return await card_reply(request, criterion, edit=True)
