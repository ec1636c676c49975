"""Short-lived conversation state: what the bot waits for from a user, choices, albums.

All of it lives in PTB's ``user_data``/``bot_data``, in memory. A restart
forgets it, and the user is simply asked again ("Lựa chọn đã hết hạn"): a
reason for "Gặp khó khăn", a file after "Gửi minh chứng", or a button picking
between "PCI 2.1" and "PAPI 2.1". The plan preview, which an admin may take a
while to confirm, is kept on disk instead (handlers.admin).

Nothing here is trusted for authorisation: every id read back from this
state is checked against the database again by the handler using it.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from handlers.base import Context, FileRef

AWAIT_KEY = "dondoc_await"
CHOICES_KEY = "dondoc_choices"
ALBUMS_KEY = "dondoc_albums"

AWAIT_TTL = timedelta(minutes=30)
CHOICE_TTL = timedelta(hours=2)
MAX_CHOICES = 20  # per user; the oldest go first
ALBUM_TTL_SECONDS = 120.0


@dataclass(frozen=True)
class Awaiting:
    """The next message of this user answers something: a reason, a file, a plan."""

    kind: str  # "blocked", "evidence", "plan"
    until: datetime
    criterion_id: int | None = None
    message_id: int | None = None  # the card to update once answered
    page: int = 0


def _user_data(context: Context) -> dict[Any, Any]:
    data = context.user_data
    if data is None:  # updates without a user never reach the handlers that use this
        raise RuntimeError("no user_data for this update")
    return data


def expect(
    context: Context,
    kind: str,
    *,
    now: datetime,
    criterion_id: int | None = None,
    message_id: int | None = None,
    page: int = 0,
) -> None:
    _user_data(context)[AWAIT_KEY] = Awaiting(kind, now + AWAIT_TTL, criterion_id, message_id, page)


def awaiting(context: Context, now: datetime, *kinds: str) -> Awaiting | None:
    found = (context.user_data or {}).get(AWAIT_KEY)
    if not isinstance(found, Awaiting) or found.kind not in kinds or found.until <= now:
        return None
    return found


def stop_awaiting(context: Context, *kinds: str) -> None:
    data = _user_data(context)
    found = data.get(AWAIT_KEY)
    if isinstance(found, Awaiting) and (not kinds or found.kind in kinds):
        del data[AWAIT_KEY]


# --- choices: buttons picking an item for an action the user already typed ------------------


@dataclass
class Choice:
    kind: str  # a key of handlers.lookup's registry: "open", "update", "done", "evidence", …
    options: list[int]  # the criterion ids offered; a press naming another id is refused
    until: datetime
    percent: int | None = None
    note: str | None = None
    files: list[FileRef] = field(default_factory=list)
    officer_id: int | None = None
    days: int | None = None  # /hoanlai: how long to snooze
    ref: str = ""  # set when stored


def new_choice(context: Context, choice: Choice) -> str:
    choices: dict[str, Choice] = _user_data(context).setdefault(CHOICES_KEY, {})
    while len(choices) >= MAX_CHOICES:
        del choices[next(iter(choices))]
    choice.ref = secrets.token_hex(3)
    choices[choice.ref] = choice
    return choice.ref


def get_choice(context: Context, ref: str, now: datetime) -> Choice | None:
    choice = (context.user_data or {}).get(CHOICES_KEY, {}).get(ref)
    if not isinstance(choice, Choice) or choice.until <= now:
        return None
    return choice


def drop_choice(context: Context, ref: str) -> None:
    (context.user_data or {}).get(CHOICES_KEY, {}).pop(ref, None)


# --- albums ------------------------------------------------------------------------------------

# What an album's captioned message decided for the whole album:
# ("item", criterion id), ("choice", ref of a Choice) or ("none", None).
AlbumTarget = tuple[str, int | str | None]


@dataclass
class AlbumSlot:
    """One album (media group) of one user, while its photos arrive as separate updates.

    ``target`` is set by the first message that knows the item (the captioned
    one); the others wait for it. ``lock`` makes the photos store one at a
    time, so they share one confirmation message that each edits.
    """

    target: asyncio.Future[AlbumTarget]
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    created: float = field(default_factory=time.monotonic)
    message_id: int | None = None
    new: int = 0
    duplicates: int = 0


def album_slot(context: Context, user_id: int, group_id: str) -> AlbumSlot:
    albums: dict[tuple[int, str], AlbumSlot] = context.bot_data.setdefault(ALBUMS_KEY, {})
    now = time.monotonic()
    for key in [k for k, slot in albums.items() if now - slot.created > ALBUM_TTL_SECONDS]:
        del albums[key]
    slot = albums.get((user_id, group_id))
    if slot is None:
        slot = AlbumSlot(target=asyncio.get_running_loop().create_future())
        albums[(user_id, group_id)] = slot
    return slot


def decide_album(slot: AlbumSlot, target: AlbumTarget) -> None:
    """The first decision wins: a second caption in the same album changes nothing."""
    if not slot.target.done():
        slot.target.set_result(target)
