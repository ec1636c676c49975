"""The command menu (setMyCommands) for each kind of user."""

from __future__ import annotations

from collections.abc import Iterable

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault

from bot import texts

_MANAGER_ROLES = frozenset({"coordinator", "leader", "admin"})


def commands_for(roles: Iterable[str]) -> list[BotCommand]:
    roles = set(roles)
    pairs = list(texts.OFFICER_COMMANDS)
    if roles & _MANAGER_ROLES:
        pairs += texts.MANAGER_COMMANDS
    if "admin" in roles:
        pairs += texts.ADMIN_COMMANDS
    return [BotCommand(name, description) for name, description in pairs]


async def set_default_menu(bot: Bot) -> None:
    """Everyone sees the officer commands; managers get a wider menu in their own chat."""
    await bot.set_my_commands(commands_for(()), scope=BotCommandScopeDefault())


async def set_chat_menu(bot: Bot, *, chat_id: int, roles: Iterable[str]) -> None:
    await bot.set_my_commands(commands_for(roles), scope=BotCommandScopeChat(chat_id))
