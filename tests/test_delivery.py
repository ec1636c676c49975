"""Claims in the deliveries table: one winner per key, stale claims retried once, on a real DB."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scheduler.delivery import (
    CLAIM_TIMEOUT,
    UNCONFIRMED_ERROR,
    Claim,
    claim,
    dedupe_key,
    mark_failed,
    mark_sent,
    reclaim_stale,
)
from storage.models import ChannelAccount, Delivery, Officer, Unit
from tests.sql_counting import counted_statements

T0 = datetime(2024, 3, 4, 0, 30, tzinfo=UTC)  # 07:30 in Hà Nội
DAY = date(2024, 3, 4)


@dataclass(frozen=True)
class Seeded:
    unit_id: int
    officer_ids: list[int]
    chat_ids: list[int]


async def seed_unit(sessions: async_sessionmaker[AsyncSession], officers: int = 3) -> Seeded:
    """One unit with ``officers`` linked officers (chat ids 5001, 5002, …)."""
    async with sessions() as session:
        unit = Unit(name="Phường 6", name_key="phuong 6")
        session.add(unit)
        await session.flush()
        people = [
            Officer(unit_id=unit.id, name=f"Cán bộ {i}", name_key=f"can bo {i}")
            for i in range(officers)
        ]
        session.add_all(people)
        await session.flush()
        session.add_all(
            ChannelAccount(channel="telegram", external_id=str(5001 + i), officer_id=p.id)
            for i, p in enumerate(people)
        )
        await session.commit()
        return Seeded(unit.id, [p.id for p in people], [5001 + i for i in range(officers)])


async def claim_and_commit(
    sessions: async_sessionmaker[AsyncSession],
    seeded: Seeded,
    *,
    officer: int = 0,
    kind: str = "digest",
    key_date: date = DAY,
    now: datetime = T0,
) -> Claim | None:
    async with sessions() as session:
        won = await claim(
            session,
            unit_id=seeded.unit_id,
            officer_id=seeded.officer_ids[officer],
            kind=kind,
            key_date=key_date,
            chat_id=seeded.chat_ids[officer],
            now=now,
        )
        await session.commit()
        return won


async def row(sessions: async_sessionmaker[AsyncSession], claim_id: int) -> Delivery:
    async with sessions() as session:
        delivery = await session.get(Delivery, claim_id)
        assert delivery is not None
        return delivery


async def count_rows(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(Delivery)) or 0


# --------------------------------------------------------------------------- keys and claims


def test_dedupe_key_names_unit_officer_kind_and_date() -> None:
    key = dedupe_key(unit_id=12, officer_id=345, kind="digest", key_date=date(2024, 3, 4))
    assert key == "u12:o345:digest:2024-03-04"


async def test_a_claim_is_one_insert_statement(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    seeded = await seed_unit(session_factory)
    async with session_factory() as session:
        await session.connection()  # check out first: pool pings are not the claim's doing
        with counted_statements(engine) as statements:
            won = await claim(
                session,
                unit_id=seeded.unit_id,
                officer_id=seeded.officer_ids[0],
                kind="digest",
                key_date=DAY,
                chat_id=seeded.chat_ids[0],
            )
        await session.commit()

    assert won is not None
    assert len(statements) == 1, statements
    insert = statements[0].upper()
    assert insert.startswith("INSERT INTO DELIVERIES")
    assert "ON CONFLICT (DEDUPE_KEY) DO NOTHING" in insert
    assert "RETURNING" in insert


async def test_a_claim_records_who_what_and_when(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    seeded = await seed_unit(session_factory)
    won = await claim_and_commit(session_factory, seeded, officer=1, kind="escalation")
    assert won is not None
    delivery = await row(session_factory, won.id)
    assert won.dedupe_key == f"u{seeded.unit_id}:o{seeded.officer_ids[1]}:escalation:2024-03-04"
    assert (delivery.dedupe_key, delivery.status, delivery.attempts) == (
        won.dedupe_key,
        "claimed",
        1,
    )
    assert (delivery.unit_id, delivery.officer_id) == (seeded.unit_id, seeded.officer_ids[1])
    assert (delivery.kind, delivery.key_date, delivery.chat_id) == (
        "escalation",
        DAY,
        "5002",
    )  # text since 0013
    assert delivery.claimed_at == T0
    assert delivery.sent_at is None and delivery.message_id is None


async def test_concurrent_claims_of_one_key_have_exactly_one_winner(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    seeded = await seed_unit(session_factory)
    results = await asyncio.gather(*(claim_and_commit(session_factory, seeded) for _ in range(4)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert await count_rows(session_factory) == 1


async def test_different_keys_all_win(session_factory: async_sessionmaker[AsyncSession]) -> None:
    seeded = await seed_unit(session_factory)
    results = await asyncio.gather(
        claim_and_commit(session_factory, seeded, officer=0),
        claim_and_commit(session_factory, seeded, officer=1),
        claim_and_commit(session_factory, seeded, officer=0, kind="escalation"),
        claim_and_commit(session_factory, seeded, officer=0, key_date=DAY + timedelta(days=1)),
    )
    assert all(r is not None for r in results)
    assert len({r.dedupe_key for r in results if r is not None}) == 4
    assert await count_rows(session_factory) == 4


async def test_a_key_stays_claimed_once_sent_or_failed(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    seeded = await seed_unit(session_factory)
    sent = await claim_and_commit(session_factory, seeded, officer=0)
    failed = await claim_and_commit(session_factory, seeded, officer=1)
    assert sent is not None and failed is not None
    async with session_factory() as session:
        await mark_sent(session, claim_id=sent.id, message_id=77, now=T0)
        await mark_failed(session, claim_id=failed.id, error="blocked: Forbidden", now=T0)
        await session.commit()
    assert await claim_and_commit(session_factory, seeded, officer=0) is None
    assert await claim_and_commit(session_factory, seeded, officer=1) is None


# --------------------------------------------------------------------------- marks


async def test_mark_sent_records_the_message(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    seeded = await seed_unit(session_factory)
    won = await claim_and_commit(session_factory, seeded)
    assert won is not None
    later = T0 + timedelta(seconds=2)
    async with session_factory() as session:
        await mark_sent(session, claim_id=won.id, message_id=4242, now=later)
        await session.commit()
    delivery = await row(session_factory, won.id)
    assert (delivery.status, delivery.message_id, delivery.sent_at) == ("sent", 4242, later)
    assert delivery.sent_at is not None and delivery.sent_at.tzinfo is not None
    assert delivery.error is None


async def test_a_late_failure_does_not_undo_a_send(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    seeded = await seed_unit(session_factory)
    won = await claim_and_commit(session_factory, seeded)
    assert won is not None
    async with session_factory() as session:
        await mark_sent(session, claim_id=won.id, message_id=9, now=T0)
        await mark_failed(session, claim_id=won.id, error="failed: NetworkError", now=T0)
        await session.commit()
    delivery = await row(session_factory, won.id)
    assert (delivery.status, delivery.message_id, delivery.error) == ("sent", 9, None)


async def test_mark_failed_keeps_a_bounded_error(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    seeded = await seed_unit(session_factory)
    won = await claim_and_commit(session_factory, seeded)
    assert won is not None
    async with session_factory() as session:
        await mark_failed(session, claim_id=won.id, error="x" * 5000, now=T0)
        await session.commit()
    delivery = await row(session_factory, won.id)
    assert delivery.status == "failed"
    assert delivery.error is not None and 0 < len(delivery.error) <= 500


# --------------------------------------------------------------------------- stale claims


async def reclaim(sessions: async_sessionmaker[AsyncSession], now: datetime) -> list[Delivery]:
    async with sessions() as session:
        taken = await reclaim_stale(session, now=now, timeout=CLAIM_TIMEOUT)
        await session.commit()
        return taken


async def test_a_fresh_claim_is_not_reclaimed(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    seeded = await seed_unit(session_factory)
    won = await claim_and_commit(session_factory, seeded)
    assert won is not None
    assert await reclaim(session_factory, T0 + CLAIM_TIMEOUT - timedelta(seconds=1)) == []
    delivery = await row(session_factory, won.id)
    assert (delivery.status, delivery.attempts, delivery.claimed_at) == ("claimed", 1, T0)


async def test_a_stale_claim_is_taken_over_once(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    seeded = await seed_unit(session_factory)
    won = await claim_and_commit(session_factory, seeded)
    assert won is not None
    later = T0 + CLAIM_TIMEOUT + timedelta(seconds=1)

    taken = await reclaim(session_factory, later)

    assert [d.id for d in taken] == [won.id]
    assert (taken[0].status, taken[0].attempts, taken[0].claimed_at) == ("claimed", 2, later)
    assert taken[0].chat_id == str(seeded.chat_ids[0])  # what the resend needs
    assert await reclaim(session_factory, later + timedelta(seconds=1)) == []  # ours now


async def test_sent_and_failed_rows_are_never_reclaimed(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    seeded = await seed_unit(session_factory)
    sent = await claim_and_commit(session_factory, seeded, officer=0)
    failed = await claim_and_commit(session_factory, seeded, officer=1)
    stale = await claim_and_commit(session_factory, seeded, officer=2)
    assert sent is not None and failed is not None and stale is not None
    async with session_factory() as session:
        await mark_sent(session, claim_id=sent.id, message_id=1, now=T0)
        await mark_failed(session, claim_id=failed.id, error="failed: BadRequest", now=T0)
        await session.commit()
    taken = await reclaim(session_factory, T0 + timedelta(hours=2))
    assert [d.id for d in taken] == [stale.id]


async def test_two_processes_reclaiming_at_once_do_not_both_get_a_claim(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    seeded = await seed_unit(session_factory)
    claims = [await claim_and_commit(session_factory, seeded, officer=i) for i in range(3)]
    later = T0 + CLAIM_TIMEOUT + timedelta(minutes=1)

    first, second = await asyncio.gather(
        reclaim(session_factory, later), reclaim(session_factory, later + timedelta(seconds=1))
    )

    got = [d.id for d in first] + [d.id for d in second]
    assert sorted(got) == sorted(c.id for c in claims if c is not None)  # each exactly once
    async with session_factory() as session:
        attempts = (await session.scalars(select(Delivery.attempts))).all()
    assert sorted(attempts) == [2, 2, 2]


async def test_a_claim_that_times_out_twice_fails_and_is_never_sent_a_third_time(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    seeded = await seed_unit(session_factory)
    won = await claim_and_commit(session_factory, seeded)
    assert won is not None
    retry_at = T0 + CLAIM_TIMEOUT + timedelta(seconds=1)
    assert [d.id for d in await reclaim(session_factory, retry_at)] == [won.id]

    # The retry dies too: after another timeout the claim is given up, not sent again.
    assert await reclaim(session_factory, retry_at + CLAIM_TIMEOUT + timedelta(seconds=1)) == []
    delivery = await row(session_factory, won.id)
    assert (delivery.status, delivery.attempts, delivery.error) == ("failed", 2, UNCONFIRMED_ERROR)
    assert await reclaim(session_factory, T0 + timedelta(days=1)) == []
    assert await claim_and_commit(session_factory, seeded) is None


async def test_a_reclaimed_claim_can_still_be_marked_sent(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    seeded = await seed_unit(session_factory)
    won = await claim_and_commit(session_factory, seeded)
    assert won is not None
    retry_at = T0 + CLAIM_TIMEOUT + timedelta(seconds=1)
    (taken,) = await reclaim(session_factory, retry_at)
    async with session_factory() as session:
        await mark_sent(session, claim_id=taken.id, message_id=5, now=retry_at)
        await session.commit()
    assert await reclaim(session_factory, retry_at + 2 * CLAIM_TIMEOUT) == []
    delivery = await row(session_factory, won.id)
    assert (delivery.status, delivery.message_id, delivery.attempts) == ("sent", 5, 2)
