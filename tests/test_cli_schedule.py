"""``python -m bot remind``, ``summary`` and ``export`` from the command line."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from core.evidence import new_incoming_path, store_evidence
from core.progress import record_progress
from storage.models import Criterion, Officer
from tests.fakes.telegram_api import FakeTelegram
from tests.test_reminders import setup
from tests.test_summary import at

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTelegram]:
    tg = FakeTelegram()
    url = tg.start_in_thread()
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", tg.token)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", f"{url}/bot")
    monkeypatch.setenv("TELEGRAM_FILE_BASE_URL", f"{url}/file/bot")
    try:
        yield tg
    finally:
        tg.stop()


@pytest.fixture
async def planned(
    session_factory: Sessions, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Sessions:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("EVIDENCE_DIR", str(tmp_path / "evidence"))
    await setup(session_factory)
    return session_factory


async def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def test_remind_dry_run_json_contract(
    planned: Sessions, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await cli(capsys, "remind", "--date", "2024-03-13", "--dry-run", "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert [(d["officer"], d["escalation"]) for d in data] == [
        ("Hoa", False),
        ("Lan", False),
        ("Hoa", True),
        ("Sơn", True),
    ]
    for entry in data:
        assert set(entry) == {"unit", "officer", "accounts", "items", "escalation"}
        for item in entry["items"]:
            assert set(item) == {"index", "code", "kind", "due_date"}
            assert item["kind"] in (
                "due_in_7",
                "due_in_3",
                "due_in_1",
                "due_today",
                "overdue",
                "checkin",
            )
    assert data[1]["items"] == [
        {"index": "PAR", "code": "1.1", "kind": "due_today", "due_date": "2024-03-13"}
    ]
    code, out, _ = await cli(capsys, "remind", "--date", "2024-03-16", "--dry-run", "--json")
    assert (code, json.loads(out)) == (0, [])  # a Saturday


async def test_remind_send_twice_sends_once(
    planned: Sessions, fake_api: FakeTelegram, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(2):
        code, out, err = await cli(capsys, "remind", "--date", "2024-03-13", "--send")
        assert code == 0, err
    assert len(fake_api.messages_to(101)) == 1  # Lan
    assert len(fake_api.messages_to(104)) == 1  # Sơn: the escalation
    assert "duplicate: 2" in out  # the second run found both digests already claimed


async def test_summary_renderings_and_send_once(
    planned: Sessions,
    fake_api: FakeTelegram,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    base = ("summary", "--unit", "phường thử", "--date", "2024-03-15")
    code, out, _ = await cli(capsys, *base, "--json")
    data = json.loads(out)
    assert code == 0 and data["unit"] == "Phường Thử" and data["as_of"] == "2024-03-15"
    assert data["indexes"][0]["totals"]["items"] == 6
    code, _, _ = await cli(capsys, *base, "--xlsx", str(tmp_path / "th.xlsx"))
    assert code == 0 and "Chi tiết" in load_workbook(tmp_path / "th.xlsx").sheetnames
    code, _, _ = await cli(capsys, *base, "--png", str(tmp_path / "th.png"))
    assert code == 0 and (tmp_path / "th.png").read_bytes()[:4] == b"\x89PNG"
    for _ in range(2):
        code, out, err = await cli(capsys, *base, "--send")
        assert code == 0, err
    for chat in (103, 104):  # the coordinator and the leader
        assert [m.method for m in fake_api.sent(chat)].count("sendDocument") == 1
    assert fake_api.sent(101) == []  # an ordinary officer does not get it
    code, _, err = await cli(capsys, "summary", "--unit", "Xã Không Có", "--json")
    assert code == 2 and "Xã Không Có" in err


async def test_export_pack(
    planned: Sessions, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    async with planned() as session, session.begin():
        lan = (await session.scalars(select(Officer).where(Officer.name == "Lan"))).one()
        item = (await session.scalars(select(Criterion).where(Criterion.code == "1.1"))).one()
        await record_progress(
            session,
            officer=lan,
            criterion=item,
            status="done",
            source="cli",
            source_update_id=None,
            now=at("2024-03-12"),
        )
        photo = new_incoming_path(tmp_path / "evidence")
        photo.write_bytes(b"\xff\xd8\xff\xe0 anh chup bang tin")  # a JPEG by its first bytes
        await store_evidence(
            session,
            officer=lan,
            criterion=item,
            source=photo,
            file_unique_id="u1",
            mime="image/jpeg",
            original_name=None,
            caption=None,
            source_update_id=None,
            evidence_dir=tmp_path / "evidence",
            now=at("2024-03-12"),
        )
    out_zip = tmp_path / "pack" / "MinhChung2024.zip"
    out_zip.parent.mkdir()  # the folder must exist: a mistyped one is refused, not created
    code, out, err = await cli(
        capsys, "export", "--unit", "Phường Thử", "--year", "2024", "--out", str(out_zip)
    )
    assert code == 0, err
    assert "6 mục, 1 tệp minh chứng" in out
    with zipfile.ZipFile(out_zip) as archive:
        names = archive.namelist()
        assert names[0] == "TuDanhGia.xlsx"
        photos = [name for name in names if name.endswith(".jpg")]
        assert len(photos) == 1 and photos[0].startswith("PAR/1.1 ")
        assert archive.read(photos[0]) == b"\xff\xd8\xff\xe0 anh chup bang tin"
        book = load_workbook(io.BytesIO(archive.read("TuDanhGia.xlsx")))
    assert "Thiếu minh chứng" in book.sheetnames
    code, _, err = await cli(
        capsys, "export", "--unit", "Phường Thử", "--year", "2019", "--out", str(out_zip)
    )
    assert code == 2 and "2019" in err


async def test_settings_view_and_change(
    planned: Sessions, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = await cli(capsys, "settings", "--unit", "Phường Thử")
    assert code == 0 and "• Giờ nhắc: 07:30" in out
    code, out, err = await cli(
        capsys,
        "settings",
        "--unit",
        "Phường Thử",
        "--set",
        "gio",
        "08:00",
        "--set",
        "days_off",
        "15/03/2024",
    )
    assert code == 0, err
    assert "• Giờ nhắc: 08:00" in out and "• Ngày nghỉ riêng: 15/03/2024" in out
    code, out, err = await cli(capsys, "settings", "--unit", "Phường Thử", "--set", "gio", "25h")
    assert code == 2 and "Giờ nhắc" in err
    code, out, _ = await cli(capsys, "remind", "--date", "2024-03-15", "--dry-run", "--json")
    assert json.loads(out) == []  # the unit's own day off
