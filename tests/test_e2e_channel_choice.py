"""/kenh through the real bot and the fake Bot API: an officer with a Telegram and a Zalo
account sees both, picks the channel reminders go to first, and is refused a channel they
have no account on (issue 12)."""

from __future__ import annotations

from bot import texts
from core.accounts import link_account, officer_accounts
from storage.models import Officer
from tests.e2e import BotUnderTest
from tests.e2e_support import press, say, seed_officer, seed_unit
from tests.seed_files import PHUONG6

LAN, NAM = 6001, 6002


async def preferred(bot: BotUnderTest, officer_id: int) -> str | None:
    async with bot.sessions() as session:
        return (await session.get_one(Officer, officer_id)).preferred_channel


async def test_kenh_lists_the_channels_and_sets_the_preferred_one(bot: BotUnderTest) -> None:
    unit = await seed_unit(bot, PHUONG6, "Phường 6")
    lan = await seed_officer(bot, unit, "Nguyễn Thị Lan", ["VPTK"], telegram_id=LAN)
    async with bot.sessions() as session, session.begin():
        officer = await session.get_one(Officer, lan)
        zalo = await link_account(
            session, channel="zalo", external_id="z-lan", officer=officer, actor="test"
        )
        zalo.unreachable = True

    listing = await say(bot, LAN, "/kenh")
    assert texts.CHANNEL_TITLE in listing.content
    assert "• Telegram\n" in listing.content
    assert "• Zalo — không nhận được tin" in listing.content
    assert [b["text"] for b in listing.buttons] == ["Nhận qua Telegram", "Nhận qua Zalo"]

    chosen = await say(bot, LAN, "/kenh Zalo")
    assert chosen.content.startswith(texts.channel_set("Zalo"))
    assert "• Zalo — ưu tiên, không nhận được tin" in chosen.content
    assert await preferred(bot, lan) == "zalo"

    back = await press(bot, LAN, chosen, texts.CHANNEL_AUTO_BUTTON)
    assert back.content.startswith(texts.channel_set(None))
    assert await preferred(bot, lan) is None

    pressed = await press(bot, LAN, back, "Nhận qua Telegram")
    assert pressed.content.startswith(texts.channel_set("Telegram"))
    assert await preferred(bot, lan) == "telegram"


async def test_kenh_refuses_a_channel_without_an_account(bot: BotUnderTest) -> None:
    unit = await seed_unit(bot, PHUONG6, "Phường 6")
    nam = await seed_officer(bot, unit, "Trần Văn Nam", ["VPTK"], telegram_id=NAM)

    refused = await say(bot, NAM, "/kenh zalo")
    assert refused.content.startswith("Bạn chưa liên kết tài khoản Zalo.")
    unknown = await say(bot, NAM, "/kenh viber")
    assert unknown.content.startswith("Không có kênh «viber». Bạn đã liên kết: Telegram.")
    assert await preferred(bot, nam) is None
    async with bot.sessions() as session:
        assert [a.channel for a in await officer_accounts(session, officer_id=nam)] == ["telegram"]
