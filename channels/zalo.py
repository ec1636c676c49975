"""The Zalo adapter: long polling into an inbox, updates to Inbound events, replies as text.

Receiving. ``getUpdates`` hands over one update per call and has no offset, so
Zalo forgets a message as soon as the call returns. :class:`ZaloChannel` writes
each raw update to ``zalo_inbox`` (storage.models.ZaloInbox) and commits
before handling it, then handles the inbox's unhandled rows in arrival order
and marks each handled. A process that dies in between handles the row after
its restart (:meth:`ZaloChannel.start` drains the inbox first; while running,
each process handles the rows it polled itself); the same
message delivered twice hits the (bot, message id) unique key and is stored,
and so handled, once. Polling and a webhook exclude each other, so start
deletes any webhook first.

Events (:func:`to_inbound`): a text is a command ("/viec 3") or a text
(numbered answers, invite codes); an image is a photo file whose handle is its
``photo_url``, downloaded by :meth:`ZaloChannel.fetch` through the same size
limit and temp file as Telegram's (handlers.base.Fetch). Those URLs expire: an
expired one gets ``texts.ZALO_PHOTO_EXPIRED`` and nothing is stored. Stickers,
voice and anything else get a short "chưa hỗ trợ" saying what to send instead;
a group chat gets one polite line and nothing else. ``Inbound.event_id`` is
the message id (text).

Sending: replies (:meth:`ZaloChannel.deliver`) and the scheduler's sends
(:class:`ZaloOutbound`) go through the text rendering for channels without
buttons (channels.text_rendering: numbered choices, a new message instead of
an edit, at most 2000 characters a message, split on lines) into a
:class:`ZaloSink`, which takes each message's turn from the bot's shared send
budget and maps Zalo's errors onto the sender's. Zalo takes no uploaded files:
the features send links instead (handlers.reports, scheduler.summaries).

A photo whose item is named (caption "3.1.3", or "Gửi minh chứng" pressed
before) is downloaded while its update is handled, seconds after the poll. A
photo waiting for its item to be picked is downloaded when it is picked, and
gets "gửi lại ảnh" if its URL expired meanwhile: downloading every photo on
arrival would download strangers' photos too.

Receiving by webhook: :meth:`ZaloChannel.accept` keeps the posted update in the
same inbox and queues it, so dedup and restarts behave as with polling.
channels.zalo_app.ZaloRunner wires all this into ``python -m bot run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from bot import texts
from channels.text_rendering import TextOutbound, deliver_text
from channels.zalo_api import (
    MAX_TEXT,
    QUOTA_WAIT_SECONDS,
    PhotoExpired,
    ZaloApi,
    ZaloError,
    outcome,
)
from core.conversation import PHOTO, Action, Capabilities, Inbound, IncomingFile, Reply
from core.outbound import Attachment, Blocked, Buttons, RateLimited, Refused, SendError, Transient
from core.send_budget import SendBudget
from handlers import route
from handlers.base import AppState
from storage.db import insert_ignoring_conflicts
from storage.models import ZaloInbox
from storage.types import utcnow

log = logging.getLogger(__name__)

CHANNEL = "zalo"
TEXT = "message.text.received"
IMAGE = "message.image.received"
STICKER = "message.sticker.received"
VOICE = "message.voice.received"
GROUP = "GROUP"
# Where clients found an image's URL [O]: photo_url first, then photo (a URL or an object).
_PHOTO_KEYS = ("photo_url", "photo", "url")
MAX_POLL_BACKOFF_SECONDS = 60.0
STOP_GRACE_SECONDS = 60.0  # as the scheduler's clean stop waits for its tick in flight

CAPABILITIES = Capabilities(
    buttons=False,
    editing=False,
    documents=False,
    max_text=MAX_TEXT,
    max_caption=MAX_TEXT,
    max_choice_data=64,
)

Dispatch = Callable[[Inbound, "ZaloChannel"], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]


# --- in: updates to events ---------------------------------------------------------------------


def message_id_of(update: dict[str, Any]) -> str:
    """The update's message id; for an update without one, a digest of it (still unique)."""
    message = update.get("message")
    if isinstance(message, dict) and message.get("message_id"):
        return str(message["message_id"])[:64]
    raw = json.dumps(update, sort_keys=True, ensure_ascii=False).encode()
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:56]


def to_inbound(update: dict[str, Any]) -> Inbound | None:
    """Who wrote, where, and what: text, command or photo. None when there is nothing we take
    (a sticker, a voice message, …: see :func:`unsupported_answer`) or the update is malformed."""
    message = update.get("message")
    if not isinstance(message, dict):
        return None
    sender, chat = message.get("from") or {}, message.get("chat") or {}
    if not isinstance(sender, dict) or not sender.get("id") or not isinstance(chat, dict):
        return None
    user_id = str(sender["id"])
    who = Inbound(
        channel=CHANNEL,
        user_id=user_id,
        display_name=_name_of(sender),
        chat_id=str(chat.get("id") or user_id),
        event_id=message_id_of(update),
        private=str(chat.get("chat_type") or "PRIVATE").upper() != GROUP,
        raw=update,
    )
    event = update.get("event_name")
    if event == TEXT and isinstance(message.get("text"), str):
        return with_text(who, message["text"])
    if event == IMAGE and (url := photo_url(message)) is not None:
        photo = IncomingFile(url, None, None, None, "image/jpeg", PHOTO)
        caption = message.get("caption")
        return replace(who, files=(photo,), caption=caption if isinstance(caption, str) else None)
    return None if who.private else who  # a group's sticker still gets the one polite line


def _name_of(sender: dict[str, Any]) -> str:
    # display_name in webhook payloads [V]; the docs' getUpdates sample says first_name [D].
    for key in ("display_name", "first_name", "name"):
        if isinstance(sender.get(key), str) and sender[key].strip():
            return str(sender[key]).strip()
    return ""


def with_text(event: Inbound, text: str) -> Inbound:
    """A command ("/viec 3": name lower case, arguments split on spaces) or a plain text."""
    stripped = text.strip()
    if stripped.startswith("/") and len(stripped) > 1:
        name, *args = stripped[1:].split()
        return replace(event, command=name.lower(), args=tuple(args))
    return replace(event, text=text)


def photo_url(message: dict[str, Any]) -> str | None:
    for key in _PHOTO_KEYS:
        value = message.get(key)
        if isinstance(value, dict):
            value = value.get("url") or value.get("photo_url")
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return value
    return None


def unsupported_answer(update: dict[str, Any]) -> str:
    """What to tell someone who sent what we do not take, and what to send instead."""
    event = update.get("event_name")
    if event == STICKER:
        return texts.ZALO_STICKER
    if event == VOICE:
        return texts.ZALO_VOICE
    return texts.ZALO_UNSUPPORTED


async def route_event(event: Inbound, channel: ZaloChannel) -> None:
    """The features' routing, the same for every channel (handlers.route)."""
    run = route(event)
    if run is not None:
        await run(event, channel)


def backoff(failures: int) -> float:
    """Seconds to wait after ``failures`` failed rounds in a row: 2, 4, 8, … up to a minute."""
    return min(MAX_POLL_BACKOFF_SECONDS, 2.0 ** min(failures, 6))


# --- out: text ------------------------------------------------------------------------------


_TAG = re.compile(r"<[^>]+>")


def plain(text: str, *, html_markup: bool) -> str:
    """Zalo shows text as is: HTML markup meant for Telegram is taken out."""
    return html.unescape(_TAG.sub("", text)) if html_markup else text


def send_error(error: ZaloError) -> SendError:
    """A failed send as the sender's errors (see channels.zalo_api.ERROR_CODES)."""
    description = str(error)
    kind = outcome(error)
    if kind == "rate_limited":
        return RateLimited(description, QUOTA_WAIT_SECONDS)
    if kind == "blocked":
        return Blocked(description)
    if kind == "refused":
        return Refused(description)
    return Transient(description)  # network errors, 5xx, and Zalo's 403 and 408


@dataclass
class ZaloSink:
    """Zalo's sending calls for the text rendering (channels.text_rendering.TextSink).

    Each message first takes its turn from the bot's shared ``budget``: the whole bot's
    rate, and with ``each_chat`` (the scheduler's sends) the chat's one a second too, which
    holds across processes (replies leave it out: a reply waiting on it would hold up the
    user's next message). Zalo's quota error pauses the budget, for
    every process, and the message is tried again after the pause, up to ``quota_retries``
    times; a 5xx or a dropped connection is tried again ``transient_retries`` times after a
    back-off (replies: the scheduler's sender retries its own messages). Then the error
    reaches the caller as core.outbound's. Zalo takes no uploaded files: see send_file.
    """

    api: ZaloApi
    budget: SendBudget | None = None
    files_on_web: bool = False  # the web server runs: the features send files as links
    quota_retries: int = 3
    transient_retries: int = 0
    each_chat: bool = False

    async def send_text(self, chat_id: str, text: str) -> int | None:
        """One message; Zalo's ids are strings, so none is returned."""
        quota = failures = 0
        while True:
            if self.budget is not None:
                await self.budget.wait_turn(str(chat_id) if self.each_chat else None)
            try:
                await self.api.send_message(str(chat_id), text)
                return None
            except ZaloError as exc:
                error = send_error(exc)
            if isinstance(error, RateLimited) and self.budget is not None:
                await self.budget.pause(error.seconds)  # every process waits
                quota += 1
                if quota <= self.quota_retries:
                    continue
            elif isinstance(error, Transient) and failures < self.transient_retries:
                failures += 1
                await self._sleep(backoff(failures))
                continue
            raise error

    async def send_file(
        self, chat_id: str, name: str, content: bytes | Path, *, caption: str | None, photo: bool
    ) -> int | None:
        """Zalo takes pictures only as public URLs and no documents at all: the caption goes
        as text, with a line saying where the file is (the features add its link when the
        web server runs) or that files need the web side."""
        line = texts.ZALO_FILE_ON_WEB if self.files_on_web else texts.FILES_NEED_WEB
        return await self.send_text(chat_id, "\n\n".join(filter(None, [caption, line])))

    async def _sleep(self, seconds: float) -> None:
        await (self.budget.sleep(seconds) if self.budget is not None else asyncio.sleep(seconds))


@dataclass
class ZaloOutbound(TextOutbound):
    """The scheduler's sending side (core.outbound.Outbound): the text rendering over a
    :class:`ZaloSink` (numbered choices kept for the chat, 2000-character parts), with any
    HTML meant for Telegram taken out."""

    async def send(
        self,
        chat_id: int | str,
        text: str,
        *,
        buttons: Buttons | None = None,
        html: bool = False,
        attachment: Attachment | None = None,
    ) -> int | None:
        text = plain(text, html_markup=html)
        return await super().send(chat_id, text, buttons=buttons, attachment=attachment)


def zalo_outbound(app: AppState, sink: ZaloSink) -> ZaloOutbound:
    pace = app.settings.zalo_messages_per_second  # ZaloSink's budget (channels.zalo_app)
    return ZaloOutbound(CHANNEL, sink, CAPABILITIES, app.sessions, app.clock, pace)


# --- the channel -------------------------------------------------------------------------------


@dataclass
class ZaloChannel:
    """One Zalo bot: ``await start()`` polls and handles until ``await stop()``.

    ``dispatch`` runs one event (default: the features' routing); ``sleep`` is
    the back-off between failed polls (tests pass one that does not wait).
    """

    app: AppState
    api: ZaloApi
    sink: ZaloSink | None = None  # default: straight to the API, without a budget
    dispatch: Dispatch = route_event
    sleep: Sleep = asyncio.sleep
    poll_seconds: int = 30
    name: str = CHANNEL
    capabilities: Capabilities = field(default=CAPABILITIES)
    _poller: asyncio.Task[None] | None = None
    _worker: asyncio.Task[None] | None = None
    # Inbox rows this process polled, to handle in order (rows other processes polled are
    # theirs; rows a dead process left are drained by the next start).
    _queue: asyncio.Queue[int | None] = field(default_factory=asyncio.Queue)
    _stopping: bool = False

    def __post_init__(self) -> None:
        self.sink = self.sink or ZaloSink(self.api)

    @property
    def out(self) -> ZaloSink:
        assert self.sink is not None  # set by __post_init__
        return self.sink

    @property
    def bot(self) -> str:
        return self.api.bot_id

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self, *, poll: bool = True) -> None:
        """Handle what the inbox kept from before, then handle what comes: by polling
        (``poll``: any webhook is deleted first, as they exclude each other) or from
        :meth:`accept` (the webhook route, once setWebhook is done)."""
        self._stopping = False
        if poll:
            await self.api.delete_webhook()
        await self.handle_inbox()
        if poll:
            self._poller = asyncio.create_task(self._poll(), name="zalo-poll")
        self._worker = asyncio.create_task(self._work(), name="zalo-inbox")

    async def accept(self, update: dict[str, Any]) -> None:
        """A webhook's update: kept in the inbox (committed) before the route answers 200,
        then handled in turn; a redelivered message is kept, and handled, once."""
        if not isinstance(update.get("message"), dict) and not update.get("event_name"):
            raise ValueError("not a Zalo update")
        row_id = await self.keep(update)
        if row_id is not None:
            self._queue.put_nowait(row_id)

    async def stop_polling(self) -> None:
        """Take no new updates (the update in hand and the queue go on until stop)."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None

    async def stop(self, *, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop polling, let the update in hand finish (up to ``grace`` seconds), then stop.

        Updates polled but not handled stay in the inbox for the next start.
        """
        self._stopping = True
        self._queue.put_nowait(None)  # wakes an idle worker
        tasks = [task for task in (self._poller, self._worker) if task is not None]
        if self._poller is not None:
            self._poller.cancel()
        if self._worker is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._worker), grace)
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._poller = self._worker = None

    # --- receiving ------------------------------------------------------------------------------

    async def _poll(self) -> None:
        failures = 0
        while True:
            try:
                update = await self.api.get_update(poll_seconds=self.poll_seconds)
                row_id = None if update is None else await self.keep(update)
                if row_id is not None:
                    self._queue.put_nowait(row_id)
            except ZaloError as exc:  # token-free by construction
                failures += 1
                log.warning("Zalo getUpdates failed (%s); polling again", exc)
            except Exception:  # the database, say: log it and keep polling
                failures += 1
                log.exception("could not keep a Zalo update")
            else:
                failures = 0
            if failures:
                await self.sleep(backoff(failures))

    async def _work(self) -> None:
        while (row_id := await self._queue.get()) is not None and not self._stopping:
            failures = 0
            while not self._stopping:
                try:
                    await self._handle_row(row_id)
                    break
                except Exception:  # the database: the row stays unhandled; try it again
                    failures += 1
                    log.exception("could not handle a row of the Zalo inbox")
                    await self.sleep(backoff(failures))

    async def keep(self, update: dict[str, Any]) -> int | None:
        """Commit the raw update to the inbox: its row id, None if the message was there."""
        async with self._writer(), self.app.sessions() as session:
            statement = (
                insert_ignoring_conflicts(session, ZaloInbox)
                .values(bot=self.bot, message_id=message_id_of(update), raw=update)
                .on_conflict_do_nothing(index_elements=["bot", "message_id"])
                .returning(ZaloInbox.id)
            )
            row_id = await session.scalar(statement)
            await session.commit()
        return row_id

    async def handle_inbox(self) -> int:
        """Handle every unhandled update of this bot, oldest first (what a process that died
        left, at start); how many were handled."""
        handled = 0
        while not self._stopping and (row_ids := await self._unhandled()):
            for row_id in row_ids:
                if self._stopping:
                    break
                handled += await self._handle_row(row_id)
        return handled

    async def _unhandled(self) -> list[int]:
        query = (
            select(ZaloInbox.id)
            .where(ZaloInbox.bot == self.bot, ZaloInbox.handled_at.is_(None))
            .order_by(ZaloInbox.id)
            .limit(50)
        )
        async with self.app.sessions() as session:
            return list((await session.scalars(query)).all())

    async def _handle_row(self, row_id: int) -> bool:
        """Handle one row unless it was handled meanwhile (by a twin process); then mark it."""
        query = select(ZaloInbox.raw).where(ZaloInbox.id == row_id, ZaloInbox.handled_at.is_(None))
        async with self.app.sessions() as session:
            raw = await session.scalar(query)
        if raw is None:
            return False
        await self._handle(raw)
        await self._mark_handled(row_id)
        return True

    async def _mark_handled(self, row_id: int) -> None:
        async with self._writer(), self.app.sessions() as session:
            await session.execute(
                update(ZaloInbox).where(ZaloInbox.id == row_id).values(handled_at=utcnow())
            )
            await session.commit()

    async def _handle(self, raw: dict[str, Any]) -> None:
        """One update: never raises, so that one bad message cannot stop the inbox."""
        event = to_inbound(raw)
        try:
            if event is None:
                await self._answer_raw(raw, unsupported_answer(raw))
            elif not event.private:
                await self.deliver(event, [Reply(texts.PRIVATE_ONLY)])
            else:
                await self._dispatch(event)
        except Exception:
            log.exception("error while handling a Zalo update")
            if event is not None:
                with contextlib.suppress(Exception):
                    await self.deliver(event, [Reply(texts.ERROR)])

    async def _dispatch(self, event: Inbound) -> None:
        try:
            await self.dispatch(event, self)
        except PhotoExpired:
            await self.deliver(event, [Reply(texts.ZALO_PHOTO_EXPIRED)])

    async def _answer_raw(self, raw: dict[str, Any], text: str) -> None:
        message = raw.get("message")
        chat = message.get("chat") if isinstance(message, dict) else None
        if isinstance(chat, dict) and chat.get("id"):
            await self.out.send_text(str(chat["id"]), text)

    def _writer(self) -> contextlib.AbstractAsyncContextManager[object]:
        # SQLite has one writer: take the process's turn, as the features do (handlers.base).
        return self.app.writer if self.app.settings.is_sqlite else contextlib.nullcontext()

    # --- what the features need (handlers.base.Channel) -----------------------------------------

    async def fetch(self, file: IncomingFile, target: Path, *, limit: int) -> None:
        """Download the photo now (its URL expires): FileTooBig past ``limit``, PhotoExpired
        when the URL no longer works."""
        await self.api.download(file.handle, target, limit=limit)

    async def deliver(self, event: Inbound, actions: Sequence[Action]) -> None:
        """The replies through the text rendering: numbered choices, 2000-character parts."""
        await deliver_text(self.app, self.capabilities, self.out, event, actions)
