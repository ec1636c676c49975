"""Every feature, routed in one place: :func:`route` picks the handler for an inbound event.

The table is the same for every channel; an adapter only translates its
platform's updates into :class:`~core.conversation.Inbound` events and calls
what ``route`` returns. The order below is the precedence:

1. a choice picked, by the prefix of its data; an unknown prefix last;
2. commands, each under its Vietnamese name and English alias; an unknown
   command gets a hint;
3. documents whose caption is a command (/kehoach, /canbo): they are admin
   uploads, so they come before the catch-all file route, or a plan would be
   stored as evidence;
4. every other photo or document: a plan right after /kehoach, else evidence;
5. plain text: on a channel without buttons, first a number (or an open card's word)
   answering the last list shown there (handlers.numbered), dispatched as the choice it
   picks; then the reason asked for by "Gặp khó khăn".

Anything else (a sticker, a location) gets no answer.
"""

from __future__ import annotations

import re

from bot import texts
from core.conversation import DOCUMENT
from core.officers import typed_invite_code
from handlers import (
    accounts,
    admin,
    evidence,
    leader,
    lookup,
    numbered,
    onboarding,
    progress,
    reminders,
    reports,
    tasks,
    web_login,
)
from handlers.base import Channel, Handler, Inbound, private_chats_only
from handlers.state import end_evidence_wait

_COMMANDS: list[tuple[tuple[str, ...], Handler]] = [
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
    (texts.CMD_WEB, web_login.web_command),
    (texts.CMD_UNDO, progress.undo_command),
    (texts.CMD_ROLE, admin.role_command),
    (texts.CMD_CHANNEL, accounts.channel_command),
]
COMMANDS: dict[str, Handler] = {name: run for names, run in _COMMANDS for name in names}

CHOICES: dict[str, Handler] = {
    accounts.PREFIX: accounts.channel_pressed,
    tasks.LIST_PREFIX: tasks.tasks_page,
    tasks.CARD_PREFIX: tasks.open_card,
    tasks.PERCENT_PREFIX: progress.percent_pressed,
    tasks.DONE_PREFIX: progress.done_pressed,
    tasks.BLOCKED_PREFIX: progress.blocked_pressed,
    tasks.EVIDENCE_PREFIX: evidence.evidence_pressed,
    lookup.CHOICE_PREFIX: lookup.on_choice,
    leader.OVERDUE_PREFIX: leader.overdue_page,
    leader.OFFICERS_PREFIX: leader.officers_page,
    admin.PLAN_PREFIX: admin.plan_button,
    admin.POSITIONS_PREFIX: admin.positions_button,
    f"{admin.POSITIONS_PREFIX}T": admin.positions_button,
    f"{admin.POSITIONS_PREFIX}L": admin.positions_button,
}


def _caption_command(*names: str) -> re.Pattern[str]:
    return re.compile(rf"^/({'|'.join(names)})(@\w+)?(\s|$)")


_CAPTION_COMMANDS: list[tuple[re.Pattern[str], Handler]] = [
    (_caption_command(*texts.CMD_IMPORT), admin.plan_document),
    (_caption_command(*texts.CMD_OFFICERS), admin.roster_document),
]


async def on_file(event: Inbound, channel: Channel) -> None:
    """A photo or document: the plan asked for by /kehoach, or else evidence."""
    if await admin.wants_plan(event, channel):
        await admin.plan_document(event, channel)
    else:
        await evidence.on_file(event, channel)


def _ending_evidence_wait(run: Handler) -> Handler:
    """Any command ends "Gửi minh chứng": files sent after it are no longer taken for it."""

    async def command(event: Inbound, channel: Channel) -> None:
        await end_evidence_wait(channel.app, event)
        await run(event, channel)

    return command


async def on_text(event: Inbound, channel: Channel) -> None:
    """Plain text; on a channel without buttons a typed answer to the last list comes first."""
    found = None
    if not channel.capabilities.buttons:
        found = await numbered.typed_answer(channel.app, event)
    if isinstance(found, numbered.Picked):
        chosen = found.as_event(event)
        run = route(chosen)
        assert run is not None  # a choice always has a handler
        await run(chosen, channel)
    elif isinstance(found, numbered.Refused):
        await numbered.refusal(found.text)(event, channel)
    else:
        await progress.text_message(event, channel)


def route(event: Inbound) -> Handler | None:
    """The handler for this event, in the precedence of the module docstring.

    Outside a private chat nothing runs but the frame's one polite line: not even
    the album wait or the plan peek that come before the frame.
    """
    if not event.private:
        return private_chats_only
    if event.choice is not None:
        prefix, colon, _ = event.choice.partition(":")
        return CHOICES.get(prefix, onboarding.stale_button) if colon else onboarding.stale_button
    if event.command is not None:
        return _ending_evidence_wait(COMMANDS.get(event.command, onboarding.unknown_command))
    if event.files:
        if event.files[0].kind == DOCUMENT and event.caption:
            for pattern, run in _CAPTION_COMMANDS:
                if pattern.search(event.caption):
                    return run
        return on_file
    if event.text is not None:
        if typed_invite_code(event.text) is not None:
            return onboarding.typed_code
        return on_text
    return None
