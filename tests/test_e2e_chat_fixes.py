"""Chat-side fixes of issues 19 and 20, end to end over the fake Bot API: private chats only,
strangers' albums, odd numbers and button answers, /hoantac, /vaitro and /moi with a role."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.settings import Settings
from channels.telegram_app import STATE_KEY
from core import evidence_pack
from handlers import admin, evidence, tasks
from storage.models import (
    AuditLog,
    Criterion,
    Evidence,
    Invite,
    Officer,
    ProcessedUpdate,
    ProgressUpdate,
)
from tests.e2e import BotUnderTest, running_bot
from tests.e2e_support import (
    button_data,
    count,
    criterion_id,
    press,
    press_data,
    say,
    seed_officer,
    seed_unit,
)
from tests.fakes.telegram_api import TINY_PNG
from tests.seed_files import PHUONG6, TANDUC, seed_bytes

ADMIN = 1000
LAN = 3001
STRANGER = 7777
GROUP = -100500
GATE_SAFETY_SECONDS = 30  # only reached when waiting photos hold up the bot (the failure)


@pytest.fixture
async def bot(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[BotUnderTest]:
    async with running_bot(settings, session_factory, admin_telegram_ids=[ADMIN]) as running:
        yield running


@pytest.fixture
async def unit_id(bot: BotUnderTest) -> int:
    unit = await seed_unit(bot, TANDUC, "Xã Tân Đức")
    await seed_officer(bot, unit, "Quản trị", roles=("admin",), telegram_id=ADMIN)
    await seed_officer(bot, unit, "Nguyễn Thị Lan", ["VPTK"], telegram_id=LAN)
    return unit


# --- private chats only ----------------------------------------------------------------------


async def test_in_a_group_the_bot_says_one_line_and_does_nothing(
    bot: BotUnderTest, unit_id: int
) -> None:
    mark = bot.tg.checkpoint()
    await bot.tg.send_text(LAN, "/viec", chat_id=GROUP)
    first = await bot.tg.wait_for(lambda m: m.chat_id == GROUP, after=mark)
    await bot.tg.send_text(ADMIN, "/moi VPTK Trần Văn Bình", chat_id=GROUP)
    second = await bot.tg.wait_for(lambda m: m.chat_id == GROUP, after=first.seq)
    await bot.tg.send_text(LAN, "chào cả nhóm", chat_id=GROUP)  # chatter: no answer
    await bot.tg.send_photo(LAN, caption="1.5 bảng tin", chat_id=GROUP)
    third = await bot.tg.wait_for(lambda m: m.chat_id == GROUP, after=second.seq)

    assert [first.content, second.content, third.content] == [texts.PRIVATE_ONLY] * 3
    assert first.buttons == [] and second.buttons == []
    assert await count(bot, Invite) == 0
    assert await count(bot, Officer, Officer.name == "Trần Văn Bình") == 0
    assert await count(bot, Evidence) == 0
    assert await count(bot, ProcessedUpdate) == 0  # not even the claim
    assert bot.tg.calls("getFile") == []
    # The same officer in their private chat is answered as usual.
    private = await say(bot, LAN, "/viec")
    assert private.content != texts.PRIVATE_ONLY
    assert len(bot.tg.sent(GROUP)) == 3  # the chatter got nothing


# --- a stranger cannot stall everyone --------------------------------------------------------


async def _help_answered_meanwhile(bot: BotUnderTest, sender: int, photos: int) -> str:
    """``sender`` sends caption-less photos, each its own album; then Lan asks /help."""
    mark = bot.tg.checkpoint()
    for n in range(photos):
        photo = TINY_PNG + bytes([n % 256])
        await bot.tg.send_photo(sender, file_bytes=photo, media_group_id=f"g{n}")
    await bot.tg.send_text(LAN, "/help")
    answer = await bot.tg.wait_for(
        lambda m: m.chat_id == LAN, timeout=GATE_SAFETY_SECONDS, after=mark
    )
    # Let any photo still waiting for its album's caption go on (the test is over).
    for slot in bot.app.bot_data[STATE_KEY].albums.values():
        slot.decided.set()
    return answer.content


async def test_a_strangers_hundred_albums_do_not_hold_up_an_officers_help(
    bot: BotUnderTest, unit_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Waiting photos would hold the bot's workers past the test's patience: the failure.
    monkeypatch.setattr(evidence, "ALBUM_WAIT_SECONDS", GATE_SAFETY_SECONDS * 2)
    answer = await _help_answered_meanwhile(bot, STRANGER, 100)
    assert texts.HELP_TITLE in answer
    refusal = await bot.tg.wait_for(lambda m: m.chat_id == STRANGER)
    assert refusal.content == texts.STRANGER
    assert bot.tg.calls("getFile") == []  # nothing downloaded for a stranger
    assert bot.app.bot_data[STATE_KEY].albums == {}  # nor any album wait begun


async def test_one_officer_holds_at_most_a_few_albums_waiting(
    bot: BotUnderTest, unit_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(evidence, "ALBUM_WAIT_SECONDS", GATE_SAFETY_SECONDS * 2)
    answer = await _help_answered_meanwhile(bot, ADMIN, 40)  # more than the bot's workers
    assert texts.HELP_TITLE in answer


# --- odd numbers, and every press answered ---------------------------------------------------


async def test_odd_numbers_get_a_clear_message(bot: BotUnderTest, unit_id: int) -> None:
    assert (await say(bot, LAN, "/capnhat 1.5 ²")).content == texts.BAD_PERCENT
    assert (await say(bot, LAN, "/hoanlai 1.5 ٣")).content == texts.SNOOZE_USAGE
    too_big = await say(bot, ADMIN, "/xuat 99999999999999999999999")
    assert too_big.content == texts.EXPORT_USAGE
    assert (await say(bot, ADMIN, "/xuat ²⁰²⁴")).content == texts.EXPORT_USAGE
    assert await count(bot, ProgressUpdate) == 0

    for data in ("C:99999999999999999999:0", "C:²:0", "P:99999999999999999999:50:0"):
        card = await say(bot, LAN, "/viec")
        mark = bot.tg.checkpoint()
        await bot.tg.press_button(LAN, card.message_id, data, strict=False)
        await bot.tg.wait_for_request("answerCallbackQuery", after=mark)
        edited = await bot.tg.wait_for(lambda m: m.chat_id == LAN, after=mark)
        assert edited.content == texts.ITEM_GONE
    assert await count(bot, ProgressUpdate) == 0


async def test_a_press_is_answered_even_when_the_feature_fails(
    bot: BotUnderTest, unit_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = await criterion_id(bot, unit_id, "PAR", "1.5")
    card = await say(bot, LAN, "/viec")

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a defect")

    monkeypatch.setattr(tasks, "card_reply", broken)
    error = await press_data(bot, LAN, card.message_id, f"C:{item}:0", strict=False)
    assert error.content == texts.ERROR
    [answered] = [
        r for r in bot.tg.calls("answerCallbackQuery") if r.status == 200
    ]  # the spinner stopped, once
    assert answered.params.get("text") in (None, "")


# --- /hoantac --------------------------------------------------------------------------------


async def test_undo_takes_back_my_last_report_then_my_last_file(
    bot: BotUnderTest, unit_id: int
) -> None:
    item = await criterion_id(bot, unit_id, "PAR", "1.5")
    await say(bot, LAN, "/capnhat 1.5 50")
    mark = bot.tg.checkpoint()
    await bot.tg.send_photo(LAN, caption="1.5 bảng tin")
    await bot.tg.wait_for(lambda m: m.chat_id == LAN, after=mark)

    file_back = await say(bot, LAN, "/hoantac")
    assert file_back.content.startswith("Đã hoàn tác tệp minh chứng")
    assert "PAR 1.5" in file_back.content
    report_back = await say(bot, LAN, "/undo")
    assert report_back.content == texts.undone_progress(
        "PAR 1.5", 50, "in_progress", 0, "not_started"
    )
    assert (await say(bot, LAN, "/hoantac")).content == texts.UNDO_NOTHING

    async with bot.sessions() as session:
        [row] = (await session.scalars(select(Evidence).where(Evidence.criterion_id == item))).all()
        assert row.withdrawn_at is not None  # kept, marked withdrawn
        assert (bot.settings.evidence_dir / row.storage_path).exists()
    assert await count(bot, AuditLog, AuditLog.action == "evidence.withdraw") == 1
    assert await count(bot, AuditLog, AuditLog.action == "progress.withdraw") == 1


async def test_undo_only_within_ten_minutes(bot: BotUnderTest, unit_id: int) -> None:
    await say(bot, LAN, "/capnhat 1.5 75")
    bot.clock.set(bot.clock.now + timedelta(minutes=11))
    assert (await say(bot, LAN, "/hoantac")).content == texts.UNDO_NOTHING
    assert await count(bot, ProgressUpdate, ProgressUpdate.withdrawn_at.is_not(None)) == 0


# --- /vaitro and /moi with a role ------------------------------------------------------------


async def _roles(bot: BotUnderTest, name: str) -> list[str]:
    async with bot.sessions() as session:
        officer = await session.scalar(select(Officer).where(Officer.name == name))
        assert officer is not None
        return list(officer.roles or ())


async def test_an_admin_changes_roles_in_chat(bot: BotUnderTest, unit_id: int) -> None:
    changed = await say(bot, ADMIN, "/vaitro Nguyễn Thị Lan đầu mối; lãnh đạo")
    assert changed.content == texts.roles_changed("Nguyễn Thị Lan", ["coordinator", "leader"])
    assert await _roles(bot, "Nguyễn Thị Lan") == ["coordinator", "leader"]
    assert await count(bot, AuditLog, AuditLog.action == "officer.roles") == 1
    # "chủ tịch" at the end of /vaitro can only be the leader role.
    await say(bot, ADMIN, "/role Lan chủ tịch")
    assert await _roles(bot, "Nguyễn Thị Lan") == ["leader"]

    assert (await say(bot, ADMIN, "/vaitro Nguyễn Thị Lan")).content == texts.ROLE_USAGE
    assert (await say(bot, ADMIN, "/vaitro Ai Đó quản trị")).content == texts.officer_not_found(
        "Ai Đó"
    )
    refused = await say(bot, ADMIN, "/vaitro Quản trị cán bộ")
    assert refused.content == "Bạn không thể tự bỏ vai trò quản trị của mình."
    not_admin = await say(bot, LAN, "/vaitro Nguyễn Thị Lan quản trị")
    assert not_admin.content == texts.NOT_ALLOWED
    assert await _roles(bot, "Nguyễn Thị Lan") == ["leader"]
    assert await count(bot, AuditLog, AuditLog.action == "officer.roles") == 2


async def test_invite_takes_a_role_after_the_position(bot: BotUnderTest, unit_id: int) -> None:
    invited = await say(bot, ADMIN, "/moi VPTK lãnh đạo Nguyễn Văn Hùng")
    assert "Nguyễn Văn Hùng" in invited.content and "t.me/" in invited.content
    assert await _roles(bot, "Nguyễn Văn Hùng") == ["leader"]

    plain = await say(bot, ADMIN, "/moi VHXH Lê Thị Mai")
    assert "Lê Thị Mai" in plain.content
    assert await _roles(bot, "Lê Thị Mai") == ["officer"]

    # "Chủ tịch" is a position's alias as well as a leader word: never guessed here.
    ambiguous = await say(bot, ADMIN, "/moi VPTK Chủ tịch Nguyễn Văn Hùng")
    assert ambiguous.content == texts.INVITE_ROLE_IS_POSITION
    assert await count(bot, Officer, Officer.name.like("Chủ tịch%")) == 0
    assert (await say(bot, ADMIN, "/moi VPTK lãnh đạo")).content == texts.INVITE_USAGE


# --- evidence: the album's caption decides; "Gửi minh chứng" lasts, then ends -----------------

PDF = b"%PDF-1.4\n% bien ban\n%%EOF\n"


async def _ask_evidence(bot: BotUnderTest, code: str) -> None:
    listing = await say(bot, LAN, "/viec")
    card = await press(bot, LAN, listing, f"PAR {code} ")
    asked = await press(bot, LAN, card, texts.EVIDENCE_BUTTON)
    assert texts.ask_evidence(f"PAR {code}") in asked.content


async def _send_photo(bot: BotUnderTest, tag: bytes, **kwargs: object) -> str:
    mark = bot.tg.checkpoint()
    await bot.tg.send_photo(LAN, file_bytes=TINY_PNG + tag, **kwargs)  # type: ignore[arg-type]
    return (await bot.tg.wait_for(lambda m: m.chat_id == LAN, after=mark)).content


async def _evidence_count(bot: BotUnderTest, item: int) -> int:
    return await count(bot, Evidence, Evidence.criterion_id == item)


async def test_an_albums_caption_beats_the_waiting_card(bot: BotUnderTest, unit_id: int) -> None:
    waited = await criterion_id(bot, unit_id, "PAR", "7.1.2")
    named = await criterion_id(bot, unit_id, "PAR", "7.1.1")
    await _ask_evidence(bot, "7.1.2")
    mark = bot.tg.checkpoint()
    await bot.tg.send_photo(
        LAN, caption="7.1.1 album B", file_bytes=TINY_PNG + b"0", media_group_id="B"
    )
    for tag in (b"1", b"2"):
        await bot.tg.send_photo(LAN, file_bytes=TINY_PNG + tag, media_group_id="B")
    final = texts.evidence_saved("PAR 7.1.1", 3, 0, 3)
    await bot.tg.wait_for(lambda m: m.chat_id == LAN and m.content == final, after=mark)
    assert await _evidence_count(bot, named) == 3
    assert await _evidence_count(bot, waited) == 0
    said = [m.content for m in bot.tg.sent(LAN) if m.seq > mark]
    assert all("7.1.2" not in text for text in said)


async def test_send_evidence_takes_several_files_and_ends_on_a_refused_one(
    bot: BotUnderTest, unit_id: int
) -> None:
    item = await criterion_id(bot, unit_id, "PAR", "7.1.2")
    await _ask_evidence(bot, "7.1.2")
    for n, tag in enumerate((b"a", b"b", b"c"), start=1):
        assert await _send_photo(bot, tag) == texts.evidence_saved("PAR 7.1.2", 1, 0, n)
    mark = bot.tg.checkpoint()
    await bot.tg.send_document(LAN, PDF, "to.pdf", "application/pdf", file_size=25 * 1024 * 1024)
    refused = await bot.tg.wait_for(lambda m: m.chat_id == LAN, after=mark)
    assert refused.content == texts.FILE_TOO_BIG
    assert await _send_photo(bot, b"d") == texts.EVIDENCE_NO_TARGET
    assert await _evidence_count(bot, item) == 3


async def test_send_evidence_ends_with_any_command(bot: BotUnderTest, unit_id: int) -> None:
    item = await criterion_id(bot, unit_id, "PAR", "7.1.2")
    await _ask_evidence(bot, "7.1.2")
    await say(bot, LAN, "/help")
    assert await _send_photo(bot, b"e") == texts.EVIDENCE_NO_TARGET
    assert await _evidence_count(bot, item) == 0


async def test_send_evidence_ends_ten_minutes_after_the_last_file(
    bot: BotUnderTest, unit_id: int
) -> None:
    item = await criterion_id(bot, unit_id, "PAR", "7.1.2")
    start = bot.clock.now
    await _ask_evidence(bot, "7.1.2")
    bot.clock.set(start + timedelta(minutes=9))
    assert await _send_photo(bot, b"f") == texts.evidence_saved("PAR 7.1.2", 1, 0, 1)
    bot.clock.set(start + timedelta(minutes=18))  # 9 minutes after the last file
    assert await _send_photo(bot, b"g") == texts.evidence_saved("PAR 7.1.2", 1, 0, 2)
    bot.clock.set(start + timedelta(minutes=29))  # 11 minutes after it
    assert await _send_photo(bot, b"h") == texts.EVIDENCE_NO_TARGET
    assert await _evidence_count(bot, item) == 2


# --- a plan's parse and a pack's ZIP hold up nobody ------------------------------------------


def _gate(
    monkeypatch: pytest.MonkeyPatch, module: object, name: str
) -> tuple[Any, Any, list[bool]]:
    """Hold ``module.name`` (run in a worker thread) until the test opens the gate."""
    entered, release = threading.Event(), threading.Event()
    opened_by_test: list[bool] = []
    real = getattr(module, name)

    def held(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        opened_by_test.append(release.wait(timeout=GATE_SAFETY_SECONDS))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, held)
    return entered, release, opened_by_test


async def _help_while_held(bot: BotUnderTest, entered: Any, release: Any) -> str:
    assert await asyncio.to_thread(entered.wait, GATE_SAFETY_SECONDS)
    mark = bot.tg.checkpoint()
    await bot.tg.send_text(LAN, "/help")
    answer = await bot.tg.wait_for(
        lambda m: m.chat_id == LAN, timeout=GATE_SAFETY_SECONDS, after=mark
    )
    release.set()
    return answer.content


async def test_help_is_answered_while_a_plan_is_parsed(
    bot: BotUnderTest, unit_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release, opened = _gate(monkeypatch, admin, "parse_plan_file")
    mark = bot.tg.checkpoint()
    await bot.tg.send_document(ADMIN, seed_bytes(TANDUC), TANDUC, "text/plain", caption="/kehoach")
    assert texts.HELP_TITLE in await _help_while_held(bot, entered, release)
    preview = await bot.tg.wait_for(lambda m: m.chat_id == ADMIN, after=mark)
    assert preview.content.startswith(f"Xem trước «{TANDUC}»")
    assert opened == [True]  # /help was answered while the parse was held

    # Confirming parses again, also outside the transaction.
    entered.clear()
    confirm = button_data(preview, texts.CONFIRM)
    mark = bot.tg.checkpoint()
    await bot.tg.press_button(ADMIN, preview.message_id, confirm)
    assert texts.HELP_TITLE in await _help_while_held(bot, entered, release)
    done = await bot.tg.wait_for(lambda m: m.chat_id == ADMIN, after=mark)
    assert done.content.startswith("Đã nhập kế hoạch cho Xã Tân Đức.")
    assert opened == [True, True]


async def test_help_is_answered_while_a_pack_is_zipped(
    bot: BotUnderTest, unit_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release, opened = _gate(monkeypatch, evidence_pack, "write_pack")
    mark = bot.tg.checkpoint()
    await bot.tg.send_text(ADMIN, "/xuat 2024")
    assert texts.HELP_TITLE in await _help_while_held(bot, entered, release)
    ready = await bot.tg.wait_for(lambda m: m.chat_id == ADMIN, after=mark)
    assert ready.content.startswith("Gói minh chứng:")
    assert opened == [True]


# --- /kehoach: another unit's document --------------------------------------------------------


async def test_a_plan_naming_another_unit_is_shown_and_never_filed(
    bot: BotUnderTest, unit_id: int
) -> None:
    mark = bot.tg.checkpoint()
    await bot.tg.send_document(
        ADMIN, seed_bytes(PHUONG6), PHUONG6, "text/plain", caption="/kehoach"
    )
    preview = await bot.tg.wait_for(lambda m: m.chat_id == ADMIN, after=mark)
    assert "không phải «Xã Tân Đức»" in preview.content
    assert texts.PLAN_OTHER_UNIT in preview.content
    assert [b["text"] for b in preview.buttons][:1] == [texts.CANCEL]  # no "Xác nhận"
    plans_before = await count(bot, Criterion)

    # A forged or stale "Xác nhận" is refused with the reason, and nothing is filed.
    token = button_data(preview, texts.CANCEL).split(":")[2]
    refused = await press_data(bot, ADMIN, preview.message_id, f"K:ok:{token}", strict=False)
    assert "không phải «Xã Tân Đức»" in refused.content
    assert texts.PLAN_OTHER_UNIT_REFUSED in refused.content
    assert await count(bot, Criterion) == plans_before


# --- /tonghop: links to the web server when it runs ------------------------------------------


async def test_summary_adds_web_links_when_the_web_server_runs(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    web = {"public_base_url": "https://dondoc.example.vn", "web_secret": SecretStr("s" * 40)}
    async with running_bot(settings, session_factory, admin_telegram_ids=[ADMIN], **web) as running:
        unit = await seed_unit(running, TANDUC, "Xã Tân Đức")
        await seed_officer(running, unit, "Quản trị", roles=("admin",), telegram_id=ADMIN)
        mark = running.tg.checkpoint()
        await running.tg.send_text(ADMIN, "/tonghop")
        linked = await running.tg.wait_for(
            lambda m: m.chat_id == ADMIN and m.content.startswith("Xem trên web"), after=mark
        )
    assert linked.content.count("https://dondoc.example.vn/f/") == 2
