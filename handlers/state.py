"""Conversation state: what the bot waits for from a user, choices, albums, plan previews.

Everything lives in the database (core.conversation_state), keyed by the
event's (channel, chat, user), with an expiry, and is read and written in the
event's own transaction: a restart or another bot process carries on where
this one stopped, and a rolled-back event leaves the conversation as it was.
Expired state reads as absent ("Lựa chọn đã hết hạn"); the minute tick
deletes it.

Nothing here is trusted for authorisation: every id read back from this
state is checked against the database again by the feature using it.

The one thing kept in memory is an album's meeting point in this process
(:class:`AlbumSlot`): photos of one album arrive as separate events at the
same moment, and waiting on a future costs nothing, where asking the
database again and again would. The album's decision itself is a row.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from core.conversation import Inbound, IncomingFile
from core.conversation_state import (
    StateKey,
    add_state_if_absent,
    change_state,
    drop_state,
    read_state,
    write_state,
)
from handlers.base import AppState, Request, writer_turn

AWAIT_TTL = timedelta(minutes=30)
EVIDENCE_WAIT = timedelta(minutes=10)  # "Gửi minh chứng": from the press or the last file
CHOICE_TTL = timedelta(hours=2)
ALBUM_TTL = timedelta(minutes=10)
PLAN_TTL = timedelta(days=1)
ALBUM_SLOT_SECONDS = 120.0
MAX_ALBUMS_WAITING = 4  # per user and process; a person sends one album at a time

AWAIT_SLOT = "await"


def state_key(event: Inbound, unit_id: int | None = None) -> StateKey:
    return StateKey(event.channel, event.chat_id, event.user_id, unit_id)


def _key(request: Request) -> StateKey:
    return state_key(request.event, request.unit.id if request.unit is not None else None)


async def _read(request: Request, slot: str, *, lock: bool = False) -> dict[str, Any] | None:
    return await read_state(
        request.session, key=_key(request), slot=slot, now=request.now, lock=lock
    )


async def _write(request: Request, slot: str, data: dict[str, Any], ttl: timedelta) -> None:
    key, now = _key(request), request.now

    async def change(session: Any) -> None:
        await write_state(session, key=key, slot=slot, data=data, expires_at=now + ttl, now=now)

    await request.write(change)


async def _drop(request: Request, slot: str, kinds: tuple[str, ...] = ()) -> None:
    key = _key(request)

    async def change(session: Any) -> None:
        await drop_state(session, key=key, slot=slot, kinds=kinds)

    await request.write(change)


# --- what the next message answers --------------------------------------------------------------


@dataclass(frozen=True)
class Awaiting:
    """The next message of this user answers something: a reason, a file, a plan."""

    kind: str  # "blocked", "evidence", "plan"
    criterion_id: int | None = None
    message_id: int | None = None  # the card to update once answered
    page: int = 0


async def expect(
    request: Request,
    kind: str,
    *,
    criterion_id: int | None = None,
    message_id: int | None = None,
    page: int = 0,
) -> None:
    data = {"kind": kind, "criterion_id": criterion_id, "message_id": message_id, "page": page}
    await _write(request, AWAIT_SLOT, data, EVIDENCE_WAIT if kind == "evidence" else AWAIT_TTL)


async def awaiting(request: Request, *kinds: str) -> Awaiting | None:
    data = await _read(request, AWAIT_SLOT)
    return _awaiting(data, kinds)


def _awaiting(data: dict[str, Any] | None, kinds: tuple[str, ...]) -> Awaiting | None:
    if data is None or data.get("kind") not in kinds:
        return None
    return Awaiting(
        kind=str(data["kind"]),
        criterion_id=data.get("criterion_id"),
        message_id=data.get("message_id"),
        page=int(data.get("page") or 0),
    )


async def stop_awaiting(request: Request, *kinds: str) -> None:
    await _drop(request, AWAIT_SLOT, kinds)


async def end_evidence_wait(app: AppState, event: Inbound) -> None:
    """Any command ends a "Gửi minh chứng" wait (read first: most commands find none).

    Before the command's own frame, in a transaction of its own: dropping a wait twice
    does no harm, so a redelivered command needs no claim here.
    """
    if await peek_awaiting(app, event, "evidence") is None:
        return
    async with writer_turn(app), app.sessions() as session:
        await drop_state(session, key=state_key(event), slot=AWAIT_SLOT, kinds=("evidence",))
        await session.commit()


async def peek_awaiting(app: AppState, event: Inbound, *kinds: str) -> Awaiting | None:
    """What this user's next message answers, read before the event's frame (routing)."""
    async with app.sessions() as session:
        data = await read_state(session, key=state_key(event), slot=AWAIT_SLOT, now=app.clock())
    return _awaiting(data, kinds)


# --- choices: an action the user typed, waiting for them to pick the item ----------------------


@dataclass
class Choice:
    kind: str  # a key of handlers.lookup's registry: "open", "update", "done", "evidence", …
    options: list[int] = field(default_factory=list)  # the ids offered; others are refused
    percent: int | None = None
    note: str | None = None
    files: list[IncomingFile] = field(default_factory=list)
    officer_id: int | None = None
    days: int | None = None  # /hoanlai: how long to snooze
    ref: str = ""  # set when stored

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "options": self.options,
            "percent": self.percent,
            "note": self.note,
            "files": [f.to_json() for f in self.files],
            "officer_id": self.officer_id,
            "days": self.days,
        }

    @classmethod
    def from_json(cls, ref: str, data: dict[str, Any]) -> Choice:
        return cls(
            kind=str(data.get("kind")),
            options=[int(o) for o in data.get("options") or []],
            percent=data.get("percent"),
            note=data.get("note"),
            files=[IncomingFile.from_json(f) for f in data.get("files") or []],
            officer_id=data.get("officer_id"),
            days=data.get("days"),
            ref=ref,
        )


def _choice_slot(ref: str) -> str:
    return f"choice:{ref}"


async def new_choice(request: Request, choice: Choice) -> str:
    choice.ref = secrets.token_hex(3)
    await _write(request, _choice_slot(choice.ref), choice.to_json(), CHOICE_TTL)
    return choice.ref


async def get_choice(request: Request, ref: str, *, lock: bool = False) -> Choice | None:
    data = await _read(request, _choice_slot(ref), lock=lock)
    return Choice.from_json(ref, data) if data is not None else None


async def drop_choice(request: Request, ref: str) -> None:
    await _drop(request, _choice_slot(ref))


async def add_choice_file(request: Request, ref: str, file: IncomingFile) -> bool:
    """An album's photo joins the files of the choice its caption opened; False if gone."""
    choice = await get_choice(request, ref, lock=True)
    if choice is None:
        return False
    choice.files.append(file)
    key = _key(request)
    await change_state(
        request.session, key=key, slot=_choice_slot(ref), data=choice.to_json(), now=request.now
    )
    return True


# --- albums -----------------------------------------------------------------------------------

# What an album's captioned message decided for the whole album:
# ("item", criterion id), ("choice", ref of a Choice) or ("none", None).
AlbumTarget = tuple[str, int | str | None]


def _album_slot(group: str) -> str:
    return f"album:{group}"


async def decide_album(
    request: Request, group: str, target: AlbumTarget
) -> tuple[AlbumTarget, bool]:
    """The first decision wins, across processes: the decision that holds, and whether
    it is this one."""
    data = {"target": list(target), "new": 0, "duplicates": 0}
    held, won = await add_state_if_absent(
        request.session,
        key=_key(request),
        slot=_album_slot(group),
        data=data,
        expires_at=request.now + ALBUM_TTL,
        now=request.now,
    )
    kind, value = held["target"]
    return (str(kind), value), won


async def album_decision(request: Request, group: str) -> AlbumTarget | None:
    data = await _read(request, _album_slot(group))
    if data is None:
        return None
    kind, value = data["target"]
    return str(kind), value


async def peek_album(app: AppState, event: Inbound) -> AlbumTarget | None:
    """The album's decision, read before the event's frame (while waiting for it)."""
    assert event.album is not None
    async with app.sessions() as session:
        data = await read_state(
            session, key=state_key(event), slot=_album_slot(event.album), now=app.clock()
        )
    if data is None:
        return None
    kind, value = data["target"]
    return str(kind), value


async def count_album_file(request: Request, group: str, *, duplicate: bool) -> tuple[int, int]:
    """One more file of the album stored (or found stored already): (new, duplicates) so far."""
    data = await _read(request, _album_slot(group), lock=True)
    if data is None:
        return (0, 1) if duplicate else (1, 0)
    data["duplicates" if duplicate else "new"] = int(data["duplicates" if duplicate else "new"]) + 1
    key = _key(request)
    await change_state(
        request.session, key=key, slot=_album_slot(group), data=data, now=request.now
    )
    return int(data["new"]), int(data["duplicates"])


@dataclass
class AlbumSlot:
    """One album of one user in this process, while its photos arrive as separate events.

    ``decided`` is set once this process knows the album's decision, so the
    others stop waiting at once; ``lock`` makes the photos store one at a
    time, so that they share, and edit, one confirmation message.
    """

    decided: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    created: float = field(default_factory=time.monotonic)
    message_id: int | None = None


def album_slot(app: AppState, event: Inbound) -> AlbumSlot | None:
    """This album's slot; None for a new album of a user who has MAX_ALBUMS_WAITING
    undecided already (their photos then go on without waiting for a caption)."""
    assert event.album is not None
    albums: dict[tuple[str, ...], AlbumSlot] = app.albums
    now = time.monotonic()
    for key in [k for k, slot in albums.items() if now - slot.created > ALBUM_SLOT_SECONDS]:
        del albums[key]
    key = (event.channel, event.chat_id, event.user_id, event.album)
    slot = albums.get(key)
    if slot is None:
        mine = [held for k, held in albums.items() if k[:3] == key[:3]]
        if sum(not held.decided.is_set() for held in mine) >= MAX_ALBUMS_WAITING:
            return None
        slot = albums[key] = AlbumSlot()
    return slot


# --- plan previews ---------------------------------------------------------------------------


def _plan_slot(token: str) -> str:
    return f"plan:{token}"


async def keep_plan_preview(request: Request, token: str, data: dict[str, Any]) -> None:
    await _write(request, _plan_slot(token), data, PLAN_TTL)


async def plan_preview(request: Request, token: str) -> dict[str, Any] | None:
    return await _read(request, _plan_slot(token))


async def drop_plan_preview(request: Request, token: str) -> None:
    await _drop(request, _plan_slot(token))
