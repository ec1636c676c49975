"""Zalo as a channel of the running bot: :class:`ZaloRunner`, Zalo's bot.runner.ChannelRunner.

One ``ZaloApi`` (one httpx client) serves the whole channel: receiving (channels.zalo's
inbox, by long polling, or from the webhook route when the web server runs), replies and
the scheduler's sends. Every message takes its turn from the bot's :class:`SendBudget`,
shared by every process on this token and database (``ZALO_MESSAGES_PER_SECOND``, 5 by
default: Zalo publishes no limit); Zalo's quota error pauses it for all of them.

Webhook mode: setWebhook with PUBLIC_BASE_URL + "/zalo" and a secret derived from
WEB_SECRET; the web server compares the ``X-Bot-Api-Secret-Token`` header in constant
time (web.server), and each update is committed to the same inbox as a polled one before
the route answers, so a redelivery is handled once and a restart handles what was left.

In a test, against tests/fakes/zalo_api.FakeZalo::

    settings = load_settings(DATABASE_URL=..., ZALO_BOT_TOKEN=zalo.token,
                             ZALO_API_BASE_URL=zalo.base_url, _env_file=None)
    state = AppState(settings=settings, sessions=sessions)
    async with running(state, [ZaloRunner(state)]):   # bot.runner
        ...
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from bot import texts
from bot.runner import ChannelRefused, ChannelUnreachable
from bot.settings import ZALO_WEBHOOK_PATH, Settings
from channels.zalo import CHANNEL, ZaloChannel, ZaloOutbound, ZaloSink, zalo_outbound
from channels.zalo_api import ZaloApi, ZaloError, ZaloNetworkError, outcome
from core.send_budget import Rates, SendBudget, bot_key, wall_clock
from handlers.base import AppState
from web.server import Webhook

log = logging.getLogger(__name__)

ZALO_SECRET_HEADER = "X-Bot-Api-Secret-Token"
# Replies retry a 5xx twice (the user is waiting); the sender retries its own messages.
REPLY_TRANSIENT_RETRIES = 2


def zalo_rates(settings: Settings) -> Rates:
    """ZALO_MESSAGES_PER_SECOND for the bot; one a second per chat, as Telegram's."""
    return Rates(
        per_second=settings.zalo_messages_per_second, per_chat_interval=1.0, group_interval=3.0
    )


def zalo_budget(
    state: AppState,
    *,
    clock: Callable[[], float] = wall_clock,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> SendBudget:
    """The bot's send budget, shared with every other process on this token and database."""
    token = state.settings.zalo_bot_token
    assert token is not None
    return SendBudget(
        sessions=state.sessions,
        key=bot_key(CHANNEL, token.get_secret_value()),
        rates=zalo_rates(state.settings),
        clock=clock,
        sleep=sleep,
    )


@asynccontextmanager
async def zalo_sending(state: AppState) -> AsyncIterator[ZaloOutbound]:
    """Zalo's sending side alone (the CLI's remind/summary --send), within the shared budget."""
    token = state.settings.zalo_bot_token
    assert token is not None
    api = ZaloApi(token.get_secret_value(), base_url=state.settings.zalo_api_base_url)
    try:
        web = state.settings.web_enabled
        sink = ZaloSink(api, zalo_budget(state), files_on_web=web, each_chat=True)
        yield zalo_outbound(state, sink)
    finally:
        await api.aclose()


class ZaloRunner:
    """Zalo for bot.runner: see the module docstring.

    ``clock`` and ``sleep`` are the budget's (tests drive them); ``poll_seconds`` is the
    long poll's length.
    """

    name = CHANNEL

    def __init__(
        self,
        state: AppState,
        *,
        clock: Callable[[], float] = wall_clock,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        poll_seconds: int = 30,
    ) -> None:
        settings = state.settings
        if settings.zalo_bot_token is None:
            raise ValueError("ZALO_BOT_TOKEN is required to run Zalo")
        self.settings = settings
        self.api = ZaloApi(
            settings.zalo_bot_token.get_secret_value(), base_url=settings.zalo_api_base_url
        )
        self.budget = zalo_budget(state, clock=clock, sleep=sleep)
        web = settings.web_enabled
        reply_sink = ZaloSink(
            self.api, self.budget, files_on_web=web, transient_retries=REPLY_TRANSIENT_RETRIES
        )
        self.inbound = ZaloChannel(
            app=state, api=self.api, sink=reply_sink, poll_seconds=poll_seconds
        )
        self.outbound: ZaloOutbound = zalo_outbound(
            state, ZaloSink(self.api, self.budget, files_on_web=web, each_chat=True)
        )

    def webhook(self) -> Webhook:
        return Webhook(
            path=ZALO_WEBHOOK_PATH,
            header=ZALO_SECRET_HEADER,
            secret=self.settings.webhook_secret_for(ZALO_WEBHOOK_PATH),
            accept=self.inbound.accept,
        )

    async def start(self) -> None:
        """Check the token (getMe)."""
        await self._call(self.api.get_me())

    async def receive(self, *, webhook: bool) -> None:
        if webhook:
            url = self.settings.zalo_webhook_url
            assert url is not None  # the web server runs, so a public URL is set
            await self._call(
                self.api.set_webhook(url, self.settings.webhook_secret_for(ZALO_WEBHOOK_PATH))
            )
        await self._call(self.inbound.start(poll=not webhook))  # polling: no webhook first
        log.warning("Zalo: %s", "webhook" if webhook else "long polling")

    async def _call(self, call: Awaitable[Any]) -> Any:
        """A start-up call; Zalo's refusal of the token and an unreachable API as the
        runner's errors, with the operator's message."""
        try:
            return await call
        except ZaloNetworkError:
            where = urlsplit(self.settings.zalo_api_base_url).netloc or "?"
            raise ChannelUnreachable(texts.ZALO_UNREACHABLE.format(where=where)) from None
        except ZaloError as exc:
            if outcome(exc) == "refused" and exc.code == 401:
                raise ChannelRefused(texts.ZALO_TOKEN_REFUSED) from None
            raise ChannelUnreachable(
                texts.ZALO_UNREACHABLE.format(where=f"{exc.method}: {exc.code}")
            ) from None

    async def stop_receiving(self) -> None:
        await self.inbound.stop_polling()

    async def stop(self) -> None:
        """Finish the update in hand, then close the client (used by the tick's sends too)."""
        await self.inbound.stop()
        await self.api.aclose()
