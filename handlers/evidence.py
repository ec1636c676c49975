"""Evidence: photos and files sent as proof for an item.

Which item a file is for, in this order:
1. its caption starts with a code ("3.1.3 bảng tin", "PCI 2.1");
2. it replies to an item card (the card's footer "Mục #<id>" names the item);
3. it belongs to an album whose captioned photo named the item (this beats 4);
4. the user pressed "Gửi minh chứng" on a card: every file goes there until a
   file is refused, the user sends any command, or 10 minutes pass without one.

An album arrives as one event per photo, handled concurrently (perhaps by
different bot processes), and only one carries the caption. Its decision
(the item, the choice offered, or none) is a conversation-state row: the
others wait for it (outside any transaction; at once when it is taken in this
process, else by looking in the database), then follow it. In one process
they store one at a time, so that they share, and edit, one confirmation.

The file is downloaded through the frame's :class:`~handlers.base.Fetch`:
checks and the update's claim first, the download with no database lock,
then core.evidence.store_evidence in a second transaction.
"""

from __future__ import annotations

import asyncio
import re
from functools import partial
from pathlib import Path

from bot import texts
from core.evidence import EvidenceError, evidence_count, find_duplicate, store_evidence
from handlers.base import (
    OFFICER,
    Channel,
    Fetch,
    Inbound,
    IncomingFile,
    Replies,
    Reply,
    Request,
    Result,
    handler,
    is_known,
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
    AlbumSlot,
    AlbumTarget,
    Choice,
    add_choice_file,
    album_decision,
    album_slot,
    awaiting,
    count_album_file,
    decide_album,
    expect,
    peek_album,
    stop_awaiting,
)
from handlers.tasks import await_answer_for_card, card_item_id, card_reply
from storage.models import Criterion

# How long an album's photos wait for the captioned one to say which item, and how
# often they look in the database meanwhile (the caption may be another process's).
ALBUM_WAIT_SECONDS = 5.0
ALBUM_POLL_SECONDS = 0.25
_CODE = re.compile(r"(?:[A-Za-z]{2,6}\s*)?(?:\d+|[IVXLC]+)(?:\.[0-9A-Za-z]+)*\.?")


# --- the entry point: album coordination, before the frame -----------------------------------


async def on_file(event: Inbound, channel: Channel) -> None:
    # Who is asking comes first: a stranger's files wait for nothing (the frame refuses
    # them), and one user holds at most MAX_ALBUMS_WAITING albums in this process, so
    # that nobody can fill the bot's workers with waiting photos.
    if event.album is None or not await is_known(channel, event):
        await file_received(event, channel)
        return
    slot = album_slot(channel.app, event)
    if slot is None:
        await file_received(event, channel)
        return
    if not await _names_its_item(event, channel):
        await _wait_for_decision(event, channel, slot)
    async with slot.lock:
        await file_received(event, channel)


async def _names_its_item(event: Inbound, channel: Channel) -> bool:
    """Whether this file can find its item without the rest of its album.

    A "Gửi minh chứng" wait does not count: a caption naming an item decides for
    every photo of its album and beats the wait, so the others wait for it.
    """
    return bool(event.caption) or card_item_id(event.replied_text) is not None


async def _wait_for_decision(event: Inbound, channel: Channel, slot: AlbumSlot) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ALBUM_WAIT_SECONDS
    while not slot.decided.is_set() and loop.time() < deadline:
        try:
            await asyncio.wait_for(slot.decided.wait(), ALBUM_POLL_SECONDS)
        except TimeoutError:
            if await peek_album(channel.app, event) is not None:
                return


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
async def file_received(event: Inbound, request: Request) -> Result:
    if not event.files:
        return None
    ref = event.files[0]
    code, note = split_caption(event.caption, await unit_indexes(request))
    if code is not None:
        choice = Choice("evidence", note=note, files=[ref])
        found = await find_item(request, code, choice)
        if isinstance(found, Reply):
            await _decide(request, ("choice", choice.ref) if choice.ref else ("none", None))
            return found
        return await _attach(request, found, ref, event.caption)
    if event.album is not None and await album_decision(request, event.album) is not None:
        return await _album_member(request, event.album, ref)  # its caption decided
    target = await _own_target(event, request)
    if target is None and event.album is not None:
        return await _album_member(request, event.album, ref)
    if target is None:
        return Reply(_no_target(request))
    criterion = await load_item(request, target)
    if criterion is None:
        await _decide(request, ("none", None))
        return Reply(texts.ITEM_GONE)
    return await _attach(request, criterion, ref, event.caption)


async def _own_target(event: Inbound, request: Request) -> int | None:
    card = card_item_id(event.replied_text)
    if card is not None:
        return card
    pending = await awaiting(request, "evidence")
    if pending is None:
        return None
    # Officers send several separate photos: each file keeps the wait open 10 more minutes.
    await expect(
        request,
        "evidence",
        criterion_id=pending.criterion_id,
        message_id=pending.message_id,
        page=pending.page,
    )
    return pending.criterion_id


async def _decide(request: Request, target: AlbumTarget) -> tuple[AlbumTarget, bool] | None:
    """Record what this file's album goes to (the first decision wins); None if no album."""
    event = request.event
    if event.album is None:
        return None
    held = await decide_album(request, event.album, target)
    slot = album_slot(request.channel.app, event)
    if slot is not None:
        request.after_commit(slot.decided.set)
    return held


async def _album_member(request: Request, album: str, ref: IncomingFile) -> Result:
    decision = await album_decision(request, album)
    if decision is None:  # nobody in the album named an item: say so once
        held = await _decide(request, ("none", None))
        assert held is not None
        decision, won = held
        if won:
            return Reply(_no_target(request))
    kind, value = decision
    if kind == "choice" and isinstance(value, str):
        await add_choice_file(request, value, ref)  # stored once the user picks the item
        return None
    if kind != "item" or not isinstance(value, int):
        return None  # the captioned photo already explained what went wrong
    criterion = await load_item(request, value)
    if criterion is None:
        return None
    return await _attach(request, criterion, ref, None)


async def _attach(
    request: Request, criterion: Criterion, ref: IncomingFile, caption: str | None
) -> Result:
    """Checks that need no file, then the download (Fetch) and the store."""
    if not await may_update(request, criterion):
        await _decide(request, ("none", None))
        await stop_awaiting(request, "evidence")  # a refused file ends "Gửi minh chứng"
        return Reply(texts.not_owner(label(criterion)))
    await _decide(request, ("item", criterion.id))
    if ref.size is not None and ref.size > Fetch.limit:
        await stop_awaiting(request, "evidence")
        return Reply(texts.FILE_TOO_BIG)
    known = await find_duplicate(
        request.session, criterion_id=criterion.id, file_unique_id=ref.unique_id
    )
    if known is not None:  # a resend: no need to download it again
        count = await evidence_count(request.session, criterion_id=criterion.id)
        return await _confirmation(request, label(criterion), duplicate=True, count=count)
    store = partial(_store, criterion.id, ref, caption)
    return Fetch([ref], store, too_big=Reply(texts.FILE_TOO_BIG))


async def _store(
    criterion_id: int, ref: IncomingFile, caption: str | None, request: Request, paths: list[Path]
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
        await stop_awaiting(request, "evidence")
        return Reply(str(exc))
    return await _confirmation(request, label(criterion), duplicate=result[0], count=result[1])


async def _store_one(
    request: Request, criterion: Criterion, ref: IncomingFile, caption: str | None, path: Path
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


async def _confirmation(request: Request, item: str, *, duplicate: bool, count: int) -> Reply:
    album = request.event.album
    if album is None:
        return Reply(texts.evidence_saved(item, int(not duplicate), int(duplicate), count))
    new, duplicates = await count_album_file(request, album, duplicate=duplicate)
    text = texts.evidence_saved(item, new, duplicates, count)
    slot = album_slot(request.channel.app, request.event)
    if slot is None:
        return Reply(text)
    if slot.message_id is not None:  # this process confirmed part of the album already
        return Reply(text, message_id=slot.message_id)
    return Reply(text, on_sent=partial(setattr, slot, "message_id"))


# --- "Gửi minh chứng" and choices ---------------------------------------------------------------


@handler(OFFICER)
async def evidence_pressed(event: Inbound, request: Request) -> Reply:
    """ "E:<item>:<page>": the next files go to this item."""
    pressed = await await_answer_for_card(event, request, "evidence")
    if isinstance(pressed, Reply):
        return pressed
    criterion, page = pressed
    notice = texts.ask_evidence(label(criterion))
    return await card_reply(request, criterion, page=page, edit=True, notice=notice)


@choice_action("evidence")
async def evidence_chosen(request: Request, choice: Choice, criterion: Criterion) -> Result:
    """A file (or album) whose caption code was unclear: the user picked the item."""
    if not choice.files:
        return Reply(texts.EVIDENCE_SEND_AGAIN, edit=True)
    if not await may_update(request, criterion):
        return Reply(texts.not_owner(label(criterion)), edit=True)
    files = list(choice.files)
    return Fetch(files, partial(_store_all, criterion.id, files, choice.note))


async def _store_all(
    criterion_id: int,
    files: list[IncomingFile],
    note: str | None,
    request: Request,
    paths: list[Path],
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


def _no_target(request: Request) -> str:
    """Where to say the file should go: a button to press, or a word to type."""
    buttons = request.channel.capabilities.buttons
    return texts.EVIDENCE_NO_TARGET if buttons else texts.EVIDENCE_NO_TARGET_TYPED
