"""A fake Zalo Bot API server over real HTTP, for tests of the Zalo channel.

Built from the documented shapes, not from our client. Sources (see also the
docstring of channels/zalo_api.py, which names the same ones):

* ``[D]`` a copy of the official docs (https://bot.zaloplatforms.com/docs):
  XuanNguyenNB/QuanLyThuChi_Bot_Telegram_Zalom, ``docs/ZALO_BOT_API.md``:
  the URL ``/bot<token>/<method>``, POST with JSON, ``{"ok": true, "result": …}``;
  getUpdates' ``timeout`` (a string, default 30) and its single update as ``result``;
  setWebhook's ``url`` and ``secret_token`` (8-256 characters) and the ``{"url",
  "updated_at"}`` answers of the webhook methods; sendMessage's ``text`` of 1-2000
  characters; sendMessage/sendPhoto answering ``{"message_id", "date"}``; sendChatAction
  answering ``{"ok": true}``; getMe's ``{"id", "account_name", "account_type",
  "can_join_groups"}``; "getUpdates does not work while a webhook is set".
* ``[O]`` openclaw/openclaw, ``extensions/zalo/src/api.ts`` and ``inbound-parsing.ts``:
  ``event_name`` values, string ids, ``chat_type`` PRIVATE/GROUP, ``date`` in milliseconds,
  ``photo_url`` and ``caption`` of an image, ``error_code`` 408 for a long poll that ends
  with nothing.
* ``[V]`` a Vietnamese digest of the docs (stored file id 71334954298, repository not
  named by the search tool): the webhook payload's ``from`` with
  ``display_name`` and ``is_bot``, ``message.voice.received`` with ``voice_url``,
  ``message.sticker.received`` with ``sticker`` and ``url``.
* ``[G]`` nextlevelbuilder/goclaw-docs, ``channels/zalo-bot.md`` (citing
  https://bot.zapps.me/docs/error-code/): error codes 400, 401, 404, 408, 429.

Not documented anywhere we found, so chosen here and named as such: the answer to
getUpdates while a webhook is set (400, "webhook is set"); a photo URL that expired
(HTTP 403 from the picture's host); a send to a user who blocked the bot or is unknown
(404 "Not found"); how a 408 travels (HTTP 408 with the JSON body); a long poll whose
client went away (a killed bot) takes no update, as Telegram's does not.

The test plays the users' side::

    async with FakeZalo() as zalo:
        api = ZaloApi(zalo.token, base_url=zalo.base_url)
        message_id = zalo.send_text(zalo.user("u1"), "/viec")
        reply = await zalo.wait_for(lambda m: m.chat_id == "u1")

User's side: user, send_text, send_photo, send_sticker, send_voice, send_unsupported (each
with ``group=`` for a group chat; each returns the message id), redeliver, expire_photo,
end_polls (a waiting getUpdates answers 408 now: no sleeping), block, fail_next (5xx storms),
force_quota (429), hold_sends_after / wait_for_held / release_held. A user is a
FakeZaloUser or a bare id. What the bot did: sent, texts_to, calls, webhook, checkpoint,
wait_for, wait_for_request, wait_for_poll_after, wait_until.

For a bot in a subprocess (``python -m bot run``), ``zalo.start_in_thread()`` serves from a
thread of this process (the helpers hop onto the server's loop), and ``python -m
tests.fakes.zalo_api --port N --state FILE`` runs the server as its own process, journalled
and driven through ``/_fake/<helper>``: both as tests/fakes/serving.py describes.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NoReturn

from aiohttp import web

from tests.fakes.changes import wait_for_change
from tests.fakes.flood import FloodControl, FloodLimits
from tests.fakes.serving import FakeServer, on_server_loop, on_server_thread, serve_main

DEFAULT_TOKEN = "1459232241454765289:fakeZaloSecretForTestsOnly0123456789abcdefXYZ"
MAX_TEXT = 2000  # sendMessage's text and sendPhoto's caption [D]
SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendSticker"})
# A one-pixel PNG: what a user's photo holds unless the test gives bytes.
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def zalo_id() -> str:
    """An id in Zalo's shape: 20 hex digits, as text ("e4ea2cd5189df1c3a88c") [D]."""
    return secrets.token_hex(10)


@dataclass(frozen=True)
class FakeZaloUser:
    id: str
    display_name: str = "Người dùng Zalo"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "display_name": self.display_name, "is_bot": False}  # [V]


@dataclass
class SentMessage:
    chat_id: str
    message_id: str
    method: str
    text: str | None = None
    photo: str | None = None
    caption: str | None = None
    date: int = 0  # milliseconds [D]
    seq: int = 0

    @property
    def content(self) -> str:
        return self.text if self.text is not None else (self.caption or "")


@dataclass
class ApiRequest:
    method: str
    params: dict[str, Any]
    status: int = 0  # 0 while being handled (or held)
    seq: int = 0


@dataclass
class Stats:
    requests: int = 0
    sent: int = 0
    quota_errors: int = 0
    server_errors: int = 0
    held: int = 0


class ApiError(Exception):
    def __init__(self, code: int, description: str, *, status: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status or code

    def payload(self) -> dict[str, Any]:
        return {"ok": False, "error_code": self.code, "description": self.description}


@dataclass
class _Photo:
    data: bytes
    expired: bool = False


class FakeZalo(FakeServer):
    """The fake server and its state; see the module docstring."""

    thread_name = "fake-zalo"

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        clock: Callable[[], float] = time.time,
        port: int = 0,
        journal: str | Path | None = None,
        quota: FloodLimits | None = None,
    ) -> None:
        """``quota``: sends beyond these limits answer Zalo's quota error (429): Zalo
        publishes no figure, so a test or a bench sets the one it measures against."""
        super().__init__(port=port, journal=journal)
        self.token = token
        self.clock = clock
        self.flood = FloodControl(quota, clock) if quota is not None else None
        self.requests: list[ApiRequest] = []
        self.stats = Stats()
        self.webhook: dict[str, Any] | None = None
        self.held: list[ApiRequest] = []
        self._sent: list[SentMessage] = []
        self._updates: dict[str, dict[str, Any]] = {}
        self._pending: deque[dict[str, Any]] = deque()
        self._photos: dict[str, _Photo] = {}
        self._photo_of_message: dict[str, str] = {}
        self._blocked: set[str] = set()
        self._failures: deque[tuple[int, frozenset[str]]] = deque()
        self._quota = 0
        self._hold_budget: int | None = None
        self._release = asyncio.Event()
        self._poll_round = 0
        self._handed_over: dict[str, int] = {}  # message id: seq when a poll took it
        self._wakers: set[asyncio.Task[None]] = set()
        self._methods: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendSticker": self._send_sticker,
            "sendChatAction": self._send_chat_action,
        }

    # --- lifecycle ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """For ZALO_API_BASE_URL: the token is appended to it, as with Telegram."""
        return f"{self.url}/bot"

    @property
    def bot_id(self) -> str:
        return self.token.split(":", 1)[0]

    def _bind_loop(self) -> None:
        super()._bind_loop()
        self._release = asyncio.Event()

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/bot{token}/{method}", self._handle_api)
        app.router.add_get("/photos/{key}.jpg", self._handle_photo)

    async def _before_stop(self) -> None:
        self._release.set()  # held sends end unanswered; none is recorded as sent

    def control_actions(self) -> dict[str, Callable[..., Any]]:
        return {
            "send_text": self.send_text,
            "send_photo": self.send_photo,
            "send_sticker": self.send_sticker,
            "send_voice": self.send_voice,
            "send_unsupported": self.send_unsupported,
            "redeliver": self.redeliver,
            "expire_photo": self.expire_photo,
            "end_polls": self.end_polls,
            "block": self.block,
            "fail_next": self.fail_next,
            "force_quota": self.force_quota,
            "hold_sends_after": self.hold_sends_after,
            "release_held": self.release_held,
            "wait_for_held": self._control_wait_for_held,
        }

    async def _control_wait_for_held(self, count: int = 1, timeout: float = 5.0) -> int:  # noqa: ASYNC109
        return len(await self.wait_for_held(count, timeout))

    def _sent_json(self, chat_id: str | None) -> list[dict[str, Any]]:
        return [asdict(m) for m in self.sent(chat_id)]

    # --- the users' side ------------------------------------------------------------------------

    def user(self, id: str | None = None, display_name: str = "Người dùng Zalo") -> FakeZaloUser:
        return FakeZaloUser(id or zalo_id(), display_name)

    def _resolve_user(self, user: FakeZaloUser | str) -> FakeZaloUser:
        """A user, or a bare id (over HTTP control) for a user of that id."""
        return user if isinstance(user, FakeZaloUser) else self.user(user, f"Người dùng {user}")

    @on_server_thread
    def send_text(self, user: FakeZaloUser | str, text: str, *, group: str | None = None) -> str:
        return self._incoming(user, "message.text.received", {"text": text}, group)

    @on_server_thread
    def send_photo(
        self,
        user: FakeZaloUser | str,
        caption: str | None = None,
        *,
        content: bytes = TINY_PNG,
        group: str | None = None,
        expired: bool = False,
    ) -> str:
        """An image message: its ``photo_url`` serves ``content`` until expire_photo [O]
        (``expired``: never, as if it expired before the bot came to download it)."""
        key = zalo_id()
        self._photos[key] = _Photo(content, expired)
        fields: dict[str, Any] = {"photo_url": f"{self.url}/photos/{key}.jpg"}
        if caption is not None:
            fields["caption"] = caption
        message_id = self._incoming(user, "message.image.received", fields, group)
        self._photo_of_message[message_id] = key
        return message_id

    @on_server_thread
    def send_sticker(self, user: FakeZaloUser | str, *, group: str | None = None) -> str:
        fields = {"sticker": zalo_id(), "url": f"{self.url}/stickers/{zalo_id()}.webp"}  # [V]
        return self._incoming(user, "message.sticker.received", fields, group)

    @on_server_thread
    def send_voice(self, user: FakeZaloUser | str, *, group: str | None = None) -> str:
        fields = {"voice_url": f"{self.url}/voice/{zalo_id()}.aac"}  # [V]
        return self._incoming(user, "message.voice.received", fields, group)

    @on_server_thread
    def send_unsupported(self, user: FakeZaloUser | str, *, group: str | None = None) -> str:
        return self._incoming(user, "message.unsupported.received", {}, group)

    @on_server_thread
    def redeliver(self, message_id: str) -> None:
        """The same update again, as a second delivery would bring it."""
        self._pending.append(self._updates[message_id])
        self._write_journal("redeliver", message_id=message_id)
        self._kick()

    @on_server_thread
    def expire_photo(self, message_id: str | None = None) -> None:
        """The photo of that message (default: every photo) stops being served."""
        keys = [self._photo_of_message[message_id]] if message_id else list(self._photos)
        for key in keys:
            self._photos[key].expired = True

    @on_server_thread
    def end_polls(self) -> None:
        """Every getUpdates waiting now answers 408 at once (its long poll timed out)."""
        self._poll_round += 1
        self._kick()

    @on_server_thread
    def block(self, chat_id: str) -> None:
        self._blocked.add(chat_id)

    @on_server_thread
    def fail_next(
        self, n: int = 1, *, status: int = 502, methods: frozenset[str] = SEND_METHODS
    ) -> None:
        """The next n calls of ``methods`` (default: the sends) answer a 5xx (n large: a storm)."""
        self._failures.extend([(status, methods)] * n)

    @on_server_thread
    def force_quota(self, n: int = 1) -> None:
        """The next n sends answer Zalo's quota error (429) [G]."""
        self._quota += n

    @on_server_thread
    def hold_sends_after(self, n: int = 0) -> None:
        """Accept n more sends, then hold every later one unanswered and unrecorded."""
        self._hold_budget = n

    @on_server_loop
    async def release_held(self) -> int:
        count = len(self.held)
        self._hold_budget = None
        self._release.set()
        self._release = asyncio.Event()
        self.held = []
        await self._notify()
        return count

    def _incoming(
        self, user: FakeZaloUser | str, event: str, fields: dict[str, Any], group: str | None
    ) -> str:
        sender = self._resolve_user(user)
        message_id = zalo_id()
        chat = {"id": group, "chat_type": "GROUP"} if group else {"id": sender.id}
        chat.setdefault("chat_type", "PRIVATE")
        message = {
            "from": sender.to_json(),
            "chat": chat,
            "message_id": message_id,
            "date": int(self.clock() * 1000),
            **fields,
        }
        update = {"event_name": event, "message": message}
        self._updates[message_id] = update
        self._pending.append(update)
        self._write_journal("update", update=update)
        self._kick()
        return message_id

    # --- what the bot did -----------------------------------------------------------------------

    def sent(self, chat_id: str | None = None) -> list[SentMessage]:
        return [m for m in self._sent if chat_id is None or m.chat_id == chat_id]

    def texts_to(self, chat_id: str) -> list[str]:
        return [m.content for m in self._sent if m.chat_id == chat_id]

    def calls(self, method: str) -> list[ApiRequest]:
        return [r for r in self.requests if r.method == method]

    def checkpoint(self) -> int:
        return len(self._sent)

    @on_server_loop
    async def wait_for(
        self,
        predicate: Callable[[SentMessage], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - the familiar spelling for a test helper
        *,
        after: int = 0,
    ) -> SentMessage:
        """The first bot message (from index ``after``) matching predicate, waiting on a
        Condition for it to come; TimeoutError lists what was sent."""
        found: list[SentMessage] = []

        def match() -> bool:
            found.extend(m for m in self._sent[after:] if predicate(m))
            return bool(found)

        if not await self._wait(match, timeout):
            raise TimeoutError(f"no message matched; sent: {[m.content for m in self._sent]}")
        return found[0]

    @on_server_loop
    async def wait_for_request(
        self,
        method: str,
        timeout: float = 5.0,  # noqa: ASYNC109 - the familiar spelling for a test helper
        *,
        count: int = 1,
        finished: bool = True,
    ) -> ApiRequest:
        """The count-th call of method (answered, or also in progress with finished=False)."""

        def calls() -> list[ApiRequest]:
            return [r for r in self.calls(method) if r.status or not finished]

        if not await self._wait(lambda: len(calls()) >= count, timeout):
            raise TimeoutError(f"{len(calls())} {method} requests, not {count}")
        return calls()[count - 1]

    @on_server_loop
    async def wait_for_held(
        self,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - the familiar spelling for a test helper
    ) -> list[ApiRequest]:
        if not await self._wait(lambda: len(self.held) >= count, timeout):
            raise TimeoutError(f"{len(self.held)} sends held, not {count}")
        return list(self.held)

    @on_server_loop
    async def wait_for_poll_after(
        self,
        message_id: str,
        timeout: float = 5.0,  # noqa: ASYNC109 - the familiar spelling for a test helper
    ) -> None:
        """Waits until a getUpdates began after the one that took ``message_id``: a bot that
        keeps each update before polling again (its inbox) has then kept that one."""

        def polled_again() -> bool:
            taken = self._handed_over.get(message_id)
            return taken is not None and any(
                r.method == "getUpdates" and r.seq > taken for r in self.requests
            )

        if not await self._wait(polled_again, timeout):
            raise TimeoutError(f"no getUpdates after message {message_id} was taken")

    @on_server_loop
    async def wait_until(
        self,
        condition: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - the familiar spelling for a test helper
    ) -> None:
        """Waits until condition() holds, checked on the server's loop after every change."""
        if not await self._wait(condition, timeout):
            raise TimeoutError(f"condition not met within {timeout}s")

    async def _wait(self, condition: Callable[[], bool], seconds: float) -> bool:
        return await wait_for_change(self._changed, condition, seconds)

    def _kick(self) -> None:
        """Wake waiters from synchronous test code (the helpers above are not coroutines)."""
        with contextlib.suppress(RuntimeError):  # no running loop: nobody waits yet
            task = asyncio.get_running_loop().create_task(self._notify())
            self._wakers.add(task)
            task.add_done_callback(self._wakers.discard)

    # --- HTTP -----------------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            error = ApiError(401, "Unauthorized")
            return web.json_response(error.payload(), status=error.status)
        method = request.match_info["method"]
        try:
            params = json.loads(await request.read() or b"{}")
        except ValueError:
            params = None
        record = ApiRequest(method, params if isinstance(params, dict) else {}, seq=self._bump())
        self.requests.append(record)
        self.stats.requests += 1
        await self._notify()  # a test may wait for a call in progress (a long poll)
        if method in SEND_METHODS and self._hold_budget is not None:
            if self._hold_budget <= 0:
                return await self._hold(request, record)
            self._hold_budget -= 1
        try:
            if not isinstance(params, dict):
                raise ApiError(400, "Bad request: body must be a JSON object")
            handler = self._methods.get(method)
            if handler is None:
                raise ApiError(404, "Not found")  # [G]: "invalid path or API name" is 400/404
            self._injected_failure(method, params)
            if method == "getUpdates":  # a long poll also watches its client
                result = await self._get_updates(params, request)
            else:
                result = await handler(params)
        except ApiError as err:
            record.status = err.status
            response = web.json_response(err.payload(), status=err.status)
        else:
            record.status = 200
            body: dict[str, Any] = {"ok": True}
            if result is not None:
                body["result"] = result
            response = web.json_response(body)
        self._write_journal("request", **asdict(record))
        await self._notify()
        return response

    def _injected_failure(self, method: str, params: dict[str, Any]) -> None:
        if self._failures and method in self._failures[0][1]:
            status, _ = self._failures.popleft()
            self.stats.server_errors += 1
            raise ApiError(status, "Internal server error")
        if method not in SEND_METHODS:
            return
        forced = self._quota > 0  # force_quota
        self._quota -= forced
        limited = self.flood is not None and self.flood.retry_after(str(params.get("chat_id")))
        if forced or limited:
            self.stats.quota_errors += 1
            raise ApiError(429, "Quota exceeded")  # [G]
        if str(params.get("chat_id")) in self._blocked:
            raise ApiError(404, "Not found")  # not documented: see the module docstring

    async def _hold(self, request: web.Request, record: ApiRequest) -> NoReturn:
        release = self._release
        self.held.append(record)
        self.stats.held += 1
        await self._notify()
        await release.wait()
        record.status = 499  # nginx's "client closed request": there was no answer
        self._write_journal("request", **asdict(record))
        if request.transport is not None:
            request.transport.abort()  # the client sees a dropped connection, never an answer
        raise asyncio.CancelledError

    async def _handle_photo(self, request: web.Request) -> web.Response:
        photo = self._photos.get(request.match_info["key"])
        if photo is None or photo.expired:
            return web.Response(status=403, text="Forbidden")  # not documented: see above
        return web.Response(body=photo.data, content_type="image/jpeg")

    # --- methods --------------------------------------------------------------------------------

    async def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {  # [D]
            "id": self.bot_id,
            "account_name": "bot.DonDocTest",
            "account_type": "BASIC",
            "can_join_groups": False,
        }

    async def _get_updates(
        self, params: dict[str, Any], request: web.Request | None = None
    ) -> dict[str, Any]:
        if self.webhook is not None:
            raise ApiError(400, "Bad request: webhook is set, call deleteWebhook first")
        try:
            timeout = float(params.get("timeout", 30))  # a string per the docs [D]
        except (TypeError, ValueError):
            raise ApiError(400, "Bad request: timeout must be a number") from None
        round_ = self._poll_round

        def gone() -> bool:  # a killed bot's poll must not take an update into the void
            return request is not None and request.transport is None

        await self._wait(
            lambda: bool(self._pending) or self._closing or self._poll_round != round_, timeout
        )
        if not self._pending or gone():
            raise ApiError(408, "Request timeout")  # [O][G]
        update = self._pending.popleft()  # one update per call, no offset [D][O]
        self._handed_over[update["message"]["message_id"]] = self._bump()
        return update

    async def _set_webhook(self, params: dict[str, Any]) -> dict[str, Any]:
        url, secret = params.get("url"), params.get("secret_token")
        if not isinstance(url, str) or not url.startswith("https://"):
            raise ApiError(400, "Bad request: url must be HTTPS")
        if not isinstance(secret, str) or not 8 <= len(secret) <= 256:
            raise ApiError(400, "Bad request: secret_token must have 8 to 256 characters")
        self.webhook = {"url": url, "secret_token": secret}
        return {"url": url, "updated_at": int(self.clock() * 1000)}

    async def _delete_webhook(self, params: dict[str, Any]) -> dict[str, Any]:
        self.webhook = None
        return {"url": "", "updated_at": int(self.clock() * 1000)}

    async def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        url = self.webhook["url"] if self.webhook else ""
        return {"url": url, "updated_at": int(self.clock() * 1000)}

    async def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        text = params.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= MAX_TEXT:
            raise ApiError(400, f"Bad request: text must have 1 to {MAX_TEXT} characters")
        return self._record("sendMessage", params, text=text)

    async def _send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        photo, caption = params.get("photo"), params.get("caption")
        if not isinstance(photo, str) or not photo.startswith(("http://", "https://")):
            raise ApiError(400, "Bad request: photo must be a URL")
        if caption is not None and (not isinstance(caption, str) or len(caption) > MAX_TEXT):
            raise ApiError(400, f"Bad request: caption must have 1 to {MAX_TEXT} characters")
        return self._record("sendPhoto", params, photo=photo, caption=caption)

    async def _send_sticker(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._record("sendSticker", params)

    async def _send_chat_action(self, params: dict[str, Any]) -> None:
        self._chat_id(params)
        if params.get("action") not in ("typing", "upload_photo"):
            raise ApiError(400, "Bad request: unknown action")

    def _record(self, method: str, params: dict[str, Any], **fields: Any) -> dict[str, Any]:
        message = SentMessage(
            chat_id=self._chat_id(params),
            message_id=zalo_id(),
            method=method,
            date=int(self.clock() * 1000),
            seq=self._bump(),
            **fields,
        )
        self._sent.append(message)
        self.stats.sent += 1
        if self.flood is not None:
            self.flood.record(message.chat_id)
        self._write_journal("message", **asdict(message))
        return {"message_id": message.message_id, "date": message.date}

    def _chat_id(self, params: dict[str, Any]) -> str:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, str) or not chat_id:
            raise ApiError(400, "Bad request: chat_id must be a string")
        return chat_id


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Zalo Bot API server")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    serve_main(
        lambda args: FakeZalo(token=args.token, port=args.port, journal=args.state),
        parser,
        argv,
    )


if __name__ == "__main__":
    main()
