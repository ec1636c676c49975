"""Province users (Sở Nội vụ): people of no unit who follow every unit on the web.

``python -m bot province …`` adds them, lists them, deactivates them and prints their
invites. An invite links a chat account to them (core.officers makes and checks the
codes of both kinds: the same alphabet, lifetime and single use as an officer's); in
chat they may use /web and /help, nothing else (handlers.base). Writes go into the
caller's transaction and never commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.officers import INVITE_TTL, OfficerError, clean_name, fresh_invite_code
from core.text import fold
from storage.models import ProvinceInvite, ProvinceUser


class ProvinceUserError(ValueError):
    """An empty or taken name, an unknown or inactive user; the message is Vietnamese."""


async def add_province_user(session: AsyncSession, *, name: str) -> ProvinceUser:
    """A new province user; ProvinceUserError when the name is empty or taken."""
    try:
        name = clean_name(name)
    except OfficerError as exc:
        raise ProvinceUserError(str(exc)) from None
    if await province_user_by_name(session, name=name) is not None:
        raise ProvinceUserError(f"Đã có người dùng cấp tỉnh tên {name}.")
    user = ProvinceUser(name=name, name_key=fold(name))
    session.add(user)
    await session.flush()
    return user


async def province_user_by_name(session: AsyncSession, *, name: str) -> ProvinceUser | None:
    return await session.scalar(select(ProvinceUser).where(ProvinceUser.name_key == fold(name)))


async def existing_province_user(session: AsyncSession, *, name: str) -> ProvinceUser:
    user = await province_user_by_name(session, name=name)
    if user is None:
        raise ProvinceUserError(f"Không có người dùng cấp tỉnh tên {name}.")
    return user


async def province_users(session: AsyncSession) -> list[ProvinceUser]:
    """Everyone, active or not, by name."""
    return list((await session.scalars(select(ProvinceUser).order_by(ProvinceUser.name_key))).all())


async def create_province_invite(
    session: AsyncSession, *, user: ProvinceUser, now: datetime
) -> ProvinceInvite:
    """A fresh single-use code for an active ``user``; their older unused codes stop working."""
    if not user.active:
        raise ProvinceUserError(f"{user.name} đã bị tạm ngưng: không tạo được lời mời.")
    await _end_unused_invites(session, user=user, now=now)
    invite = ProvinceInvite(
        province_user_id=user.id,
        code=await fresh_invite_code(session),
        created_at=now,
        expires_at=now + INVITE_TTL,
    )
    session.add(invite)
    await session.flush()
    return invite


async def deactivate_province_user(
    session: AsyncSession, *, user: ProvinceUser, now: datetime
) -> bool:
    """Refused in chat and on the web from now on (handlers.base, core.web_login read
    ``active`` on every request); their unused invites stop working. False if already so."""
    if not user.active:
        return False
    user.active = False
    await _end_unused_invites(session, user=user, now=now)
    await session.flush()
    return True


async def _end_unused_invites(session: AsyncSession, *, user: ProvinceUser, now: datetime) -> None:
    await session.execute(
        update(ProvinceInvite)
        .where(
            ProvinceInvite.province_user_id == user.id,
            ProvinceInvite.used_at.is_(None),
            ProvinceInvite.expires_at > now,
        )
        .values(expires_at=now)
    )
