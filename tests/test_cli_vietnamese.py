"""The command line speaks Vietnamese, argparse's own words included (bot.cli_vietnamese)."""

from __future__ import annotations

import pytest

from bot.cli import main
from bot.cli_vietnamese import MESSAGES


def test_help_and_usage_errors_are_in_vietnamese(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chat", "--help"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("cách dùng: python -m bot chat")
    assert "tùy chọn:" in shown and "hiện hướng dẫn này rồi thoát" in shown
    assert "usage" not in shown and "options" not in shown

    assert main(["--dmeo"]) != 0
    assert capsys.readouterr().err.endswith("python -m bot: lỗi: không hiểu: --dmeo\n")
    assert main(["chat", "--as"]) != 0
    assert "lỗi: tham số --as: cần đúng một giá trị" in capsys.readouterr().err


def test_every_translation_keeps_the_placeholders_of_its_message() -> None:
    for english, vietnamese in MESSAGES.items():
        for mark in ("%(prog)s", "%(message)s", "%(value)r", "%(choices)s", "%s", "%r"):
            assert english.count(mark) == vietnamese.count(mark), english
