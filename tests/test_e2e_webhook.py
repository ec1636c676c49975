"""Webhook mode: Telegram's updates come through dondoc's web server, secret header checked.

The real bot and the real web server (web/server.py) on a port of their own: the
test POSTs updates as Telegram would, with the right secret, a wrong one and
none, and reads the bot's replies from the fake Bot API server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.runner import running
from bot.settings import Settings
from channels.telegram_app import TELEGRAM_SECRET_HEADER, WEBHOOK_PATH, TelegramRunner
from handlers.base import AppState
from tests.e2e import bot_settings
from tests.fakes.telegram_api import FakeTelegram

WEB_SECRET = "web-secret-for-the-tests-0123456789abcdef"
LEGACY_SECRET = "dondoc-webhook-secret-0123456789"


def update(update_id: int, user: int) -> dict[str, Any]:
    sender = {"id": user, "is_bot": False, "first_name": "Khách"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": user, "type": "private", "first_name": "Khách"},
            "from": sender,
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


@asynccontextmanager
async def webhook_bot(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], **overrides: object
) -> AsyncIterator[tuple[FakeTelegram, Settings, str]]:
    """The bot receiving through the web server on a free port: fake, settings, webhook URL."""
    async with FakeTelegram() as tg:
        config = bot_settings(
            settings, tg, web_secret=SecretStr(WEB_SECRET), web_listen="127.0.0.1", port=0
        ).model_copy(update=overrides)
        state = AppState(settings=config, sessions=sessions)
        async with running(state, [TelegramRunner(state)]) as bot:
            assert bot.server is not None
            yield tg, config, f"http://127.0.0.1:{bot.server.port}/{WEBHOOK_PATH}"


async def test_webhook_requests_need_the_secret_token(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    base = "https://bot.example.test/dondoc"
    async with webhook_bot(settings, session_factory, public_base_url=base) as (tg, config, url):
        registered = await tg.wait_for_request("setWebhook")
        secret = config.webhook_secret_for(WEBHOOK_PATH)
        assert registered.params["url"] == f"{base}/telegram"
        assert registered.params["secret_token"] == secret
        assert len(secret) >= 32 and WEB_SECRET not in secret
        async with httpx.AsyncClient() as client:
            missing = await client.post(url, json=update(1, 601))
            wrong = await client.post(
                url, json=update(2, 602), headers={TELEGRAM_SECRET_HEADER: secret[:-1] + "0"}
            )
            right = await client.post(
                url, json=update(3, 603), headers={TELEGRAM_SECRET_HEADER: secret}
            )
        assert (missing.status_code, wrong.status_code, right.status_code) == (403, 403, 200)
        reply = await tg.wait_for(lambda m: m.chat_id == 603)
        assert reply.text == texts.STRANGER
        assert tg.sent(601) == [] and tg.sent(602) == []


async def test_webhook_url_and_secret_still_work_as_before(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """WEBHOOK_URL alone: Telegram is told that URL, with WEBHOOK_SECRET as the secret."""
    legacy = {
        "webhook_url": "https://bot.example.test/hook/telegram",
        "webhook_secret": SecretStr(LEGACY_SECRET),
    }
    async with webhook_bot(settings, session_factory, **legacy) as (tg, config, url):
        registered = await tg.wait_for_request("setWebhook")
        assert registered.params["url"] == "https://bot.example.test/hook/telegram"
        assert registered.params["secret_token"] == LEGACY_SECRET
        assert config.base_url == "https://bot.example.test/hook"
        async with httpx.AsyncClient() as client:
            right = await client.post(
                url, json=update(4, 604), headers={TELEGRAM_SECRET_HEADER: LEGACY_SECRET}
            )
        assert right.status_code == 200
        assert (await tg.wait_for(lambda m: m.chat_id == 604)).text == texts.STRANGER


async def test_a_body_that_is_not_an_update_is_refused(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    base = "https://bot.example.test"
    async with webhook_bot(settings, session_factory, public_base_url=base) as (tg, config, url):
        headers = {TELEGRAM_SECRET_HEADER: config.webhook_secret_for(WEBHOOK_PATH)}
        async with httpx.AsyncClient() as client:
            not_json = await client.post(url, content=b"{not json", headers=headers)
            a_list = await client.post(url, json=[update(5, 605)], headers=headers)
            no_id = await client.post(url, json={"message": {}}, headers=headers)
            fine = await client.post(url, json=update(6, 606), headers=headers)
        codes = (not_json.status_code, a_list.status_code, no_id.status_code, fine.status_code)
        assert codes == (400, 400, 400, 200)
        assert (await tg.wait_for(lambda m: m.chat_id == 606)).text == texts.STRANGER
        assert tg.sent(605) == []


async def test_without_a_public_url_the_bot_polls_and_serves_nothing(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with FakeTelegram() as tg:
        config = bot_settings(settings, tg)
        state = AppState(settings=config, sessions=session_factory)
        async with running(state, [TelegramRunner(state)]) as bot:
            assert bot.server is None
            await tg.send_text(607, "/start")
            assert (await tg.wait_for(lambda m: m.chat_id == 607)).text == texts.STRANGER
            assert tg.calls("setWebhook") == []
