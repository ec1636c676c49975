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
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.runner import ChannelRefused, running
from bot.settings import Settings
from channels.registry import configured_channels
from channels.telegram_app import TelegramRunner
from channels.zalo import ZaloChannel
from channels.zalo_api import QUOTA_WAIT_SECONDS
from channels.zalo_app import ZALO_SECRET_HEADER, ZaloRunner
from core.conversation import Inbound, Reply
from core.officers import add_officer, create_invite
from core.send_budget import HEADROOM
from handlers.base import AppState
from storage.db import make_engine, make_session_factory
from storage.models import ChannelAccount, Delivery, Officer, ProgressUpdate, Unit, ZaloInbox
from tests.e2e import SettableClock, bot_settings
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.zalo_api import FakeZalo
from tests.test_telegram_budget import DrivenClock
from tests.text_world import PLAN, number_of, numbered, yaml_unit
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

    step = round(1 / (5 * (1 - HEADROOM)), 3)  # 5 a second, less the budget's headroom
    assert paced == [step] * 6  # for the bot, whichever process sends
    # The quota error paused the bot for QUOTA_WAIT_SECONDS: the retry, and the other
    # process's next message, wait for the pause to end.
    assert clock.slept[6:] == [step, QUOTA_WAIT_SECONDS, step]
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


# --- invites, configuration ------------------------------------------------------------------


async def test_moi_on_zalo_gives_the_code_to_type_and_the_invited_officer_types_it(
    settings: Settings, session_factory: Sessions
) -> None:
    async with FakeZalo() as zalo, zalo_bot(settings, session_factory, zalo) as bot:
        admin = await bot.officer("Lê Thị Hoa", ["VPTK"], roles=("admin",))
        invite = await bot.say(admin, "/moi VHXH Phạm Văn Minh")
        (code,) = re.findall(r"mã mời: (\S+)$", invite)
        minh = zalo.user(display_name="Phạm Văn Minh")
        greeting = await bot.say(minh, code)

    assert "http" not in invite and invite.count(code) == 1
    assert greeting.startswith(texts.linked("Zalo") + "\nXin chào Phạm Văn Minh")


def test_both_channels_run_when_both_tokens_are_set(settings: Settings) -> None:
    both = settings.model_copy(
        update={
            "telegram_bot_token": SecretStr("123:telegram-token"),
            "zalo_bot_token": SecretStr("456:zalo-token"),
        }
    )
    zalo_only = settings.model_copy(update={"zalo_bot_token": SecretStr("456:zalo-token")})

    assert configured_channels(both) == [TelegramRunner, ZaloRunner]
    assert configured_channels(zalo_only) == [ZaloRunner]
    assert configured_channels(settings) == []


def test_the_zalo_webhook_secret_is_masked_in_logs(settings: Settings) -> None:
    web = settings.model_copy(update={"web_secret": SecretStr("w" * 40)})

    assert web.webhook_secret_for("zalo") in web.secret_values()
    assert web.webhook_secret_for("zalo") != web.webhook_secret_for("telegram")


async def test_a_refused_token_stops_the_start_with_the_operators_message(
    settings: Settings, session_factory: Sessions
) -> None:
    async with FakeZalo() as zalo:
        config = zalo_settings(settings, zalo).model_copy(
            update={"zalo_bot_token": SecretStr("1:not-the-token")}
        )
        state = AppState(settings=config, sessions=session_factory)
        with pytest.raises(ChannelRefused) as refused:
            async with running(state, [ZaloRunner(state)], schedule=False):
                pass

    assert str(refused.value) == texts.ZALO_TOKEN_REFUSED
    assert zalo.calls("getUpdates") == []


async def test_an_officer_who_blocked_the_bot_on_zalo_is_unreachable_and_the_coordinator_told(
    settings: Settings, session_factory: Sessions
) -> None:
    early = datetime(2024, 3, 26, 6, 0, tzinfo=ICT)
    async with (
        FakeZalo() as zalo,
        zalo_bot(settings, session_factory, zalo, schedule=True, now=early) as bot,
    ):
        lan = await bot.officer("Nguyễn Thị Lan", ["VPTK"])
        hoa = await bot.officer("Lê Thị Hoa", ["VHXH"], roles=("coordinator",))
        zalo.block(lan.id)  # Zalo answers her sends "not found" from now on
        mark = zalo.checkpoint()
        bot.clock.set(datetime(2024, 3, 26, 7, 31, tzinfo=ICT))
        assert bot.run.schedule is not None
        await bot.run.schedule.ticker.tick()
        notices = await bot.replies(hoa, 1, after=mark)

    assert notices == [texts.unreachable_notice("Nguyễn Thị Lan")]
    assert zalo.texts_to(lan.id)[-1].startswith("Đã liên kết")  # nothing after the greeting
    async with session_factory() as session:
        accounts = {
            a.external_id: a.unreachable for a in await session.scalars(select(ChannelAccount))
        }
        digest = await session.scalar(select(Delivery).where(Delivery.kind == "digest"))
    assert accounts == {lan.id: True, hoa.id: False}
    assert digest is not None and digest.status == "failed"  # no other account to try
    assert digest.error is not None and "not found" in digest.error.lower()


async def test_telegram_and_zalo_in_one_process_and_a_person_on_both_gets_one_digest(
    settings: Settings, session_factory: Sessions
) -> None:
    """Both tokens set: both channels run with one tick. Lan links Zalo, then Telegram, with
    two invite codes; the morning digest goes to one of her accounts, once."""
    clock = SettableClock(datetime(2024, 3, 26, 6, 0, tzinfo=ICT))
    async with FakeZalo() as zalo, FakeTelegram() as tg:
        config = bot_settings(zalo_settings(settings, zalo), tg)
        state = AppState(settings=config, sessions=session_factory, clock=clock)
        async with session_factory() as session, session.begin():
            unit = await yaml_unit(session, PLAN)
            lan, _ = await add_officer(
                session, unit=unit, name="Nguyễn Thị Lan", positions=["VPTK"], actor="test"
            )
            on_zalo = await create_invite(session, unit=unit, officer=lan, actor="t", now=clock())
        budget = DrivenClock()
        channels = [TelegramRunner(state), ZaloRunner(state, clock=budget, sleep=budget.sleep)]
        async with running(state, channels) as run:
            lan_zalo = zalo.user(display_name="Lan")
            zalo.send_text(lan_zalo, on_zalo.code)
            await zalo.wait_for(lambda m: m.chat_id == lan_zalo.id)
            async with session_factory() as session, session.begin():
                officer = await session.get_one(Officer, lan.id)
                unit = await session.get_one(Unit, unit.id)
                on_tg = await create_invite(
                    session, unit=unit, officer=officer, actor="t", now=clock()
                )
            await tg.send_text(5001, on_tg.code)
            greeting = await tg.wait_for(lambda m: m.chat_id == 5001)
            mark_tg, mark_zalo = len(tg.sent()), zalo.checkpoint()
            clock.set(datetime(2024, 3, 26, 7, 31, tzinfo=ICT))
            assert run.schedule is not None
            await run.schedule.ticker.tick()
            await run.schedule.ticker.tick()

    header = texts.digest_header(date(2024, 3, 26))
    digests = [m.content for m in tg.sent()[mark_tg:] if m.content.startswith(header)]
    digests += [m.content for m in zalo.sent()[mark_zalo:] if m.content.startswith(header)]
    assert greeting.content.startswith(texts.linked("Telegram"))
    assert len(digests) == 1
    async with session_factory() as session:
        channels_linked = sorted(a.channel for a in await session.scalars(select(ChannelAccount)))
        deliveries = list(await session.scalars(select(Delivery)))
    assert channels_linked == ["telegram", "zalo"]
    assert [(d.kind, d.status) for d in deliveries] == [("digest", "sent")]


async def test_a_reply_outlasts_a_short_5xx_storm_after_backing_off(
    settings: Settings, session_factory: Sessions
) -> None:
    clock = DrivenClock()
    async with FakeZalo() as zalo:
        state = AppState(settings=zalo_settings(settings, zalo), sessions=session_factory)
        runner = ZaloRunner(state, clock=clock, sleep=clock.sleep)
        zalo.fail_next(2, status=502)
        event = Inbound(channel="zalo", user_id="u", display_name="", chat_id="u", event_id="1")
        try:
            await runner.inbound.deliver(event, [Reply("vẫn tới nơi")])
        finally:
            await runner.stop()

    assert zalo.texts_to("u") == ["vẫn tới nơi"]
    assert zalo.stats.server_errors == 2
    assert clock.slept == [2.0, 4.0]  # channels.zalo.backoff: 2 s, then 4 s
