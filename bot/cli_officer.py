"""``python -m bot officer …``: add officers, invite them, import a roster, list them.

The unit must exist (``unit add``, or a ``plan import`` of its plan): a
mistyped name is refused with the closest names, never made into a new unit.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot import texts
from bot.cli import CommandError, read_input_file
from bot.database import open_database
from bot.settings import Settings
from channels.telegram_identity import UnknownBotUsername, bot_username
from core.accounts import (
    AccountError,
    account_label,
    accounts_by_officer,
    channel_label,
    officer_accounts,
    parse_account,
)
from core.officers import (
    OfficerError,
    RosterError,
    add_officer,
    create_invite,
    deep_link,
    import_roster,
    officer_by_name,
    read_roster,
    set_positions,
    unit_officers,
)
from core.plan_store import UnitNameError
from core.roles import ROLE_LABELS
from core.roster import officer_position_codes
from core.text import parse_whole_number
from core.units import existing_unit
from storage.models import ChannelAccount, Officer

ACTOR = "cli"
_UNIT_MUST_EXIST = "Đơn vị phải có sẵn (python -m bot unit add TÊN)."


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    officer = subparsers.add_parser("officer", help="cán bộ: thêm, mời, nhập danh sách, xem")
    commands = officer.add_subparsers(dest="officer_command", metavar="<lệnh>", required=True)
    codes = ", ".join(officer_position_codes())

    add = commands.add_parser(
        "add", help="thêm hoặc cập nhật một cán bộ", description=f"{_UNIT_MUST_EXIST}"
    )
    add.add_argument("--unit", required=True, help='tên đơn vị, ví dụ "Phường 6"')
    add.add_argument("--name", required=True, help="họ tên")
    add.add_argument(
        "--position", action="append", default=[], help=f"mã vị trí, lặp lại được ({codes})"
    )
    add.add_argument(
        "--role",
        action="append",
        default=[],
        help="officer|coordinator|leader|admin (hoặc cán bộ, đầu mối, lãnh đạo, quản trị); "
        "lặp lại được; mặc định officer",
    )
    add.add_argument("--telegram-id", type=_telegram_id, help="gắn sẵn tài khoản Telegram (số)")
    add.add_argument(
        "--account",
        type=_account,
        help="gắn sẵn một tài khoản chat bất kỳ, dạng kênh:mã (ví dụ zalo:8123456789)",
    )
    add.add_argument("--phone", help="số điện thoại")
    add.set_defaults(handler=add_command)

    invite = commands.add_parser(
        "invite",
        help="tạo đường dẫn mời (dùng một lần, hết hạn sau 7 ngày)",
        description=f"Tạo cán bộ nếu chưa có (cần --position). {_UNIT_MUST_EXIST}",
    )
    invite.add_argument("--unit", required=True)
    invite.add_argument("--name", required=True)
    invite.add_argument("--position", action="append", default=[], help=f"mã vị trí ({codes})")
    invite.add_argument(
        "--bot-username",
        help="tên bot, không có @ (mặc định TELEGRAM_BOT_USERNAME, hoặc hỏi Telegram bằng "
        "TELEGRAM_BOT_TOKEN)",
    )
    invite.set_defaults(handler=invite_command)

    imp = commands.add_parser(
        "import",
        help="nhập danh sách cán bộ từ .csv hoặc .xlsx",
        description="Cột: Họ tên, Vị trí (ngăn bằng ;), Vai trò, Telegram ID, Số điện thoại "
        "(hoặc name, positions, role, telegram_id, phone). Có dòng sai thì không nhập gì. "
        f"Nhập lại thì cập nhật theo họ tên. {_UNIT_MUST_EXIST}",
    )
    imp.add_argument("file", type=Path)
    imp.add_argument("--unit", required=True)
    imp.set_defaults(handler=import_command)

    lst = commands.add_parser("list", help="liệt kê cán bộ của một đơn vị")
    lst.add_argument("--unit", required=True)
    lst.set_defaults(handler=list_command)


def _account(text: str) -> tuple[str, str]:
    try:
        return parse_account(text)
    except AccountError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _telegram_id(text: str) -> int:
    value = parse_whole_number(text, minimum=1)
    if value is None:
        raise argparse.ArgumentTypeError(f"Telegram ID «{text[:40]}» phải là một số dương hợp lệ.")
    return value


def _describe(officer: Officer) -> str:
    positions = ", ".join(officer.positions or []) or "chưa có vị trí"
    return f"{officer.name} ({positions})"


async def add_command(args: argparse.Namespace, settings: Settings) -> int:
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session, session.begin():
            unit = await existing_unit(session, name=args.unit)
            officer, created = await add_officer(
                session,
                unit=unit,
                name=args.name,
                positions=args.position,
                roles=args.role or ("officer",),
                telegram_id=args.telegram_id,
                account=args.account,
                phone=args.phone,
                actor=ACTOR,
            )
            accounts = await officer_accounts(session, officer_id=officer.id)
    except (OfficerError, UnitNameError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        await engine.dispose()
    verb = "Đã thêm" if created else "Đã cập nhật"
    channels = ", ".join(channel_label(a.channel) for a in accounts)
    linked = f"đã gắn {channels}" if accounts else "chưa gắn Telegram"
    print(f"{verb} {_describe(officer)} ở {unit.name}; {linked}.")
    return 0


async def invite_command(args: argparse.Namespace, settings: Settings) -> int:
    now = datetime.now(UTC)
    username, no_link = await _bot_username(args, settings)  # before writing anything
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session, session.begin():
            unit = await existing_unit(session, name=args.unit)
            officer = await officer_by_name(session, unit=unit, name=args.name)
            if officer is None:
                if not args.position:
                    raise CommandError(
                        f"Chưa có cán bộ «{args.name}» ở {unit.name}: thêm --position để tạo."
                    )
                officer, _ = await add_officer(
                    session, unit=unit, name=args.name, positions=args.position, actor=ACTOR
                )
            elif args.position:
                await set_positions(
                    session,
                    officer=officer,
                    positions=args.position,
                    actor=ACTOR,
                    actor_officer_id=None,
                )
            invite = await create_invite(session, unit=unit, officer=officer, actor=ACTOR, now=now)
    except (OfficerError, UnitNameError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        await engine.dispose()
    expires = invite.expires_at.astimezone(settings.tz).strftime("%d/%m/%Y %H:%M")
    print(f"Lời mời cho {_describe(officer)} ở {unit.name}, dùng một lần, hết hạn {expires}.")
    if username is not None:
        print(f"Đường dẫn: {deep_link(username, invite.code)}")
    elif settings.zalo_bot_token is None:  # on Zalo the code is the way, and no loss
        print(f"Đường dẫn: {no_link}. Cán bộ nhắn cho bot: /start {invite.code}")
    if settings.zalo_bot_token is not None:  # Zalo has no deep links: the code is typed
        print(f"Trên Zalo: cán bộ nhắn cho bot đúng mã này: {invite.code}")
    print(f"Mã: {invite.code}")
    return 0


async def _bot_username(args: argparse.Namespace, settings: Settings) -> tuple[str | None, str]:
    """The username for the link, or None and the reason there is no link."""
    if args.bot_username:
        return args.bot_username.lstrip("@"), ""
    try:
        return await bot_username(settings), ""
    except UnknownBotUsername as exc:
        return None, str(exc)


async def import_command(args: argparse.Namespace, settings: Settings) -> int:
    try:
        rows = read_roster(read_input_file(args.file), filename=args.file.name)
    except RosterError as exc:
        raise CommandError(str(exc)) from None
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session, session.begin():
            unit = await existing_unit(session, name=args.unit)
            report = await import_roster(session, unit=unit, rows=rows, actor=ACTOR)
    except (RosterError, UnitNameError) as exc:
        raise CommandError(str(exc)) from None
    finally:
        await engine.dispose()
    print(
        f"Đã nhập danh sách cán bộ cho {unit.name}: "
        f"thêm mới {len(report.added)}, cập nhật {len(report.updated)}."
    )
    for label, names in (("Thêm mới", report.added), ("Cập nhật", report.updated)):
        if names:
            print(f"  {label}: {', '.join(names)}")
    return 0


async def list_command(args: argparse.Namespace, settings: Settings) -> int:
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session:
            unit = await existing_unit(session, name=args.unit)
            officers = await unit_officers(session, unit=unit)
            accounts = await accounts_by_officer(session, officer_ids=[o.id for o in officers])
    except UnitNameError as exc:
        raise CommandError(str(exc)) from None
    finally:
        await engine.dispose()
    if not officers:
        print(f"{unit.name} chưa có cán bộ nào. Thêm bằng: python -m bot officer add …")
        return 0
    print("Họ tên\tVị trí\tVai trò\tTài khoản\tHoạt động gần nhất")
    for officer in officers:
        print(_officer_line(officer, accounts.get(officer.id, []), settings))
    return 0


def _officer_line(officer: Officer, accounts: list[ChannelAccount], settings: Settings) -> str:
    roles = ", ".join(ROLE_LABELS.get(role, role) for role in officer.roles or [])
    linked = texts.accounts_text([(account_label(a), not a.unreachable) for a in accounts])
    linked = linked or "chưa gắn"
    seen = (
        officer.last_activity_at.astimezone(settings.tz).strftime("%d/%m/%Y %H:%M")
        if officer.last_activity_at
        else "-"
    )
    return f"{officer.name}\t{', '.join(officer.positions or []) or '-'}\t{roles}\t{linked}\t{seen}"
