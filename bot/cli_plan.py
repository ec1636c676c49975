"""``python -m bot plan …``: read, import and inspect plans.

``plan parse FILE --json`` is a stable contract other tools rely on: one JSON
object on stdout and exit 0, or exit 2 with the reason on stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from bot import texts
from bot.cli import CommandError, read_input_file
from bot.database import open_database
from bot.settings import Settings
from core.plan_model import ParsedPlan
from core.plan_preview import build_preview, render_preview
from core.plan_store import (
    UnitNameError,
    add_position_alias,
    import_plan,
    list_plans,
    unit_catalogue,
    unit_criteria,
)
from core.plan_yaml import dump_yaml_plan
from core.plan_years import PlanCloseError, close_plans, plan_statuses, years_label
from core.plans import parse_plan_file
from core.positions import default_catalogue
from core.text import format_points
from core.units import document_unit_conflict, existing_unit, lookup_unit, unit_conflict_text
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
    imp.add_argument(
        "--force",
        action="store_true",
        help="nhập cả khi tệp ghi tên đơn vị khác với --unit (đơn vị phải có sẵn)",
    )
    imp.set_defaults(handler=import_command)

    lst = commands.add_parser(
        "list", help="liệt kê các kế hoạch đã nhập, và kế hoạch nào đang hiện hành"
    )
    lst.set_defaults(handler=list_command)

    close = commands.add_parser(
        "close", help="kết thúc một kế hoạch (không còn nhắc việc), vẫn giữ làm lịch sử"
    )
    close.add_argument("--unit", required=True)
    close.add_argument("--year", required=True, type=int, help="năm kế hoạch, ví dụ 2025")
    close.add_argument("--index", help="chỉ đóng kế hoạch của một bộ chỉ số, ví dụ PCI")
    close.set_defaults(handler=close_command)

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
            unit = await lookup_unit(session, name=args.unit)
            catalogue = await unit_catalogue(session, unit=unit)
            plan = parse_plan_file(data, filename=args.file.name, catalogue=catalogue)
            _check_document_unit(plan, args)
            if unit is None and (not plan.unit or args.force):
                await existing_unit(session, name=args.unit)  # raises, naming the closest
            report = await import_plan(
                session,
                unit_name=unit.name if unit is not None else plan.unit or args.unit,
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


def _check_document_unit(plan: ParsedPlan, args: argparse.Namespace) -> None:
    """Refuse a document that names another unit, unless --force says it is meant."""
    named = document_unit_conflict(plan, args.unit)
    if named is None or args.force:
        return
    raise CommandError(
        f"{unit_conflict_text(named, args.unit)} Không nhập gì. "
        "Nếu đúng là kế hoạch của đơn vị này, thêm --force; nếu đơn vị đã đổi tên "
        "(sáp nhập), đổi tên trước: python -m bot unit rename CŨ MỚI."
    )


async def list_command(args: argparse.Namespace, settings: Settings) -> int:
    today = datetime.now(settings.tz).date()
    engine, sessions = await open_database(settings)
    statuses: dict[int, str] = {}
    try:
        async with sessions() as session:
            plans = await list_plans(session)
            for unit_id in dict.fromkeys(unit.id for unit, _, _ in plans):
                for found in await plan_statuses(session, unit_id=unit_id, day=today):
                    statuses[found.plan.id] = found.status
    finally:
        await engine.dispose()
    if not plans:
        print("Chưa có kế hoạch nào. Nhập bằng: python -m bot plan import FILE --unit TÊN")
        return 0
    for unit, plan, count in plans:
        period = f"{plan.period_start}–{plan.period_end}" if plan.period_start else "?"
        print(
            f"{unit.name}\t{period}\t{', '.join(plan.indexes)}\t{count} mục\t"
            f"{plan.source_name or ''}\t{statuses.get(plan.id, '')}"
        )
    return 0


async def close_command(args: argparse.Namespace, settings: Settings) -> int:
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session, session.begin():
            unit = await existing_unit(session, name=args.unit)
            try:
                closed = await close_plans(
                    session, unit=unit, year=args.year, index=args.index, actor="cli"
                )
            except PlanCloseError as exc:
                raise CommandError(str(exc)) from exc
    finally:
        await engine.dispose()
    if not closed:
        print(f"Kế hoạch năm {args.year} của {unit.name} đã đóng từ trước: không đổi gì.")
        return 0
    for plan in closed:
        print(
            f"Đã đóng kế hoạch {', '.join(plan.indexes or [])} "
            f"{years_label(plan.period_start, plan.period_end)} của {unit.name}: "
            "không còn nhắc việc, vẫn xem được trong báo cáo và gói minh chứng."
        )
    return 0


async def show_command(args: argparse.Namespace, settings: Settings) -> int:
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session:
            unit = await existing_unit(session, name=args.unit)
            criteria = await unit_criteria(session, unit=unit)
    finally:
        await engine.dispose()
    indexes = list(dict.fromkeys(c.index_name for c in criteria))
    if args.code:
        code = args.code.strip().rstrip(".")
        criteria = [c for c in criteria if c.code == code]
    if args.index:
        index = args.index.strip().upper()
        if index not in indexes:
            known = ", ".join(indexes) or "chưa có kế hoạch"
            raise CommandError(f"{unit.name} không có bộ chỉ số «{args.index}» (có: {known}).")
        criteria = [c for c in criteria if c.index_name == index]
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
            unit = await existing_unit(session, name=args.unit)
            remapped = await add_position_alias(
                session, unit=unit, text=args.text, position_code=code, actor="cli"
            )
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    finally:
        await engine.dispose()
    print(f"Đã ghi nhớ: «{args.text}» là {code} ở {unit.name}; {remapped} mục được cập nhật.")
    return 0


def _positions_text(codes: list[str], separator: str = ", ") -> str:
    """Position codes as officers write them (VPTK, TPHT); "ALL" in words, not in English."""
    names = default_catalogue().positions
    return separator.join(names[c].name if c == "ALL" and c in names else c for c in codes)


def _due_dates(criterion: Criterion, limit: int | None = None) -> str:
    # Several activity rows often share one date: each date once.
    dates = list(dict.fromkeys(m.due_date for m in criterion.milestones))
    return ", ".join(f"{d:%d/%m/%Y}" for d in dates[:limit])


def _criterion_line(criterion: Criterion) -> str:
    dates = _due_dates(criterion, 3)
    when = "Thường xuyên" if criterion.recurrence == "continuous" else dates or "chưa có hạn"
    owners = _positions_text(criterion.leads, ",") or "-"
    indent = "  " * criterion.code.count(".")
    return f"{criterion.index_name}\t{indent}{criterion.code}\t{owners}\t{when}\t{criterion.title}"


def _criterion_card(criterion: Criterion) -> str:
    lines = [f"{criterion.index_name} {criterion.code}: {criterion.title}"]
    if criterion.requirement:
        lines.append(f"Yêu cầu: {criterion.requirement}")
    if criterion.task:
        lines.append(f"Nhiệm vụ: {criterion.task}")
    if criterion.max_points is not None or criterion.target_points is not None:
        lines.append(
            f"Điểm tối đa: {_points(criterion.max_points)}; "
            f"phấn đấu: {_points(criterion.target_points)}"
        )
    lead_text = f" ({criterion.lead_text})" if criterion.lead_text else ""
    lines.append(f"Chủ trì: {_positions_text(criterion.leads) or '-'}{lead_text}")
    if criterion.supports:
        lines.append(f"Phối hợp: {_positions_text(criterion.supports)}")
    lines.append(f"Thời hạn (theo kế hoạch): {criterion.deadline_text or '-'}")
    for milestone in criterion.milestones:
        label = f" — {milestone.label}" if milestone.label else ""
        lines.append(f"  • {milestone.due_date:%d/%m/%Y}{label}")
    if criterion.recurrence:
        lines.append(
            f"Lặp lại: {texts.RECURRENCE_LABELS.get(criterion.recurrence, criterion.recurrence)}"
        )
    return "\n".join(lines)


def _points(value: float | None) -> str:
    return format_points(value) if value is not None else "-"
