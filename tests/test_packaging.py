"""The package as the Docker image installs it: built into a wheel, with no source tree.

What the image does (``pip install /src`` from a copy of the build context, then
commands from an empty /data) is reproduced without Docker, and kept fast on a
small machine: the wheel is built once per session, offline and without build
isolation (setuptools comes from the dev extras), and installed ``--no-deps``
into a throwaway venv whose only link to this environment is a .pth line
naming the suite's site-packages, for the dependencies. Paths listed in a .pth
line are not scanned for .pth files themselves, so the editable install of the
checkout (a .pth hook in that folder) stays out: ``import bot`` finds the wheel.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from bot.settings import Settings
from tests.seed_files import PHUONG6, REPO_DIR, seed_path

TIMEOUT = 120


def _package_dirs() -> list[str]:
    """The top-level packages pyproject.toml ships (bot, core, …), as the build sees them."""
    config = tomllib.loads((REPO_DIR / "pyproject.toml").read_text("utf-8"))
    patterns = config["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted({pattern.rstrip("*").rstrip(".") for pattern in patterns})


def _run(argv: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert result.returncode == 0, f"{argv}: {result.stderr}"
    return result.stdout


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv's python with only the built wheel of dondoc installed."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"  # the build context, as .dockerignore leaves it
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_DIR / name, source / name)
    for package in _package_dirs():
        if (REPO_DIR / package).is_dir():
            shutil.copytree(
                REPO_DIR / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
            )
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(root), str(source)], cwd=root
    )
    (wheel,) = root.glob("dondoc-*.whl")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=root)
    python = venv / "bin" / "python"
    _run(
        [*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)], cwd=root
    )
    target = Path(_run([str(python), "-c", _PURELIB], cwd=root).strip())
    (target / "suite_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


_PURELIB = "import sysconfig; print(sysconfig.get_paths()['purelib'])"


def test_the_installed_wheel_runs_from_an_empty_folder(installed: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"  # the image's /data: empty, the working folder
    data.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONNOUSERSITE": "1",
        "DATABASE_URL": f"sqlite+aiosqlite:///{data}/dondoc.db",
        "EVIDENCE_DIR": str(data / "evidence"),
        "MPLCONFIGDIR": str(tmp_path / "matplotlib"),  # the image sets one the user may write
    }
    python = str(installed)
    where = _run(
        [python, "-c", "import bot, core, storage; print(bot.__file__)"], cwd=data, env=env
    )
    assert Path(where.strip()).is_relative_to(installed.parent.parent)  # not the checkout
    out = _run([python, "-m", "bot", "db", "upgrade"], cwd=data, env=env)
    assert out.startswith("Cơ sở dữ liệu đã được cập nhật")
    plan = data / PHUONG6  # the admin copies the plan into /data
    shutil.copy2(seed_path(PHUONG6), plan)
    out = _run(
        [python, "-m", "bot", "plan", "import", plan.name, "--unit", "Phường 6"], cwd=data, env=env
    )
    assert out.startswith("Đã tạo kế hoạch cho Phường 6") and "Thêm mới: 109" in out
    chart = data / "tonghop.png"
    argv = [python, "-m", "bot", "summary", "--unit", "Phường 6", "--png", chart.name]
    assert _run([*argv, "--date", "2024-01-05"], cwd=data, env=env) == "Đã ghi tonghop.png\n"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_image_exposes_and_publishes_the_webhook_port() -> None:
    port = Settings.model_fields["port"].default
    dockerfile = (REPO_DIR / "Dockerfile").read_text("utf-8")
    compose = (REPO_DIR / "docker-compose.yml").read_text("utf-8")
    assert re.search(rf"^EXPOSE {port}$", dockerfile, flags=re.M)
    assert re.search(r"^ENV MPLCONFIGDIR=/\S+", dockerfile, flags=re.M)
    assert f':{port}"' in compose and f"PORT: {port}" in compose
