"""The one sender every outbound message goes through: paced, retried, claimed.

It holds one adapter per running channel (``{"telegram": …, "zalo": …}``); every message
names the channel it goes through (the first adapter given when it does not). Pacing and
retries are the same for every channel for now (per-channel budgets come with Zalo).

Pacing, to stay under Telegram's flood limits without being told off (429):

* **Overall**: a smooth pacer lets one request leave every ``1 / overall_per_second`` seconds
  (29.5/s by default, a hair under 30, so that no sliding one-second window ever holds 31).
  The gap is measured from when the previous request actually left, not from when it was due,
  so a request that left late cannot squeeze the next one against it. A bucket that allowed a
  burst of 30 and then refilled would break a sliding-window limit at the seam.
* **Per chat** (a channel's chat): requests to one chat leave at least ``per_chat_interval``
  (1 s) apart, or ``group_interval`` (3 s) for a group (negative chat id), which Telegram
  holds to 20 a minute.
  They leave in order: a lock per chat is held across a message's retries.
* **In flight**: at most ``max_in_flight`` requests await an answer at once, so network latency
  does not cap throughput below the limit.

Errors, as the channel adapter (core.outbound.Outbound) reports them: ``RateLimited`` waits the
time asked and retries the same message (not a failure; the whole pacer pauses as well, since
the limit is the bot's, not the chat's); ``Transient`` (network errors, time outs, 5xx) backs off
exponentially with jitter, up to ``max_retries``; ``Blocked`` (the user blocked the bot) is
``blocked``; ``Refused`` and anything else from the adapter is ``failed``. The adapter (Telegram's
is channels.telegram.TelegramOutbound) maps its API's errors onto these.

Time is injected (``clock`` monotonic seconds, ``sleep``), so tests drive it without sleeping.
Message texts are never logged above DEBUG; errors are logged without them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.outbound import (
    Attachment,
    Blocked,
    Buttons,
    Outbound,
    RateLimited,
    SendError,
    Transient,
    describe,
)
from scheduler.delivery import claim, mark_failed, mark_sent, record_chat
from storage.types import utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")
Status = Literal["sent", "blocked", "failed"]
# "unreachable": claimed for a person none of whose accounts can be reached.
Outcome = Literal["sent", "blocked", "failed", "duplicate", "unreachable"]
OnBlocked = Callable[[int], Awaitable[None]]
ChatKey = tuple[str, str]  # (channel, chat id as text)

# How many deliveries a fan-out runs side by side, at most. Each holds a claim before it is
# sent, so after a crash at most this many wait for the stale-claim timeout; 16 keeps 30/s
# flowing with ~0.5 s of latency per message (claim + send + mark).
FANOUT_CONCURRENCY = 16
SECONDS_PER_DELIVERY = 0.5


def fanout_concurrency(per_second: float) -> int:
    """Deliveries side by side for a channel that takes ``per_second`` messages: enough to
    keep it busy, one spare, never more than FANOUT_CONCURRENCY (Telegram's 30/s: 16;
    Zalo's 5/s: 4). More would only wait for the budget, each holding a claim; and a unit's
    deliveries start together, a burst of claims the conversation's writes would wait
    behind (bench/mixed_channels.py: 16 of them at Zalo's pace put a unit's start into
    Telegram replies' p99)."""
    needed = math.ceil(per_second * SECONDS_PER_DELIVERY) + 1
    return max(2, min(FANOUT_CONCURRENCY, needed))


@dataclass(frozen=True)
class _Payload:
    text: str
    buttons: Buttons | None
    html: bool
    attachment: Attachment | None


@dataclass(frozen=True)
class SendResult:
    status: Status
    message_id: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class OutgoingMessage:
    chat_id: int | str
    text: str
    buttons: Buttons | None = None
    html: bool = False
    channel: str | None = None  # None: the sender's first channel


async def gather_bounded(factories: Iterable[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    """Run the coroutines the factories make, at most ``limit`` at a time; results in order.

    Factories rather than coroutines so that thousands of pending jobs are not thousands of
    coroutine objects (and none is created, then never awaited, if a worker fails).
    """
    jobs = list(enumerate(factories))
    results: list[Any] = [None] * len(jobs)
    queue = iter(jobs)

    async def worker() -> None:
        for index, factory in queue:  # a shared iterator: each job is taken once
            results[index] = await factory()

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, min(limit, len(jobs)))):
            group.create_task(worker())
    return results


class Sender:
    """Sends through the running channels' adapters (core.outbound.Outbound), within limits."""

    def __init__(
        self,
        channels: Outbound | Mapping[str, Outbound],
        *,
        overall_per_second: float = 29.5,
        per_chat_interval: float = 1.0,
        group_interval: float = 3.0,
        max_retries: int = 5,
        max_flood_waits: int = 10,
        max_in_flight: int = 32,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if isinstance(channels, Mapping):
            self.channels: dict[str, Outbound] = dict(channels)
        else:
            self.channels = {channels.name: channels}
        if not self.channels:
            raise ValueError("a Sender needs at least one channel adapter")
        self.interval = 1.0 / overall_per_second
        self.per_chat_interval = per_chat_interval
        self.group_interval = group_interval
        self.max_retries = max_retries
        self.max_flood_waits = max_flood_waits
        self.max_in_flight = max_in_flight
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._clock = clock or time.monotonic
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._gate = asyncio.Lock()  # one request at a time decides when it may leave
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._last_departure = float("-inf")
        self._paused_until = float("-inf")
        self._chat_last: dict[ChatKey, float] = {}
        self._chat_locks: dict[ChatKey, tuple[asyncio.Lock, int]] = {}

    @property
    def channel(self) -> Outbound:
        """The first channel's adapter: where a message naming no channel goes."""
        return next(iter(self.channels.values()))

    def fanout_concurrency(self, channel: str) -> int:
        """How many deliveries to run side by side on the channel (:func:`fanout_concurrency`)."""
        return fanout_concurrency(self.channels[channel].per_second)

    def _key(self, chat_id: int | str, channel: str | None) -> ChatKey:
        name = channel or self.channel.name
        if name not in self.channels:
            raise KeyError(f"no running adapter for channel {name!r}")
        return name, str(chat_id)

    # ------------------------------------------------------------------ sending

    async def send(
        self,
        chat_id: int | str,
        text: str,
        *,
        buttons: Buttons | None = None,
        html: bool = False,
        attachment: Attachment | None = None,
        channel: str | None = None,
    ) -> SendResult:
        """Send one message, retrying as the module docstring says; never raises API errors.

        With an ``attachment`` the message is a photo or a document and ``text`` its caption.
        ``channel``: the adapter's name (None: the first); KeyError if none runs under it.
        """
        payload = _Payload(text, buttons, html, attachment)
        chat = self._key(chat_id, channel)
        async with self._chat_turn(chat):
            return await self._send_with_retries(chat, payload)

    async def send_many(
        self, messages: Iterable[OutgoingMessage], *, concurrency: int | None = None
    ) -> list[SendResult]:
        """Send many messages as fast as the limits allow; results in the messages' order."""
        jobs = [self._job(m) for m in messages]
        return await gather_bounded(jobs, concurrency or self.max_in_flight)

    def _job(self, message: OutgoingMessage) -> Callable[[], Awaitable[SendResult]]:
        return lambda: self.send(
            message.chat_id,
            message.text,
            buttons=message.buttons,
            html=message.html,
            channel=message.channel,
        )

    async def _send_with_retries(self, chat_id: ChatKey, payload: _Payload) -> SendResult:
        failures = flood_waits = 0
        while True:
            try:
                message_id = await self._attempt(chat_id, payload)
            except RateLimited as exc:
                flood_waits += 1
                if flood_waits > self.max_flood_waits:
                    return self._failed(chat_id, exc)
                await self._wait_flood(chat_id, exc.seconds)
            except Blocked as exc:
                log.info("chat %s blocked the bot", chat_id)
                return SendResult("blocked", None, str(exc))
            except Transient as exc:
                failures += 1
                if failures > self.max_retries:
                    return self._failed(chat_id, exc)
                await self._back_off(chat_id, failures, exc)
            except SendError as exc:  # refused: invalid token, bad request, … not transient
                return self._failed(chat_id, exc)
            else:
                return SendResult("sent", message_id, None)

    async def _attempt(self, chat_id: ChatKey, payload: _Payload) -> int | None:
        await self._wait_for_chat(chat_id)
        # The in-flight slot is taken before the pacer, so a request leaves the moment the
        # pacer lets it go; waiting for a slot afterwards would bunch requests up.
        async with self._in_flight:
            await self._wait_for_departure()
            self._chat_last[chat_id] = self._clock()
            log.debug("sending to chat %s: %r", chat_id, payload.text[:80])
            channel, chat = chat_id
            return await self.channels[channel].send(
                chat,
                payload.text,
                buttons=payload.buttons,
                html=payload.html,
                attachment=payload.attachment,
            )

    def _describe(self, exc: BaseException) -> str:
        # The adapter's errors are already described without secrets.
        return str(exc) if isinstance(exc, SendError) else describe(exc)

    def _failed(self, chat_id: ChatKey, exc: BaseException) -> SendResult:
        error = self._describe(exc)
        log.warning("message to chat %s failed: %s", chat_id, error)
        return SendResult("failed", None, error)

    async def _wait_flood(self, chat_id: ChatKey, seconds: float) -> None:
        # The limit is the bot's: everyone pauses, and this message waits the full time.
        log.warning("flood control: retry to chat %s after %.1f s", chat_id, seconds)
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        await self._sleep(seconds)

    async def _back_off(self, chat_id: ChatKey, failures: int, exc: BaseException) -> None:
        delay = self.backoff_delay(failures)
        log.warning(
            "transient error to chat %s (try %d), retrying in %.2f s: %s",
            chat_id,
            failures,
            delay,
            self._describe(exc),
        )
        await self._sleep(delay)

    def backoff_delay(self, failures: int) -> float:
        """Exponential, capped, with "equal jitter" (half fixed, half random) so that many
        senders failing together do not retry in lockstep."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (failures - 1))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    # ------------------------------------------------------------------ pacing

    async def _wait_for_departure(self) -> None:
        """Leave one ``interval`` after the previous request left, and not during a pause."""
        async with self._gate:
            while (wait := self._next_departure() - self._clock()) > 0:
                await self._sleep(wait)  # a loop: a 429 may start a pause meanwhile
            self._last_departure = self._clock()

    def _next_departure(self) -> float:
        return max(self._last_departure + self.interval, self._paused_until)

    async def _wait_for_chat(self, chat_id: ChatKey) -> None:
        last = self._chat_last.get(chat_id)
        if last is None:
            return
        while (wait := last + self._chat_interval(chat_id) - self._clock()) > 0:
            await self._sleep(wait)

    @asynccontextmanager
    async def _chat_turn(self, chat_id: ChatKey) -> AsyncIterator[None]:
        """Hold the chat's lock for one message (with its retries); drop idle locks."""
        lock, users = self._chat_locks.get(chat_id, (asyncio.Lock(), 0))
        self._chat_locks[chat_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._chat_locks[chat_id]
            if users > 1:
                self._chat_locks[chat_id] = (lock, users - 1)
            else:
                del self._chat_locks[chat_id]
                self._forget_quiet_chats()

    def _chat_interval(self, chat_id: ChatKey) -> float:
        return self.group_interval if chat_id[1].startswith("-") else self.per_chat_interval

    def _forget_quiet_chats(self) -> None:
        """Drop per-chat times that can no longer delay anything, so the map stays small."""
        if len(self._chat_last) < 4096:
            return
        horizon = self._clock() - max(self.per_chat_interval, self.group_interval)
        for chat_id in [c for c, t in self._chat_last.items() if t < horizon]:
            del self._chat_last[chat_id]

    # ------------------------------------------------------------------ claimed delivery

    async def deliver_claimed(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        unit_id: int,
        officer_id: int,
        kind: str,
        key_date: date,
        chat_id: int | str,
        text: str,
        buttons: Buttons | None = None,
        html: bool = False,
        now_fn: Callable[[], datetime] = utcnow,
        on_blocked: OnBlocked | None = None,
        channel: str | None = None,
    ) -> Outcome:
        """Claim, send, mark: the at-most-once protocol, for one chat (scheduler.people sends
        to a person, whichever of their accounts answers).

        Returns "duplicate" when the message was already claimed (sent, failed or in progress,
        here or in another process), else the send's status. On "blocked", ``on_blocked`` is
        called with the officer's id after the row is marked.
        """
        async with sessions() as session:
            won = await claim(
                session,
                unit_id=unit_id,
                officer_id=officer_id,
                kind=kind,
                key_date=key_date,
                chat_id=str(chat_id),
                channel=self._key(chat_id, channel)[0],
                now=now_fn(),
            )
            await session.commit()
        if won is None:
            return "duplicate"
        return await self.send_claimed(
            sessions=sessions,
            claim_id=won.id,
            officer_id=officer_id,
            chat_id=chat_id,
            text=text,
            buttons=buttons,
            html=html,
            now_fn=now_fn,
            on_blocked=on_blocked,
            channel=channel,
        )

    async def send_claimed(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        claim_id: int,
        officer_id: int | None,
        chat_id: int | str,
        text: str,
        buttons: Buttons | None = None,
        html: bool = False,
        now_fn: Callable[[], datetime] = utcnow,
        on_blocked: OnBlocked | None = None,
        channel: str | None = None,
    ) -> Status:
        """Send a message already claimed (by deliver_claimed, or retaken by reclaim_stale)."""
        result = await self.send(chat_id, text, buttons=buttons, html=html, channel=channel)
        await record_outcome(sessions, claim_id, result, now_fn)
        if result.status == "blocked" and on_blocked is not None and officer_id is not None:
            await on_blocked(officer_id)
        return result.status


# Marks in progress, kept referenced: the event loop holds tasks only weakly.
_PENDING_MARKS: set[asyncio.Task[None]] = set()


async def record_outcome(
    sessions: async_sessionmaker[AsyncSession],
    claim_id: int,
    result: SendResult,
    now_fn: Callable[[], datetime],
    *,
    chat: ChatKey | None = None,
) -> None:
    """Mark the claim in its own task, shielded: once Telegram has the message, a cancellation
    (shutdown, a timeout around the fan-out) must not leave the claim looking unsent, or the
    stale-claim retry would send it twice. ``chat``: the (channel, chat) it finally went to,
    when that is not the one claimed (a person's other account)."""
    mark = asyncio.ensure_future(_mark(sessions, claim_id, result, now_fn(), chat))
    _PENDING_MARKS.add(mark)
    mark.add_done_callback(_PENDING_MARKS.discard)
    try:
        await asyncio.shield(mark)
    except asyncio.CancelledError:
        await asyncio.wait({mark}, timeout=10)  # let it land before going away
        raise


async def _mark(
    sessions: async_sessionmaker[AsyncSession],
    claim_id: int,
    result: SendResult,
    now: datetime,
    chat: ChatKey | None,
) -> None:
    async with sessions() as session:
        if chat is not None:
            await record_chat(session, claim_id=claim_id, channel=chat[0], chat_id=chat[1])
        if result.status == "sent":
            await mark_sent(session, claim_id=claim_id, message_id=result.message_id, now=now)
        else:
            error = f"{result.status}: {result.error or ''}"
            await mark_failed(session, claim_id=claim_id, error=error, now=now)
        await session.commit()
