"""Invite codes people type: on a channel without deep links, or read out over the phone."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from bot import texts
from core.officers import INVITE_ALPHABET, INVITE_CODE_LENGTH, typed_invite_code
from storage.models import Invite
from tests.e2e import BotUnderTest
from tests.e2e_support import count, say, seed_officer, seed_unit, telegram_officer
from tests.seed_files import TANDUC

ADMIN = 1000
LAN, HUNG, STRANGER = 3001, 3002, 3009
CODE = re.compile(r"mã mời: ([A-Z0-9]+)$", re.MULTILINE)
LINK = re.compile(r"https://t\.me/dondoc_test_bot\?start=([A-Za-z0-9_-]+)")


async def invite(bot: BotUnderTest, position: str, name: str) -> str:
    """The admin's /moi; the typed code, checked to be the deep link's code too."""
    reply = await say(bot, ADMIN, f"/moi {position} {name}")
    code, link = CODE.search(reply.content), LINK.search(reply.content)
    assert code and link, reply.content
    assert code.group(1) == link.group(1)  # both forms of one invite
    return code.group(1)


async def unit_with_admin(bot: BotUnderTest) -> int:
    unit_id = await seed_unit(bot, TANDUC, "Xã Tân Đức")
    await seed_officer(bot, unit_id, "Quản trị", roles=("admin",), telegram_id=ADMIN)
    return unit_id


async def linked(bot: BotUnderTest, telegram_id: int) -> str | None:
    async with bot.sessions() as session:
        officer = await telegram_officer(session, telegram_id)
        return officer.name if officer else None


def test_codes_have_eight_characters_and_no_look_alikes() -> None:
    assert not set("0O1IlL") & set(INVITE_ALPHABET)
    assert typed_invite_code(" abcd-efgh ") == "ABCDEFGH"
    assert typed_invite_code("xong rồi") is None and typed_invite_code("ABCDEFGHJ") is None


async def test_a_code_typed_in_lower_case_alone_or_after_start_links_the_officer(
    bot: BotUnderTest,
) -> None:
    await unit_with_admin(bot)
    lan_code = await invite(bot, "VPTK", "Nguyễn Thị Lan")
    hung_code = await invite(bot, "TPHT", "Trần Văn Hùng")
    assert len(lan_code) == INVITE_CODE_LENGTH and set(lan_code) <= set(INVITE_ALPHABET)

    greeting = await say(bot, LAN, lan_code.lower())  # the code alone, in lower case
    assert greeting.content.startswith(texts.LINKED)
    assert await linked(bot, LAN) == "Nguyễn Thị Lan"

    spaced = f"/start {hung_code[:4].lower()} {hung_code[4:]}"
    greeting = await say(bot, HUNG, spaced)
    assert greeting.content.startswith(texts.LINKED)
    assert await linked(bot, HUNG) == "Trần Văn Hùng"

    used = await say(bot, STRANGER, lan_code)  # single use
    assert "đã được dùng" in used.content
    assert await linked(bot, STRANGER) is None


async def test_a_look_alike_or_an_expired_code_is_refused_and_links_nobody(
    bot: BotUnderTest,
) -> None:
    await unit_with_admin(bot)
    code = await invite(bot, "VPTK", "Nguyễn Thị Lan")
    look_alike = "O" + code[1:]  # an O where the code cannot have one
    refused = await say(bot, LAN, look_alike)
    assert "không có chữ O, I, L hay số 0, 1" in refused.content
    assert await linked(bot, LAN) is None

    async with bot.sessions() as session:
        expires = await session.scalar(select(Invite.expires_at).where(Invite.code == code))
    assert expires is not None
    bot.clock.set(expires + timedelta(seconds=1))  # seven days later
    expired = await say(bot, LAN, f"/start {code}")
    assert "hết hạn" in expired.content
    assert await linked(bot, LAN) is None


async def test_the_sixth_wrong_code_in_an_hour_gets_a_polite_wait_even_if_right(
    bot: BotUnderTest,
) -> None:
    await unit_with_admin(bot)
    code = await invite(bot, "VPTK", "Nguyễn Thị Lan")
    wrong = "".join("A" if ch != "A" else "B" for ch in code)  # same shape, every letter wrong
    for _ in range(5):
        assert "Mã mời không đúng" in (await say(bot, STRANGER, wrong)).content
    sixth = await say(bot, STRANGER, f"/start {code}")
    assert sixth.content == texts.INVITE_WAIT
    assert await linked(bot, STRANGER) is None
    assert await count(bot, Invite, Invite.used_at.is_not(None)) == 0

    bot.clock.set(bot.clock() + timedelta(hours=1, minutes=1))  # the hour has passed
    greeting = await say(bot, STRANGER, code)
    assert greeting.content.startswith(texts.LINKED)
    assert await linked(bot, STRANGER) == "Nguyễn Thị Lan"


async def test_an_officer_typing_a_code_shaped_word_gets_the_usual_answer(
    bot: BotUnderTest,
) -> None:
    unit_id = await unit_with_admin(bot)
    await seed_officer(bot, unit_id, "Nguyễn Thị Lan", ["VPTK"], telegram_id=LAN)
    reply = await say(bot, LAN, "DANGCHAY")
    assert reply.content == texts.FREE_TEXT_HINT
