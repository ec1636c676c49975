"""Only a channel adapter imports a chat library: features (handlers/), business logic (core/),
the schedule and its sender (scheduler/), storage, the web server and the command line do not."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.seed_files import REPO_DIR

NEUTRAL_PACKAGES = ("handlers", "core", "scheduler", "storage", "web")
# bot/ holds the command line and the Telegram application's wiring; only that wiring (building
# and running PTB's Application, its start-up errors, the bot's username for invite links)
# may import telegram there.
TELEGRAM_WIRING = ("bot/application.py", "bot/cli_run.py", "bot/telegram_identity.py")


def imports_telegram(path: Path) -> bool:
    return any(n == "telegram" or n.startswith("telegram.") for n in imported_names(path))


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


def test_nothing_under_bot_but_the_telegram_wiring_imports_telegram() -> None:
    checked = [path for path in sorted((REPO_DIR / "bot").rglob("*.py")) if imports_telegram(path)]
    offenders = {str(path.relative_to(REPO_DIR)) for path in checked} - set(TELEGRAM_WIRING)
    assert offenders == set()
    assert (REPO_DIR / "bot" / "cli_remind.py").exists()  # the walk looked at the CLI too


def test_the_scheduler_sends_through_a_channel_adapter_not_a_bot() -> None:
    """The tick and its sender need no Telegram: the adapter is handed in."""
    for name in ("jobs.py", "sender.py", "reminders.py", "summaries.py", "delivery.py"):
        assert not imports_telegram(REPO_DIR / "scheduler" / name), name


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
