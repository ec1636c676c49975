"""Progress: /capnhat (/update), /xong (/done), the card's buttons, and the blocked reason.

Every report goes through core.progress.record_progress, which is idempotent
on (source, update id) and writes the audit row; the owner check is
core.ownership.can_update, asked again on every command and press.
"""

from __future__ import annotations

from bot import texts
from core.progress import ProgressError, record_progress
from core.undo import undo_last
from handlers.base import (
    OFFICER,
    Inbound,
    Reply,
    Request,
    Result,
    as_int,
    callback_parts,
    handler,
)
from handlers.lookup import choice_action, find_item, label, may_update, split_code, unit_indexes
from handlers.state import Choice, awaiting, stop_awaiting
from handlers.tasks import await_answer_for_card, card_reply, checked_item
from storage.models import Criterion


async def report(
    request: Request,
    criterion: Criterion,
    *,
    percent: int | None = None,
    status: str | None = None,
    note: str | None = None,
) -> tuple[str, int] | str:
    """Record a report; (status, percent) recorded, or a message saying why not."""
    assert request.officer is not None
    if not await may_update(request, criterion):
        return texts.not_owner(label(criterion))
    try:
        row = await record_progress(
            request.session,
            officer=request.officer,
            criterion=criterion,
            percent=percent,
            status=status,
            note=note,
            source=request.event.channel,
            source_update_id=request.source_id,
            now=request.now,
            actor=request.actor,
        )
    except ProgressError as exc:
        return str(exc)
    if row is None:  # this very update was recorded already (a twin delivery)
        return texts.progress_saved(label(criterion), status or "in_progress", percent or 0)
    return row.status, row.percent


# --- commands --------------------------------------------------------------------------------


@handler(OFFICER)
async def update_command(event: Inbound, request: Request) -> Result:
    """/capnhat <mã> <0-100> [ghi chú]"""
    code, rest = split_code(event.args, await unit_indexes(request))
    if not code or not rest:
        return Reply(texts.UPDATE_USAGE)
    percent = parse_percent(rest[0])
    if percent is None:
        return Reply(texts.BAD_PERCENT)
    note = " ".join(rest[1:]) or None
    choice = Choice("update", percent=percent, note=note)
    found = await find_item(request, code, choice)
    if isinstance(found, Reply):
        return found
    return await _reported(request, found, percent=percent, note=note)


@handler(OFFICER)
async def done_command(event: Inbound, request: Request) -> Result:
    """/xong <mã> [ghi chú]"""
    code, rest = split_code(event.args, await unit_indexes(request))
    if not code:
        return Reply(texts.DONE_USAGE)
    note = " ".join(rest) or None
    choice = Choice("done", note=note)
    found = await find_item(request, code, choice)
    if isinstance(found, Reply):
        return found
    return await _reported(request, found, status="done", note=note)


def parse_percent(text: str) -> int | None:
    cleaned = text.strip().rstrip("%")
    value = as_int(cleaned)
    return value if value is not None and 0 <= value <= 100 else None


async def _reported(
    request: Request,
    criterion: Criterion,
    *,
    percent: int | None = None,
    status: str | None = None,
    note: str | None = None,
) -> Reply:
    outcome = await report(request, criterion, percent=percent, status=status, note=note)
    if isinstance(outcome, str):
        return Reply(outcome)
    return Reply(texts.progress_saved(label(criterion), *outcome))


@choice_action("update")
async def update_chosen(request: Request, choice: Choice, criterion: Criterion) -> Result:
    reply = await _reported(request, criterion, percent=choice.percent, note=choice.note)
    reply.edit = True
    return reply


@choice_action("done")
async def done_chosen(request: Request, choice: Choice, criterion: Criterion) -> Result:
    reply = await _reported(request, criterion, status="done", note=choice.note)
    reply.edit = True
    return reply


@handler(OFFICER)
async def undo_command(event: Inbound, request: Request) -> Reply:
    """/hoantac: take back my last report or evidence file of the last 10 minutes."""
    assert request.officer is not None
    undone = await undo_last(
        request.session, officer=request.officer, now=request.now, actor=request.actor
    )
    if undone is None:
        return Reply(texts.UNDO_NOTHING)
    item = label(undone.criterion)
    if undone.kind == "evidence":
        return Reply(texts.undone_evidence(item, undone.file_name or ""))
    state = undone.state_now
    return Reply(
        texts.undone_progress(
            item, undone.percent or 0, undone.status or "", state.percent, state.status
        )
    )


# --- the card's buttons --------------------------------------------------------------------------


@handler(OFFICER)
async def percent_pressed(event: Inbound, request: Request) -> Reply:
    """ "P:<item>:<percent>:<page>" """
    _, raw_id, raw_percent, raw_page = callback_parts(event, 4)
    percent = parse_percent(raw_percent)
    criterion = await checked_item(request, as_int(raw_id))
    if isinstance(criterion, Reply) or percent is None:
        return criterion if isinstance(criterion, Reply) else Reply(texts.STALE_BUTTON)
    return await _card_after(request, criterion, as_int(raw_page) or 0, percent=percent)


@handler(OFFICER)
async def done_pressed(event: Inbound, request: Request) -> Reply:
    """ "D:<item>:<page>" """
    _, raw_id, raw_page = callback_parts(event, 3)
    criterion = await checked_item(request, as_int(raw_id))
    if isinstance(criterion, Reply):
        return criterion
    return await _card_after(request, criterion, as_int(raw_page) or 0, status="done")


async def _card_after(
    request: Request,
    criterion: Criterion,
    page: int,
    *,
    percent: int | None = None,
    status: str | None = None,
) -> Reply:
    outcome = await report(request, criterion, percent=percent, status=status)
    if isinstance(outcome, str):
        return Reply(outcome, alert=outcome[:190])
    toast = texts.progress_toast(*outcome)
    return await card_reply(request, criterion, page=page, edit=True, alert=toast)


@handler(OFFICER)
async def blocked_pressed(event: Inbound, request: Request) -> Reply:
    """ "B:<item>:<page>": ask for the reason; the next text message is it."""
    pressed = await await_answer_for_card(event, request, "blocked")
    if isinstance(pressed, Reply):
        return pressed
    criterion, page = pressed
    return await card_reply(
        request,
        criterion,
        page=page,
        edit=True,
        notice=texts.ASK_BLOCKED_REASON,
        cancel_only=True,
    )


@handler(OFFICER)
async def text_message(event: Inbound, request: Request) -> Result:
    """Plain text: the reason asked for by "Gặp khó khăn", or a pointer to /viec."""
    pending = await awaiting(request, "blocked")
    if pending is None or not event.text:
        return Reply(texts.FREE_TEXT_HINT)
    await stop_awaiting(request, "blocked")
    criterion = await checked_item(request, pending.criterion_id)
    if isinstance(criterion, Reply):
        return Reply(criterion.text)
    outcome = await report(request, criterion, status="blocked", note=event.text)
    if isinstance(outcome, str):
        return Reply(outcome)
    replies: list[Reply] = []
    if pending.message_id is not None:  # the card that asked shows the new state
        card = await card_reply(request, criterion, page=pending.page)
        card.message_id = pending.message_id
        replies.append(card)
    replies.append(Reply(texts.blocked_saved(label(criterion))))
    return replies
