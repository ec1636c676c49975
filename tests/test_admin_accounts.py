"""ADMINS: configured admins on any channel, next to ADMIN_TELEGRAM_IDS (which keeps working)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.settings import Settings, SettingsError, load_settings
from tests.e2e import running_bot
from tests.e2e_support import say


def configured(**env: str) -> Settings:
    return load_settings(DATABASE_URL="sqlite+aiosqlite:///:memory:", _env_file=None, **env)


def test_admins_lists_channel_accounts_and_adds_to_admin_telegram_ids() -> None:
    settings = configured(ADMINS=" telegram:123, Zalo:abc ,", ADMIN_TELEGRAM_IDS="7,123")
    assert settings.admins == [("telegram", "123"), ("zalo", "abc")]
    assert settings.admin_accounts == {("telegram", "123"), ("zalo", "abc"), ("telegram", "7")}
    assert settings.telegram_admin_ids == [7, 123]
    assert configured(ADMIN_TELEGRAM_IDS="5").admin_accounts == {("telegram", "5")}


@pytest.mark.parametrize("value", ["123", "telegram:", ":abc", "telegram:abc", "za lo:1"])
def test_a_malformed_admins_entry_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="ADMINS"):
        configured(ADMINS=value)


async def test_an_admin_listed_only_in_admins_is_recognised_on_start(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with running_bot(settings, session_factory, admins=[("telegram", "1000")]) as bot:
        first = await say(bot, 1000, "/start")
        stranger = await say(bot, 1001, "/start")
    assert first.text == texts.ADMIN_WITHOUT_UNIT  # an admin, with no unit yet
    assert stranger.text == texts.STRANGER
