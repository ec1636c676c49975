"""Greeting: /start (with or without an invite code), an invite code typed alone, /help, and
what nothing else handles."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot import texts
from core.accounts import channel_label
from core.conversation_state import read_state, write_state
from core.officers import (
    INVITE_WRONG_PER_HOUR,
    InviteError,
    ensure_configured_admin,
    redeem_invite,
)
from core.ownership import officer_items
from core.roles import is_manager
from handlers import progress
from handlers.base import (
    ANYONE,
    OFFICER,
    Action,
    Inbound,
    MenuChange,
    Replies,
    Reply,
    Request,
    Result,
    handler,
)
from handlers.state import state_key
from storage.models import Officer

WRONG_CODES_SLOT = "invite:wrong"  # conversation state: wrong codes in the current hour
WRONG_CODES_WINDOW = timedelta(hours=1)


@handler(ANYONE)
async def start(event: Inbound, request: Request) -> Replies:
    code = " ".join(event.args)  # a typed code may come in two halves: /start abcd efgh
    if code:
        return await _link(request, code)
    officer = request.officer
    if request.is_configured_admin:
        officer = await ensure_configured_admin(
            request.session,
            channel=event.channel,
            external_id=event.user_id,
            display_name=request.display_name,
            admin_accounts=request.settings.admin_accounts,
            actor=request.actor,
        )
        if officer is None:
            return Reply(texts.ADMIN_WITHOUT_UNIT)
    if officer is None:
        return Reply(texts.STRANGER)
    if not officer.active:
        return Reply(texts.INACTIVE)
    return await _welcome(request, officer)


@handler(ANYONE)
async def typed_code(event: Inbound, request: Request) -> Result:
    """Text shaped like an invite code: from someone not linked yet, the code alone (a channel
    without deep links); from an officer, ordinary text (see progress.text_message)."""
    if request.officer is None and event.text:
        return await _link(request, event.text)
    return await progress.text_message.__wrapped__(event, request)  # type: ignore[attr-defined,no-any-return]


async def _link(request: Request, code: str) -> Replies:
    """Link the account the code arrived from, on whichever channel, to the invited officer."""
    key = state_key(request.event)
    wrong = await read_state(request.session, key=key, slot=WRONG_CODES_SLOT, now=request.now)
    if wrong is not None and wrong["count"] >= INVITE_WRONG_PER_HOUR:
        return Reply(texts.INVITE_WAIT)
    try:
        officer = await redeem_invite(
            request.session,
            code=code,
            channel=request.event.channel,
            external_id=request.user_id,
            display_name=request.display_name,
            now=request.now,
        )
    except InviteError as exc:
        if exc.reason in ("unknown", "look_alike"):
            await _count_wrong_code(request, wrong)
        return Reply(str(exc))
    return await _welcome(request, officer, linked=True)


async def _count_wrong_code(request: Request, wrong: dict[str, object] | None) -> None:
    """One more wrong code this hour; the hour runs from the first wrong one."""
    if wrong is None:
        wrong = {"count": 0, "until": (request.now + WRONG_CODES_WINDOW).isoformat()}
    count = int(str(wrong["count"])) + 1
    await write_state(
        request.session,
        key=state_key(request.event),
        slot=WRONG_CODES_SLOT,
        data={**wrong, "count": count},
        expires_at=datetime.fromisoformat(str(wrong["until"])),
        now=request.now,
    )


async def _welcome(request: Request, officer: Officer, *, linked: bool = False) -> list[Action]:
    items = await officer_items(request.session, officer=officer, today=request.today)
    greeting = texts.greeting(
        officer.name,
        list(officer.positions or []),
        len(items.owned()),
        len(items.common),
        list(officer.roles or []),
    )
    said = texts.linked(channel_label(request.event.channel))
    text = f"{said}\n{greeting}" if linked else greeting
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
    if not request.channel.capabilities.buttons:
        lines += ["", texts.HELP_NUMBERED]
    return Reply("\n".join(lines))


@handler(OFFICER, reads_only=True)
async def unknown_command(event: Inbound, request: Request) -> Reply:
    return Reply(texts.UNKNOWN_COMMAND)


@handler(OFFICER, reads_only=True)
async def stale_button(event: Inbound, request: Request) -> Reply:
    """A press no other handler knows: an old keyboard, or data made up by a client."""
    return Reply("", alert=texts.STALE_BUTTON)
