"""Logs and start-up errors: no secret at DEBUG, one clear line when something is missing.

``python -m bot run`` runs as a real process against the fake Bot API served by
this test; its stderr is what an operator would see.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from pathlib import Path

import pytest

from bot.cli import EXIT_CONFIG, EXIT_DB_UNAVAILABLE, main
from tests.fakes.telegram_api import FakeTelegram

REPO = Path(__file__).resolve().parents[1]
SECRET = "dondoc-webhook-secret-0123456789"
USER = 7701


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(database_url: str, tg: FakeTelegram | None, **extra: str) -> dict[str, str]:
    env = dict(os.environ)  # isolated_settings removed DATABASE_URL & co from this process
    env.update(DATABASE_URL=database_url, **extra)
    if tg is not None:
        env.update(TELEGRAM_BOT_TOKEN=tg.token, TELEGRAM_API_BASE_URL=tg.base_url)
        env.update(TELEGRAM_FILE_BASE_URL=tg.base_file_url)
    return env


async def _start(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--log-level",
        "DEBUG",
        "run",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _stop(process: asyncio.subprocess.Process) -> str:
    process.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    return stderr.decode(errors="replace")


async def test_the_webhook_secret_never_reaches_the_debug_log(
    database_url: str, tmp_path: Path
) -> None:
    async with FakeTelegram() as tg:
        env = _env(
            database_url,
            tg,
            WEBHOOK_URL="https://bot.example.test/telegram",
            WEBHOOK_SECRET=SECRET,
            WEB_SECRET="w" * 40,
            WEBHOOK_LISTEN="127.0.0.1",
            PORT=str(_free_port()),
        )
        process = await _start(env, tmp_path)
        try:
            registered = await tg.wait_for_request("setWebhook", timeout=60)
        finally:
            log = await _stop(process)
    assert registered.params["secret_token"] == SECRET
    assert "setWebhook" in log  # PTB logged the call's parameters at DEBUG
    assert SECRET not in log


async def test_an_invite_code_never_reaches_the_debug_log(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert await asyncio.to_thread(main, ["unit", "add", "Xã Hòa Bình"]) == 0
    invite = ("officer", "invite", "--unit", "Xã Hòa Bình", "--name", "Lê Thị Bình")
    code = await asyncio.to_thread(main, [*invite, "--position", "TCKT"])
    assert code == 0
    async with FakeTelegram() as tg:
        process = await _start(_env(database_url, tg), tmp_path)
        try:
            await tg.wait_for_request("getUpdates", timeout=60, finished=False)
            # The invite command printed it; the test reads it from the database instead.
            invite_code = await _invite_code(database_url)
            mark = tg.checkpoint()
            await tg.send_text(USER, f"/start {invite_code}")
            welcome = await tg.wait_for(lambda m: m.chat_id == USER, timeout=60, after=mark)
        finally:
            log = await _stop(process)
    assert "Lê Thị Bình" in welcome.content  # linked: the code went through
    assert "getUpdates" in log
    assert invite_code not in log


async def test_an_invite_code_typed_alone_never_reaches_the_debug_log(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert await asyncio.to_thread(main, ["unit", "add", "Xã Hòa Bình"]) == 0
    invite = ("officer", "invite", "--unit", "Xã Hòa Bình", "--name", "Lê Thị Bình")
    assert await asyncio.to_thread(main, [*invite, "--position", "TCKT"]) == 0
    async with FakeTelegram() as tg:
        process = await _start(_env(database_url, tg), tmp_path)
        try:
            await tg.wait_for_request("getUpdates", timeout=60, finished=False)
            invite_code = await _invite_code(database_url)
            mark = tg.checkpoint()
            await tg.send_text(USER, invite_code.lower())  # no /start: the code alone
            welcome = await tg.wait_for(lambda m: m.chat_id == USER, timeout=60, after=mark)
        finally:
            log = await _stop(process)
    assert "Lê Thị Bình" in welcome.content  # linked: the code went through
    assert "getUpdates" in log
    assert invite_code not in log and invite_code.lower() not in log


async def _invite_code(database_url: str) -> str:
    from sqlalchemy import select

    from storage.db import make_engine, make_session_factory
    from storage.models import Invite

    engine = make_engine(database_url)
    try:
        async with make_session_factory(engine)() as session:
            code = await session.scalar(select(Invite.code))
    finally:
        await engine.dispose()
    assert code is not None
    return code


async def test_telegram_unreachable_at_start_is_one_clear_line(
    database_url: str, tmp_path: Path
) -> None:
    env = _env(
        database_url,
        None,
        TELEGRAM_BOT_TOKEN="123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi",
        TELEGRAM_API_BASE_URL=f"http://127.0.0.1:{_free_port()}/bot",  # nothing listens
    )
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot", "run"),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    lines = stderr.decode().strip().splitlines()
    assert process.returncode == EXIT_DB_UNAVAILABLE
    assert len(lines) == 1 and lines[0].startswith("Không kết nối được Telegram Bot API")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://dondoc:s3cretPass@db:notaport/dondoc",
        "sqlite+aiosqlite://user:s3cretPass@host:port/x",
    ],
)
def test_a_malformed_database_url_is_a_configuration_error(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["db", "upgrade"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "DATABASE_URL" in err and "s3cretPass" not in err
    assert not re.search(r"Traceback|Lỗi không mong đợi", err)
