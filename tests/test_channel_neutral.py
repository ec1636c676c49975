"""Only a channel adapter imports a chat library: features (handlers/), business logic (core/),
the schedule and its sender (scheduler/), storage, the web server, the command line and the
runner (bot/) do not. Telegram's wiring (PTB's Application, its start-up errors, the bot's
username for invite links) lives in channels/."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.seed_files import REPO_DIR

NEUTRAL_PACKAGES = ("handlers", "core", "scheduler", "storage", "web")
# Where telegram may be imported: the channel adapters, and the tests and benchmarks that
# drive PTB and the fake Bot API server.
ALLOWED = ("channels", "tests", "bench")
SKIPPED = (".venv", ".git", "build", "dist")


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


def test_nothing_outside_the_channel_adapters_imports_telegram() -> None:
    """bot/ included: the runner, ``python -m bot run`` and the command line too."""
    walked = [
        path.relative_to(REPO_DIR)
        for path in sorted(REPO_DIR.rglob("*.py"))
        if path.relative_to(REPO_DIR).parts[0] not in (*ALLOWED, *SKIPPED)
    ]
    offenders = [str(path) for path in walked if imports_telegram(REPO_DIR / path)]
    assert offenders == []
    looked_at = {str(path) for path in walked}
    assert {"bot/runner.py", "bot/cli_run.py", "bot/cli_officer.py"} <= looked_at
    assert len([path for path in walked if path.parts[0] == "bot"]) > 10
    adapters = [p for p in sorted((REPO_DIR / "channels").glob("*.py")) if imports_telegram(p)]
    assert len(adapters) >= 3  # the check sees imports where they are


def test_the_scheduler_sends_through_a_channel_adapter_not_a_bot() -> None:
    """The tick and its sender need no Telegram: the adapter is handed in."""
    for name in ("jobs.py", "sender.py", "reminders.py", "summaries.py", "delivery.py"):
        assert not imports_telegram(REPO_DIR / "scheduler" / name), name


def telegram_loaded_after(imports: str, *, probe: str) -> list[str]:
    """Run ``imports`` in a fresh interpreter: the telegram modules then loaded, and "probe"
    as well when module ``probe`` was loaded (proof that the imports ran)."""
    script = (
        f"import importlib, pkgutil, sys\n{imports}\n"
        "print(sorted(m for m in sys.modules if m == 'telegram' or m.startswith('telegram.')))\n"
        f"print({probe!r} in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_DIR, capture_output=True, text=True, check=True
    )
    loaded, probed = done.stdout.split("\n")[:2]
    return [*ast.literal_eval(loaded), *(["probe"] if probed == "True" else [])]


def test_importing_every_feature_and_core_module_loads_no_telegram() -> None:
    """Not even through another package: a Zalo adapter or a shell reuses them without PTB."""
    imports = (
        f"for package in {NEUTRAL_PACKAGES!r}:\n"
        "    root = importlib.import_module(package)\n"
        "    for module in pkgutil.walk_packages(root.__path__, package + '.'):\n"
        "        importlib.import_module(module.name)"
    )
    assert telegram_loaded_after(imports, probe="handlers.progress") == ["probe"]


def test_the_runner_and_the_web_server_load_no_telegram() -> None:
    """A bot with Zalo alone runs the web server, the schedule and its runner without PTB."""
    imports = "import bot.runner, web.server, scheduler.jobs, bot.settings, bot.texts"
    assert telegram_loaded_after(imports, probe="bot.runner") == ["probe"]
