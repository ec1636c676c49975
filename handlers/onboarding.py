"""Greeting: /start (with or without an invite code), /help, and what nothing else handles."""

from __future__ import annotations

from bot import texts
from core.officers import InviteError, ensure_configured_admin, redeem_invite
from core.ownership import officer_items
from core.roles import is_manager
from handlers.base import (
    ANYONE,
    OFFICER,
    Action,
    Inbound,
    MenuChange,
    Replies,
    Reply,
    Request,
    handler,
)
from storage.models import Officer


@handler(ANYONE)
async def start(event: Inbound, request: Request) -> Replies:
    code = (event.args or ("",))[0]
    if code:
        return await _link(request, code)
    officer = request.officer
    if request.is_configured_admin and request.telegram_id is not None:
        officer = await ensure_configured_admin(
            request.session,
            telegram_id=request.telegram_id,
            display_name=request.display_name,
            admin_ids=request.settings.admin_telegram_ids,
            actor=request.actor,
        )
        if officer is None:
            return Reply(texts.ADMIN_WITHOUT_UNIT)
    if officer is None:
        return Reply(texts.STRANGER)
    if not officer.active:
        return Reply(texts.INACTIVE)
    return await _welcome(request, officer)


async def _link(request: Request, code: str) -> Replies:
    if request.telegram_id is None:  # invites link Telegram accounts only, for now
        return Reply(texts.STRANGER)
    try:
        officer = await redeem_invite(
            request.session,
            code=code,
            telegram_id=request.telegram_id,
            display_name=request.display_name,
            now=request.now,
        )
    except InviteError as exc:
        return Reply(str(exc))
    return await _welcome(request, officer, linked=True)


async def _welcome(request: Request, officer: Officer, *, linked: bool = False) -> list[Action]:
    items = await officer_items(request.session, officer=officer, today=request.today)
    greeting = texts.greeting(
        officer.name,
        list(officer.positions or []),
        len(items.owned()),
        len(items.common),
        list(officer.roles or []),
    )
    text = f"{texts.LINKED}\n{greeting}" if linked else greeting
    return [Reply(text), MenuChange(request.user_id, tuple(officer.roles or ()))]


@handler(ANYONE, reads_only=True)
async def help_command(event: Inbound, request: Request) -> Reply:
    officer = request.officer
    if officer is None:
        return Reply(texts.ADMIN_WITHOUT_UNIT if request.is_configured_admin else texts.STRANGER)
    if not officer.active:
        return Reply(texts.INACTIVE)
    roles = set(officer.roles or ())
    pairs = list(texts.OFFICER_COMMANDS)
    if is_manager(officer):
        pairs += texts.MANAGER_COMMANDS
    if "admin" in roles:
        pairs += texts.ADMIN_COMMANDS
    lines = [texts.HELP_TITLE, *(texts.help_line(name, about) for name, about in pairs)]
    lines += ["", texts.HELP_TIPS]
    if "admin" in roles:
        lines.append(texts.HELP_ADMIN_TIPS)
    return Reply("\n".join(lines))


@handler(OFFICER, reads_only=True)
async def unknown_command(event: Inbound, request: Request) -> Reply:
    return Reply(texts.UNKNOWN_COMMAND)


@handler(OFFICER, reads_only=True)
async def stale_button(event: Inbound, request: Request) -> Reply:
    """A press no other handler knows: an old keyboard, or data made up by a client."""
    return Reply("", alert=texts.STALE_BUTTON)
