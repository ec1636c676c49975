"""The Telegram adapter: PTB updates in, :class:`~core.conversation.Inbound` events to the
features, their replies rendered back as Telegram messages, edits and button answers.

Everything Telegram-specific of the conversation lives here: which updates we
take (:func:`register`, the one place handlers are registered), how a message
becomes an event (:func:`to_inbound`), how replies, menus and deep links look
(:class:`TelegramChannel`), and how a user's file is downloaded. The features
(handlers/) and the business logic (core/) never import ``telegram``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    CallbackQuery,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
)
from telegram.error import BadRequest, Forbidden
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bot import texts
from channels.download import write_limited
from core.conversation import (
    DOCUMENT,
    PHOTO,
    PROVINCE_MENU,
    Action,
    Capabilities,
    Inbound,
    IncomingFile,
    MenuChange,
    Reply,
)
from core.roles import MANAGER_ROLES
from handlers import route
from handlers.base import TELEGRAM, AppState, FileTooBig

log = logging.getLogger(__name__)

CHANNEL_KEY = "dondoc_channel"
DOWNLOAD_TIMEOUT_SECONDS = 120.0
Context = ContextTypes.DEFAULT_TYPE

CAPABILITIES = Capabilities(
    buttons=True,
    editing=True,
    documents=True,
    max_text=4096,
    max_caption=1024,
    max_choice_data=64,
)


# --- in: updates to events ---------------------------------------------------------------------


def to_inbound(update: Update, bot: Bot) -> Inbound | None:
    """The event for a new message or a button press; None for anything else."""
    user = update.effective_user
    if user is None:
        return None  # channel posts and the like: nothing for us
    chat = update.effective_chat
    who = Inbound(
        channel=TELEGRAM,
        user_id=str(user.id),
        display_name=user.full_name,
        chat_id=str(chat.id if chat is not None else user.id),
        event_id=str(update.update_id),
        private=chat is None or chat.type == Chat.PRIVATE,
        raw=update,
    )
    query = update.callback_query
    if query is not None:
        pressed = query.message.message_id if isinstance(query.message, Message) else None
        return replace(who, choice=query.data or "", message_id=pressed)
    message = update.message  # new messages only: an edited "/capnhat 3.1.3 60" must not count
    if message is None:
        return None
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
        who = replace(who, replied_text=replied.text)
    file = _file_of(message)
    if file is not None:
        return replace(who, files=(file,), caption=message.caption, album=message.media_group_id)
    command = _command_of(message, bot)
    if command is not None:
        name, args = command
        return replace(who, command=name, args=args)
    return replace(who, text=message.text)


def _file_of(message: Message) -> IncomingFile | None:
    """The file in a message: the largest size of a photo, or the document."""
    if message.photo:
        big = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        return IncomingFile(
            big.file_id, big.file_unique_id, big.file_size, None, "image/jpeg", PHOTO
        )
    doc = message.document
    if doc is not None:
        return IncomingFile(
            doc.file_id, doc.file_unique_id, doc.file_size, doc.file_name, doc.mime_type, DOCUMENT
        )
    return None


def _command_of(message: Message, bot: Bot) -> tuple[str, tuple[str, ...]] | None:
    """("viec", args) for "/viec …" or "/viec@thisbot …", as PTB's CommandHandler reads it.

    A command addressed to another bot keeps its "@name" and so matches none of ours.
    """
    entities = message.entities
    text = message.text
    if not text or not entities:
        return None
    first = entities[0]
    if first.type != MessageEntity.BOT_COMMAND or first.offset != 0:
        return None
    name, _, addressee = text[1 : first.length].partition("@")
    if addressee and addressee.lower() != (bot.username or "").lower():
        name = f"{name}@{addressee}"
    return name.lower(), tuple(text.split()[1:])


async def _on_update(update: Update, context: Context) -> None:
    channel = context.bot_data[CHANNEL_KEY]
    assert isinstance(channel, TelegramChannel)
    event = to_inbound(update, context.bot)
    run = route(event) if event is not None else None
    try:
        if event is not None and run is not None:
            await run(event, channel)
    finally:
        # Every press is answered, even when the feature said nothing (a twin already
        # handled it) or failed: else the user's button spins on.
        query = update.callback_query
        if query is not None and channel.answered.pop(query.id, None) is None:
            with contextlib.suppress(Exception):
                await query.answer()


def register(app: Application, state: AppState) -> TelegramChannel:  # type: ignore[type-arg]
    """Every handler, in one place: new messages and button presses all go to handlers.route.

    The routing (which feature, in which precedence) is the same for every
    channel, so it is not spread over PTB handlers here: PTB only filters what
    reaches it (new messages with text or a file, and button presses).
    """
    channel = TelegramChannel(app=state, bot=app.bot)
    app.bot_data[CHANNEL_KEY] = channel
    new_message = filters.UpdateType.MESSAGE & (filters.TEXT | filters.PHOTO | filters.Document.ALL)
    app.add_handler(MessageHandler(new_message, _on_update))
    app.add_handler(CallbackQueryHandler(_on_update))
    app.add_error_handler(on_error)
    return channel


async def on_error(update: object, context: Context) -> None:
    """Log first, then tell the user something went wrong (never the details)."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await context.bot.send_message(update.effective_chat.id, texts.ERROR)
        except Exception:
            log.warning("could not tell the user about the error", exc_info=True)


# --- out: replies to messages ------------------------------------------------------------------


@dataclass
class TelegramChannel:
    app: AppState
    bot: Bot
    name: str = TELEGRAM
    capabilities: Capabilities = field(default=CAPABILITIES)
    # Button presses answered by deliver and not yet seen by _on_update (by query id).
    answered: dict[str, bool] = field(default_factory=dict)

    async def fetch(self, file: IncomingFile, target: Path, *, limit: int) -> None:
        await download(self.bot, file, target, limit=limit)

    async def deliver(self, event: Inbound, actions: Sequence[Action]) -> None:
        update = event.raw
        assert isinstance(update, Update)
        query = update.callback_query
        alert = next((r.alert for r in actions if isinstance(r, Reply) and r.alert), None)
        if query is not None and query.id not in self.answered:
            self.answered[query.id] = True
            await query.answer(alert or None)
        for action in actions:
            try:
                await self._deliver(event, query, action)
            finally:
                if isinstance(action, Reply) and action.after is not None:
                    action.after()

    async def _deliver(self, event: Inbound, query: CallbackQuery | None, action: Action) -> None:
        if isinstance(action, MenuChange):
            await self._set_menu(action)
        elif action.edit and query is not None and isinstance(query.message, Message):
            await self._edit(query.message.chat_id, query.message.message_id, action)
        elif action.message_id is not None:
            await self._edit(int(event.chat_id), action.message_id, action)
        elif action.text or action.document or action.photo:
            await self._send(int(event.chat_id), action)

    async def _set_menu(self, change: MenuChange) -> None:
        try:
            await set_chat_menu(self.bot, chat_id=int(change.user_id), roles=change.roles)
        except (BadRequest, Forbidden):
            log.warning("could not set the command menu of chat %s", change.user_id)

    async def _edit(self, chat_id: int, message_id: int, reply: Reply) -> None:
        try:
            await self.bot.edit_message_text(
                reply.text,
                chat_id=chat_id,
                message_id=message_id,
                reply_markup=markup(reply),
                parse_mode="HTML" if reply.html else None,
            )
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise

    async def _send(self, chat_id: int, reply: Reply) -> None:
        parse_mode = "HTML" if reply.html else None
        if reply.document is not None:
            name, content = reply.document
            # A file on disk is streamed: a pack part can be 50 MB.
            opened = (
                content.open("rb") if isinstance(content, Path) else contextlib.nullcontext(content)
            )
            with opened as document:
                sent = await self.bot.send_document(
                    chat_id,
                    document=document,
                    filename=name,
                    caption=reply.text or None,
                    reply_markup=markup(reply),
                    parse_mode=parse_mode,
                )
        elif reply.photo is not None:
            sent = await self.bot.send_photo(
                chat_id, photo=reply.photo, caption=reply.text or None, reply_markup=markup(reply)
            )
        else:
            sent = await self.bot.send_message(
                chat_id, reply.text, reply_markup=markup(reply), parse_mode=parse_mode
            )
        if reply.on_sent is not None:
            reply.on_sent(sent.message_id)


def markup(reply: Reply) -> InlineKeyboardMarkup | None:
    """The reply's choices as inline buttons, and its link as a URL button under them."""
    rows = [
        [InlineKeyboardButton(label, callback_data=data) for label, data in row]
        for row in reply.choices
    ]
    if reply.link is not None:
        rows.append([InlineKeyboardButton(reply.link[0], url=reply.link[1])])
    return InlineKeyboardMarkup(rows) if rows else None


# --- menus: the commands each kind of user sees (setMyCommands per scope) ----------------------


def commands_for(roles: Iterable[str]) -> list[BotCommand]:
    roles = set(roles)
    if PROVINCE_MENU in roles:
        return [BotCommand(name, description) for name, description in texts.PROVINCE_COMMANDS]
    pairs = list(texts.OFFICER_COMMANDS)
    if roles & MANAGER_ROLES:
        pairs += texts.MANAGER_COMMANDS
    if "admin" in roles:
        pairs += texts.ADMIN_COMMANDS
    return [BotCommand(name, description) for name, description in pairs]


async def set_default_menu(bot: Bot) -> None:
    """Everyone sees the officer commands; managers get a wider menu in their own chat."""
    await bot.set_my_commands(commands_for(()), scope=BotCommandScopeDefault())


async def set_chat_menu(bot: Bot, *, chat_id: int, roles: Iterable[str]) -> None:
    await bot.set_my_commands(commands_for(roles), scope=BotCommandScopeChat(chat_id))


# --- files: download with no database lock held ------------------------------------------------


async def download(bot: Bot, ref: IncomingFile, target: Path, *, limit: int) -> None:
    """getFile, then stream the file to ``target``; FileTooBig past ``limit`` bytes.

    The declared size is checked first so an oversized file costs no request.
    The file URL holds the bot token: errors are re-raised without it.
    """
    if ref.size is not None and ref.size > limit:
        raise FileTooBig
    try:
        file = await bot.get_file(ref.handle)
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
    try:
        async with (
            httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT_SECONDS) as client,
            client.stream("GET", url) as response,
        ):
            response.raise_for_status()
            await write_limited(response, target, limit)
    except httpx.HTTPError as exc:
        raise RuntimeError(f"file download failed: {type(exc).__name__}") from None
