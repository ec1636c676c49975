"""``python -m bot db …``: database maintenance commands."""

from __future__ import annotations

import argparse
from typing import Any

from bot.database import describe_database, open_database
from bot.settings import Settings
from storage.migrate import head_revision


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    db = subparsers.add_parser("db", help="quản lý cơ sở dữ liệu")
    db_commands = db.add_subparsers(dest="db_command", metavar="<lệnh>", required=True)
    upgrade = db_commands.add_parser(
        "upgrade", help="cập nhật cấu trúc cơ sở dữ liệu lên phiên bản mới nhất"
    )
    upgrade.set_defaults(handler=upgrade_command)


async def upgrade_command(args: argparse.Namespace, settings: Settings) -> int:
    engine, _ = await open_database(settings)
    await engine.dispose()
    where = describe_database(settings.database_url)
    print(f"Cơ sở dữ liệu đã được cập nhật ({where}, phiên bản {head_revision()}).")
    return 0
