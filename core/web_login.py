"""Logging in to the web dashboard: one-time links, browser sessions, and who is looking.

``/web`` in a private chat (or ``python -m bot web link``) calls :func:`issue_login_link`:
a link valid for 15 minutes. Opening it (GET) only shows a page with one button, because
chat apps fetch links for their previews; pressing the button (POST) calls
:func:`spend_login`, which spends the link and opens a session of 8 hours.

Only SHA-256 hashes of the link and cookie tokens are stored. Every request reads the
session and the person again (:func:`session_viewer`): a deactivated officer or province
user is refused at once, and an officer's scope follows their roles as they are now.
No chat library here: every channel calls the same function.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.roles import is_manager
from storage.models import Officer, ProvinceUser, WebLogin, WebSession

LOGIN_TTL = timedelta(minutes=15)
SESSION_TTL = timedelta(hours=8)
LOGIN_PATH = "dangnhap"


class WebLoginError(ValueError):
    """A login cannot be issued (unknown or inactive person); the message is Vietnamese."""


@dataclass(frozen=True)
class Viewer:
    """The person behind a request: an officer of one unit, or a province user (every unit)."""

    name: str
    officer: Officer | None = None
    province_user: ProvinceUser | None = None

    @property
    def is_province(self) -> bool:
        return self.province_user is not None

    @property
    def unit_id(self) -> int | None:
        return self.officer.unit_id if self.officer is not None else None

    @property
    def is_manager(self) -> bool:
        """Coordinator, leader or admin: sees the whole of their unit."""
        return self.officer is not None and is_manager(self.officer)

    def sees_unit(self, unit_id: int) -> bool:
        """May see the unit's summary and every item of it."""
        return self.is_province or (self.is_manager and self.unit_id == unit_id)

    def sees_unit_of_items(self, unit_id: int) -> bool:
        """May open some items of the unit (an officer: only their own, checked per item)."""
        return self.is_province or self.unit_id == unit_id


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _check_one_person(officer_id: int | None, province_user_id: int | None) -> None:
    if (officer_id is None) == (province_user_id is None):
        raise ValueError("a login is for exactly one officer or one province user")


async def issue_login_link(
    session: AsyncSession,
    *,
    base_url: str,
    now: datetime,
    officer_id: int | None = None,
    province_user_id: int | None = None,
) -> str:
    """A one-time login link valid for LOGIN_TTL, for an active officer or province user."""
    _check_one_person(officer_id, province_user_id)
    if officer_id is not None:
        person: Officer | ProvinceUser | None = await session.get(Officer, officer_id)
    else:
        person = await session.get(ProvinceUser, province_user_id)
    if person is None or not person.active:
        raise WebLoginError("Tài khoản này không còn hoạt động: không tạo được liên kết.")
    token = secrets.token_urlsafe(32)
    session.add(
        WebLogin(
            officer_id=officer_id,
            province_user_id=province_user_id,
            token_sha256=token_hash(token),
            created_at=now,
            expires_at=now + LOGIN_TTL,
        )
    )
    await session.flush()
    return f"{base_url.rstrip('/')}/{LOGIN_PATH}/{token}"


async def _usable_login(session: AsyncSession, token: str, now: datetime) -> WebLogin | None:
    login = await session.scalar(select(WebLogin).where(WebLogin.token_sha256 == token_hash(token)))
    if login is None or login.used_at is not None or login.expires_at <= now:
        return None
    if await _person(session, login.officer_id, login.province_user_id) is None:
        return None
    return login


async def login_is_usable(session: AsyncSession, *, token: str, now: datetime) -> bool:
    """Whether the link can still be spent; looking changes nothing (a GET calls this)."""
    return await _usable_login(session, token, now) is not None


async def spend_login(session: AsyncSession, *, token: str, now: datetime) -> str | None:
    """Spend the link and open a session: the cookie's token, or None (used, expired, unknown).

    The link is marked used by a conditional UPDATE, so two presses at once open one session.
    """
    login = await _usable_login(session, token, now)
    if login is None:
        return None
    spent = await session.execute(
        update(WebLogin)
        .where(WebLogin.id == login.id, WebLogin.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        return None
    cookie = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            officer_id=login.officer_id,
            province_user_id=login.province_user_id,
            token_sha256=token_hash(cookie),
            created_at=now,
            expires_at=now + SESSION_TTL,
        )
    )
    # Sessions and links past their time are of no use to anyone: swept as new ones come.
    await session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    await session.execute(delete(WebLogin).where(WebLogin.expires_at <= now - SESSION_TTL))
    await session.flush()
    return cookie


class SessionRefused(Exception):
    """The session exists but its person was deactivated: refused, and the session ended."""


async def session_viewer(session: AsyncSession, *, cookie: str, now: datetime) -> Viewer | None:
    """Who the cookie belongs to; None for no or an expired session, SessionRefused for a
    person no longer active."""
    found = await session.scalar(
        select(WebSession).where(WebSession.token_sha256 == token_hash(cookie))
    )
    if found is None or found.expires_at <= now:
        return None
    person = await _person(session, found.officer_id, found.province_user_id, active_only=False)
    if person is None or not person.active:
        await session.delete(found)
        raise SessionRefused
    if isinstance(person, Officer):
        return Viewer(name=person.name, officer=person)
    return Viewer(name=person.name, province_user=person)


async def end_session(session: AsyncSession, *, cookie: str) -> None:
    await session.execute(delete(WebSession).where(WebSession.token_sha256 == token_hash(cookie)))


async def _person(
    session: AsyncSession,
    officer_id: int | None,
    province_user_id: int | None,
    *,
    active_only: bool = True,
) -> Officer | ProvinceUser | None:
    person: Officer | ProvinceUser | None
    if officer_id is not None:
        person = await session.get(Officer, officer_id)
    else:
        person = await session.get(ProvinceUser, province_user_id)
    if person is None or (active_only and not person.active):
        return None
    return person
