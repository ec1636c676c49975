"""The real ``python -m bot run`` as subprocesses of a test, against the fake servers.

Each process runs through ``tests.fakes.frozen_bot``: its clock starts at a chosen moment
and then ticks (so reminders, deadlines and claims live on that day); the moment is counted
from when the Bots were made (``--since``), so that processes started together read one
clock (the shared send budget needs it). The fakes (Telegram,
Zalo, or both) serve from threads of the test's process (``start_in_thread``), so the test
plays the users' side and waits on the fakes' conditions, never by sleeping. Every process
is killed on the way out, whatever happened, and a failure prints each one's log tail with
the tokens taken out.

    with bot_processes(database_url, tmp_path, zalo=zalo) as bots:
        bot = bots.start(MORNING)
        ...
        bots.stop(bot)  # SIGTERM, a clean exit, a log without a token
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.zalo_api import FakeZalo
from tests.seed_files import REPO_DIR


@dataclass
class BotProcess:
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def reports(self) -> list[dict[str, int]]:
        """The tick's "unit N: <report>" lines (INFO), e.g. {"sent": 160, "duplicate": 140}."""
        found = []
        for line in self.output().splitlines():
            match = re.search(r"scheduler\.jobs: unit \d+: Nhắc việc ngày [\d/]+: (.*)$", line)
            if match:
                found.append({k: int(n) for k, n in re.findall(r"(\w+): (\d+)", match[1])})
        return found


def channel_env(*, tg: FakeTelegram | None = None, zalo: FakeZalo | None = None) -> dict[str, str]:
    """The settings that point the bot at the fakes given (and only at them)."""
    env: dict[str, str] = {}
    if tg is not None:
        env |= {
            "TELEGRAM_BOT_TOKEN": tg.token,
            "TELEGRAM_API_BASE_URL": tg.base_url,
            "TELEGRAM_FILE_BASE_URL": tg.base_file_url,
        }
    if zalo is not None:
        env |= {"ZALO_BOT_TOKEN": zalo.token, "ZALO_API_BASE_URL": zalo.base_url}
    return env


class Bots:
    """Bot subprocesses on one database, each on a frozen-then-ticking clock."""

    def __init__(
        self,
        database_url: str,
        tmp_path: Path,
        *,
        tg: FakeTelegram | None = None,
        zalo: FakeZalo | None = None,
        **settings: str,
    ) -> None:
        self.tmp_path = tmp_path
        self.tg, self.zalo = tg, zalo
        self.tokens = [fake.token for fake in (tg, zalo) if fake is not None]
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.upper().startswith(("TELEGRAM_", "ZALO_"))  # only the fakes given
        } | {
            "DATABASE_URL": database_url,
            "EVIDENCE_DIR": str(tmp_path / "evidence"),
            "REMINDER_TIME": "07:30",
            "CLAIM_TIMEOUT_SECONDS": "300",
            "PYTHONPATH": str(REPO_DIR),
            **channel_env(tg=tg, zalo=zalo),
            **settings,
        }
        self.started: list[BotProcess] = []
        self.since = time.time()

    def start(self, at: datetime) -> BotProcess:
        log = self.tmp_path / f"bot-{len(self.started)}.log"
        command = [sys.executable, "-m", "tests.fakes.frozen_bot", "--at", at.isoformat()]
        command += ["--since", repr(self.since)]
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*command, "--", "--log-level", "INFO", "run"],
                cwd=REPO_DIR,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        bot = BotProcess(process, log)
        self.started.append(bot)
        return bot

    def stop(self, bot: BotProcess) -> str:
        """SIGTERM, a clean exit (it waits for a tick in progress), and a log without a token."""
        bot.process.terminate()
        code = bot.process.wait(timeout=30)
        output = bot.output()
        assert code == 0, output[-3000:]
        assert not [token for token in self.tokens if token in output]
        return output

    def kill_all(self) -> None:
        for bot in self.started:
            if bot.process.poll() is None:
                bot.process.kill()
                bot.process.wait(timeout=10)

    def print_logs(self) -> None:
        """Each process's log tail, token-free, for a failure report."""
        for number, bot in enumerate(self.started):
            tail = bot.output()[-4000:]
            for token in self.tokens:
                tail = tail.replace(token, "[TOKEN]")
            print(f"--- bot {number} (exit {bot.process.poll()}):\n{tail}")


@contextmanager
def bot_processes(
    database_url: str,
    tmp_path: Path,
    *,
    tg: FakeTelegram | None = None,
    zalo: FakeZalo | None = None,
    **settings: str,
) -> Iterator[Bots]:
    """Bots against the fakes given, which serve from threads for as long as this lasts."""
    fakes = [fake for fake in (tg, zalo) if fake is not None]
    for fake in fakes:
        fake.start_in_thread()
    bots = Bots(database_url, tmp_path, tg=tg, zalo=zalo, **settings)
    try:
        yield bots
    except BaseException:
        bots.print_logs()
        raise
    finally:
        bots.kill_all()
        for fake in fakes:
            fake.stop()
