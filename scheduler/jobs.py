"""The scheduler's only job: a tick, once a minute, that decides what is due now.

Nothing about reminders is stored as a scheduler job: APScheduler (an
``AsyncIOScheduler`` in the bot's event loop, whatever channels the bot runs;
not PTB's JobQueue) only fires this tick. Each tick, for every unit:

* once the unit's reminder time has passed today (and today is a workday),
  today's digests and escalations are sent;
* on the unit's summary day (the configured weekday, or the workday before it
  when that is a holiday), once its time has passed, the weekly summary is sent;
* claims left without an outcome by a crash are retried once;
* expired conversation state (handlers.state) is deleted.

The first tick runs at start-up, which is the catch-up: a bot that was down at
07:30 sends today's digests when it comes back, the same day, and only
today's — after days of downtime today's digest already lists what is overdue.
Claims in the database make every send happen once, across restarts and
across several bot processes; the in-memory "done today" sets only save work.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from core.conversation_state import drop_expired
from core.outbound import Outbound
from core.progress import unit_tz
from core.reminders import unit_rules
from core.send_budget import forget_idle_budgets, wall_clock
from scheduler.reminders import ReminderSender
from scheduler.sender import Sender
from scheduler.summaries import SummarySender
from storage.models import Unit
from storage.priority import background_work

log = logging.getLogger(__name__)

TICK_SECONDS = 60
JOB_NAME = "dondoc-tick"
STOP_WAIT_SECONDS = 60.0  # how long a clean stop waits for a tick's fan-out to finish


def summary_time_on(unit: Unit, cron: str, day: date) -> time | None:
    """When the weekly summary is due on ``day``, if it is due that day at all.

    A scheduled day that is not a workday moves to the workday before it.
    """
    tz = unit_tz(unit)
    trigger = CronTrigger.from_crontab((unit.settings or {}).get("summary_cron", cron), timezone=tz)
    calendar = unit_rules(unit).calendar
    moment = datetime.combine(day - timedelta(days=8), time(0), tzinfo=tz)
    for _ in range(16):
        fire = trigger.get_next_fire_time(None, moment)
        if fire is None or fire.date() > day + timedelta(days=8):
            return None
        if calendar.on_or_before(fire.date()) == day:
            return fire.time()
        moment = fire + timedelta(seconds=1)
    return None


@dataclass
class Ticker:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    reminders: ReminderSender
    summaries: SummarySender
    clock: Callable[[], datetime]
    claim_timeout: timedelta
    reminded: set[tuple[int, date]] = field(default_factory=set)
    summarised: set[tuple[int, date]] = field(default_factory=set)
    # The tick in flight: a clean stop waits for it instead of cutting a fan-out mid-way.
    in_flight: asyncio.Task[None] | None = None

    async def tick(self) -> None:
        self.in_flight = asyncio.current_task()  # type: ignore[assignment]
        try:
            # Nobody waits on the tick: the replies to people who do go first.
            with background_work():
                await self._tick_units()
        finally:
            self.in_flight = None

    async def finish(self, *, seconds: float) -> None:
        """Wait (up to ``seconds``) for the tick in flight to end.

        APScheduler's shutdown cancels a running tick, after some sends but perhaps
        before it noted their outcome; a claim left so is retried later, but a clean
        stop need not leave any. So a stop pauses the scheduler, waits here, then
        shuts it down.
        """
        running = self.in_flight
        if running is not None and running is not asyncio.current_task():
            await asyncio.wait({running}, timeout=seconds)

    async def _tick_units(self) -> None:
        now = self.clock()
        async with self.sessions() as session:
            units = list(await session.scalars(select(Unit).order_by(Unit.id)))
        for unit in units:
            try:
                await self._unit_tick(unit, now)
            except Exception:
                # One unit's trouble must not stop the others; the next tick tries again.
                log.exception("tick failed for unit %s", unit.id)
        await self.reminders.retry_stale(older_than=self.claim_timeout)
        await self.forget_expired_state(now)

    async def forget_expired_state(self, now: datetime) -> int:
        """Delete conversation state past its expiry (it is never acted on meanwhile)."""
        async with self.sessions() as session, session.begin():
            gone = await drop_expired(session, now=now)
        if gone:
            log.info("dropped %s expired conversation states", gone)
        async with self.sessions() as session, session.begin():
            # Send budgets run on wall-clock seconds (core.send_budget), not the ticker's clock.
            await forget_idle_budgets(session, now=wall_clock())
        return gone

    async def _unit_tick(self, unit: Unit, now: datetime) -> None:
        local = now.astimezone(unit_tz(unit))
        today = local.date()
        key = (unit.id, today)
        rules = unit_rules(unit, defaults={"reminder_time": self.settings.reminder_time})
        reminder_time = rules.policy.reminder_time
        if key not in self.reminded and local.time() >= reminder_time:
            report = await self.reminders.send_day(unit_id=unit.id, day=today)
            self.reminded.add(key)
            log.info("unit %s: %s", unit.id, report)
        due = summary_time_on(unit, self.settings.summary_cron, today)
        if key not in self.summarised and due is not None and local.time() >= due:
            outcomes = await self.summaries.send_week(unit_id=unit.id, as_of=today)
            self.summarised.add(key)
            log.info("unit %s: weekly summary %s", unit.id, outcomes)


def make_ticker(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    channels: Outbound | Mapping[str, Outbound],
    clock: Callable[[], datetime],
    sender: Sender | None = None,
) -> Ticker:
    """``channels``: the running channels' adapters, by name (or the one adapter)."""
    sender = sender or Sender(channels)
    return Ticker(
        settings=settings,
        sessions=sessions,
        reminders=ReminderSender(sessions, sender, clock),
        summaries=SummarySender(sessions, sender, clock, settings),
        clock=clock,
        claim_timeout=timedelta(seconds=settings.claim_timeout_seconds),
    )


def start_schedule(ticker: Ticker) -> AsyncIOScheduler:
    """Fire ``ticker.tick`` now (the catch-up) and then every minute, in the running loop.

    One tick at a time (a slow tick is not overlapped by the next one); ticks missed
    while the loop was busy are run once, not once each. :func:`stop_schedule` stops it.
    """
    scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone=UTC)
    scheduler.add_job(
        ticker.tick,
        IntervalTrigger(seconds=TICK_SECONDS, timezone=UTC),
        id=JOB_NAME,
        name=JOB_NAME,
        next_run_time=datetime.now(UTC),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=TICK_SECONDS,
    )
    scheduler.start()
    return scheduler


async def stop_schedule(
    scheduler: AsyncIOScheduler, ticker: Ticker, *, wait_seconds: float = STOP_WAIT_SECONDS
) -> None:
    """Stop ticking without cutting a fan-out: pause, wait for the tick in flight, shut down.

    APScheduler's shutdown cancels a running coroutine job, which would cut a fan-out
    between a send and its mark; pausing first keeps a new tick from starting meanwhile.
    """
    if scheduler.running:
        scheduler.pause()
    await ticker.finish(seconds=wait_seconds)
    if scheduler.running:
        scheduler.shutdown(wait=False)
