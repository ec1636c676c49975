"""A fake Telegram Bot API server that speaks real HTTP, for end-to-end tests and benchmarks.

The bot under test runs its real python-telegram-bot stack (HTTPX, JSON and multipart encoding,
error mapping, rate limiter) against this server; nothing in PTB is mocked. The test plays the
users' side and inspects what the bot did:

    async with FakeTelegram() as tg:
        app = (ApplicationBuilder().token(tg.token)
               .base_url(tg.base_url).base_file_url(tg.base_file_url).build())
        ...start the app (polling) or call app.process_update(...)...
        await tg.send_text(42, "/start")                      # a user writes to the bot
        reply = await tg.wait_for(lambda m: m.chat_id == 42)  # no sleeping: waits on a Condition
        await tg.press_button(42, reply.message_id, "ok")     # the user presses an inline button
        assert tg.calls("answerCallbackQuery")

The user's side: user, send_text, send_photo, send_document, press_button, inject_raw_update,
redeliver (each returns the update_id), block/unblock, fail_next, force_429, and
hold_sends_after/release_held (sends beyond a budget hang unanswered, to kill a bot mid fan-out).
What the bot did: sent, last, messages_to, edits, requests, calls, commands_for, stats, held,
wait_for, wait_for_request, wait_for_held, wait_until and checkpoint (so a wait ignores what
came before).

Outside an event loop (benchmarks, a bot in a subprocess) use ``url = tg.start_in_thread()`` and
``tg.stop()``. Awaited helpers then hop onto the server's loop by themselves; from synchronous
code, ``tg.submit(tg.send_text(42, "hi"))`` does it. ``python -m tests.fakes.telegram_api
--port N --state FILE`` runs the server as its own process: it prints its URL, journals every
request, update, message and edit to FILE as flushed JSON lines, serves ``GET /_fake/sent``,
and takes the test's side through ``POST /_fake/<helper>`` with a JSON body of the helper's
keyword arguments (file bytes as base64 in ``file_b64``); ``POST /_fake/wait_for_held`` answers
with the number of requests held.

What it checks, as Telegram does: the token (401), text <= 4096 and caption <= 1024 visible
characters, HTML markup when parse_mode is HTML, callback_data <= 64 bytes, command names,
edits of missing or unchanged messages, answering a callback query twice, blocked chats (403),
the 20 MB getFile limit, and (when enabled) flood limits with a 429 ``retry_after``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import html
import json
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NoReturn

from aiohttp import web

from tests.fakes.changes import wait_for_change
from tests.fakes.flood import FloodControl, FloodLimits
from tests.fakes.serving import FakeServer, on_server_loop, serve_main

DEFAULT_TOKEN = "123456789:TEST-dondoc-fake-token"
BOT_USERNAME = "dondoc_test_bot"
BOT_FIRST_NAME = "Đôn đốc (test)"

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # getFile refuses bigger files
MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # what a bot may upload; aiohttp defaults to 1 MB

# Methods that put a new message in front of a user. Flood control, force_429 and (by default)
# fail_next act on these only: edits and callback answers are not "messages" for the 1/s limit.
SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})

# Parameters that carry JSON objects. PTB sends them JSON-encoded inside form fields.
_JSON_FIELDS = frozenset(
    (
        "reply_markup entities caption_entities commands scope allowed_updates "
        "reply_parameters link_preview_options"
    ).split()
)

_CHAT_ACTIONS = frozenset(
    (
        "typing upload_photo record_video upload_video record_voice upload_voice "
        "upload_document choose_sticker find_location record_video_note upload_video_note"
    ).split()
)

# Inline buttons must do something; a bare text button is refused inside an inline keyboard.
_INLINE_BUTTON_ACTIONS = frozenset(
    (
        "callback_data url web_app login_url switch_inline_query "
        "switch_inline_query_current_chat switch_inline_query_chosen_chat copy_text "
        "callback_game pay"
    ).split()
)

_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")

# A one-pixel PNG, the default content of photos users send.
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)

# Widths of the PhotoSize entries Telegram makes for a photo, smallest first.
_PHOTO_WIDTHS = (90, 320, 800, 1280, 2560)

Params = dict[str, Any]


# --------------------------------------------------------------------------- public records


@dataclass(frozen=True)
class FakeUser:
    """A Telegram user on the test's side of the conversation."""

    id: int
    first_name: str = "Người dùng"
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "vi"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if (value := getattr(self, key)) is not None:
                data[key] = value
        return data


@dataclass
class SentMessage:
    """A message the bot sent. Edits change it in place (and are logged in ``tg.edits``)."""

    chat_id: int
    message_id: int
    method: str
    text: str | None = None  # as sent, markup included
    caption: str | None = None
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    reply_to_message_id: int | None = None
    photo: list[dict[str, Any]] | None = None
    document: dict[str, Any] | None = None
    file_bytes: bytes | None = None  # the uploaded photo or document
    timestamp: float = 0.0  # the server's clock (monotonic by default): for latency figures
    date: int = 0  # wall-clock seconds, as in the Message object
    edit_count: int = 0
    deleted: bool = False
    seq: int = 0  # order of the last change, compared with tg.checkpoint()

    @property
    def content(self) -> str:
        """The text, or the caption of a photo or document ("" when there is neither)."""
        return self.text if self.text is not None else (self.caption or "")

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """The inline keyboard's buttons, row by row, flattened."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [button for row in rows for button in row]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        raw = data.pop("file_bytes")
        if raw is not None:
            data["file_size"] = len(raw)
            data["file_sha256"] = hashlib.sha256(raw).hexdigest()
        return data


@dataclass(frozen=True)
class EditRecord:
    chat_id: int
    message_id: int
    method: str
    before_text: str | None
    after_text: str | None
    before_markup: dict[str, Any] | None
    after_markup: dict[str, Any] | None
    timestamp: float


@dataclass
class ApiRequest:
    """One call the bot made. ``params`` show uploads as {"filename", "size"}."""

    method: str
    params: Params
    status: int = 0  # HTTP status of the answer, 0 while it is being handled
    timestamp: float = 0.0
    seq: int = 0


@dataclass
class Stats:
    requests: int = 0
    sent: int = 0
    edited: int = 0
    too_many_requests: int = 0
    forbidden: int = 0
    bad_requests: int = 0
    server_errors: int = 0
    held: int = 0  # send requests held unanswered (hold_sends_after), released or not


@dataclass(frozen=True)
class StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    file_size: int  # may be declared bigger than data, to play a 25 MB file cheaply


# --------------------------------------------------------------------------- errors and params


class ApiError(Exception):
    """A Bot API error answer: ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(self, code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            data["parameters"] = {"retry_after": self.retry_after}
        return data


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def _too_many(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str
    content_type: str
    data: bytes


class _Params:
    """Typed access to request parameters, which arrive as JSON values or as form strings."""

    def __init__(self, raw: Params) -> None:
        self.raw = raw

    def has(self, key: str) -> bool:
        return self.raw.get(key) not in (None, "")

    def opt_int(self, key: str) -> int | None:
        value = self.raw.get(key)
        if value in (None, ""):
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad(f"invalid {key} specified") from None

    def req_int(self, key: str) -> int:
        value = self.opt_int(key)
        if value is None:
            raise _bad(f"{key} is empty")
        return value

    def opt_float(self, key: str) -> float | None:
        value = self.raw.get(key)
        if value in (None, ""):
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _bad(f"invalid {key} specified") from None

    def opt_str(self, key: str) -> str | None:
        value = self.raw.get(key)
        return None if value is None else str(value)

    def opt_bool(self, key: str) -> bool:
        value = self.raw.get(key)
        return value is True or str(value).lower() in ("true", "1")

    def opt_dict(self, key: str) -> dict[str, Any] | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise _bad(f"can't parse {key} JSON object")
        return value

    def chat_id(self) -> int:
        value = self.raw.get("chat_id")
        if value in (None, ""):
            raise _bad("chat_id is empty")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad("chat not found") from None  # "@channel" names: no channels here

    def reply_to(self) -> int | None:
        """PTB 21+ sends reply_parameters; older clients send reply_to_message_id."""
        reply = self.opt_dict("reply_parameters")
        if reply is not None and "message_id" in reply:
            return int(reply["message_id"])
        return self.opt_int("reply_to_message_id")


async def _read_params(request: web.Request) -> Params:
    """Query string plus a JSON, urlencoded or multipart body, JSON fields decoded."""
    params: Params = dict(request.query)
    if request.content_type == "application/json":
        body = await request.read()
        if body:
            try:
                data = json.loads(body)
            except ValueError:
                raise _bad("can't parse JSON body") from None
            if not isinstance(data, dict):
                raise _bad("JSON body must be an object")
            params.update(data)
    elif request.body_exists:
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                params[key] = Upload(value.filename, value.content_type, value.file.read())
            elif isinstance(value, bytes | bytearray):
                params[key] = bytes(value).decode()
            else:
                params[key] = value
    for key in _JSON_FIELDS & params.keys():
        if isinstance(params[key], str):
            try:
                params[key] = json.loads(params[key])
            except ValueError:
                raise _bad(f"can't parse {key} JSON object") from None
    return params


def _loggable(params: Params) -> Params:
    """Params with uploads replaced by a small description, fit for records and JSON."""
    return {
        key: {"filename": v.filename, "size": len(v.data)} if isinstance(v, Upload) else v
        for key, v in params.items()
    }


# --------------------------------------------------------------------------- text checks

_HTML_TAGS = frozenset(
    ("b strong i em u ins s strike del span tg-spoiler a code pre blockquote tg-emoji").split()
)
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)(\s[^<>]*)?>")


def visible_text(text: str, parse_mode: str | None) -> str:
    """What the user sees, checking HTML as Telegram does (unknown or unbalanced tags, or a
    bare "<", are refused). Other parse modes are not checked: their text is counted as is."""
    if (parse_mode or "").upper() != "HTML":
        return text
    stack: list[str] = []
    plain: list[str] = []
    pos = 0
    while (start := text.find("<", pos)) != -1:
        plain.append(text[pos:start])
        offset = len(text[:start].encode())
        match = _TAG_RE.match(text, start)
        if match is None or match.group(2).lower() not in _HTML_TAGS:
            name = match.group(2) if match else text[start + 1 : start + 11].split(">")[0]
            raise _bad(
                f'can\'t parse entities: Unsupported start tag "{name}" at byte offset {offset}'
            )
        name = match.group(2).lower()
        if match.group(1):  # closing tag
            if not stack or stack[-1] != name:
                expected = f"</{stack[-1]}>" if stack else "nothing"
                raise _bad(
                    f"can't parse entities: Unmatched end tag at byte offset {offset}, "
                    f'expected "{expected}", found "</{name}>"'
                )
            stack.pop()
        else:
            stack.append(name)
        pos = match.end()
    plain.append(text[pos:])
    if stack:
        raise _bad(
            f"can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1]}\""
        )
    return html.unescape("".join(plain))


def _check_reply_markup(markup: dict[str, Any] | None) -> None:
    if markup is None or "inline_keyboard" not in markup:
        return  # reply keyboards, keyboard removal and force_reply are stored as they are
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad('can\'t parse inline keyboard: field "inline_keyboard" must be an Array')
    for button in (b for row in rows for b in row):
        if not isinstance(button, dict) or not button.get("text"):
            raise _bad("can't parse inline keyboard button: Text must be non-empty")
        if not _INLINE_BUTTON_ACTIONS & button.keys():
            raise _bad(
                "can't parse inline keyboard button: Text buttons are unallowed in the "
                "inline keyboard"
            )
        data = button.get("callback_data")
        if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
            raise _bad("BUTTON_DATA_INVALID")


def _utf16_len(text: str) -> int:
    """Entity offsets and lengths are counted in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------- the server


class FakeTelegram(FakeServer):
    """The fake server and all its state. See the module docstring for how a test drives it."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        port: int = 0,
        flood: FloodLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
        journal: str | Path | None = None,
    ) -> None:
        super().__init__(port=port, journal=journal)
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.clock = clock
        self.flood = FloodControl(flood, clock) if flood is not None else None

        # What the test inspects.
        self.requests: list[ApiRequest] = []
        self.edits: list[EditRecord] = []
        self.stats = Stats()
        self.webhook: dict[str, Any] | None = None
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}

        self._messages: list[SentMessage] = []
        self._by_key: dict[tuple[int, int], SentMessage] = {}
        self._next_message_id: dict[int, int] = {}  # per chat, shared by users and bot
        self._users: dict[int, FakeUser] = {}
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._blocked: set[int] = set()
        self._open_callbacks: set[str] = set()
        self._callback_counter = 0

        # Updates: all ever injected (for redeliver), those not yet confirmed by an offset,
        # and duplicates queued by redeliver, which ignore the offset as a restarted
        # Telegram delivery would.
        self._updates: dict[int, dict[str, Any]] = {}
        self._pending: list[dict[str, Any]] = []
        self._redeliveries: deque[dict[str, Any]] = deque()
        self._next_update_id = 100_001
        self._poll_generation = 0

        # Injected failures.
        self._fail_queue: deque[tuple[int, frozenset[str]]] = deque()
        self._force_429: deque[int] = deque()
        # Holding: sends still accepted before the fake starts holding them (None: no hold),
        # the requests held now, and the event that releases them.
        self._hold_budget: int | None = None
        self.held: list[ApiRequest] = []
        self._release = asyncio.Event()

        # The dispatch table. Telegram's method names are case-insensitive: look-ups use the
        # lower-case name, records the canonical spelling.
        methods: dict[str, Callable[[_Params], Awaitable[Any]]] = {
            "getMe": self._get_me,
            "logOut": self._ok,
            "close": self._ok,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendChatAction": self._send_chat_action,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getFile": self._get_file,
        }
        self._handlers = {name.lower(): handler for name, handler in methods.items()}
        self._canonical = {name.lower(): name for name in methods}

    # ----------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        """For ApplicationBuilder().base_url(...) and Bot(base_url=...)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    thread_name = "fake-telegram"
    client_max_size = MAX_UPLOAD_BYTES + 1024 * 1024

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_download)

    async def _before_stop(self) -> None:
        self._release_held()  # held requests end unanswered; none is recorded as sent

    # ----------------------------------------------------------------- test side: users

    def user(
        self,
        id: int,
        first_name: str = "Người dùng",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "vi",
    ) -> FakeUser:
        """Registers (or replaces) a user; helpers also accept a bare id for unknown users."""
        user = FakeUser(id, first_name, last_name, username, language_code)
        self._users[id] = user
        return user

    def _resolve_user(self, user: int | FakeUser) -> FakeUser:
        if isinstance(user, FakeUser):
            self._users.setdefault(user.id, user)
            return user
        return self._users.get(user) or self.user(user, f"Người dùng {user}")

    def block(self, chat_id: int) -> None:
        """The user blocks the bot: every method aimed at this chat answers 403."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self._blocked.discard(chat_id)

    # ----------------------------------------------------------------- test side: updates

    @on_server_loop
    async def send_text(
        self,
        user: int | FakeUser,
        text: str,
        *,
        chat_id: int | None = None,
        reply_to_message_id: int | None = None,
    ) -> int:
        """A user writes text (in their private chat unless chat_id says otherwise).
        A leading /command gets its bot_command entity. Returns the update_id."""
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(command)}
            ]
        return await self._user_message(user, chat_id, reply_to_message_id, content)

    @on_server_loop
    async def send_photo(
        self,
        user: int | FakeUser,
        *,
        caption: str | None = None,
        sizes: int = 3,
        file_bytes: bytes = TINY_PNG,
        media_group_id: str | None = None,
        chat_id: int | None = None,
        reply_to_message_id: int | None = None,
    ) -> int:
        """A user sends a photo. Its sizes share one file_unique_id (the same bytes give the
        same one) and each downloads as file_bytes. Returns the update_id."""
        content: dict[str, Any] = {"photo": self._photo_sizes(file_bytes, sizes)}
        if caption is not None:
            content["caption"] = caption
        if media_group_id is not None:
            content["media_group_id"] = media_group_id
        return await self._user_message(user, chat_id, reply_to_message_id, content)

    @on_server_loop
    async def send_document(
        self,
        user: int | FakeUser,
        file_bytes: bytes,
        file_name: str,
        mime_type: str,
        *,
        caption: str | None = None,
        reply_to_message_id: int | None = None,
        file_size: int | None = None,
        chat_id: int | None = None,
    ) -> int:
        """A user sends a file. file_size may be declared bigger than file_bytes to play a file
        over getFile's 20 MB limit without allocating it. Returns the update_id."""
        stored = self._store_file("documents", file_bytes, _suffix(file_name), file_size)
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": stored.file_size,
        }
        content: dict[str, Any] = {"document": document}
        if caption is not None:
            content["caption"] = caption
        return await self._user_message(user, chat_id, reply_to_message_id, content)

    @on_server_loop
    async def press_button(
        self,
        user: int | FakeUser,
        message_id: int,
        data: str,
        *,
        chat_id: int | None = None,
        strict: bool = True,
    ) -> int:
        """A user presses an inline button of a message the bot sent. With strict, data must
        be one of the message's current callback_data values, as a real client guarantees;
        strict=False plays a forged or stale press. Returns the update_id."""
        sender = self._resolve_user(user)
        chat = chat_id if chat_id is not None else sender.id
        message = self._by_key.get((chat, message_id))
        if message is None or message.deleted:
            raise LookupError(f"the bot sent no message {message_id} to chat {chat}")
        offered = [b.get("callback_data") for b in message.buttons]
        if strict and data not in offered:
            raise ValueError(f"message {message_id} offers no button {data!r}; it has {offered}")
        self._callback_counter += 1
        query_id = f"{self.bot_id}{self._callback_counter:06d}"
        self._open_callbacks.add(query_id)
        query = {
            "id": query_id,
            "from": sender.to_json(),
            "chat_instance": str(abs(hash(("chat", chat))) % 10**12),
            "data": data,
            "message": self._message_json(message),
        }
        return await self.inject_raw_update({"callback_query": query})

    @on_server_loop
    async def inject_raw_update(self, update: dict[str, Any]) -> int:
        """Queues any update; an update_id is assigned unless given. Returns the update_id."""
        update = dict(update)
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        update_id = int(update["update_id"])
        self._next_update_id = max(self._next_update_id, update_id + 1)
        self._updates[update_id] = update
        self._pending.append(update)
        self._pending.sort(key=lambda u: int(u["update_id"]))
        self._write_journal("update", update=update)
        await self._notify()
        return update_id

    @on_server_loop
    async def redeliver(self, update_id: int) -> None:
        """Delivers an update again, with the same update_id, even if it was confirmed: what
        Telegram does after a bot restart or a slow webhook."""
        if update_id not in self._updates:
            raise KeyError(f"no update {update_id} was ever injected")
        self._redeliveries.append(json.loads(json.dumps(self._updates[update_id])))
        self._write_journal("redeliver", update_id=update_id)
        await self._notify()

    def update(self, update_id: int) -> dict[str, Any]:
        """The JSON of an injected update, e.g. for Update.de_json(tg.update(uid), bot)."""
        return self._updates[update_id]

    @property
    def pending_update_count(self) -> int:
        """Updates not yet confirmed by a getUpdates offset."""
        return len(self._pending) + len(self._redeliveries)

    async def _user_message(
        self,
        user: int | FakeUser,
        chat_id: int | None,
        reply_to_message_id: int | None,
        content: dict[str, Any],
    ) -> int:
        sender = self._resolve_user(user)
        chat = chat_id if chat_id is not None else sender.id
        message: dict[str, Any] = {
            "message_id": self._new_message_id(chat),
            "from": sender.to_json(),
            "chat": self._chat_json(chat),
            "date": int(time.time()),
            **content,
        }
        if reply_to_message_id is not None:
            replied = self._by_key.get((chat, reply_to_message_id))
            if replied is None:
                raise LookupError(f"the bot sent no message {reply_to_message_id} to {chat}")
            message["reply_to_message"] = self._message_json(replied)
        return await self.inject_raw_update({"message": message})

    # ----------------------------------------------------------------- test side: failures

    def fail_next(
        self, n: int = 1, *, status: int = 500, methods: Iterable[str] | None = None
    ) -> None:
        """The next n calls of methods (default: the send methods) fail with a 5xx."""
        names = frozenset(m.lower() for m in (methods or SEND_METHODS))
        self._fail_queue.extend([(status, names)] * n)

    def force_429(self, n: int = 1, *, retry_after: int = 1) -> None:
        """The next n send requests get 429 with this retry_after, whatever the flood limits."""
        self._force_429.extend([retry_after] * n)

    def hold_sends_after(self, n: int = 0) -> None:
        """Accept n more sends (sendMessage, sendPhoto, sendDocument), then hold every later
        send request: it is kept waiting, never answered and never recorded as sent (it is in
        ``requests`` and ``held`` with status 0; 499 once released). A bot can thus be killed
        at a known point of a fan-out (see wait_for_held). release_held ends the hold."""
        if n < 0:
            raise ValueError("n must be >= 0")
        self._hold_budget = n

    @on_server_loop
    async def release_held(self) -> int:
        """Stop holding; drop every held request's connection without an answer (so it is
        never recorded as sent, whether or not its client is still alive). Returns how many
        were held."""
        count = self._release_held()
        await self._notify()
        return count

    def _release_held(self) -> int:
        count = len(self.held)
        self._hold_budget = None
        self._release.set()
        self._release = asyncio.Event()  # for a later hold
        self.held = []
        return count

    def _holding(self) -> bool:
        return self._hold_budget is not None and self._hold_budget <= 0

    async def _hold(self, request: web.Request, record: ApiRequest) -> NoReturn:
        release = self._release
        self.held.append(record)
        self.stats.held += 1
        await self._notify()
        await release.wait()
        record.status = 499  # nginx's "client closed request": there was no answer
        self._write_journal("request", **asdict(record))
        if request.transport is not None:
            request.transport.abort()  # the client sees a dropped connection, not an answer
        raise asyncio.CancelledError  # aiohttp's way for a handler whose client is gone

    # ----------------------------------------------------------------- test side: inspection

    def sent(self, chat_id: int | None = None) -> list[SentMessage]:
        """The bot's messages in the order sent, edits applied (deleted ones flagged)."""
        return [m for m in self._messages if chat_id is None or m.chat_id == chat_id]

    def last(self, chat_id: int) -> SentMessage:
        for message in reversed(self._messages):
            if message.chat_id == chat_id:
                return message
        raise LookupError(f"the bot sent nothing to chat {chat_id}")

    def messages_to(self, chat_id: int) -> list[str]:
        """The texts (or captions) of the bot's live messages to a chat, for quick asserts."""
        return [m.content for m in self._messages if m.chat_id == chat_id and not m.deleted]

    def calls(self, method: str) -> list[ApiRequest]:
        """Requests for one method (any spelling), whatever their outcome."""
        wanted = method.lower()
        return [r for r in self.requests if r.method.lower() == wanted]

    def commands_for(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        """The command menu set for a scope (default scope when None) and language."""
        return self.commands.get((_scope_key(scope), language_code), [])

    def checkpoint(self) -> int:
        """A marker: wait_for(..., after=marker) ignores what was sent or edited before it."""
        return self._seq

    @on_server_loop
    async def wait_for(
        self,
        predicate: Callable[[SentMessage], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - the familiar spelling for a test helper
        *,
        after: int | None = None,
    ) -> SentMessage:
        """Waits (on a Condition, no polling) for a bot message satisfying predicate, already
        sent or still to come, and returns the first one. TimeoutError lists what was sent."""
        found: list[SentMessage] = []

        def match() -> bool:
            found.extend(
                m for m in self._messages if (after is None or m.seq > after) and predicate(m)
            )
            return bool(found)

        if not await self._wait(match, timeout):
            sent = [(m.chat_id, m.message_id, m.content[:60]) for m in self._messages]
            raise TimeoutError(f"no bot message matched within {timeout}s; sent: {sent}")
        return found[0]

    @on_server_loop
    async def wait_for_request(
        self,
        method: str,
        predicate: Callable[[ApiRequest], bool] = lambda r: True,
        timeout: float = 5.0,  # noqa: ASYNC109 - the familiar spelling for a test helper
        *,
        after: int | None = None,
        finished: bool = True,
    ) -> ApiRequest:
        """Waits for a call of method (e.g. "answerCallbackQuery") and returns it: an answered
        one, or with finished=False also one still in progress (a long poll, say)."""
        wanted = method.lower()
        found: list[ApiRequest] = []

        def match() -> bool:
            found.extend(
                r
                for r in self.requests
                if r.method.lower() == wanted
                and (r.status or not finished)
                and (after is None or r.seq > after)
                and predicate(r)
            )
            return bool(found)

        if not await self._wait(match, timeout):
            raise TimeoutError(f"no {method} request within {timeout}s")
        return found[0]

    @on_server_loop
    async def wait_for_held(
        self,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - the familiar spelling for a test helper
    ) -> list[ApiRequest]:
        """Waits until at least count send requests are being held (hold_sends_after) and
        returns those held so far."""
        if not await self._wait(lambda: len(self.held) >= count, timeout):
            raise TimeoutError(f"{len(self.held)} requests held after {timeout}s, not {count}")
        return list(self.held)

    @on_server_loop
    async def wait_until(
        self,
        condition: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - the familiar spelling for a test helper
    ) -> None:
        """Waits until condition() holds, checking it on the server's loop after every change
        (e.g. "every chat has a message"); TimeoutError otherwise."""
        if not await self._wait(condition, timeout):
            raise TimeoutError(f"condition not met within {timeout}s")

    async def _wait(self, condition: Callable[[], bool], seconds: float) -> bool:
        return await wait_for_change(self._changed, condition, seconds)

    # ----------------------------------------------------------------- HTTP: Bot API

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").payload(), status=401)
        asked = request.match_info["method"]
        method = self._canonical.get(asked.lower(), asked)
        error: ApiError | None = None
        try:
            raw = await _read_params(request)
        except ApiError as err:  # answered below, once the request is on record
            raw, error = {}, err
        record = ApiRequest(method, _loggable(raw), timestamp=self.clock(), seq=self._bump())
        self.requests.append(record)
        self.stats.requests += 1
        if error is None and method in SEND_METHODS and self._holding():
            return await self._hold(request, record)
        try:
            if error is not None:
                raise error
            handler = self._handlers.get(method.lower())
            if handler is None:
                raise ApiError(404, "Not Found")
            params = _Params(raw)
            self._check_injected_failures(method, params)
            result = await handler(params)
        except ApiError as err:
            self._count_error(err)
            record.status = err.code
            response = web.json_response(err.payload(), status=err.code)
        else:
            record.status = 200
            response = web.json_response({"ok": True, "result": result})
        self._write_journal("request", **asdict(record))
        await self._notify()
        return response

    def _check_injected_failures(self, method: str, params: _Params) -> None:
        """Failures the test arranged, checked before the method runs; none is recorded as
        sent, as with Telegram, where a refused request had no effect."""
        if self._fail_queue and method.lower() in self._fail_queue[0][1]:
            status, _ = self._fail_queue.popleft()
            description = "Bad Gateway" if status == 502 else "Internal Server Error"
            raise ApiError(status, description)
        chat_id = _lenient_int(params.raw.get("chat_id"))
        if method in SEND_METHODS:
            if self._force_429:
                raise _too_many(self._force_429.popleft())
            if self.flood is not None and (wait := self.flood.retry_after(chat_id)) is not None:
                raise _too_many(wait)
        if chat_id is not None and chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")

    def _count_error(self, err: ApiError) -> None:
        if err.code == 429:
            self.stats.too_many_requests += 1
        elif err.code == 403:
            self.stats.forbidden += 1
        elif err.code == 400:
            self.stats.bad_requests += 1
        elif err.code >= 500:
            self.stats.server_errors += 1

    async def _handle_download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").payload(), status=401)
        stored = self._files_by_path.get(request.match_info["path"])
        if stored is None:
            return web.json_response(ApiError(404, "Not Found").payload(), status=404)
        return web.Response(body=stored.data, content_type="application/octet-stream")

    # ----------------------------------------------------------------- methods: bot and updates

    async def _ok(self, p: _Params) -> bool:
        return True

    async def _get_me(self, p: _Params) -> dict[str, Any]:
        return {
            **self._bot_json(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _set_webhook(self, p: _Params) -> bool:
        url = p.opt_str("url") or ""
        # Setting an empty URL is how the API removes a webhook.
        self.webhook = {"url": url, "secret_token": p.opt_str("secret_token")} if url else None
        return True

    async def _delete_webhook(self, p: _Params) -> bool:
        self.webhook = None
        if p.opt_bool("drop_pending_updates"):
            self._pending.clear()
            self._redeliveries.clear()
        return True

    async def _get_webhook_info(self, p: _Params) -> dict[str, Any]:
        return {
            "url": (self.webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": self.pending_update_count,
        }

    async def _get_updates(self, p: _Params) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = p.opt_int("offset")
        limit = min(max(p.opt_int("limit") or 100, 1), 100)
        timeout = max(p.opt_float("timeout") or 0.0, 0.0)
        if offset:  # updates below the offset are confirmed and forgotten
            self._pending = [u for u in self._pending if int(u["update_id"]) >= offset]
        # A newer poll ends an older one with 409, as Telegram does; this also retires a poll
        # whose client went away, so it cannot swallow redelivered updates.
        self._poll_generation += 1
        generation = self._poll_generation
        await self._notify()
        await self._wait(
            lambda: (
                bool(self._pending or self._redeliveries)
                or self._closing
                or self._poll_generation != generation
            ),
            timeout,
        )
        if self._poll_generation != generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        batch: list[dict[str, Any]] = []
        while self._redeliveries and len(batch) < limit:
            batch.append(self._redeliveries.popleft())
        batch.extend(self._pending[: limit - len(batch)])
        return batch

    # ----------------------------------------------------------------- methods: messages

    async def _send_message(self, p: _Params) -> dict[str, Any]:
        chat_id = p.chat_id()
        text = p.opt_str("text")
        parse_mode = p.opt_str("parse_mode")
        self._check_text(text, parse_mode)
        markup = p.opt_dict("reply_markup")
        _check_reply_markup(markup)
        message = self._record_sent(
            "sendMessage",
            chat_id,
            text=text,
            parse_mode=parse_mode,
            reply_markup=markup,
            reply_to_message_id=p.reply_to(),
        )
        return self._message_json(message)

    async def _send_photo(self, p: _Params) -> dict[str, Any]:
        chat_id = p.chat_id()
        caption, parse_mode, markup = self._caption_and_markup(p)
        data = self._input_file(p, "photo")
        message = self._record_sent(
            "sendPhoto",
            chat_id,
            caption=caption,
            parse_mode=parse_mode,
            reply_markup=markup,
            reply_to_message_id=p.reply_to(),
            photo=self._photo_sizes(data, 2),
            file_bytes=data,
        )
        return self._message_json(message)

    async def _send_document(self, p: _Params) -> dict[str, Any]:
        chat_id = p.chat_id()
        caption, parse_mode, markup = self._caption_and_markup(p)
        upload = p.raw.get("document")
        data = self._input_file(p, "document")
        name = upload.filename if isinstance(upload, Upload) else "document"
        mime = upload.content_type if isinstance(upload, Upload) else "application/octet-stream"
        stored = self._store_file("documents", data, _suffix(name))
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": name,
            "mime_type": mime,
            "file_size": stored.file_size,
        }
        message = self._record_sent(
            "sendDocument",
            chat_id,
            caption=caption,
            parse_mode=parse_mode,
            reply_markup=markup,
            reply_to_message_id=p.reply_to(),
            document=document,
            file_bytes=data,
        )
        return self._message_json(message)

    async def _send_chat_action(self, p: _Params) -> bool:
        p.chat_id()
        if p.opt_str("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    async def _edit_message_text(self, p: _Params) -> dict[str, Any]:
        message = self._message_to_edit(p)
        text = p.opt_str("text")
        parse_mode = p.opt_str("parse_mode")
        self._check_text(text, parse_mode)
        if message.text is None:
            raise _bad("there is no text in the message to edit")
        # Without reply_markup an edit removes the inline keyboard, as on Telegram.
        markup = p.opt_dict("reply_markup")
        _check_reply_markup(markup)
        self._apply_edit(message, "editMessageText", "text", text, parse_mode, markup)
        return self._message_json(message)

    async def _edit_message_caption(self, p: _Params) -> dict[str, Any]:
        message = self._message_to_edit(p)
        caption, parse_mode, markup = self._caption_and_markup(p)
        if message.photo is None and message.document is None:
            raise _bad("there is no caption in the message to edit")
        self._apply_edit(message, "editMessageCaption", "caption", caption, parse_mode, markup)
        return self._message_json(message)

    async def _edit_message_reply_markup(self, p: _Params) -> dict[str, Any]:
        message = self._message_to_edit(p)
        markup = p.opt_dict("reply_markup")
        _check_reply_markup(markup)
        field_name = "text" if message.text is not None else "caption"
        value = getattr(message, field_name)
        self._apply_edit(
            message, "editMessageReplyMarkup", field_name, value, message.parse_mode, markup
        )
        return self._message_json(message)

    async def _delete_message(self, p: _Params) -> bool:
        message = self._by_key.get((p.chat_id(), p.req_int("message_id")))
        if message is None or message.deleted:
            raise _bad("message to delete not found")
        message.deleted = True
        message.seq = self._bump()
        return True

    async def _answer_callback_query(self, p: _Params) -> bool:
        query_id = p.opt_str("callback_query_id")
        if query_id not in self._open_callbacks:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        self._open_callbacks.discard(query_id)  # a query is answered once
        return True

    # ----------------------------------------------------------------- methods: commands, files

    async def _set_my_commands(self, p: _Params) -> bool:
        commands = p.raw.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_RE.fullmatch(
                str(command.get("command", ""))
            ):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad("command description must be 1-256 characters")
        key = (_scope_key(p.opt_dict("scope")), p.opt_str("language_code") or "")
        self.commands[key] = [dict(c) for c in commands]
        return True

    async def _get_my_commands(self, p: _Params) -> list[dict[str, Any]]:
        return self.commands.get(
            (_scope_key(p.opt_dict("scope")), p.opt_str("language_code") or ""), []
        )

    async def _delete_my_commands(self, p: _Params) -> bool:
        key = (_scope_key(p.opt_dict("scope")), p.opt_str("language_code") or "")
        self.commands.pop(key, None)
        return True

    async def _get_file(self, p: _Params) -> dict[str, Any]:
        stored = self._files.get(p.opt_str("file_id") or "")
        if stored is None:
            raise _bad("invalid file_id")
        if stored.file_size > MAX_DOWNLOAD_BYTES:
            raise _bad("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.file_size,
            "file_path": stored.file_path,
        }

    # ----------------------------------------------------------------- helpers

    def _check_text(self, text: str | None, parse_mode: str | None) -> None:
        visible = visible_text(text or "", parse_mode)
        if not visible.strip():
            raise _bad("message text is empty")
        if len(visible) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")

    def _caption_and_markup(
        self, p: _Params
    ) -> tuple[str | None, str | None, dict[str, Any] | None]:
        caption = p.opt_str("caption")
        parse_mode = p.opt_str("parse_mode")
        if caption is not None and len(visible_text(caption, parse_mode)) > MAX_CAPTION_LENGTH:
            raise _bad("message caption is too long")
        markup = p.opt_dict("reply_markup")
        _check_reply_markup(markup)
        return caption, parse_mode, markup

    def _input_file(self, p: _Params, key: str) -> bytes:
        """An uploaded file's bytes, or those of a file_id the server already knows."""
        value = p.raw.get(key)
        if isinstance(value, Upload):
            return value.data
        if value in (None, ""):
            raise _bad(f"there is no {key} in the request")
        stored = self._files.get(str(value))
        if stored is None:  # URLs are not fetched by the fake
            raise _bad("wrong file identifier/HTTP URL specified")
        return stored.data

    def _message_to_edit(self, p: _Params) -> SentMessage:
        if not p.has("chat_id") and p.has("inline_message_id"):
            raise _bad("inline messages are not supported by the fake")
        message = self._by_key.get((p.chat_id(), p.req_int("message_id")))
        if message is None or message.deleted:
            raise _bad("message to edit not found")
        return message

    def _apply_edit(
        self,
        message: SentMessage,
        method: str,
        field_name: str,
        value: str | None,
        parse_mode: str | None,
        markup: dict[str, Any] | None,
    ) -> None:
        before = getattr(message, field_name)
        if value == before and markup == message.reply_markup:
            raise _bad(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        self.edits.append(
            EditRecord(
                message.chat_id,
                message.message_id,
                method,
                before,
                value,
                message.reply_markup,
                markup,
                self.clock(),
            )
        )
        setattr(message, field_name, value)
        message.parse_mode = parse_mode
        message.reply_markup = markup
        message.edit_count += 1
        message.seq = self._bump()
        self.stats.edited += 1
        self._write_journal("edit", **asdict(self.edits[-1]))

    def _record_sent(self, method: str, chat_id: int, **fields: Any) -> SentMessage:
        message = SentMessage(
            chat_id=chat_id,
            message_id=self._new_message_id(chat_id),
            method=method,
            timestamp=self.clock(),
            date=int(time.time()),
            seq=self._bump(),
            **fields,
        )
        self._messages.append(message)
        self._by_key[(chat_id, message.message_id)] = message
        self.stats.sent += 1
        if self._hold_budget is not None and method in SEND_METHODS:
            self._hold_budget -= 1
        if self.flood is not None:
            self.flood.record(chat_id)
        self._write_journal("message", **message.to_json())
        return message

    def _new_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    def _store_file(
        self, folder: str, data: bytes, suffix: str, declared_size: int | None = None
    ) -> StoredFile:
        size = declared_size if declared_size is not None else len(data)
        digest = hashlib.sha256(data + str(size).encode()).hexdigest()
        unique = f"AQAD{digest[:16]}"
        return self._register_file(
            f"{folder[:3]}-{digest[:24]}", unique, folder, suffix, data, size
        )

    def _register_file(
        self, file_id: str, unique: str, folder: str, suffix: str, data: bytes, size: int
    ) -> StoredFile:
        if file_id in self._files:
            return self._files[file_id]
        path = f"{folder}/file_{len(self._files)}{suffix}"
        stored = StoredFile(file_id, unique, path, data, size)
        self._files[file_id] = stored
        self._files_by_path[path] = stored
        return stored

    def _photo_sizes(self, data: bytes, count: int) -> list[dict[str, Any]]:
        """PhotoSize entries, smallest first. Every size serves the same bytes, so file_size
        always matches what a download returns; only the dimensions grow."""
        if not 1 <= count <= len(_PHOTO_WIDTHS):
            raise ValueError(f"sizes must be 1..{len(_PHOTO_WIDTHS)}")
        digest = hashlib.sha256(data).hexdigest()
        unique = f"AQAD{digest[:16]}"
        sizes = []
        for index, width in enumerate(_PHOTO_WIDTHS[:count]):
            stored = self._register_file(
                f"pho-{digest[:24]}-{index}", unique, "photos", ".jpg", data, len(data)
            )
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": unique,
                    "width": width,
                    "height": width * 3 // 4,
                    "file_size": stored.file_size,
                }
            )
        return sizes

    def _bot_json(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": BOT_FIRST_NAME,
            "username": BOT_USERNAME,
        }

    def _chat_json(self, chat_id: int) -> dict[str, Any]:
        if chat_id < 0:
            kind = "supergroup" if str(chat_id).startswith("-100") else "group"
            return {"id": chat_id, "type": kind, "title": f"Nhóm {chat_id}"}
        chat: dict[str, Any] = {"id": chat_id, "type": "private"}
        user = self._users.get(chat_id)
        chat["first_name"] = user.first_name if user else f"Người dùng {chat_id}"
        if user and user.username:
            chat["username"] = user.username
        return chat

    def _message_json(self, message: SentMessage) -> dict[str, Any]:
        """The Message object Telegram would return. Text is the visible text, as Telegram
        returns it once the markup has become entities (which the fake does not produce)."""
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "from": self._bot_json(),
            "chat": self._chat_json(message.chat_id),
            "date": message.date,
        }
        if message.text is not None:
            data["text"] = visible_text(message.text, message.parse_mode)
        if message.caption is not None:
            data["caption"] = visible_text(message.caption, message.parse_mode)
        if message.photo is not None:
            data["photo"] = message.photo
        if message.document is not None:
            data["document"] = message.document
        if message.reply_markup is not None and "inline_keyboard" in message.reply_markup:
            data["reply_markup"] = message.reply_markup  # only inline keyboards are echoed
        if message.edit_count:
            data["edit_date"] = int(time.time())
        return data

    # ----------------------------------------------------------------- HTTP: test control

    def control_actions(self) -> dict[str, Callable[..., Any]]:
        return {
            "send_text": self.send_text,
            "send_photo": self.send_photo,
            "send_document": self.send_document,
            "press_button": self.press_button,
            "inject_raw_update": self.inject_raw_update,
            "redeliver": self.redeliver,
            "block": self.block,
            "unblock": self.unblock,
            "fail_next": self.fail_next,
            "force_429": self.force_429,
            "hold_sends_after": self.hold_sends_after,
            "release_held": self.release_held,
            "wait_for_held": self._control_wait_for_held,
        }

    async def _control_wait_for_held(self, count: int = 1, timeout: float = 5.0) -> int:  # noqa: ASYNC109
        return len(await self.wait_for_held(count, timeout))

    def _sent_json(self, chat_id: str | None) -> list[dict[str, Any]]:
        return [m.to_json() for m in self.sent(_lenient_int(chat_id))]


def _scope_key(scope: dict[str, Any] | None) -> str:
    """A stable key for a BotCommandScope: its JSON with sorted keys."""
    return json.dumps(scope or {"type": "default"}, sort_keys=True)


def _lenient_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _suffix(file_name: str) -> str:
    suffix = Path(file_name).suffix
    return suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", suffix) else ""


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Telegram Bot API server")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--flood", action="store_true", help="enforce Telegram's flood limits")
    serve_main(
        lambda args: FakeTelegram(
            token=args.token,
            port=args.port,
            flood=FloodLimits() if args.flood else None,
            journal=args.state,
        ),
        parser,
        argv,
    )


if __name__ == "__main__":
    main()
