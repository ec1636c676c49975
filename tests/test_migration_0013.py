"""Migration 0013 (channel accounts), both ways, on a database at 0012 holding linked officers
(one of them unreachable), an unlinked one, deliveries and processed updates: every link
becomes a Telegram account with nothing lost, and down puts the columns back."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.accounts import link_account, officer_accounts, officer_by_account
from handlers.base import claim_update
from storage.models import ChannelAccount, Delivery, Officer, ProcessedUpdate
from tests.test_migration_0010 import BIG_UPDATE, migrate, rows

Sessions = async_sessionmaker[AsyncSession]
SEEN = datetime(2024, 3, 4, 2, 0, tzinfo=UTC)
BIG_CHAT = 7_123_456_789  # beyond 32 bits, as Telegram's user ids may be


async def seed_0012(engine: AsyncEngine) -> None:
    """Rows as 0012's code wrote them: officers.telegram_id/reachable, integer chat ids."""
    statements = [
        "INSERT INTO units (id, name, name_key, settings, created_at, data_version) "
        "VALUES (1, 'Xã Tân Đức', 'xa tan duc', '{}', :t, 0)",
        "INSERT INTO officers (id, unit_id, name, name_key, positions, roles, telegram_id, "
        "active, reachable, last_activity_at, created_at, department_head) VALUES "
        "(1, 1, 'Lan', 'lan', '[]', '[\"officer\"]', 5001, true, true, :t, :t, false), "
        "(2, 1, 'Nam', 'nam', '[]', '[\"officer\"]', :big, true, false, NULL, :t, false), "
        "(3, 1, 'Hoa', 'hoa', '[]', '[\"officer\"]', NULL, true, true, NULL, :t, false)",
        "UPDATE officers SET zalo_id = 'z-nam' WHERE id = 2",
        "INSERT INTO deliveries (unit_id, officer_id, kind, key_date, dedupe_key, status, "
        "attempts, claimed_at, sent_at, channel, chat_id, message_id) VALUES "
        "(1, 1, 'digest', '2024-03-04', 'u1:o1:digest:2024-03-04', 'sent', 1, :t, :t, "
        "'telegram', 5001, 42), "
        "(1, 2, 'digest', '2024-03-04', 'u1:o2:digest:2024-03-04', 'failed', 1, :t, NULL, "
        "'telegram', :big, NULL)",
        "INSERT INTO processed_updates (channel, update_id, unit_id, processed_at) VALUES "
        "('telegram', :bigupdate, 1, :t), ('zalo', 'zalo-evt-1', NULL, :t)",
    ]
    params = {"t": SEEN, "big": BIG_CHAT, "bigupdate": str(BIG_UPDATE)}
    async with engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement), params)


async def test_0013_moves_every_telegram_link_into_accounts_and_back(
    engine: AsyncEngine, session_factory: Sessions, database_url: str
) -> None:
    await migrate(engine, database_url, "0012")
    await seed_0012(engine)

    await migrate(engine, database_url, "head")
    async with session_factory() as session:
        accounts = list(await session.scalars(select(ChannelAccount).order_by(ChannelAccount.id)))
        assert [
            (a.channel, a.external_id, a.officer_id, a.unreachable, a.last_used_at)
            for a in accounts
        ] == [
            ("telegram", "5001", 1, False, SEEN),
            ("telegram", str(BIG_CHAT), 2, True, None),
            ("zalo", "z-nam", 2, False, None),
        ]
        lan = await officer_by_account(session, channel="telegram", external_id="5001")
        assert lan is not None and (lan.name, lan.preferred_channel) == ("Lan", None)
        assert await officer_accounts(session, officer_id=3) == []  # Hoa was never linked
        sent = list(await session.scalars(select(Delivery).order_by(Delivery.id)))
        assert [(d.officer_id, d.channel, d.chat_id, d.status, d.message_id) for d in sent] == [
            (1, "telegram", "5001", "sent", 42),
            (2, "telegram", str(BIG_CHAT), "failed", None),
        ]
        keys = sorted(await session.scalars(select(ProcessedUpdate.update_id)))
        assert keys == sorted([str(BIG_UPDATE), "zalo-evt-1"])
    async with session_factory() as session, session.begin():
        assert not await claim_update(session, str(BIG_UPDATE), None)  # still deduplicates
        # Hoa links a Zalo account; a delivery goes to it.
        hoa = await session.get_one(Officer, 3)
        await link_account(session, channel="zalo", external_id="z-hoa", officer=hoa, actor="t")
        await session.execute(
            text(
                "INSERT INTO deliveries (unit_id, officer_id, kind, key_date, dedupe_key, status, "
                "attempts, claimed_at, channel, chat_id) VALUES (1, 3, 'digest', '2024-03-05', "
                "'u1:o3:digest:2024-03-05', 'sent', 1, :t, 'zalo', 'z-hoa')"
            ),
            {"t": SEEN},
        )

    await migrate(engine, database_url, "0012")
    assert await rows(
        engine, "SELECT id, telegram_id, reachable, zalo_id FROM officers ORDER BY id"
    ) == [(1, 5001, True, None), (2, BIG_CHAT, False, "z-nam"), (3, None, True, "z-hoa")]
    assert await rows(engine, "SELECT officer_id, chat_id FROM deliveries ORDER BY id") == [
        (1, 5001),
        (2, BIG_CHAT),
        (3, None),
    ]
    await migrate(engine, database_url, "head")  # and up again
    async with session_factory() as session:
        nam = await officer_by_account(session, channel="telegram", external_id=str(BIG_CHAT))
        assert nam is not None and nam.id == 2
        accounts = await officer_accounts(session, officer_id=2)
        assert [(a.channel, a.unreachable) for a in accounts] == [
            ("telegram", True),
            ("zalo", False),
        ]
