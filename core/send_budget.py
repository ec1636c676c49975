"""One send budget per bot, shared by every process that sends with its token.

Telegram lets a bot send about 30 messages a second overall and about one a
second to one chat (20 a minute to a group); Zalo publishes no figure, so its
rate is a setting. When every process paced itself, two dondoc processes on one
database sent twice the bot's rate. Here the budget lives in the database that
the processes already share (no new server): one row for the bot and one per
chat, each holding the earliest moment the next message may leave.

Taking a turn is one short write transaction that moves the bot's row and the
chat's row forward and reads back the slot; the caller then waits for it. The
rule is GCRA ("generic cell rate algorithm", virtual scheduling): a key with
interval ``T`` and tolerance ``tau`` gives the message the slot
``max(now, next - tau)`` and moves ``next`` to ``max(next, now) + T``, so at
most ``1 + tau / T`` messages leave at once and then one per ``T``. The bot's
row has no tolerance (a smooth 1/T: no sliding second ever holds more); a
chat's may allow a short burst. A message waits for the later of its two slots.
PostgreSQL serialises the updates of one row with its row lock, SQLite with
its single writer (and, in one process, storage.sqlite_driver's writer's turn,
where the tick's messages let the replies go first).

A flood-control answer (Telegram's 429 ``retry_after``, Zalo's quota error)
pauses the whole bot: ``pause`` pushes the bot's row past the wait, and every
process sees it at its next turn.

Why our own: the rate-limit libraries (aiolimiter, limits, PTB's
AIORateLimiter) keep their state in memory, or in Redis, Memcached or MongoDB;
none in a SQL database. Time is wall-clock seconds (processes on several
machines must keep their clocks in sync, as with NTP), injected for tests.
The key names the channel and a hash of the token, never the token.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, delete, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.db import insert_ignoring_conflicts
from storage.models import SendBudgetRow

_TABLE = SendBudgetRow.metadata.tables[SendBudgetRow.__tablename__]
# The budget paces this much under the platform's limit: a message that leaves a few
# milliseconds late (a busy loop, a loaded machine) next to one that leaves on time must not
# make one too many in a second, since a flood answer pauses every process.
HEADROOM = 0.05
# A slot reached later than this is given up for a fresh one (see SendBudget.wait_turn).
LATE_SECONDS = 0.015
LATE_RETRIES = 3
# A chat's row unused this long is deleted by the minute tick (forget_idle_budgets).
IDLE_AFTER_SECONDS = 600.0


@dataclass(frozen=True)
class Rates:
    """How fast one bot may send."""

    per_second: float  # the platform's limit for the whole bot (paced HEADROOM under it)
    per_chat_interval: float  # seconds between two messages to one private chat
    group_interval: float  # seconds between two messages to one group
    chat_burst: int = 1  # messages a chat may get at once before the interval applies


def wall_clock() -> float:
    """The budgets' time: wall-clock seconds, the same in every process on the machine."""
    return time.time()


def bot_key(channel: str, token: str) -> str:
    """The budget's name: the channel and a hash of the token (the token never leaves)."""
    digest = hashlib.sha256(token.encode()).hexdigest()[:16]
    return f"{channel}:{digest}"


class SendBudget:
    """The shared pacing of one bot; ``wait_turn`` before every message it sends."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        key: str,
        rates: Rates,
        clock: Callable[[], float] = wall_clock,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self._sessions = sessions
        self.key = key
        self.rates = rates
        self._clock = clock
        self.sleep = sleep

    async def wait_turn(self, chat: str | None = None, *, group: bool = False) -> float:
        """Reserve this message's slot and wait for it; returns the seconds waited.

        A slot this process reaches late (its loop was busy, the machine loaded) is given
        up for a fresh one: sent late, the message would leave close behind the next slot's,
        from another process, and a second would hold one too many (a flood answer pauses
        every process). After LATE_RETRIES fresh slots it goes anyway.
        """
        waited = 0.0
        for attempt in range(LATE_RETRIES + 1):
            # The chat's turn is taken once: a fresh slot is only the bot's, later than it.
            slot = await self.reserve(chat if attempt == 0 else None, group=group)
            delay = slot - self._clock()
            if delay > 0:
                await self.sleep(delay)
                waited += delay
            if self._clock() - slot <= LATE_SECONDS:
                break
        return waited

    @property
    def interval(self) -> float:
        """Seconds between two of the bot's messages: the limit, less HEADROOM."""
        return 1.0 / (self.rates.per_second * (1.0 - HEADROOM))

    async def reserve(self, chat: str | None = None, *, group: bool = False) -> float:
        """The moment (clock seconds) this message may leave, taken from the shared rows.

        ``chat`` None: the bot's row only (the caller paces the chat itself, or need not).
        """
        rates = self.rates
        chat_interval = rates.group_interval if group else rates.per_chat_interval
        async with self._sessions() as session:
            await _hold_bot_row(session, key=self.key)
            # "Now" is read once this process holds the bot's row: read before a wait for
            # another process's turn, it would hand out a slot already past, and the message
            # would leave later than its slot, close to the next one's (too many in a second).
            now = self._clock()
            slot = await _advance(
                session, key=self.key, now=now, interval=self.interval, tolerance=0.0
            )
            if chat is not None:
                chat_slot = await _advance(
                    session,
                    key=f"{self.key}:{chat}",
                    now=now,
                    interval=chat_interval,
                    tolerance=chat_interval * (rates.chat_burst - 1),
                )
                slot = max(slot, chat_slot)
            await session.commit()
        return slot

    async def pause(self, seconds: float) -> None:
        """The platform asked the bot to wait: no process sends before ``now + seconds``."""
        until = self._clock() + seconds
        async with self._sessions() as session:
            statement = insert_ignoring_conflicts(session, _TABLE).values(
                key=self.key, next_at=until
            )
            column = _TABLE.c.next_at
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=["key"],
                    set_={"next_at": case((column > until, column), else_=until)},
                )
            )
            await session.commit()


async def _hold_bot_row(session: AsyncSession, *, key: str) -> None:
    """Take the bot's row for this transaction (PostgreSQL's row lock, SQLite's write lock).

    The rows are pacing, not records: on PostgreSQL the commit need not wait for the disk
    (a crash forgets a few milliseconds of pacing), which keeps the turn short.
    """
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(text("SET LOCAL synchronous_commit TO OFF"))
    await session.execute(
        update(_TABLE).where(_TABLE.c.key == key).values(next_at=_TABLE.c.next_at)
    )


async def _advance(
    session: AsyncSession, *, key: str, now: float, interval: float, tolerance: float
) -> float:
    """One key's GCRA step in the database; returns the slot it gives this message."""
    column = _TABLE.c.next_at
    statement = insert_ignoring_conflicts(session, _TABLE).values(key=key, next_at=now + interval)
    statement = statement.on_conflict_do_update(
        index_elements=["key"],
        set_={"next_at": case((column > now, column), else_=now) + interval},
    ).returning(column)
    moved_to = float((await session.execute(statement)).scalar_one())
    # moved_to - interval is max(previous next, now): the slot is that, less the tolerance.
    return max(now, moved_to - interval - tolerance)


async def forget_idle_budgets(session: AsyncSession, *, now: float) -> int:
    """Delete rows no message has needed for a while (chats come and go); returns how many."""
    result = await session.execute(
        delete(_TABLE).where(_TABLE.c.next_at < now - IDLE_AFTER_SECONDS)
    )
    return int(getattr(result, "rowcount", 0) or 0)
