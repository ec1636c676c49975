"""``python -m bot summary …`` and ``python -m bot export …``: the weekly summary and the
year-end evidence pack, from the command line."""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bot.cli import CommandError, output_file
from bot.database import open_database
from bot.settings import Settings
from channels.telegram_outbound import telegram_outbound
from core.evidence_pack import write_pack
from core.export import pack_contents
from core.summary import compute_summary
from core.summary_xlsx import render_workbook
from core.units import existing_unit
from scheduler.sender import Sender
from scheduler.summaries import SummarySender
from storage.models import Unit


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    summary = subparsers.add_parser("summary", help="tổng hợp tuần của một đơn vị")
    summary.add_argument("--unit", required=True)
    summary.add_argument("--date", type=_day, help="tính đến hết ngày này (YYYY-MM-DD)")
    what = summary.add_mutually_exclusive_group(required=True)
    what.add_argument("--json", action="store_true", help="in tổng hợp dạng JSON")
    what.add_argument("--xlsx", type=Path, metavar="FILE", help="ghi tệp Excel")
    what.add_argument("--png", type=Path, metavar="FILE", help="ghi biểu đồ PNG")
    what.add_argument("--send", action="store_true", help="gửi ngay cho lãnh đạo và đầu mối")
    summary.set_defaults(handler=summary_command)

    export = subparsers.add_parser("export", help="đóng gói minh chứng cuối năm (ZIP)")
    export.add_argument("--unit", required=True)
    export.add_argument("--year", type=int, required=True)
    export.add_argument("--out", type=Path, required=True, metavar="FILE.zip")
    export.set_defaults(handler=export_command)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"ngày {text!r} không hợp lệ; cần YYYY-MM-DD") from None


async def _unit(session: Any, name: str) -> Unit:
    unit = await existing_unit(session, name=name)
    return unit


def _today(settings: Settings) -> date:
    return datetime.now(settings.tz).date()


async def summary_command(args: argparse.Namespace, settings: Settings) -> int:
    for path in (args.xlsx, args.png):
        if path is not None:
            output_file(path)
    engine, sessions = await open_database(settings)
    try:
        if args.send:
            if settings.telegram_bot_token is None:
                raise CommandError("Cần TELEGRAM_BOT_TOKEN để gửi tin.", 3)
            async with sessions() as session:
                unit = await _unit(session, args.unit)
            async with telegram_outbound(settings) as channel:
                sender = SummarySender(
                    sessions, Sender(channel), lambda: datetime.now(settings.tz), settings
                )
                outcomes = await sender.send_week(
                    unit_id=unit.id, as_of=args.date or _today(settings)
                )
            print(f"Tổng hợp tuần của {unit.name}: {outcomes or 'không có người nhận'}")
            return 0
        async with sessions() as session:
            unit = await _unit(session, args.unit)
            summary = await compute_summary(session, unit=unit, as_of=args.date or _today(settings))
    finally:
        await engine.dispose()
    if args.json:
        print(json.dumps(summary.as_json(), ensure_ascii=False, indent=1))
    elif args.xlsx:
        args.xlsx.write_bytes(render_workbook(summary, tz=settings.tz))
        print(f"Đã ghi {args.xlsx}")
    else:
        from core.summary_chart import render_chart  # matplotlib only when a chart is asked for

        args.png.write_bytes(render_chart(summary))
        print(f"Đã ghi {args.png}")
    return 0


async def export_command(args: argparse.Namespace, settings: Settings) -> int:
    output_file(args.out)
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session:
            unit = await _unit(session, args.unit)
            contents = await pack_contents(
                session, unit=unit, year=args.year, evidence_dir=settings.evidence_dir
            )
    finally:
        await engine.dispose()
    if not contents.items:
        raise CommandError(f"{unit.name} chưa có kế hoạch nào cho năm {args.year}.")
    write_pack(args.out, items=contents.items, files=contents.files, tz=settings.tz)
    print(f"Đã ghi {args.out}: {len(contents.items)} mục, {len(contents.files)} tệp minh chứng.")
    for missing in contents.missing:
        print(f"  Thiếu tệp trên đĩa: {missing}")
    return 0
