"""Small helpers for the end-to-end journeys (tests/test_e2e_*.py).

Data is set up through the core functions on the bot's own database, and the
users' side is played through the fake Bot API server: every step waits for
what the bot sent (or edited) after a checkpoint, never by sleeping.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts import officer_by_account
from core.officers import add_officer
from core.plan_store import find_unit, import_plan
from storage.models import Base, Criterion, Officer, Unit
from tests.e2e import BotUnderTest
from tests.fakes.telegram_api import SentMessage
from tests.seed_files import parsed_seed


async def seed_unit(bot: BotUnderTest, seed: str, unit_name: str) -> int:
    """Import a seed plan straight into the database; the unit's id."""
    async with bot.sessions() as session, session.begin():
        await import_plan(
            session,
            unit_name=unit_name,
            plan=parsed_seed(seed),
            source_name=seed,
            source_sha256=None,
            actor="test",
        )
        unit = await find_unit(session, name=unit_name)
        assert unit is not None
        return unit.id


async def seed_officer(
    bot: BotUnderTest,
    unit_id: int,
    name: str,
    positions: Sequence[str] = (),
    *,
    roles: Sequence[str] = ("officer",),
    telegram_id: int | None = None,
) -> int:
    async with bot.sessions() as session, session.begin():
        unit = await session.get_one(Unit, unit_id)
        officer, _ = await add_officer(
            session,
            unit=unit,
            name=name,
            positions=positions,
            roles=roles,
            telegram_id=telegram_id,
            actor="test",
        )
        return officer.id


async def say(bot: BotUnderTest, user: int, text: str, **kwargs: Any) -> SentMessage:
    """The user writes; the first message the bot sends back to that chat."""
    mark = bot.tg.checkpoint()
    await bot.tg.send_text(user, text, **kwargs)
    return await bot.tg.wait_for(lambda m: m.chat_id == user, after=mark)


async def press(
    bot: BotUnderTest, user: int, message: SentMessage, label: str, *, exact: bool = False
) -> SentMessage:
    """Press the button whose label starts with ``label``; what the bot sent or edited next."""
    data = button_data(message, label, exact=exact)
    return await press_data(bot, user, message.message_id, data)


async def press_data(
    bot: BotUnderTest, user: int, message_id: int, data: str, *, strict: bool = True
) -> SentMessage:
    mark = bot.tg.checkpoint()
    await bot.tg.press_button(user, message_id, data, strict=strict)
    await bot.tg.wait_for_request("answerCallbackQuery", after=mark)
    return await bot.tg.wait_for(lambda m: m.chat_id == user, after=mark)


def button_data(message: SentMessage, label: str, *, exact: bool = False) -> str:
    for button in message.buttons:
        text = button["text"]
        if text == label or (not exact and text.startswith(label)):
            return str(button["callback_data"])
    labels = [b["text"] for b in message.buttons]
    raise AssertionError(f"no button {label!r} on message {message.message_id}: {labels}")


async def count(bot: BotUnderTest, model: type[Base], *where: Any) -> int:
    async with bot.sessions() as session:
        query = select(func.count()).select_from(model)
        for condition in where:
            query = query.where(condition)
        return int(await session.scalar(query) or 0)


async def officer_named(session: AsyncSession, unit_id: int, name_key: str) -> Officer:
    return await session.scalar(
        select(Officer).where(Officer.unit_id == unit_id, Officer.name_key == name_key)
    )  # type: ignore[return-value]


async def criterion_id(bot: BotUnderTest, unit_id: int, index: str, code: str) -> int:
    async with bot.sessions() as session:
        found = await session.scalar(
            select(Criterion.id).where(
                Criterion.unit_id == unit_id,
                Criterion.index_name == index,
                Criterion.code == code,
                Criterion.active.is_(True),
            )
        )
        assert found is not None, f"no {index} {code} in unit {unit_id}"
        return found


async def telegram_officer(session: AsyncSession, user: int) -> Officer | None:
    """The officer (active or not) whose Telegram account is ``user`` (an account since 0013)."""
    return await officer_by_account(
        session, channel="telegram", external_id=str(user), active_only=False
    )
