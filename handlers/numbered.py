"""Numbered choices, for channels without buttons (Zalo, the local shell).

Such a channel shows a reply's choices as a numbered list (channels.text_rendering)
and keeps the list, once sent, in conversation state: one slot per (channel, chat,
user), replaced by the next list shown there. A typed number then picks from that
list and is dispatched exactly as if the choice's button had been pressed. An item
card keeps its typed answers instead (core.conversation.TypedAnswers): there a
number is a percent and the other actions are words.

A list lasts :data:`LIST_TTL`; the list in a daily digest, sent by the schedule,
:data:`DIGEST_LIST_TTL`. A number with no list, an expired one, or out of range
gets a message and changes nothing: it never falls back to an older list.

The list is written when it is sent, after the feature's transaction, in a
transaction of its own (:func:`keep_list`): the feature does not know how its
choices will be shown. Nothing read back here is trusted: the dispatched choice
goes through the same checks as a pressed button.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from core.conversation import Inbound, TypedAnswers
from core.conversation_state import StateKey, read_state, write_state
from core.text import fold, parse_whole_number
from handlers.base import (
    OFFICER,
    AppState,
    Handler,
    Reply,
    Request,
    handler,
    writer_turn,
)
from handlers.state import state_key

SLOT = "numbered"
LIST_TTL = timedelta(minutes=30)
DIGEST_LIST_TTL = timedelta(hours=24)
MAX_WORD = 32  # longer texts are never a card's word ("gửi minh chứng" is 14)
MAX_TYPED_NUMBER = 10**6  # past this it is no choice (nor a percent): a reference, a phone


@dataclass(frozen=True)
class Shown:
    """What a chat without buttons was shown last: numbered choices, or a card's answers."""

    options: tuple[str, ...] = ()  # choice data; number 1 is the first
    typed: TypedAnswers | None = None
    message_id: int | None = None  # the message that showed them (a card to update later)

    def to_json(self) -> dict[str, Any]:
        return {
            "options": list(self.options),
            "typed": self.typed.to_json() if self.typed is not None else None,
            "message_id": self.message_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Shown:
        typed = data.get("typed")
        message_id = data.get("message_id")
        return cls(
            options=tuple(str(option) for option in data.get("options") or ()),
            typed=TypedAnswers.from_json(typed) if typed else None,
            message_id=message_id if isinstance(message_id, int) else None,
        )


# --- keeping the list shown ------------------------------------------------------------------


def private_chat_key(channel: str, chat_id: str) -> StateKey:
    """The key for a message the schedule sends: in a private chat the chat is the person."""
    return StateKey(channel, chat_id, chat_id)


async def keep_list(
    sessions: async_sessionmaker[AsyncSession],
    *,
    key: StateKey,
    shown: Shown,
    now: datetime,
    ttl: timedelta = LIST_TTL,
) -> None:
    """Remember what was just shown in this chat, replacing the last list (its own transaction).

    The caller holds SQLite's writer's turn when it has one (:func:`keep_reply_list`).
    """
    async with sessions() as session:
        await write_state(
            session, key=key, slot=SLOT, data=shown.to_json(), expires_at=now + ttl, now=now
        )
        await session.commit()


async def keep_reply_list(app: AppState, event: Inbound, shown: Shown) -> None:
    """The list in a reply to ``event``, kept for :data:`LIST_TTL`."""
    async with writer_turn(app):
        await keep_list(app.sessions, key=state_key(event), shown=shown, now=app.clock())


async def last_shown(app: AppState, event: Inbound) -> Shown | None:
    """What this chat was shown last, unless it expired."""
    async with app.sessions() as session:
        data = await read_state(session, key=state_key(event), slot=SLOT, now=app.clock())
    return Shown.from_json(data) if data is not None else None


# --- a typed answer ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Picked:
    data: str  # the choice's data, as a button would have sent it
    message_id: int | None = None  # the message the list was on, as a press would name it

    def as_event(self, event: Inbound) -> Inbound:
        """The typed event as the choice it picked (same event id: a redelivery is still one)."""
        return replace(event, text=None, choice=self.data, message_id=self.message_id)


@dataclass(frozen=True)
class Refused:
    text: str  # why nothing was done


def typed_number(text: str) -> int | None:
    """ "3", " 50 ", "50%": a typed number; None for anything else."""
    return parse_whole_number(text.strip().removesuffix("%"), maximum=MAX_TYPED_NUMBER)


def answer(shown: Shown | None, text: str) -> Picked | Refused | None:
    """What a typed text answers in a chat that was shown ``shown``; None: it answers nothing
    (ordinary text, such as the reason asked for by "Gặp khó khăn")."""
    if shown is not None and shown.typed is not None:
        return _card_answer(shown, shown.typed, text)
    number = typed_number(text)
    if number is None:
        return None
    if shown is None or not shown.options:
        return Refused(texts.NUMBERED_EXPIRED)
    if not 1 <= number <= len(shown.options):
        return Refused(texts.numbered_out_of_range(len(shown.options)))
    return Picked(shown.options[number - 1], shown.message_id)


def _card_answer(shown: Shown, typed: TypedAnswers, text: str) -> Picked | Refused | None:
    number = typed_number(text)
    if number is not None:
        low, high = typed.numbers
        if not low <= number <= high:
            return Refused(typed.out_of_range)
        return Picked(typed.number_data.replace("{n}", str(number)), shown.message_id)
    folded = fold(text)
    for word, data in typed.words:
        if folded == fold(word):
            return Picked(data, shown.message_id)
    return None


async def typed_answer(app: AppState, event: Inbound) -> Picked | Refused | None:
    """:func:`answer` for this event, against the list kept for its chat."""
    if event.text is None or (typed_number(event.text) is None and len(event.text) > MAX_WORD):
        return None  # a sentence, not a card's word: no need to read the list
    return answer(await last_shown(app, event), event.text)


def refusal(text: str) -> Handler:
    """A handler saying ``text`` in the usual frame: strangers get the stranger's answer, and a
    redelivered event is answered once."""

    @handler(OFFICER, reads_only=True)
    async def refuse(event: Inbound, request: Request) -> Reply:
        return Reply(text)

    return refuse


def options_of(rows: Sequence[Sequence[tuple[str, str]]]) -> tuple[str, ...]:
    """The choices' data in the order they are numbered: row by row, left to right."""
    return tuple(data for row in rows for _, data in row)
