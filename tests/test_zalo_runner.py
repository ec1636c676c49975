"""``python -m bot run``'s machinery with Zalo (channels.zalo_app.ZaloRunner), over real HTTP
against the fake Zalo Bot API, on SQLite or PostgreSQL: officers link by typing their invite
code, /viec and numbered choices, progress, long replies in parts, the webhook, the daily
digest from the tick, and the send budget shared by two processes."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.settings import Settings
from channels.zalo import ZaloChannel
from channels.zalo_api import QUOTA_WAIT_SECONDS
from channels.zalo_app import ZALO_SECRET_HEADER, ZaloRunner
from core.conversation import Inbound, Reply
from handlers.base import AppState
from storage.db import make_engine, make_session_factory
from storage.models import ChannelAccount, Delivery, ProgressUpdate, ZaloInbox
from tests.fakes.zalo_api import FakeZalo
from tests.test_telegram_budget import DrivenClock
from tests.text_world import number_of, numbered
from tests.zalo_world import PUBLIC_URL, text_update, zalo_bot, zalo_settings

Sessions = async_sessionmaker[AsyncSession]
ICT = ZoneInfo("Asia/Ho_Chi_Minh")


async def test_an_officer_links_by_code_picks_by_number_and_reports_progress(
    settings: Settings, session_factory: Sessions
) -> None:
    async with FakeZalo() as zalo, zalo_bot(settings, session_factory, zalo) as bot:
        lan = await bot.officer("Nguyễn Thị Lan", ["VPTK"])
        listing = await bot.say(lan, "/viec")
        card = await bot.say(lan, number_of(listing, "PAR 2.1.2 "))
        saved = await bot.say(lan, "60")

    assert listing.startswith("Việc của bạn (3):")
    assert list(numbered(listing).values()) == ["1", "2", "3"]
    assert card.startswith("PAR 2.1.2 — Báo cáo kết quả thực hiện kế hoạch quý I")
    assert saved.startswith(texts.progress_toast("in_progress", 60))
    assert zalo.calls("deleteWebhook") and not zalo.calls("setWebhook")  # long polling
    async with session_factory() as session:
        account = (await session.scalars(select(ChannelAccount))).one()
        progress = (await session.scalars(select(ProgressUpdate))).one()
    assert (account.channel, account.external_id) == ("zalo", lan.id)
    assert (progress.status, progress.percent) == ("in_progress", 60)


async def test_a_reply_over_2000_characters_is_split_on_lines(
    settings: Settings, session_factory: Sessions
) -> None:
    """No feature answers with 2000 characters today (lists are paged, titles shortened), so
    a stand-in feature does, through the channel's delivery as any feature's reply."""
    lines = [f"{n}. " + "việc cần làm " * 10 for n in range(1, 41)]  # ~5,000 characters

    async def long_answer(event: Inbound, channel: ZaloChannel) -> None:
        await channel.deliver(event, [Reply("\n".join(lines), choices=[[("Xem", "L:0")]])])

    async with FakeZalo() as zalo, zalo_bot(settings, session_factory, zalo) as bot:
        bot.runner.inbound.dispatch = long_answer
        parts = await bot.said(zalo.user("u-1"), "/dai", 3)

    assert all(len(part) <= 2000 for part in parts)
    body, _, choices = "\n".join(parts).rpartition("\n\n")
    assert body.split("\n") == lines  # nothing lost, every cut at a line's end
    assert choices == "1. Xem"
    assert len(zalo.sent()) == 3


async def test_the_webhook_refuses_a_wrong_secret_and_handles_a_redelivery_once(
    settings: Settings, session_factory: Sessions
) -> None:
    async with (
        FakeZalo() as zalo,
        zalo_bot(settings, session_factory, zalo, web=True) as bot,
        httpx.AsyncClient() as client,
    ):
        secret = bot.state.settings.webhook_secret_for("zalo")
        stranger = zalo.user("5f1c0de0aa11bb22cc33", "Người lạ")
        hello = text_update(stranger, "xin chào", "m-1")
        right = {ZALO_SECRET_HEADER: secret}
        missing = await client.post(bot.webhook_url, json=hello)
        wrong = await client.post(
            bot.webhook_url, json=hello, headers={ZALO_SECRET_HEADER: "0" * len(secret)}
        )
        refused_rows = await inbox_rows(session_factory)
        first = await client.post(bot.webhook_url, json=hello, headers=right)
        again = await client.post(bot.webhook_url, json=hello, headers=right)
        after = await client.post(
            bot.webhook_url, json=text_update(stranger, "/viec", "m-2"), headers=right
        )
        answers = await bot.replies(stranger, 2, after=0)
        webhook = zalo.webhook

    assert (missing.status_code, wrong.status_code) == (403, 403) and refused_rows == []
    assert (first.status_code, again.status_code, after.status_code) == (200, 200, 200)
    assert answers == [texts.STRANGER, texts.STRANGER]  # "xin chào" once, then "/viec"
    assert len(zalo.sent(stranger.id)) == 2
    assert webhook == {"url": f"{PUBLIC_URL}/zalo", "secret_token": secret}
    assert zalo.calls("getUpdates") == [] and zalo.calls("deleteWebhook") == []
    rows = await inbox_rows(session_factory)
    assert [row.message_id for row in rows] == ["m-1", "m-2"]
    assert all(row.handled_at is not None for row in rows)


async def inbox_rows(sessions: Sessions) -> list[ZaloInbox]:
    async with sessions() as session:
        return list((await session.scalars(select(ZaloInbox).order_by(ZaloInbox.id))).all())


async def test_a_zalo_only_officer_gets_the_daily_digest_there_and_picks_from_it(
    settings: Settings, session_factory: Sessions
) -> None:
    early = datetime(2024, 3, 26, 6, 0, tzinfo=ICT)  # 3 days before 2.1.1's deadline
    async with (
        FakeZalo() as zalo,
        zalo_bot(settings, session_factory, zalo, schedule=True, now=early) as bot,
    ):
        lan = await bot.officer("Nguyễn Thị Lan", ["VPTK"])
        mark = zalo.checkpoint()
        bot.clock.set(datetime(2024, 3, 26, 7, 31, tzinfo=ICT))
        assert bot.run.schedule is not None
        await bot.run.schedule.ticker.tick()
        (digest,) = await bot.replies(lan, 1, after=mark)
        await bot.run.schedule.ticker.tick()  # once a day
        card = await bot.say(lan, number_of(digest, "PAR 2.1.1"))

    assert digest.startswith(texts.digest_header(date(2024, 3, 26)))
    assert card.startswith("PAR 2.1.1 — Ban hành kế hoạch cải cách hành chính năm 2024")
    async with session_factory() as session:
        deliveries = list(await session.scalars(select(Delivery)))
    assert [(d.kind, d.channel) for d in deliveries] == [("digest", "zalo")]


async def test_two_processes_share_the_bots_five_messages_a_second(
    settings: Settings, database_url: str
) -> None:
    """Two runners (two processes' worth: an engine each) on one database and one token:
    replies and scheduled sends alike take turns from one budget, and Zalo's quota error
    pauses both."""
    clock = DrivenClock()
    engines = [make_engine(database_url), make_engine(database_url)]
    async with FakeZalo() as zalo:
        config = zalo_settings(settings, zalo)
        runners = [
            ZaloRunner(
                AppState(settings=config, sessions=make_session_factory(engine)),
                clock=clock,
                sleep=clock.sleep,
            )
            for engine in engines
        ]
        try:
            for n in range(6):  # to six people, alternating processes
                await runners[n % 2].outbound.send(f"chat-{n}", f"tin {n}")
            reply = Inbound(channel="zalo", user_id="u", display_name="", chat_id="u", event_id="1")
            await runners[1].inbound.deliver(reply, [Reply("trả lời")])
            paced = list(clock.slept)
            zalo.force_quota(1)
            await runners[0].outbound.send("chat-q", "sau hạn mức")
            await runners[1].outbound.send("chat-r", "tiếp")
        finally:
            for runner in runners:
                await runner.stop()
            for engine in engines:
                await engine.dispose()

    assert paced == [0.2] * 6  # 5 a second for the bot, whichever process sends
    # The quota error paused the bot for QUOTA_WAIT_SECONDS: the retry, and the other
    # process's next message, wait for the pause to end.
    assert clock.slept[6:] == [0.2, QUOTA_WAIT_SECONDS, 0.2]
    assert zalo.texts_to("chat-q") == ["sau hạn mức"] and zalo.texts_to("chat-r") == ["tiếp"]
    assert zalo.stats.quota_errors == 1


# --- files: Zalo takes none ----------------------------------------------------------------


async def test_without_the_web_server_the_summary_is_its_text_and_one_line(
    settings: Settings, session_factory: Sessions
) -> None:
    async with FakeZalo() as zalo, zalo_bot(settings, session_factory, zalo) as bot:
        son = await bot.officer("Trần Văn Sơn", ["VPTK"], roles=("leader", "coordinator"))
        summary, line = await bot.said(son, "/tonghop", 2)
        (pack,) = await bot.said(son, "/xuat 2024", 1)

    assert "PAR" in summary and summary != texts.FILES_NEED_WEB
    assert line == texts.FILES_NEED_WEB and pack == texts.FILES_NEED_WEB
    assert zalo.calls("sendPhoto") == []


async def test_with_the_web_server_the_chart_workbook_and_pack_are_signed_links(
    settings: Settings, session_factory: Sessions
) -> None:
    async with (
        FakeZalo() as zalo,
        zalo_bot(settings, session_factory, zalo, web=True) as bot,
        httpx.AsyncClient() as client,
    ):
        son = await bot.officer("Trần Văn Sơn", ["VPTK"], roles=("leader", "coordinator"))
        _, on_the_web = await bot.said(son, "/tonghop", 2)
        pack = await bot.say(son, "/xuat 2024")
        local = f"http://127.0.0.1:{bot.run.server.port}" if bot.run.server else ""
        found = re.findall(rf"{PUBLIC_URL}/f/\S+", on_the_web + "\n" + pack)
        files = [await client.get(url.replace(PUBLIC_URL, local)) for url in found]

    assert on_the_web.startswith("Xem trên web (7 ngày):")
    assert pack.startswith("Gói minh chứng: 4 mục")
    assert len(found) == 3 and [f.status_code for f in files] == [200, 200, 200]
    assert files[0].content.startswith(b"\x89PNG")  # the chart
    assert files[1].content[:2] == files[2].content[:2] == b"PK"  # the .xlsx and the .zip


@pytest.mark.parametrize("web", [False, True])
async def test_the_friday_summary_on_zalo_is_its_text_and_the_files_links(
    settings: Settings, session_factory: Sessions, web: bool
) -> None:
    friday = datetime(2024, 3, 15, 15, 0, tzinfo=ICT)
    async with (
        FakeZalo() as zalo,
        zalo_bot(settings, session_factory, zalo, schedule=True, now=friday, web=web) as bot,
    ):
        son = await bot.officer("Trần Văn Sơn", ["VPTK"], roles=("leader",))
        mark = zalo.checkpoint()
        bot.clock.set(datetime(2024, 3, 15, 16, 5, tzinfo=ICT))
        assert bot.run.schedule is not None
        await bot.run.schedule.ticker.tick()
        summary, files = await bot.replies(son, 2, after=mark)

    assert "PAR" in summary
    if web:
        assert files.startswith("Xem trên web (7 ngày):") and files.count(f"{PUBLIC_URL}/f/") == 2
    else:
        assert files == texts.FILES_NEED_WEB
    assert zalo.calls("sendPhoto") == []
    async with session_factory() as session:
        deliveries = list(await session.scalars(select(Delivery)))
    assert [(d.kind, d.channel, d.status) for d in deliveries] == [("summary", "zalo", "sent")]
