"""Features (handlers/) and business logic (core/) import no chat library: only an adapter does."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.seed_files import REPO_DIR

NEUTRAL_PACKAGES = ("handlers", "core")


def imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_module_under_handlers_or_core_imports_telegram() -> None:
    offenders = [
        str(path.relative_to(REPO_DIR))
        for package in NEUTRAL_PACKAGES
        for path in sorted((REPO_DIR / package).rglob("*.py"))
        if any(n == "telegram" or n.startswith("telegram.") for n in imported_names(path))
    ]
    assert offenders == []
    assert len(list((REPO_DIR / "handlers").rglob("*.py"))) > 5  # the walk found the modules


def test_importing_every_feature_and_core_module_loads_no_telegram() -> None:
    """Not even through another package: a Zalo adapter or a shell reuses them without PTB."""
    script = (
        "import importlib, pkgutil, sys\n"
        f"for package in {NEUTRAL_PACKAGES!r}:\n"
        "    root = importlib.import_module(package)\n"
        "    for module in pkgutil.walk_packages(root.__path__, package + '.'):\n"
        "        importlib.import_module(module.name)\n"
        "print(sorted(m for m in sys.modules if m == 'telegram' or m.startswith('telegram.')))\n"
        "print('handlers.progress' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_DIR, capture_output=True, text=True, check=True
    )
    assert done.stdout.split("\n")[:2] == ["[]", "True"], done.stdout
