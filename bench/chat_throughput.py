"""How fast the bot answers officers, next to a bare PTB echo bot, and how much memory it takes.

Run: .venv/bin/python bench/chat_throughput.py [--officers 20] [--updates 2000] [--rate 50]

Set-up: a SQLite database in a temporary directory with 100 units of 30 officers (3,000 in
all, every one linked to a Telegram id), each unit with the Phường 6 plan (109 items). The fake
Bot API server (tests/fakes/telegram_api.py) runs in a thread of its own; the bot under test
polls it over HTTP in the main event loop, as in production.

1. Saturated: N officers of one unit each play a closed loop (one update outstanding) of
   /viec, opening an item card, pressing a percent on it, and /capnhat <code> <percent>.
   Printed: updates handled per second and p50/p99 latency, from the moment an update is
   handed to the fake server to the moment the bot's answer (a message or an edit) reaches
   it. Then the same for a bare PTB echo bot (it echoes text and edits the pressed message),
   on the same server, with the same concurrency, and the ratio of the two.
2. Fixed rate: updates injected at --rate per second (open loop) for --seconds; p50/p99, and
   the bot's CPU time per update (this process's CPU time less the fake server thread's).
3. Memory: the bot in a process of its own (this script with --child), after a warm-up of
   /viec and card presses by --warm officers spread over all units; its VmRSS and VmHWM.

Rate limiters stay in the path, but with no effective cap: Telegram's 30 messages/s for a
whole bot would make every figure here read "30/s" instead of measuring the bot. dondoc keeps
its own (channels.telegram_budget: the shared send budget, one small database write per
message) with a rate of a million a second; the echo bot keeps PTB's AIORateLimiter with no
overall limit.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import sys
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import select  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker  # noqa: E402
from telegram import Update  # noqa: E402
from telegram.ext import (  # noqa: E402
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.settings import Settings, load_settings  # noqa: E402
from channels.telegram_app import (  # noqa: E402
    CONCURRENT_UPDATES,
    TELEGRAM_RATES,
    build_application,
    start_bot,
)
from channels.telegram_budget import SharedRateLimiter  # noqa: E402
from core.accounts import officer_by_account  # noqa: E402
from core.ownership import officer_items  # noqa: E402
from core.plan_store import import_plan  # noqa: E402
from core.text import fold  # noqa: E402
from handlers.base import AppState  # noqa: E402
from storage.db import make_engine, make_session_factory  # noqa: E402
from storage.migrate import upgrade_database  # noqa: E402
from storage.models import ChannelAccount, Officer, Unit  # noqa: E402
from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegram, SentMessage  # noqa: E402
from tests.seed_files import PHUONG6, parsed_seed  # noqa: E402

UNITS = 100
OFFICERS_PER_UNIT = 30
FIRST_CHAT = 800_000_000
POSITIONS = ("VPTK", "NV", "TCKT", "VHXH", "TPHT")
PERCENTS = (25, 50, 75)
REPLY_TIMEOUT = 30.0
Step = Callable[[int], Awaitable[None]]


# --- a fake server that tells who is waiting when an answer arrives ---------------------------


class TimedFake(FakeTelegram):
    """The fake, plus a FIFO of waiters per chat resolved (thread-safely) with the fake's
    timestamp of each message sent or edited in that chat. Bench-only: it hooks two private
    methods of the fake because the fake has no public notification hook."""

    def __init__(self) -> None:
        super().__init__()
        self.waiters: dict[int, deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[float]]]] = {}

    def expect(self, chat: int) -> asyncio.Future[float]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[float] = loop.create_future()
        self.waiters.setdefault(chat, deque()).append((loop, future))
        return future

    def _record_sent(self, method: str, chat_id: int, **fields: Any) -> SentMessage:
        message = super()._record_sent(method, chat_id, **fields)
        self._signal(chat_id, message.timestamp)
        return message

    def _apply_edit(self, message: SentMessage, *args: Any) -> None:
        super()._apply_edit(message, *args)
        self._signal(message.chat_id, self.clock())

    def _signal(self, chat: int, stamp: float) -> None:
        queue = self.waiters.get(chat)
        if queue:
            loop, future = queue.popleft()
            loop.call_soon_threadsafe(_resolve, future, stamp)


def _resolve(future: asyncio.Future[float], stamp: float) -> None:
    if not future.done():
        future.set_result(stamp)


# --- data --------------------------------------------------------------------------------------


@dataclass
class Driver:
    """One officer's chat and the item they report on."""

    chat: int
    item_id: int
    code: str
    list_message: int = 0
    turn: itertools.count[int] = field(default_factory=itertools.count)


async def seed(sessions: async_sessionmaker[AsyncSession]) -> None:
    plan = parsed_seed(PHUONG6)
    for n in range(UNITS):
        async with sessions() as session, session.begin():
            name = f"Phường thử {n + 1}"
            await import_plan(
                session, unit_name=name, plan=plan, source_name=None, source_sha256=None, actor="b"
            )
            unit = await session.scalar(select(Unit).where(Unit.name == name))
            assert unit is not None
            officers = _officers(unit.id, n)
            session.add_all(officers)
            await session.flush()
            session.add_all(
                ChannelAccount(
                    channel="telegram",
                    external_id=str(FIRST_CHAT + n * OFFICERS_PER_UNIT + k),
                    officer_id=officer.id,
                )
                for k, officer in enumerate(officers)
            )


def _officers(unit_id: int, n: int) -> list[Officer]:
    officers = []
    for k in range(OFFICERS_PER_UNIT):
        name = f"Cán bộ {n + 1}-{k + 1}"
        officers.append(
            Officer(
                unit_id=unit_id,
                name=name,
                name_key=fold(name),
                positions=[POSITIONS[k % len(POSITIONS)]],
                roles=["officer", "coordinator"] if k == 0 else ["officer"],
            )
        )
    return officers


async def drivers(sessions: async_sessionmaker[AsyncSession], chats: list[int]) -> list[Driver]:
    found = []
    async with sessions() as session:
        for chat in chats:
            officer = await officer_by_account(session, channel="telegram", external_id=str(chat))
            assert officer is not None
            items = await officer_items(session, officer=officer, today=date.today())
            first = items.owned()[0]
            found.append(Driver(chat, first.criterion_id, first.code))
    return found


# --- the two bots --------------------------------------------------------------------------------


def bench_settings(directory: Path, url: str) -> Settings:
    return load_settings(
        DATABASE_URL=f"sqlite+aiosqlite:///{directory / 'bench.db'}",
        EVIDENCE_DIR=directory / "evidence",
        TELEGRAM_BOT_TOKEN=DEFAULT_TOKEN,
        TELEGRAM_API_BASE_URL=f"{url}/bot",
        TELEGRAM_FILE_BASE_URL=f"{url}/file/bot",
        _env_file=None,
    )


def dondoc_app(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> Application:  # type: ignore[type-arg]
    # No reminder ticks in the middle of a measurement: the application has none (bot.runner).
    state = AppState(settings=settings, sessions=sessions)
    app = build_application(state)
    uncapped = replace(TELEGRAM_RATES, per_second=1_000_000.0)  # see the module docstring
    limiter = app.bot.rate_limiter
    assert isinstance(limiter, SharedRateLimiter)
    limiter.budget.rates = uncapped
    return app


def echo_app(url: str) -> Application:  # type: ignore[type-arg]
    app = (
        ApplicationBuilder()
        .token(DEFAULT_TOKEN)
        .base_url(f"{url}/bot")
        .base_file_url(f"{url}/file/bot")
        .concurrent_updates(CONCURRENT_UPDATES)
        .rate_limiter(AIORateLimiter(overall_max_rate=0, max_retries=3))
        .build()
    )
    counter = itertools.count()

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(update.effective_message.text or "?")

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text(f"{query.data} #{next(counter)}")

    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.add_handler(CallbackQueryHandler(pressed))
    return app


async def running(app: Application, *, dondoc: bool = True) -> None:  # type: ignore[type-arg]
    await app.initialize()
    if dondoc:
        await start_bot(app)  # menus and start-up hooks, as in production
    else:
        await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1, drop_pending_updates=True)


async def stopped(app: Application) -> None:  # type: ignore[type-arg]
    assert app.updater is not None
    await app.updater.stop()
    await app.stop()
    await app.shutdown()


# --- driving -----------------------------------------------------------------------------------


async def step(fake: TimedFake, driver: Driver) -> float:
    """One update of the officer's cycle; its latency in seconds."""
    turn = next(driver.turn)
    kind = turn % 4
    waiter = fake.expect(driver.chat)
    start = time.monotonic()
    if kind == 0 or driver.list_message == 0:
        await fake.send_text(driver.chat, "/viec")
    elif kind == 1:
        await fake.press_button(
            driver.chat, driver.list_message, f"C:{driver.item_id}:0", strict=False
        )
    elif kind == 2:
        percent = PERCENTS[(turn // 4) % len(PERCENTS)]
        await fake.press_button(
            driver.chat, driver.list_message, f"P:{driver.item_id}:{percent}:0", strict=False
        )
    else:
        percent = PERCENTS[(turn // 4 + 1) % len(PERCENTS)]
        await fake.send_text(driver.chat, f"/capnhat {driver.code} {percent} ghi chú")
    stamp = await asyncio.wait_for(waiter, REPLY_TIMEOUT)
    if kind == 0 or driver.list_message == 0:
        driver.list_message = fake.last(driver.chat).message_id
    return stamp - start


async def saturated(
    fake: TimedFake, officers: list[Driver], total: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    per_officer = max(total // len(officers), 4)

    async def loop(driver: Driver) -> None:
        for _ in range(per_officer):
            latencies.append(await step(fake, driver))

    started = time.monotonic()
    await asyncio.gather(*(loop(d) for d in officers))
    elapsed = time.monotonic() - started
    return len(latencies) / elapsed, latencies


async def fixed_rate(
    fake: TimedFake, officers: list[Driver], rate: float, seconds: float
) -> tuple[int, list[float]]:
    """Open loop: one update every 1/rate s, officers in turn (each finishes before its next)."""
    latencies: list[float] = []
    busy: dict[int, asyncio.Task[None]] = {}
    tasks: list[asyncio.Task[None]] = []

    async def one(driver: Driver) -> None:
        latencies.append(await step(fake, driver))

    interval = 1.0 / rate
    started = time.monotonic()
    ring = itertools.cycle(officers)
    for n in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, started + n * interval - time.monotonic()))
        driver = next(ring)
        previous = busy.get(driver.chat)
        if previous is not None and not previous.done():
            await previous  # an officer's updates stay in order; it delays the schedule only
        busy[driver.chat] = task = asyncio.create_task(one(driver))
        tasks.append(task)
    await asyncio.gather(*tasks)
    return len(latencies), latencies


def thread_cpu_seconds(native_id: int | None) -> float:
    """CPU time (user + system) of one thread of this process, from /proc."""
    if native_id is None:
        return 0.0
    fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def bot_cpu_seconds(fake: TimedFake) -> float:
    """This process's CPU time but the fake server's thread: the bot's (and its DB threads')."""
    thread = fake._thread  # bench-only, as TimedFake's hooks
    return time.process_time() - thread_cpu_seconds(thread.native_id if thread else None)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] * 1000


def line(name: str, rate: float, latencies: list[float]) -> str:
    return (
        f"{name:<18} {rate:8.1f} updates/s   p50 {quantile(latencies, 0.5):6.1f} ms"
        f"   p99 {quantile(latencies, 0.99):6.1f} ms   ({len(latencies)} updates)"
    )


# --- memory: the bot alone in a process --------------------------------------------------------


def child_main(directory: Path, url: str) -> None:
    """--child: the real bot, polling the parent's fake server until SIGTERM."""

    async def serve() -> None:
        settings = bench_settings(directory, url)
        engine = make_engine(settings.database_url)
        app = dondoc_app(settings, make_session_factory(engine))
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await running(app)
        print("ready", flush=True)
        await stop.wait()
        await stopped(app)
        await engine.dispose()

    asyncio.run(serve())


def rss_kib(pid: int) -> tuple[int, int]:
    fields = {}
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = row.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields["VmRSS"], fields["VmHWM"]


async def memory(
    fake: TimedFake, directory: Path, url: str, warm: int
) -> tuple[int, tuple[int, int]]:
    """VmRSS once started, then (VmRSS, VmHWM) after the warm-up, in KiB."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--child", str(directory), url, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        ready = await asyncio.wait_for(child.stdout.readline(), 120)
        assert ready.strip() == b"ready", ready
        idle = rss_kib(child.pid)[0]
        chats = [FIRST_CHAT + (n * 37) % (UNITS * OFFICERS_PER_UNIT) for n in range(warm)]
        engine = make_engine(bench_settings(directory, url).database_url)
        warmers = await drivers(make_session_factory(engine), sorted(set(chats)))
        await engine.dispose()
        for batch in range(0, len(warmers), 50):
            group = warmers[batch : batch + 50]
            for _ in range(3):  # /viec, open the card, press a percent
                await asyncio.gather(*(step(fake, d) for d in group))
        return idle, rss_kib(child.pid)
    finally:
        child.send_signal(signal.SIGTERM)
        await asyncio.wait_for(child.wait(), 30)


# --- main ----------------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="dondoc-bench-") as tmp:
        directory = Path(tmp)
        fake = TimedFake()
        url = fake.start_in_thread()
        settings = bench_settings(directory, url)
        await upgrade_database(settings.database_url)
        engine = make_engine(settings.database_url)
        sessions = make_session_factory(engine)
        started = time.monotonic()
        await seed(sessions)
        print(
            f"seeded {UNITS} units x {OFFICERS_PER_UNIT} officers, Phường 6 plan each "
            f"({time.monotonic() - started:.1f} s)"
        )
        officers = await drivers(sessions, [FIRST_CHAT + k for k in range(args.officers)])

        app = dondoc_app(settings, sessions)
        await running(app)
        await saturated(fake, officers, len(officers) * 8)  # warm-up
        bot_rate, bot_latency = await saturated(fake, officers, args.updates)
        cpu_before = bot_cpu_seconds(fake)
        fixed_rate_bot = await fixed_rate(fake, officers, args.rate, args.seconds)
        cpu = bot_cpu_seconds(fake) - cpu_before
        await stopped(app)

        print(f"\nsaturated, {args.officers} officers in closed loops:")
        print(line("dondoc", bot_rate, bot_latency))
        if not args.no_echo:
            echo = echo_app(url)
            await running(echo, dondoc=False)
            echoers = [Driver(d.chat + 10_000_000, d.item_id, d.code) for d in officers]
            await saturated(fake, echoers, len(echoers) * 8)
            echo_rate, echo_latency = await saturated(fake, echoers, args.updates)
            await stopped(echo)
            print(line("PTB echo bot", echo_rate, echo_latency))
            print(f"ratio dondoc/echo  {bot_rate / echo_rate:.2f}   (target >= 0.5)")
        await engine.dispose()
        count, latencies = fixed_rate_bot
        print(f"\nfixed rate {args.rate:g} updates/s for {args.seconds:g} s:")
        print(line("dondoc", count / args.seconds, latencies) + "   (target p99 < 50 ms)")
        print(f"dondoc CPU per update {cpu / count * 1000:6.2f} ms")
        if args.no_memory:
            fake.stop()
            return

        idle, (rss, peak) = await memory(fake, directory, url, args.warm)
        print(f"\nmemory of the bot process, {UNITS * OFFICERS_PER_UNIT} officers:")
        print(f"started            VmRSS {idle / 1024:6.1f} MiB")
        print(
            f"after {args.warm} officers' warm-up  VmRSS {rss / 1024:6.1f} MiB, "
            f"peak {peak / 1024:6.1f} MiB   (target < 150 MB)"
        )
        fake.stop()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--officers", type=int, default=20)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warm", type=int, default=600)
    parser.add_argument("--no-echo", action="store_true", help="skip the PTB echo bot")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurement")
    return parser.parse_args(argv)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child_main(Path(sys.argv[2]), sys.argv[3])
    else:
        asyncio.run(main(parse_args()))
