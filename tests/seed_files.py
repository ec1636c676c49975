"""Where the five real seed plans live (../shared/seeds beside the checkout)."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from core.plan_model import ParsedPlan
from core.plans import parse_plan_file

REPO_DIR = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("DONDOC_SHARED_DIR", REPO_DIR.parent / "shared"))
SEEDS_DIR = SHARED_DIR / "seeds"

PHUONG6 = "phuong6_2023_par_points.txt"
PHUSON = "phuson_2023_2025_par_sipas_papi_pci.txt"
SONGCAU = "songcau_2023_cchc.txt"
TAMQUANBAC = "tamquanbac_2023_par_sipas.txt"
TANDUC = "tanduc_2024_par_sipas.txt"
ALL_SEEDS = (PHUONG6, PHUSON, SONGCAU, TAMQUANBAC, TANDUC)


def seed_path(name: str) -> Path:
    path = SEEDS_DIR / name
    if not path.exists():
        raise FileNotFoundError(
            f"seed plan {path} is missing: clone the project with ../shared beside it "
            "or set DONDOC_SHARED_DIR"
        )
    return path


def seed_bytes(name: str) -> bytes:
    return seed_path(name).read_bytes()


@cache
def parsed_seed(name: str) -> ParsedPlan:
    """Parse a seed once per test session (tests must not mutate the result)."""
    return parse_plan_file(seed_bytes(name), filename=name)
