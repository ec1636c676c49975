"""Conversation state rows: read, write, drop, and the tick's clean-up.

One row per (channel, chat, user, slot) in ``conversation_state``, with an
expiry. Every function runs in the caller's session, so state changes commit
or roll back with the rest of the event's transaction. A row past its expiry
reads as absent; :func:`drop_expired` deletes such rows (the minute tick).
What the slots mean is up to the features (handlers.state).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_ignoring_conflicts
from storage.models import ConversationState

_KEY_COLUMNS = ("channel", "chat_id", "user_id", "slot")
_TABLE = ConversationState.metadata.tables[ConversationState.__tablename__]


@dataclass(frozen=True)
class StateKey:
    """Whose conversation: one person in one chat of one channel (and their unit, if any)."""

    channel: str
    chat_id: str
    user_id: str
    unit_id: int | None = None


def _where(key: StateKey, slot: str) -> Any:
    return (
        (ConversationState.channel == key.channel)
        & (ConversationState.chat_id == key.chat_id)
        & (ConversationState.user_id == key.user_id)
        & (ConversationState.slot == slot)
    )


_READ = select(ConversationState.data).where(
    ConversationState.channel == bindparam("channel"),
    ConversationState.chat_id == bindparam("chat_id"),
    ConversationState.user_id == bindparam("user_id"),
    ConversationState.slot == bindparam("slot"),
    ConversationState.expires_at > bindparam("now"),
)  # built once: read on every plain text and every file


async def read_state(
    session: AsyncSession, *, key: StateKey, slot: str, now: datetime, lock: bool = False
) -> dict[str, Any] | None:
    """The slot's data, or None when absent or expired.

    ``lock``: keep the row locked to the end of the transaction (PostgreSQL;
    SQLite's writers take turns anyway), for a read-modify-write.
    """
    params = {
        "channel": key.channel,
        "chat_id": key.chat_id,
        "user_id": key.user_id,
        "slot": slot,
        "now": now,
    }
    query = _READ.with_for_update() if lock else _READ
    data = await session.scalar(query, params)
    return dict(data) if data is not None else None


async def write_state(
    session: AsyncSession,
    *,
    key: StateKey,
    slot: str,
    data: dict[str, Any],
    expires_at: datetime,
    now: datetime,
) -> None:
    """Set the slot (replacing what it held, expired or not)."""
    values = {
        "unit_id": key.unit_id,
        "channel": key.channel,
        "chat_id": key.chat_id,
        "user_id": key.user_id,
        "slot": slot,
        "data": data,
        "expires_at": expires_at,
        "updated_at": now,
    }
    statement = insert_ignoring_conflicts(session, _TABLE).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=list(_KEY_COLUMNS),
        set_={"data": data, "expires_at": expires_at, "updated_at": now},
    )
    await session.execute(statement)


async def add_state_if_absent(
    session: AsyncSession,
    *,
    key: StateKey,
    slot: str,
    data: dict[str, Any],
    expires_at: datetime,
    now: datetime,
) -> tuple[dict[str, Any], bool]:
    """Set the slot unless a live row holds it already: the data that holds it now, and
    whether it is ours.

    The first writer wins, across processes: a second one waits for the
    first's transaction (the unique key) and then reads its data.
    """
    await session.execute(
        delete(ConversationState).where(
            _where(key, slot), ConversationState.expires_at <= now
        )  # an expired row must not win
    )
    values = {
        "unit_id": key.unit_id,
        "channel": key.channel,
        "chat_id": key.chat_id,
        "user_id": key.user_id,
        "slot": slot,
        "data": data,
        "expires_at": expires_at,
        "updated_at": now,
    }
    statement = insert_ignoring_conflicts(session, _TABLE).values(values)
    result = await session.execute(
        statement.on_conflict_do_nothing(index_elements=list(_KEY_COLUMNS))
    )
    if getattr(result, "rowcount", 0) == 1:
        return data, True
    held = await read_state(session, key=key, slot=slot, now=now)
    return (held, False) if held is not None else (data, False)


async def change_state(
    session: AsyncSession, *, key: StateKey, slot: str, data: dict[str, Any], now: datetime
) -> None:
    """Replace a live slot's data, keeping its expiry."""
    await session.execute(
        update(ConversationState)
        .where(_where(key, slot), ConversationState.expires_at > now)
        .values(data=data, updated_at=now)
    )


_DROP = delete(_TABLE).where(
    _TABLE.c.channel == bindparam("channel"),
    _TABLE.c.chat_id == bindparam("chat_id"),
    _TABLE.c.user_id == bindparam("user_id"),
    _TABLE.c.slot == bindparam("slot"),
)  # built once, and a Core statement (no ORM bookkeeping): cards drop a question on every open
_DROP_KINDS = _DROP.where(_TABLE.c.data["kind"].as_string().in_(bindparam("kinds", expanding=True)))


async def drop_state(
    session: AsyncSession, *, key: StateKey, slot: str, kinds: tuple[str, ...] = ()
) -> None:
    """Forget the slot; with ``kinds``, only if its data's "kind" is one of them."""
    params: dict[str, Any] = {
        "channel": key.channel,
        "chat_id": key.chat_id,
        "user_id": key.user_id,
        "slot": slot,
    }
    if kinds:
        params["kinds"] = list(kinds)
    await session.execute(_DROP_KINDS if kinds else _DROP, params)


async def drop_expired(session: AsyncSession, *, now: datetime) -> int:
    """Delete every row past its expiry (the minute tick); how many went."""
    result = await session.execute(
        delete(ConversationState).where(ConversationState.expires_at <= now)
    )
    return int(getattr(result, "rowcount", 0) or 0)
