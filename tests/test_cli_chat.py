"""``python -m bot chat``, the local shell, run as a newcomer would: a process fed through a pipe,
on the test database (SQLite or PostgreSQL), with no token and no network."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from channels.local import file_arguments
from core.demo import DEMO_PEOPLE, DEMO_UNIT
from storage.models import ChannelAccount, Evidence, Officer, ProgressUpdate, Unit
from tests.seed_files import REPO_DIR

Sessions = async_sessionmaker[AsyncSession]


def chat(database_url: str, tmp_path: Path, lines: str, *args: str) -> tuple[str, str]:
    """Run the shell with ``lines`` on its standard input; (stdout, stderr)."""
    env = dict(os.environ)  # the autouse isolated_settings fixture has removed DATABASE_URL & co
    env.update(DATABASE_URL=database_url, EVIDENCE_DIR=str(tmp_path / "evidence"))
    env.update(TMPDIR=str(tmp_path))  # where the files the bot sends are written
    done = subprocess.run(
        [sys.executable, "-m", "bot", "chat", *args],
        input=lines,
        cwd=tmp_path,  # no .env here
        env={**env, "PYTHONPATH": str(REPO_DIR)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


def sent_files(folder: Path) -> list[str]:
    """The names of the files the bot sent, as the shell wrote them."""
    return sorted(path.name for path in folder.glob("dondoc-chat-*/*"))


async def counts(sessions: Sessions) -> tuple[int, int, int]:
    async with sessions() as session:
        units = await session.scalar(select(func.count()).select_from(Unit))
        officers = await session.scalar(select(func.count()).select_from(Officer))
        accounts = await session.scalar(select(func.count()).select_from(ChannelAccount))
    return int(units or 0), int(officers or 0), int(accounts or 0)


async def test_demo_on_an_empty_database_then_a_second_run(
    database_url: str, tmp_path: Path, session_factory: Sessions
) -> None:
    out, err = chat(database_url, tmp_path, "/viec\n1\n50\n/tonghop\n", "--demo")
    assert f"Đã tạo đơn vị minh họa «{DEMO_UNIT}»." in err
    assert "Việc của bạn (" in out and "\n1. " in out  # the list, numbered
    assert "Trạng thái: Đang làm 50%" in out  # "1" opened a card, "50" recorded 50 %
    assert texts.CARD_TYPED_HINT in out
    files = sent_files(tmp_path)
    assert any(name.endswith(".xlsx") for name in files), out  # /tonghop's spreadsheet
    assert any(name.endswith(".png") for name in files), out  # and its chart
    assert await counts(session_factory) == (1, len(DEMO_PEOPLE), 1)

    out, err = chat(database_url, tmp_path, "/viec\n", "--demo")
    assert "Đã tạo" not in err  # found, not made again
    assert "Đang làm 50%" in out  # what the first run recorded
    assert await counts(session_factory) == (1, len(DEMO_PEOPLE), 1)
    async with session_factory() as session:
        reports = list(await session.scalars(select(ProgressUpdate)))
    assert [(r.percent, r.source) for r in reports] == [(50, "local")]


async def test_playing_an_officer_a_stranger_and_sending_a_file(
    database_url: str, tmp_path: Path, session_factory: Sessions
) -> None:
    chat(database_url, tmp_path, "", "--demo")
    officer = DEMO_PEOPLE[1][0]
    out, _ = chat(database_url, tmp_path, "/quahan\n/help\n", "--demo", "--as", officer)
    assert out.startswith(texts.NOT_ALLOWED)  # an officer may not list the unit's overdue items
    assert texts.HELP_NUMBERED in out

    out, err = chat(database_url, tmp_path, "/viec\n1\n", "--as", "Người Không Có")
    assert "người lạ" in err
    assert out == f"{texts.STRANGER}\n\n{texts.STRANGER}\n\n"  # "/viec" and "1" alike

    photo = tmp_path / "bang tin.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0 a picture of the notice board")
    lines = f'/viec\n1\nảnh\n/file "{photo}"\n/file {tmp_path / "missing.jpg"}\n'
    lines += "/file \"chưa đóng ngoặc\n/file thiếu.jpg cán bộ's note\n/viec\n"  # no traceback
    out, _ = chat(database_url, tmp_path, lines, "--demo", "--as", officer)
    assert "Đã nhận 1 tệp minh chứng cho " in out
    assert out.count("Không tìm thấy tệp.") == 3
    assert out.count("Việc của bạn (") == 2  # the shell went on after them
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Evidence)) == 1


def test_file_arguments_keep_captions_and_paths_as_typed() -> None:
    assert file_arguments(" anh.jpg 2.1.1 cán bộ's note") == ("anh.jpg", "2.1.1 cán bộ's note")
    assert file_arguments(' "C:\\Ảnh chụp\\a.jpg" 2.1.1') == ("C:\\Ảnh chụp\\a.jpg", "2.1.1")
    assert file_arguments(' "chưa đóng') == ('"chưa', "đóng")
    assert file_arguments("") == ("", "")
