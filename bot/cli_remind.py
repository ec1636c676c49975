"""``python -m bot remind …``: a day's reminders, previewed or sent by hand.

``--dry-run --json`` prints what would be sent and sends nothing; ``--send``
sends through the same claims as the scheduled tick, so running it twice (or
alongside the bot) sends each digest once.
"""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from bot import texts
from bot.cli import CommandError
from bot.database import open_database
from bot.settings import Settings
from channels.registry import sending_adapters
from core.reminders import plan_day
from core.units import existing_unit
from handlers.base import AppState
from scheduler.reminders import ReminderSender
from scheduler.sender import Sender
from storage.models import Unit


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    remind = subparsers.add_parser("remind", help="xem trước hoặc gửi nhắc việc của một ngày")
    remind.add_argument("--date", required=True, type=_day, help="YYYY-MM-DD")
    remind.add_argument("--unit", help="chỉ một đơn vị (mặc định: tất cả)")
    mode = remind.add_mutually_exclusive_group(required=True)
    mode.add_argument("--dry-run", action="store_true", help="chỉ in ra, không gửi")
    mode.add_argument("--send", action="store_true", help="gửi ngay (mỗi tin chỉ một lần)")
    remind.add_argument("--json", action="store_true", help="in dạng JSON (với --dry-run)")
    remind.set_defaults(handler=remind_command)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"ngày {text!r} không hợp lệ; cần YYYY-MM-DD") from None


async def remind_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.send and not settings.channel_tokens_set:
        raise CommandError(texts.SEND_NEEDS_TOKEN, 3)
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session:
            units = await _units(session, args.unit)
            plans = {unit.id: await plan_day(session, unit=unit, day=args.date) for unit in units}
        if args.dry_run:
            _print_plans(args, units, plans)
            return 0
        async with sending_adapters(AppState(settings=settings, sessions=sessions)) as adapters:
            sender = ReminderSender(sessions, Sender(adapters), lambda: datetime.now(settings.tz))
            for unit in units:
                print(await sender.send_day(unit_id=unit.id, day=args.date), f"({unit.name})")
    finally:
        await engine.dispose()
    return 0


async def _units(session: Any, name: str | None) -> list[Unit]:
    if name is None:
        return list(await session.scalars(select(Unit).order_by(Unit.name_key)))
    unit = await existing_unit(session, name=name)
    return [unit]


def _print_plans(args: argparse.Namespace, units: list[Unit], plans: dict[int, list[Any]]) -> None:
    digests = [digest for unit in units for digest in plans[unit.id]]
    if args.json:
        print(json.dumps([d.as_json() for d in digests], ensure_ascii=False, indent=1))
        return
    if not digests:
        print(f"Ngày {args.date:%d/%m/%Y}: không có tin nhắc nào.")
    for digest in digests:
        what = "Báo lên" if digest.escalation else "Nhắc"
        codes = ", ".join(f"{line.code} ({line.kind})" for line in digest.lines)
        chat = ", ".join(digest.accounts) or "chưa liên kết"
        print(f"{what} {digest.officer_name} [{chat}]: {codes}")
