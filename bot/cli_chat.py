"""``python -m bot chat``: talk to dondoc in the terminal, with no token and no network.

The local channel (channels.local) in front of the real conversation: the same routing,
features and database as the bot (SQLite by default), so what the shell records the bot,
the web dashboard and the summaries see. Choices are numbered, as on Zalo.

* ``--as NAME`` plays that officer (their "local" account is linked on first use); a name
  nobody has plays a stranger, who gets the stranger's answer.
* ``--demo`` first makes the demo unit (core.demo) unless it exists, then plays its
  coordinator; with ``--as`` another of its people.
* ``/file PATH [caption]`` sends a file from the disk, as evidence or a plan.
* Lines come from the keyboard or a pipe (``printf '/viec\\n1\\n50\\n' | python -m bot chat
  --demo``); each answer is printed, files the bot sends are written to a folder of their own.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli import CommandError
from bot.database import open_database
from bot.settings import Settings
from channels.local import LOCAL, LocalChannel, typed_event
from core.accounts import link_account, officer_accounts
from core.demo import COORDINATOR, DEMO_UNIT, ensure_demo_unit
from core.text import fold
from handlers.base import AppState
from storage.models import Officer, Unit

ACTOR = "cli:chat"
PROMPT = "> "


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    chat = subparsers.add_parser(
        "chat",
        help="trò chuyện với bot ngay trong cửa sổ lệnh (không cần Telegram hay Zalo)",
        description="Gõ lệnh như trong ứng dụng chat; chọn bằng số. "
        "«/file ĐƯỜNG_DẪN [chú thích]» gửi một tệp. Ctrl-D để thoát.",
    )
    chat.add_argument("--as", dest="as_name", metavar="TÊN", help="đóng vai cán bộ có tên này")
    chat.add_argument(
        "--demo",
        action="store_true",
        help=f"tạo đơn vị minh họa «{DEMO_UNIT}» nếu chưa có, rồi đóng vai điều phối viên",
    )
    chat.set_defaults(handler=chat_command)


@dataclass(frozen=True)
class Player:
    user_id: str  # the local account's id
    name: str
    officer: bool  # False: a stranger


async def chat_command(args: argparse.Namespace, settings: Settings) -> int:
    engine, sessions = await open_database(settings)
    try:
        async with sessions() as session, session.begin():
            unit = None
            if args.demo:
                year = datetime.now(settings.tz).year
                unit, created = await ensure_demo_unit(session, year=year, actor=ACTOR)
                if created:
                    note(f"Đã tạo đơn vị minh họa «{DEMO_UNIT}».")
            name = args.as_name or (COORDINATOR if args.demo else None)
            player = await play(session, name, unit)
        interactive = sys.stdin.isatty()
        if interactive or not player.officer:
            note(f"Bạn là {player.name}. Gõ /help để xem hướng dẫn, Ctrl-D để thoát.")
        shell = Shell(AppState(settings=settings, sessions=sessions), player, sys.stdout)
        await shell.run(sys.stdin, prompt=PROMPT if interactive else "")
    finally:
        await engine.dispose()
    return 0


def note(text: str) -> None:
    """What the shell says about itself, apart from the bot's answers (stderr)."""
    print(text, file=sys.stderr)


async def play(session: AsyncSession, name: str | None, unit: Unit | None) -> Player:
    """Who the shell plays: the officer named (their local account), else a new stranger."""
    officer = await _officer_named(session, name, unit) if name else None
    if officer is None:
        if name:
            note(f"Không có cán bộ nào tên «{name}»: bạn đóng vai người lạ.")
        return Player(f"khach-{secrets.token_hex(4)}", "người lạ", officer=False)
    return Player(await local_account(session, officer), officer.name, officer=True)


async def _officer_named(session: AsyncSession, name: str, unit: Unit | None) -> Officer | None:
    query = select(Officer).where(Officer.name_key == fold(name), Officer.active.is_(True))
    if unit is not None:
        query = query.where(Officer.unit_id == unit.id)
    found = list((await session.scalars(query.order_by(Officer.id))).all())
    if len(found) > 1:
        units = await session.scalars(
            select(Unit.name).where(Unit.id.in_(o.unit_id for o in found))
        )
        raise CommandError(
            f"Có {len(found)} cán bộ tên «{name}» ({', '.join(units)}); "
            "dùng --demo hoặc đổi tên cho khác nhau."
        )
    return found[0] if found else None


async def local_account(session: AsyncSession, officer: Officer) -> str:
    """The officer's account on the local channel, linked the first time they are played."""
    for account in await officer_accounts(session, officer_id=officer.id):
        if account.channel == LOCAL:
            return account.external_id
    account = await link_account(
        session, channel=LOCAL, external_id=f"canbo-{officer.id}", officer=officer, actor=ACTOR
    )
    return account.external_id


@dataclass
class PrintSink:
    """The terminal: each message, then a blank line; files go to a folder of their own."""

    out: TextIO
    folder: Path | None = None
    _ids: int = 0

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    async def send_text(self, chat_id: str, text: str) -> int | None:
        self.out.write(f"{text}\n\n")
        self.out.flush()
        return self._next_id()

    async def send_file(
        self, chat_id: str, name: str, content: bytes | Path, *, caption: str | None, photo: bool
    ) -> int | None:
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="dondoc-chat-"))
        target = self.folder / Path(name).name
        if isinstance(content, Path):
            await asyncio.to_thread(shutil.copyfile, content, target)
        else:
            await asyncio.to_thread(target.write_bytes, content)
        self.out.write(f"[tệp: {target}]\n" + (f"{caption}\n" if caption else "") + "\n")
        self.out.flush()
        return self._next_id()


@dataclass
class Shell:
    app: AppState
    player: Player
    out: TextIO
    sink: PrintSink = field(init=False)
    channel: LocalChannel = field(init=False)
    _last_event: int = 0

    def __post_init__(self) -> None:
        self.sink = PrintSink(self.out)
        self.channel = LocalChannel(app=self.app, sink=self.sink)

    async def run(self, lines: TextIO, *, prompt: str = "") -> None:
        while True:
            if prompt:
                self.out.write(prompt)
                self.out.flush()
            line = await asyncio.to_thread(lines.readline)
            if not line:
                return
            if line.strip():
                await self.say(line.strip())

    def _event_id(self) -> str:
        """Unique across runs on the same database (events are deduplicated by id)."""
        self._last_event = max(self._last_event + 1, time.time_ns())
        return str(self._last_event)

    async def say(self, line: str) -> None:
        try:
            event = typed_event(
                line,
                channel=LOCAL,
                user_id=self.player.user_id,
                display_name=self.player.name,
                event_id=self._event_id(),
            )
        except FileNotFoundError:
            self.out.write("Không tìm thấy tệp. Cách dùng: /file ĐƯỜNG_DẪN [chú thích]\n\n")
            return
        await self.channel.handle(event)
