"""Messages addressed to a person, not to a chat: one claim per person, then their accounts in turn.

A digest, an escalation or a weekly summary is claimed once per person (the
deliveries key names the officer, scheduler.delivery.dedupe_key), however many
chat accounts they have. It then goes to their first account in
core.accounts.delivery_order (the preferred channel's, else the one used last)
whose channel has a running adapter in the Sender. When that account answers
Blocked, the account is marked unreachable and the same claim goes to the
next one. ``on_unreachable`` (the coordinators' notice) is called only when a
Blocked answer leaves the person without any reachable account: the next
time, they have no account to try, the claim is marked failed
("unreachable") and nobody is told again. An account on a channel without a
running adapter is skipped, but not marked: the channel may run tomorrow; nor
does it count as a way to reach the person when deciding whether to tell the
coordinators.

The delivery row records the channel and chat the message went to in the end.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.accounts import can_reach, delivery_order, officer_accounts, set_reachable
from scheduler.delivery import claim
from scheduler.sender import OnBlocked, Outcome, Sender, SendResult, record_outcome
from storage.models import ChannelAccount, Officer

# One attempt at the whole message (a text, or a summary's several parts) to one chat:
# (channel, chat id) -> the result. Sender.send does the pacing and retries.
SendOne = Callable[[str, str], Awaitable[SendResult]]
Sessions = async_sessionmaker[AsyncSession]
NO_ACCOUNT = "unreachable: no reachable chat account on a running channel"


@dataclass(frozen=True)
class Target:
    """One account to try: its row (to mark it) and where to send."""

    account_id: int
    channel: str
    chat_id: str


async def targets(sessions: Sessions, sender: Sender, officer_id: int) -> list[Target]:
    """The person's reachable accounts on running channels, first choice first."""
    async with sessions() as session:
        officer = await session.get(Officer, officer_id)
        if officer is None:
            return []
        accounts = await officer_accounts(session, officer_id=officer_id)
        ordered = delivery_order(accounts, officer.preferred_channel)
    return [Target(a.id, a.channel, a.external_id) for a in ordered if a.channel in sender.channels]


async def deliver_to_person(
    sender: Sender,
    *,
    sessions: Sessions,
    unit_id: int,
    officer_id: int,
    kind: str,
    key_date: date,
    send_one: SendOne,
    now_fn: Callable[[], datetime],
    on_unreachable: OnBlocked | None = None,
) -> Outcome:
    """Claim the message for the person, then send it (see the module docstring).

    "duplicate" when it was claimed already; "unreachable" when no account could be tried.
    """
    found = await targets(sessions, sender, officer_id)
    first = found[0] if found else None
    async with sessions() as session:
        won = await claim(
            session,
            unit_id=unit_id,
            officer_id=officer_id,
            kind=kind,
            key_date=key_date,
            chat_id=first.chat_id if first else None,
            channel=first.channel if first else sender.channel.name,
            now=now_fn(),
        )
        await session.commit()
    if won is None:
        return "duplicate"
    return await send_claimed_to_person(
        sender,
        sessions=sessions,
        claim_id=won.id,
        officer_id=officer_id,
        send_one=send_one,
        now_fn=now_fn,
        on_unreachable=on_unreachable,
        found=found,
    )


async def send_claimed_to_person(
    sender: Sender,
    *,
    sessions: Sessions,
    claim_id: int,
    officer_id: int,
    send_one: SendOne,
    now_fn: Callable[[], datetime],
    on_unreachable: OnBlocked | None = None,
    found: list[Target] | None = None,
) -> Literal["sent", "blocked", "failed", "unreachable"]:
    """Send a message claimed for the person (just now, or retaken by reclaim_stale).

    ``found``: their targets, when deliver_to_person looked them up and claimed the first.
    """
    found_first = (found[0].channel, found[0].chat_id) if found else None
    if found is None:
        found = await targets(sessions, sender, officer_id)
    if not found:
        await record_outcome(sessions, claim_id, SendResult("failed", None, NO_ACCOUNT), now_fn)
        return "unreachable"
    for target in found:
        result = await send_one(target.channel, target.chat_id)
        if result.status != "blocked":
            break
        await _mark_unreachable(sessions, target.account_id)
    # The claim names the first choice (deliver_to_person); a retaken claim names whichever
    # was first then. Either way, record where it went when that is another account.
    chat = (target.channel, target.chat_id)
    moved = found_first is None or chat != found_first
    await record_outcome(sessions, claim_id, result, now_fn, chat=chat if moved else None)
    blocked = result.status == "blocked" and on_unreachable is not None
    if blocked and not await _any_reachable(sessions, officer_id, running=sender.channels):
        assert on_unreachable is not None
        await on_unreachable(officer_id)
    return result.status


async def _mark_unreachable(sessions: Sessions, account_id: int) -> None:
    async with sessions() as session, session.begin():
        account = await session.get(ChannelAccount, account_id)
        if account is not None:
            await set_reachable(session, account=account, reachable=False)


async def _any_reachable(sessions: Sessions, officer_id: int, *, running: Iterable[str]) -> bool:
    """Any account left that a message could go to now: not blocked, on a running channel.

    An account on a channel that is not running (or the local shell's) reaches nobody today,
    so it does not spare the coordinators the notice.
    """
    async with sessions() as session:
        accounts = await officer_accounts(session, officer_id=officer_id)
    return any(can_reach(a) and a.channel in running for a in accounts)
