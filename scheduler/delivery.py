"""Claims on outbound messages, kept in the ``deliveries`` table: the database is the truth.

Every message that must go out at most once (a digest, an escalation, a summary, a notice that
an officer is unreachable) is first *claimed* under a unique key, by one statement that works on
SQLite and PostgreSQL alike::

    INSERT INTO deliveries (...) VALUES (...) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id

The process that gets an id back owns the message; everyone else (a second bot process, a
re-run of the CLI, a catch-up pass after a restart) gets nothing back and does not send. The
caller commits right after claiming, sends, then records the outcome (:func:`mark_sent`,
:func:`mark_failed`) in a second short transaction.

Life of a row::

    claimed (attempts=1) --send ok------------------> sent
        |                --403 / 400 / gave up-------> failed
        | no outcome after CLAIM_TIMEOUT (crash, kill -9, lost connection)
        v
    claimed (attempts=2, taken over by reclaim_stale, sent once more) --> sent | failed
        | no outcome after CLAIM_TIMEOUT again
        v
    failed ("unconfirmed"): never sent a third time

Duplicates: a process that dies after Telegram accepted the message but before ``mark_sent``
committed leaves a claim that looks unsent, and the retry after the timeout sends it again. That
one duplicate is the price of never losing a message; the retry-once rule bounds it to one, and
the sender keeps the window tiny by marking the row the moment the send returns (and shielding
that mark from cancellation).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_ignoring_conflicts
from storage.models import Delivery
from storage.types import utcnow

# A claim with no outcome after this long was interrupted: nothing legitimately sits between
# claim and mark for more than a send with its retries (seconds, or a long retry_after).
CLAIM_TIMEOUT = timedelta(minutes=5)

# The first send is attempt 1, the one retry after a timeout attempt 2; never a third.
MAX_ATTEMPTS = 2

KINDS = ("digest", "escalation", "summary", "unreachable_notice")
UNCONFIRMED_ERROR = "unconfirmed: no outcome recorded after the retry either; not sent again"
_MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class Claim:
    """A claim this process won: it alone may send the message."""

    id: int
    dedupe_key: str


def dedupe_key(*, unit_id: int, officer_id: int, kind: str, key_date: date) -> str:
    """The unique key of one message, e.g. ``"u12:o345:digest:2024-03-04"``."""
    return f"u{unit_id}:o{officer_id}:{kind}:{key_date.isoformat()}"


async def claim(
    session: AsyncSession,
    *,
    unit_id: int,
    officer_id: int,
    kind: str,
    key_date: date,
    chat_id: int | str | None,
    channel: str = "telegram",
    now: datetime | None = None,
) -> Claim | None:
    """Claim one message; None when it is already claimed (by anyone, in any state).

    One statement, so two processes racing for the same key cannot both win: the unique index
    decides (PostgreSQL makes the loser wait for the winner's commit; SQLite serialises writers).
    Commit right after, so that a crash leaves a visible claim rather than a silent gap.
    """
    key = dedupe_key(unit_id=unit_id, officer_id=officer_id, kind=kind, key_date=key_date)
    statement = (
        insert_ignoring_conflicts(session, Delivery)
        .values(
            unit_id=unit_id,
            officer_id=officer_id,
            kind=kind,
            key_date=key_date,
            dedupe_key=key,
            status="claimed",
            attempts=1,
            claimed_at=now or utcnow(),
            chat_id=chat_id,
            channel=channel,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Delivery.id)
    )
    claim_id = (await session.execute(statement)).scalar_one_or_none()
    return None if claim_id is None else Claim(id=claim_id, dedupe_key=key)


async def mark_sent(
    session: AsyncSession, *, claim_id: int, message_id: int | None, now: datetime
) -> None:
    """Record that Telegram accepted the message.

    Unconditional: if the claim had meanwhile been taken over or given up, the message still
    went out, and the row must say so.
    """
    await session.execute(
        update(Delivery)
        .where(Delivery.id == claim_id)
        .values(status="sent", message_id=message_id, sent_at=now, error=None)
        .execution_options(synchronize_session=False)
    )


async def record_chat(session: AsyncSession, *, claim_id: int, channel: str, chat_id: str) -> None:
    """Record the channel and chat a claimed message went to (a person's other account)."""
    await session.execute(
        update(Delivery)
        .where(Delivery.id == claim_id)
        .values(channel=channel, chat_id=chat_id)
        .execution_options(synchronize_session=False)
    )


async def mark_failed(session: AsyncSession, *, claim_id: int, error: str, now: datetime) -> None:
    """Record that the message could not be sent (blocked, refused, or retries exhausted).

    Only a pending claim is marked: a late failure must not overwrite a retry that succeeded.
    ``now`` is accepted for symmetry with :func:`mark_sent`; the row keeps its claim time.
    """
    del now  # the schema has no failed_at column; claimed_at already dates the attempt
    await session.execute(
        update(Delivery)
        .where(Delivery.id == claim_id, Delivery.status == "claimed")
        .values(status="failed", error=error[:_MAX_ERROR_CHARS])
        .execution_options(synchronize_session=False)
    )


async def reclaim_stale(
    session: AsyncSession,
    *,
    now: datetime,
    timeout: timedelta = CLAIM_TIMEOUT,  # noqa: ASYNC109 - an age, not a deadline for this call
) -> list[Delivery]:
    """Take over claims left without an outcome for longer than ``timeout``; resend each ONCE.

    A claim still ``claimed`` after the timeout belongs to a process that died (or lost its
    database connection) between claiming and marking. If it was on its first attempt, this
    process takes it over: attempts becomes 2 and claimed_at ``now``. A claim already on its
    second attempt is marked failed instead and never sent a third time.

    The take-over is one ``UPDATE … WHERE status = 'claimed' AND claimed_at < :cutoff AND
    attempts < 2 … RETURNING``: a compare-and-set on every row at once. Two processes
    reclaiming together cannot both get a row: on PostgreSQL the second waits for the first's
    row lock, then re-checks the WHERE against the new row (attempts 2, claimed_at now) and
    skips it; SQLite runs one writer at a time. (A SELECT followed by per-row UPDATEs would also
    work on PostgreSQL, but on SQLite in WAL mode a transaction that reads and then writes fails
    with "database is locked" when another process wrote in between.)

    Returns the deliveries this process now owns; rebuild their text, send, and mark them (see
    ``Sender.send_claimed``). Commit right after calling, as after :func:`claim`.

    Caveat: a crash after Telegram accepted a message but before ``mark_sent`` committed makes
    the retry a duplicate. The retry-once rule bounds that to one extra message, and marking
    right after the send returns keeps the window to a few milliseconds.
    """
    stale = (Delivery.status == "claimed", Delivery.claimed_at < now - timeout)
    await session.execute(
        update(Delivery)
        .where(*stale, Delivery.attempts >= MAX_ATTEMPTS)
        .values(status="failed", error=UNCONFIRMED_ERROR)
        .execution_options(synchronize_session=False)
    )
    taken = await session.scalars(
        update(Delivery)
        .where(*stale, Delivery.attempts < MAX_ATTEMPTS)
        .values(attempts=Delivery.attempts + 1, claimed_at=now)
        .returning(Delivery)
        # The rows may already sit in this session's identity map with their old values.
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return sorted(taken, key=lambda delivery: delivery.id)
