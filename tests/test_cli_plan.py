"""The ``python -m bot plan …`` command-line contract."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from core.plan_preview import build_preview, render_preview
from core.plan_yaml import load_yaml_plan
from core.plans import parse_plan_file
from core.units import same_unit
from tests.seed_files import (
    ALL_SEEDS,
    PHUONG6,
    PHUSON,
    REPO_DIR,
    SONGCAU,
    TANDUC,
    parsed_seed,
    seed_path,
)

CRITERION_KEYS = {
    "index",
    "code",
    "parent",
    "title",
    "max_points",
    "target_points",
    "requirement",
    "task",
    "leads",
    "supports",
    "lead_text",
    "deadline_text",
    "due_dates",
    "recurrence",
}


@pytest.fixture
def db_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("seed", ALL_SEEDS)
def test_parse_json_prints_one_object_matching_the_contract(
    capsys: pytest.CaptureFixture[str], seed: str
) -> None:
    code, out, err = run_cli(capsys, "plan", "parse", str(seed_path(seed)), "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert set(data) == {"unit", "year", "period", "criteria", "warnings"}
    assert data == parsed_seed(seed).as_json()
    for item in data["criteria"]:
        assert set(item) == CRITERION_KEYS
        assert isinstance(item["leads"], list) and isinstance(item["due_dates"], list)
        assert item["recurrence"] in (
            None,
            "monthly",
            "quarterly",
            "semiannual",
            "annual",
            "continuous",
        )
    for warning in data["warnings"]:
        assert set(warning) == {"code", "message"}


def test_parse_json_types(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, "plan", "parse", str(seed_path(PHUSON)), "--json")
    data = json.loads(out)
    assert data["period"] == [2023, 2025] and data["year"] == 2023
    annual = next(c for c in data["criteria"] if c["index"] == "PAR" and c["code"] == "8.1")
    assert annual["due_dates"] == ["2023-12-31", "2024-12-31", "2025-12-31"]
    assert annual["recurrence"] == "annual"


@pytest.mark.parametrize(
    ("content", "name", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "anh.png", "ảnh"),
        (b"%PDF-1.7\n...", "kehoach.pdf", "PDF"),
        ("Biên bản họp giao ban tuần\nKhông có bảng nào.\n".encode(), "bienban.txt", "bảng"),
        (b"", "rong.txt", "rỗng"),
    ],
)
def test_parse_refuses_a_file_that_is_not_a_plan(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes, name: str, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    code, out, err = run_cli(capsys, "plan", "parse", str(path), "--json")
    assert code == 2
    assert out == ""
    assert reason.lower() in err.lower()


def test_parse_missing_file_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "plan", "parse", "/khong/co/tep.docx")
    assert (code, out) == (2, "")
    assert "Không tìm thấy tệp" in err


def test_parse_preview_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "plan", "parse", str(seed_path(TANDUC)))
    assert code == 0
    assert "Đơn vị: Xã Tân Đức" in out
    assert "PAR: 59 mục" in out
    assert "Việc chưa có thời hạn (1):" in out and "PAR 1.4" in out
    assert "Người đứng đầu cấp ủy Đảng" in out  # the unmapped lead
    assert "Cảnh báo (3):" in out


def test_parse_yaml_round_trips(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "plan", "parse", str(seed_path(PHUONG6)), "--yaml")
    assert code == 0
    again = load_yaml_plan(out)
    assert [c.as_json() for c in again.criteria] == parsed_seed(PHUONG6).as_json()["criteria"]


@pytest.mark.parametrize("seed", ALL_SEEDS)
def test_shipped_yaml_seeds_match_the_documents(seed: str) -> None:
    """seeds/*.yaml are the five plans converted; they must not drift from the parser."""
    shipped = (REPO_DIR / "seeds" / seed.replace(".txt", ".yaml")).read_text("utf-8")
    plan, original = load_yaml_plan(shipped), parsed_seed(seed)
    assert [c.as_json() for c in plan.criteria] == [c.as_json() for c in original.criteria]
    assert [c.milestones for c in plan.criteria] == [c.milestones for c in original.criteria]
    assert (plan.unit, plan.year, plan.period) == (original.unit, original.year, original.period)


async def test_import_list_show_and_map(capsys: pytest.CaptureFixture[str], db_env: str) -> None:
    # main() runs its own event loop; call it from a worker thread of this async test.
    async def cli(*argv: str) -> tuple[int, str, str]:
        return await asyncio.to_thread(run_cli, capsys, *argv)

    code, out, err = await cli("plan", "import", str(seed_path(TANDUC)), "--unit", "Xã Tân Đức")
    assert (code, err) == (0, "")
    assert "Đã tạo kế hoạch cho Xã Tân Đức" in out and "Thêm mới: 59" in out
    code, out, _ = await cli(
        "plan", "import", str(seed_path(TANDUC)), "--unit", "xã tân đức", "--json"
    )
    report = json.loads(out)
    assert (code, report["added"], report["unchanged"]) == (0, [], 59)
    code, out, _ = await cli("plan", "list")
    assert code == 0 and "Xã Tân Đức\t2024–2024\tPAR\t59 mục" in out
    code, out, _ = await cli("plan", "show", "--unit", "Xã Tân Đức", "--code", "7.3.2")
    assert code == 0
    assert "Tỷ lệ dịch vụ công trực tuyến toàn trình" in out and "30/09/2024" in out
    code, out, err = await cli("plan", "show", "--unit", "Xã Không Có")
    assert code == 2 and "Chưa có đơn vị" in err
    code, out, err = await cli("plan", "show", "--unit", "Xã Tân Đức", "--code", "9.9.9")
    assert code == 2 and "9.9.9" in err
    code, out, _ = await cli(
        "plan",
        "map",
        "--unit",
        "Xã Tân Đức",
        "--text",
        "Người đứng đầu cấp ủy Đảng, chính quyền xã",
        "--position",
        "UBND",
    )
    assert code == 0 and "1 mục được cập nhật" in out
    code, _, err = await cli(
        "plan", "map", "--unit", "Xã Tân Đức", "--text", "X", "--position", "KHONGCO"
    )
    assert code == 2 and "KHONGCO" in err


async def test_failed_import_of_a_non_plan_leaves_no_unit(
    capsys: pytest.CaptureFixture[str], db_env: str, tmp_path: Path
) -> None:
    bad = tmp_path / "not_a_plan.txt"
    bad.write_text("chỉ là một đoạn văn\n", encoding="utf-8")
    code, out, err = await asyncio.to_thread(
        run_cli, capsys, "plan", "import", str(bad), "--unit", "Xã Mới"
    )
    assert code == 2 and out == "" and "bảng" in err
    code, out, _ = await asyncio.to_thread(run_cli, capsys, "plan", "list")
    assert code == 0 and "Chưa có kế hoạch nào" in out


def test_entry_point_runs_as_a_real_process(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "plan", "parse", str(seed_path(PHUSON)), "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_DIR,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    counts: dict[str, int] = {}
    for item in json.loads(result.stdout)["criteria"]:
        counts[item["index"]] = counts.get(item["index"], 0) + 1
    assert counts == {"PAR": 39, "SIPAS": 11, "PAPI": 31, "PCI": 31}


async def test_a_plan_naming_another_unit_is_refused_unless_forced(
    capsys: pytest.CaptureFixture[str], db_env: str
) -> None:
    async def cli(*argv: str) -> tuple[int, str, str]:
        return await asyncio.to_thread(run_cli, capsys, *argv)

    songcau = str(seed_path(SONGCAU))
    code, out, _ = await cli("plan", "import", str(seed_path(PHUONG6)), "--unit", "phuong 6")
    assert code == 0 and out.startswith("Đã tạo kế hoạch cho Phường 6 ")  # the document's name
    code, out, err = await cli("plan", "import", songcau, "--unit", "Phường 6")
    assert (code, out) == (2, "")
    assert err.startswith("Tệp là kế hoạch của «Phường Sông Cầu», không phải «Phường 6».")
    assert "--force" in err and "unit rename" in err
    code, _, err = await cli("plan", "import", songcau, "--unit", "Phường Sông Cầuu")  # a typo
    assert code == 2 and "«Phường Sông Cầu», không phải «Phường Sông Cầuu»" in err
    code, _, err = await cli("plan", "import", songcau, "--unit", "Phường 66", "--force")
    assert code == 2 and err.startswith("Chưa có đơn vị «Phường 66». Có phải: «Phường 6»?")
    code, out, _ = await cli("plan", "list")
    assert [line.split("\t")[0] for line in out.splitlines()] == ["Phường 6"]
    # The prefix and the spelling aside, the same unit: imported, under the existing name.
    code, out, _ = await cli("plan", "import", songcau, "--unit", "song cau")
    assert code == 0 and out.startswith("Đã tạo kế hoạch cho Phường Sông Cầu ")
    code, out, _ = await cli("plan", "import", songcau, "--unit", "Phường 6", "--force")
    assert code == 0 and out.startswith("Đã tạo kế hoạch cho Phường 6 ")
    code, out, _ = await cli("unit", "list")
    assert out == "Phường 6\t2 kế hoạch\t0 cán bộ\nPhường Sông Cầu\t1 kế hoạch\t0 cán bộ\n"


async def test_a_plan_naming_no_unit_needs_an_existing_one(
    capsys: pytest.CaptureFixture[str], db_env: str, tmp_path: Path
) -> None:
    text = seed_path(TANDUC).read_text(encoding="utf-8").replace("Tân Đức", "")
    anonymous = tmp_path / "khongten.txt"
    anonymous.write_text(text, encoding="utf-8")
    assert load_plan_unit(anonymous) is None
    code, _, err = await asyncio.to_thread(
        run_cli, capsys, "plan", "import", str(anonymous), "--unit", "Xã Mới"
    )
    assert code == 2 and "Chưa có đơn vị «Xã Mới»" in err and "unit add" in err
    assert (await asyncio.to_thread(run_cli, capsys, "unit", "add", "Xã Mới"))[0] == 0
    code, out, _ = await asyncio.to_thread(
        run_cli, capsys, "plan", "import", str(anonymous), "--unit", "Xã Mới"
    )
    assert code == 0 and out.startswith("Đã tạo kế hoạch cho Xã Mới ")


def test_the_preview_shows_the_unit_the_document_names() -> None:
    plan = parsed_seed(SONGCAU)
    assert build_preview(plan, target_unit="sông cầu").other_unit is None
    preview = build_preview(plan, target_unit="Phường 6")
    assert preview.other_unit == "Phường 6"
    lines = render_preview(preview).splitlines()
    assert lines[:2] == [
        "Đơn vị: Phường Sông Cầu",
        "⚠️ Tệp là kế hoạch của «Phường Sông Cầu», không phải «Phường 6».",
    ]
    assert "⚠️" not in render_preview(build_preview(plan))


def test_unit_names_compare_without_prefix_case_or_marks() -> None:
    assert same_unit("Phường Sông Cầu", "song  CAU")
    assert same_unit("Thị trấn Tăng Bạt Hổ", "tang bat ho")
    assert same_unit("Xã Tân Đức", "xa tan duc")
    assert not same_unit("Phường 6", "Phường 66")
    assert not same_unit("Phường 6", "Phường Sông Cầu")


def load_plan_unit(path: Path) -> str | None:
    return parse_plan_file(path.read_bytes(), filename=path.name).unit


async def test_show_speaks_vietnamese_with_commas_and_each_date_once(
    capsys: pytest.CaptureFixture[str], db_env: str
) -> None:
    async def cli(*argv: str) -> tuple[int, str, str]:
        return await asyncio.to_thread(run_cli, capsys, *argv)

    for seed in (PHUONG6, SONGCAU, PHUSON):
        assert (await cli("plan", "import", str(seed_path(seed)), "--unit", unit_of(seed)))[0] == 0
    code, out, _ = await cli("plan", "show", "--unit", "Phường 6", "--code", "5.1")
    assert code == 0
    assert "Điểm tối đa: 0,5; phấn đấu: 0,5" in out
    assert "Phối hợp: Tất cả cán bộ, công chức" in out and "ALL" not in out
    code, out, _ = await cli("plan", "show", "--unit", "Phường Phú Sơn", "--code", "1.2")
    assert code == 0 and "Lặp lại: Thường xuyên" in out and "continuous" not in out
    code, out, _ = await cli("plan", "show", "--unit", "Phường Sông Cầu")
    line = next(line for line in out.splitlines() if line.startswith("CCHC\t24\t"))
    assert line.split("\t")[2:4] == ["Tất cả cán bộ, công chức,VHXH", "31/12/2023"]
    code, out, err = await cli("plan", "show", "--unit", "Phường Phú Sơn", "--index", "XYZ")
    assert (code, out) == (2, "")
    assert err == "Phường Phú Sơn không có bộ chỉ số «XYZ» (có: PAR, SIPAS, PAPI, PCI).\n"
    code, out, _ = await cli("plan", "show", "--unit", "Phường Phú Sơn", "--index", "pci")
    assert code == 0 and {line.split("\t")[0] for line in out.splitlines()} == {"PCI"}


def unit_of(seed: str) -> str:
    unit = parsed_seed(seed).unit
    assert unit is not None
    return unit


async def test_outputs_go_only_into_existing_folders(
    capsys: pytest.CaptureFixture[str], db_env: str, tmp_path: Path
) -> None:
    async def cli(*argv: str) -> tuple[int, str, str]:
        return await asyncio.to_thread(run_cli, capsys, *argv)

    await cli("plan", "import", str(seed_path(TANDUC)), "--unit", "Xã Tân Đức")
    missing = tmp_path / "khong_co" / "x.zip"
    unit = ("--unit", "Xã Tân Đức")
    for argv in (
        ("export", *unit, "--year", "2024", "--out", str(missing)),
        ("summary", *unit, "--xlsx", str(missing.with_suffix(".xlsx"))),
        ("summary", *unit, "--png", str(missing.with_suffix(".png"))),
    ):
        code, out, err = await cli(*argv)
        assert (code, out) == (2, ""), argv
        assert err == f"Không có thư mục {missing.parent}; hãy tạo trước hoặc chọn nơi khác.\n"
    assert not missing.parent.exists()
    code, _, err = await cli("export", *unit, "--year", "2024", "--out", str(tmp_path))
    assert code == 2 and "là một thư mục" in err
    code, out, _ = await cli("export", *unit, "--year", "2024", "--out", str(tmp_path / "x.zip"))
    assert code == 0 and (tmp_path / "x.zip").is_file()


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """``plan parse … | head``: the reader goes away; no traceback, exit 0."""
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "plan", "parse", str(seed_path(PHUONG6))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO_DIR,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # before the command writes anything: its first write fails
    err = process.stderr.read()
    process.stderr.close()
    assert (process.wait(timeout=60), err) == (0, b"")
