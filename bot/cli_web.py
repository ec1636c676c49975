"""``python -m bot web link …`` and ``province …``: into the dashboard without chat.

``web link`` prints a one-time login link (15 minutes), the same the chat's /web gives;
``province add`` creates a province user (Sở Nội vụ), who belongs to no unit and sees
every unit on the web, and prints their invite (a Telegram deep link and a code to type
on any channel) and, when the web is set up, a first login link; ``province invite``
prints a fresh invite, ``province list`` and ``province deactivate`` do what they say.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from bot.cli import CommandError
from bot.cli_officer import add_bot_username_option, invite_bot_username, print_invite
from bot.database import open_database
from bot.settings import Settings
from core.accounts import account_label, person_accounts
from core.officers import officer_by_name
from core.province_users import (
    ProvinceUserError,
    add_province_user,
    create_province_invite,
    deactivate_province_user,
    existing_province_user,
    province_users,
)
from core.units import existing_unit
from core.web_login import WebLoginError, issue_login_link
from storage.models import ProvinceInvite, ProvinceUser

_T = TypeVar("_T")


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
    add = pcommands.add_parser(
        "add", help="thêm người dùng cấp tỉnh (xem được mọi đơn vị) và in lời mời của họ"
    )
    add.add_argument("name", metavar="TÊN")
    add_bot_username_option(add)
    add.set_defaults(handler=province_add_command)
    invite = pcommands.add_parser(
        "invite", help="in lời mời mới (dùng một lần, hết hạn sau 7 ngày); lời mời cũ hết dùng"
    )
    invite.add_argument("name", metavar="TÊN")
    add_bot_username_option(invite)
    invite.set_defaults(handler=province_invite_command)
    listing = pcommands.add_parser("list", help="liệt kê người dùng cấp tỉnh")
    listing.set_defaults(handler=province_list_command)
    deactivate = pcommands.add_parser(
        "deactivate", help="tạm ngưng: không dùng được bot và trang web nữa"
    )
    deactivate.add_argument("name", metavar="TÊN")
    deactivate.set_defaults(handler=province_deactivate_command)


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
                user = await existing_province_user(session, name=args.province)
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
    except (WebLoginError, ProvinceUserError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        await engine.dispose()
    print(url)
    return 0


async def province_add_command(args: argparse.Namespace, settings: Settings) -> int:
    link = await invite_bot_username(args, settings)  # before writing anything
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session, session.begin():
            now = datetime.now(UTC)
            user = await add_province_user(session, name=args.name)
            invite = await create_province_invite(session, user=user, now=now)
            url = None
            if settings.base_url is not None:
                url = await issue_login_link(
                    session, base_url=settings.base_url, province_user_id=user.id, now=now
                )
    except ProvinceUserError as exc:
        raise CommandError(str(exc)) from None
    finally:
        await engine.dispose()
    print(f"Đã thêm người dùng cấp tỉnh {user.name}.")
    _print_province_invite(invite, user, link, settings)
    if url is not None:
        print(f"Liên kết đăng nhập web (dùng một lần, 15 phút): {url}")
    return 0


async def province_invite_command(args: argparse.Namespace, settings: Settings) -> int:
    link = await invite_bot_username(args, settings)
    user, invite = await _on_province_user(settings, args.name, create_province_invite)
    _print_province_invite(invite, user, link, settings)
    return 0


async def _on_province_user(
    settings: Settings,
    name: str,
    change: Callable[..., Awaitable[_T]],
) -> tuple[ProvinceUser, _T]:
    """``change(session, user=…, now=…)`` on the province user of that name, committed."""
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session, session.begin():
            user = await existing_province_user(session, name=name)
            return user, await change(session, user=user, now=datetime.now(UTC))
    except ProvinceUserError as exc:
        raise CommandError(str(exc)) from None
    finally:
        await engine.dispose()


def _print_province_invite(
    invite: ProvinceInvite, user: ProvinceUser, link: tuple[str | None, str], settings: Settings
) -> None:
    print_invite(
        invite,
        whom=f"{user.name} (cấp tỉnh)",
        sender="Người được mời",
        link=link,
        settings=settings,
    )
    print("Sau khi liên kết, gõ /web trong chat để nhận liên kết đăng nhập trang web.")


async def province_list_command(args: argparse.Namespace, settings: Settings) -> int:
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session:
            users = await province_users(session)
            accounts = {
                user.id: await person_accounts(session, province_user_id=user.id) for user in users
            }
    finally:
        await engine.dispose()
    if not users:
        print("Chưa có người dùng cấp tỉnh nào: python -m bot province add TÊN")
    for user in users:
        linked = ", ".join(account_label(a) for a in accounts[user.id]) or "chưa gắn tài khoản chat"
        state = "" if user.active else " (tạm ngưng)"
        print(f"{user.name}{state}: {linked}")
    return 0


async def province_deactivate_command(args: argparse.Namespace, settings: Settings) -> int:
    user, changed = await _on_province_user(settings, args.name, deactivate_province_user)
    verb = "Đã tạm ngưng" if changed else "Đã tạm ngưng từ trước"
    print(f"{verb} {user.name}: không dùng được bot và trang web nữa.")
    return 0
