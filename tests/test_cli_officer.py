"""The ``python -m bot officer …`` commands, through bot.cli.main on a real database."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from channels.telegram_identity import clear_cache
from core.accounts import officer_accounts
from storage.models import AuditLog, Invite, Officer, Unit
from tests.fakes.telegram_api import BOT_USERNAME, FakeTelegram

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def db_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("TELEGRAM_BOT_USERNAME", raising=False)
    return database_url


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    # main() runs its own event loop; call it from a worker thread of this async test.
    return await asyncio.to_thread(run_cli, capsys, *argv)


async def officers(sessions: Sessions) -> dict[str, Officer]:
    async with sessions() as session:
        rows = await session.scalars(select(Officer).order_by(Officer.id))
        return {row.name: row for row in rows}


async def test_add_needs_the_unit_and_updates_by_name(
    capsys: pytest.CaptureFixture[str], db_env: str, session_factory: Sessions
) -> None:
    assert (await cli(capsys, "unit", "add", "Phường 6"))[:2] == (0, "Đã thêm đơn vị Phường 6.\n")
    code, out, err = await cli(
        capsys,
        *("officer", "add", "--unit", "Phường 6", "--name", "Nguyễn Văn An"),
        *("--position", "VPTK", "--position", "tphtx", "--telegram-id", "12345"),
    )
    assert code == 2 and out == "" and "«tphtx»" in err and "VPTK" in err
    assert await officers(session_factory) == {}
    code, out, err = await cli(
        capsys,
        *("officer", "add", "--unit", "Phường 6", "--name", "Nguyễn Văn An"),
        *("--position", "VPTK", "--position", "TPHT", "--role", "coordinator"),
        *("--role", "quản trị", "--telegram-id", "12345", "--phone", "0912345678"),
    )
    assert (code, err) == (0, "")
    assert out == "Đã thêm Nguyễn Văn An (VPTK, TPHT) ở Phường 6; đã gắn Telegram.\n"
    code, out, _ = await cli(
        capsys,
        "officer",
        "add",
        "--unit",
        "phường 6",
        "--name",
        "Nguyễn văn An",
        "--position",
        "NV",
    )
    assert code == 0 and out.startswith("Đã cập nhật Nguyễn văn An (NV)")  # as last written
    an = (await officers(session_factory))["Nguyễn văn An"]
    async with session_factory() as session:
        (account,) = await officer_accounts(session, officer_id=an.id)
    assert (an.positions, an.roles, int(account.external_id), an.phone) == (
        ["NV"],
        ["officer"],
        12345,
        "0912345678",
    )
    async with session_factory() as session:
        assert [u.name for u in await session.scalars(select(Unit))] == ["Phường 6"]


async def test_add_refuses_a_telegram_id_already_linked(
    capsys: pytest.CaptureFixture[str], db_env: str
) -> None:
    await cli(capsys, "unit", "add", "Xã A")
    base = ("officer", "add", "--unit", "Xã A", "--position", "VPTK", "--telegram-id", "7")
    assert (await cli(capsys, *base, "--name", "Một"))[0] == 0
    code, _, err = await cli(capsys, *base, "--name", "Hai")
    assert code == 2 and "đã gắn với cán bộ Một" in err
    code, _, err = await cli(capsys, "officer", "add", "--unit", "Xã A", "--name", "Ba")
    assert code == 2 and "ít nhất một vị trí" in err
    code, _, err = await cli(
        capsys, "officer", "add", "--unit", "Xã A", "--name", "Ba", "--role", "lãnh đạo"
    )
    assert (code, err) == (0, "")  # a leader needs no position
    code, _, err = await cli(
        capsys, "officer", "add", "--unit", "Xã A", "--name", "Bốn", "--role", "boss"
    )
    assert code == 2 and "Vai trò «boss»" in err


async def test_invite_prints_a_deep_link(
    capsys: pytest.CaptureFixture[str],
    db_env: str,
    session_factory: Sessions,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await cli(capsys, "unit", "add", "Xã Tân Đức")
    invite = ("officer", "invite", "--unit", "Xã Tân Đức", "--name", "Lê Thị Bình")
    code, out, err = await cli(capsys, *invite)
    assert code == 2 and "--position" in err
    code, out, err = await cli(capsys, *invite, "--position", "TCKT")
    assert (code, err) == (0, "")
    # Neither a username nor a token: no link that would not work, the code to send instead.
    match = re.search(
        r"Đường dẫn: chưa biết tên bot: đặt TELEGRAM_BOT_USERNAME \(hoặc TELEGRAM_BOT_TOKEN\)\. "
        r"Cán bộ nhắn cho bot: /start ([A-Za-z0-9_-]{8})\n",
        out,
    )
    assert match is not None and f"Mã: {match.group(1)}\n" in out
    assert out.startswith("Lời mời cho Lê Thị Bình (TCKT) ở Xã Tân Đức, dùng một lần, hết hạn ")
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "dondoc_bot")
    code, out, _ = await cli(capsys, *invite)  # an existing officer: no position needed
    assert code == 0 and "https://t.me/dondoc_bot?start=" in out
    code, out, _ = await cli(capsys, *invite, "--bot-username", "@khac_bot")
    assert code == 0 and "https://t.me/khac_bot?start=" in out
    async with session_factory() as session:
        codes = list(await session.scalars(select(Invite.code).order_by(Invite.id)))
    assert len(codes) == 3 and codes[0] == match.group(1) and len(set(codes)) == 3


async def test_import_a_roster_then_list(
    capsys: pytest.CaptureFixture[str], db_env: str, tmp_path: Path, session_factory: Sessions
) -> None:
    await cli(capsys, "unit", "add", "Xã Tân Đức")
    roster = tmp_path / "canbo.csv"
    roster.write_text(
        "Họ tên,Vị trí,Vai trò,Telegram ID,Số điện thoại\n"
        "Nguyễn Văn An,VPTK;TPHT,Đầu mối,1001,0912345678\n"
        "Lê Thị Bình,Tài chính - Kế toán,,,\n",
        encoding="utf-8",
    )
    code, out, err = await cli(capsys, "officer", "import", str(roster), "--unit", "Xã Tân Đức")
    assert (code, err) == (0, "")
    assert "thêm mới 2, cập nhật 0" in out
    code, out, _ = await cli(capsys, "officer", "import", str(roster), "--unit", "Xã Tân Đức")
    assert code == 0 and "thêm mới 0, cập nhật 2" in out
    code, out, err = await cli(capsys, "officer", "list", "--unit", "xa tan duc")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        # Issue 12: the column lists each chat account (was "Telegram" and "đã gắn").
        "Họ tên\tVị trí\tVai trò\tTài khoản\tHoạt động gần nhất",
        "Lê Thị Bình\tTCKT\tCán bộ\tchưa gắn\t-",
        "Nguyễn Văn An\tVPTK, TPHT\tĐầu mối\tTelegram 1001\t-",
    ]


async def test_a_bad_roster_imports_nothing(
    capsys: pytest.CaptureFixture[str], db_env: str, tmp_path: Path, session_factory: Sessions
) -> None:
    roster = tmp_path / "canbo.csv"
    roster.write_text(
        "name,positions,role\nNguyễn Văn An,VPTK,\n,TPHT,\nLê Thị Bình,Thủ quỹ,\n",
        encoding="utf-8",
    )
    code, out, err = await cli(capsys, "officer", "import", str(roster), "--unit", "Xã Mới")
    assert code == 2 and out == ""
    assert "Dòng 3: thiếu họ tên." in err and "Dòng 4: Vị trí «Thủ quỹ»" in err
    assert await officers(session_factory) == {}
    async with session_factory() as session:
        assert list(await session.scalars(select(Unit))) == []
    code, _, err = await cli(
        capsys, "officer", "import", str(tmp_path / "missing.csv"), "--unit", "Xã Mới"
    )
    assert code == 2 and "Không tìm thấy tệp" in err


async def test_a_roster_clashing_with_the_database_imports_nothing(
    capsys: pytest.CaptureFixture[str], db_env: str, tmp_path: Path, session_factory: Sessions
) -> None:
    await cli(capsys, "unit", "add", "Xã A")
    await cli(
        capsys,
        *("officer", "add", "--unit", "Xã A", "--name", "Cũ", "--position", "NV"),
        *("--telegram-id", "55"),
    )
    roster = tmp_path / "canbo.csv"
    roster.write_text(
        "name,positions,telegram_id\nMới Một,VPTK,\nMới Hai,TPHT,55\n", encoding="utf-8"
    )
    code, _, err = await cli(capsys, "officer", "import", str(roster), "--unit", "Xã A")
    assert code == 2 and "Dòng 3: Telegram ID 55 đã gắn với cán bộ Cũ." in err
    assert list(await officers(session_factory)) == ["Cũ"]


async def test_list_needs_an_existing_unit(capsys: pytest.CaptureFixture[str], db_env: str) -> None:
    code, _, err = await cli(capsys, "officer", "list", "--unit", "Không Có")
    assert code == 2 and "Chưa có đơn vị «Không Có»" in err
    await cli(capsys, "unit", "add", "Xã Trống")
    await cli(capsys, "officer", "add", "--unit", "Xã Trống", "--name", "X", "--position", "NV")
    code, out, _ = await cli(capsys, "officer", "list", "--unit", "Xã Trống")
    assert code == 0 and "X\tNV\tCán bộ\tchưa gắn\t-" in out


async def test_a_mistyped_unit_is_refused_with_the_closest_names(
    capsys: pytest.CaptureFixture[str], db_env: str, tmp_path: Path, session_factory: Sessions
) -> None:
    for name in ("Phường 6", "Phường Sông Cầu", "Xã Tân Đức"):
        assert (await cli(capsys, "unit", "add", name))[0] == 0
    code, out, err = await cli(
        capsys, "officer", "add", "--unit", "Phường 66", "--name", "An", "--position", "NV"
    )
    assert (code, out) == (2, "")
    assert err.startswith("Chưa có đơn vị «Phường 66». Có phải: «Phường 6»")
    code, _, err = await cli(
        capsys,
        "officer",
        "invite",
        "--unit",
        "Phường Sông Cầuu",
        "--name",
        "An",
        "--position",
        "NV",
    )
    assert code == 2 and "Có phải: «Phường Sông Cầu»?" in err
    roster = tmp_path / "canbo.csv"
    roster.write_text("name,positions\nAn,NV\n", encoding="utf-8")
    code, _, err = await cli(capsys, "officer", "import", str(roster), "--unit", "Xa Tan Duk")
    assert code == 2 and "«Xã Tân Đức»" in err
    for argv in (
        ("officer", "list", "--unit", "Phường 66"),
        ("summary", "--unit", "Phường 66", "--json"),
        ("settings", "--unit", "Phường 66"),
        ("plan", "show", "--unit", "Phường 66"),
        ("export", "--unit", "Phường 66", "--year", "2023", "--out", str(tmp_path / "x.zip")),
    ):
        code, _, err = await cli(capsys, *argv)
        assert code == 2 and "Có phải: «Phường 6»" in err, argv
    async with session_factory() as session:
        names = sorted(u.name for u in await session.scalars(select(Unit)))
    assert names == ["Phường 6", "Phường Sông Cầu", "Xã Tân Đức"]
    assert await officers(session_factory) == {}
    # Written without its prefix, an existing unit is still found.
    code, out, _ = await cli(
        capsys, "officer", "add", "--unit", "sông cầu", "--name", "An", "--position", "NV"
    )
    assert code == 0 and out == "Đã thêm An (NV) ở Phường Sông Cầu; chưa gắn Telegram.\n"


async def test_unit_add_list_and_rename(
    capsys: pytest.CaptureFixture[str], db_env: str, session_factory: Sessions
) -> None:
    code, out, _ = await cli(capsys, "unit", "list")
    assert (code, out) == (0, "Chưa có đơn vị nào. Thêm bằng: python -m bot unit add TÊN\n")
    assert (await cli(capsys, "unit", "add", "Xã Hoài Thanh"))[0] == 0
    code, _, err = await cli(capsys, "unit", "add", "hoài thanh")
    assert (code, err) == (2, "Đã có đơn vị «Xã Hoài Thanh».\n")
    await cli(
        capsys, "officer", "add", "--unit", "Xã Hoài Thanh", "--name", "An", "--position", "NV"
    )
    code, out, _ = await cli(capsys, "unit", "list")
    assert (code, out) == (0, "Xã Hoài Thanh\t0 kế hoạch\t1 cán bộ\n")
    code, out, _ = await cli(capsys, "unit", "rename", "Xã Hoài Thanh", "Phường Hoài Nhơn")
    assert (code, out) == (0, "Đã đổi tên Xã Hoài Thanh thành Phường Hoài Nhơn.\n")
    code, out, _ = await cli(capsys, "officer", "list", "--unit", "Phường Hoài Nhơn")
    assert code == 0 and "An\tNV" in out
    code, _, err = await cli(capsys, "unit", "rename", "Xã Hoài Thanh", "Khác")
    assert code == 2 and "Có phải: «Phường Hoài Nhơn»?" in err
    async with session_factory() as session:
        actions = list(await session.scalars(select(AuditLog.action).order_by(AuditLog.id)))
    assert actions[0] == "unit.add" and actions[-1] == "unit.rename"


async def test_invite_asks_telegram_for_the_bot_username_once(
    capsys: pytest.CaptureFixture[str], db_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tg = FakeTelegram()
    url = tg.start_in_thread()
    clear_cache()
    try:
        monkeypatch.setenv("TELEGRAM_API_BASE_URL", f"{url}/bot")
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", tg.token)
        await cli(capsys, "unit", "add", "Xã Tân Đức")
        invite = ("officer", "invite", "--unit", "Xã Tân Đức", "--name", "Bình", "--position", "NV")
        for _ in range(2):
            code, out, err = await cli(capsys, *invite)
            assert (code, err) == (0, "")
            assert f"Đường dẫn: https://t.me/{BOT_USERNAME}?start=" in out
        assert len(tg.calls("getMe")) == 1  # cached for the process
        clear_cache()
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456789:not-the-token")
        code, out, _ = await cli(capsys, *invite)
        assert code == 0 and "Đường dẫn: không hỏi được tên bot từ Telegram (InvalidToken)" in out
        assert "not-the-token" not in out
    finally:
        clear_cache()
        tg.stop()
