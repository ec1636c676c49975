"""The frame every Telegram handler runs in.

Each update gets one database session and one transaction. Inside it we look
up who is asking, claim the update's id in ``processed_updates`` (a
redelivered update finds it claimed and is ignored), check their role, and
run the feature's function. That function returns what to say (:class:`Reply`)
instead of saying it: replies are sent only after the transaction commits, so
the bot never confirms a change that was rolled back. Anything else it wants
done afterwards (conversation state) waits for the commit too
(:meth:`Request.after_commit`).

A feature that only reads (``@handler(..., reads_only=True)``: lists, cards,
help) runs first and claims the update last, so that on SQLite it holds the
writer's turn for one statement; a twin's result is dropped unseen.

A feature that must download a user's file returns :class:`Fetch` instead:
the first transaction (the claim, the checks) commits, the file is streamed
to disk with no database lock held, and ``Fetch.finish`` then runs in a second
transaction of the same frame (officer reloaded, role re-checked). A crash
between the two loses that one file (the user sends it again); the update is
never handled twice.

Feature code never touches the session factory, the clock or the settings
directly; it gets them on the :class:`Request`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import wraps
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, Forbidden
from telegram.ext import ContextTypes

from bot import texts
from bot.menu import set_chat_menu
from bot.settings import Settings
from core.evidence import MAX_EVIDENCE_BYTES, new_incoming_path
from core.officers import activity_is_stale, note_activity
from storage.db import prepared_insert_ignoring
from storage.models import Officer, ProcessedUpdate, Unit

log = logging.getLogger(__name__)

STATE_KEY = "dondoc"
CHANNEL = "telegram"
Context = ContextTypes.DEFAULT_TYPE
Clock = Callable[[], datetime]

DOWNLOAD_TIMEOUT_SECONDS = 120.0


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
    # PTB's context, for conversation state (user_data); None outside the bot.
    context: Context | None = None
    # Answers worth keeping for the rest of this update (e.g. "may they update item 12?").
    memo: dict[Any, Any] = field(default_factory=dict)
    # What to do once the transaction has committed (conversation state, say).
    post_commit: list[Callable[[], None]] = field(default_factory=list)

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once this update's transaction commits; never if it does not."""
        self.post_commit.append(action)

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

    @property
    def is_configured_admin(self) -> bool:
        """Listed in ADMIN_TELEGRAM_IDS: may import a plan before any unit exists."""
        return self.user_id in self.settings.admin_telegram_ids


Button = tuple[str, str]  # (label, callback data)


@dataclass
class Reply:
    """One thing to say. ``edit`` replaces the message a button was pressed on.

    ``message_id`` edits that message of the chat instead (e.g. a card asked
    for a reason, answered by a text message); ``on_sent`` is told the id of
    the message sent, for features that edit it later.
    """

    text: str
    buttons: Sequence[Sequence[Button]] = ()
    edit: bool = False
    alert: str | None = None  # a short notice on the pressed button (answerCallbackQuery)
    document: tuple[str, bytes | Path] | None = None  # (file name, content or a file on disk)
    photo: bytes | None = None  # a picture, with ``text`` as its caption
    html: bool = False
    message_id: int | None = None
    on_sent: Callable[[int], None] | None = None
    after: Callable[[], None] | None = None  # always run once this reply was tried (clean-up)

    def markup(self) -> InlineKeyboardMarkup | None:
        if not self.buttons:
            return None
        return InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(label, callback_data=data) for label, data in row]
                for row in self.buttons
            ]
        )


@dataclass(frozen=True)
class MenuChange:
    """Set a chat's command menu after commit (an officer linked, or their roles changed)."""

    chat_id: int
    roles: tuple[str, ...]


Action = Reply | MenuChange
Replies = Action | Sequence[Action] | None


@dataclass(frozen=True)
class FileRef:
    """A file a user sent, as Telegram describes it (nothing downloaded yet)."""

    file_id: str
    unique_id: str | None
    size: int | None  # as declared by Telegram; checked before getFile
    name: str | None
    mime: str | None


Finish = Callable[["Request", list[Path]], Awaitable[Replies]]


@dataclass
class Fetch:
    """Download ``files`` outside any transaction, then run ``finish`` in a new one.

    ``finish`` gets one downloaded path per file, in order, and may consume
    them (move them away); whatever is left is deleted afterwards.
    """

    files: Sequence[FileRef]
    finish: Finish
    too_big: Reply | None = None  # what to say when a file is over the limit
    limit: int = MAX_EVIDENCE_BYTES
    # Reads the downloaded files before the transaction: on SQLite the transaction holds
    # the writer's turn, and a big file parsed inside it would hold up everyone's claim.
    prepare: Callable[[list[Path]], Awaitable[None]] | None = None


Result = Replies | Fetch
Feature = Callable[[Update, Context, Request], Awaitable[Result]]
TelegramCallback = Callable[[Update, Context], Coroutine[Any, Any, None]]

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


_WHO_IS_ASKING = (
    select(Officer, Unit)
    .join(Unit, Unit.id == Officer.unit_id)
    .where(Officer.telegram_id == bindparam("telegram_id"))
)  # built once: every update runs it


def handler(
    who: str = OFFICER, *, reads_only: bool = False
) -> Callable[[Feature], TelegramCallback]:
    """Wrap a feature function in the per-update frame described in the module docstring.

    ``reads_only``: the feature writes nothing (a list, a card), so the frame
    runs it before taking the writer's turn, and claims the update last.
    """

    def decorate(feature: Feature) -> TelegramCallback:
        @wraps(feature)
        async def callback(update: Update, context: Context) -> None:
            result = await _run_in_transaction(
                feature, who, update, context, claim=True, reads_only=reads_only
            )
            replies = (
                await _fetch_then_finish(result, who, update, context)
                if isinstance(result, Fetch)
                else result
            )
            if replies is not None:
                await send_replies(update, context, replies)

        return callback

    return decorate


async def _run_in_transaction(
    feature: Feature,
    who: str,
    update: Update,
    context: Context,
    *,
    claim: bool,
    reads_only: bool = False,
) -> Result:
    """One transaction: who is asking, the claim, the role check, the feature."""
    state = app_state(context)
    user = update.effective_user
    if user is None:
        return None  # channel posts and the like: nothing for us
    if reads_only:
        return await _read_then_claim(feature, who, update, context, user.id)
    async with _one_writer(context), state.sessions() as session:
        request = await _request(session, update, context, user.id)
        if claim and not await claim_update(session, update.update_id, request.officer):
            log.info("update %s already handled; ignored", update.update_id)
            return None
        if allowed(request.officer, who):
            await _note_activity(request)
            result = await feature(update, context, request)
        else:
            result = _refusal(request.officer, update, state.settings)
        await session.commit()
    _run_after_commit(request)
    return result


async def _read_then_claim(
    feature: Feature, who: str, update: Update, context: Context, user_id: int
) -> Result:
    """A feature that only reads runs before the writer's turn; the claim comes last.

    On SQLite the transaction is a writer's from its first write to its
    commit, and writers take turns (see _one_writer): this way a list or a
    card holds the turn for the claim alone. The reads' connection goes back
    to the pool before waiting for the turn, so that nobody waits for the turn
    while holding a connection the turn's holder may need. If the claim finds
    a twin handled the update already, what the feature computed is dropped,
    and what it asked to do afterwards (Request.after_commit) never happens.
    """
    state = app_state(context)
    async with state.sessions() as reading:
        request = await _request(reading, update, context, user_id)
        if allowed(request.officer, who):
            result = await feature(update, context, request)
        else:
            result = _refusal(request.officer, update, state.settings)
        if reading.new or reading.dirty or reading.deleted:
            raise RuntimeError(f"{feature.__name__} is marked reads_only but changed rows")
    async with _one_writer(context), state.sessions() as session:
        if not await claim_update(session, update.update_id, request.officer):
            log.info("update %s already handled; ignored", update.update_id)
            return None
        seen = request.officer  # as the reads found them; loaded again only to write
        if seen is not None and seen.active and activity_is_stale(seen, request.now):
            officer = await session.get(Officer, seen.id)
            if officer is not None:
                await note_activity(session, officer=officer, now=request.now)
        await session.commit()
    _run_after_commit(request)
    return result


async def _request(
    session: AsyncSession, update: Update, context: Context, user_id: int
) -> Request:
    state = app_state(context)
    found = (await session.execute(_WHO_IS_ASKING, {"telegram_id": user_id})).first()
    officer, unit = (found[0], found[1]) if found is not None else (None, None)
    user = update.effective_user
    return Request(
        session=session,
        officer=officer,
        unit=unit,
        user_id=user_id,
        display_name=user.full_name if user is not None else "",
        update_id=update.update_id,
        settings=state.settings,
        now=state.clock(),
        context=context,
    )


async def _note_activity(request: Request) -> None:
    officer = request.officer
    if officer is not None and officer.active:
        await note_activity(request.session, officer=officer, now=request.now)


def _run_after_commit(request: Request) -> None:
    for action in request.post_commit:
        action()


SQLITE_LOCK_KEY = "dondoc_sqlite_lock"


def _one_writer(context: Context) -> contextlib.AbstractAsyncContextManager[object]:
    """On SQLite, one handler transaction at a time in this process.

    Every handler writes (its claim), and SQLite has one writer: without this,
    concurrent handlers wait for the lock inside SQLite's busy handler, which
    sleeps in steps of up to 100 ms. An asyncio lock hands over at once.
    PostgreSQL needs nothing of the kind.
    """
    if not app_state(context).settings.is_sqlite:
        return contextlib.nullcontext()
    lock = context.bot_data.get(SQLITE_LOCK_KEY)
    if lock is None:
        lock = context.bot_data[SQLITE_LOCK_KEY] = asyncio.Lock()
    assert isinstance(lock, asyncio.Lock)
    return lock


async def claim_update(session: AsyncSession, update_id: int, officer: Officer | None) -> bool:
    """Record that this update is being handled; False if it already was.

    One INSERT … ON CONFLICT DO NOTHING, in the handler's transaction: a twin
    handled at the same moment by another worker waits for it and inserts
    nothing, and a handler that fails rolls its claim back with the rest.
    """
    values = {
        "channel": CHANNEL,
        "update_id": update_id,
        "unit_id": officer.unit_id if officer else None,
        "processed_at": datetime.now(UTC),
    }
    claim = prepared_insert_ignoring(
        session, ProcessedUpdate, columns=tuple(values), unique=("channel", "update_id")
    )
    result = await session.execute(claim, values)
    return bool(getattr(result, "rowcount", 0) == 1)


def _refusal(officer: Officer | None, update: Update, settings: Settings) -> Reply:
    as_alert = update.callback_query is not None
    if officer is None:
        user = update.effective_user
        if user is not None and user.id in settings.admin_telegram_ids:
            return Reply(texts.ADMIN_WITHOUT_UNIT, alert=texts.NOT_ALLOWED if as_alert else None)
        return Reply(texts.STRANGER, alert=texts.STRANGER[:190] if as_alert else None)
    if not officer.active:
        return Reply(texts.INACTIVE)
    return Reply(texts.NOT_ALLOWED, alert=texts.NOT_ALLOWED if as_alert else None)


# --- files: download outside the transaction -------------------------------------------------


class FileTooBig(Exception):
    """Telegram (or the stream) says the file is over the limit; nothing was kept."""


async def _fetch_then_finish(fetch: Fetch, who: str, update: Update, context: Context) -> Replies:
    state = app_state(context)
    paths: list[Path] = []
    try:
        try:
            for ref in fetch.files:
                target = new_incoming_path(state.settings.evidence_dir)
                paths.append(target)
                await download(context.bot, ref, target, limit=fetch.limit)
        except FileTooBig:
            return fetch.too_big or Reply(texts.FILE_TOO_BIG)
        if fetch.prepare is not None:
            await fetch.prepare(list(paths))

        async def finish(update: Update, context: Context, request: Request) -> Result:
            return await fetch.finish(request, list(paths))

        result = await _run_in_transaction(finish, who, update, context, claim=False)
        if isinstance(result, Fetch):
            raise TypeError("Fetch.finish must return replies, not another Fetch")
        return result
    finally:
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


async def download(bot: Bot, ref: FileRef, target: Path, *, limit: int) -> None:
    """getFile, then stream the file to ``target``; FileTooBig past ``limit`` bytes.

    The declared size is checked first so an oversized file costs no request.
    The file URL holds the bot token: errors are re-raised without it.
    """
    if ref.size is not None and ref.size > limit:
        raise FileTooBig
    try:
        file = await bot.get_file(ref.file_id)
    except BadRequest as exc:
        if "too big" in str(exc).lower():
            raise FileTooBig from None
        raise
    if file.file_size is not None and file.file_size > limit:
        raise FileTooBig
    path = file.file_path or ""
    if not path.startswith(("http://", "https://")):  # a local Bot API server
        await file.download_to_drive(target)
        if (await asyncio.to_thread(target.stat)).st_size > limit:
            raise FileTooBig
        return
    await _stream(path, target, limit)


async def _stream(url: str, target: Path, limit: int) -> None:
    size = 0
    try:
        async with (
            httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT_SECONDS) as client,
            client.stream("GET", url) as response,
        ):
            response.raise_for_status()
            with target.open("wb") as out:
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise FileTooBig
                    out.write(chunk)
    except httpx.HTTPError as exc:
        raise RuntimeError(f"file download failed: {type(exc).__name__}") from None


# --- sending ------------------------------------------------------------------------------


async def send_replies(update: Update, context: Context, replies: Replies) -> None:
    items: list[Action] = (
        [replies] if isinstance(replies, Reply | MenuChange) else list(replies or [])
    )
    query = update.callback_query
    alert = next((r.alert for r in items if isinstance(r, Reply) and r.alert), None)
    if query is not None:
        await query.answer(alert or None)
    for reply in items:
        try:
            await _deliver(update, context, query, reply)
        finally:
            if isinstance(reply, Reply) and reply.after is not None:
                reply.after()


async def _deliver(
    update: Update, context: Context, query: CallbackQuery | None, reply: Action
) -> None:
    if isinstance(reply, MenuChange):
        await _set_menu(context.bot, reply)
    elif reply.edit and query is not None and isinstance(query.message, Message):
        await _edit(context.bot, query.message.chat_id, query.message.message_id, reply)
    elif reply.message_id is not None and update.effective_chat is not None:
        await _edit(context.bot, update.effective_chat.id, reply.message_id, reply)
    elif reply.text or reply.document or reply.photo:
        await _send(update, context, reply)


async def _set_menu(bot: Bot, change: MenuChange) -> None:
    try:
        await set_chat_menu(bot, chat_id=change.chat_id, roles=change.roles)
    except (BadRequest, Forbidden):
        log.warning("could not set the command menu of chat %s", change.chat_id)


async def _edit(bot: Bot, chat_id: int, message_id: int, reply: Reply) -> None:
    try:
        await bot.edit_message_text(
            reply.text,
            chat_id=chat_id,
            message_id=message_id,
            reply_markup=reply.markup(),
            parse_mode="HTML" if reply.html else None,
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
        # A file on disk is streamed: a pack part can be 50 MB.
        opened = (
            content.open("rb") if isinstance(content, Path) else contextlib.nullcontext(content)
        )
        with opened as document:
            sent = await context.bot.send_document(
                chat.id,
                document=document,
                filename=name,
                caption=reply.text or None,
                reply_markup=reply.markup(),
                parse_mode=parse_mode,
            )
    elif reply.photo is not None:
        sent = await context.bot.send_photo(
            chat.id, photo=reply.photo, caption=reply.text or None, reply_markup=reply.markup()
        )
    else:
        sent = await context.bot.send_message(
            chat.id, reply.text, reply_markup=reply.markup(), parse_mode=parse_mode
        )
    if reply.on_sent is not None:
        reply.on_sent(sent.message_id)


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


def callback_parts(update: Update, count: int) -> list[str]:
    """The pressed button's data split on ":", padded with "" to ``count`` parts.

    Only a parse: the values are untrusted until the handler checks them in the database.
    """
    query = update.callback_query
    parts = (query.data or "").split(":") if query is not None else []
    return [*parts, *([""] * count)][:count]


def as_int(text: str) -> int | None:
    return int(text) if text.isdigit() else None
