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

Sending (:class:`ZaloOutbound`, and :meth:`ZaloChannel.deliver` for replies):
text only, at most 2000 characters a message, longer texts split on line
boundaries (:func:`split_text`); no buttons, no editing, no documents, so a
reply's choices, documents and photos are not sent yet (the text rendering
for channels without buttons, and signed links, come later).

A photo whose item is named (caption "3.1.3", or "Gửi minh chứng" pressed
before) is downloaded while its update is handled, seconds after the poll. A
photo waiting for its item to be picked is downloaded when it is picked, and
gets "gửi lại ảnh" if its URL expired meanwhile: downloading every photo on
arrival would download strangers' photos too, until officers can link Zalo.

Wiring, for ``python -m bot run`` (still to come)::

    async with ZaloApi(token, base_url=settings.zalo_api_base_url) as api:
        channel = ZaloChannel(app=app_state, api=api)  # dispatch=route_event by default
        await channel.start()   # deletes the webhook, drains the inbox, polls
        ...                     # ZaloOutbound(api) is the scheduler's sending side
        await channel.stop()    # waits for the update in hand
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


# --- out: text -------------------------------------------------------------------------------


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Parts of at most ``limit`` characters, cut after a line where possible.

    A simple splitter: the text rendering for channels without buttons may
    replace it. A single line longer than ``limit`` is cut inside.
    """
    parts: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        if len(current) + len(line) > limit:
            parts.append(current)
            current = ""
        current += line
    if current:
        parts.append(current)
    return [part.strip("\n") or part for part in parts if part.strip()]


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


class ZaloOutbound:
    """core.outbound.Outbound for Zalo: one attempt, text only (see the module docstring)."""

    name = CHANNEL

    def __init__(self, api: ZaloApi) -> None:
        self.api = api

    async def send(
        self,
        chat_id: int | str,
        text: str,
        *,
        buttons: Buttons | None = None,
        html: bool = False,
        attachment: Attachment | None = None,
    ) -> int | None:
        """Send the text, split into parts of 2000 characters; buttons are not sent, and a
        file alone is refused (Zalo takes photos as public URLs only). Zalo's message ids are
        strings, so none is returned."""
        parts = split_text(plain(text, html_markup=html))
        if not parts:
            raise Refused("Zalo: nothing to send (files need a public link)")
        for part in parts:
            try:
                await self.api.send_message(str(chat_id), part)
            except ZaloError as exc:
                raise send_error(exc) from None
        return None


# --- the channel -------------------------------------------------------------------------------


@dataclass
class ZaloChannel:
    """One Zalo bot: ``await start()`` polls and handles until ``await stop()``.

    ``dispatch`` runs one event (default: the features' routing); ``sleep`` is
    the back-off between failed polls (tests pass one that does not wait).
    """

    app: AppState
    api: ZaloApi
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

    @property
    def bot(self) -> str:
        return self.api.bot_id

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Delete any webhook, handle what the inbox kept from before, then poll and handle."""
        self._stopping = False
        await self.api.delete_webhook()
        await self.handle_inbox()
        self._poller = asyncio.create_task(self._poll(), name="zalo-poll")
        self._worker = asyncio.create_task(self._work(), name="zalo-inbox")

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
            await self.api.send_message(str(chat["id"]), text)

    def _writer(self) -> contextlib.AbstractAsyncContextManager[object]:
        # SQLite has one writer: take the process's turn, as the features do (handlers.base).
        return self.app.writer if self.app.settings.is_sqlite else contextlib.nullcontext()

    # --- what the features need (handlers.base.Channel) -----------------------------------------

    async def fetch(self, file: IncomingFile, target: Path, *, limit: int) -> None:
        """Download the photo now (its URL expires): FileTooBig past ``limit``, PhotoExpired
        when the URL no longer works."""
        await self.api.download(file.handle, target, limit=limit)

    async def deliver(self, event: Inbound, actions: Sequence[Action]) -> None:
        """Each reply's text, split to fit; menus, choices, edits and files are not sent yet."""
        for action in actions:
            if not isinstance(action, Reply):
                continue  # a command menu: Zalo has none
            try:
                for part in split_text(plain(action.text, html_markup=action.html)):
                    await self.api.send_message(event.chat_id, part)
            finally:
                if action.after is not None:
                    action.after()
