"""The web server's health check and signed file links, over real HTTP on the test database.

The clock the server reads is driven by the tests (no sleeping): a link is opened
just before and just after its expiry. The database "down" case points the
health check at a local socket that accepts connections and never answers, so
the shared PostgreSQL server is left alone.
"""

from __future__ import annotations

import base64
import io
import os
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import openpyxl
import pytest
from pydantic import SecretStr
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.pool import NullPool

from bot.settings import Settings
from core.evidence import new_incoming_path, store_evidence
from core.evidence_pack import write_pack
from core.export import pack_contents
from core.officers import add_officer
from core.plan_store import find_unit, import_plan
from storage.db import make_engine, make_session_factory
from storage.models import Criterion, Evidence, Unit
from tests.e2e import SettableClock
from tests.seed_files import PHUONG6, parsed_seed
from web import links
from web.files import content_disposition
from web.server import Webhook, WebServer, build_web_app

SECRET = "web-secret-for-the-tests-0123456789abcdef"
BASE = "https://dondoc.example.vn"
NOW = datetime(2023, 10, 6, 9, 0, tzinfo=UTC)
PHOTO = b"\xff\xd8\xff\xe0 a photo of the notice board" * 100


@dataclass
class Site:
    settings: Settings
    clock: SettableClock
    client: httpx.AsyncClient
    sessions: async_sessionmaker[AsyncSession]
    local: str  # http://127.0.0.1:<port>

    async def get(self, link: str, **kwargs: object) -> httpx.Response:
        assert link.startswith(f"{BASE}/")
        return await self.client.get(self.local + link.removeprefix(BASE), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def web_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "public_base_url": BASE,
            "web_secret": SecretStr(SECRET),
            "web_listen": "127.0.0.1",
            "port": 0,
        }
    )


async def serve(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    clock: SettableClock,
    *,
    health_timeout: float = 1.0,
) -> tuple[WebServer, str]:
    app = build_web_app(settings, sessions=sessions, clock=clock, health_timeout=health_timeout)
    server = WebServer(app, host="127.0.0.1", port=0)
    await server.start()
    return server, f"http://127.0.0.1:{server.port}"


@pytest.fixture
async def site(
    web_settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Site]:
    clock = SettableClock(NOW)
    server, local = await serve(web_settings, session_factory, clock)
    try:
        async with httpx.AsyncClient() as client:
            yield Site(web_settings, clock, client, session_factory, local)
    finally:
        await server.stop()


@dataclass
class World:
    unit_id: int
    evidence_id: int


@pytest.fixture
async def world(site: Site) -> World:
    """Phường 6's plan, one officer and one evidence photo on PAR 1.1."""
    async with site.sessions() as session, session.begin():
        await import_plan(
            session,
            unit_name="Phường 6",
            plan=parsed_seed(PHUONG6),
            source_name=PHUONG6,
            source_sha256=None,
            actor="t",
        )
        unit = await find_unit(session, name="Phường 6")
        assert unit is not None
        officer, _ = await add_officer(
            session, unit=unit, name="Vũ Văn Phòng", positions=["VPTK"], telegram_id=31, actor="t"
        )
        criterion = await session.scalar(
            select(Criterion).where(Criterion.index_name == "PAR", Criterion.is_leaf.is_(True))
        )
        assert criterion is not None
        source = new_incoming_path(site.settings.evidence_dir)
        source.write_bytes(PHOTO)
        stored = await store_evidence(
            session,
            officer=officer,
            criterion=criterion,
            source=source,
            file_unique_id="u1",
            mime="image/jpeg",
            original_name="Biên bản họp.jpg",
            caption=None,
            source_update_id="1",
            evidence_dir=site.settings.evidence_dir,
            now=NOW - timedelta(days=2),
        )
        return World(unit.id, stored.evidence.id)


def chart_link(site: Site, world: World) -> str:
    return links.summary_chart_link(
        site.settings, unit_id=world.unit_id, as_of=date(2023, 10, 6), now=site.clock()
    )


def evidence_link(site: Site, world: World) -> str:
    return links.evidence_file_link(
        site.settings, unit_id=world.unit_id, evidence_id=world.evidence_id, now=site.clock()
    )


def is_refusal_page(response: httpx.Response, status: int, words: str) -> bool:
    return (
        response.status_code == status
        and response.headers["content-type"].startswith("text/html")
        and words in response.text
        and "content-disposition" not in response.headers
    )


# ---------------------------------------------------------------- health


async def test_healthz_is_200_with_the_database_up(site: Site) -> None:
    response = await site.client.get(f"{site.local}/healthz")
    assert (response.status_code, response.content) == (200, b"")


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A local TCP port that accepts connections and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("which", ["silent", "closed"])
async def test_healthz_is_503_when_the_database_does_not_answer(
    web_settings: Settings, silent_port: int, closed_port: int, which: str
) -> None:
    port = silent_port if which == "silent" else closed_port
    engine = make_engine(f"postgresql+asyncpg://root@127.0.0.1:{port}/x", poolclass=NullPool)
    clock = SettableClock(NOW)
    server, local = await serve(
        web_settings, make_session_factory(engine), clock, health_timeout=0.3
    )
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{local}/healthz")
        assert (response.status_code, response.content) == (503, b"")
    finally:
        await server.stop()
        await engine.dispose()


# ---------------------------------------------------------------- the summary


async def test_a_chart_link_can_be_opened_again_and_again(site: Site, world: World) -> None:
    link = chart_link(site, world)
    assert SECRET not in link and link.startswith(f"{BASE}/f/")
    first, second = await site.get(link), await site.get(link)
    assert first.status_code == second.status_code == 200
    assert first.content.startswith(b"\x89PNG") and first.content == second.content
    assert first.headers["content-type"] == "image/png"
    disposition = first.headers["content-disposition"]
    assert disposition.startswith("inline;")
    assert "filename*=UTF-8''TongHop%20Ph%C6%B0%E1%BB%9Dng%206%202023-10-06.png" in disposition
    assert first.headers["cache-control"] == "no-store"


async def test_a_spreadsheet_link_gives_the_summary_workbook(site: Site, world: World) -> None:
    link = links.summary_xlsx_link(
        site.settings, unit_id=world.unit_id, as_of=date(2023, 10, 6), now=site.clock()
    )
    response = await site.get(link)
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith(
        'attachment; filename="TongHop Phuong 6'
    )
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames[0] == "Tổng hợp"


async def test_summary_links_last_seven_days(site: Site, world: World) -> None:
    link = chart_link(site, world)
    site.clock.set(NOW + timedelta(days=7) - timedelta(seconds=1))
    assert (await site.get(link)).status_code == 200
    site.clock.set(NOW + timedelta(days=7))
    assert is_refusal_page(await site.get(link), 410, "hết hạn")


# ---------------------------------------------------------------- tampering


def tampered_tokens(link: str) -> list[str]:
    token = link.rsplit("/", 1)[1]
    payload, tag = token.split(".")
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    kind, unit, *refs, expires = raw.split(":")
    later = ":".join([kind, unit, *refs, str(int(expires) + 86400 * 30)]).encode()
    other_unit = ":".join([kind, str(int(unit) + 1), *refs, expires]).encode()

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    flipped = tag[:-2] + ("A" if tag[-2] != "A" else "B") + tag[-1]
    return [
        f"{b64(later)}.{tag}",  # a longer life
        f"{b64(other_unit)}.{tag}",  # another unit's file
        f"{payload}.{flipped}",
        payload,  # no tag at all
        "not-a-link",
        f"{payload}.{tag}%00",
    ]


async def test_a_tampered_link_is_403_and_never_a_file(site: Site, world: World) -> None:
    for link in (chart_link(site, world), evidence_link(site, world)):
        for token in tampered_tokens(link):
            response = await site.get(f"{BASE}/f/{token}")
            assert is_refusal_page(response, 403, "không hợp lệ"), token


async def test_a_link_signed_with_another_secret_is_403(site: Site, world: World) -> None:
    other = site.settings.model_copy(update={"web_secret": SecretStr("x" * 40)})
    link = links.evidence_file_link(
        other, unit_id=world.unit_id, evidence_id=world.evidence_id, now=NOW
    )
    assert is_refusal_page(await site.get(link), 403, "không hợp lệ")


async def test_an_expired_link_that_was_also_altered_is_403_not_410(
    site: Site, world: World
) -> None:
    link = evidence_link(site, world)
    site.clock.set(NOW + timedelta(days=2))
    assert is_refusal_page(await site.get(link), 410, "hết hạn")
    later = tampered_tokens(link)[0]
    assert is_refusal_page(await site.get(f"{BASE}/f/{later}"), 403, "không hợp lệ")


# ---------------------------------------------------------------- evidence


async def test_an_evidence_link_serves_the_file_until_it_expires(site: Site, world: World) -> None:
    link = evidence_link(site, world)
    first, second = await site.get(link), await site.get(link)
    assert first.content == second.content == PHOTO
    assert first.headers["content-type"] == "image/jpeg"
    assert first.headers["content-disposition"] == (
        'inline; filename="Bien ban hop.jpg"; '
        "filename*=UTF-8''Bi%C3%AAn%20b%E1%BA%A3n%20h%E1%BB%8Dp.jpg"
    )
    site.clock.set(NOW + timedelta(hours=24) - timedelta(seconds=1))
    assert (await site.get(link)).content == PHOTO
    site.clock.set(NOW + timedelta(hours=24))
    assert is_refusal_page(await site.get(link), 410, "hết hạn")


async def test_a_link_to_deleted_evidence_is_404(site: Site, world: World) -> None:
    link = evidence_link(site, world)
    assert (await site.get(link)).status_code == 200
    async with site.sessions() as session, session.begin():
        await session.execute(delete(Evidence).where(Evidence.id == world.evidence_id))
    assert any(site.settings.evidence_dir.rglob("*.jpg"))  # the file is still on disk …
    assert is_refusal_page(await site.get(link), 404, "Không tìm thấy")  # … and never served


async def test_links_into_a_deleted_unit_are_404(site: Site, world: World) -> None:
    chart, evidence = chart_link(site, world), evidence_link(site, world)
    async with site.sessions() as session, session.begin():
        await session.execute(delete(Unit).where(Unit.id == world.unit_id))
    for link in (chart, evidence):
        assert is_refusal_page(await site.get(link), 404, "Không tìm thấy"), link


async def test_an_evidence_file_gone_from_disk_is_404(site: Site, world: World) -> None:
    async with site.sessions() as session:
        row = await session.get_one(Evidence, world.evidence_id)
        (site.settings.evidence_dir / row.storage_path).unlink()
    assert is_refusal_page(await site.get(evidence_link(site, world)), 404, "Không tìm thấy")


# ---------------------------------------------------------------- the pack


async def write_linked_pack(site: Site, world: World) -> tuple[Path, str]:
    async with site.sessions() as session:
        unit = await session.get_one(Unit, world.unit_id)
        contents = await pack_contents(
            session, unit=unit, year=2023, evidence_dir=site.settings.evidence_dir
        )
    path = links.new_pack_path(site.settings, now=site.clock())
    write_pack(path, items=contents.items, files=contents.files)
    link = links.evidence_pack_link(
        site.settings, unit_id=world.unit_id, year=2023, pack=path, now=site.clock()
    )
    return path, link


async def test_a_pack_link_streams_the_zip_and_resumes(site: Site, world: World) -> None:
    path, link = await write_linked_pack(site, world)
    first, second = await site.get(link), await site.get(link)
    assert first.content == second.content == path.read_bytes()
    assert first.headers["content-type"] == "application/zip"
    assert first.headers["content-disposition"].endswith(
        "filename*=UTF-8''MinhChung%20Ph%C6%B0%E1%BB%9Dng%206%202023.zip"
    )
    part = await site.get(link, headers={"Range": "bytes=10-19"})
    assert (part.status_code, part.content) == (206, path.read_bytes()[10:20])
    site.clock.set(NOW + timedelta(hours=24))
    assert is_refusal_page(await site.get(link), 410, "hết hạn")


async def test_old_packs_are_removed_when_a_new_one_is_made(site: Site, world: World) -> None:
    path, link = await write_linked_pack(site, world)
    written = NOW.timestamp()
    os.utime(path, (written, written))
    links.new_pack_path(site.settings, now=NOW + timedelta(hours=23))
    assert path.exists()
    links.new_pack_path(site.settings, now=NOW + timedelta(hours=24, seconds=1))
    assert not path.exists()
    site.clock.set(NOW + timedelta(hours=23))  # even a link still valid then finds nothing
    assert is_refusal_page(await site.get(link), 404, "Không tìm thấy")


def test_a_pack_must_live_where_new_pack_path_puts_it(
    web_settings: Settings, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="new_pack_path"):
        links.evidence_pack_link(
            web_settings, unit_id=1, year=2023, pack=tmp_path / "pack.zip", now=NOW
        )


def test_content_disposition_has_a_plain_name_and_the_vietnamese_one() -> None:
    header = content_disposition("attachment", 'Kế hoạch "số 1"; 100%.xlsx')
    assert header == (
        'attachment; filename="Ke hoach _so 1__ 100_.xlsx"; '
        "filename*=UTF-8''K%E1%BA%BF%20ho%E1%BA%A1ch%20%22s%E1%BB%91%201%22%3B%20100%25.xlsx"
    )


async def test_a_second_channels_webhook_is_one_more_route(
    web_settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """What the Zalo channel will do: its own path, header and secret, next to Telegram's."""
    received: dict[str, list[dict[str, object]]] = {"telegram": [], "zalo": []}

    def hook(path: str, header: str) -> Webhook:
        async def accept(body: dict[str, object]) -> None:
            received[path].append(body)

        return Webhook(path, header, web_settings.webhook_secret_for(path), accept)

    hooks = [
        hook("telegram", "X-Telegram-Bot-Api-Secret-Token"),
        hook("zalo", "X-Bot-Api-Secret-Token"),
    ]
    app = build_web_app(
        web_settings, sessions=session_factory, clock=SettableClock(NOW), webhooks=hooks
    )
    server = WebServer(app, host="127.0.0.1", port=0)
    await server.start()
    zalo_secret = web_settings.webhook_secret_for("zalo")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            right = await client.post(
                "/zalo", json={"ok": True}, headers={"X-Bot-Api-Secret-Token": zalo_secret}
            )
            other_header = await client.post(
                "/zalo", json={"ok": 1}, headers={"X-Telegram-Bot-Api-Secret-Token": zalo_secret}
            )
            other_channel = await client.post(
                "/telegram",
                json={"ok": 2},
                headers={"X-Telegram-Bot-Api-Secret-Token": zalo_secret},
            )
    finally:
        await server.stop()
    assert (right.status_code, other_header.status_code, other_channel.status_code) == (
        200,
        403,
        403,
    )
    assert received == {"telegram": [], "zalo": [{"ok": True}]}
