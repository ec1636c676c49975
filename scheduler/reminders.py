"""Sending a day's reminders: digests, escalations, and what to do when nobody can be reached.

Every message is addressed to a person and claimed in ``deliveries`` first
(scheduler/people.py, scheduler/delivery.py), so a restart in the middle of a
fan-out, or a second bot process, never sends a digest twice, whatever the
number of the person's chat accounts, and a claim left without an outcome is
retried once after a timeout (see :func:`retry_stale`). Messages are rebuilt
from the database each time; nothing but the claim is stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from core.accounts import accounts_by_officer
from core.reminders import Digest, plan_day, record_escalations
from handlers.base import callback_data
from handlers.tasks import CARD_PREFIX
from scheduler.delivery import CLAIM_TIMEOUT, reclaim_stale
from scheduler.people import SendOne, deliver_to_person, send_claimed_to_person
from scheduler.sender import (
    Buttons,
    Outcome,
    Sender,
    SendResult,
    gather_bounded,
)
from storage.models import Delivery, Officer, Unit

log = logging.getLogger(__name__)

DIGEST = "digest"
ESCALATION = "escalation"
UNREACHABLE = "unreachable"  # + the blocked officer's id, so each one is told once a day
MAX_BUTTONS = 8  # a digest longer than this keeps its lines but not a button for each
MAX_LINES = 25  # keeps a coordinator's long digest well inside Telegram's 4096 characters


@dataclass
class ReminderReport:
    day: date
    outcomes: dict[str, int] = field(default_factory=dict)  # "sent", "duplicate", …

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def __str__(self) -> str:
        parts = ", ".join(f"{name}: {n}" for name, n in sorted(self.outcomes.items()))
        return f"Nhắc việc ngày {self.day:%d/%m/%Y}: {parts or 'không có tin nào'}"


def digest_message(digest: Digest, day: date) -> tuple[str, Buttons]:
    header = texts.escalation_header(day) if digest.escalation else texts.digest_header(day)
    lines = [header]
    for line in digest.lines[:MAX_LINES]:
        owners = line.owners if (digest.escalation or line.owners) else []
        lines.append(
            texts.reminder_line(
                f"{line.index} {line.code}",
                line.short_title,
                line.kind,
                line.due_date,
                line.days_late,
                owners,
                line.short_task,
            )
        )
    if len(digest.lines) > MAX_LINES:
        lines.append(texts.more_items(len(digest.lines) - MAX_LINES))
    if not digest.escalation:
        lines.append(texts.DIGEST_FOOTER)
    buttons = [
        [(f"{line.index} {line.code}", callback_data(CARD_PREFIX, line.criterion_id, 0))]
        for line in digest.lines[:MAX_BUTTONS]
    ]
    return "\n".join(lines), buttons


@dataclass
class ReminderSender:
    """Sends one unit-day of reminders through the claimed sender."""

    sessions: async_sessionmaker[AsyncSession]
    sender: Sender
    now_fn: Callable[[], datetime]

    async def send_day(self, *, unit_id: int, day: date) -> ReminderReport:
        report = ReminderReport(day)
        async with self.sessions() as session:
            unit = await session.get_one(Unit, unit_id)
            digests = await plan_day(session, unit=unit, day=day)
        personal = [d for d in digests if not d.escalation]
        escalations = [d for d in digests if d.escalation]
        for outcome in await self._deliver_all(personal, DIGEST, day):
            report.count(outcome)
        outcomes = await self._deliver_all(escalations, ESCALATION, day)
        for outcome in outcomes:
            report.count(f"escalation_{outcome}")
        if escalations and any(o in ("sent", "duplicate") for o in outcomes):
            # Recorded only once someone was told, so an escalation nobody received
            # is tried again the next workday rather than lost.
            async with self.sessions() as session, session.begin():
                await record_escalations(session, unit=unit, lines=escalations[0].lines)
        return report

    async def _deliver_all(self, digests: Sequence[Digest], kind: str, day: date) -> list[Outcome]:
        """Each channel's digests side by side, as many at once as its pace needs."""
        # A person with linked accounts is claimed even when none is reachable today, so
        # that a second tick finds the claim (a duplicate) and the day's report stays the same.
        by_channel: dict[str, list[Digest]] = {}
        for digest in digests:
            if digest.accounts:
                by_channel.setdefault(self._channel_of(digest), []).append(digest)
        # One task group: a group that fails stops the others, as one gather_bounded would.
        async with asyncio.TaskGroup() as fan_out:
            groups = [
                fan_out.create_task(
                    gather_bounded(
                        [lambda d=d: self._deliver(d, kind, day) for d in mine],  # type: ignore[misc]
                        self.sender.fanout_concurrency(channel),
                    )
                )
                for channel, mine in by_channel.items()
            ]
        return [outcome for group in groups for outcome in group.result()]

    def _channel_of(self, digest: Digest) -> str:
        """The channel the digest will most likely go out on: the first running one among the
        person's accounts (in delivery order), else the sender's first."""
        channels = (account.partition(":")[0] for account in digest.accounts)
        return next((c for c in channels if c in self.sender.channels), self.sender.channel.name)

    async def _deliver(self, digest: Digest, kind: str, day: date) -> Outcome:
        text, buttons = digest_message(digest, day)
        return await deliver_to_person(
            self.sender,
            sessions=self.sessions,
            unit_id=digest.unit_id,
            officer_id=digest.officer_id,
            kind=kind,
            key_date=day,
            send_one=self._text(text, buttons),
            now_fn=self.now_fn,
            on_unreachable=self.on_blocked,
        )

    def _text(self, text: str, buttons: Buttons | None = None) -> SendOne:
        async def send_one(channel: str, chat_id: str) -> SendResult:
            return await self.sender.send(chat_id, text, buttons=buttons, channel=channel)

        return send_one

    async def on_blocked(self, officer_id: int) -> None:
        """None of the officer's accounts can be reached any more: tell the coordinators."""
        async with self.sessions() as session:
            officer = await session.get_one(Officer, officer_id)
            coordinators = [
                o
                for o in await session.scalars(
                    select(Officer).where(
                        Officer.unit_id == officer.unit_id, Officer.active.is_(True)
                    )
                )
                if "coordinator" in (o.roles or ()) and o.id != officer_id
            ]
            linked = await accounts_by_officer(session, officer_ids=[o.id for o in coordinators])
        day = self.now_fn().date()
        for coordinator in coordinators:
            if coordinator.id not in linked:
                continue
            await deliver_to_person(
                self.sender,
                sessions=self.sessions,
                unit_id=officer.unit_id,
                officer_id=coordinator.id,
                kind=f"{UNREACHABLE}-{officer_id}",
                key_date=day,
                send_one=self._text(texts.unreachable_notice(officer.name)),
                now_fn=self.now_fn,
            )

    async def retry_stale(self, *, older_than: timedelta = CLAIM_TIMEOUT) -> int:
        """Resend, once, the reminders whose claim was left without an outcome (a crash)."""
        async with self.sessions() as session:
            stale = await reclaim_stale(session, now=self.now_fn(), timeout=older_than)
            await session.commit()
        for delivery in stale:
            await self._resend(delivery)
        return len(stale)

    async def _resend(self, delivery: Delivery) -> None:
        if delivery.kind not in (DIGEST, ESCALATION) or delivery.officer_id is None:
            return  # notices and summaries are rebuilt by their own senders
        async with self.sessions() as session:
            unit = await session.get_one(Unit, delivery.unit_id)
            digests = await plan_day(session, unit=unit, day=delivery.key_date)
        wanted = delivery.kind == ESCALATION
        match = next(
            (d for d in digests if d.officer_id == delivery.officer_id and d.escalation == wanted),
            None,
        )
        if match is None:
            return  # nothing to say any more (done meanwhile): the claim stays unconfirmed
        text, buttons = digest_message(match, delivery.key_date)
        await send_claimed_to_person(
            self.sender,
            sessions=self.sessions,
            claim_id=delivery.id,
            officer_id=delivery.officer_id,
            send_one=self._text(text, buttons),
            now_fn=self.now_fn,
            on_unreachable=self.on_blocked,
        )


def dry_run_json(digests: Sequence[Digest]) -> list[dict[str, object]]:
    return [digest.as_json() for digest in digests]
