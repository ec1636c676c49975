"""Province users (Sở Nội vụ) in chat: `python -m bot province add` prints an invite, the
invite links a chat account (Telegram's deep link, or the code typed on a channel without
links), /web gives a link to the province page, and nothing else is theirs.

Through the real parts: the command line (bot.cli.main) on the test database, the bot
polling the fake Bot API, the local text channel, and the web server over HTTP.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import texts
from bot.settings import Settings
from channels.local import LOCAL
from core.accounts import channel_label
from core.officers import INVITE_ALPHABET, INVITE_CODE_LENGTH, InviteError
from storage.models import AuditLog, ChannelAccount, ProcessedUpdate, ProvinceInvite, WebLogin
from tests.e2e import BotUnderTest, running_bot
from tests.e2e_support import say
from tests.test_cli_web import cli
from tests.text_world import TextWorld, text_world
from web.server import WebServer, build_web_app

Sessions = async_sessionmaker[AsyncSession]
BOT = "dondoc_test_bot"
BASE = "http://dondoc.example.vn"  # http: the session cookie is Secure on https
WEB = {"public_base_url": BASE, "web_secret": SecretStr("s" * 40)}
NAME = "Sở Nội vụ"
PROVINCE, OTHER = 4001, 4002  # Telegram ids
CODE = re.compile(rf"^Mã: ([{INVITE_ALPHABET}]{{{INVITE_CODE_LENGTH}}})$", re.MULTILINE)
LINK = re.compile(rf"^Đường dẫn: https://t\.me/{BOT}\?start=(\w+)$", re.MULTILINE)
# Commands of officers, managers and admins, plain text, a code-shaped word, no command.
NOT_THEIRS = ("/viec", "/tonghop", "/moi VPTK Lan", "/kehoach", "/capnhat 1.1 50", "/kenh",
              "xin chào", "ABCD EFGH", "/khongco")  # fmt: skip
LOGIN = re.compile(r"/dangnhap/([A-Za-z0-9_-]{40,})")


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", BOT)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)


async def province_add(capsys: pytest.CaptureFixture[str], name: str = NAME) -> str:
    """``province add``: both forms of one invite, and its expiry; the code."""
    code, out, err = await cli(capsys, "province", "add", name)
    assert (code, err) == (0, ""), err
    assert out.startswith(f"Đã thêm người dùng cấp tỉnh {name}.\nLời mời cho {name} (cấp tỉnh)")
    assert "dùng một lần, hết hạn " in out
    typed, link = CODE.search(out), LINK.search(out)
    assert typed and link, out
    assert typed.group(1) == link.group(1)  # one invite, two forms
    return typed.group(1)


async def rows(sessions: Sessions) -> dict[str, int]:
    """What a refused message must not change."""
    counted = {}
    async with sessions() as session:
        for model in (AuditLog, ChannelAccount, ProvinceInvite, WebLogin):
            counted[model.__name__] = await session.scalar(select(func.count()).select_from(model))
    return counted


@asynccontextmanager
async def web_server(bot: BotUnderTest) -> AsyncIterator[str]:
    """The dashboard on a local port, on the bot's database and clock."""
    app = build_web_app(bot.settings, sessions=bot.sessions, clock=bot.clock)
    server = WebServer(app, host="127.0.0.1", port=0)
    await server.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        await server.stop()


async def log_in(client: httpx.AsyncClient, local: str, reply: str) -> httpx.Response:
    """Open the link /web gave (on the local server), press «Đăng nhập», go home."""
    token = LOGIN.search(reply)
    assert token is not None and reply.count(f"{BASE}/dangnhap/") == 1, reply
    link = f"{local}/dangnhap/{token.group(1)}"
    assert "Đăng nhập" in (await client.get(link)).text
    assert (await client.post(link)).status_code == 303
    return await client.get(f"{local}/", follow_redirects=True)


async def test_add_prints_both_forms_and_the_deep_link_opens_the_province_page_by_web(
    capsys: pytest.CaptureFixture[str], cli_env: None, settings: Settings, session_factory: Sessions
) -> None:
    code = await province_add(capsys)
    async with running_bot(settings, session_factory, now=datetime.now(UTC), **WEB) as bot:
        linked = await say(bot, PROVINCE, f"/start {code}")  # what the deep link sends
        assert linked.content.startswith(f"{texts.LINKED}\nXin chào {NAME}!")
        assert "/web" in linked.content
        menu = await bot.tg.wait_for_request(
            "setMyCommands", lambda r: (r.params.get("scope") or {}).get("chat_id") == PROVINCE
        )
        assert {c["command"] for c in menu.params["commands"]} == {"web", "help"}
        assert "đã được dùng" in (await say(bot, OTHER, f"/start {code}")).content
        again = await say(bot, PROVINCE, f"/start {code}")  # a double tap greets again
        assert again.content.startswith(f"{texts.LINKED}\nXin chào {NAME}!")
        web = await say(bot, PROVINCE, "/web")
        assert web.content.startswith("Liên kết đăng nhập trang web")
        async with web_server(bot) as local, httpx.AsyncClient() as client:
            home = await log_in(client, local, web.content)
            assert home.status_code == 200 and str(home.url).endswith("/tinh")
    async with session_factory() as session:
        account = await session.scalar(select(ChannelAccount))
        assert account is not None and account.province_user_id is not None
        assert (account.channel, account.external_id) == ("telegram", str(PROVINCE))


async def test_every_other_command_or_text_is_refused_politely_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], cli_env: None, settings: Settings, session_factory: Sessions
) -> None:
    code = await province_add(capsys)
    async with running_bot(settings, session_factory, now=datetime.now(UTC), **WEB) as bot:
        await say(bot, PROVINCE, code.lower())  # typed alone, in lower case
        helped = await say(bot, PROVINCE, "/help")
        assert helped.content.startswith(texts.HELP_TITLE) and "/web" in helped.content
        assert "/viec" not in helped.content
        before = await rows(session_factory)
        for text in NOT_THEIRS:
            refused = await say(bot, PROVINCE, text)
            assert refused.content == texts.PROVINCE_WEB_ONLY, text
        assert await rows(session_factory) == before
        async with session_factory() as session:
            claimed = await session.scalar(select(func.count()).select_from(ProcessedUpdate))
            assert claimed is not None and claimed >= len(
                NOT_THEIRS
            )  # each was handled once, as a refusal


async def test_a_code_typed_on_the_local_channel_links_and_web_works_there(
    capsys: pytest.CaptureFixture[str], cli_env: None, settings: Settings, session_factory: Sessions
) -> None:
    await province_add(capsys)
    code, out, err = await cli(capsys, "province", "invite", NAME.lower())  # a fresh one
    assert code == 0 and err == "" and "hết hạn" in out
    found = CODE.search(out)
    assert found is not None
    typed = found.group(1)
    web_settings = settings.model_copy(update=WEB)
    world = await text_world(web_settings, session_factory, now=datetime.now(UTC))
    spaced = f"{typed[:4].lower()} {typed[4:]}"
    linked = await world.say("p1", spaced)
    assert linked[0].startswith(f"{texts.linked(channel_label(LOCAL))}\nXin chào {NAME}!")
    assert (await world.say("p1", "/web"))[0].startswith("Liên kết đăng nhập trang web")
    assert await world.say("p1", "/viec") == [texts.PROVINCE_WEB_ONLY]
    assert await world.say("p1", "1") == [texts.PROVINCE_WEB_ONLY]
    code, out, _ = await cli(capsys, "province", "list")
    assert code == 0 and out == f"{NAME}: {channel_label(LOCAL)} p1\n"


async def test_a_used_replaced_or_expired_invite_links_nobody(
    capsys: pytest.CaptureFixture[str], cli_env: None, settings: Settings, session_factory: Sessions
) -> None:
    first = await province_add(capsys)
    _, out, _ = await cli(capsys, "province", "invite", NAME)
    found = CODE.search(out)
    assert found is not None
    second = found.group(1)
    world = await text_world(settings, session_factory, now=datetime.now(UTC))
    replaced = await world.say("p1", first)  # a new invite ends the older one
    assert replaced == [str(InviteError("expired"))]
    world.clock.set(datetime.now(UTC) + timedelta(days=7, minutes=1))
    assert await world.say("p1", second) == [replaced[0]]
    world.clock.set(datetime.now(UTC))
    assert (await world.say("p1", second))[0].startswith(texts.linked(channel_label(LOCAL)))
    used = await world.say("p2", second)
    assert "đã được dùng" in used[0]
    assert await linked_accounts(world) == [("local", "p1")]


async def linked_accounts(world: TextWorld) -> list[tuple[str, str]]:
    async with world.sessions() as session:
        found = await session.execute(
            select(ChannelAccount.channel, ChannelAccount.external_id).where(
                ChannelAccount.province_user_id.is_not(None)
            )
        )
        return [(channel, external_id) for channel, external_id in found.all()]


async def test_deactivation_refuses_chat_and_web(
    capsys: pytest.CaptureFixture[str], cli_env: None, settings: Settings, session_factory: Sessions
) -> None:
    code = await province_add(capsys)
    async with running_bot(settings, session_factory, now=datetime.now(UTC), **WEB) as bot:
        await say(bot, PROVINCE, f"/start {code}")
        web = await say(bot, PROVINCE, "/web")
        async with web_server(bot) as local, httpx.AsyncClient() as client:
            home = await log_in(client, local, web.content)
            assert str(home.url).endswith("/tinh")
            unused = await say(bot, PROVINCE, "/web")  # a link not yet opened
            code_, out, _ = await cli(capsys, "province", "deactivate", NAME)
            assert code_ == 0 and out.startswith(f"Đã tạm ngưng {NAME}")
            refused = await client.get(f"{local}/tinh")
            assert refused.status_code == 403
            assert (await client.get(f"{local}/tinh")).status_code == 401  # session ended
            token = LOGIN.search(unused.content)
            assert token is not None
            link = f"{local}/dangnhap/{token.group(1)}"
            assert (await client.get(link)).status_code == 410
            assert (await client.post(link)).status_code == 410
            for text in ("/web", "/help", "/start", "/viec"):
                assert (await say(bot, PROVINCE, text)).content == texts.INACTIVE, text
    code_, _, err = await cli(capsys, "province", "invite", NAME)
    assert code_ == 2 and "tạm ngưng" in err
    code_, out, _ = await cli(capsys, "province", "list")
    assert out == f"{NAME} (tạm ngưng): Telegram {PROVINCE}\n"


async def test_without_a_bot_username_add_prints_the_code_to_send(
    capsys: pytest.CaptureFixture[str], cli_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_USERNAME")
    code, out, _ = await cli(capsys, "province", "add", NAME)
    assert code == 0 and "chưa biết tên bot" in out
    found = CODE.search(out)
    assert found is not None and f"Người được mời nhắn cho bot: /start {found.group(1)}" in out
