"""Seconds and peak memory to read each hostile document, before and after the limits.

Run: .venv/bin/python bench/hostile_inputs.py [--before /work/main] [--memory-mb 4096]

Every generator of tests/hostile_files.py writes its file into a temporary
folder; each file is then read the way the bot and the CLI read it (a plan
through core.plans.parse_plan_file, a roster through core.roster.read_roster)
in a child process under ``/usr/bin/time -v`` (Debian package ``time``), once
with this checkout and once with ``--before`` (another checkout with its own
.venv, e.g. the code before the limits; only read, never written). The child
runs under RLIMIT_AS (``--memory-mb``) and a timeout so that an unbounded
reader fails rather than taking the machine down. Targets: every file refused
in under 5 s with under 300 MB of peak resident memory.

It then measures how long the event loop stalls while a large roster is read:
called directly (as the handler did) and through core.roster.read_roster_async.
The stall is what another officer's /help waits meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.hostile_files import CHILD, HOSTILE, _limit_memory  # noqa: E402

TIME = "/usr/bin/time"
_ELAPSED = re.compile(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)")
_PEAK = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")


def measure(repo: Path, kind: str, path: Path, memory_mb: int, timeout: float) -> dict[str, str]:
    python = repo / ".venv" / "bin" / "python"
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [TIME, "-v", str(python), "-c", CHILD, kind, str(path)],
            capture_output=True,
            text=True,
            cwd=repo,
            timeout=timeout,
            preexec_fn=_limit_memory(memory_mb),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"seconds": f">{timeout:.0f}", "peak_mb": "?", "outcome": "timeout"}
    elapsed = _ELAPSED.search(done.stderr)
    peak = _PEAK.search(done.stderr)
    seconds = time.perf_counter() - started
    if elapsed:
        hours, minutes, secs = elapsed.groups()
        seconds = int(hours or 0) * 3600 + int(minutes) * 60 + float(secs)
    lines = done.stdout.strip().splitlines()
    outcome = json.loads(lines[-1]) if lines else {"outcome": f"crashed ({done.returncode})"}
    label = str(outcome["outcome"])
    if label == "parsed":
        label += f" ({', '.join(f'{k} {v}' for k, v in outcome.items() if k != 'outcome')})"
    elif label == "refused":
        label += f" ({outcome['error']}, {outcome['message_chars']} chars)"
    return {
        "seconds": f"{seconds:.1f}",
        "peak_mb": f"{int(peak.group(1)) / 1024:.0f}" if peak else "?",
        "outcome": label,
    }


def stall_table() -> list[tuple[str, float]]:
    """Longest event-loop stall while a 2,000-line .xlsx roster is read, both ways."""
    from openpyxl import Workbook

    from core import roster

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Họ tên", "Vị trí", "Vai trò"])
    for n in range(1, roster.MAX_ROSTER_ROWS + 1):
        sheet.append([f"Nguyễn Văn {n}", "VPTK", "cán bộ"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    data = buffer.getvalue()

    async def longest_stall(read: object) -> float:
        gaps: list[float] = []
        stop = asyncio.Event()

        async def heartbeat() -> None:
            last = time.perf_counter()
            while not stop.is_set():
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        beat = asyncio.create_task(heartbeat())
        await asyncio.sleep(0.02)
        if read == "direct":
            roster.read_roster(data, filename="ds.xlsx")
        else:
            await roster.read_roster_async(data, filename="ds.xlsx")
        stop.set()
        await beat
        return max(gaps)

    return [
        ("read on the event loop (before)", asyncio.run(longest_stall("direct"))),
        ("read_roster_async (after)", asyncio.run(longest_stall("thread"))),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, default=Path("/work/main"))
    parser.add_argument("--memory-mb", type=int, default=4096, help="RLIMIT_AS of each child")
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--only", nargs="*", default=sorted(HOSTILE), help="cases to run")
    args = parser.parse_args()
    if not Path(TIME).exists():
        sys.exit(f"{TIME} is missing: apt-get install time")
    sides = [("before", args.before), ("after", REPO)] if args.before else [("after", REPO)]
    print(f"memory limit per child: {args.memory_mb} MB; timeout {args.timeout:.0f} s")
    header = f"{'file':24} {'size':>9}  " + "  ".join(
        f"{side + ' s':>9} {side + ' MB':>9} {side + ' outcome':40}" for side, _ in sides
    )
    print(header)
    with tempfile.TemporaryDirectory(prefix="dondoc-hostile-") as folder:
        for name in args.only:
            generate, file_name, kind = HOSTILE[name]
            path = generate(Path(folder) / file_name)
            cells = [f"{name:24} {path.stat().st_size / 1024:>7.0f}KB "]
            for _, repo in sides:
                row = measure(repo, kind, path, args.memory_mb, args.timeout)
                cells.append(f"{row['seconds']:>9} {row['peak_mb']:>9} {row['outcome'][:40]:40}")
            print("  ".join(cells), flush=True)
            path.unlink()
    print()
    for label, seconds in stall_table():
        print(f"event loop stall, {label}: {seconds * 1000:.0f} ms")


if __name__ == "__main__":
    main()
