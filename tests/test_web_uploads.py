"""What an admin uploads on the web: a plan (the /kehoach preview, lead mapping and
"Xác nhận", from the same code) and a roster (as /canbo); admins of the unit only."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from core.plan_preview import build_preview, render_preview
from core.plans import parse_plan_file
from storage.models import Criterion, Officer, PositionAlias, Unit
from tests.web_world import World, running_world

Sessions = async_sessionmaker[AsyncSession]

PLAN = """\
dondoc_plan: 1
unit: Phường 6
year: 2024
criteria:
  - index: PAR
    code: "1"
    title: Công tác chỉ đạo
  - index: PAR
    code: "1.1"
    title: Ban hành kế hoạch CCHC năm 2024
    lead: Trạm Y tế
    deadline: Quý I/2024
  - index: PAR
    code: "1.2"
    title: Báo cáo CCHC định kỳ
    lead: Văn phòng - Thống kê
    deadline: Hàng quý
"""
ROSTER = "Họ tên,Vị trí,Vai trò\nĐinh Văn Mới,VHXH,\nPhan Thị Hai,TCKT,điều phối\n"


@pytest.fixture
async def world(settings: Settings, session_factory: Sessions) -> AsyncIterator[World]:
    async with running_world(settings, session_factory) as world:
        async with world.sessions() as session, session.begin():
            (await session.get_one(Officer, world.leader_id)).roles = ["leader", "admin"]
        yield world


@pytest.fixture
async def admin(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        link = await world.login_link(officer_id=world.leader_id)
        assert (await client.post(link)).status_code == 303
        yield client


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
    assert found is not None
    return found.group(1)


async def test_a_plan_is_previewed_mapped_and_confirmed_with_the_chat_s_code(
    world: World, admin: httpx.AsyncClient
) -> None:
    base = f"{world.local}/xa/{world.unit_id}"
    token = csrf_of(await admin.get(f"{base}/quantri"))
    files = {"tep": ("kehoach2024.yaml", PLAN.encode(), "application/yaml")}
    preview = await admin.post(f"{base}/kehoach", data={"csrf": token}, files=files)
    assert preview.status_code == 200
    expected = render_preview(
        build_preview(parse_plan_file(PLAN.encode(), filename="kehoach2024.yaml")), max_lines=40
    )
    shown = re.search(r'<pre id="xemtruoc"[^>]*>(.*?)</pre>', preview.text, re.S)
    assert shown is not None
    assert shown.group(1).replace("&#34;", '"').replace("&#39;", "'") == expected
    assert "«Trạm Y tế»" in preview.text
    action = re.search(r'action="(/xa/\d+/kehoach/[0-9a-f]{32})"', preview.text)
    assert action is not None
    decide = world.local + action.group(1)
    mapping = {"csrf": token, "lead_1": "Trạm Y tế", "ma_1": "MOTCUA"}
    again = await admin.post(decide, data={**mapping, "hanhdong": "xem"})
    assert "«Trạm Y tế» → MOTCUA" in again.text
    async with world.sessions() as session:
        before = await session.scalar(select(func.count()).select_from(Criterion))
    done = await admin.post(decide, data={**mapping, "hanhdong": "xacnhan"})
    assert done.status_code == 200 and "Đã nhập kế hoạch cho Phường 6." in done.text
    async with world.sessions() as session:
        after = await session.scalar(select(func.count()).select_from(Criterion))
        aliases = (
            await session.execute(select(PositionAlias.alias_text, PositionAlias.position_code))
        ).all()
        item = await session.scalar(
            select(Criterion).where(Criterion.title.like("Ban hành kế hoạch CCHC năm 2024"))
        )
    assert after == (before or 0) + 3
    assert [tuple(a) for a in aliases] == [("Trạm Y tế", "MOTCUA")]
    assert item is not None and item.leads == ["MOTCUA"]
    gone = await admin.post(decide, data={**mapping, "hanhdong": "xacnhan"})
    assert gone.status_code == 410  # confirmed once; the upload is gone


async def test_a_plan_of_another_unit_or_an_unreadable_file_imports_nothing(
    world: World, admin: httpx.AsyncClient
) -> None:
    base = f"{world.local}/xa/{world.unit_id}"
    token = csrf_of(await admin.get(f"{base}/quantri"))
    other = PLAN.replace("unit: Phường 6", "unit: Xã Tân Đức").encode()
    preview = await admin.post(
        f"{base}/kehoach", data={"csrf": token}, files={"tep": ("k.yaml", other, "text/plain")}
    )
    assert "không nhập được" in preview.text
    action = re.search(r'action="(/xa/\d+/kehoach/[0-9a-f]{32})"', preview.text)
    assert action is not None
    refused = await admin.post(
        world.local + action.group(1), data={"csrf": token, "hanhdong": "xacnhan"}
    )
    assert refused.status_code == 400 and "Xã Tân Đức" in refused.text
    broken = await admin.post(
        f"{base}/kehoach", data={"csrf": token}, files={"tep": ("k.yaml", b"dondoc_plan: [", "x")}
    )
    assert broken.status_code == 400 and "Không đọc được kế hoạch" in broken.text
    async with world.sessions() as session:
        units = list(await session.scalars(select(Unit.name).order_by(Unit.name)))
        plans = await session.scalar(
            select(func.count())
            .select_from(Criterion)
            .where(Criterion.title.like("Ban hành kế hoạch CCHC năm 2024"))
        )
    assert units == ["Phường 6", "Xã Tân Đức"] and plans == 0


async def test_a_roster_is_imported_all_or_nothing(world: World, admin: httpx.AsyncClient) -> None:
    base = f"{world.local}/xa/{world.unit_id}"
    token = csrf_of(await admin.get(f"{base}/quantri"))
    bad = ROSTER + "Không Vị Trí,XYZ,\n"
    refused = await admin.post(
        f"{base}/canbo", data={"csrf": token}, files={"tep": ("ds.csv", bad.encode(), "text/csv")}
    )
    assert refused.status_code == 400 and "Dòng 4" in refused.text
    ok = await admin.post(
        f"{base}/canbo",
        data={"csrf": token},
        files={"tep": ("ds.csv", ROSTER.encode(), "text/csv")},
    )
    assert ok.status_code == 200 and "thêm mới 2" in ok.text
    async with world.sessions() as session:
        added = {
            o.name: o.roles
            for o in await session.scalars(select(Officer).where(Officer.unit_id == world.unit_id))
        }
    assert added["Phan Thị Hai"] == ["coordinator"] and "Không Vị Trí" not in added


async def test_only_the_unit_s_admins_upload(world: World) -> None:
    async with httpx.AsyncClient() as officer:
        assert (
            await officer.post(await world.login_link(officer_id=world.officer_id))
        ).status_code == 303
        base = f"{world.local}/xa/{world.unit_id}"
        assert (await officer.get(f"{base}/quantri")).status_code == 403
        files = {"tep": ("ds.csv", ROSTER.encode(), "text/csv")}
        assert (await officer.post(f"{base}/canbo", files=files)).status_code == 403
    async with httpx.AsyncClient() as admin:
        assert (
            await admin.post(await world.login_link(officer_id=world.leader_id))
        ).status_code == 303
        other = f"{world.local}/xa/{world.other_unit_id}"
        assert (await admin.get(f"{other}/quantri")).status_code == 403
        no_csrf = await admin.post(
            f"{world.local}/xa/{world.unit_id}/canbo",
            files={"tep": ("ds.csv", ROSTER.encode(), "text/csv")},
        )
        assert no_csrf.status_code == 403
    async with world.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Officer).where(Officer.unit_id == world.unit_id)
        )
    assert count == 3
