"""A small province for the dashboard's tests: two communes with real plans, their people,
a province user, and the web server on a local port with a clock the test drives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from core.evidence import new_incoming_path, store_evidence
from core.officers import add_officer
from core.ownership import officer_items
from core.plan_store import find_unit, import_plan
from core.progress import record_progress
from core.province_users import add_province_user
from core.web_login import issue_login_link
from storage.models import Criterion, Unit
from tests.e2e import SettableClock
from tests.seed_files import PHUONG6, TANDUC, parsed_seed
from web.server import WebServer, build_web_app

SECRET = "web-secret-for-the-dashboard-tests-0123456789"
# 16:00 in Vietnam on a Wednesday: Phường 6's 2023 plan is overdue, Tân Đức's 2024 one is live.
NOW = datetime(2024, 3, 6, 9, 0, tzinfo=UTC)
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PHOTO = b"\xff\xd8\xff\xe0 a photo of the notice board" * 50


def web_settings(settings: Settings, base_url: str = "http://127.0.0.1") -> Settings:
    return settings.model_copy(
        update={
            "public_base_url": base_url,
            "web_secret": SecretStr(SECRET),
            "web_listen": "127.0.0.1",
            "port": 0,
        }
    )


@dataclass
class World:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    clock: SettableClock
    local: str  # http://127.0.0.1:<port>
    unit_id: int  # Phường 6
    other_unit_id: int  # Xã Tân Đức
    leader_id: int  # Phường 6's chairman
    officer_id: int  # Phường 6's Văn phòng - Thống kê
    colleague_id: int  # Phường 6's Tư pháp officer
    other_leader_id: int
    province_id: int
    own_item_id: int  # a leaf item of the VPTK officer
    colleague_item_id: int  # a leaf item of the Tư pháp officer only

    async def login_link(self, *, officer_id: int | None = None, province: bool = False) -> str:
        async with self.sessions() as session, session.begin():
            return await issue_login_link(
                session,
                base_url=self.local,
                officer_id=officer_id,
                province_user_id=self.province_id if province else None,
                now=self.clock(),
            )


async def _plan(session: AsyncSession, seed: str, unit: str) -> int:
    await import_plan(
        session, unit_name=unit, plan=parsed_seed(seed), source_name=seed, source_sha256=None,
        actor="t",
    )  # fmt: skip
    found = await find_unit(session, name=unit)
    assert found is not None
    return found.id


async def build_world(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> dict:
    today = NOW.date()
    async with sessions() as session, session.begin():
        unit_id = await _plan(session, PHUONG6, "Phường 6")
        other_id = await _plan(session, TANDUC, "Xã Tân Đức")
        unit = await session.get_one(Unit, unit_id)
        other = await session.get_one(Unit, other_id)
        leader, _ = await add_officer(
            session, unit=unit, name="Trần Chủ Tịch", positions=[], roles=["leader"], actor="t"
        )
        officer, _ = await add_officer(
            session, unit=unit, name="Vũ Văn Phòng", positions=["VPTK"], actor="t"
        )
        colleague, _ = await add_officer(
            session, unit=unit, name="Lê Tư Pháp", positions=["TPHT"], actor="t"
        )
        other_leader, _ = await add_officer(
            session, unit=other, name="Ngô Chủ Tịch", positions=[], roles=["leader"], actor="t"
        )
        province = await add_province_user(session, name="Sở Nội vụ")
        await session.flush()
        mine = await officer_items(session, officer=officer, today=today)
        theirs = await officer_items(session, officer=colleague, today=today)
        mine_ids = [v.criterion_id for _, views in mine.groups() if _ != "common" for v in views]
        theirs_ids = [
            v.criterion_id for name, views in theirs.groups() if name != "common" for v in views
        ]
        only_theirs = [i for i in theirs_ids if i not in mine_ids]
        assert mine_ids and only_theirs
        done = await session.get_one(Criterion, mine_ids[0])
        await record_progress(
            session, officer=officer, criterion=done, status="done", note="Đã ban hành",
            source="cli", source_update_id=None, now=NOW - timedelta(days=3),
        )  # fmt: skip
        source = new_incoming_path(settings.evidence_dir)
        source.write_bytes(PHOTO)
        await store_evidence(
            session, officer=officer, criterion=done, source=source, file_unique_id=None,
            mime="image/jpeg", original_name="Bảng tin.jpg", caption=None, source_update_id=None,
            evidence_dir=settings.evidence_dir, now=NOW - timedelta(days=3), actor="t",
        )  # fmt: skip
        return {
            "unit_id": unit_id,
            "other_unit_id": other_id,
            "leader_id": leader.id,
            "officer_id": officer.id,
            "colleague_id": colleague.id,
            "other_leader_id": other_leader.id,
            "province_id": province.id,
            "own_item_id": mine_ids[1] if len(mine_ids) > 1 else mine_ids[0],
            "colleague_item_id": only_theirs[0],
        }


@asynccontextmanager
async def running_world(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    *,
    base_url: str = "http://127.0.0.1",
) -> AsyncIterator[World]:
    settings = web_settings(settings, base_url)
    facts = await build_world(settings, sessions)
    clock = SettableClock(NOW)
    server = WebServer(
        build_web_app(settings, sessions=sessions, clock=clock), host="127.0.0.1", port=0
    )
    await server.start()
    try:
        yield World(settings, sessions, clock, f"http://127.0.0.1:{server.port}", **facts)
    finally:
        await server.stop()
