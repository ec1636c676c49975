"""Hostile plans and rosters are refused with a reason, within bounded memory.

Each bomb is written at test time (tests/hostile_files.py) and read in a child
process under a 1 GB address-space limit: an unbounded reader runs out of it
(or out of the safety timeout) and fails the test instead of the machine.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from core import plan_store
from core.limits import MAX_CODE_LENGTH, MAX_CRITERIA, LimitError
from core.plan_model import PlanParseError
from core.plan_yaml import load_yaml_plan
from core.plans import parse_plan_file
from core.roster import MAX_REPORTED_PROBLEMS, RosterError, read_roster
from storage.models import Criterion, Plan, Unit
from tests.hostile_files import HOSTILE, read_limited
from tests.seed_files import TANDUC, parsed_seed

# What each refusal must say: the reason, not "tệp bị hỏng".
EXPECTED = {
    "docx_span_bomb": "quá nhiều cột",
    "docx_grid_before_after": "quá lớn khi giải nén",
    "docx_paragraphs": "quá lớn khi giải nén",
    "xlsx_sparse": "quá nhiều ô",
    "tsv_many_rows": "quá nhiều dòng",
    "tsv_deep_code": f"dài quá {MAX_CODE_LENGTH} ký tự",
    "yaml_alias_bomb": "'requirement' phải là một giá trị đơn",
    "yaml_long_period": "không quá 10 năm",
    "yaml_deep_code": f"dài quá {MAX_CODE_LENGTH} ký tự",
    "roster_xlsx_sparse": "quá nhiều ô",
    "roster_xlsx_huge_cell": "quá lớn khi giải nén",
    "roster_csv_errors": "Tệp quá lớn cho một danh sách",
    "roster_csv_rows": "Quá nhiều dòng",
}


@pytest.fixture(scope="session")
def hostile_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_is_refused_with_its_reason_in_bounded_memory(
    hostile_dir: Path, name: str
) -> None:
    generate, file_name, kind = HOSTILE[name]
    path = generate(hostile_dir / file_name)
    result = read_limited(kind, path, memory_mb=1024)
    assert result["outcome"] == "refused", result
    assert EXPECTED[name] in str(result["message"])
    assert int(str(result["message_chars"])) < 2_000  # a reason, not 60 MB of errors


def test_bomb_expected_table_covers_every_generator() -> None:
    assert set(EXPECTED) == set(HOSTILE)


def _tsv_plan(rows: list[str]) -> bytes:
    lines = ["Kế hoạch cải cách hành chính năm 2024 của xã Hòa Bình", "STT\tNội dung\tChủ trì"]
    return "\n".join(lines + rows).encode()


def test_a_plan_over_the_criteria_cap_says_how_many_and_the_cap() -> None:
    rows = [f"{n}\tLĩnh vực {n}\tVăn phòng - Thống kê" for n in range(1, 101)]
    rows += [f"{n}.{m}\tTiêu chí\tVăn phòng" for n in range(1, 101) for m in range(1, 52)]
    with pytest.raises(LimitError) as caught:
        parse_plan_file(_tsv_plan(rows), filename="big.txt")
    assert "5,200 tiêu chí" in str(caught.value) and f"{MAX_CRITERIA:,}" in str(caught.value)


def test_a_plan_at_real_depth_still_reads() -> None:
    rows = ["1\tLĩnh vực\tVăn phòng - Thống kê", "1.1.1.1.1.1\tSáu cấp\tVăn phòng - Thống kê"]
    plan = parse_plan_file(_tsv_plan(rows), filename="deep.txt")
    assert [c.code for c in plan.criteria] == ["1", "1.1.1.1.1.1"]
    assert plan.criteria[1].parent == "1"


def test_a_superscript_is_not_a_code() -> None:
    rows = ["1\tLĩnh vực\tVăn phòng - Thống kê", "²\tTiêu chí\tVăn phòng - Thống kê"]
    plan = parse_plan_file(_tsv_plan(rows), filename="odd.txt")
    assert "²" not in [c.code for c in plan.criteria]


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ('{index: PAR, code: "1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1", title: T}', "32 ký tự"),
        ('{index: PAR, code: "1.1.1.1.1.1.1.1.1", title: T}', "quá 8 cấp"),
        ("{index: ABCDEFGHIJKLMNOPQ, code: '1', title: T}", "16 ký tự"),
        ("{index: PAR, code: '1', title: T, lead: [a, b]}", "'lead' phải là một giá trị đơn"),
        ("{index: PAR, code: '1', title: T, leads: [[VPTK]]}", "phải là một giá trị đơn"),
        ("{index: PAR, code: '1', title: T, max_points: [1]}", "phải là một giá trị đơn"),
        ("{index: PAR, code: '1', title: T, due_dates: [[2024-01-01]]}", "giá trị đơn"),
    ],
)
def test_yaml_refuses_oversized_codes_and_lists_where_a_value_belongs(
    entry: str, reason: str
) -> None:
    text = f"dondoc_plan: 1\nyear: 2024\ncriteria:\n  - {entry}\n"
    with pytest.raises(PlanParseError) as caught:
        load_yaml_plan(text)
    assert reason in str(caught.value)


@pytest.mark.parametrize("period", ["[2024, 2035]", "[1, 9999]", "[2024, 2200]"])
def test_yaml_period_is_capped_like_the_document_readers(period: str) -> None:
    entry = "{index: PAR, code: '1', title: T}"
    text = f"dondoc_plan: 1\nyear: 2024\nperiod: {period}\ncriteria:\n  - {entry}\n"
    with pytest.raises(PlanParseError, match="không quá 10 năm"):
        load_yaml_plan(text)


def test_yaml_parents_of_many_roman_areas_are_found_in_linear_time() -> None:
    lines = ["dondoc_plan: 1", "year: 2024", "criteria:"]
    lines += ['  - {index: PAR, code: "I", title: A}', '  - {index: PAR, code: "II", title: B}']
    lines += [f'  - {{index: PAR, code: "2.{n}", title: T}}' for n in range(1, 4001)]
    plan = load_yaml_plan("\n".join(lines) + "\n")
    assert {c.parent for c in plan.criteria[2:]} == {"II"}


def test_roster_errors_are_bounded_and_say_how_many_more() -> None:
    rows = "\n".join(",VPTK" for _ in range(500))
    with pytest.raises(RosterError) as caught:
        read_roster(f"Họ tên,Vị trí\n{rows}\n".encode(), filename="ds.csv")
    assert len(caught.value.problems) == MAX_REPORTED_PROBLEMS + 1
    assert caught.value.problems[-1] == f"… và {500 - MAX_REPORTED_PROBLEMS} lỗi khác."


@pytest.mark.parametrize("telegram_id", ["9999999999999999999", "99999999999999999999", "²"])
def test_roster_refuses_ids_no_database_integer_holds(telegram_id: str) -> None:
    data = f"Họ tên,Vị trí,Telegram ID\nNguyễn Văn A,VPTK,{telegram_id}\n".encode()
    with pytest.raises(RosterError) as caught:
        read_roster(data, filename="ds.csv")
    assert caught.value.problems == [f"Dòng 2: Telegram ID «{telegram_id}» phải là số."]


@pytest.fixture
def db_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        # 17 levels, 33 characters: PostgreSQL's VARCHAR(32) refused it with exit 1.
        ('{index: PAR, code: "1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1", title: T}', "32 ký tự"),
        ("{index: ABCDEFGHIJKLMNOPQ, code: '1', title: T}", "16 ký tự"),
    ],
)
async def test_cli_import_of_an_oversized_code_exits_2_on_both_databases(
    capsys: pytest.CaptureFixture[str], db_env: str, tmp_path: Path, entry: str, reason: str
) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"dondoc_plan: 1\nyear: 2024\ncriteria:\n  - {entry}\n", encoding="utf-8")
    code, out, err = await asyncio.to_thread(
        _cli, capsys, "plan", "import", str(plan), "--unit", "Xã Hòa Bình"
    )
    assert code == 2 and reason in err, (code, out, err)
    code, out, _ = await asyncio.to_thread(_cli, capsys, "plan", "list")
    assert code == 0 and "Hòa Bình" not in out


async def test_cli_officer_add_refuses_a_twenty_digit_telegram_id(
    capsys: pytest.CaptureFixture[str], db_env: str
) -> None:
    code, out, err = await asyncio.to_thread(
        _cli,
        capsys,
        *("officer", "add", "--unit", "Xã Hòa Bình", "--name", "Nguyễn Văn A"),
        *("--position", "VPTK", "--telegram-id", "99999999999999999999"),
    )
    assert code == 2 and "Telegram" in err and "Traceback" not in err, (code, out, err)


async def test_two_imports_of_one_plan_at_once_make_one_plan_on_both_databases(
    session_factory: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = parsed_seed(TANDUC)
    real_unit = plan_store.get_or_create_unit
    for round_no in range(3):
        name = f"Xã Tân Đức {round_no}"
        async with session_factory() as session, session.begin():
            await plan_store.get_or_create_unit(session, name=name)
        both_found_the_unit = asyncio.Barrier(2)

        async def unit_then_wait(
            session: AsyncSession, *, name: str, barrier: asyncio.Barrier = both_found_the_unit
        ) -> tuple[Unit, bool]:
            found = await real_unit(session, name=name)
            await barrier.wait()  # both imports are past their first read
            return found

        monkeypatch.setattr(plan_store, "get_or_create_unit", unit_then_wait)

        async def one_import(name: str = name) -> None:
            async with session_factory() as session, session.begin():
                await plan_store.import_plan(
                    session,
                    unit_name=name,
                    plan=plan,
                    source_name="p.txt",
                    source_sha256=None,
                    actor="test",
                )

        await asyncio.gather(one_import(), one_import())
        monkeypatch.setattr(plan_store, "get_or_create_unit", real_unit)
        async with session_factory() as session:
            unit = await plan_store.find_unit(session, name=name)
            assert unit is not None
            plans = (await session.scalars(select(Plan).where(Plan.unit_id == unit.id))).all()
            criteria = await session.scalar(
                select(func.count()).select_from(Criterion).where(Criterion.unit_id == unit.id)
            )
        assert (len(plans), criteria) == (1, len(plan.criteria)), round_no
