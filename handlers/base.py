"""The frame every feature runs in, whatever the channel.

A channel adapter (channels/telegram.py) turns an update into an
:class:`~core.conversation.Inbound` event and calls the :data:`Handler` the
router picked (handlers.route). Each event gets one database session and one
transaction. Inside it we look up who is asking (an officer; only failing
that, a province user of no unit, who may run just the features marked
``province=True``), claim the event's id in ``processed_updates`` (a
redelivered event finds it claimed and is ignored), check their role, and run
the feature's function. That function returns what
to say (:class:`Reply`) instead of saying it: the adapter renders the replies
only after the transaction commits, so the bot never confirms a change that
was rolled back. Conversation state (handlers.state) is read and written in
that same transaction; anything else to do afterwards waits for the commit
(:meth:`Request.after_commit`).

A feature that only reads (``@handler(..., reads_only=True)``: lists, cards,
help) runs first and claims the event last, so that on SQLite it holds the
writer's turn for the claim and its conversation-state writes only; a twin's
result is dropped unseen.

A feature that must download a user's file returns :class:`Fetch` instead:
the first transaction (the claim, the checks) commits, the channel fetches the
file to disk with no database lock held, and ``Fetch.finish`` then runs in a
second transaction of the same frame (officer reloaded, role re-checked). A
crash between the two loses that one file (the user sends it again); the
event is never handled twice.

Feature code never touches the session factory, the clock or the settings
directly; it gets them on the :class:`Request`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import wraps
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.settings import Settings
from core.accounts import PROVINCE_USER_ASKING, WHO_IS_ASKING
from core.conversation import (
    Action,
    Capabilities,
    Inbound,
    IncomingFile,
    MenuChange,
    Option,
    Reply,
    as_actions,
)
from core.evidence import MAX_EVIDENCE_BYTES, new_incoming_path
from core.officers import activity_is_stale, note_activity
from core.text import parse_whole_number
from storage.db import prepared_insert_ignoring
from storage.models import ChannelAccount, Officer, ProcessedUpdate, ProvinceUser, Unit

__all__ = ["Action", "Inbound", "IncomingFile", "MenuChange", "Option", "Reply"]

log = logging.getLogger(__name__)

TELEGRAM = "telegram"
Clock = Callable[[], datetime]


def utc_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AppState:
    """What every feature needs from the running program, whichever channels it serves."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock = utc_clock
    # SQLite's one writer, as an asyncio lock shared by every channel of this process
    # (see _one_writer).
    writer: asyncio.Lock = field(default_factory=asyncio.Lock, compare=False)
    # Bot usernames by channel, as each channel learns its own at start (Telegram's, from
    # getMe in channels.telegram_app.start_bot): its invite links work from any channel.
    bot_usernames: dict[str, str] = field(default_factory=dict, compare=False)
    # Albums arriving in this process (handlers.state.AlbumSlot), by channel, chat, user, album.
    albums: dict[tuple[str, ...], Any] = field(default_factory=dict, compare=False)


class Channel(Protocol):
    """What the frame and the features need from a channel adapter."""

    name: str
    capabilities: Capabilities
    app: AppState

    async def fetch(self, file: IncomingFile, target: Path, *, limit: int) -> None:
        """Download ``file`` to ``target``; FileTooBig past ``limit`` bytes."""

    async def deliver(self, event: Inbound, actions: Sequence[Action]) -> None:
        """Say what the feature returned, in answer to ``event``."""


StateWrite = Callable[[AsyncSession], Awaitable[None]]


@dataclass
class Request:
    session: AsyncSession
    officer: Officer | None
    unit: Unit | None
    event: Inbound
    channel: Channel
    settings: Settings
    now: datetime
    reads_only: bool = False
    # The asker's linked account on this channel (None for a stranger).
    account: ChannelAccount | None = None
    # A province user (Sở Nội vụ, of no unit) asking; then officer and unit are None.
    province_user: ProvinceUser | None = None
    # Answers worth keeping for the rest of this event (e.g. "may they update item 12?").
    memo: dict[Any, Any] = field(default_factory=dict)
    # What to do once the transaction has committed.
    post_commit: list[Callable[[], None]] = field(default_factory=list)
    # A read-only feature's conversation-state writes, run with its claim.
    deferred: list[StateWrite] = field(default_factory=list)

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once this event's transaction commits; never if it does not."""
        self.post_commit.append(action)

    async def write(self, change: StateWrite) -> None:
        """A conversation-state write: now, or with the claim for a read-only feature."""
        if self.reads_only:
            self.deferred.append(change)
        else:
            await change(self.session)

    @property
    def user_id(self) -> str:
        return self.event.user_id

    @property
    def display_name(self) -> str:
        return self.event.display_name

    @property
    def source_id(self) -> str:
        """Idempotency key for rows this event writes (progress, evidence)."""
        return self.event.event_id

    @property
    def actor(self) -> str:
        return f"{self.event.channel}:{self.event.user_id}"

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
        """Listed in ADMINS or ADMIN_TELEGRAM_IDS: may import a plan before any unit exists."""
        return (self.event.channel, self.event.user_id) in self.settings.admin_accounts


Replies = Action | Sequence[Action] | None
Finish = Callable[["Request", list[Path]], Awaitable[Replies]]


@dataclass
class Fetch:
    """Download ``files`` outside any transaction, then run ``finish`` in a new one.

    ``finish`` gets one downloaded path per file, in order, and may consume
    them (move them away); whatever is left is deleted afterwards.
    """

    files: Sequence[IncomingFile]
    finish: Finish
    too_big: Reply | None = None  # what to say when a file is over the limit
    limit: int = MAX_EVIDENCE_BYTES
    # Reads the downloaded files before the transaction: on SQLite the transaction holds
    # the writer's turn, and a big file parsed inside it would hold up everyone's claim.
    prepare: Callable[[list[Path]], Awaitable[None]] | None = None


Result = Replies | Fetch
Feature = Callable[[Inbound, Request], Awaitable[Result]]
Handler = Callable[[Inbound, Channel], Awaitable[None]]

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


def permitted(request: Request, who: str, province: bool) -> bool:
    """``who`` for officers and strangers; a province user only where ``province`` says so
    (and only while active): they are of no unit, so no unit's feature is theirs."""
    if request.province_user is not None:
        return province and request.province_user.active
    return allowed(request.officer, who)


def handler(
    who: str = OFFICER, *, reads_only: bool = False, province: bool = False
) -> Callable[[Feature], Handler]:
    """Wrap a feature function in the per-event frame described in the module docstring.

    ``reads_only``: the feature writes nothing but conversation state (a list,
    a card), so the frame runs it before taking the writer's turn, and claims
    the event last. ``province``: a province user may run it too (/start, /help,
    /web); everything else answers them with one line pointing to /web.
    """

    def decorate(feature: Feature) -> Handler:
        @wraps(feature)
        async def run(event: Inbound, channel: Channel) -> None:
            if not event.private:
                await private_chats_only(event, channel)
                return
            rule = (who, province)
            result = await _run_in_transaction(
                feature, rule, event, channel, claim=True, reads_only=reads_only
            )
            replies = (
                await _fetch_then_finish(result, rule, event, channel)
                if isinstance(result, Fetch)
                else result
            )
            if replies is not None:
                await channel.deliver(event, as_actions(replies))

        return run

    return decorate


async def private_chats_only(event: Inbound, channel: Channel) -> None:
    """A group chat gets one polite line and nothing else: no data, no state, no claim.

    Everything the bot says (items, names, invite links, evidence) is for one
    person; in a group every member would read, and could use, it. Plain chatter
    not addressed to the bot (a group without privacy mode) gets nothing at all.
    """
    if event.text is not None and event.replied_text is None:
        return
    await channel.deliver(event, [Reply(texts.PRIVATE_ONLY)])


async def is_known(channel: Channel, event: Inbound) -> bool:
    """Whether the sender is an officer (active or not): asked before anything that waits
    or downloads on their behalf, so that a stranger cannot hold up the bot."""
    async with channel.app.sessions() as session:
        officer, _, _ = await _officer_asking(session, event)
    return officer is not None


Rule = tuple[str, bool]  # who may run a feature, and whether province users may


async def _run_in_transaction(
    feature: Feature,
    rule: Rule,
    event: Inbound,
    channel: Channel,
    *,
    claim: bool,
    reads_only: bool = False,
) -> Result:
    """One transaction: who is asking, the claim, the role check, the feature."""
    if reads_only:
        return await _read_then_claim(feature, rule, event, channel)
    app = channel.app
    async with _one_writer(app), app.sessions() as session:
        request = await _request(session, event, channel)
        if claim and not await claim_update(
            session, event.event_id, request.officer, channel=event.channel
        ):
            log.info("event %s already handled; ignored", event.event_id)
            return None
        if permitted(request, *rule):
            await _note_activity(request)
            result = await feature(event, request)
        else:
            result = _refusal(request)
        await session.commit()
    _run_after_commit(request)
    return result


async def _read_then_claim(
    feature: Feature, rule: Rule, event: Inbound, channel: Channel
) -> Result:
    """A feature that only reads runs before the writer's turn; the claim comes last.

    On SQLite the transaction is a writer's from its first write to its
    commit, and writers take turns (see _one_writer): this way a list or a
    card holds the turn for the claim (and its conversation-state writes)
    alone. The reads' connection goes back to the pool before waiting for the
    turn, so that nobody waits for the turn while holding a connection the
    turn's holder may need. If the claim finds a twin handled the event
    already, what the feature computed is dropped, and neither its state
    writes nor its Request.after_commit actions happen.
    """
    app = channel.app
    async with app.sessions() as reading:
        request = await _request(reading, event, channel, reads_only=True)
        if permitted(request, *rule):
            result = await feature(event, request)
        else:
            result = _refusal(request)
        if reading.new or reading.dirty or reading.deleted:
            raise RuntimeError(f"{feature.__name__} is marked reads_only but changed rows")
    async with _one_writer(app), app.sessions() as session:
        if not await claim_update(session, event.event_id, request.officer, channel=event.channel):
            log.info("event %s already handled; ignored", event.event_id)
            return None
        seen = request.officer  # as the reads found them; loaded again only to write
        account = request.account
        if seen is not None and seen.active and activity_is_stale(seen, account, request.now):
            officer = await session.get(Officer, seen.id)
            mine = await session.get(ChannelAccount, account.id) if account else None
            if officer is not None:
                await note_activity(session, officer=officer, account=mine, now=request.now)
        for change in request.deferred:
            await change(session)
        await session.commit()
    _run_after_commit(request)
    return result


async def _request(
    session: AsyncSession, event: Inbound, channel: Channel, *, reads_only: bool = False
) -> Request:
    app = channel.app
    officer, unit, account = await _officer_asking(session, event)
    province_user = None
    if officer is None:
        province_user, account = await _province_user_asking(session, event)
    return Request(
        session=session,
        officer=officer,
        unit=unit,
        account=account,
        province_user=province_user,
        event=event,
        channel=channel,
        settings=app.settings,
        now=app.clock(),
        reads_only=reads_only,
    )


async def _officer_asking(
    session: AsyncSession, event: Inbound
) -> tuple[Officer | None, Unit | None, ChannelAccount | None]:
    """The officer whose account on the event's channel sent it, or (None, None, None)."""
    found = (
        await session.execute(
            WHO_IS_ASKING, {"channel": event.channel, "external_id": event.user_id}
        )
    ).first()
    return (found[0], found[1], found[2]) if found is not None else (None, None, None)


async def _province_user_asking(
    session: AsyncSession, event: Inbound
) -> tuple[ProvinceUser | None, ChannelAccount | None]:
    """The province user whose account sent the event, or (None, None): asked only when no
    officer did, so an officer's event costs no second query."""
    found = (
        await session.execute(
            PROVINCE_USER_ASKING, {"channel": event.channel, "external_id": event.user_id}
        )
    ).first()
    return (found[0], found[1]) if found is not None else (None, None)


async def _note_activity(request: Request) -> None:
    officer = request.officer
    if officer is not None and officer.active:
        await note_activity(
            request.session, officer=officer, account=request.account, now=request.now
        )


def _run_after_commit(request: Request) -> None:
    for action in request.post_commit:
        action()


def writer_turn(app: AppState) -> contextlib.AbstractAsyncContextManager[object]:
    """SQLite's writer's turn (see _one_writer), for a small write outside a feature."""
    return _one_writer(app)


def _one_writer(app: AppState) -> contextlib.AbstractAsyncContextManager[object]:
    """On SQLite, one feature transaction at a time in this process.

    Every feature writes (its claim), and SQLite has one writer. The driver makes
    writers take turns from their first write (storage.sqlite_driver.WriterTurn,
    which lets the features go before the tick); this turn, taken before the
    feature's first read, also keeps its reads and its writes together: no other
    feature of this process commits in between. PostgreSQL needs nothing of the kind.
    """
    return app.writer if app.settings.is_sqlite else contextlib.nullcontext()


async def claim_update(
    session: AsyncSession,
    update_id: int | str,
    officer: Officer | None,
    *,
    channel: str = TELEGRAM,
) -> bool:
    """Record that this event is being handled; False if it already was.

    One INSERT … ON CONFLICT DO NOTHING, in the feature's transaction: a twin
    handled at the same moment by another worker waits for it and inserts
    nothing, and a feature that fails rolls its claim back with the rest.
    """
    values = {
        "channel": channel,
        "update_id": update_id,
        "unit_id": officer.unit_id if officer else None,
        "processed_at": datetime.now(UTC),
    }
    claim = prepared_insert_ignoring(
        session, ProcessedUpdate, columns=tuple(values), unique=("channel", "update_id")
    )
    result = await session.execute(claim, values)
    return bool(getattr(result, "rowcount", 0) == 1)


def _refusal(request: Request) -> Reply:
    officer = request.officer
    as_alert = request.event.choice is not None
    if request.province_user is not None:
        text = texts.PROVINCE_WEB_ONLY if request.province_user.active else texts.INACTIVE
        return Reply(text, alert=text[:190] if as_alert else None)
    if officer is None:
        if request.is_configured_admin:
            return Reply(texts.ADMIN_WITHOUT_UNIT, alert=texts.NOT_ALLOWED if as_alert else None)
        return Reply(texts.STRANGER, alert=texts.STRANGER[:190] if as_alert else None)
    if not officer.active:
        return Reply(texts.INACTIVE)
    return Reply(texts.NOT_ALLOWED, alert=texts.NOT_ALLOWED if as_alert else None)


# --- files: download outside the transaction -------------------------------------------------


class FileTooBig(Exception):
    """The channel (or the stream) says the file is over the limit; nothing was kept."""


async def _fetch_then_finish(fetch: Fetch, rule: Rule, event: Inbound, channel: Channel) -> Replies:
    paths: list[Path] = []
    try:
        try:
            for file in fetch.files:
                target = new_incoming_path(channel.app.settings.evidence_dir)
                paths.append(target)
                await channel.fetch(file, target, limit=fetch.limit)
        except FileTooBig:
            return fetch.too_big or Reply(texts.FILE_TOO_BIG)
        if fetch.prepare is not None:
            await fetch.prepare(list(paths))

        async def finish(event: Inbound, request: Request) -> Result:
            return await fetch.finish(request, list(paths))

        result = await _run_in_transaction(finish, rule, event, channel, claim=False)
        if isinstance(result, Fetch):
            raise TypeError("Fetch.finish must return replies, not another Fetch")
        return result
    finally:
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


# --- choices ---------------------------------------------------------------------------------

MAX_CHOICE_DATA = 64  # bytes: Telegram's limit, the smallest of the channels'


def callback_data(*parts: Any) -> str:
    """Compact choice data ("card:123") that fits every channel."""
    data = ":".join(str(part) for part in parts)
    if len(data.encode()) > MAX_CHOICE_DATA:
        raise ValueError(f"callback data too long: {data!r}")
    return data


def callback_parts(event: Inbound, count: int) -> list[str]:
    """The picked choice's data split on ":", padded with "" to ``count`` parts.

    Only a parse: the values are untrusted until the feature checks them in the database.
    """
    parts = (event.choice or "").split(":") if event.choice is not None else []
    return [*parts, *([""] * count)][:count]


# Ids and page numbers: PostgreSQL's INTEGER columns stop here.
MAX_SMALL_NUMBER = 2**31 - 1


def as_int(text: str) -> int | None:
    """A typed or forged number (an id, a page, a percent); None unless plain digits in range."""
    return parse_whole_number(text, maximum=MAX_SMALL_NUMBER)
