"""Streaming a large evidence pack through a signed link: time, throughput and the server's memory.

Run: .venv/bin/python bench/web_files.py [--mb 300] [--downloads 2]

Writes a pack of the given size (incompressible bytes) where ``web.links.new_pack_path``
puts packs, starts the web server in this process on a scratch SQLite database, and
downloads the pack through its signed link from a separate process (so the client's
memory is not counted), sampling this process's resident memory every 10 ms. The
figure that matters is the growth of the peak over the resident memory before the
download: it should stay a few MB whatever the pack's size. ``AIOHTTP_NOSENDFILE=1``
measures the fallback without ``sendfile`` (chunked reads from the file).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.settings import load_settings  # noqa: E402
from storage.db import make_engine, make_session_factory  # noqa: E402
from storage.migrate import upgrade_database  # noqa: E402
from storage.models import Unit  # noqa: E402
from web.links import evidence_pack_link, new_pack_path  # noqa: E402
from web.server import WebServer, build_web_app  # noqa: E402

CHUNK = 1 << 20
CLIENT = """
import sys, httpx
total = 0
with httpx.stream("GET", sys.argv[1], timeout=120) as response:
    response.raise_for_status()
    for block in response.iter_bytes(1 << 20):
        total += len(block)
print(total)
"""


def rss_mb() -> float:
    """This process's resident memory now, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def write_pack(path: Path, megabytes: int) -> None:
    block = os.urandom(CHUNK)  # incompressible, like the photos and PDFs of a real pack
    with path.open("wb") as out:
        for _ in range(megabytes):
            out.write(block)


async def sample_peak(stop: asyncio.Event, peak: list[float]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mb())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.01)


async def download(url: str) -> int:
    client = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLIENT, url, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await client.communicate()
    if client.returncode != 0:
        raise RuntimeError("the download failed")
    return int(out)


async def main(megabytes: int, downloads: int) -> None:
    with tempfile.TemporaryDirectory(prefix="dondoc-bench-web-") as scratch:
        folder = Path(scratch)
        url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        await upgrade_database(url)
        settings = load_settings(
            _env_file=None,
            DATABASE_URL=url,
            EVIDENCE_DIR=folder / "evidence",
            PUBLIC_BASE_URL="https://dondoc.example.vn",
            WEB_SECRET="bench-secret-" + "0" * 32,
        )
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        async with sessions() as session, session.begin():
            unit = Unit(name="Phường Bến Thành", name_key="phuong ben thanh")
            session.add(unit)
            await session.flush()
            unit_id = unit.id
        now = datetime.now(UTC)
        pack = new_pack_path(settings, now=now)
        started = time.perf_counter()
        write_pack(pack, megabytes)
        print(f"pack: {megabytes} MB written in {time.perf_counter() - started:.1f} s")

        app = build_web_app(settings, sessions=sessions, clock=lambda: datetime.now(UTC))
        server = WebServer(app, host="127.0.0.1", port=0)
        await server.start()
        link = evidence_pack_link(settings, unit_id=unit_id, year=2024, pack=pack, now=now)
        local = link.replace(settings.base_url or "", f"http://127.0.0.1:{server.port}")
        try:
            for attempt in range(1, downloads + 1):
                before = rss_mb()
                peak = [before]
                stop = asyncio.Event()
                sampler = asyncio.create_task(sample_peak(stop, peak))
                started = time.perf_counter()
                received = await download(local)
                elapsed = time.perf_counter() - started
                stop.set()
                await sampler
                assert received == megabytes * CHUNK, received
                print(
                    f"download {attempt}: {received / CHUNK:.0f} MB in {elapsed:.2f} s"
                    f" ({received / CHUNK / elapsed:.0f} MB/s); server RSS before {before:.1f} MB,"
                    f" peak during {peak[0]:.1f} MB (+{peak[0] - before:.1f} MB)"
                )
        finally:
            await server.stop()
            await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=300, help="pack size in MB (default 300)")
    parser.add_argument("--downloads", type=int, default=2, help="downloads of the same link")
    args = parser.parse_args()
    asyncio.run(main(args.mb, args.downloads))
