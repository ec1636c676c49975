"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

One browser for the whole module: Chromium is started once with a DevTools port and each
test connects to it (a fresh context per test, so no cookie leaks between them).
Screenshots of the province and commune pages, at a phone's 390 px and at a desktop's
width, are written to ``tests/screenshots/`` (ignored by git).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import openpyxl
import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from core.summary import compute_summary
from storage.models import Officer, Unit
from tests.web_world import NOW, PDF, World, running_world

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).parent / "screenshots"
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1366, "height": 900}

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture(scope="module")
def devtools_url() -> Iterator[str]:
    """Chromium, started once for the module; its DevTools WebSocket address."""
    with tempfile.TemporaryDirectory() as profile:
        process = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stderr is not None
            for line in process.stderr:  # Chromium says where it listens as soon as it does
                found = re.search(r"DevTools listening on (ws://\S+)", line)
                if found:
                    break
            else:
                raise RuntimeError("chromium did not start")
            yield found.group(1)
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture
async def browser(devtools_url: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.connect_over_cdp(devtools_url)
        yield browser


@pytest.fixture
async def world(settings: Settings, session_factory: Sessions) -> AsyncIterator[World]:
    async with running_world(settings, session_factory) as world:
        yield world


async def new_page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport=DESKTOP, accept_downloads=True, locale="vi-VN")
    try:
        yield await context.new_page()
    finally:
        await context.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    async for opened in new_page(browser):
        yield opened


async def log_in(page: Page, link: str) -> None:
    await page.goto(link)
    await page.get_by_role("button", name="Đăng nhập").click()
    await page.wait_for_load_state()


async def screenshots(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    for label, size in (("390px", PHONE), ("desktop", DESKTOP)):
        await page.set_viewport_size(size)
        await page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    await page.set_viewport_size(DESKTOP)


async def test_the_chairman_logs_in_reads_the_summary_opens_an_item_and_downloads_the_xlsx(
    world: World, page: Page, tmp_path: Path
) -> None:
    await log_in(page, await world.login_link(officer_id=world.leader_id))
    assert page.url == f"{world.local}/xa/{world.unit_id}"
    async with world.sessions() as session:
        unit = await session.get_one(Unit, world.unit_id)
        summary = await compute_summary(session, unit=unit, as_of=NOW.date())
    (par,) = summary.indexes
    assert par.points is not None
    cards = page.locator('.cards[data-index="PAR"]')
    assert await cards.locator("b.done").inner_text() == f"{par.totals.done}/{par.totals.items}"
    assert await cards.locator("b.overdue").inner_text() == str(par.totals.overdue)
    # The chart is its own image, and it loaded.
    await page.locator("img.chart").scroll_into_view_if_needed()
    await page.wait_for_function(
        "() => { const img = document.querySelector('img.chart');"
        " return img.complete && img.naturalWidth > 0; }"
    )
    await screenshots(page, "commune")

    first = par.items[0]
    await page.locator(f'#viec a[href$="/viec/{first.criterion_id}"]').click()
    await page.wait_for_load_state()
    assert first.title in await page.locator("h1").inner_text()

    await page.goto(f"{world.local}/xa/{world.unit_id}")
    async with page.expect_download() as info:
        await page.get_by_text("Tải bảng tổng hợp (.xlsx)").click()
    download = await info.value
    saved = tmp_path / "tonghop.xlsx"
    await download.save_as(saved)
    book = openpyxl.load_workbook(saved)
    assert download.suggested_filename.endswith(".xlsx") and book.sheetnames

    refused = await page.goto(f"{world.local}/xa/{world.other_unit_id}")
    assert refused is not None and refused.status == 403
    assert "Không có quyền" in await page.locator("h1").inner_text()


async def test_an_officer_uploads_a_pdf_seen_in_the_summary_then_is_refused_once_deactivated(
    world: World, page: Page, tmp_path: Path
) -> None:
    await log_in(page, await world.login_link(officer_id=world.officer_id))
    await page.locator(f'a[href$="/viec/{world.own_item_id}"]').first.click()
    await page.wait_for_load_state()
    pdf = tmp_path / "Báo cáo kết quả.pdf"
    pdf.write_bytes(PDF)
    await page.set_input_files('input[name="tep"]', str(pdf))
    await page.get_by_role("button", name="Gửi").click()
    await page.wait_for_load_state()
    assert "Đã nhận tệp minh chứng." in await page.locator(".notice").inner_text()
    assert "Báo cáo kết quả.pdf" in await page.locator("#minhchung").inner_text()
    async with world.sessions() as session:
        unit = await session.get_one(Unit, world.unit_id)
        summary = await compute_summary(session, unit=unit, as_of=NOW.date())
    counts = {line.criterion_id: line.evidence_count for line in summary.indexes[0].items}
    assert counts[world.own_item_id] == 1  # what /tonghop counts

    async with world.sessions() as session, session.begin():
        (await session.get_one(Officer, world.officer_id)).active = False
    refused = await page.reload()
    assert refused is not None and refused.status == 403
    assert "bị khóa" in await page.locator("h1").inner_text()


async def test_the_province_table_sorts_and_opens_a_commune(world: World, page: Page) -> None:
    await log_in(page, await world.login_link(province=True))
    assert page.url == f"{world.local}/tinh"
    names = await page.locator("#tinh tbody td:first-child").all_inner_texts()
    assert names == ["Phường 6", "Xã Tân Đức"]
    await screenshots(page, "province")
    await page.get_by_role("link", name="Đơn vị").click()  # already by name: now descending
    await page.wait_for_load_state()
    names = await page.locator("#tinh tbody td:first-child").all_inner_texts()
    assert names == ["Xã Tân Đức", "Phường 6"]
    await page.get_by_role("link", name="Xã Tân Đức").click()
    await page.wait_for_load_state()
    assert "Xã Tân Đức — tổng hợp" in await page.locator("h1").inner_text()
