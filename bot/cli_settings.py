"""``python -m bot settings …``: a unit's reminder settings, shown or changed.

The same settings and checks as the chat command /caidat.
"""

from __future__ import annotations

import argparse
from typing import Any

from bot import texts
from bot.cli import CommandError
from bot.database import open_database
from bot.settings import Settings
from core.reminder_rules import PolicyError
from core.reminder_settings import SETTING_KEYS, change_setting, current_settings
from core.units import existing_unit


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    settings = subparsers.add_parser(
        "settings", help="xem hoặc đổi cài đặt nhắc việc của một đơn vị (như /caidat)"
    )
    settings.add_argument("--unit", required=True)
    settings.add_argument(
        "--set",
        nargs=2,
        action="append",
        default=[],
        metavar=("MỤC", "GIÁ_TRỊ"),
        help=f"đổi một mục ({', '.join(sorted(set(SETTING_KEYS.values())))}); lặp lại được",
    )
    settings.set_defaults(handler=settings_command)


async def settings_command(args: argparse.Namespace, settings: Settings) -> int:
    defaults = {"reminder_time": settings.reminder_time}
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session, session.begin():
            unit = await existing_unit(session, name=args.unit)
            for key, value in args.set:
                try:
                    await change_setting(session, unit=unit, key=key, value=value, actor="cli")
                except PolicyError as exc:
                    raise CommandError(str(exc)) from None
            values = current_settings(unit, defaults=defaults)
    finally:
        await engine.dispose()
    if args.set:
        print(texts.SETTINGS_SAVED)
    print(texts.reminder_settings(values))
    return 0
