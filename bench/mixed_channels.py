"""Telegram's reply times while the same process fans out Zalo digests, next to the same
traffic without them: does one channel's fan-out slow the other's conversation?

Run: .venv/bin/python bench/mixed_channels.py [--seconds 60] [--rate 20] [--digests 1000]
     [--repeats 3] [--officers 30] [--postgres URL]

Each run gets a fresh database (SQLite in a temporary directory, or a scratch database on
the PostgreSQL server given by --postgres) holding the reminders' world of the fault tests
(tests/reminder_world.py: an item due that day, led by VPTK, officers holding VPTK): a unit
of --officers officers linked on Telegram, and --digests more, in units of 30, linked only
on Zalo. One real ``python -m bot run`` starts with both tokens set, pointed at the fake
Telegram and Zalo servers, which serve from threads of this script (tests/bot_processes.py).
In a "loaded" run its clock starts at 08:00 on that day, after REMINDER_TIME, so its
start-up tick sends every digest; in a "quiet" run at 07:00, before it, so none goes: the
same data, the same process, and the fan-out the only difference. Once the bot answers (in
a loaded run, once the Telegram officers have their own digests, which would otherwise pass
for replies), each officer sends one update (a warm-up), then they send updates at --rate
per second for --seconds: the open loop of bench/chat_throughput.py (/viec, opening an
item's card, pressing a percent on it, /capnhat), each timed from the moment it is handed
to the fake to the moment the bot's answer reaches it. The fake Zalo refuses above the
default budget (5 messages/s, as in bench/reminder_fanout.py), so 1,000 digests take 200 s
and cover the whole window. Runs alternate quiet/loaded, --repeats times.

Printed: each run's p50/p99, the Zalo digests the fake accepted during its window and its
quota errors; the medians over the runs of each kind; and the ratio loaded/quiet of the
median p99s (target <= 1.20, issue 14). Exit status 0 when within the target.

Why a subprocess rather than bot.runner in this process: the fakes and the driver here
take CPU and hold the GIL; in one process their work would count as the bot's latency (and
the Zalo fake's, which only the loaded run has, would count against the fan-out). A process
of its own is also what production runs: settings from the environment, the channels
chosen by channels.registry from the tokens set, the scheduler and both channels on one
event loop, the shared send budgets in the database. The bot is killed at the end of each
run: a clean stop would wait for the rest of the fan-out. Unlike bench/chat_throughput.py,
Telegram's budget keeps its real limits (30 messages/s): 20 updates/s stays under them.

What the tail was, and what took it away (issue 14): SQLite's busy handler, which sleeps in
steps of up to 100 ms, when a reply's write met a fan-out claim of the same process (now
the writers of one process take turns, and the tick's let the replies go first:
storage.sqlite_driver, storage.priority); each unit's burst of 16 claims ahead of the
replies' writes; a unit's reading in one block on the event loop; pool connections closed
and opened again (storage.db.SQLITE_POOL_SIZE); and garbage collections (bot.runner).

Why the Zalo officers are in units of their own: in the Telegram officers' unit they would
co-own its item, and with a thousand co-owners each reply took ~1.5 s with or without the
fan-out (measured while writing this bench): that would measure a unit fifty times a
commune's size, not the fan-out.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from chat_throughput import TimedFake, drivers, fixed_rate, quantile, step  # noqa: E402
from reminder_fanout import bot_limit, scratch_database  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker  # noqa: E402

from storage.db import make_engine, make_session_factory  # noqa: E402
from tests.bot_processes import bot_processes  # noqa: E402
from tests.fakes.flood import FloodLimits  # noqa: E402
from tests.fakes.zalo_api import FakeZalo  # noqa: E402
from tests.reminder_world import FIRST_CHAT, MORNING, seed  # noqa: E402

TARGET = 1.20
UNIT_SIZE = 30  # officers of a commune's committee
START_TIMEOUT = 120.0  # the bot's start-up and the Telegram officers' own digests
# Before REMINDER_TIME (07:30 in tests/bot_processes.py): that day's digests are not due yet.
QUIET = MORNING.replace(hour=7)


@dataclass
class Run:
    loaded: bool
    latencies: list[float]
    zalo_sent: int  # digests the fake Zalo accepted during the timed window
    zalo_refused: int  # its quota errors over the whole run

    @property
    def p50(self) -> float:
        return quantile(self.latencies, 0.5)

    @property
    def p99(self) -> float:
        return quantile(self.latencies, 0.99)

    def line(self) -> str:
        kind = "loaded" if self.loaded else "quiet"
        return (
            f"{kind:<7} p50 {self.p50:7.1f} ms   p99 {self.p99:7.1f} ms   "
            f"({len(self.latencies)} updates; Zalo digests in the window: {self.zalo_sent}, "
            f"quota errors: {self.zalo_refused})"
        )


async def seed_units(sessions: async_sessionmaker[AsyncSession], telegram: int, zalo: int) -> None:
    """A unit of ``telegram`` officers linked on Telegram, then units of UNIT_SIZE officers
    linked only on Zalo: in one unit, the Zalo officers would co-own the Telegram officers'
    item, and a card of a thousand co-owners would measure that instead of the fan-out."""
    await seed(sessions, telegram)
    for first in range(0, zalo, UNIT_SIZE):
        await seed(
            sessions,
            min(UNIT_SIZE, zalo - first),
            channels=lambda number: ("zalo",),
            unit_name=f"Phường Zalo {first // UNIT_SIZE + 1}",
            first=telegram + first,
        )


async def one_run(args: argparse.Namespace, *, loaded: bool) -> Run:
    tg = TimedFake()
    limit = int(bot_limit("zalo"))
    zalo = FakeZalo(quota=FloodLimits(global_per_second=limit, per_chat_per_second=1))
    chats = {FIRST_CHAT + number for number in range(args.officers)}
    async with scratch_database(args.postgres) as url:
        engine = make_engine(url)
        try:
            sessions = make_session_factory(engine)
            await seed_units(sessions, args.officers, args.digests)
            officers = await drivers(sessions, sorted(chats))
            with (
                tempfile.TemporaryDirectory(prefix="dondoc-bench-logs-") as logs,
                bot_processes(url, Path(logs), tg=tg, zalo=zalo) as bots,
            ):
                bot = bots.start(MORNING if loaded else QUIET)
                if loaded:  # their own digests first: a later one would pass for a reply
                    await tg.wait_until(
                        lambda: chats <= {m.chat_id for m in tg.sent()}, timeout=START_TIMEOUT
                    )
                await asyncio.gather(*(step(tg, officer) for officer in officers))  # warm-up
                before = len(zalo.sent())
                _, latencies = await fixed_rate(tg, officers, args.rate, args.seconds)
                during = len(zalo.sent()) - before
                refused = zalo.stats.quota_errors
                assert bot.process.poll() is None, bot.output()[-3000:]
            # Leaving bot_processes killed the bot (see the module docstring).
        finally:
            await engine.dispose()
    return Run(loaded, latencies, during, refused)


def medians(runs: list[Run]) -> tuple[float, float]:
    return statistics.median(r.p50 for r in runs), statistics.median(r.p99 for r in runs)


async def main(args: argparse.Namespace) -> int:
    print(
        f"Telegram: {args.officers} officers, {args.rate:g} updates/s for {args.seconds:g} s; "
        f"loaded runs: {args.digests} Zalo digests at {bot_limit('zalo'):g}/s; "
        f"{args.repeats} x (quiet, loaded); {'postgresql' if args.postgres else 'sqlite'}"
    )
    runs: list[Run] = []
    for _ in range(args.repeats):
        for kind in (False, True):
            runs.append(await one_run(args, loaded=kind))
            print(runs[-1].line(), flush=True)
    quiet = medians([r for r in runs if not r.loaded])
    loaded = medians([r for r in runs if r.loaded])
    ratio = loaded[1] / quiet[1]
    print(f"\nmedians of {args.repeats} runs each:")
    print(f"quiet   p50 {quiet[0]:7.1f} ms   p99 {quiet[1]:7.1f} ms")
    print(f"loaded  p50 {loaded[0]:7.1f} ms   p99 {loaded[1]:7.1f} ms")
    print(f"ratio loaded/quiet p99 {ratio:.2f}   (target <= {TARGET:.2f})")
    return 0 if ratio <= TARGET else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=20.0, help="Telegram updates per second")
    parser.add_argument("--digests", type=int, default=1000, help="Zalo digests, loaded runs")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--officers", type=int, default=UNIT_SIZE, help="Telegram officers")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server URL (asyncpg)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse_args())))
