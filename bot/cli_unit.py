"""``python -m bot unit …``: create, list and rename units.

Only ``unit add``, the first ``plan import`` of a document naming the unit and
a confirmed /kehoach create a unit; every other command refuses an unknown
name and suggests the closest ones.
"""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli import CommandError
from bot.database import open_database
from bot.settings import Settings
from core.unit_merge import MergeError, merge_units
from core.units import add_unit, existing_unit, list_units, rename_unit

ACTOR = "cli"


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    unit = subparsers.add_parser("unit", help="đơn vị: thêm, xem danh sách, đổi tên, sáp nhập")
    commands = unit.add_subparsers(dest="unit_command", metavar="<lệnh>", required=True)

    add = commands.add_parser("add", help="thêm một đơn vị mới")
    add.add_argument("name", metavar="TÊN", help='ví dụ "Phường 6"')
    add.set_defaults(handler=add_command)

    lst = commands.add_parser("list", help="liệt kê các đơn vị")
    lst.set_defaults(handler=list_command)

    rename = commands.add_parser(
        "rename", help="đổi tên đơn vị (ví dụ xã sáp nhập có tên mới); giữ nguyên dữ liệu"
    )
    rename.add_argument("old", metavar="TÊN_CŨ")
    rename.add_argument("new", metavar="TÊN_MỚI")
    rename.set_defaults(handler=rename_command)

    merge = commands.add_parser(
        "merge",
        help="sáp nhập đơn vị: cán bộ, kế hoạch (giữ làm lịch sử), tiến độ, minh chứng "
        "chuyển sang đơn vị mới",
    )
    merge.add_argument("sources", nargs="+", metavar="TÊN_CŨ")
    merge.add_argument("--into", required=True, metavar="TÊN_MỚI")
    merge.set_defaults(handler=merge_command)


async def add_command(args: argparse.Namespace, settings: Settings) -> int:
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session, session.begin():
            unit = await add_unit(session, name=args.name, actor=ACTOR)
    finally:
        await engine.dispose()
    print(f"Đã thêm đơn vị {unit.name}.")
    return 0


async def list_command(args: argparse.Namespace, settings: Settings) -> int:
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session:
            lines = await list_units(session)
    finally:
        await engine.dispose()
    if not lines:
        print("Chưa có đơn vị nào. Thêm bằng: python -m bot unit add TÊN")
        return 0
    for line in lines:
        print(f"{line.name}\t{line.plans} kế hoạch\t{line.officers} cán bộ")
    return 0


async def rename_command(args: argparse.Namespace, settings: Settings) -> int:
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session, session.begin():
            unit = await existing_unit(session, name=args.old)
            old = await rename_unit(session, unit=unit, new_name=args.new, actor=ACTOR)
    finally:
        await engine.dispose()
    print(f"Đã đổi tên {old} thành {unit.name}.")
    return 0


async def merge_command(args: argparse.Namespace, settings: Settings) -> int:
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session, session.begin():
            try:
                report = await merge_units(
                    session, sources=args.sources, into=args.into, actor=ACTOR
                )
            except MergeError as exc:
                raise CommandError(str(exc)) from exc
    finally:
        await engine.dispose()
    old = ", ".join(report.sources)
    if not report.changed:
        print(f"{old} đã sáp nhập vào {report.target} từ trước: không đổi gì.")
        return 0
    moved = report.moved
    print(
        f"Đã sáp nhập {old} vào {report.target}: {moved.get('officers', 0)} cán bộ, "
        f"{moved.get('plans', 0)} kế hoạch (giữ làm lịch sử, không nhắc việc), "
        f"{moved.get('progress_updates', 0)} báo cáo tiến độ, "
        f"{moved.get('evidence', 0)} minh chứng; "
        f"hủy {report.invites_cancelled} lời mời chưa dùng."
    )
    for name in report.renamed_officers:
        print(f"Trùng tên cán bộ, đổi thành: {name}")
    print(f'Nhập kế hoạch mới: python -m bot plan import FILE --unit "{report.target}"')
    return 0
