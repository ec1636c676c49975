"""The frame every Telegram handler runs in.

Each update gets one database session and one transaction. Inside it we first
claim the update's id in ``processed_updates`` (a redelivered update finds it
claimed and is ignored), then look up who is asking, check their role, and run
the feature's function. That function returns what to say (:class:`Reply`)
instead of saying it: replies are sent only after the transaction commits, so
the bot never confirms a change that was rolled back.

Feature code never touches the session factory, the clock or the settings
directly; it gets them on the :class:`Request`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import wraps
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot import texts
from bot.settings import Settings
from storage.models import Officer, ProcessedUpdate, Unit

log = logging.getLogger(__name__)

STATE_KEY = "dondoc"
CHANNEL = "telegram"
Context = ContextTypes.DEFAULT_TYPE
Clock = Callable[[], datetime]


def utc_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AppState:
    """What every handler needs from the application, kept in ``bot_data``."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock = utc_clock


def app_state(context: Context) -> AppState:
    state = context.bot_data[STATE_KEY]
    assert isinstance(state, AppState)
    return state


@dataclass
class Request:
    session: AsyncSession
    officer: Officer | None
    unit: Unit | None
    user_id: int
    display_name: str
    update_id: int
    settings: Settings
    now: datetime

    @property
    def source_id(self) -> str:
        """Idempotency key for rows this update writes (progress, evidence)."""
        return str(self.update_id)

    @property
    def actor(self) -> str:
        return f"{CHANNEL}:{self.user_id}"

    @property
    def tz(self) -> ZoneInfo:
        if self.unit is not None and self.unit.timezone:
            return ZoneInfo(self.unit.timezone)
        return self.settings.tz

    @property
    def today(self) -> date:
        return self.now.astimezone(self.tz).date()


Button = tuple[str, str]  # (label, callback data)


@dataclass
class Reply:
    """One thing to say. ``edit`` replaces the message a button was pressed on."""

    text: str
    buttons: Sequence[Sequence[Button]] = ()
    edit: bool = False
    alert: str | None = None  # a short notice on the pressed button (answerCallbackQuery)
    document: tuple[str, bytes] | None = None  # (file name, content)
    html: bool = False

    def markup(self) -> InlineKeyboardMarkup | None:
        if not self.buttons:
            return None
        return InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(label, callback_data=data) for label, data in row]
                for row in self.buttons
            ]
        )


Replies = Reply | Sequence[Reply] | None
Feature = Callable[[Update, Context, Request], Awaitable[Replies]]
TelegramCallback = Callable[[Update, Context], Awaitable[None]]

# Who may run a feature. "anyone" includes strangers (for /start with an invite).
ANYONE = "anyone"
OFFICER = "officer"
MANAGER = "manager"  # coordinator, leader or admin
ADMIN = "admin"
_MANAGER_ROLES = frozenset({"coordinator", "leader", "admin"})


def allowed(officer: Officer | None, who: str) -> bool:
    if who == ANYONE:
        return True
    if officer is None or not officer.active:
        return False
    roles = set(officer.roles or ())
    if who == OFFICER:
        return True
    if who == MANAGER:
        return bool(roles & _MANAGER_ROLES)
    return who in roles


def handler(who: str = OFFICER) -> Callable[[Feature], TelegramCallback]:
    """Wrap a feature function in the per-update frame described in the module docstring."""

    def decorate(feature: Feature) -> TelegramCallback:
        @wraps(feature)
        async def callback(update: Update, context: Context) -> None:
            replies = await _run_in_transaction(feature, who, update, context)
            if replies is not None:
                await send_replies(update, context, replies)

        return callback

    return decorate


async def _run_in_transaction(
    feature: Feature, who: str, update: Update, context: Context
) -> Replies:
    state = app_state(context)
    user = update.effective_user
    if user is None:
        return None  # channel posts and the like: nothing for us
    async with state.sessions() as session, session.begin():
        officer = await session.scalar(select(Officer).where(Officer.telegram_id == user.id))
        if not await claim_update(session, update.update_id, officer):
            log.info("update %s already handled; ignored", update.update_id)
            return None
        if not allowed(officer, who):
            return _refusal(officer, update)
        unit = await session.get(Unit, officer.unit_id) if officer else None
        request = Request(
            session=session,
            officer=officer,
            unit=unit,
            user_id=user.id,
            display_name=user.full_name,
            update_id=update.update_id,
            settings=state.settings,
            now=state.clock(),
        )
        return await feature(update, context, request)


async def claim_update(session: AsyncSession, update_id: int, officer: Officer | None) -> bool:
    """Record that this update is being handled; False if it already was."""
    exists = await session.scalar(
        select(ProcessedUpdate.id).where(
            ProcessedUpdate.channel == CHANNEL, ProcessedUpdate.update_id == update_id
        )
    )
    if exists is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(
                ProcessedUpdate(
                    channel=CHANNEL,
                    update_id=update_id,
                    unit_id=officer.unit_id if officer else None,
                )
            )
    except IntegrityError:
        return False  # the same update, handled at this very moment by another worker
    return True


def _refusal(officer: Officer | None, update: Update) -> Reply:
    if officer is None:
        return Reply(texts.STRANGER, alert=texts.STRANGER[:190] if update.callback_query else None)
    if not officer.active:
        return Reply(texts.INACTIVE)
    return Reply(texts.NOT_ALLOWED, alert=texts.NOT_ALLOWED if update.callback_query else None)


async def send_replies(update: Update, context: Context, replies: Replies) -> None:
    items = [replies] if isinstance(replies, Reply) else list(replies or [])
    query = update.callback_query
    alert = next((r.alert for r in items if r.alert), None)
    if query is not None:
        await query.answer(alert or None)
    for reply in items:
        if reply.edit and query is not None and isinstance(query.message, Message):
            await _edit(query.message, reply)
        elif reply.text or reply.document:
            await _send(update, context, reply)


async def _edit(message: Message, reply: Reply) -> None:
    try:
        await message.edit_text(
            reply.text, reply_markup=reply.markup(), parse_mode="HTML" if reply.html else None
        )
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


async def _send(update: Update, context: Context, reply: Reply) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    parse_mode = "HTML" if reply.html else None
    if reply.document is not None:
        name, content = reply.document
        await context.bot.send_document(
            chat.id,
            document=content,
            filename=name,
            caption=reply.text or None,
            reply_markup=reply.markup(),
            parse_mode=parse_mode,
        )
        return
    await context.bot.send_message(
        chat.id, reply.text, reply_markup=reply.markup(), parse_mode=parse_mode
    )


async def on_error(update: object, context: Context) -> None:
    """Log first, then tell the user something went wrong (never the details)."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await context.bot.send_message(update.effective_chat.id, texts.ERROR)
        except Exception:
            log.warning("could not tell the user about the error", exc_info=True)


def callback_data(*parts: Any) -> str:
    """Compact button data ("card:123"); Telegram allows 64 bytes."""
    data = ":".join(str(part) for part in parts)
    if len(data.encode()) > 64:
        raise ValueError(f"callback data too long: {data!r}")
    return data
