"""Pausing reminders and tuning them: /hoanlai (snooze one item), /nghi (away), /caidat.

The rules live in core/reminder_settings.py; this module only reads the
command, finds the item (with the same code lookup as /capnhat) and answers.
"""

from __future__ import annotations

from datetime import date, datetime

from bot import texts
from core.reminder_rules import PolicyError
from core.reminder_settings import PauseError, change_setting, current_settings, set_away, snooze
from handlers.base import MANAGER, OFFICER, Inbound, Reply, Request, Result, as_int, handler
from handlers.lookup import choice_action, find_item, label, may_update, split_code, unit_indexes
from handlers.state import Choice
from storage.models import Criterion

SNOOZE_KIND = "snooze"


@handler(OFFICER)
async def snooze_command(event: Inbound, request: Request) -> Result:
    """/hoanlai <mã> <số ngày>"""
    code, rest = split_code(event.args, await unit_indexes(request))
    days = as_int(rest[0]) if rest else None
    if not code or days is None:
        return Reply(texts.SNOOZE_USAGE)
    choice = Choice(SNOOZE_KIND, days=days)
    found = await find_item(request, code, choice)
    if isinstance(found, Reply):
        return found
    return await _snoozed(request, found, days)


@choice_action(SNOOZE_KIND)
async def _snooze_chosen(request: Request, choice: Choice, criterion: Criterion) -> Result:
    return await _snoozed(request, criterion, choice.days or 0)


async def _snoozed(request: Request, criterion: Criterion, days: int) -> Reply:
    assert request.officer is not None
    if not await may_update(request, criterion):
        return Reply(texts.not_owner(label(criterion)))
    try:
        until = await snooze(
            request.session,
            officer=request.officer,
            criterion=criterion,
            days=days,
            today=request.today,
            actor=request.actor,
        )
    except PauseError as exc:
        return Reply(str(exc))
    return Reply(texts.snoozed(label(criterion), until))


@handler(OFFICER)
async def away_command(event: Inbound, request: Request) -> Reply:
    """/nghi <dd/mm/yyyy> — or /nghi xong when back early."""
    assert request.officer is not None
    args = event.args
    if not args:
        return Reply(texts.AWAY_USAGE)
    back = args[0].lower() in texts.AWAY_BACK_WORDS
    until = None if back else _date(args[0])
    if until is None and not back:
        return Reply(texts.AWAY_USAGE)
    try:
        await set_away(
            request.session,
            officer=request.officer,
            until=until,
            today=request.today,
            actor=request.actor,
        )
    except PauseError as exc:
        return Reply(str(exc))
    return Reply(texts.BACK_FROM_AWAY if until is None else texts.away_until(until))


@handler(MANAGER)
async def settings_command(event: Inbound, request: Request) -> Reply:
    """/caidat — show the unit's reminder settings; /caidat <mục> <giá trị> — change one."""
    assert request.unit is not None and request.officer is not None
    defaults = {"reminder_time": request.settings.reminder_time}
    args = event.args
    if not args:
        return Reply(texts.reminder_settings(current_settings(request.unit, defaults=defaults)))
    if not {"coordinator", "admin"} & set(request.officer.roles or ()):
        return Reply(texts.NOT_ALLOWED)
    if len(args) < 2:
        return Reply(texts.SETTINGS_USAGE)
    try:
        await change_setting(
            request.session,
            unit=request.unit,
            key=args[0],
            value=" ".join(args[1:]),
            actor=request.actor,
            actor_officer_id=request.officer.id,
        )
    except PolicyError as exc:
        return Reply(str(exc))
    changed = current_settings(request.unit, defaults=defaults)
    return Reply(texts.SETTINGS_SAVED + "\n" + texts.reminder_settings(changed))


def _date(text: str) -> date | None:
    try:
        return datetime.strptime(text, "%d/%m/%Y").date()
    except ValueError:
        return None
