"""The scheduler's only job: a tick, once a minute, that decides what is due now.

Nothing about reminders is stored as a scheduler job: APScheduler (PTB's
JobQueue) only fires this tick. Each tick, for every unit:

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

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot
from telegram.ext import Application, ContextTypes

from bot.settings import Settings
from core.conversation_state import drop_expired
from core.progress import unit_tz
from core.reminders import unit_rules
from scheduler.reminders import ReminderSender
from scheduler.sender import Sender
from scheduler.summaries import SummarySender
from storage.models import Unit

log = logging.getLogger(__name__)

TICK_SECONDS = 60
JOB_NAME = "dondoc-tick"


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

    async def tick(self) -> None:
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


def plain_bot(settings: Settings) -> Bot:
    """A Bot without PTB's rate limiter: the Sender paces and retries by itself."""
    assert settings.telegram_bot_token is not None
    return Bot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=settings.telegram_api_base_url,
        base_file_url=settings.telegram_file_base_url,
    )


def make_ticker(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    bot: Bot,
    clock: Callable[[], datetime],
    sender: Sender | None = None,
) -> Ticker:
    sender = sender or Sender(bot)
    return Ticker(
        settings=settings,
        sessions=sessions,
        reminders=ReminderSender(sessions, sender, clock),
        summaries=SummarySender(sessions, sender, clock),
        clock=clock,
        claim_timeout=timedelta(seconds=settings.claim_timeout_seconds),
    )


def install(
    app: Application,  # type: ignore[type-arg]
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    clock: Callable[[], datetime],
) -> Callable[[Application], object]:  # type: ignore[type-arg]
    """Add the tick to the application's JobQueue; returns the start-up hook to call."""
    bot = plain_bot(settings)
    ticker = make_ticker(settings, sessions, bot, clock)

    async def tick(context: ContextTypes.DEFAULT_TYPE) -> None:
        await ticker.tick()

    async def start(app: Application) -> None:  # type: ignore[type-arg]
        await bot.initialize()
        assert app.job_queue is not None
        # first=1, not 0: PTB turns 0 into "now", which is already past when APScheduler
        # adds the job, and the first tick (the catch-up) would then wait a whole interval.
        app.job_queue.run_repeating(tick, interval=TICK_SECONDS, first=1, name=JOB_NAME)

    return start
