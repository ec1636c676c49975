"""How fast the dashboard's province and commune pages are on a province-sized database.

Run: .venv/bin/python bench/web.py [--units 100] [--postgres URL]

Builds the data of bench/summary_scale.py (communes with 30 officers each, the five seed
plans, half a year of reports and evidence), first 10 communes then the rest, and serves
the real web application on a local port. A province user and a commune's chairman log in
through one-time links; then it prints, for the province page and a commune page, the
server time per request (median and p95 over warm requests, measured inside the server),
the first (cold) request, and the SQL statements per page, at 10 communes and at all of
them (the count must not grow with the number of communes). Targets: province p95
<= 300 ms, commune p95 <= 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import httpx  # noqa: E402
from aiohttp import web  # noqa: E402
from pydantic import SecretStr  # noqa: E402
from sqlalchemy import select, update  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker  # noqa: E402
from summary_scale import AS_OF, build  # noqa: E402

from bot.settings import load_settings  # noqa: E402
from core.province_users import add_province_user  # noqa: E402
from core.web_login import issue_login_link  # noqa: E402
from storage.db import make_engine, make_session_factory  # noqa: E402
from storage.migrate import upgrade_database  # noqa: E402
from storage.models import Officer, Unit  # noqa: E402
from tests.sql_counting import counted_statements  # noqa: E402
from web.server import WebServer, build_web_app  # noqa: E402

NOW = datetime(AS_OF.year, AS_OF.month, AS_OF.day, 4, 0, tzinfo=UTC)  # 11:00 in Vietnam
WARM_REQUESTS = 40

Sessions = async_sessionmaker[AsyncSession]


class Timer:
    """Server time of each request, from the middleware to the prepared response."""

    def __init__(self) -> None:
        self.times: list[float] = []

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            return await handler(request)
        finally:
            self.times.append((time.perf_counter() - started) * 1000)


async def log_in(client: httpx.AsyncClient, sessions: Sessions, local: str, **who: int) -> None:
    async with sessions() as session, session.begin():
        link = await issue_login_link(session, base_url=local, now=NOW, **who)
    answer = await client.post(link)
    assert answer.status_code == 303, answer.status_code


async def measure(
    label: str, path: str, client: httpx.AsyncClient, timer: Timer, engine: AsyncEngine, local: str
) -> None:
    timer.times.clear()
    first = await client.get(local + path)
    assert first.status_code == 200, (path, first.status_code)
    cold = timer.times[-1]
    timer.times.clear()
    for _ in range(WARM_REQUESTS):
        assert (await client.get(local + path)).status_code == 200
    times = sorted(timer.times)
    p95 = times[max(0, round(0.95 * len(times)) - 1)]
    with counted_statements(engine) as statements:
        await client.get(local + path)
    print(
        f"  {label}: first {cold:.0f} ms; warm median {statistics.median(times):.1f} ms, "
        f"p95 {p95:.1f} ms over {len(times)}; {len(statements)} SQL statements"
    )


async def round_of(
    units: int, client: httpx.AsyncClient, timer: Timer, engine: AsyncEngine, local: str, unit: int
) -> None:
    print(f"{units} communes:")
    await measure(
        "province page /tinh (target p95 <= 300 ms)", "/tinh", client, timer, engine, local
    )
    await measure(
        "commune page /xa/… (target p95 <= 100 ms)", f"/xa/{unit}", client, timer, engine, local
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--postgres", help="postgresql+asyncpg://… database to use instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.postgres or f"sqlite+aiosqlite:///{folder}/bench.db"
        await upgrade_database(url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        # The local plain-http address: model_copy, because PUBLIC_BASE_URL must be https.
        settings = load_settings(
            DATABASE_URL=url, EVIDENCE_DIR=str(Path(folder) / "evidence")
        ).model_copy(
            update={
                "public_base_url": "http://127.0.0.1",
                "web_secret": SecretStr("bench-web-secret-0123456789abcdef0123"),
            }
        )
        started = time.perf_counter()
        await build(sessions, 10, args.shared)
        print(f"built 10 communes in {time.perf_counter() - started:.1f} s ({url.split(':')[0]})")
        async with sessions() as session, session.begin():
            province = await add_province_user(session, name="Sở Nội vụ")
            unit = await session.scalar(select(Unit).order_by(Unit.id).limit(1))
            assert unit is not None
            leader = await session.scalar(
                select(Officer).where(Officer.unit_id == unit.id, Officer.name == "Cán bộ 01")
            )
            assert leader is not None
            province_id, unit_id, leader_id = province.id, unit.id, leader.id
        timer = Timer()
        app = build_web_app(settings, sessions=sessions, clock=lambda: NOW)
        app.middlewares.append(timer.middleware)
        server = WebServer(app, host="127.0.0.1", port=0)
        await server.start()
        local = f"http://127.0.0.1:{server.port}"
        try:
            async with httpx.AsyncClient(timeout=120) as province_client:
                await log_in(province_client, sessions, local, province_user_id=province_id)
                await round_of(10, province_client, timer, engine, local, unit_id)
                if args.units > 10:
                    started = time.perf_counter()
                    await build(sessions, args.units - 10, args.shared, first=10)
                    print(f"built {args.units - 10} more in {time.perf_counter() - started:.1f} s")
                    await round_of(args.units, province_client, timer, engine, local, unit_id)
                async with httpx.AsyncClient(timeout=120) as chairman:
                    await log_in(chairman, sessions, local, officer_id=leader_id)
                    print("the chairman of one commune:")
                    await measure("commune page", f"/xa/{unit_id}", chairman, timer, engine, local)
                # One commune's numbers move: only that one is computed again.
                async with sessions() as session, session.begin():
                    await session.execute(
                        update(Officer).where(Officer.id == leader_id).values(last_activity_at=NOW)
                    )
                timer.times.clear()
                await province_client.get(local + "/tinh")
                print(f"province page after one commune changed: {timer.times[-1]:.0f} ms")
        finally:
            await server.stop()
            await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
