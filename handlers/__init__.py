"""All Telegram handlers, registered in one place: :func:`register_handlers`.

Order matters only between groups: PTB offers an update to group 0 first,
then group 1, and so on, and within a group the first matching handler wins.
Commands come before the catch-all message handlers (files, free text) so
that a caption like "/kehoach" is not swallowed as evidence.
"""

from __future__ import annotations

from telegram.ext import Application, CommandHandler

from handlers import onboarding


def register_handlers(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("start", onboarding.start))
    app.add_handler(CommandHandler(["help", "trogiup"], onboarding.help_command))
