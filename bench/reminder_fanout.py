"""How close a reminder fan-out gets to Telegram's 30 messages/s, with claims included.

Run: .venv/bin/python bench/reminder_fanout.py [--officers 1000] [--postgres URL]

A fake Bot API server (tests/fakes/telegram_api.py) runs in a thread of its own and enforces
Telegram's flood limits (30/s overall, 1/s per chat, sliding windows), answering 429 when they
are exceeded. A fresh database (SQLite in a temporary directory, or a scratch database on the
PostgreSQL server given by --postgres) gets one unit and N officers. Then one digest per
officer goes out through the real path: ``Sender.deliver_claimed`` claims the delivery row,
sends through python-telegram-bot over HTTP, and marks the row sent.

Printed: messages sent, elapsed time, messages/s and its ratio to 30/s, the theoretical minimum
time (N/30 s) and actual/minimum, the 429s the server answered, duplicates (chats that got more
than one message) and failures. The issue's target: at least 0.9 of the limit, zero 429s, zero
duplicates.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402
from telegram import Bot  # noqa: E402
from telegram.request import HTTPXRequest  # noqa: E402

from channels.telegram_outbound import TelegramOutbound  # noqa: E402
from scheduler.sender import FANOUT_CONCURRENCY, Sender, gather_bounded  # noqa: E402
from storage.db import make_engine, make_session_factory  # noqa: E402
from storage.migrate import upgrade_database  # noqa: E402
from storage.models import ChannelAccount, Delivery, Officer, Unit  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram, FloodLimits  # noqa: E402

LIMIT_PER_SECOND = 30
FIRST_CHAT_ID = 700_000_000
KEY_DATE = date(2024, 3, 4)
DIGEST = "Nhắc việc hôm nay:\n• 1.1 Ban hành kế hoạch CCHC (hạn 31/03/2024)"


@dataclass
class Figures:
    officers: int
    outcomes: Counter[str]
    elapsed: float
    too_many_requests: int
    duplicates: int
    rows_sent: int


@asynccontextmanager
async def scratch_database(postgres: str | None) -> AsyncIterator[str]:
    """A fresh, migrated database URL: a temporary SQLite file, or a PostgreSQL database that
    is created for the run and dropped after it."""
    if postgres is None:
        with tempfile.TemporaryDirectory(prefix="dondoc-bench-") as directory:
            url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
            await upgrade_database(url)
            yield url
        return
    name = f"dondoc_bench_{os.getpid()}"
    url = make_url(postgres).set(database=name).render_as_string(hide_password=False)
    await _postgres_admin(postgres, f'DROP DATABASE IF EXISTS "{name}"')
    await _postgres_admin(postgres, f'CREATE DATABASE "{name}"')
    try:
        await upgrade_database(url)
        yield url
    finally:
        await _postgres_admin(postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _postgres_admin(server_url: str, statement: str) -> None:
    # CREATE/DROP DATABASE refuse to run inside a transaction.
    engine = make_engine(server_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def seed(sessions: async_sessionmaker[AsyncSession], officers: int) -> list[Officer]:
    async with sessions() as session:
        unit = Unit(name="Phường Bench", name_key="phuong bench")
        session.add(unit)
        await session.flush()
        people = [
            Officer(
                unit_id=unit.id,
                name=f"Cán bộ {i}",
                name_key=f"can bo {i}",
            )
            for i in range(officers)
        ]
        session.add_all(people)
        await session.flush()
        session.add_all(
            ChannelAccount(channel="telegram", external_id=str(FIRST_CHAT_ID + i), officer_id=o.id)
            for i, o in enumerate(people)
        )
        await session.commit()
    return people


async def fan_out(
    sender: Sender, sessions: async_sessionmaker[AsyncSession], people: list[Officer]
) -> Counter[str]:
    async def blocked(officer_id: int) -> None:
        print(f"officer {officer_id} blocked the bot", file=sys.stderr)

    def job(number: int, officer: Officer) -> Callable[[], Awaitable[str]]:
        chat_id = FIRST_CHAT_ID + number  # as seeded
        return lambda: sender.deliver_claimed(
            sessions=sessions,
            unit_id=officer.unit_id,
            officer_id=officer.id,
            kind="digest",
            key_date=KEY_DATE,
            chat_id=chat_id,
            text=DIGEST,
            buttons=[[("Mở 1.1", "card:1")]],
            on_blocked=blocked,
        )

    outcomes = await gather_bounded([job(n, o) for n, o in enumerate(people)], FANOUT_CONCURRENCY)
    return Counter(outcomes)


async def run(tg: FakeTelegram, officers: int, postgres: str | None) -> Figures:
    async with scratch_database(postgres) as url:
        engine = make_engine(url)
        try:
            sessions = make_session_factory(engine)
            people = await seed(sessions, officers)
            bot = Bot(tg.token, base_url=tg.base_url, request=HTTPXRequest(connection_pool_size=64))
            async with bot:
                sender = Sender(TelegramOutbound(bot))
                started = time.perf_counter()
                outcomes = await fan_out(sender, sessions, people)
                elapsed = time.perf_counter() - started
            async with sessions() as session:
                rows_sent = await session.scalar(
                    select(func.count()).select_from(Delivery).where(Delivery.status == "sent")
                )
        finally:
            await engine.dispose()
    per_chat = Counter(m.chat_id for m in tg.sent())
    return Figures(
        officers=officers,
        outcomes=outcomes,
        elapsed=elapsed,
        too_many_requests=tg.stats.too_many_requests,
        duplicates=sum(1 for count in per_chat.values() if count > 1),
        rows_sent=rows_sent or 0,
    )


def report(figures: Figures, backend: str) -> str:
    sent = figures.outcomes["sent"]
    rate = sent / figures.elapsed
    minimum = figures.officers / LIMIT_PER_SECOND
    failures = figures.officers - sent
    lines = [
        f"database            {backend}",
        f"officers            {figures.officers}",
        f"messages sent       {sent}  (rows marked sent: {figures.rows_sent})",
        f"elapsed             {figures.elapsed:.2f} s",
        f"rate                {rate:.2f} msg/s = {rate / LIMIT_PER_SECOND:.3f} of 30/s",
        f"theoretical minimum {minimum:.2f} s (N/30)",
        f"actual/minimum      {figures.elapsed / minimum:.3f}",
        f"429s                {figures.too_many_requests}",
        f"duplicates          {figures.duplicates}",
        f"failures            {failures}  {dict(figures.outcomes)}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--officers", type=int, default=1000)
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server URL (asyncpg)")
    args = parser.parse_args(argv)
    tg = FakeTelegram(flood=FloodLimits(global_per_second=30, per_chat_per_second=1))
    tg.start_in_thread()
    try:
        figures = asyncio.run(run(tg, args.officers, args.postgres))
    finally:
        tg.stop()
    print(report(figures, "postgresql" if args.postgres else "sqlite"))
    ok = (
        figures.outcomes["sent"] / figures.elapsed >= 0.9 * LIMIT_PER_SECOND
        and figures.too_many_requests == 0
        and figures.duplicates == 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
