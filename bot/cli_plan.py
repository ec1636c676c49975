"""``python -m bot plan …``: read, import and inspect plans.

``plan parse FILE --json`` is a stable contract other tools rely on: one JSON
object on stdout and exit 0, or exit 2 with the reason on stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

from bot.cli import CommandError, read_input_file
from bot.database import open_database
from bot.settings import Settings
from core.plan_preview import build_preview, render_preview
from core.plan_store import (
    UnitNameError,
    add_position_alias,
    find_unit,
    import_plan,
    list_plans,
    unit_catalogue,
    unit_criteria,
)
from core.plan_yaml import dump_yaml_plan
from core.plans import parse_plan_file
from core.positions import default_catalogue
from storage.models import Criterion


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    plan = subparsers.add_parser("plan", help="đọc, nhập và xem kế hoạch")
    commands = plan.add_subparsers(dest="plan_command", metavar="<lệnh>", required=True)

    parse = commands.add_parser("parse", help="đọc thử một tệp kế hoạch, không ghi gì")
    parse.add_argument("file", type=Path, help=".txt/.tsv, .docx, .xlsx, .csv hoặc .yaml")
    output = parse.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="in kết quả dạng JSON")
    output.add_argument("--yaml", action="store_true", help="in kế hoạch ở định dạng YAML")
    parse.set_defaults(handler=parse_command)

    imp = commands.add_parser("import", help="nhập (hoặc cập nhật) kế hoạch của một đơn vị")
    imp.add_argument("file", type=Path)
    imp.add_argument("--unit", required=True, help='tên đơn vị, ví dụ "Phường 6"')
    imp.add_argument("--json", action="store_true", help="in báo cáo dạng JSON")
    imp.set_defaults(handler=import_command)

    lst = commands.add_parser("list", help="liệt kê các kế hoạch đã nhập")
    lst.set_defaults(handler=list_command)

    show = commands.add_parser("show", help="xem các mục của kế hoạch một đơn vị")
    show.add_argument("--unit", required=True)
    show.add_argument("--code", help="chỉ xem một mục, ví dụ 1.2")
    show.add_argument("--index", help="chỉ xem một bộ chỉ số: PAR, SIPAS, PAPI, PCI, CCHC")
    show.set_defaults(handler=show_command)

    mapping = commands.add_parser(
        "map", help="ghi nhớ một cách viết đơn vị chủ trì chưa nhận ra (ví dụ «Truyền thanh»)"
    )
    mapping.add_argument("--unit", required=True)
    mapping.add_argument("--text", required=True, help="cách viết trong kế hoạch")
    mapping.add_argument("--position", required=True, help="mã vị trí, ví dụ VHXH")
    mapping.set_defaults(handler=map_command)


async def parse_command(args: argparse.Namespace, settings: Settings) -> int:
    data = read_input_file(args.file)
    plan = parse_plan_file(data, filename=args.file.name, catalogue=default_catalogue())
    if args.json:
        print(json.dumps(plan.as_json(), ensure_ascii=False, indent=1))
    elif args.yaml:
        print(dump_yaml_plan(plan), end="")
    else:
        print(render_preview(build_preview(plan)))
    return 0


async def import_command(args: argparse.Namespace, settings: Settings) -> int:
    data = read_input_file(args.file)
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session, session.begin():
            unit = await find_unit(session, name=args.unit)
            catalogue = await unit_catalogue(session, unit=unit)
            plan = parse_plan_file(data, filename=args.file.name, catalogue=catalogue)
            report = await import_plan(
                session,
                unit_name=args.unit,
                plan=plan,
                source_name=args.file.name,
                source_sha256=hashlib.sha256(data).hexdigest(),
                actor="cli",
            )
    except UnitNameError as exc:
        raise CommandError(str(exc)) from None
    finally:
        await engine.dispose()
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False, indent=1))
        return 0
    verb = "Đã tạo" if report.plan_created else "Đã cập nhật"
    print(f"{verb} kế hoạch cho {report.unit_name} (mã kế hoạch {report.plan_id}).")
    print(
        f"  Thêm mới: {len(report.added)}  Thay đổi: {len(report.changed)}  "
        f"Gỡ bỏ: {len(report.removed)}  Giữ nguyên: {report.unchanged}"
    )
    for label, items in (("Thay đổi", report.changed), ("Gỡ bỏ", report.removed)):
        if items and not report.plan_created:
            print(f"  {label}: {', '.join(items[:30])}{' …' if len(items) > 30 else ''}")
    if report.warnings:
        print(f"  Cảnh báo: {len(report.warnings)} (xem bằng: python -m bot plan parse FILE)")
    return 0


async def list_command(args: argparse.Namespace, settings: Settings) -> int:
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session:
            plans = await list_plans(session)
    finally:
        await engine.dispose()
    if not plans:
        print("Chưa có kế hoạch nào. Nhập bằng: python -m bot plan import FILE --unit TÊN")
        return 0
    for unit, plan, count in plans:
        period = f"{plan.period_start}–{plan.period_end}" if plan.period_start else "?"
        print(
            f"{unit.name}\t{period}\t{', '.join(plan.indexes)}\t{count} mục\t"
            f"{plan.source_name or ''}"
        )
    return 0


async def show_command(args: argparse.Namespace, settings: Settings) -> int:
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session:
            unit = await find_unit(session, name=args.unit)
            if unit is None:
                raise CommandError(f"Chưa có đơn vị «{args.unit}». Xem: python -m bot plan list")
            criteria = await unit_criteria(session, unit=unit, index=args.index, code=args.code)
    finally:
        await engine.dispose()
    if not criteria:
        what = f"mục {args.code}" if args.code else "mục nào"
        raise CommandError(f"Không có {what} trong kế hoạch của {unit.name}.")
    if args.code:
        print("\n\n".join(_criterion_card(c) for c in criteria))
    else:
        for criterion in criteria:
            print(_criterion_line(criterion))
    return 0


async def map_command(args: argparse.Namespace, settings: Settings) -> int:
    code = args.position.strip().upper()
    if code not in default_catalogue().positions:
        known = ", ".join(default_catalogue().positions)
        raise CommandError(f"Mã vị trí {code!r} không có trong danh mục ({known}).")
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session, session.begin():
            unit = await find_unit(session, name=args.unit)
            if unit is None:
                raise CommandError(f"Chưa có đơn vị «{args.unit}».")
            remapped = await add_position_alias(
                session, unit=unit, text=args.text, position_code=code, actor="cli"
            )
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    finally:
        await engine.dispose()
    print(f"Đã ghi nhớ: «{args.text}» là {code} ở {unit.name}; {remapped} mục được cập nhật.")
    return 0


def _criterion_line(criterion: Criterion) -> str:
    dates = ", ".join(d.due_date.strftime("%d/%m/%Y") for d in criterion.milestones[:3])
    when = "Thường xuyên" if criterion.recurrence == "continuous" else dates or "chưa có hạn"
    owners = ",".join(criterion.leads) or "-"
    indent = "  " * criterion.code.count(".")
    return f"{criterion.index_name}\t{indent}{criterion.code}\t{owners}\t{when}\t{criterion.title}"


def _criterion_card(criterion: Criterion) -> str:
    lines = [f"{criterion.index_name} {criterion.code}: {criterion.title}"]
    if criterion.requirement:
        lines.append(f"Yêu cầu: {criterion.requirement}")
    if criterion.task:
        lines.append(f"Nhiệm vụ: {criterion.task}")
    if criterion.max_points is not None:
        lines.append(
            f"Điểm tối đa: {criterion.max_points:g}; phấn đấu: "
            f"{criterion.target_points if criterion.target_points is not None else '-'}"
        )
    lines.append(f"Chủ trì: {', '.join(criterion.leads) or '-'} ({criterion.lead_text or ''})")
    if criterion.supports:
        lines.append(f"Phối hợp: {', '.join(criterion.supports)}")
    lines.append(f"Thời hạn (theo kế hoạch): {criterion.deadline_text or '-'}")
    for milestone in criterion.milestones:
        label = f" — {milestone.label}" if milestone.label else ""
        lines.append(f"  • {milestone.due_date:%d/%m/%Y}{label}")
    if criterion.recurrence:
        lines.append(f"Lặp lại: {criterion.recurrence}")
    return "\n".join(lines)
