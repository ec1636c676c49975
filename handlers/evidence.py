"""Evidence: photos and files sent as proof for an item.

Which item a file is for, in this order:
1. its caption starts with a code ("3.1.3 bảng tin", "PCI 2.1");
2. it replies to an item card (the card's footer "Mục #<id>" names the item);
3. the user pressed "Gửi minh chứng" on a card a little earlier;
4. it belongs to an album whose captioned photo named the item.

An album arrives as one update per photo, handled concurrently, and only the
first carries the caption. The others wait (outside any transaction) for the
captioned one to decide the album's item, then store one at a time so that
they share, and edit, a single confirmation message.

The file is downloaded through the frame's :class:`~handlers.base.Fetch`:
checks and the update's claim first, the download with no database lock,
then core.evidence.store_evidence in a second transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from functools import partial
from pathlib import Path

from telegram import Message, Update

from bot import texts
from core.evidence import EvidenceError, evidence_count, find_duplicate, store_evidence
from handlers.base import (
    OFFICER,
    Context,
    Fetch,
    FileRef,
    Replies,
    Reply,
    Request,
    Result,
    app_state,
    handler,
)
from handlers.lookup import (
    choice_action,
    find_item,
    label,
    load_item,
    may_update,
    split_code,
    unit_indexes,
)
from handlers.state import (
    CHOICE_TTL,
    AlbumSlot,
    Choice,
    album_slot,
    awaiting,
    decide_album,
    get_choice,
)
from handlers.tasks import await_answer_for_card, card_item_id, card_reply
from storage.models import Criterion

# How long an album's photos wait for the captioned one to say which item.
ALBUM_WAIT_SECONDS = 5.0
_CODE = re.compile(r"(?:[A-Za-z]{2,6}\s*)?(?:\d+|[IVXLC]+)(?:\.[0-9A-Za-z]+)*\.?")


# --- the entry point: album coordination, before the frame -----------------------------------


async def on_file(update: Update, context: Context) -> None:
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None or message.media_group_id is None:
        await file_received(update, context)
        return
    slot = album_slot(context, user.id, message.media_group_id)
    if not _names_its_item(message, context):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(slot.target), ALBUM_WAIT_SECONDS)
    async with slot.lock:
        await file_received(update, context)


def _names_its_item(message: Message, context: Context) -> bool:
    """Whether this message can find its item without the rest of its album."""
    now = app_state(context).clock()
    return bool(
        message.caption
        or _replied_card(message, context) is not None
        or awaiting(context, now, "evidence") is not None
    )


def _replied_card(message: Message, context: Context) -> int | None:
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id != context.bot.id:
        return None
    return card_item_id(replied.text)


def file_ref(message: Message) -> FileRef | None:
    """The file in a message: the largest size of a photo, or the document."""
    if message.photo:
        big = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        return FileRef(big.file_id, big.file_unique_id, big.file_size, None, "image/jpeg")
    if message.document is not None:
        doc = message.document
        return FileRef(doc.file_id, doc.file_unique_id, doc.file_size, doc.file_name, doc.mime_type)
    return None


def split_caption(caption: str | None, indexes: list[str]) -> tuple[str | None, str | None]:
    """(code, note) from "3.1.3 bảng tin"; (None, caption) when it starts with no code."""
    words = (caption or "").split()
    if not words or words[0].startswith("/"):
        return None, caption
    code, rest = split_code(words, indexes)
    if not _CODE.fullmatch(code):
        return None, caption
    return code, " ".join(rest) or None


# --- in the frame ----------------------------------------------------------------------------


@handler(OFFICER)
async def file_received(update: Update, context: Context, request: Request) -> Result:
    message = update.effective_message
    assert message is not None
    ref = file_ref(message)
    if ref is None:
        return None
    slot = _slot(context, request, message)
    code, note = split_caption(message.caption, await unit_indexes(request))
    if code is not None:
        choice = Choice("evidence", [], request.now + CHOICE_TTL, note=note, files=[ref])
        found = await find_item(request, code, choice)
        if isinstance(found, Reply):
            if slot is not None:
                decide_album(slot, ("choice", choice.ref) if choice.ref else ("none", None))
            return found
        return await _attach(request, found, ref, message.caption, slot)
    target = _own_target(message, context, request)
    if target is None and slot is not None:
        return await _album_member(context, request, slot, ref)
    if target is None:
        return Reply(texts.EVIDENCE_NO_TARGET)
    criterion = await load_item(request, target)
    if criterion is None:
        _undecided(slot)
        return Reply(texts.ITEM_GONE)
    return await _attach(request, criterion, ref, message.caption, slot)


def _slot(context: Context, request: Request, message: Message) -> AlbumSlot | None:
    if message.media_group_id is None:
        return None
    return album_slot(context, request.user_id, message.media_group_id)


def _own_target(message: Message, context: Context, request: Request) -> int | None:
    card = _replied_card(message, context)
    if card is not None:
        return card
    pending = awaiting(context, request.now, "evidence")
    return pending.criterion_id if pending is not None else None


async def _album_member(
    context: Context, request: Request, slot: AlbumSlot, ref: FileRef
) -> Result:
    if not slot.target.done():  # nobody in the album named an item: say so once
        decide_album(slot, ("none", None))
        return Reply(texts.EVIDENCE_NO_TARGET)
    kind, value = slot.target.result()
    if kind == "choice" and isinstance(value, str):
        choice = get_choice(context, value, request.now)
        if choice is not None:
            choice.files.append(ref)  # stored with the others once the user picks the item
        return None
    if kind != "item" or not isinstance(value, int):
        return None  # the captioned photo already explained what went wrong
    criterion = await load_item(request, value)
    if criterion is None:
        return None
    return await _attach(request, criterion, ref, None, slot)


def _undecided(slot: AlbumSlot | None) -> None:
    if slot is not None:
        decide_album(slot, ("none", None))


async def _attach(
    request: Request,
    criterion: Criterion,
    ref: FileRef,
    caption: str | None,
    slot: AlbumSlot | None,
) -> Result:
    """Checks that need no file, then the download (Fetch) and the store."""
    if not await may_update(request, criterion):
        _undecided(slot)
        return Reply(texts.not_owner(label(criterion)))
    if slot is not None:
        decide_album(slot, ("item", criterion.id))
    if ref.size is not None and ref.size > Fetch.limit:
        return Reply(texts.FILE_TOO_BIG)
    known = await find_duplicate(
        request.session, criterion_id=criterion.id, file_unique_id=ref.unique_id
    )
    if known is not None:  # a resend: no need to download it again
        count = await evidence_count(request.session, criterion_id=criterion.id)
        return _confirmation(slot, label(criterion), duplicate=True, count=count)
    store = partial(_store, criterion.id, ref, caption, slot)
    return Fetch([ref], store, too_big=Reply(texts.FILE_TOO_BIG))


async def _store(
    criterion_id: int,
    ref: FileRef,
    caption: str | None,
    slot: AlbumSlot | None,
    request: Request,
    paths: list[Path],
) -> Replies:
    """Second transaction: the item is checked again, then the file stored."""
    criterion = await load_item(request, criterion_id)
    if criterion is None:
        return Reply(texts.ITEM_GONE)
    if not await may_update(request, criterion):
        return Reply(texts.not_owner(label(criterion)))
    try:
        result = await _store_one(request, criterion, ref, caption, paths[0])
    except EvidenceError as exc:
        return Reply(str(exc))
    return _confirmation(slot, label(criterion), duplicate=result[0], count=result[1])


async def _store_one(
    request: Request, criterion: Criterion, ref: FileRef, caption: str | None, path: Path
) -> tuple[bool, int]:
    assert request.officer is not None
    stored = await store_evidence(
        request.session,
        officer=request.officer,
        criterion=criterion,
        source=path,
        file_unique_id=ref.unique_id,
        mime=ref.mime,
        original_name=ref.name,
        caption=caption,
        source_update_id=request.source_id,
        evidence_dir=request.settings.evidence_dir,
        now=request.now,
        actor=request.actor,
    )
    return stored.duplicate, stored.count


def _confirmation(slot: AlbumSlot | None, item: str, *, duplicate: bool, count: int) -> Reply:
    if slot is None:
        return Reply(texts.evidence_saved(item, int(not duplicate), int(duplicate), count))
    if duplicate:
        slot.duplicates += 1
    else:
        slot.new += 1
    text = texts.evidence_saved(item, slot.new, slot.duplicates, count)
    if slot.message_id is not None:
        return Reply(text, message_id=slot.message_id)
    return Reply(text, on_sent=partial(setattr, slot, "message_id"))


# --- "Gửi minh chứng" and choices ---------------------------------------------------------------


@handler(OFFICER)
async def evidence_pressed(update: Update, context: Context, request: Request) -> Reply:
    """ "E:<item>:<page>": the next files go to this item."""
    pressed = await await_answer_for_card(update, context, request, "evidence")
    if isinstance(pressed, Reply):
        return pressed
    criterion, page = pressed
    notice = texts.ask_evidence(label(criterion))
    return await card_reply(request, criterion, page=page, edit=True, notice=notice)


@choice_action("evidence")
async def evidence_chosen(
    update: Update, context: Context, request: Request, choice: Choice, criterion: Criterion
) -> Result:
    """A file (or album) whose caption code was unclear: the user picked the item."""
    if not choice.files:
        return Reply(texts.EVIDENCE_SEND_AGAIN, edit=True)
    if not await may_update(request, criterion):
        return Reply(texts.not_owner(label(criterion)), edit=True)
    files = list(choice.files)
    return Fetch(files, partial(_store_all, criterion.id, files, choice.note))


async def _store_all(
    criterion_id: int, files: list[FileRef], note: str | None, request: Request, paths: list[Path]
) -> Replies:
    criterion = await load_item(request, criterion_id)
    if criterion is None or not await may_update(request, criterion):
        return Reply(texts.ITEM_GONE, edit=True)
    new = duplicates = count = 0
    for ref, path in zip(files, paths, strict=True):
        try:
            duplicate, count = await _store_one(request, criterion, ref, note, path)
        except EvidenceError as exc:
            return Reply(str(exc), edit=True)
        new, duplicates = new + (not duplicate), duplicates + duplicate
    return Reply(texts.evidence_saved(label(criterion), new, duplicates, count), edit=True)
