"""The Zalo channel's parts, each over real HTTP against the fake Zalo Bot API (tests/fakes).

The client (channels.zalo_api): the fake's documented shapes, the token kept
out of logs and exceptions, Zalo's errors mapped onto the sender's. The
channel (channels.zalo) on the test database (SQLite, or PostgreSQL with
DONDOC_TEST_DATABASE_URL): the inbox written before handling, a message
delivered twice handled once, one left in the inbox by a dead process handled
after the restart, photos (kept, expired, too big), a group chat, a sticker,
a voice message, and a stranger through the real routing.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.settings import Settings, load_settings
from channels.zalo import ZaloChannel, ZaloOutbound, ZaloSink, to_inbound, zalo_outbound
from channels.zalo_api import ZaloApi, ZaloError, ZaloNetworkError
from core.conversation import PHOTO, Inbound
from core.evidence import INCOMING_DIR
from core.outbound import Blocked, RateLimited, Refused, Transient
from handlers.base import ANYONE, AppState, Fetch, Reply, Request, handler
from storage.models import ProcessedUpdate, ZaloInbox
from tests.fakes.zalo_api import TINY_PNG, FakeZalo

SECRET = "fakeZaloSecretForTestsOnly0123456789abcdefXYZ"


@pytest.fixture
async def zalo() -> AsyncIterator[FakeZalo]:
    async with FakeZalo() as fake:
        yield fake


@pytest.fixture
async def api(zalo: FakeZalo) -> AsyncIterator[ZaloApi]:
    async with ZaloApi(zalo.token, base_url=zalo.base_url) as client:
        yield client


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def channel(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    api: ZaloApi,
    recorder: Recorder,
) -> ZaloChannel:
    """The channel on the test database, its events recorded instead of routed."""
    return channel_for(settings, session_factory, api, recorder)


class Recorder:
    """A dispatch that records each event (and can hang, as a process killed mid-handling)."""

    def __init__(self) -> None:
        self.events: list[Inbound] = []
        self.arrived = asyncio.Condition()
        self.hang = False

    async def __call__(self, event: Inbound, channel: ZaloChannel) -> None:
        async with self.arrived:
            self.events.append(event)
            self.arrived.notify_all()
        if self.hang:
            await asyncio.Event().wait()

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(5), self.arrived:
            await self.arrived.wait_for(lambda: len(self.events) >= count)


def outbound_of(api: ZaloApi, sessions: async_sessionmaker[AsyncSession]) -> ZaloOutbound:
    """The scheduler's sending side, without a send budget."""
    return zalo_outbound(
        AppState(settings=load_settings(_env_file=None), sessions=sessions), ZaloSink(api)
    )


async def no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


def zalo_settings(settings: Settings, zalo: FakeZalo) -> Settings:
    return load_settings(
        DATABASE_URL=settings.database_url,
        EVIDENCE_DIR=settings.evidence_dir,
        ZALO_BOT_TOKEN=zalo.token,
        ZALO_API_BASE_URL=zalo.base_url,
        _env_file=None,
    )


def channel_for(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    api: ZaloApi,
    dispatch: Any = None,
) -> ZaloChannel:
    app = AppState(settings=settings, sessions=sessions)
    if dispatch is None:
        return ZaloChannel(app=app, api=api, sleep=no_sleep)
    return ZaloChannel(app=app, api=api, dispatch=dispatch, sleep=no_sleep)


async def receive_one(channel: ZaloChannel, api: ZaloApi) -> dict[str, Any]:
    """One poll, kept and handled, as the channel's loops do (without running them)."""
    update = await api.get_update()
    assert update is not None
    await channel.keep(update)
    await channel.handle_inbox()
    return update


async def inbox(session_factory: async_sessionmaker[AsyncSession]) -> list[ZaloInbox]:
    async with session_factory() as session:
        return list((await session.scalars(select(ZaloInbox).order_by(ZaloInbox.id))).all())


# --- the client --------------------------------------------------------------------------------


async def test_the_client_speaks_the_documented_shapes(zalo: FakeZalo, api: ZaloApi) -> None:
    me = await api.get_me()
    sent = await api.send_message("e4ea2cd5189df1c3a88c", "Xin chào")

    assert me["id"] == api.bot_id == zalo.bot_id
    assert isinstance(sent["message_id"], str) and sent["date"] > 10**12  # milliseconds
    assert zalo.texts_to("e4ea2cd5189df1c3a88c") == ["Xin chào"]
    assert zalo.calls("sendMessage")[0].params == {
        "chat_id": "e4ea2cd5189df1c3a88c",
        "text": "Xin chào",
    }


async def test_settings_take_the_zalo_token_as_a_secret(settings: Settings, zalo: FakeZalo) -> None:
    configured = zalo_settings(settings, zalo)

    assert configured.zalo_api_base_url == zalo.base_url
    assert configured.zalo_messages_per_second == 5
    assert zalo.token in configured.secret_values()
    assert zalo.token not in repr(configured)


async def test_one_update_per_poll_and_a_408_when_the_poll_ends_empty(
    zalo: FakeZalo, api: ZaloApi
) -> None:
    user = zalo.user("6ede9afa66b88fe6d6a9", "Ted")
    first = zalo.send_text(user, "một")
    zalo.send_text(user, "hai")

    update = await api.get_update()
    waiting = asyncio.create_task(api.get_update(poll_seconds=30))
    second = await waiting  # the second message was waiting: no long poll
    empty = asyncio.create_task(api.get_update(poll_seconds=30))
    await zalo.wait_for_request("getUpdates", count=3, finished=False)
    zalo.end_polls()  # the long poll times out now, without waiting 30 s

    assert update is not None and second is not None
    assert update["event_name"] == "message.text.received"
    assert update["message"]["message_id"] == first
    assert update["message"]["from"] == {"id": user.id, "display_name": "Ted", "is_bot": False}
    assert update["message"]["chat"] == {"id": user.id, "chat_type": "PRIVATE"}
    assert second["message"]["text"] == "hai"
    assert await empty is None
    assert zalo.calls("getUpdates")[2].status == 408


async def test_polling_is_refused_while_a_webhook_is_set(zalo: FakeZalo, api: ZaloApi) -> None:
    await api.set_webhook("https://example.org/zalo", "a-secret-of-32-characters-000000")

    with pytest.raises(ZaloError) as refused:
        await api.get_update()
    await api.delete_webhook()
    zalo.send_text(zalo.user(), "xin chào")

    assert refused.value.code == 400 and "webhook" in refused.value.description
    assert (await api.get_webhook_info())["url"] == ""
    assert await api.get_update() is not None


async def test_the_token_is_in_no_log_line_and_no_exception(
    zalo: FakeZalo,
    api: ZaloApi,
    caplog: pytest.LogCaptureFixture,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # setup_logging() may have quietened it

    def url_in_error(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    await api.get_me()  # httpx logs the request line, URL and all
    failures: list[BaseException] = []
    async with ZaloApi(zalo.token, base_url="http://127.0.0.1:9/bot") as closed_port:
        with pytest.raises(ZaloNetworkError) as unreachable:
            await closed_port.get_me()
    failures.append(unreachable.value)
    transport = httpx.MockTransport(url_in_error)
    async with ZaloApi(zalo.token, base_url=zalo.base_url, transport=transport) as broken:
        with pytest.raises(ZaloNetworkError) as network:
            await broken.send_message("abc", "hi")
    failures.append(network.value)
    with pytest.raises(Transient) as storm:
        zalo.fail_next(1, status=502)
        await outbound_of(api, session_factory).send("abc", "hi")
    failures.append(storm.value)

    assert "getMe" in caplog.text  # the request line was logged, token masked
    assert "cannot reach" in str(network.value) and "[REDACTED]" in str(network.value)
    for failure in failures:
        shown = "".join(traceback.format_exception(failure))
        assert zalo.token not in shown and SECRET not in shown
    # Not chained to httpx's exception, whose message holds the URL.
    assert unreachable.value.__context__ is None and network.value.__context__ is None
    assert zalo.token not in caplog.text and SECRET not in caplog.text


async def test_zalo_errors_become_the_senders(
    zalo: FakeZalo, api: ZaloApi, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    outbound = outbound_of(api, session_factory)
    zalo.block("blocked-user")
    outcomes: list[type[Exception]] = []
    for arrange in (
        lambda: zalo.force_quota(1),
        lambda: zalo.fail_next(1, status=503),
        lambda: zalo.fail_next(1, status=403),  # Zalo documents 403 as an internal error
        lambda: None,
    ):
        arrange()
        with pytest.raises((RateLimited, Transient, Blocked, Refused)) as failed:
            await outbound.send("blocked-user", "hi")
        outcomes.append(type(failed.value))
    async with ZaloApi("1:wrong-token", base_url=zalo.base_url) as wrong:
        with pytest.raises(Refused):
            await outbound_of(wrong, session_factory).send("abc", "hi")

    assert outcomes == [RateLimited, Transient, Transient, Blocked]
    assert zalo.stats.quota_errors == 1 and zalo.sent() == []


async def test_a_held_send_never_answers_and_the_sender_may_retry_it(
    zalo: FakeZalo, api: ZaloApi, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    outbound = outbound_of(api, session_factory)
    zalo.hold_sends_after(1)

    await outbound.send("first", "một")
    held = asyncio.create_task(outbound.send("second", "hai"))
    assert [r.params["chat_id"] for r in await zalo.wait_for_held(1)] == ["second"]
    assert await zalo.release_held() == 1
    with pytest.raises(Transient):  # the connection dropped: no answer, worth retrying
        await held

    assert zalo.texts_to("first") == ["một"] and zalo.texts_to("second") == []
    assert zalo.stats.held == 1


async def test_a_long_text_goes_in_parts_cut_on_lines(
    zalo: FakeZalo, api: ZaloApi, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    lines = [f"{n}. " + "việc cần làm " * 10 for n in range(1, 41)]  # ~5,000 characters

    await outbound_of(api, session_factory).send("abc", "\n".join(lines), html=False)

    parts = zalo.texts_to("abc")
    assert len(parts) == 3 and all(len(part) <= 2000 for part in parts)
    assert "\n".join(parts).split("\n") == lines  # nothing lost, every cut on a line end


async def test_html_meant_for_telegram_is_taken_out(
    zalo: FakeZalo, api: ZaloApi, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await outbound_of(api, session_factory).send("abc", "<b>Mục 3.1.3</b> &amp; 60%", html=True)

    assert zalo.texts_to("abc") == ["Mục 3.1.3 & 60%"]


# --- the channel: inbox, events, answers -------------------------------------------------------


async def test_each_update_is_in_the_inbox_before_it_is_handled(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    zalo: FakeZalo,
    api: ZaloApi,
) -> None:
    seen_in_inbox: list[int] = []

    async def check(event: Inbound, channel: ZaloChannel) -> None:
        async with session_factory() as session:
            count = select(func.count()).where(ZaloInbox.message_id == str(event.event_id))
            seen_in_inbox.append(int(await session.scalar(count) or 0))
        await recorder(event, channel)

    recorder = Recorder()
    channel = channel_for(settings, session_factory, api, check)
    user = zalo.user("u-1", "Chị Lan")
    message_id = zalo.send_text(user, "/viec 3.1 tuần này")

    await channel.start()
    try:
        await recorder.wait_for(1)
    finally:
        await channel.stop()

    event = recorder.events[0]
    assert seen_in_inbox == [1]
    assert (event.channel, event.user_id, event.chat_id) == ("zalo", "u-1", "u-1")
    assert event.display_name == "Chị Lan" and str(event.event_id) == message_id
    assert (event.command, event.args) == ("viec", ("3.1", "tuần", "này"))
    rows = await inbox(session_factory)
    assert [row.message_id for row in rows] == [message_id] and rows[0].handled_at is not None
    assert rows[0].bot == zalo.bot_id and rows[0].raw["event_name"] == "message.text.received"


async def test_a_message_delivered_twice_is_handled_once(
    zalo: FakeZalo,
    api: ZaloApi,
    channel: ZaloChannel,
    recorder: Recorder,
) -> None:
    message_id = zalo.send_text(zalo.user(), "ABCD2345")

    first = await api.get_update()
    zalo.redeliver(message_id)
    again = await api.get_update()
    assert first is not None and again == first
    kept = [await channel.keep(first), await channel.keep(again)]
    handled = await channel.handle_inbox()

    assert isinstance(kept[0], int) and kept[1] is None
    assert handled == 1 and len(recorder.events) == 1
    assert recorder.events[0].text == "ABCD2345"
    assert len(await inbox(channel.app.sessions)) == 1


async def test_two_processes_polling_one_bot_handle_each_message_once(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    zalo: FakeZalo,
    api: ZaloApi,
) -> None:
    shared = Recorder()
    async with ZaloApi(zalo.token, base_url=zalo.base_url) as other_api:
        first = channel_for(settings, session_factory, api, shared)
        second = channel_for(settings, session_factory, other_api, shared)
        await first.start()
        await second.start()
        user = zalo.user()
        sent = [zalo.send_text(user, f"tin {n}") for n in range(12)]
        try:
            await shared.wait_for(12)
        finally:
            await first.stop()
            await second.stop()

    assert sorted(str(e.event_id) for e in shared.events) == sorted(sent)
    rows = await inbox(session_factory)
    assert len(rows) == 12 and all(row.handled_at is not None for row in rows)


async def test_a_message_left_in_the_inbox_is_handled_after_a_restart(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    zalo: FakeZalo,
    api: ZaloApi,
) -> None:
    dying = Recorder()
    dying.hang = True  # the process dies while handling: never marked handled
    first = channel_for(settings, session_factory, api, dying)
    message_id = zalo.send_text(zalo.user(), "/quahan")
    await first.start()
    await dying.wait_for(1)
    await first.stop(grace=0)  # killed mid-handling
    assert (await inbox(session_factory))[0].handled_at is None

    restarted = Recorder()
    async with ZaloApi(zalo.token, base_url=zalo.base_url) as fresh_api:
        second = channel_for(settings, session_factory, fresh_api, restarted)
        await second.start()  # handles what the inbox kept before polling
        await second.stop()

    assert [str(e.event_id) for e in restarted.events] == [message_id]
    assert restarted.events[0].command == "quahan"
    assert (await inbox(session_factory))[0].handled_at is not None
    assert len(zalo.calls("getUpdates")) >= 1  # the message came once from Zalo


async def test_start_deletes_a_webhook_so_that_polling_works(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    zalo: FakeZalo,
    api: ZaloApi,
) -> None:
    await api.set_webhook("https://example.org/zalo", "a-secret-of-32-characters-000000")
    recorder = Recorder()
    channel = channel_for(settings, session_factory, api, recorder)
    zalo.send_text(zalo.user(), "xin chào")

    await channel.start()
    try:
        await recorder.wait_for(1)
    finally:
        await channel.stop()

    assert zalo.webhook is None and zalo.calls("deleteWebhook")
    polls = zalo.calls("getUpdates")
    assert polls[0].status == 200 and all(call.status != 400 for call in polls)  # no conflict


async def test_polling_backs_off_through_a_5xx_storm_and_goes_on(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    zalo: FakeZalo,
    api: ZaloApi,
    caplog: pytest.LogCaptureFixture,
) -> None:
    waits: list[float] = []

    async def record_wait(seconds: float) -> None:
        waits.append(seconds)

    recorder = Recorder()
    channel = ZaloChannel(
        app=AppState(settings=settings, sessions=session_factory),
        api=api,
        dispatch=recorder,
        sleep=record_wait,
    )
    zalo.fail_next(3, status=502, methods=frozenset({"getUpdates"}))
    message_id = zalo.send_text(zalo.user(), "xin chào")

    await channel.start()
    try:
        await recorder.wait_for(1)
    finally:
        await channel.stop()

    assert [call.status for call in zalo.calls("getUpdates")[:4]] == [502, 502, 502, 200]
    assert waits == [2.0, 4.0, 8.0]
    assert str(recorder.events[0].event_id) == message_id
    assert "getUpdates: 502" in caplog.text and zalo.token not in caplog.text


@handler(ANYONE)
async def keep_photo(event: Inbound, request: Request) -> Fetch:
    """A feature that stores the photo it is sent, as the evidence feature does (test only)."""

    async def finish(request: Request, paths: list[Path]) -> Reply:
        kept_photos.append(paths[0].read_bytes())
        return Reply("Đã lưu ảnh.")

    return Fetch(list(event.files), finish, limit=PHOTO_LIMIT)


kept_photos: list[bytes] = []
PHOTO_LIMIT = 1024


@pytest.mark.parametrize("case", ["kept", "expired", "too big"])
async def test_a_photo_is_downloaded_at_once_or_asked_again(
    case: str,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    zalo: FakeZalo,
    api: ZaloApi,
) -> None:
    kept_photos.clear()
    channel = channel_for(settings, session_factory, api, keep_photo)
    user = zalo.user("u-photo")
    content = b"x" * (PHOTO_LIMIT + 1) if case == "too big" else TINY_PNG
    message_id = zalo.send_photo(user, "3.1.3", content=content)
    if case == "expired":
        zalo.expire_photo(message_id)

    event = to_inbound(await receive_one(channel, api))

    assert event is not None and event.caption == "3.1.3"
    assert event.files[0].kind == PHOTO and event.files[0].handle.endswith(".jpg")
    expected = {
        "kept": "Đã lưu ảnh.",
        "expired": texts.ZALO_PHOTO_EXPIRED,
        "too big": texts.FILE_TOO_BIG,
    }[case]
    assert zalo.texts_to("u-photo") == [expected]
    assert kept_photos == ([TINY_PNG] if case == "kept" else [])
    incoming = settings.evidence_dir / INCOMING_DIR
    assert incoming.is_dir() and not any(incoming.iterdir())  # nothing left behind
    async with session_factory() as session:  # the event was claimed: a redelivery is a no-op
        claimed = await session.scalar(select(func.count()).select_from(ProcessedUpdate))
    assert claimed == 1


def test_the_sender_name_is_read_from_either_documented_field() -> None:
    def update(sender: dict[str, Any]) -> dict[str, Any]:
        message = {"from": sender, "chat": {"id": "c1", "chat_type": "PRIVATE"}}
        return {"event_name": "message.text.received", "message": {**message, "text": "hi"}}

    webhook_style = to_inbound(update({"id": "u1", "display_name": "Ted", "is_bot": False}))
    sample_style = to_inbound(update({"id": "u1", "first_name": "Nguyen Van A"}))

    assert webhook_style is not None and webhook_style.display_name == "Ted"
    assert sample_style is not None and sample_style.display_name == "Nguyen Van A"
    assert str(sample_style.event_id).startswith("sha256:")  # no message id: a digest


@pytest.mark.parametrize(
    ("send", "answer"),
    [
        ("sticker", texts.ZALO_STICKER),
        ("voice", texts.ZALO_VOICE),
        ("unsupported", texts.ZALO_UNSUPPORTED),
    ],
)
async def test_what_the_bot_cannot_take_gets_a_friendly_answer(
    send: str,
    answer: str,
    zalo: FakeZalo,
    api: ZaloApi,
    channel: ZaloChannel,
    recorder: Recorder,
) -> None:
    user = zalo.user("u-sticker")
    getattr(zalo, f"send_{send}")(user)

    await receive_one(channel, api)

    assert zalo.texts_to("u-sticker") == [answer]
    assert "chưa hỗ trợ" in answer
    assert recorder.events == []


@pytest.mark.parametrize("send", ["text", "photo", "sticker"])
async def test_a_group_chat_gets_one_polite_line_and_nothing_else(
    send: str,
    zalo: FakeZalo,
    api: ZaloApi,
    channel: ZaloChannel,
    recorder: Recorder,
) -> None:
    user = zalo.user("u-member")
    if send == "text":
        zalo.send_text(user, "/viec", group="g-commune")
    else:
        getattr(zalo, f"send_{send}")(user, group="g-commune")

    await receive_one(channel, api)

    assert zalo.texts_to("g-commune") == [texts.PRIVATE_ONLY]
    assert zalo.texts_to("u-member") == []
    assert recorder.events == []
    async with channel.app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ProcessedUpdate)) == 0


async def test_a_stranger_gets_the_stranger_answer_through_the_real_routing(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    zalo: FakeZalo,
    api: ZaloApi,
) -> None:
    channel = channel_for(settings, session_factory, api)  # handlers.route, the real features
    zalo.send_text(zalo.user("u-stranger"), "/viec")

    await channel.start()
    try:
        reply = await zalo.wait_for(lambda m: m.chat_id == "u-stranger")
    finally:
        await channel.stop()

    assert reply.text == texts.STRANGER
    async with session_factory() as session:
        claims = (await session.scalars(select(ProcessedUpdate.channel))).all()
    assert claims == ["zalo"]
