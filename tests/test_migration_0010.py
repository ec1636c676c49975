"""Migration 0010 (channel keys), both ways, on a database holding linked officers,
deliveries and processed updates: nothing is lost going up, and down works."""

from __future__ import annotations

import asyncio
from datetime import date

from alembic import command
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.accounts import officer_by_account
from handlers.base import claim_update
from scheduler.delivery import claim
from storage.migrate import alembic_config
from storage.models import ChannelAccount, Delivery, Invite, Officer, ProcessedUpdate, Unit
from tests.test_delivery import T0

Sessions = async_sessionmaker[AsyncSession]
BIG_UPDATE = 9_123_456_789  # beyond 32 bits, as Telegram's update ids may be


async def migrate(engine: AsyncEngine, database_url: str, revision: str) -> None:
    """Up or down to ``revision``; our pool is emptied first (no cached plans or locks)."""
    await engine.dispose()
    config = alembic_config(database_url)
    step = command.upgrade if revision == "head" else command.downgrade
    await asyncio.to_thread(step, config, revision)


async def rows(engine: AsyncEngine, sql: str) -> list[tuple[object, ...]]:
    async with engine.connect() as connection:
        return [tuple(row) for row in await connection.execute(text(sql))]


async def test_0010_keeps_every_link_delivery_and_update_key_both_ways(
    engine: AsyncEngine, session_factory: Sessions, database_url: str
) -> None:
    async with session_factory() as session, session.begin():
        unit = Unit(name="Xã Tân Đức", name_key="xa tan duc")
        session.add(unit)
        await session.flush()
        lan = Officer(unit_id=unit.id, name="Lan", name_key="lan")
        session.add(lan)
        await session.flush()
        session.add(ChannelAccount(channel="telegram", external_id="5001", officer_id=lan.id))
        unit_id, lan_id = unit.id, lan.id
        won = await claim(
            session, unit_id=unit_id, officer_id=lan_id, kind="digest", key_date=date(2024, 3, 4),
            chat_id=5001, now=T0,
        )  # fmt: skip
        assert won is not None
        session.add(
            Invite(
                unit_id=unit_id, officer_id=lan_id, code="ABCD2345", expires_at=T0, used_at=T0,
                used_by_channel="telegram", used_by_account="5001",
            )
        )  # fmt: skip
    await migrate(engine, database_url, "0009")  # a database at 0009 with a delivery
    assert await rows(engine, "SELECT used_by_telegram_id FROM invites") == [(5001,)]

    # Updates handled at 0009, with integer keys as 0009's code wrote them.
    async with engine.begin() as connection:
        for update_id in (BIG_UPDATE, 17):
            await connection.execute(
                text(
                    "INSERT INTO processed_updates (channel, update_id, unit_id, processed_at) "
                    "VALUES ('telegram', :u, :unit, CURRENT_TIMESTAMP)"
                ),
                {"u": update_id, "unit": unit_id},
            )

    await migrate(engine, database_url, "head")
    async with session_factory() as session:
        officer = await officer_by_account(session, channel="telegram", external_id="5001")
        assert officer is not None and officer.id == lan_id  # the link, an account since 0013
        delivery = (await session.scalars(select(Delivery))).one()
        assert (delivery.channel, delivery.chat_id, delivery.officer_id) == (
            "telegram",
            "5001",  # text since 0013
            lan_id,
        )
        invite = (await session.scalars(select(Invite))).one()
        assert (invite.used_by_channel, invite.used_by_account, invite.used_at) == (
            "telegram",
            "5001",
            T0,
        )
        keys = sorted(await session.scalars(select(ProcessedUpdate.update_id)))
        assert keys == sorted([str(BIG_UPDATE), "17"])
    async with session_factory() as session, session.begin():
        # The old key still deduplicates (the redelivered update is a no-op); a text id works.
        assert not await claim_update(session, BIG_UPDATE, None, channel="telegram")
        assert await claim_update(session, "zalo-msg-abc", None, channel="zalo")

    await migrate(engine, database_url, "0009")
    assert sorted(await rows(engine, "SELECT channel, update_id FROM processed_updates")) == sorted(
        [("telegram", BIG_UPDATE), ("telegram", 17)]
    )  # back to integers; the Zalo key had no integer form and is gone
    assert await rows(engine, "SELECT officer_id, chat_id, status FROM deliveries") == [
        (lan_id, 5001, "claimed")
    ]
    assert await rows(engine, "SELECT telegram_id FROM officers") == [(5001,)]
    assert await rows(engine, "SELECT used_by_telegram_id FROM invites") == [(5001,)]
    await migrate(engine, database_url, "head")  # and up again
