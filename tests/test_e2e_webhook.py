"""Webhook mode: registered with the secret token, and requests without it are refused.

PTB's webhook server does the refusing (403 without the exact
X-Telegram-Bot-Api-Secret-Token header); what we check is that dondoc turns it
on, by POSTing to the real server on a free port with and without the header.
PTB's webhook server needs tornado (the "webhooks" extra of python-telegram-bot).
"""

from __future__ import annotations

import socket
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.application import WEBHOOK_PATH, build_application, start_bot, start_receiving
from bot.settings import Settings
from tests.e2e import bot_settings
from tests.fakes.telegram_api import FakeTelegram

SECRET = "dondoc-webhook-secret-0123456789"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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


async def test_webhook_requests_need_the_secret_token(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    port = free_port()
    async with FakeTelegram() as tg:
        config = bot_settings(
            settings,
            tg,
            webhook_url="https://bot.example.test/telegram",
            webhook_secret=SecretStr(SECRET),
            webhook_listen="127.0.0.1",
            port=port,
        )
        app = build_application(config, sessions=session_factory)
        async with app:
            await start_bot(app)
            await start_receiving(app, config)
            try:
                registered = await tg.wait_for_request("setWebhook")
                assert registered.params["secret_token"] == SECRET
                url = f"http://127.0.0.1:{port}/{WEBHOOK_PATH}"
                async with httpx.AsyncClient() as client:
                    missing = await client.post(url, json=update(1, 601))
                    wrong = await client.post(
                        url,
                        json=update(2, 602),
                        headers={"X-Telegram-Bot-Api-Secret-Token": "not-the-secret-00000"},
                    )
                    right = await client.post(
                        url,
                        json=update(3, 603),
                        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                    )
                assert (missing.status_code, wrong.status_code, right.status_code) == (
                    403,
                    403,
                    200,
                )
                reply = await tg.wait_for(lambda m: m.chat_id == 603)
                assert reply.text == texts.STRANGER
                assert tg.sent(601) == [] and tg.sent(602) == []
            finally:
                assert app.updater is not None
                await app.updater.stop()
                await app.stop()
