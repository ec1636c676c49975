"""Officers: adding, rosters (.csv/.xlsx), invites, configured admins, roles."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.accounts import link_account, officer_accounts, set_reachable
from core.officers import (
    InviteError,
    OfficerError,
    RosterError,
    add_officer,
    attach_admin_to_unit,
    create_invite,
    deep_link,
    ensure_configured_admin,
    import_roster,
    note_activity,
    officer_by_account,
    read_roster,
    redeem_invite,
    set_positions,
    unit_officers,
)
from core.plan_store import get_or_create_unit
from core.roles import RoleError, has_role, is_manager, parse_role, parse_roles
from storage.models import AuditLog, Base, Invite, Officer, Unit

Sessions = async_sessionmaker[AsyncSession]
NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)


async def make_unit(session: AsyncSession, name: str = "Xã Tân Đức") -> Unit:
    unit, _ = await get_or_create_unit(session, name=name)
    return unit


async def count(session: AsyncSession, model: type[Base], *where: ColumnElement[bool]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def audits(session: AsyncSession, action: str) -> list[AuditLog]:
    rows = await session.scalars(
        select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
    )
    return list(rows.all())


def tg(*ids: int) -> set[tuple[str, str]]:
    """Configured admins (ADMIN_TELEGRAM_IDS) as Settings.admin_accounts gives them."""
    return {("telegram", str(i)) for i in ids}


async def telegram_of(session: AsyncSession, officer: Officer) -> int | None:
    """The officer's Telegram account (a channel_accounts row since 0013), as a number."""
    for account in await officer_accounts(session, officer_id=officer.id):
        if account.channel == "telegram":
            return int(account.external_id)
    return None


async def officer(
    session: AsyncSession,
    unit: Unit,
    name: str,
    *positions: str,
    roles: Sequence[str] = ("officer",),
    telegram_id: int | None = None,
) -> Officer:
    added, _ = await add_officer(
        session,
        unit=unit,
        name=name,
        positions=positions,
        roles=roles,
        telegram_id=telegram_id,
        actor="test",
    )
    return added


# --- roles ---------------------------------------------------------------------------------


def test_roles_parse_vietnamese_and_english_words() -> None:
    assert parse_role("Đầu mối") == "coordinator"
    assert parse_role("LANH DAO") == "leader"
    assert parse_role(" admin ") == "admin"
    assert parse_role("cán bộ") == "officer"
    assert parse_roles("Quản trị; đầu mối, quản trị") == ["coordinator", "admin"]
    assert parse_roles("") == []
    with pytest.raises(RoleError, match="«thủ quỹ»"):
        parse_roles("đầu mối; thủ quỹ")


def test_manager_roles() -> None:
    clerk = Officer(roles=["officer"])
    chief = Officer(roles=["officer", "leader"])
    assert not is_manager(clerk) and is_manager(chief)
    assert has_role(chief, "leader") and not has_role(clerk, "admin")


# --- add_officer -----------------------------------------------------------------------------


async def test_add_officer_then_update_by_folded_name(session: AsyncSession) -> None:
    unit = await make_unit(session)
    first, created = await add_officer(
        session,
        unit=unit,
        name="  Nguyễn Văn  An ",
        positions=["vptk"],
        telegram_id=111,
        phone="0912 345 678",
        actor="cli",
    )
    assert created and first.name == "Nguyễn Văn An" and first.positions == ["VPTK"]
    assert first.roles == ["officer"] and await telegram_of(session, first) == 111
    second, created = await add_officer(
        session,
        unit=unit,
        name="NGUYEN VAN AN",
        positions=["Tư pháp - Hộ tịch", "VPTK"],
        roles=["đầu mối", "officer"],
        actor="telegram:9",
        actor_officer_id=first.id,
    )
    await session.commit()
    assert not created and second.id == first.id
    assert second.positions == ["TPHT", "VPTK"] and second.roles == ["officer", "coordinator"]
    assert (
        await telegram_of(session, second) == 111 and second.phone == "0912 345 678"
    )  # kept when left out
    assert await count(session, Officer) == 1
    added, updated = await audits(session, "officer.add"), await audits(session, "officer.update")
    assert len(added) == 1 and added[0].old is None and added[0].actor == "cli"
    change = updated[0]
    assert change.old is not None and change.new is not None
    assert (change.old["positions"], change.new["positions"]) == (["VPTK"], ["TPHT", "VPTK"])
    assert change.actor_officer_id == first.id


async def test_adding_the_same_officer_again_writes_no_audit(session: AsyncSession) -> None:
    unit = await make_unit(session)
    await officer(session, unit, "Lê Thị Bình", "TCKT")
    await officer(session, unit, "Lê Thị Bình", "TCKT")
    assert await count(session, AuditLog) == 1


@pytest.mark.parametrize(
    ("positions", "message"),
    [
        (["Kế hoạch"], "Vị trí «Kế hoạch» không có trong danh mục"),
        (["UBND"], "không phải vị trí của một công chức"),
        (["Các CBCC"], "không phải vị trí của một công chức"),
    ],
)
async def test_unknown_or_collective_positions_are_refused(
    session: AsyncSession, positions: list[str], message: str
) -> None:
    unit = await make_unit(session)
    with pytest.raises(OfficerError, match=message) as caught:
        await add_officer(session, unit=unit, name="Trần C", positions=positions, actor="t")
    assert "VPTK" in str(caught.value) and "MOTCUA" in str(caught.value)
    assert await count(session, Officer) == 0


async def test_bad_role_and_empty_name_are_refused(session: AsyncSession) -> None:
    unit = await make_unit(session)
    with pytest.raises(OfficerError, match="Vai trò «boss»"):
        await add_officer(
            session, unit=unit, name="Trần C", positions=["VPTK"], roles=["boss"], actor="t"
        )
    with pytest.raises(OfficerError, match="Họ tên"):
        await add_officer(session, unit=unit, name=" - ", positions=["VPTK"], actor="t")
    with pytest.raises(OfficerError, match="ít nhất một vị trí"):
        await add_officer(session, unit=unit, name="Trần C", positions=[], actor="t")
    assert await count(session, Officer) == 0


async def test_telegram_id_of_another_officer_is_refused(session: AsyncSession) -> None:
    unit, other_unit = await make_unit(session), await make_unit(session, "Phường 6")
    await officer(session, unit, "Phạm D", "VPTK", telegram_id=500)
    await officer(session, other_unit, "Võ E", "VPTK", telegram_id=600)
    with pytest.raises(OfficerError, match="Phạm D"):
        await officer(session, unit, "Hồ F", "TPHT", telegram_id=500)
    with pytest.raises(OfficerError, match="một cán bộ khác"):  # no names from another unit
        await officer(session, unit, "Hồ F", "TPHT", telegram_id=600)
    same = await officer(session, unit, "Phạm D", "TPHT", telegram_id=500)
    assert same.positions == ["TPHT"]


# --- rosters -----------------------------------------------------------------------------------


ENGLISH_CSV = (
    "name,positions,role,telegram_id,phone\n"
    "Nguyễn Văn An,VPTK;TPHT,coordinator,1001,0912345678\n"
    "Lê Thị Bình,Văn phòng - Thống kê,,,\n"
    "\n"
    "Trần Văn Cường,TCKT,officer;admin,1003,\n"
).encode()

VIETNAMESE_CSV = (
    "\ufeffHọ tên;Vị trí;Vai trò;Telegram ID;Số điện thoại\n"
    'Nguyễn Văn An;"Tư pháp - Hộ tịch; VP-TK";Đầu mối;1001;\n'
    "Đặng Thu Hà;;Lãnh đạo;;0909\n"
).encode()


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_read_roster_csv_with_english_headers() -> None:
    rows = read_roster(ENGLISH_CSV, filename="canbo.csv")
    assert [(r.line, r.name, r.positions, r.roles, r.telegram_id, r.phone) for r in rows] == [
        (2, "Nguyễn Văn An", ("VPTK", "TPHT"), ("coordinator",), 1001, "0912345678"),
        (3, "Lê Thị Bình", ("VPTK",), ("officer",), None, None),
        (5, "Trần Văn Cường", ("TCKT",), ("officer", "admin"), 1003, None),
    ]


def test_read_roster_csv_with_vietnamese_headers_and_semicolons() -> None:
    rows = read_roster(VIETNAMESE_CSV, filename="DANH SACH.CSV")
    assert [(r.name, r.positions, r.roles, r.phone) for r in rows] == [
        ("Nguyễn Văn An", ("TPHT", "VPTK"), ("coordinator",), None),
        ("Đặng Thu Hà", (), ("leader",), "0909"),  # a leader needs no position
    ]


def test_read_roster_xlsx_with_vietnamese_headers() -> None:
    data = xlsx_bytes(
        [
            ["HỌ TÊN", "Vị trí", "Vai trò", "Telegram ID", "Số điện thoại"],
            ["Nguyễn Văn An", "VPTK", "Đầu mối, Quản trị", 123456789, "0912345678"],
            [None, None, None, None, None],
            ["Lê Thị Bình", "Bộ phận Một cửa; TCKT", None, 987654321.0, None],
        ]
    )
    rows = read_roster(data, filename="canbo.xlsx")
    assert [(r.line, r.name, r.positions, r.roles, r.telegram_id) for r in rows] == [
        (2, "Nguyễn Văn An", ("VPTK",), ("coordinator", "admin"), 123456789),
        (4, "Lê Thị Bình", ("MOTCUA", "TCKT"), ("officer",), 987654321),
    ]


def test_every_bad_row_is_reported_with_its_line_number() -> None:
    data = (
        "Họ tên,Vị trí,Vai trò,Telegram ID\n"
        "Nguyễn Văn An,VPTK,,1001\n"
        ",VPTK,,\n"
        "Lê Thị Bình,Kế hoạch,,\n"
        "Trần Văn Cường,TCKT,thủ quỹ,\n"
        "Đỗ Văn Dũng,TPHT,,12ab\n"
        "nguyen van an,TPHT,,\n"
        "Hồ Văn Em,TPHT,,1001\n"
        '"Phan Văn\nGiang",,,\n'
        "Mai Văn Hùng,VHXH,,\n"
    ).encode()
    with pytest.raises(RosterError) as caught:
        read_roster(data, filename="canbo.csv")
    assert caught.value.problems == [
        "Dòng 3: thiếu họ tên.",
        "Dòng 4: Vị trí «Kế hoạch» không có trong danh mục.",
        "Dòng 5: Vai trò «thủ quỹ» không hợp lệ. Dùng: cán bộ, đầu mối, lãnh đạo, quản trị.",
        "Dòng 6: Telegram ID «12ab» phải là số.",
        "Dòng 7: trùng họ tên với dòng 2.",
        "Dòng 8: Telegram ID trùng với dòng 2.",
        "Dòng 9: thiếu vị trí.",
        "Mã vị trí hợp lệ: VPTK, TPHT, TCKT, VHXH, DCXD, CA, QS, NV, MOTCUA.",
    ]
    assert str(caught.value).startswith("Danh sách có lỗi, chưa nhập gì:\nDòng 3:")


@pytest.mark.parametrize(
    ("data", "filename", "problem"),
    [
        (b"name,role\nAn,officer\n", "a.csv", "Dòng 1: thiếu cột Vị trí"),
        (b"\n\n", "a.csv", "Tệp trống."),
        (b"name,positions\n", "a.csv", "Tệp không có dòng cán bộ nào."),
        (b"name,positions\nAn,VPTK\n", "a.pdf", "Chỉ nhận tệp .csv hoặc .xlsx."),
        (b"not a zip", "a.xlsx", "Không đọc được tệp Excel"),
    ],
)
def test_unusable_roster_files(data: bytes, filename: str, problem: str) -> None:
    with pytest.raises(RosterError) as caught:
        read_roster(data, filename=filename)
    assert caught.value.problems[0].startswith(problem)


async def test_import_roster_adds_then_updates_by_name(session_factory: Sessions) -> None:
    async with session_factory() as session, session.begin():
        unit = await make_unit(session)
        report = await import_roster(
            session, unit=unit, rows=read_roster(ENGLISH_CSV, filename="a.csv"), actor="cli"
        )
    assert report.added == ["Nguyễn Văn An", "Lê Thị Bình", "Trần Văn Cường"]
    assert report.updated == []
    async with session_factory() as session, session.begin():
        unit = await make_unit(session)
        report = await import_roster(
            session, unit=unit, rows=read_roster(VIETNAMESE_CSV, filename="b.csv"), actor="cli"
        )
    assert report.added == ["Đặng Thu Hà"] and report.updated == ["Nguyễn Văn An"]
    async with session_factory() as session:
        unit = await make_unit(session)
        people = {o.name: o for o in await unit_officers(session, unit=unit)}
        assert list(people) == ["Đặng Thu Hà", "Lê Thị Bình", "Nguyễn Văn An", "Trần Văn Cường"]
        assert people["Nguyễn Văn An"].positions == ["TPHT", "VPTK"]
        assert await telegram_of(session, people["Nguyễn Văn An"]) == 1001
        assert people["Trần Văn Cường"].roles == ["officer", "admin"]


async def test_import_roster_is_all_or_nothing(session_factory: Sessions) -> None:
    async with session_factory() as session, session.begin():
        unit = await make_unit(session)
        await officer(session, unit, "Người Cũ", "NV", telegram_id=1003)
    rows = read_roster(ENGLISH_CSV, filename="a.csv")
    with pytest.raises(RosterError) as caught:
        async with session_factory() as session, session.begin():
            unit = await make_unit(session)
            await import_roster(session, unit=unit, rows=rows, actor="cli")
    assert caught.value.problems == ["Dòng 5: Telegram ID 1003 đã gắn với cán bộ Người Cũ."]
    async with session_factory() as session:
        assert await count(session, Officer) == 1


# --- invites -----------------------------------------------------------------------------------


async def test_invite_links_an_account_once(session: AsyncSession) -> None:
    unit = await make_unit(session)
    admin = await officer(session, unit, "Quản Trị", roles=["admin"])
    clerk = await officer(session, unit, "Nguyễn Văn An", "VPTK")
    invite = await create_invite(
        session, unit=unit, officer=clerk, actor="telegram:1", actor_officer_id=admin.id, now=NOW
    )
    # Issue 12: a code people type, 8 characters without look-alikes (was 16 to 64 URL-safe).
    assert re.fullmatch(r"[A-HJKMNP-Z2-9]{8}", invite.code)
    assert invite.expires_at == NOW + timedelta(days=7)
    assert deep_link("dondoc_bot", invite.code) == f"https://t.me/dondoc_bot?start={invite.code}"
    later = NOW + timedelta(days=2)
    linked = await redeem_invite(
        session,
        code=invite.code,
        channel="telegram",
        external_id="777",
        display_name="An Nguyễn",
        now=later,
    )
    await session.commit()
    assert (
        linked.id == clerk.id
        and await telegram_of(session, clerk) == 777
        and clerk.last_activity_at == later
    )
    # Issue 12: who used it is (channel, account id as text), no longer a Telegram integer.
    assert (invite.used_at, invite.used_by_channel, invite.used_by_account) == (
        later,
        "telegram",
        "777",
    )
    assert await officer_by_account(session, channel="telegram", external_id="777") == clerk
    redeemed = (await audits(session, "invite.redeem"))[0]
    assert redeemed.actor == "telegram:777" and redeemed.old == {"account": None}
    assert (await audits(session, "invite.create"))[0].actor_officer_id == admin.id
    again = await redeem_invite(  # the same account tapping the link twice
        session,
        code=invite.code,
        channel="telegram",
        external_id="777",
        display_name="An",
        now=later,
    )
    assert again.id == clerk.id
    with pytest.raises(InviteError) as caught:
        await redeem_invite(
            session,
            code=invite.code,
            channel="telegram",
            external_id="778",
            display_name="X",
            now=later,
        )
    assert caught.value.reason == "used" and "đã được dùng" in str(caught.value)


async def test_invite_expires_after_seven_days(session: AsyncSession) -> None:
    unit = await make_unit(session)
    clerk = await officer(session, unit, "Nguyễn Văn An", "VPTK")
    invite = await create_invite(session, unit=unit, officer=clerk, actor="cli", now=NOW)
    with pytest.raises(InviteError) as caught:
        await redeem_invite(
            session,
            code=invite.code,
            channel="telegram",
            external_id="5",
            display_name="",
            now=NOW + timedelta(days=7),
        )
    assert caught.value.reason == "expired" and await telegram_of(session, clerk) is None
    just_in_time = NOW + timedelta(days=7) - timedelta(seconds=1)
    await redeem_invite(
        session,
        code=invite.code,
        channel="telegram",
        external_id="5",
        display_name="",
        now=just_in_time,
    )
    assert await telegram_of(session, clerk) == 5


async def test_new_invite_replaces_older_unused_ones(session: AsyncSession) -> None:
    unit = await make_unit(session)
    clerk = await officer(session, unit, "Nguyễn Văn An", "VPTK")
    old = await create_invite(session, unit=unit, officer=clerk, actor="cli", now=NOW)
    new = await create_invite(
        session, unit=unit, officer=clerk, actor="cli", now=NOW + timedelta(hours=1)
    )
    assert old.code != new.code
    with pytest.raises(InviteError) as caught:
        await redeem_invite(
            session,
            code=old.code,
            channel="telegram",
            external_id="5",
            display_name="",
            now=NOW + timedelta(hours=2),
        )
    assert caught.value.reason == "expired"
    await redeem_invite(
        session,
        code=new.code,
        channel="telegram",
        external_id="5",
        display_name="",
        now=NOW + timedelta(hours=2),
    )
    assert await count(session, Invite) == 2


async def test_unknown_code_and_account_already_linked(session: AsyncSession) -> None:
    unit = await make_unit(session)
    await officer(session, unit, "Đã Gắn", "TPHT", telegram_id=42)
    clerk = await officer(session, unit, "Nguyễn Văn An", "VPTK")
    invite = await create_invite(session, unit=unit, officer=clerk, actor="cli", now=NOW)
    with pytest.raises(InviteError) as caught:
        await redeem_invite(
            session, code="nope", channel="telegram", external_id="1", display_name="", now=NOW
        )
    assert caught.value.reason == "unknown" and "không đúng" in str(caught.value)
    with pytest.raises(InviteError) as caught:
        await redeem_invite(
            session,
            code=invite.code,
            channel="telegram",
            external_id="42",
            display_name="",
            now=NOW,
        )
    assert caught.value.reason == "account_in_use"
    assert invite.used_at is None and await telegram_of(session, clerk) is None


async def test_invite_for_an_officer_of_another_unit_is_refused(session: AsyncSession) -> None:
    unit, other = await make_unit(session), await make_unit(session, "Phường 6")
    stranger = await officer(session, other, "Người Ngoài", "VPTK")
    with pytest.raises(OfficerError):
        await create_invite(session, unit=unit, officer=stranger, actor="cli", now=NOW)


# --- lookups and flags -------------------------------------------------------------------------


async def test_lookups_skip_inactive_officers(session: AsyncSession) -> None:
    unit = await make_unit(session)
    gone = await officer(session, unit, "Bùi Văn Nghỉ", "VPTK", telegram_id=9)
    await officer(session, unit, "Âu Thị Lan", "TPHT")
    gone.active = False
    await session.flush()
    assert await officer_by_account(session, channel="telegram", external_id="9") is None
    assert [o.name for o in await unit_officers(session, unit=unit)] == ["Âu Thị Lan"]
    everyone = await unit_officers(session, unit=unit, include_inactive=True)
    assert [o.name for o in everyone] == ["Âu Thị Lan", "Bùi Văn Nghỉ"]


async def test_set_positions_reachability_and_activity(session: AsyncSession) -> None:
    unit = await make_unit(session)
    clerk = await officer(session, unit, "Nguyễn Văn An", "VPTK")
    await set_positions(
        session, officer=clerk, positions=["TPHT", "vptk"], actor="telegram:1", actor_officer_id=1
    )
    assert clerk.positions == ["TPHT", "VPTK"]
    change = (await audits(session, "officer.positions"))[0]
    assert (change.old, change.new) == ({"positions": ["VPTK"]}, {"positions": ["TPHT", "VPTK"]})
    with pytest.raises(OfficerError):
        await set_positions(
            session, officer=clerk, positions=["XYZ"], actor="t", actor_officer_id=None
        )
    # Since 0013 "unreachable" is an account's: core.accounts.set_reachable.
    account = await link_account(
        session, channel="telegram", external_id="31", officer=clerk, actor="t"
    )
    assert await set_reachable(session, account=account, reachable=False)
    assert not await set_reachable(session, account=account, reachable=False)
    assert account.unreachable and len(await audits(session, "account.reachable")) == 1
    await note_activity(session, officer=clerk, account=account, now=NOW)
    await session.commit()
    assert clerk.last_activity_at == NOW and not account.unreachable
    assert account.last_used_at == NOW


# --- configured admins -------------------------------------------------------------------------


async def test_configured_admin_without_any_unit_is_asked_for_a_plan(
    session: AsyncSession,
) -> None:
    assert (
        await ensure_configured_admin(
            session,
            channel="telegram",
            external_id="1",
            display_name="Sếp",
            admin_accounts=tg(1),
            actor="telegram:1",
        )
        is None
    )
    assert (
        await ensure_configured_admin(
            session,
            channel="telegram",
            external_id="2",
            display_name="Lạ",
            admin_accounts=tg(1),
            actor="telegram:2",
        )
        is None
    )
    assert await count(session, Officer) == 0


async def test_configured_admin_joins_the_only_unit(session: AsyncSession) -> None:
    unit = await make_unit(session)
    admin = await ensure_configured_admin(
        session,
        channel="telegram",
        external_id="1",
        display_name="Lê Quản Trị",
        admin_accounts=tg(5, 1),
        actor="telegram:1",
    )
    assert admin is not None and admin.unit_id == unit.id
    assert (admin.name, admin.roles, admin.positions, await telegram_of(session, admin)) == (
        "Lê Quản Trị",
        ["admin"],
        [],
        1,
    )
    again = await ensure_configured_admin(
        session,
        channel="telegram",
        external_id="1",
        display_name="Lê Quản Trị",
        admin_accounts=tg(1),
        actor="telegram:1",
    )
    assert again is not None and again.id == admin.id and await count(session, Officer) == 1


async def test_configured_admin_already_linked_gets_the_admin_role(session: AsyncSession) -> None:
    unit = await make_unit(session)
    await make_unit(session, "Phường 6")  # several units: linking decides, not the unit count
    clerk = await officer(session, unit, "Nguyễn Văn An", "VPTK", telegram_id=1)
    admin = await ensure_configured_admin(
        session,
        channel="telegram",
        external_id="1",
        display_name="An",
        admin_accounts=tg(1),
        actor="telegram:1",
    )
    assert admin is not None and admin.id == clerk.id and clerk.roles == ["officer", "admin"]
    roles = (await audits(session, "officer.roles"))[0]
    assert (roles.old, roles.new) == ({"roles": ["officer"]}, {"roles": ["officer", "admin"]})
    assert (
        await ensure_configured_admin(
            session,
            channel="telegram",
            external_id="2",
            display_name="Khác",
            admin_accounts=tg(2),
            actor="telegram:2",
        )
        is None
    )


async def test_attach_admin_to_unit(session: AsyncSession) -> None:
    unit, other = await make_unit(session), await make_unit(session, "Phường 6")
    namesake = await officer(session, unit, "Lê Quản Trị", "VPTK")
    await officer(session, unit, "Trùng Tên", "TPHT", telegram_id=50)
    admin = await attach_admin_to_unit(
        session,
        unit=unit,
        channel="telegram",
        external_id="7",
        display_name="le quan tri",
        actor="telegram:7",
    )
    assert (
        admin.id == namesake.id
        and await telegram_of(session, admin) == 7
        and "admin" in admin.roles
    )
    second = await attach_admin_to_unit(
        session,
        unit=unit,
        channel="telegram",
        external_id="8",
        display_name="Trùng Tên",
        actor="telegram:8",
    )
    assert second.name == "Trùng Tên (2)" and second.roles == ["admin"]
    nameless = await attach_admin_to_unit(
        session,
        unit=other,
        channel="telegram",
        external_id="9",
        display_name="  ",
        actor="telegram:9",
    )
    assert nameless.name == "Quản trị viên" and nameless.unit_id == other.id
    with pytest.raises(OfficerError, match="Phường 6"):
        await attach_admin_to_unit(
            session,
            unit=unit,
            channel="telegram",
            external_id="9",
            display_name="X",
            actor="telegram:9",
        )


async def test_an_invite_from_another_channel_links_a_second_account(
    session: AsyncSession,
) -> None:
    """Issue 12: the code links the account of whichever channel it arrives on; the officer's
    Telegram account stays, and one account is one person."""
    unit = await make_unit(session)
    clerk = await officer(session, unit, "Nguyễn Văn An", "VPTK", telegram_id=31)
    invite = await create_invite(session, unit=unit, officer=clerk, actor="cli", now=NOW)
    linked = await redeem_invite(
        session,
        code=invite.code.lower(),
        channel="zalo",
        external_id="z-an",
        display_name="",
        now=NOW,
    )
    assert linked.id == clerk.id
    accounts = await officer_accounts(session, officer_id=clerk.id)
    assert [(a.channel, a.external_id) for a in accounts] == [("telegram", "31"), ("zalo", "z-an")]
    assert await officer_by_account(session, channel="zalo", external_id="z-an") == clerk
    other = await officer(session, unit, "Lê Thị Bình", "TPHT")
    second = await create_invite(session, unit=unit, officer=other, actor="cli", now=NOW)
    with pytest.raises(InviteError) as caught:
        await redeem_invite(
            session, code=second.code, channel="zalo", external_id="z-an", display_name="", now=NOW
        )
    assert caught.value.reason == "account_in_use"


async def test_configured_admin_on_zalo_joins_the_only_unit(session: AsyncSession) -> None:
    unit = await make_unit(session)
    admin = await ensure_configured_admin(
        session,
        channel="zalo",
        external_id="z-boss",
        display_name="Chủ tịch",
        admin_accounts={("zalo", "z-boss"), ("telegram", "1")},
        actor="zalo:z-boss",
    )
    assert admin is not None and admin.unit_id == unit.id and admin.roles == ["admin"]
    assert [
        (a.channel, a.external_id) for a in await officer_accounts(session, officer_id=admin.id)
    ] == [("zalo", "z-boss")]
