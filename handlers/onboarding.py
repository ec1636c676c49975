"""Greeting: /start (with or without an invite code) and /help."""

from __future__ import annotations

from telegram import Update

from bot import texts
from handlers.base import ANYONE, OFFICER, Context, Reply, Request, handler


@handler(ANYONE)
async def start(update: Update, context: Context, request: Request) -> Reply:
    if request.officer is None:
        return Reply(texts.STRANGER)
    return Reply(f"Xin chào {request.officer.name}!")


@handler(OFFICER)
async def help_command(update: Update, context: Context, request: Request) -> Reply:
    lines = [f"/{name} — {description}" for name, description in texts.OFFICER_COMMANDS]
    return Reply("\n".join(lines))
