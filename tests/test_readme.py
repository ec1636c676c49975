"""The README's examples must stay true."""

from __future__ import annotations

import re
from datetime import date

from bot.settings import Settings
from core.plan_yaml import load_yaml_plan
from tests.seed_files import REPO_DIR


def readme_block(language: str, containing: str) -> str:
    text = (REPO_DIR / "README.md").read_text("utf-8")
    for block in re.findall(rf"```{language}\n(.*?)```", text, flags=re.S):
        if containing in block:
            return block
    raise AssertionError(f"no ```{language} block with {containing!r} in README.md")


def test_yaml_format_example_parses_as_described() -> None:
    plan = load_yaml_plan(readme_block("yaml", "dondoc_plan: 1"))
    assert (plan.unit, plan.year, plan.period) == ("Xã Tân Đức", 2024, (2024, 2024))
    area, item = plan.criteria
    assert (area.code, item.code, item.parent) == ("I", "1.1", "I")
    assert item.leads == ["VPTK"] and item.supports == ["ALL"]
    assert item.due_dates == [date(2024, 9, 30)]
    assert (item.max_points, item.target_points) == (2.5, 2.0)
    assert plan.warnings == []


def test_readme_documents_every_setting() -> None:
    text = (REPO_DIR / "README.md").read_text("utf-8")
    for name, field in Settings.model_fields.items():
        assert f"`{field.alias or name.upper()}`" in text, name
