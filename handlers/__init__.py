"""All Telegram handlers, registered in one place: :func:`register_handlers`.

Everything is in group 0, where the first matching handler wins, so the order
below is the precedence:

1. commands (text starting with /name), each under its Vietnamese name and
   English alias;
2. documents whose caption is a command (/kehoach, /canbo): they are admin
   uploads, so they must come before the catch-all file handler, or a plan
   would be stored as evidence;
3. every other photo or document: a plan right after /kehoach, else evidence;
4. button presses, by the prefix of their data; an unknown prefix last;
5. plain text (the reason asked for by "Gặp khó khăn"), then unknown commands.

Only new messages are handled (not edits of old ones): an edited
"/capnhat 3.1.3 60" must not report twice.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import texts
from handlers import (
    admin,
    evidence,
    leader,
    lookup,
    onboarding,
    progress,
    reminders,
    reports,
    tasks,
)
from handlers.base import Context, TelegramCallback

NEW_MESSAGE = filters.UpdateType.MESSAGE


def _caption_command(*names: str) -> filters.BaseFilter:
    pattern = rf"^/({'|'.join(names)})(@\w+)?(\s|$)"
    return filters.Document.ALL & filters.CaptionRegex(pattern) & NEW_MESSAGE


async def on_file(update: Update, context: Context) -> None:
    """A photo or document: the plan asked for by /kehoach, or else evidence."""
    if admin.wants_plan(update, context):
        await admin.plan_document(update, context)
    else:
        await evidence.on_file(update, context)


def register_handlers(app: Application) -> None:  # type: ignore[type-arg]
    commands: list[tuple[tuple[str, ...], TelegramCallback]] = [
        (texts.CMD_START, onboarding.start),
        (texts.CMD_HELP, onboarding.help_command),
        (texts.CMD_TASKS, tasks.tasks_command),
        (texts.CMD_UPDATE, progress.update_command),
        (texts.CMD_DONE, progress.done_command),
        (texts.CMD_OVERDUE, leader.overdue_command),
        (texts.CMD_SUMMARY, reports.summary_command),
        (texts.CMD_OFFICERS, leader.officers_command),
        (texts.CMD_ASSIGN, admin.assign_command),
        (texts.CMD_POSITIONS, admin.positions_command),
        (texts.CMD_INVITE, admin.invite_command),
        (texts.CMD_IMPORT, admin.plan_command),
        (texts.CMD_SNOOZE, reminders.snooze_command),
        (texts.CMD_AWAY, reminders.away_command),
        (texts.CMD_SETTINGS, reminders.settings_command),
        (texts.CMD_EXPORT, reports.export_command),
    ]
    for names, callback in commands:
        app.add_handler(CommandHandler(list(names), callback, filters=NEW_MESSAGE))

    app.add_handler(MessageHandler(_caption_command(*texts.CMD_IMPORT), admin.plan_document))
    app.add_handler(MessageHandler(_caption_command(*texts.CMD_OFFICERS), admin.roster_document))
    app.add_handler(MessageHandler((filters.PHOTO | filters.Document.ALL) & NEW_MESSAGE, on_file))

    buttons: list[tuple[str, TelegramCallback]] = [
        (tasks.LIST_PREFIX, tasks.tasks_page),
        (tasks.CARD_PREFIX, tasks.open_card),
        (tasks.PERCENT_PREFIX, progress.percent_pressed),
        (tasks.DONE_PREFIX, progress.done_pressed),
        (tasks.BLOCKED_PREFIX, progress.blocked_pressed),
        (tasks.EVIDENCE_PREFIX, evidence.evidence_pressed),
        (lookup.CHOICE_PREFIX, lookup.on_choice),
        (leader.OVERDUE_PREFIX, leader.overdue_page),
        (leader.OFFICERS_PREFIX, leader.officers_page),
        (admin.PLAN_PREFIX, admin.plan_button),
        (admin.POSITIONS_PREFIX, admin.positions_button),
        (f"{admin.POSITIONS_PREFIX}T", admin.positions_button),
        (f"{admin.POSITIONS_PREFIX}L", admin.positions_button),
    ]
    for prefix, callback in buttons:
        app.add_handler(CallbackQueryHandler(callback, pattern=rf"^{prefix}:"))
    app.add_handler(CallbackQueryHandler(onboarding.stale_button))

    plain_text = filters.TEXT & ~filters.COMMAND & NEW_MESSAGE
    app.add_handler(MessageHandler(plain_text, progress.text_message))
    app.add_handler(MessageHandler(filters.COMMAND & NEW_MESSAGE, onboarding.unknown_command))
