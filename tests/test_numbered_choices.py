"""Numbered choices on a channel without buttons (issue 13), through the real local channel,
routing, features and database: lists, cards answered by number and word, expiry, digests."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.settings import Settings
from channels.local import CAPABILITIES
from channels.text_rendering import TextOutbound
from handlers.numbered import SLOT
from scheduler.reminders import ReminderSender
from scheduler.sender import Sender
from storage.models import ConversationState, Criterion, Evidence, ProgressUpdate
from tests.test_sender import FakeTime
from tests.text_world import TextWorld, number_of, numbered, text_world

Sessions = async_sessionmaker[AsyncSession]
ICT = ZoneInfo("Asia/Ho_Chi_Minh")


async def rows(world: TextWorld) -> list[tuple[str, str, int, str | None]]:
    """Every progress report: (code, status, percent, note), oldest first."""
    async with world.sessions() as session:
        found = await session.execute(
            select(
                Criterion.code, ProgressUpdate.status, ProgressUpdate.percent, ProgressUpdate.note
            )
            .join(Criterion, Criterion.id == ProgressUpdate.criterion_id)
            .order_by(ProgressUpdate.id)
        )
        return [tuple(row) for row in found]  # type: ignore[misc]


async def lan_in(
    settings: Settings, sessions: Sessions, **options: object
) -> tuple[TextWorld, str]:
    world = await text_world(settings, sessions, **options)  # type: ignore[arg-type]
    return world, await world.officer("Nguyễn Thị Lan", ["VPTK"])


async def open_card(world: TextWorld, user: str, code: str) -> str:
    (listing,) = await world.say(user, "/viec")
    (card,) = await world.say(user, number_of(listing, f"PAR {code} "))
    assert card.startswith(f"PAR {code} — ")
    return card


async def test_a_list_is_numbered_and_a_number_opens_its_card(
    settings: Settings, session_factory: Sessions
) -> None:
    world, lan = await lan_in(settings, session_factory)
    (listing,) = await world.say(lan, "/viec")
    assert listing.startswith("Việc của bạn (3):")
    assert list(numbered(listing).values()) == ["1", "2", "3"]
    assert "1. PAR 2.1.1 Ban hành kế hoạch" in listing  # the example, as shown

    (card,) = await world.say(lan, "2")
    assert card.startswith("PAR 2.1.2 — Báo cáo kết quả thực hiện kế hoạch quý I")
    assert texts.CARD_TYPED_HINT in card  # the card says a number is a percent
    assert numbered(card) == {}  # and has no numbered list: its numbers are percents
    assert "Trạng thái: Chưa làm 0%" in card


async def test_on_a_card_a_number_is_a_percent_and_the_actions_are_words(
    settings: Settings, session_factory: Sessions, tmp_path: Path
) -> None:
    world, lan = await lan_in(settings, session_factory)
    await open_card(world, lan, "2.1.1")

    (card,) = await world.say(lan, "50")
    assert card.startswith(texts.progress_toast("in_progress", 50))
    assert "Trạng thái: Đang làm 50%" in card
    (card,) = await world.say(lan, "2")  # still a percent: never an item of the old list
    assert "Trạng thái: Đang làm 2%" in card
    (refused,) = await world.say(lan, "150")
    assert refused == texts.CARD_PERCENT_RANGE

    (asked,) = await world.say(lan, "Kho Khan")  # without accents, any case
    assert texts.ASK_BLOCKED_REASON in asked and numbered(asked) == {"Hủy": "1"}
    card, saved = await world.say(lan, "Chưa có kinh phí in bảng")
    assert saved == texts.blocked_saved("PAR 2.1.1")
    assert "Trạng thái: Gặp khó khăn 2%" in card and texts.CARD_TYPED_HINT in card

    (asked,) = await world.say(lan, "ẢNH")
    assert texts.ask_evidence("PAR 2.1.1") in asked
    photo = tmp_path / "bang tin.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0 not much of a picture")
    (stored,) = await world.say(lan, f'/file "{photo}"')
    assert stored.startswith("Đã nhận 1 tệp minh chứng cho PAR 2.1.1")

    (card,) = await world.say(lan, "xong")
    assert "Trạng thái: Hoàn thành 100%" in card
    (listing,) = await world.say(lan, "quay lai")
    assert listing.startswith("Việc của bạn (3):")
    assert "29/03/2024 · Hoàn thành 100%" in listing

    assert await rows(world) == [
        ("2.1.1", "in_progress", 50, None),
        ("2.1.1", "in_progress", 2, None),
        ("2.1.1", "blocked", 2, "Chưa có kinh phí in bảng"),
        ("2.1.1", "done", 100, None),
    ]
    async with world.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Evidence)) == 1


async def test_a_number_picks_from_a_code_choice_as_the_button_would(
    settings: Settings, session_factory: Sessions
) -> None:
    world, lan = await lan_in(settings, session_factory)
    (offered,) = await world.say(lan, "/capnhat 2.1 30 đã dự thảo")
    assert offered.startswith("Không thấy mục «2.1»")
    (saved,) = await world.say(lan, number_of(offered, "PAR 2.1.3"))
    assert saved == texts.progress_saved("PAR 2.1.3", "in_progress", 30)
    assert await rows(world) == [("2.1.3", "in_progress", 30, "đã dự thảo")]
    (again,) = await world.say(lan, "1")  # the choice was used up: its list answers no more
    assert again == texts.CHOICE_EXPIRED
    assert len(await rows(world)) == 1


async def test_no_list_an_expired_list_or_a_wrong_number_changes_nothing(
    settings: Settings, session_factory: Sessions
) -> None:
    world, lan = await lan_in(settings, session_factory)
    binh = await world.officer("Trần Văn Bình", ["VPTK"])
    assert await world.say(lan, "1") == [texts.NUMBERED_EXPIRED]

    await world.say(lan, "/viec")
    assert await world.say(lan, "4") == [texts.numbered_out_of_range(3)]
    assert await world.say(lan, "0") == [texts.numbered_out_of_range(3)]
    assert await world.say(binh, "1") == [texts.NUMBERED_EXPIRED]  # Lan's list is not Bình's
    (card,) = await world.say(lan, "3")  # the wrong numbers left the list as it was
    assert card.startswith("PAR 2.1.3 — ")

    await world.say(lan, "/viec")
    world.clock.set(world.clock.now + timedelta(minutes=29))
    (card,) = await world.say(lan, "1")
    assert card.startswith("PAR 2.1.1 — ")
    world.clock.set(world.clock.now + timedelta(minutes=31))
    assert await world.say(lan, "50") == [texts.NUMBERED_EXPIRED]  # the card expired as well
    assert await rows(world) == []
    async with world.sessions() as session:
        kept = await session.scalar(
            select(func.count())
            .select_from(ConversationState)
            .where(ConversationState.slot == SLOT)
        )
    assert kept == 1  # one list per chat, replaced each time (Bình never had one)


async def test_a_stranger_and_a_redelivered_number(
    settings: Settings, session_factory: Sessions
) -> None:
    world, lan = await lan_in(settings, session_factory)
    assert await world.say("99", "1") == [texts.STRANGER]

    await open_card(world, lan, "2.1.2")
    typed = world.event(lan, "75")
    (card,) = await world.send(typed)
    assert "Trạng thái: Đang làm 75%" in card
    assert await world.send(typed) == []  # the same event again: handled once
    assert await rows(world) == [("2.1.2", "in_progress", 75, None)]


async def test_help_explains_numbers_in_three_lines_on_a_text_channel_only(
    settings: Settings, session_factory: Sessions
) -> None:
    world, lan = await lan_in(settings, session_factory)
    (help_text,) = await world.say(lan, "/help")
    assert help_text.endswith(texts.HELP_NUMBERED)
    assert len(texts.HELP_NUMBERED.split("\n")) == 3
    assert texts.HELP_TIPS_TYPED in help_text and "bấm nút" not in help_text

    # A channel with buttons: no such lines, and a typed number is plain text.
    buttons = replace(CAPABILITIES, buttons=True)
    world.channel.capabilities = buttons
    (help_text,) = await world.say(lan, "/help")
    assert texts.HELP_NUMBERED not in help_text and texts.HELP_TIPS in help_text
    await world.say(lan, "/viec")
    assert await world.say(lan, "1") == [texts.FREE_TEXT_HINT]


async def test_long_replies_are_split_on_lines_under_the_limit(
    settings: Settings, session_factory: Sessions
) -> None:
    small = replace(CAPABILITIES, max_text=160)
    world, lan = await lan_in(settings, session_factory, capabilities=small)
    parts = await world.say(lan, "/viec")
    assert len(parts) > 2 and all(len(part) <= 160 for part in parts)
    whole = "\n".join(parts)
    assert numbered(whole) == {
        "PAR 2.1.1 Ban hành kế hoạch cải cách hà…": "1",
        "PAR 2.1.2 Báo cáo kết quả thực hiện kế…": "2",
        "PAR 2.1.3 Kiểm tra công tác cải cách hà…": "3",
    }
    assert "• PAR 2.1.3 Kiểm tra công tác cải cách hành chính tại các thôn" in whole.split("\n")
    cards = await world.say(lan, "3")
    assert all(len(part) <= 160 for part in cards)
    assert cards[0].startswith("PAR 2.1.3 — ")


async def test_a_digest_list_is_kept_24_hours(
    settings: Settings, session_factory: Sessions
) -> None:
    morning = datetime(2024, 3, 22, 8, 0, tzinfo=ICT)  # a week before 2.1.1's deadline
    # A text channel reminders go out on (the local shell's accounts never get them).
    world, lan = await lan_in(settings, session_factory, now=morning, name="zalo")
    binh = await world.officer("Trần Văn Bình", ["VPTK"])
    outbound = TextOutbound(
        world.channel.name, world.sink, CAPABILITIES, session_factory, world.clock, per_second=5
    )
    time = FakeTime()
    sender = Sender(outbound, clock=time.clock, sleep=time.sleep)
    reminders = ReminderSender(session_factory, sender, world.clock)
    report = await reminders.send_day(unit_id=world.unit_id, day=date(2024, 3, 22))
    assert report.outcomes == {"sent": 2}
    digest = [said.text for said in world.sink.sent if said.chat_id == lan][-1]
    assert digest.startswith(texts.digest_header(date(2024, 3, 22)))
    number = number_of(digest, "PAR 2.1.1")

    world.clock.set(morning + timedelta(hours=23))
    (card,) = await world.say(lan, number)
    assert card.startswith("PAR 2.1.1 — ")
    world.clock.set(morning + timedelta(hours=24, minutes=1))
    assert await world.say(binh, number) == [texts.NUMBERED_EXPIRED]
