"""Sending the weekly summary to a unit's leaders and coordinators, exactly once each.

One claim per recipient and week covers the whole bundle: the message (one or
more parts), the chart and the spreadsheet. The claim's date is the summary's
date, so the scheduled send and ``python -m bot summary --send`` on the same
day share it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.settings import Settings
from core.accounts import accounts_by_officer
from core.outbound import takes_files
from core.summary import compute_summary
from core.summary_bundle import Bundle, bundle
from scheduler.people import deliver_to_person
from scheduler.sender import Attachment, Outcome, Sender, SendResult
from storage.models import Officer, Unit
from web import links

SUMMARY = "summary"
RECIPIENT_ROLES = frozenset({"leader", "coordinator"})


@dataclass
class SummarySender:
    sessions: async_sessionmaker[AsyncSession]
    sender: Sender
    now_fn: Callable[[], datetime]
    # For the links sent instead of files on a channel that takes none (Zalo).
    settings: Settings | None = None

    async def send_week(self, *, unit_id: int, as_of: date) -> dict[str, int]:
        """Compute the unit's summary as of ``as_of`` and send it to each recipient once."""
        async with self.sessions() as session:
            unit = await session.get_one(Unit, unit_id)
            summary = await compute_summary(session, unit=unit, as_of=as_of)
            recipients = await summary_recipients(session, unit=unit)
        parts = bundle(summary, unit)
        outcomes: dict[str, int] = {}
        for officer in recipients:
            outcome = await self._deliver(officer, parts, as_of)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return outcomes

    async def _deliver(self, officer: Officer, parts: Bundle, as_of: date) -> Outcome:
        async def send_one(channel: str, chat_id: str) -> SendResult:
            return await self._send_bundle(channel, chat_id, parts, officer.unit_id, as_of)

        # No coordinators' notice here: the daily reminders tell them about blocked people.
        return await deliver_to_person(
            self.sender,
            sessions=self.sessions,
            unit_id=officer.unit_id,
            officer_id=officer.id,
            kind=SUMMARY,
            key_date=as_of,
            send_one=send_one,
            now_fn=self.now_fn,
        )

    async def _send_bundle(
        self, channel: str, chat_id: str, parts: Bundle, unit_id: int, as_of: date
    ) -> SendResult:
        first: SendResult | None = None
        sends = [(text, None) for text in parts.texts] + self._files(channel, parts, unit_id, as_of)
        for text, attachment in sends:
            result = await self.sender.send(chat_id, text, attachment=attachment, channel=channel)
            if result.status != "sent":
                return result  # the claim records the failure; the rest is not sent
            first = first or result
        assert first is not None
        return first

    def _files(
        self, channel: str, parts: Bundle, unit_id: int, as_of: date
    ) -> list[tuple[str, Attachment | None]]:
        """The chart and the spreadsheet as files; on a channel that takes no files, their
        links on the web server (or, without it, a line saying they need it)."""
        if takes_files(self.sender.channels[channel]):
            return [
                ("", Attachment("photo", parts.chart, "bieu-do.png")),
                ("", Attachment("document", parts.workbook, parts.workbook_name)),
            ]
        settings = self.settings
        if settings is None or not settings.web_enabled:
            return [(texts.FILES_NEED_WEB, None)]
        now = self.now_fn()
        chart = links.summary_chart_link(settings, unit_id=unit_id, as_of=as_of, now=now)
        workbook = links.summary_xlsx_link(settings, unit_id=unit_id, as_of=as_of, now=now)
        return [(texts.on_the_web(chart, workbook), None)]


async def summary_recipients(session: AsyncSession, *, unit: Unit) -> list[Officer]:
    """The unit's active leaders and coordinators with a linked chat account."""
    officers = await session.scalars(
        select(Officer)
        .where(Officer.unit_id == unit.id, Officer.active.is_(True))
        .order_by(Officer.name_key)
    )
    wanted = [o for o in officers if RECIPIENT_ROLES & set(o.roles or ())]
    linked = await accounts_by_officer(session, officer_ids=[o.id for o in wanted])
    return [o for o in wanted if o.id in linked]
