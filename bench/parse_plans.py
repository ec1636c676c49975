"""How fast the importer reads plans: criteria rows parsed per second, in-process.

Run: .venv/bin/python bench/parse_plans.py [--seconds 3] [--shared ../shared]

It parses the five seed plans (the text extractions in shared/seeds/) over and
over for a fixed time and prints rows/s for each and for all together, plus
the same for their .docx and .xlsx renderings. Caches are cleared between
rounds so every round does the full work: deadline phrases and lead texts are
parsed afresh, as for a document never seen before. The issue's target is
20,000 criteria rows per second over the seeds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core import deadlines, plan_parser, plan_tables  # noqa: E402
from core.plan_reader import read_document  # noqa: E402
from core.plans import parse_plan_file  # noqa: E402
from core.positions import default_catalogue  # noqa: E402
from tests.renderings import render_docx, render_xlsx  # noqa: E402
from tests.seed_files import ALL_SEEDS  # noqa: E402


def clear_caches() -> None:
    """Forget every parsed deadline and lead text, as for a brand-new document."""
    for catalogue in {id(view): view for view in default_catalogue()._views.values()}.values():
        catalogue._cache.clear()  # the catalogue as each plan's year spells leads
    plan_parser._parse_deadline_cached.cache_clear()
    plan_tables.header_role.cache_clear()
    cached = getattr(deadlines.parse_deadline, "cache_clear", None)
    if cached is not None:
        cached()


def rate(files: list[tuple[str, bytes]], seconds: float, *, cold: bool) -> tuple[float, int]:
    """Criteria rows per second over ``files`` for about ``seconds``; returns (rate, rounds)."""
    rows = rounds = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds or rounds == 0:
        for name, data in files:
            if cold:
                clear_caches()
            rows += len(parse_plan_file(data, filename=name).criteria)
        rounds += 1
    return rows / (time.perf_counter() - started), rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    args = parser.parse_args()
    texts = [(name, (args.shared / "seeds" / name).read_bytes()) for name in ALL_SEEDS]
    per_file = max(args.seconds / 3, 0.3)

    print(f"{'plan':<44} {'criteria':>8} {'rows/s':>10}")
    for name, data in texts:
        count = len(parse_plan_file(data, filename=name).criteria)
        speed, _ = rate([(name, data)], per_file, cold=True)
        print(f"{name:<44} {count:>8} {speed:>10,.0f}")

    total = sum(len(parse_plan_file(d, filename=n).criteria) for n, d in texts)
    cold, rounds = rate(texts, args.seconds, cold=True)
    warm, _ = rate(texts, args.seconds, cold=False)
    print(f"\nall five seeds, {total} criteria, {rounds} rounds:")
    print(f"  text, caches cleared every file : {cold:>10,.0f} rows/s")
    print(f"  text, caches warm               : {warm:>10,.0f} rows/s")

    for label, render, ext in (("docx", render_docx, "docx"), ("xlsx", render_xlsx, "xlsx")):
        rendered = [
            (name.replace(".txt", f".{ext}"), render(read_document(data, filename=name)))
            for name, data in texts
        ]
        speed, _ = rate(rendered, per_file, cold=True)
        print(f"  {label}, caches cleared          : {speed:>10,.0f} rows/s")
    print("\ntarget: >= 20,000 rows/s (text)")


if __name__ == "__main__":
    main()
