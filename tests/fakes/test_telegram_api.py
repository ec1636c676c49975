"""The fake Telegram server, driven by the real python-telegram-bot over real HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    filters,
)

from tests.fakes.telegram_api import BOT_USERNAME, TINY_PNG, FakeTelegram, FloodLimits

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def retry_after_as_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22 warns when RetryAfter.retry_after is an int; opt in to the timedelta form."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


def make_bot(tg: FakeTelegram) -> Bot:
    return Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url)


def make_app(tg: FakeTelegram) -> Application[Any, Any, Any, Any, Any, Any]:
    return (
        ApplicationBuilder()
        .token(tg.token)
        .base_url(tg.base_url)
        .base_file_url(tg.base_file_url)
        .build()
    )


def post_json(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        result: dict[str, Any] = json.load(response)
        return result


# --------------------------------------------------------------------------- 1. polling


async def test_polling_app_answers_start_and_button(tg: FakeTelegram) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Đồng ý", callback_data="ok")]])
        await update.effective_message.reply_text("xin chào", reply_markup=keyboard)

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Đã ghi nhận")
        await query.edit_message_text(f"Bạn đã chọn: {query.data}")

    app = make_app(tg)
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(on_button))
    await app.initialize()
    await app.start()
    try:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        lan = tg.user(42, "Lan", username="lan_vp")
        await tg.send_text(lan, "/start")

        reply = await tg.wait_for(lambda m: m.chat_id == 42)
        assert reply.text == "xin chào"
        assert reply.buttons == [{"text": "Đồng ý", "callback_data": "ok"}]

        await tg.press_button(lan, reply.message_id, "ok")
        edited = await tg.wait_for(lambda m: m.text == "Bạn đã chọn: ok")
        assert edited is reply  # edited in place, not a new message
        assert edited.reply_markup is None  # an edit without markup drops the keyboard
        assert [(e.before_text, e.after_text) for e in tg.edits] == [
            ("xin chào", "Bạn đã chọn: ok")
        ]
        answers = tg.calls("answerCallbackQuery")
        assert [(a.params["text"], a.status) for a in answers] == [("Đã ghi nhận", 200)]
        assert tg.messages_to(42) == ["Bạn đã chọn: ok"]
    finally:
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
    # Stopping the updater confirms what it fetched, as with Telegram.
    assert tg.pending_update_count == 0
    assert tg.calls("getMe")[0].status == 200


# --------------------------------------------------------------------------- 2. no polling


async def test_process_update_downloads_photo_and_replies_with_document(tg: FakeTelegram) -> None:
    photo_bytes = TINY_PNG + b"minh-chung-1"

    async def on_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.photo
        file = await message.photo[-1].get_file()
        data = bytes(await file.download_as_bytearray())
        await message.reply_document(data, filename="lai.png", caption=f"{len(data)} byte")

    app = make_app(tg)
    app.add_handler(MessageHandler(filters.PHOTO, on_photo))
    async with app:
        update_id = await tg.send_photo(
            7, caption="minh chứng 1.1", sizes=3, file_bytes=photo_bytes
        )
        update = Update.de_json(tg.update(update_id), app.bot)
        assert update is not None and update.message is not None
        sizes = update.message.photo
        assert [s.width for s in sizes] == sorted(s.width for s in sizes) and len(sizes) == 3
        assert len({s.file_unique_id for s in sizes}) == 1
        assert len({s.file_id for s in sizes}) == 3
        await app.process_update(update)

    reply = tg.last(7)
    assert reply.method == "sendDocument"
    assert reply.file_bytes == photo_bytes
    assert reply.caption == f"{len(photo_bytes)} byte"
    assert reply.document is not None and reply.document["file_name"] == "lai.png"


async def test_bot_send_methods_and_file_round_trip(tg: FakeTelegram) -> None:
    report = b"PK\x03\x04 pretend xlsx " * 100
    async with make_bot(tg) as bot:
        first = await bot.send_message(5, "<b>Tổng hợp</b> tuần", parse_mode=ParseMode.HTML)
        second = await bot.send_message(5, "lần hai")
        assert (first.message_id, second.message_id) == (1, 2)  # per chat, increasing
        assert first.text == "Tổng hợp tuần"  # Telegram returns the visible text

        photo = await bot.send_photo(5, TINY_PNG, caption="biểu đồ")
        photo_file = await bot.get_file(photo.photo[-1].file_id)
        assert bytes(await photo_file.download_as_bytearray()) == TINY_PNG

        sent = await bot.send_document(5, report, filename="tong-hop.xlsx")
        assert sent.document is not None
        doc_file = await bot.get_file(sent.document.file_id)
        assert bytes(await doc_file.download_as_bytearray()) == report
        assert doc_file.file_size == len(report)

        with pytest.raises(BadRequest, match="Invalid file_id"):
            await bot.get_file("no-such-file")

    assert [m.method for m in tg.sent(5)] == [
        "sendMessage",
        "sendMessage",
        "sendPhoto",
        "sendDocument",
    ]
    assert tg.sent(5)[0].text == "<b>Tổng hợp</b> tuần"  # the record keeps the markup
    async with httpx.AsyncClient() as client:
        missing = await client.get(f"{tg.base_file_url}{tg.token}/documents/nope.pdf")
    assert missing.status_code == 404


async def test_document_over_20_mb_cannot_be_downloaded(tg: FakeTelegram) -> None:
    update_id = await tg.send_document(
        9, b"%PDF-1.4 small", "ke-hoach.pdf", "application/pdf", file_size=25 * 1024 * 1024
    )
    document = tg.update(update_id)["message"]["document"]
    assert document["file_size"] == 25 * 1024 * 1024
    async with make_bot(tg) as bot:
        with pytest.raises(BadRequest, match="File is too big"):
            await bot.get_file(document["file_id"])


# --------------------------------------------------------------------------- 3. 429


async def test_forced_429_is_retried_by_the_rate_limiter(tg: FakeTelegram) -> None:
    tg.force_429(1, retry_after=1)
    bot = ExtBot(
        tg.token,
        base_url=tg.base_url,
        base_file_url=tg.base_file_url,
        rate_limiter=AIORateLimiter(max_retries=2),
    )
    async with bot:
        await bot.send_message(3, "nhắc việc")
    assert tg.messages_to(3) == ["nhắc việc"]  # arrived once
    assert [r.status for r in tg.calls("sendMessage")] == [429, 200]
    assert tg.stats.too_many_requests == 1 and tg.stats.sent == 1


async def test_429_without_rate_limiter_raises_retry_after(tg: FakeTelegram) -> None:
    tg.force_429(1, retry_after=7)
    async with make_bot(tg) as bot:
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(3, "nhắc việc")
        assert caught.value.retry_after == dtm.timedelta(seconds=7)
        await bot.send_message(3, "lần sau")  # only one was forced
    assert tg.messages_to(3) == ["lần sau"]


# --------------------------------------------------------------------------- 4. 403 and 400


async def test_blocked_chat_is_forbidden_and_bad_requests_are_refused(tg: FakeTelegram) -> None:
    tg.block(11)
    async with make_bot(tg) as bot:
        with pytest.raises(Forbidden, match="Forbidden: bot was blocked by the user"):
            await bot.send_message(11, "nhắc việc")
        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.send_message(12, "x" * 4097)
        await bot.send_message(12, "x" * 4096)  # the limit itself is fine
        with pytest.raises(BadRequest, match="caption is too long"):
            await bot.send_photo(12, TINY_PNG, caption="y" * 1025)
        with pytest.raises(BadRequest, match="Can't parse entities"):
            await bot.send_message(12, "tiến độ <50%", parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match="Message to edit not found"):
            await bot.edit_message_text("mới", chat_id=12, message_id=99)
        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_text("x" * 4096, chat_id=12, message_id=1)
        with pytest.raises(BadRequest, match="Button_data_invalid"):
            too_long = InlineKeyboardButton("Nút", callback_data="đ" * 33)  # 66 bytes
            await bot.send_message(12, "chọn", reply_markup=InlineKeyboardMarkup([[too_long]]))
    assert tg.messages_to(11) == []
    assert tg.messages_to(12) == ["x" * 4096]
    assert tg.stats.forbidden == 1 and tg.stats.bad_requests == 6


async def test_wrong_token_is_unauthorized_and_transient_errors_can_be_injected(
    tg: FakeTelegram,
) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{tg.base_url}999:wrong/getMe")
    assert response.status_code == 401
    assert response.json() == {
        "ok": False,
        "error_code": 401,
        "description": "Unauthorized",
    }

    tg.fail_next(1, status=502)
    async with make_bot(tg) as bot:
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(4, "một")
        await bot.send_message(4, "hai")
    assert tg.messages_to(4) == ["hai"] and tg.stats.server_errors == 1


# --------------------------------------------------------------------------- 5. flood limits


async def test_flood_limits_with_a_fake_clock() -> None:
    now = [1000.0]
    async with (
        FakeTelegram(flood=FloodLimits(), clock=lambda: now[0]) as tg,
        make_bot(tg) as bot,
    ):
        refused = 0
        for chat_id in range(1, 32):  # 31 chats, all in the same instant
            try:
                await bot.send_message(chat_id, "nhắc việc")
            except RetryAfter:
                refused += 1
        assert refused == 1 and tg.stats.too_many_requests == 1
        assert tg.stats.sent == 30 and tg.messages_to(31) == []

        now[0] += 1.0  # the window has slid past the burst
        await bot.send_message(100, "một")
        with pytest.raises(RetryAfter):
            await bot.send_message(100, "hai")  # same chat, same instant
        assert tg.stats.too_many_requests == 2
        assert tg.messages_to(100) == ["một"]


# --------------------------------------------------------------------------- 6. duplicates


async def test_redeliver_returns_the_same_update_again(tg: FakeTelegram) -> None:
    async with make_bot(tg) as bot:
        update_id = await tg.send_text(8, "/tiendo 1.1 50")
        first = await bot.get_updates(timeout=0)
        assert [u.update_id for u in first] == [update_id]
        assert first[0].message is not None
        assert first[0].message.entities[0].type == "bot_command"
        # Confirming the offset empties the queue...
        assert await bot.get_updates(offset=update_id + 1, timeout=0) == ()
        # ...but a redelivered update comes back whatever the offset.
        await tg.redeliver(update_id)
        again = await bot.get_updates(offset=update_id + 1, timeout=0)
        assert [u.update_id for u in again] == [update_id]
        assert again[0].message is not None and again[0].message.text == "/tiendo 1.1 50"
        assert await bot.get_updates(offset=update_id + 1, timeout=0) == ()


async def test_long_poll_wakes_up_when_an_update_arrives(tg: FakeTelegram) -> None:
    """A 30 s getUpdates already waiting on the server returns as soon as an update comes."""
    async with make_bot(tg) as bot:
        poll = asyncio.create_task(bot.get_updates(timeout=30, read_timeout=35))
        await tg.wait_for_request("getUpdates", finished=False)  # the poll is on the server
        update_id = await tg.send_text(8, "chào")
        updates = await asyncio.wait_for(poll, timeout=5)
        assert [u.update_id for u in updates] == [update_id]


# --------------------------------------------------------------------------- commands


async def test_commands_are_recorded_per_scope_and_language(tg: FakeTelegram) -> None:
    async with make_bot(tg) as bot:
        await bot.set_my_commands([BotCommand("start", "Bắt đầu")])
        await bot.set_my_commands(
            [BotCommand("tonghop", "Tổng hợp")], scope=BotCommandScopeChat(99), language_code="vi"
        )
        assert [c.command for c in await bot.get_my_commands()] == ["start"]
        with pytest.raises(BadRequest, match="Bot_command_invalid"):
            await bot.set_my_commands([BotCommand("TongHop", "viết hoa")])
        await bot.delete_my_commands()
        assert await bot.get_my_commands() == ()
    assert [c["command"] for c in tg.commands_for({"type": "chat", "chat_id": 99}, "vi")] == [
        "tonghop"
    ]
    assert tg.commands_for() == []


# --------------------------------------------------------------------------- 7. thread mode


def test_thread_mode_serves_synchronous_clients_and_frees_the_port() -> None:
    tg = FakeTelegram()
    url = tg.start_in_thread()
    try:
        with urllib.request.urlopen(f"{url}/bot{tg.token}/getMe", timeout=5) as response:
            me = json.load(response)
        assert me["ok"] is True and me["result"]["username"] == BOT_USERNAME
        update_id = tg.submit(tg.send_text(5, "/start"))
        got = post_json(f"{url}/bot{tg.token}/getUpdates", {"timeout": 0})
        assert [u["update_id"] for u in got["result"]] == [update_id]
    finally:
        tg.stop()
    port = int(url.rsplit(":", 1)[1])
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", port))
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))


async def test_thread_mode_helpers_can_be_awaited_from_the_test_loop() -> None:
    """A benchmark's shape: the server has its own thread and loop, the bot and the test
    share another; awaited helpers hop onto the server's loop."""
    tg = FakeTelegram()
    tg.start_in_thread()
    try:
        async with make_bot(tg) as bot:
            update_id = await tg.send_text(6, "/start")
            updates = await bot.get_updates(timeout=0)
            assert [u.update_id for u in updates] == [update_id]
            await bot.send_message(6, "xin chào")
            reply = await tg.wait_for(lambda m: m.chat_id == 6, timeout=5)
            assert reply.text == "xin chào"
    finally:
        tg.stop()


def test_command_line_mode_journals_everything(tmp_path: Path) -> None:
    journal = tmp_path / "telegram.jsonl"
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.telegram_api", "--port", "0", "--state", journal],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        api = f"{url}/bot123456789:TEST-dondoc-fake-token"
        injected = post_json(f"{url}/_fake/send_text", {"user": 21, "text": "/start"})
        updates = post_json(f"{api}/getUpdates", {"timeout": 0})["result"]
        assert [u["update_id"] for u in updates] == [injected["result"]]
        post_json(f"{api}/sendMessage", {"chat_id": 21, "text": "xin chào"})
    finally:
        server.kill()
        server.wait(timeout=5)
    events = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    kinds = [e["kind"] for e in events]
    assert kinds == ["update", "request", "message", "request"]
    assert events[2]["chat_id"] == 21 and events[2]["text"] == "xin chào"
