"""The dashboard over real HTTP on the test database: logging in with a one-time link,
who sees what, the pages' numbers against the chat summary's, uploads and CSRF."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.settings import Settings
from core.items import live_leaf_criteria
from core.progress import record_progress
from core.summary import compute_summary
from core.web_login import WebLoginError, issue_login_link, spend_login
from storage.models import Criterion, Evidence, Officer, Unit, WebLogin
from tests.e2e import SettableClock
from tests.sql_counting import counted_statements
from tests.web_world import NOW, PDF, World, build_world, running_world, web_settings
from web.context import CONTEXT
from web.server import WARM_UP, start_web_server

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def world(settings: Settings, session_factory: Sessions) -> AsyncIterator[World]:
    async with running_world(settings, session_factory) as world:
        yield world


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def log_in(client: httpx.AsyncClient, link: str) -> httpx.Response:
    page = await client.get(link)
    assert page.status_code == 200 and "Đăng nhập" in page.text
    return await client.post(link)


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
    assert found is not None
    return found.group(1)


async def summary_of(world: World, unit_id: int):  # type: ignore[no-untyped-def]
    async with world.sessions() as session:
        unit = await session.get_one(Unit, unit_id)
        return await compute_summary(session, unit=unit, as_of=NOW.date())


# ---------------------------------------------------------------- logging in


async def test_a_get_never_spends_the_link_and_a_post_spends_it_once(
    world: World, client: httpx.AsyncClient
) -> None:
    link = await world.login_link(officer_id=world.leader_id)
    for _ in range(3):  # a chat app's preview, then the person, then a reload
        page = await client.get(link)
        assert page.status_code == 200 and "<button" in page.text
    answer = await client.post(link)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=28800" in cookie
    assert "Secure" not in cookie  # the base URL is http in this test
    again = await httpx.AsyncClient().post(link)
    assert again.status_code == 410 and "hết hạn" in again.text
    assert (await client.get(link)).status_code == 410
    home = await client.get(f"{world.local}/", follow_redirects=True)
    assert home.status_code == 200 and "Phường 6" in home.text


async def test_the_link_expires_after_15_minutes_and_the_session_after_8_hours(
    world: World, client: httpx.AsyncClient
) -> None:
    stale = await world.login_link(officer_id=world.leader_id)
    world.clock.set(NOW + timedelta(minutes=15))
    assert (await client.get(stale)).status_code == 410
    assert (await client.post(stale)).status_code == 410
    fresh = await world.login_link(officer_id=world.leader_id)
    assert (await log_in(client, fresh)).status_code == 303
    page = f"{world.local}/xa/{world.unit_id}"
    world.clock.set(NOW + timedelta(minutes=15, hours=8) - timedelta(seconds=1))
    assert (await client.get(page)).status_code == 200
    world.clock.set(NOW + timedelta(minutes=15, hours=8))
    assert (await client.get(page)).status_code == 401


async def test_the_cookie_is_secure_when_the_base_url_is_https(
    settings: Settings, session_factory: Sessions
) -> None:
    https = "https://dondoc.example.vn"
    async with (
        running_world(settings, session_factory, base_url=https) as world,
        httpx.AsyncClient() as client,
    ):
        answer = await log_in(client, await world.login_link(officer_id=world.leader_id))
        assert "Secure" in answer.headers["set-cookie"]


async def test_no_link_for_an_inactive_person_and_a_link_is_one_session(world: World) -> None:
    async with world.sessions() as session, session.begin():
        officer = await session.get_one(Officer, world.colleague_id)
        officer.active = False
    async with world.sessions() as session, session.begin():
        with pytest.raises(WebLoginError):
            await issue_login_link(
                session, base_url=world.local, officer_id=world.colleague_id, now=NOW
            )
        link = await issue_login_link(
            session, base_url=world.local, officer_id=world.leader_id, now=NOW
        )
        token = link.rsplit("/", 1)[1]
        assert await spend_login(session, token=token, now=NOW) is not None
        assert await spend_login(session, token=token, now=NOW) is None
        stored = await session.scalar(select(WebLogin.token_sha256))
        assert stored is not None and token not in stored  # only the hash is kept


async def test_deactivated_officer_is_refused_at_the_next_request(
    world: World, client: httpx.AsyncClient
) -> None:
    await log_in(client, await world.login_link(officer_id=world.officer_id))
    page = f"{world.local}/xa/{world.unit_id}"
    assert (await client.get(page)).status_code == 200
    async with world.sessions() as session, session.begin():
        (await session.get_one(Officer, world.officer_id)).active = False
    refused = await client.get(page)
    assert refused.status_code == 403 and "bị khóa" in refused.text
    assert (await client.get(page)).status_code == 401  # the session is gone too


async def test_no_cookie_is_401_with_how_to_log_in(world: World) -> None:
    answer = await httpx.AsyncClient().get(f"{world.local}/xa/{world.unit_id}")
    assert answer.status_code == 401 and "/web" in answer.text


# ---------------------------------------------------------------- who sees what


async def test_a_leader_sees_their_commune_with_the_chat_summary_numbers_and_nothing_else(
    world: World, client: httpx.AsyncClient
) -> None:
    await log_in(client, await world.login_link(officer_id=world.leader_id))
    page = await client.get(f"{world.local}/xa/{world.unit_id}")
    assert page.status_code == 200
    summary = await summary_of(world, world.unit_id)
    (par,) = summary.indexes
    assert par.points is not None and par.totals.overdue > 0
    assert f'class="done">{par.totals.done}/{par.totals.items}<' in page.text
    assert re.search(rf'class="overdue[^"]*">{par.totals.overdue}<', page.text)
    assert "Vũ Văn Phòng" in page.text and "Bảng tin.jpg" not in page.text
    for other in (
        f"/xa/{world.other_unit_id}",
        f"/xa/{world.other_unit_id}/tonghop.xlsx",
        f"/xa/{world.other_unit_id}/bieudo.png",
        "/tinh",
        "/tinh.xlsx",
    ):
        assert (await client.get(world.local + other)).status_code == 403, other
    # An item of the other unit under this unit's id is not found, under its own forbidden.
    async with world.sessions() as session:
        theirs = (await live_leaf_criteria(session, unit_id=world.other_unit_id))[0].id
    assert (await client.get(f"{world.local}/xa/{world.unit_id}/viec/{theirs}")).status_code == 404
    assert (
        await client.get(f"{world.local}/xa/{world.other_unit_id}/viec/{theirs}")
    ).status_code == 403


async def test_the_commune_chart_and_spreadsheet(world: World, client: httpx.AsyncClient) -> None:
    await log_in(client, await world.login_link(officer_id=world.leader_id))
    chart = await client.get(f"{world.local}/xa/{world.unit_id}/bieudo.png")
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")
    book = await client.get(f"{world.local}/xa/{world.unit_id}/tonghop.xlsx")
    assert book.status_code == 200 and "attachment" in book.headers["content-disposition"]
    sheets = openpyxl.load_workbook(io.BytesIO(book.content)).sheetnames
    assert len(sheets) >= 2


async def test_an_officer_sees_only_their_own_items(
    world: World, client: httpx.AsyncClient
) -> None:
    await log_in(client, await world.login_link(officer_id=world.officer_id))
    page = await client.get(f"{world.local}/xa/{world.unit_id}")
    assert page.status_code == 200 and "Việc của Vũ Văn Phòng" in page.text
    assert f"/viec/{world.own_item_id}" in page.text
    assert f'/viec/{world.colleague_item_id}"' not in page.text
    base = f"{world.local}/xa/{world.unit_id}"
    assert (await client.get(f"{base}/viec/{world.own_item_id}")).status_code == 200
    assert (await client.get(f"{base}/viec/{world.colleague_item_id}")).status_code == 403
    assert (await client.get(f"{base}/tonghop.xlsx")).status_code == 403


async def test_scope_follows_the_roles_as_they_are_now(
    world: World, client: httpx.AsyncClient
) -> None:
    await log_in(client, await world.login_link(officer_id=world.leader_id))
    assert "tổng hợp đến ngày" in (await client.get(f"{world.local}/xa/{world.unit_id}")).text
    async with world.sessions() as session, session.begin():
        (await session.get_one(Officer, world.leader_id)).roles = ["officer"]
    demoted = await client.get(f"{world.local}/xa/{world.unit_id}")
    assert demoted.status_code == 200 and "tổng hợp đến ngày" not in demoted.text
    assert (await client.get(f"{world.local}/xa/{world.unit_id}/bieudo.png")).status_code == 403


async def test_the_province_sees_every_commune_in_a_sortable_table_and_xlsx(
    world: World, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    answer = await log_in(client, await world.login_link(province=True))
    assert answer.status_code == 303
    home = await client.get(f"{world.local}/", follow_redirects=True)
    assert str(home.url).endswith("/tinh")
    rows = re.findall(r'<td><a href="/xa/(\d+)">([^<]+)</a></td>', home.text)
    assert [name for _, name in rows] == ["Phường 6", "Xã Tân Đức"]
    by_overdue = await client.get(f"{world.local}/tinh?sap=quahan&chieu=giam")
    summaries = {u: await summary_of(world, u) for u in (world.unit_id, world.other_unit_id)}
    overdue = {u: sum(i.totals.overdue for i in s.indexes) for u, s in summaries.items()}
    ordered = sorted(overdue, key=lambda u: overdue[u], reverse=True)
    found = [
        int(u) for u, _ in re.findall(r'<td><a href="/xa/(\d+)">([^<]+)</a></td>', by_overdue.text)
    ]
    assert found == ordered
    assert "thiếu 2024" in home.text  # Phường 6 has no plan for this year
    book = await client.get(f"{world.local}/tinh.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(book.content)).active
    assert sheet is not None
    table = list(sheet.iter_rows(values_only=True))
    assert table[0][0] == "Đơn vị" and [r[0] for r in table[1:]] == ["Phường 6", "Xã Tân Đức"]
    par = summaries[world.unit_id].indexes[0]
    assert (
        table[1][1:3] == (par.totals.done, par.totals.items) and table[1][4] == par.totals.overdue
    )
    # The province user may open any commune, item and file.
    assert (await client.get(f"{world.local}/xa/{world.other_unit_id}")).status_code == 200
    # Warm: a fixed handful of statements, not a summary per commune.
    with counted_statements(engine) as statements:
        assert (await client.get(f"{world.local}/tinh")).status_code == 200
    assert len(statements) <= 8, statements


async def test_a_new_report_moves_the_province_row_at_the_next_request(
    world: World, client: httpx.AsyncClient
) -> None:
    await log_in(client, await world.login_link(province=True))
    before = await client.get(f"{world.local}/tinh.xlsx")
    done_before = openpyxl.load_workbook(io.BytesIO(before.content)).active.cell(2, 2).value  # type: ignore[union-attr]
    async with world.sessions() as session, session.begin():
        officer = await session.get_one(Officer, world.officer_id)
        item = await session.get_one(Criterion, world.own_item_id)
        await record_progress(
            session, officer=officer, criterion=item, status="done", source="cli",
            source_update_id=None, now=NOW,
        )  # fmt: skip
    after = await client.get(f"{world.local}/tinh.xlsx")
    done_after = openpyxl.load_workbook(io.BytesIO(after.content)).active.cell(2, 2).value  # type: ignore[union-attr]
    assert done_after == done_before + 1


# ---------------------------------------------------------------- evidence uploads


async def test_an_officer_attaches_a_pdf_and_the_summary_counts_it(
    world: World, client: httpx.AsyncClient
) -> None:
    await log_in(client, await world.login_link(officer_id=world.officer_id))
    item = f"{world.local}/xa/{world.unit_id}/viec/{world.own_item_id}"
    page = await client.get(item)
    token = csrf_of(page)
    before = (await summary_of(world, world.unit_id)).indexes[0]
    count = {line.criterion_id: line.evidence_count for line in before.items}[world.own_item_id]
    files = {"tep": ("Báo cáo quý.pdf", PDF, "application/pdf")}
    answer = await client.post(f"{item}/minhchung", data={"csrf": token}, files=files)
    assert answer.status_code == 303 and answer.headers["location"].endswith("?tb=ok")
    shown = await client.get(item + "?tb=ok")
    assert "Đã nhận tệp minh chứng." in shown.text and "Báo cáo quý.pdf" in shown.text
    after = (await summary_of(world, world.unit_id)).indexes[0]
    counts = {line.criterion_id: line.evidence_count for line in after.items}
    assert counts[world.own_item_id] == count + 1
    again = await client.post(f"{item}/minhchung", data={"csrf": token}, files=files)
    assert again.headers["location"].endswith("?tb=trung")
    evidence_id = re.search(r'/minhchung/(\d+)">Báo cáo quý', shown.text)
    assert evidence_id is not None
    served = await client.get(f"{world.local}/xa/{world.unit_id}/minhchung/{evidence_id.group(1)}")
    assert served.content == PDF and served.headers["content-type"] == "application/pdf"


async def test_uploads_without_csrf_of_a_wrong_type_or_on_another_item_change_nothing(
    world: World, client: httpx.AsyncClient
) -> None:
    await log_in(client, await world.login_link(officer_id=world.officer_id))
    base = f"{world.local}/xa/{world.unit_id}/viec"
    token = csrf_of(await client.get(f"{base}/{world.own_item_id}"))
    pdf = {"tep": ("a.pdf", PDF, "application/pdf")}
    assert (
        await client.post(f"{base}/{world.own_item_id}/minhchung", files=pdf)
    ).status_code == 403
    assert (
        await client.post(
            f"{base}/{world.own_item_id}/minhchung", data={"csrf": "0" * 64}, files=pdf
        )
    ).status_code == 403
    exe = {"tep": ("virus.exe", b"MZ", "application/octet-stream")}
    wrong = await client.post(
        f"{base}/{world.own_item_id}/minhchung", data={"csrf": token}, files=exe
    )
    assert wrong.status_code == 400 and "PDF" in wrong.text
    other = await client.post(
        f"{base}/{world.colleague_item_id}/minhchung", data={"csrf": token}, files=pdf
    )
    assert other.status_code == 403
    async with world.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Evidence)) == 1  # the world's
    assert not list((world.settings.evidence_dir / ".incoming").glob("*"))


async def test_logout_needs_csrf_and_ends_the_session(
    world: World, client: httpx.AsyncClient
) -> None:
    await log_in(client, await world.login_link(officer_id=world.leader_id))
    page = await client.get(f"{world.local}/xa/{world.unit_id}")
    assert (await client.post(f"{world.local}/dangxuat")).status_code == 403
    out = await client.post(f"{world.local}/dangxuat", data={"csrf": csrf_of(page)})
    assert out.status_code == 200
    assert (await client.get(f"{world.local}/xa/{world.unit_id}")).status_code == 401


async def test_the_running_server_computes_every_commune_in_advance(
    settings: Settings, session_factory: Sessions
) -> None:
    prepared = web_settings(settings)
    await build_world(prepared, session_factory)
    server = await start_web_server(prepared, sessions=session_factory, clock=SettableClock(NOW))
    try:
        await server.app[WARM_UP]
        cached = server.app[CONTEXT].dashboard.states
        assert sorted(state.row.unit for state in cached.values()) == ["Phường 6", "Xã Tân Đức"]
    finally:
        await server.stop()
