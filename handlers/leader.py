"""The unit at a glance, for coordinators, leaders and admins: /quahan and /canbo.

(/tonghop, the weekly summary on demand, is in handlers/reports.py.)

Each reads one unit, the asker's; pages are recomputed from the database on
every press, so a page button carries nothing but its number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from bot import texts
from core.accounts import accounts_by_officer, channel_label
from core.officers import department_label, unit_officers
from core.overview import overdue_items
from core.text import short_title
from handlers.base import MANAGER, Inbound, Reply, Request, as_int, callback_parts, handler
from handlers.lookup import label
from handlers.tasks import pager

OVERDUE_PREFIX = "O"
OFFICERS_PREFIX = "CB"
OVERDUE_PAGE = 10
OFFICERS_PAGE = 15


def _page_of(items: Sequence[object], page: int, size: int) -> tuple[int, int]:
    pages = max(math.ceil(len(items) / size), 1)
    return min(max(page, 0), pages - 1), pages


# --- /quahan ---------------------------------------------------------------------------------


@handler(MANAGER, reads_only=True)
async def overdue_command(event: Inbound, request: Request) -> Reply:
    return await overdue_reply(request, page=0)


@handler(MANAGER, reads_only=True)
async def overdue_page(event: Inbound, request: Request) -> Reply:
    return await overdue_reply(request, page=as_int(callback_parts(event, 2)[1]) or 0, edit=True)


async def overdue_reply(request: Request, *, page: int, edit: bool = False) -> Reply:
    assert request.unit is not None
    items = await overdue_items(request.session, unit=request.unit, today=request.today)
    if not items:
        return Reply(texts.NO_OVERDUE, edit=edit)
    page, pages = _page_of(items, page, OVERDUE_PAGE)
    lines = [texts.overdue_title(len(items), page, pages)]
    for item in items[page * OVERDUE_PAGE : (page + 1) * OVERDUE_PAGE]:
        lines.append(
            texts.overdue_line(
                label(item.criterion),
                short_title(item.criterion.title),
                item.due_date,
                item.days_late,
                [o.name for o in item.owners],
                item.status,
                item.percent,
            )
        )
    return Reply("\n".join(lines), choices=pager(OVERDUE_PREFIX, page, pages), edit=edit)


# --- /canbo ----------------------------------------------------------------------------------


@handler(MANAGER, reads_only=True)
async def officers_command(event: Inbound, request: Request) -> Reply:
    return await officers_reply(request, page=0)


@handler(MANAGER, reads_only=True)
async def officers_page(event: Inbound, request: Request) -> Reply:
    return await officers_reply(request, page=as_int(callback_parts(event, 2)[1]) or 0, edit=True)


async def officers_reply(request: Request, *, page: int, edit: bool = False) -> Reply:
    assert request.unit is not None and request.officer is not None
    officers = await unit_officers(request.session, unit=request.unit)
    page, pages = _page_of(officers, page, OFFICERS_PAGE)
    lines = [texts.officers_title(request.unit.name, len(officers), page, pages)]
    shown = officers[page * OFFICERS_PAGE : (page + 1) * OFFICERS_PAGE]
    accounts = await accounts_by_officer(request.session, officer_ids=[o.id for o in shown])
    for officer in shown:
        seen = officer.last_activity_at
        mine = accounts.get(officer.id, [])
        lines.append(
            texts.officer_line(
                officer.name,
                list(officer.positions or []),
                list(officer.roles or []),
                bool(mine),
                any(not a.unreachable for a in mine),
                texts.moment(seen, request.tz) if seen else "",
                department_label(officer, texts.HEAD_OF_DEPARTMENT),
                texts.accounts_text([(channel_label(a.channel), not a.unreachable) for a in mine]),
            )
        )
    if "admin" in (request.officer.roles or ()):
        lines += ["", texts.HELP_ADMIN_TIPS]
    return Reply("\n".join(lines), choices=pager(OFFICERS_PREFIX, page, pages), edit=edit)
