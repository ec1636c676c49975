"""How fast N bot processes on one database send one bot's daily digests, and whether together
they stay within the bot's budget (Telegram ~30 messages/s; Zalo ZALO_MESSAGES_PER_SECOND,
5 by default) instead of each pacing itself and multiplying it.

Run: .venv/bin/python bench/reminder_fanout.py --channel telegram|zalo --processes N
     [--officers M] [--postgres URL] [--zalo-rate R]

``--zalo-rate`` sets the bots' ZALO_MESSAGES_PER_SECOND while the fake keeps refusing above
the default (5/s): how much margin under the limit the pacing needs.

A fresh database (SQLite in a temporary directory, or a scratch database on the PostgreSQL
server given by --postgres) gets one unit whose item is due today and M officers linked on
the channel (tests/reminder_world.py). The channel's fake server (tests/fakes/) runs in a
thread of this process and answers flood errors above the bot's limit (Telegram's 429 above
30/s overall or 1/s per chat; Zalo's quota error above its budget), so a rate above the
limit shows as errors, not only as a figure. Then N real ``python -m bot run`` processes
start at once with the clock at 08:00 on that day (tests/bot_processes.py; after
REMINDER_TIME, so their start-up tick sends the digests) and race for the same digests
through the shared claims and the shared send budget. Nothing else sends.

Printed: messages the fake accepted, the rate from the first to the last (per bot: every
process together) and its ratio to the limit, the busiest second, each process's share,
flood errors, duplicates (chats that got more than one digest), lost (chats that got none)
and the delivery rows marked sent. Exit status 0 when the rate is within [0.9, 1.05] of the
limit with no flood error, duplicate or loss.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from bot.settings import Settings  # noqa: E402
from storage.db import make_engine, make_session_factory  # noqa: E402
from storage.migrate import upgrade_database  # noqa: E402
from storage.models import Delivery  # noqa: E402
from tests.bot_processes import bot_processes  # noqa: E402
from tests.fakes.flood import FloodLimits  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402
from tests.fakes.zalo_api import FakeZalo  # noqa: E402
from tests.reminder_world import MORNING, chat_ids, seed  # noqa: E402

TELEGRAM_LIMIT = 30
SECONDS_OF_SENDING = 20  # the default number of officers: this long at the limit


@dataclass
class Figures:
    channel: str
    processes: int
    officers: int
    limit: float
    times: list[float]  # when the fake accepted each digest, seconds, sorted
    per_chat: Counter[str]
    flood_errors: int
    per_process: list[int]  # digests each process reported sent
    rows_sent: int

    @property
    def rate(self) -> float:
        span = self.times[-1] - self.times[0] if len(self.times) > 1 else 0.0
        return (len(self.times) - 1) / span if span > 0 else float("nan")

    @property
    def busiest_second(self) -> int:
        """The most digests accepted within any one second."""
        best, first = 0, 0
        for last, moment in enumerate(self.times):
            while moment - self.times[first] >= 1.0:
                first += 1
            best = max(best, last - first + 1)
        return best

    @property
    def duplicates(self) -> int:
        return sum(1 for count in self.per_chat.values() if count > 1)

    @property
    def lost(self) -> int:
        return len(chat_ids(self.officers) - self.per_chat.keys())

    def ok(self) -> bool:
        within = 0.9 * self.limit <= self.rate <= 1.05 * self.limit
        return within and self.flood_errors == self.duplicates == self.lost == 0


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


def bot_limit(channel: str) -> float:
    """The bot's budget: Telegram's, or Zalo's setting (its default unless set)."""
    if channel == "telegram":
        return TELEGRAM_LIMIT
    return Settings.model_fields["zalo_messages_per_second"].default  # type: ignore[no-any-return]


def send_times(fake: FakeTelegram | FakeZalo) -> list[float]:
    if isinstance(fake, FakeTelegram):
        return sorted(message.timestamp for message in fake.sent())
    return sorted(message.date / 1000 for message in fake.sent())  # Zalo's are milliseconds


async def run(
    channel: str, processes: int, officers: int, postgres: str | None, zalo_rate: float | None
) -> Figures:
    limit = bot_limit(channel)
    flood = FloodLimits(global_per_second=int(limit), per_chat_per_second=1)
    fake: FakeTelegram | FakeZalo = (
        FakeTelegram(flood=flood) if channel == "telegram" else FakeZalo(quota=flood)
    )
    fakes = {"tg": fake} if isinstance(fake, FakeTelegram) else {"zalo": fake}
    budget = {} if zalo_rate is None else {"ZALO_MESSAGES_PER_SECOND": str(zalo_rate)}
    chats = chat_ids(officers)
    async with scratch_database(postgres) as url:
        engine = make_engine(url)
        try:
            sessions = make_session_factory(engine)
            await seed(sessions, officers, channels=lambda number: (channel,))
            with (
                tempfile.TemporaryDirectory(prefix="dondoc-bench-logs-") as logs,
                bot_processes(url, Path(logs), **fakes, **budget) as bots,
            ):
                started = [bots.start(MORNING) for _ in range(processes)]

                def every_chat_has_one() -> bool:
                    return chats <= {str(m.chat_id) for m in fake.sent()}

                wait = officers / limit * 4 + 60  # flood errors pause every process
                await fake.wait_until(every_chat_has_one, timeout=wait)  # on the fake's loop
                for bot in started:
                    bots.stop(bot)  # a clean stop waits for the tick: anything extra goes now
                per_process = [sum(r.get("sent", 0) for r in bot.reports()) for bot in started]
                times = send_times(fake)
                per_chat = Counter(str(m.chat_id) for m in fake.sent())
                errors = (
                    fake.stats.too_many_requests
                    if isinstance(fake, FakeTelegram)
                    else fake.stats.quota_errors
                )
            async with sessions() as session:
                rows_sent = await session.scalar(
                    select(func.count()).select_from(Delivery).where(Delivery.status == "sent")
                )
        finally:
            await engine.dispose()
    return Figures(
        channel, processes, officers, limit, times, per_chat, errors, per_process, rows_sent or 0
    )


def report(figures: Figures, backend: str) -> str:
    rate = figures.rate
    lines = [
        f"channel             {figures.channel} (the fake's limit {figures.limit:g} msg/s)",
        f"processes           {figures.processes}, one database ({backend}), one token",
        f"officers            {figures.officers}",
        f"messages accepted   {len(figures.times)}  (rows marked sent: {figures.rows_sent})",
        f"per process         {figures.per_process}",
        f"rate per bot        {rate:.2f} msg/s = {rate / figures.limit:.3f} of the limit",
        f"busiest second      {figures.busiest_second} messages",
        f"flood errors        {figures.flood_errors}",
        f"duplicates          {figures.duplicates}",
        f"lost                {figures.lost}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--channel", choices=("telegram", "zalo"), default="telegram")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--officers", type=int, help="default: 20 s of sending at the limit")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server URL (asyncpg)")
    parser.add_argument("--zalo-rate", type=float, help="the bots' Zalo budget, messages/s")
    args = parser.parse_args(argv)
    officers = args.officers or int(bot_limit(args.channel) * SECONDS_OF_SENDING)
    figures = asyncio.run(
        run(args.channel, args.processes, officers, args.postgres, args.zalo_rate)
    )
    print(report(figures, "postgresql" if args.postgres else "sqlite"))
    return 0 if figures.ok() else 1


if __name__ == "__main__":
    raise SystemExit(main())
