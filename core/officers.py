"""Officers of a unit: adding them, rosters, invites, and configured admins.

Every function writes into the caller's transaction and never commits; every
change adds an audit row. Messages of the exceptions are Vietnamese and short
enough to send to a chat as they are.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts import (
    AccountError,
    account_of,
    actor_on,
    link_account,
    note_use,
    officer_by_account,
    use_is_stale,
)
from core.audit import audit
from core.positions import default_catalogue
from core.roles import ROLES, RoleError, parse_role, parse_roles
from core.roster import (
    PositionError,
    RosterError,
    RosterRow,
    department_code,
    department_codes_hint,
    position_codes,
    read_roster,
    valid_codes_hint,
)
from core.text import fold, nfc, one_line
from storage.models import ChannelAccount, Invite, Officer, ProvinceInvite, ProvinceUser, Unit

__all__ = [
    "INVITE_TTL",
    "InviteError",
    "OfficerError",
    "RosterError",
    "RosterReport",
    "RosterRow",
    "activity_is_stale",
    "add_officer",
    "attach_admin_to_unit",
    "change_roles",
    "create_invite",
    "deep_link",
    "ensure_configured_admin",
    "fresh_invite_code",
    "import_roster",
    "note_activity",
    "officer_by_account",
    "officer_by_name",
    "read_roster",
    "redeem_invite",
    "set_positions",
    "set_roles",
    "unit_officers",
]

INVITE_TTL = timedelta(days=7)
ACTIVITY_RESOLUTION = timedelta(minutes=10)  # see note_activity
# Codes people type (on a channel without deep links, or read aloud): no look-alikes (0/O,
# 1/I/L), read case-insensitively. 31**8 ≈ 8.5e11 codes, single-use, 7 days, and at most
# INVITE_WRONG_PER_HOUR wrong tries per account (handlers.onboarding) make guessing hopeless.
INVITE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
INVITE_CODE_LENGTH = 8
INVITE_WRONG_PER_HOUR = 5
_LOOK_ALIKES = frozenset("0O1IL")
DEFAULT_ADMIN_NAME = "Quản trị viên"

InviteReason = Literal["unknown", "look_alike", "used", "expired", "account_in_use"]
_INVITE_MESSAGES: dict[str, str] = {
    "unknown": "Mã mời không đúng. Hãy xin quản trị viên một mã mời mới.",
    "look_alike": (
        "Mã mời không đúng: mã không có chữ O, I, L hay số 0, 1. Hãy xem lại từng ký tự."
    ),
    "used": "Mã mời này đã được dùng. Hãy xin quản trị viên một mã mời mới.",
    "expired": "Mã mời đã hết hạn. Hãy xin quản trị viên một mã mời mới.",
    "account_in_use": "Tài khoản này đã gắn với một cán bộ khác.",
}


class OfficerError(ValueError):
    """Bad officer data (unknown position, role, or a Telegram account taken)."""


class InviteError(ValueError):
    def __init__(self, reason: InviteReason) -> None:
        self.reason = reason
        super().__init__(_INVITE_MESSAGES[reason])


@dataclass
class RosterReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


def _snapshot(officer: Officer) -> dict[str, Any]:
    return {
        "name": officer.name,
        "positions": list(officer.positions or []),
        "roles": list(officer.roles or []),
        "department": officer.department,
        "department_head": bool(officer.department_head),
        "phone": officer.phone,
        "active": officer.active,
    }


def clean_name(name: str) -> str:
    cleaned = one_line(nfc(name))
    if not fold(cleaned):
        raise OfficerError("Họ tên không được để trống.")
    return cleaned


def checked_positions(positions: Sequence[str]) -> list[str]:
    try:
        return position_codes(positions)
    except PositionError as exc:
        raise OfficerError(f"{exc} {valid_codes_hint()}") from None


def department_label(officer: Officer, head_word: str) -> str | None:
    """ "Phòng Kinh tế (trưởng phòng)" for a roster listing; None outside any department."""
    if not officer.department:
        return None
    position = default_catalogue().positions.get(officer.department)
    name = position.name if position else officer.department
    return f"{name} ({head_word})" if officer.department_head else name


def checked_department(text: str) -> str | None:
    try:
        return department_code(text)
    except PositionError as exc:
        raise OfficerError(f"{exc} {department_codes_hint()}") from None


def checked_roles(roles: Sequence[str]) -> list[str]:
    try:
        found = {parse_role(role) for role in roles}
    except RoleError as exc:
        raise OfficerError(str(exc)) from None
    return [role for role in ROLES if role in found] or ["officer"]


async def officer_by_name(session: AsyncSession, *, unit: Unit, name: str) -> Officer | None:
    return await session.scalar(
        select(Officer).where(Officer.unit_id == unit.id, Officer.name_key == fold(name))
    )


def _account_words(channel: str, external_id: str) -> str:
    return f"Telegram ID {external_id}" if channel == "telegram" else f"{channel}:{external_id}"


async def _check_account_free(
    session: AsyncSession, *, account: tuple[str, str], unit_id: int, officer_id: int | None
) -> bool:
    """False when the account is free, True when it is this officer's already."""
    found = await account_of(session, channel=account[0], external_id=account[1])
    if found is None:
        return False
    if found.officer_id is not None and found.officer_id == officer_id:
        return True
    holder = await session.get(Officer, found.officer_id) if found.officer_id else None
    if holder is not None and holder.unit_id == unit_id:
        raise OfficerError(f"{_account_words(*account)} đã gắn với cán bộ {holder.name}.")
    raise OfficerError(f"{_account_words(*account)} đã gắn với một cán bộ khác.")


async def add_officer(
    session: AsyncSession,
    *,
    unit: Unit,
    name: str,
    positions: Sequence[str],
    roles: Sequence[str] = ("officer",),
    telegram_id: int | None = None,
    account: tuple[str, str] | None = None,
    phone: str | None = None,
    department: str | None = None,
    department_head: bool = False,
    actor: str,
    actor_officer_id: int | None = None,
) -> tuple[Officer, bool]:
    """Add an officer, or update the one with the same folded name; True when created.

    Positions, roles and the spelling of the name are replaced (the latest
    written form wins, e.g. a roster adding missing diacritics); a chat account
    (``account`` as (channel, id), or ``telegram_id`` for ("telegram", str(id)))
    or phone left out is kept, and so is a department (with its head flag)
    when none is given. A plain officer needs a position or a department:
    without either they would own nothing and never be chased.
    """
    cleaned = clean_name(name)
    codes, role_list = checked_positions(positions), checked_roles(roles)
    if department is not None:
        department = checked_department(department)
    if not codes and role_list == ["officer"] and department is None:
        raise OfficerError(f"Cán bộ cần ít nhất một vị trí. {valid_codes_hint()}")
    officer = await officer_by_name(session, unit=unit, name=cleaned)
    if telegram_id is not None:
        account = ("telegram", str(telegram_id))
    linked = account is not None and await _check_account_free(
        session, account=account, unit_id=unit.id, officer_id=officer.id if officer else None
    )
    created = officer is None
    if officer is None:
        officer = Officer(unit_id=unit.id, name_key=fold(cleaned), active=True)
        session.add(officer)
    old = None if created else _snapshot(officer)
    officer.name, officer.positions, officer.roles = cleaned, codes, role_list
    officer.phone = one_line(phone) if phone else officer.phone
    if department is not None:
        officer.department, officer.department_head = department, department_head
    officer.active = True
    await session.flush()
    new = _snapshot(officer)
    if account is not None and not linked:  # audited with the officer's change, as one
        await link_account(
            session,
            channel=account[0],
            external_id=account[1],
            officer=officer,
            actor=actor,
            audited=False,
        )
        new["account"] = ":".join(account)
    if new != old:
        audit(
            session,
            unit_id=unit.id,
            actor=actor,
            actor_officer_id=actor_officer_id,
            action="officer.add" if created else "officer.update",
            entity="officer",
            entity_id=officer.id,
            old=old,
            new=new,
        )
    return officer, created


async def import_roster(
    session: AsyncSession,
    *,
    unit: Unit,
    rows: Sequence[RosterRow],
    actor: str,
    actor_officer_id: int | None = None,
) -> RosterReport:
    """Add or update every row. On RosterError the caller must roll back (all or nothing)."""
    report = RosterReport()
    problems: list[str] = []
    for row in rows:
        try:
            officer, created = await add_officer(
                session,
                unit=unit,
                name=row.name,
                positions=row.positions,
                roles=row.roles,
                telegram_id=row.telegram_id,
                phone=row.phone,
                department=row.department,
                department_head=row.department_head,
                actor=actor,
                actor_officer_id=actor_officer_id,
            )
        except OfficerError as exc:
            problems.append(f"Dòng {row.line}: {exc}")
            continue
        (report.added if created else report.updated).append(officer.name)
    if problems:
        raise RosterError(problems)
    return report


async def set_positions(
    session: AsyncSession,
    *,
    officer: Officer,
    positions: Sequence[str],
    actor: str,
    actor_officer_id: int | None,
) -> None:
    codes = checked_positions(positions)
    old = list(officer.positions or [])
    if codes == old:
        return
    officer.positions = codes
    audit(
        session,
        unit_id=officer.unit_id,
        actor=actor,
        actor_officer_id=actor_officer_id,
        action="officer.positions",
        entity="officer",
        entity_id=officer.id,
        old={"positions": old},
        new={"positions": codes},
    )
    await session.flush()


async def set_roles(
    session: AsyncSession,
    *,
    officer: Officer,
    roles: Sequence[str],
    actor: str,
    actor_officer_id: int | None,
) -> None:
    role_list = checked_roles(roles)
    old = list(officer.roles or [])
    if role_list == old:
        return
    officer.roles = role_list
    audit(
        session,
        unit_id=officer.unit_id,
        actor=actor,
        actor_officer_id=actor_officer_id,
        action="officer.roles",
        entity="officer",
        entity_id=officer.id,
        old={"roles": old},
        new={"roles": role_list},
    )
    await session.flush()


async def change_roles(
    session: AsyncSession, *, admin: Officer, officer: Officer, roles_text: str, actor: str
) -> list[str]:
    """/vaitro: an admin sets an existing officer's roles ("đầu mối", "lãnh đạo; quản trị").

    The roles given replace the old ones. An admin may not take away their own
    admin role (the unit could be left without one). Audited; returns the roles.
    """
    if "admin" not in (admin.roles or ()) or admin.unit_id != officer.unit_id:
        raise OfficerError("Chỉ quản trị viên của đơn vị mới đổi được vai trò.")
    try:
        roles = parse_roles(roles_text)
    except RoleError as exc:
        raise OfficerError(str(exc)) from None
    if not roles:
        raise OfficerError("Cần ghi vai trò: cán bộ, đầu mối, lãnh đạo hoặc quản trị.")
    if officer.id == admin.id and "admin" not in roles:
        raise OfficerError("Bạn không thể tự bỏ vai trò quản trị của mình.")
    await set_roles(session, officer=officer, roles=roles, actor=actor, actor_officer_id=admin.id)
    return list(officer.roles)


# --- invites -------------------------------------------------------------------------------


def new_invite_code() -> str:
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_CODE_LENGTH))


_INVITE_KINDS = (Invite, ProvinceInvite)


async def fresh_invite_code(session: AsyncSession) -> str:
    """A new code that no invite of either kind has: one person's code never opens
    another's account (each table is unique by itself, not across both)."""
    while True:
        code = new_invite_code()
        if await _invite_with_code(session, code) is None:
            return code


def typed_invite_code(text: str) -> str | None:
    """The code in what someone typed ("abcd efgh", "ABCD-EFGH"), upper-cased; None when it
    does not have a code's shape (so that ordinary words are not taken for wrong codes)."""
    compact = "".join(ch for ch in text.strip() if ch not in " -").upper()
    if len(compact) != INVITE_CODE_LENGTH or not compact.isascii() or not compact.isalnum():
        return None
    return compact


def deep_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username.lstrip('@')}?start={code}"


async def create_invite(
    session: AsyncSession,
    *,
    unit: Unit,
    officer: Officer,
    actor: str,
    actor_officer_id: int | None = None,
    now: datetime,
) -> Invite:
    """A fresh single-use code for ``officer``; their older unused codes stop working."""
    if officer.unit_id != unit.id:
        raise OfficerError("Cán bộ không thuộc đơn vị này.")
    await session.execute(
        update(Invite)
        .where(Invite.officer_id == officer.id, Invite.used_at.is_(None), Invite.expires_at > now)
        .values(expires_at=now)
    )
    invite = Invite(
        unit_id=unit.id,
        officer_id=officer.id,
        code=await fresh_invite_code(session),
        created_by_officer_id=actor_officer_id,
        created_at=now,
        expires_at=now + INVITE_TTL,
    )
    session.add(invite)
    await session.flush()
    audit(
        session,
        unit_id=unit.id,
        actor=actor,
        actor_officer_id=actor_officer_id,
        action="invite.create",
        entity="officer",
        entity_id=officer.id,
        old=None,
        new={"invite_id": invite.id, "expires_at": invite.expires_at.isoformat()},
        at=now,
    )
    return invite


async def redeem_invite(
    session: AsyncSession,
    *,
    code: str,
    channel: str,
    external_id: str,
    display_name: str,
    now: datetime,
) -> Officer | ProvinceUser:
    """Link the account (``channel``, ``external_id``) to the invited person (an officer,
    or a province user), or raise InviteError(reason). The account is the person's on that
    channel from now on (an older one of theirs on the same channel is replaced); their
    other channels stay.

    Opening the same link twice from the same account returns the person again
    (a double tap, a redelivered /start), instead of "already used".
    """
    invite = await _invite_by_code(session, code)
    if invite is None:
        typed = typed_invite_code(code) or ""
        raise InviteError("look_alike" if _LOOK_ALIKES & set(typed) else "unknown")
    person: Officer | ProvinceUser
    if isinstance(invite, Invite):
        person = await session.get_one(Officer, invite.officer_id)
    else:
        person = await session.get_one(ProvinceUser, invite.province_user_id)
    holder = await account_of(session, channel=channel, external_id=external_id)
    theirs = holder is not None and _holds(holder, person)
    if invite.used_at is not None:
        if (invite.used_by_channel, invite.used_by_account) == (channel, external_id) and theirs:
            return person
        raise InviteError("used")
    if now >= invite.expires_at:
        raise InviteError("expired")
    if holder is not None and not theirs:
        raise InviteError("account_in_use")
    invite.used_at = now
    invite.used_by_channel, invite.used_by_account = channel, external_id
    if isinstance(person, ProvinceUser):
        # Of no unit, so no audit row (the audit log is per unit); the invite row keeps
        # who used it and when.
        await link_account(
            session,
            channel=channel,
            external_id=external_id,
            province_user=person,
            actor=f"{channel}:{external_id}",
            now=now,
            used=True,
        )
        return person
    await _link_officer(session, person, invite.id, channel, external_id, display_name, now)
    return person


def _holds(account: ChannelAccount, person: Officer | ProvinceUser) -> bool:
    if isinstance(person, Officer):
        return account.officer_id == person.id
    return account.province_user_id == person.id


async def _link_officer(
    session: AsyncSession,
    officer: Officer,
    invite_id: int,
    channel: str,
    external_id: str,
    display_name: str,
    now: datetime,
) -> None:
    officer.last_activity_at = now
    actor = f"{channel}:{external_id}"
    before = await actor_on(session, officer=officer, channel=channel)
    await link_account(
        session,
        channel=channel,
        external_id=external_id,
        officer=officer,
        actor=actor,
        now=now,
        audited=False,  # this row says it all
        used=True,
    )
    audit(
        session,
        unit_id=officer.unit_id,
        actor=actor,
        actor_officer_id=officer.id,
        action="invite.redeem",
        entity="officer",
        entity_id=officer.id,
        old={"account": None if before == channel else before},
        new={"account": actor, "invite_id": invite_id, "display_name": display_name},
        at=now,
    )


async def _invite_by_code(session: AsyncSession, code: str) -> Invite | ProvinceInvite | None:
    """Exactly as given (older, case-sensitive link codes), else as a typed code."""
    invite = await _invite_with_code(session, code.strip())
    typed = typed_invite_code(code)
    if invite is None and typed is not None:
        invite = await _invite_with_code(session, typed)
    return invite


async def _invite_with_code(session: AsyncSession, code: str) -> Invite | ProvinceInvite | None:
    for kind in _INVITE_KINDS:
        invite: Invite | ProvinceInvite | None = await session.scalar(
            select(kind).where(kind.code == code)
        )
        if invite is not None:
            return invite
    return None


# --- lookups ------------------------------------------------------------------------------


async def unit_officers(
    session: AsyncSession, *, unit: Unit, include_inactive: bool = False
) -> list[Officer]:
    query = select(Officer).where(Officer.unit_id == unit.id)
    if not include_inactive:
        query = query.where(Officer.active.is_(True))
    return list((await session.scalars(query.order_by(Officer.name_key, Officer.id))).all())


def activity_is_stale(officer: Officer, account: ChannelAccount | None, now: datetime) -> bool:
    """Whether note_activity would write anything."""
    seen = officer.last_activity_at
    if account is not None and use_is_stale(account, now):
        return True
    return seen is None or now - seen >= ACTIVITY_RESOLUTION


async def note_activity(
    session: AsyncSession, *, officer: Officer, account: ChannelAccount | None, now: datetime
) -> None:
    """Record that the officer just did something (they wrote to us from ``account``).

    Only when the last record is older than ACTIVITY_RESOLUTION (the
    account's: core.accounts.USE_RESOLUTION): "last activity" is read to the
    minute at best (/canbo, the weekly summary), and writing it on every
    update would turn every read into a write. The account they wrote from is
    reachable again. Not audited: it carries no decision.
    """
    if not activity_is_stale(officer, account, now):
        return
    seen = officer.last_activity_at
    if seen is None or now - seen >= ACTIVITY_RESOLUTION:
        officer.last_activity_at = now
    if account is not None:
        note_use(account, now)
    await session.flush()


# --- configured admins ----------------------------------------------------------------------


async def ensure_configured_admin(
    session: AsyncSession,
    *,
    channel: str,
    external_id: str,
    display_name: str,
    admin_accounts: Collection[tuple[str, str]],
    actor: str,
) -> Officer | None:
    """Make an account listed in ADMINS (or ADMIN_TELEGRAM_IDS) an admin on their first /start.

    None when they are not listed, or when there is no single unit to put them
    in (no plan imported yet, or several units): the caller then asks them to
    import a plan (/kehoach), which calls :func:`attach_admin_to_unit`.
    """
    if (channel, external_id) not in admin_accounts:
        return None
    officer = await officer_by_account(
        session, channel=channel, external_id=external_id, active_only=False
    )
    if officer is not None:
        await _make_admin(session, officer=officer, actor=actor)
        return officer
    units = list((await session.scalars(select(Unit).limit(2))).all())
    if len(units) != 1:
        return None
    return await attach_admin_to_unit(
        session,
        unit=units[0],
        channel=channel,
        external_id=external_id,
        display_name=display_name,
        actor=actor,
    )


async def attach_admin_to_unit(
    session: AsyncSession,
    *,
    unit: Unit,
    channel: str,
    external_id: str,
    display_name: str,
    actor: str,
) -> Officer:
    """Make this chat account an admin officer of ``unit``.

    An unlinked officer with the same name is taken to be them (the roster was
    imported before they wrote to the bot). An account already linked in another
    unit raises OfficerError: one account is one person in one unit.
    """
    account = (channel, external_id)
    officer = await officer_by_account(
        session, channel=channel, external_id=external_id, active_only=False
    )
    if officer is not None and officer.unit_id != unit.id:
        other = await session.get_one(Unit, officer.unit_id)
        raise OfficerError(f"Tài khoản này đã thuộc đơn vị {other.name}.")
    if officer is None:
        officer = await _link_or_create_admin(
            session, unit=unit, account=account, display_name=display_name, actor=actor
        )
    await _make_admin(session, officer=officer, actor=actor)
    return officer


async def _link_or_create_admin(
    session: AsyncSession, *, unit: Unit, account: tuple[str, str], display_name: str, actor: str
) -> Officer:
    name = one_line(nfc(display_name)) if fold(display_name) else DEFAULT_ADMIN_NAME
    namesake = await officer_by_name(session, unit=unit, name=name)
    if namesake is not None and not await _has_account_on(session, namesake, account[0]):
        # Not audited here: link_account records the link, _make_admin the activation.
        try:
            await link_account(
                session,
                channel=account[0],
                external_id=account[1],
                officer=namesake,
                actor=actor,
                actor_officer_id=namesake.id,
            )
        except AccountError as exc:
            raise OfficerError(str(exc)) from None
        return namesake
    if namesake is not None:
        name = await _free_name(session, unit=unit, name=name)
    officer, _ = await add_officer(
        session,
        unit=unit,
        name=name,
        positions=(),
        roles=("admin",),
        account=account,
        actor=actor,
    )
    return officer


async def _has_account_on(session: AsyncSession, officer: Officer, channel: str) -> bool:
    found = await session.scalar(
        select(ChannelAccount.id).where(
            ChannelAccount.officer_id == officer.id, ChannelAccount.channel == channel
        )
    )
    return found is not None


async def _free_name(session: AsyncSession, *, unit: Unit, name: str) -> str:
    """ "Tên (2)", "Tên (3)", …: the first that no officer of the unit has."""
    taken = set(
        (
            await session.scalars(
                select(Officer.name_key).where(
                    Officer.unit_id == unit.id,
                    Officer.name_key.startswith(fold(name), autoescape=True),
                )
            )
        ).all()
    )
    number = 2
    while fold(f"{name} ({number})") in taken:
        number += 1
    return f"{name} ({number})"


async def _make_admin(session: AsyncSession, *, officer: Officer, actor: str) -> None:
    if not officer.active:
        officer.active = True
        audit(
            session,
            unit_id=officer.unit_id,
            actor=actor,
            actor_officer_id=officer.id,
            action="officer.activate",
            entity="officer",
            entity_id=officer.id,
            old={"active": False},
            new={"active": True},
        )
    if "admin" not in (officer.roles or []):
        await set_roles(
            session,
            officer=officer,
            roles=[*(officer.roles or []), "admin"],
            actor=actor,
            actor_officer_id=officer.id,
        )
