"""``python -m bot web link …`` and ``province add …``: into the dashboard without chat.

``web link`` prints a one-time login link (15 minutes), the same the chat's /web gives;
``province add`` creates a province user (Sở Nội vụ), who belongs to no unit and sees
every unit on the web, and prints their first login link.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from bot.cli import CommandError
from bot.database import open_database
from bot.settings import Settings
from core.officers import officer_by_name
from core.units import existing_unit
from core.web_login import (
    WebLoginError,
    add_province_user,
    issue_login_link,
    province_user_by_name,
)


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    web = subparsers.add_parser("web", help="trang web: liên kết đăng nhập")
    commands = web.add_subparsers(dest="web_command", metavar="<lệnh>", required=True)
    link = commands.add_parser(
        "link", help="in liên kết đăng nhập dùng một lần (hết hạn sau 15 phút)"
    )
    link.add_argument("--unit", metavar="ĐƠN_VỊ", help="đơn vị của cán bộ")
    who = link.add_mutually_exclusive_group(required=True)
    who.add_argument("--officer", metavar="HỌ_TÊN", help="cán bộ của đơn vị --unit")
    who.add_argument("--province", metavar="TÊN", help="người dùng cấp tỉnh")
    link.set_defaults(handler=link_command)

    province = subparsers.add_parser("province", help="người dùng cấp tỉnh (Sở Nội vụ)")
    pcommands = province.add_subparsers(dest="province_command", metavar="<lệnh>", required=True)
    add = pcommands.add_parser("add", help="thêm người dùng cấp tỉnh, xem được mọi đơn vị")
    add.add_argument("name", metavar="TÊN")
    add.set_defaults(handler=province_add_command)


def _base_url(settings: Settings) -> str:
    if settings.base_url is None:
        raise CommandError("Chưa đặt PUBLIC_BASE_URL: chưa có trang web để đăng nhập.", 3)
    return settings.base_url


async def link_command(args: argparse.Namespace, settings: Settings) -> int:
    base_url = _base_url(settings)
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session, session.begin():
            now = datetime.now(UTC)
            if args.province is not None:
                user = await province_user_by_name(session, name=args.province)
                if user is None:
                    raise CommandError(f"Không có người dùng cấp tỉnh tên {args.province}.")
                url = await issue_login_link(
                    session, base_url=base_url, province_user_id=user.id, now=now
                )
            else:
                if args.unit is None:
                    raise CommandError("Hãy ghi đơn vị của cán bộ: --unit ĐƠN_VỊ.")
                unit = await existing_unit(session, name=args.unit)
                officer = await officer_by_name(session, unit=unit, name=args.officer)
                if officer is None:
                    raise CommandError(f"{unit.name} không có cán bộ tên {args.officer}.")
                url = await issue_login_link(
                    session, base_url=base_url, officer_id=officer.id, now=now
                )
    except WebLoginError as exc:
        raise CommandError(str(exc)) from None
    finally:
        await engine.dispose()
    print(url)
    return 0


async def province_add_command(args: argparse.Namespace, settings: Settings) -> int:
    base_url = _base_url(settings)
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session, session.begin():
            user = await add_province_user(session, name=args.name)
            url = await issue_login_link(
                session, base_url=base_url, province_user_id=user.id, now=datetime.now(UTC)
            )
    except WebLoginError as exc:
        raise CommandError(str(exc)) from None
    finally:
        await engine.dispose()
    print(f"Đã thêm người dùng cấp tỉnh {user.name}.")
    print(f"Liên kết đăng nhập (dùng một lần, 15 phút): {url}")
    print(f"Lần sau: python -m bot web link --province {user.name!r}")
    return 0
