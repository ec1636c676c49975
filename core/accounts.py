"""People's chat accounts: who an account is, how to reach a person, which channel first.

A person (an officer, or a province user) has at most one account per channel
(``channel_accounts``: channel name, the channel's id of the account as text).
This module is the one place that links accounts, finds them, and keeps their
"unreachable" flag and last use; the frame (handlers.base) finds who is asking
with :data:`WHO_IS_ASKING`, the senders ask :func:`delivery_order`.

Writes go into the caller's transaction, never commit, and are audited when
the person belongs to a unit (the audit log is per unit).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import audit
from storage.models import ChannelAccount, Officer, ProvinceUser, Unit
from storage.types import utcnow

__all__ = [
    "PROVINCE_USER_ASKING",
    "WHO_IS_ASKING",
    "AccountError",
    "account_label",
    "account_of",
    "accounts_by_officer",
    "can_reach",
    "delivery_order",
    "link_account",
    "officer_accounts",
    "officer_by_account",
    "parse_account",
    "person_accounts",
    "pushable",
    "set_preferred_channel",
    "set_reachable",
]

# Written at most once a minute per account (see note_use): "the channel used last"
# needs no finer resolution, and writing on every message would make every read a write.
USE_RESOLUTION = timedelta(minutes=1)
CHANNEL_NAMES = {"telegram": "Telegram", "zalo": "Zalo"}
# The local chat shell's accounts (python -m bot chat): someone trying dondoc in a terminal.
# Nothing is ever pushed there, so they never count as a way to reach the person.
TRY_OUT_CHANNELS = frozenset({"local"})
TRY_OUT_LABEL = "máy tính (thử)"

# Built once: every inbound event runs it (the frame's who-is-asking).
WHO_IS_ASKING = (
    select(Officer, Unit, ChannelAccount)
    .join(ChannelAccount, ChannelAccount.officer_id == Officer.id)
    .join(Unit, Unit.id == Officer.unit_id)
    .where(
        ChannelAccount.channel == bindparam("channel"),
        ChannelAccount.external_id == bindparam("external_id"),
    )
)
# Asked only when WHO_IS_ASKING finds no officer, so the officers' path stays one query.
PROVINCE_USER_ASKING = (
    select(ProvinceUser, ChannelAccount)
    .join(ChannelAccount, ChannelAccount.province_user_id == ProvinceUser.id)
    .where(
        ChannelAccount.channel == bindparam("channel"),
        ChannelAccount.external_id == bindparam("external_id"),
    )
)


class AccountError(ValueError):
    """The account is someone else's, or the text names no account. Vietnamese message."""


def channel_label(channel: str) -> str:
    return TRY_OUT_LABEL if channel in TRY_OUT_CHANNELS else CHANNEL_NAMES.get(channel, channel)


def can_reach(account: ChannelAccount) -> bool:
    """Whether a message may be pushed to this account: not blocked, not a try-out shell."""
    return not account.unreachable and account.channel not in TRY_OUT_CHANNELS


def pushable(accounts: Iterable[ChannelAccount]) -> list[ChannelAccount]:
    """The accounts reminders could ever go to, blocked or not (no try-out shells)."""
    return [a for a in accounts if a.channel not in TRY_OUT_CHANNELS]


def account_label(account: ChannelAccount) -> str:
    """ "Telegram 5001" for a listing."""
    return f"{channel_label(account.channel)} {account.external_id}"


def parse_account(text: str) -> tuple[str, str]:
    """ "telegram:5001" or "zalo:abc" → (channel, external id); AccountError otherwise."""
    channel, _, external_id = text.strip().partition(":")
    channel, external_id = channel.strip().lower(), external_id.strip()
    if not channel or not external_id or len(channel) > 16 or len(external_id) > 64:
        raise AccountError(f"Tài khoản «{text}» phải có dạng kênh:mã, ví dụ telegram:123456.")
    return channel, external_id


# --- finding -----------------------------------------------------------------------------------


async def account_of(
    session: AsyncSession, *, channel: str, external_id: str
) -> ChannelAccount | None:
    return await session.scalar(
        select(ChannelAccount).where(
            ChannelAccount.channel == channel, ChannelAccount.external_id == str(external_id)
        )
    )


async def officer_by_account(
    session: AsyncSession, *, channel: str, external_id: str, active_only: bool = True
) -> Officer | None:
    """The officer this account belongs to (an active one unless told otherwise)."""
    query = (
        select(Officer)
        .join(ChannelAccount, ChannelAccount.officer_id == Officer.id)
        .where(ChannelAccount.channel == channel, ChannelAccount.external_id == str(external_id))
    )
    if active_only:
        query = query.where(Officer.active.is_(True))
    return await session.scalar(query)


async def officer_accounts(session: AsyncSession, *, officer_id: int) -> list[ChannelAccount]:
    """The officer's accounts, in the order messages to them are tried (delivery_order)."""
    found = await accounts_by_officer(session, officer_ids=[officer_id])
    return found.get(officer_id, [])


async def person_accounts(
    session: AsyncSession, *, officer_id: int | None = None, province_user_id: int | None = None
) -> list[ChannelAccount]:
    """An officer's or a province user's accounts, by channel name."""
    if (officer_id is None) == (province_user_id is None):
        raise ValueError("give exactly one of officer_id and province_user_id")
    column = (
        ChannelAccount.officer_id if officer_id is not None else ChannelAccount.province_user_id
    )
    person = officer_id if officer_id is not None else province_user_id
    rows = await session.scalars(
        select(ChannelAccount).where(column == person).order_by(ChannelAccount.channel)
    )
    return list(rows.all())


async def accounts_by_officer(
    session: AsyncSession, *, officer_ids: Iterable[int]
) -> dict[int, list[ChannelAccount]]:
    """Each officer's accounts (officers without any are left out), by channel name."""
    ids = sorted(set(officer_ids))
    found: dict[int, list[ChannelAccount]] = {}
    for start in range(0, len(ids), 500):  # far below SQLite's and asyncpg's parameter limits
        rows = await session.scalars(
            select(ChannelAccount)
            .where(ChannelAccount.officer_id.in_(ids[start : start + 500]))
            .order_by(ChannelAccount.channel)
        )
        for account in rows:
            assert account.officer_id is not None
            found.setdefault(account.officer_id, []).append(account)
    return found


def delivery_order(
    accounts: Sequence[ChannelAccount], preferred: str | None
) -> list[ChannelAccount]:
    """Where to send a message to the person, first choice first: reachable accounts only
    (can_reach), the preferred channel's first, then the most recently used (never used: last)."""

    def rank(account: ChannelAccount) -> tuple[bool, float, str]:
        used = account.last_used_at.timestamp() if account.last_used_at else float("-inf")
        return (account.channel != preferred, -used, account.channel)

    return sorted((a for a in accounts if can_reach(a)), key=rank)


# --- writing -----------------------------------------------------------------------------------


async def link_account(
    session: AsyncSession,
    *,
    channel: str,
    external_id: str,
    officer: Officer | None = None,
    province_user: ProvinceUser | None = None,
    actor: str,
    actor_officer_id: int | None = None,
    now: datetime | None = None,
    audited: bool = True,
    used: bool = False,
) -> ChannelAccount:
    """Make (channel, external id) the person's account on that channel.

    Linking the same account again is a no-op. A person's older account on the
    same channel is replaced (one per channel). An account that is someone
    else's raises AccountError. The account starts reachable; ``used``: the person
    is writing from it now (an invite), so it is the channel they used last.
    ``audited=False``: the caller's own audit
    row records the link (core.officers.add_officer).
    """
    if (officer is None) == (province_user is None):
        raise ValueError("give exactly one of officer and province_user")
    external_id, now = str(external_id), now or utcnow()
    account = await account_of(session, channel=channel, external_id=external_id)
    if account is not None and not _belongs(account, officer, province_user):
        raise AccountError(f"Tài khoản {channel_label(channel)} này đã gắn với một người khác.")
    if account is None:
        account = await _own_account(session, channel, officer, province_user)
    old = None if account is None else account.external_id
    if account is None:
        account = ChannelAccount(
            channel=channel,
            officer_id=officer.id if officer else None,
            province_user_id=province_user.id if province_user else None,
            created_at=now,
        )
        session.add(account)
    account.external_id, account.unreachable = external_id, False
    if used:
        account.last_used_at = now
    await session.flush()
    if audited and officer is not None and old != external_id:
        audit(
            session,
            unit_id=officer.unit_id,
            actor=actor,
            actor_officer_id=actor_officer_id,
            action="account.link",
            entity="officer",
            entity_id=officer.id,
            old=None if old is None else {"channel": channel, "account": old},
            new={"channel": channel, "account": external_id},
            at=now,
        )
    return account


def _belongs(
    account: ChannelAccount, officer: Officer | None, province_user: ProvinceUser | None
) -> bool:
    if officer is not None:
        return account.officer_id == officer.id
    return province_user is not None and account.province_user_id == province_user.id


async def _own_account(
    session: AsyncSession,
    channel: str,
    officer: Officer | None,
    province_user: ProvinceUser | None,
) -> ChannelAccount | None:
    column = ChannelAccount.officer_id if officer else ChannelAccount.province_user_id
    person = officer.id if officer else province_user.id if province_user else None
    return await session.scalar(
        select(ChannelAccount).where(ChannelAccount.channel == channel, column == person)
    )


async def set_reachable(
    session: AsyncSession, *, account: ChannelAccount, reachable: bool, actor: str = "system"
) -> bool:
    """Record whether messages reach this account (False after Blocked); True if it changed."""
    if account.unreachable == (not reachable):
        return False
    account.unreachable = not reachable
    if account.officer_id is not None:
        officer = await session.get_one(Officer, account.officer_id)
        audit(
            session,
            unit_id=officer.unit_id,
            actor=actor,
            actor_officer_id=None,
            action="account.reachable",
            entity="officer",
            entity_id=officer.id,
            old={"channel": account.channel, "reachable": not reachable},
            new={"channel": account.channel, "reachable": reachable},
        )
    await session.flush()
    return True


def use_is_stale(account: ChannelAccount, now: datetime) -> bool:
    """Whether note_use would write anything."""
    used = account.last_used_at
    return account.unreachable or used is None or now - used >= USE_RESOLUTION


def note_use(account: ChannelAccount, now: datetime) -> None:
    """The person just wrote from this account: it is reachable, and it was used last
    (to USE_RESOLUTION). Changes the loaded row; the caller's flush writes it."""
    if use_is_stale(account, now):
        account.last_used_at, account.unreachable = now, False


async def set_preferred_channel(
    session: AsyncSession, *, officer: Officer, channel: str | None, actor: str
) -> None:
    """/kenh: reminders go to ``channel`` first (None: the channel used last).

    AccountError when the officer has no account on that channel.
    """
    if channel is not None:
        channels = {a.channel for a in await officer_accounts(session, officer_id=officer.id)}
        if channel not in channels:
            raise AccountError(f"Bạn chưa liên kết tài khoản {channel_label(channel)}.")
    if officer.preferred_channel == channel:
        return
    audit(
        session,
        unit_id=officer.unit_id,
        actor=actor,
        actor_officer_id=officer.id,
        action="officer.preferred_channel",
        entity="officer",
        entity_id=officer.id,
        old={"preferred_channel": officer.preferred_channel},
        new={"preferred_channel": channel},
    )
    officer.preferred_channel = channel
    await session.flush()


async def actor_on(session: AsyncSession, *, officer: Officer, channel: str) -> str:
    """ "telegram:5001": the audit actor for the officer acting on ``channel`` (just the
    channel's name when they have no account there, e.g. a report typed in by the CLI)."""
    external_id = await session.scalar(
        select(ChannelAccount.external_id).where(
            ChannelAccount.officer_id == officer.id, ChannelAccount.channel == channel
        )
    )
    return f"{channel}:{external_id}" if external_id is not None else channel
