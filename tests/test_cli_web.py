"""``python -m bot web link`` and ``python -m bot province add``, through bot.cli.main."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from core.web_login import spend_login

Sessions = async_sessionmaker[AsyncSession]
BASE = "https://dondoc.example.vn"
LINK = re.compile(re.escape(BASE) + r"/dangnhap/([A-Za-z0-9_-]{40,})")


@pytest.fixture
def db_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("PUBLIC_BASE_URL", BASE)
    monkeypatch.setenv("WEB_SECRET", "cli-web-secret-0123456789abcdef0123456789")
    return database_url


async def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    def run() -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return await asyncio.to_thread(run)


async def spendable(sessions: Sessions, out: str) -> bool:
    found = LINK.search(out)
    assert found is not None, out
    async with sessions() as session, session.begin():
        return await spend_login(session, token=found.group(1), now=datetime.now(UTC)) is not None


async def test_province_add_prints_a_login_link_and_web_link_gives_more(
    capsys: pytest.CaptureFixture[str], db_env: str, session_factory: Sessions
) -> None:
    code, out, err = await cli(capsys, "province", "add", "Sở Nội vụ")
    assert (code, err) == (0, "") and out.startswith("Đã thêm người dùng cấp tỉnh Sở Nội vụ.")
    assert await spendable(session_factory, out)
    code, _, err = await cli(capsys, "province", "add", "sở nội vụ")
    assert code == 2 and "Đã có" in err
    code, out, _ = await cli(capsys, "web", "link", "--province", "Sở Nội vụ")
    assert code == 0 and await spendable(session_factory, out)
    code, _, err = await cli(capsys, "web", "link", "--province", "Sở Tài chính")
    assert code == 2 and "Không có người dùng cấp tỉnh" in err


async def test_web_link_for_an_officer(
    capsys: pytest.CaptureFixture[str], db_env: str, session_factory: Sessions
) -> None:
    await cli(capsys, "unit", "add", "Xã Tân Đức")
    add = ("officer", "add", "--unit", "Xã Tân Đức", "--name", "Lê Bình", "--role", "leader")
    assert (await cli(capsys, *add))[0] == 0
    code, out, err = await cli(
        capsys, "web", "link", "--unit", "Xã Tân Đức", "--officer", "Lê Bình"
    )
    assert (code, err) == (0, "") and await spendable(session_factory, out)
    code, _, err = await cli(capsys, "web", "link", "--officer", "Lê Bình")
    assert code == 2 and "--unit" in err
    code, _, err = await cli(capsys, "web", "link", "--unit", "Xã Tân Đức", "--officer", "Ai Đó")
    assert code == 2 and "không có cán bộ tên Ai Đó" in err


async def test_web_link_needs_a_public_base_url(
    capsys: pytest.CaptureFixture[str], db_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PUBLIC_BASE_URL")
    monkeypatch.delenv("WEB_SECRET")
    code, _, err = await cli(capsys, "web", "link", "--province", "X")
    assert code == 3 and "PUBLIC_BASE_URL" in err
