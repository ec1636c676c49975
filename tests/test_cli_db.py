"""The command-line frame: ``python -m bot db upgrade``, exit codes, secrets."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import bot.cli_db
from bot.cli import COMMAND_MODULES, main
from bot.logging_setup import REDACTED, SecretRedactingFilter
from storage.models import Base

FAKE_TOKEN = "123456789:AAFakeTokenForTestsOnly_abcdefghijklmnop"


def sqlite_tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


def test_db_upgrade_creates_the_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "new" / "dondoc.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{path}")

    assert main(["db", "upgrade"]) == 0

    assert set(Base.metadata.tables) <= sqlite_tables(path)
    out = capsys.readouterr().out
    assert "Cơ sở dữ liệu đã được cập nhật (sqlite" in out


def test_db_upgrade_on_the_test_database_hides_the_url(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["db", "upgrade"]) == 0
    out, err = capsys.readouterr()
    assert "cập nhật" in out
    assert database_url not in out + err


def test_help_exits_zero_and_lists_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "python -m bot" in out
    assert "database unavailable" in out


def test_usage_errors_exit_two(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "no-such-command"]) == 2
    assert main([]) == 2
    assert "cách dùng:" in capsys.readouterr().err  # argparse in Vietnamese (bot.cli_vietnamese)


def test_bad_setting_exits_three_naming_it_without_the_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TIMEZONE", "Asia/Nowhere")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", FAKE_TOKEN)

    assert main(["db", "upgrade"]) == 3

    out, err = capsys.readouterr()
    assert "TIMEZONE" in err
    assert FAKE_TOKEN not in out + err


def test_unreachable_database_exits_four_without_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Port 1 on localhost refuses at once; nothing listens there.
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://dondoc:s3cretPass@127.0.0.1:1/x")

    assert main(["db", "upgrade"]) == 4

    out, err = capsys.readouterr()
    assert "cơ sở dữ liệu" in err
    assert "s3cretPass" not in out + err


def test_command_modules_are_importable() -> None:
    assert "bot.cli_db" in COMMAND_MODULES


def test_unexpected_error_exits_one_and_logs_without_the_token(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(args: object, settings: object) -> int:
        raise RuntimeError(f"crashed calling /bot{FAKE_TOKEN}/getMe")

    monkeypatch.setattr(bot.cli_db, "upgrade_command", broken)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", FAKE_TOKEN)

    assert main(["db", "upgrade"]) == 1

    out, err = capsys.readouterr()
    assert "RuntimeError" in err
    assert "crashed calling" in caplog.text
    assert FAKE_TOKEN not in out + err + caplog.text


def test_python_dash_m_bot_runs_in_a_subprocess(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dondoc.db"
    env = dict(os.environ)  # the autouse isolated_settings fixture has removed DATABASE_URL & co
    env.update(DATABASE_URL=f"sqlite+aiosqlite:///{path}", TELEGRAM_BOT_TOKEN=FAKE_TOKEN)

    result = subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"],
        cwd=tmp_path,  # no .env here, and proves the migrations are found from anywhere
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "Cơ sở dữ liệu đã được cập nhật" in result.stdout
    assert FAKE_TOKEN not in result.stdout + result.stderr
    assert set(Base.metadata.tables) <= sqlite_tables(path)


def test_log_filter_redacts_the_token_and_token_shapes() -> None:
    configured = "configured-secret-value"
    log_filter = SecretRedactingFilter([configured])
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        "POST https://api.telegram.org/bot%s/getMe with %s",
        (FAKE_TOKEN, configured),
        None,
    )

    assert log_filter.filter(record)

    message = record.getMessage()
    assert FAKE_TOKEN not in message
    assert configured not in message
    assert message.count(REDACTED) == 2


def test_log_filter_redacts_tracebacks() -> None:
    log_filter = SecretRedactingFilter()
    try:
        raise RuntimeError(f"failed calling /bot{FAKE_TOKEN}/sendMessage")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "oops", (), sys.exc_info())
    log_filter.filter(record)
    assert record.exc_text is not None
    assert FAKE_TOKEN not in record.exc_text
    assert REDACTED in record.exc_text
