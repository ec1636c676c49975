"""Our own client for the Zalo Bot Platform's HTTP API (``bot-api.zaloplatforms.com``).

Why not a library: the Zalo SDKs on PyPI are a trimmed fork of
python-telegram-bot published with placeholder metadata (its docs link to
``github.com/example/python-zalo-bot``), and a Python 3.14-only work in
progress. The API is small (a handful of JSON POSTs), so one
``httpx.AsyncClient`` with timeouts and our own error mapping is less to trust.

What we rely on, and where it comes from
----------------------------------------
The official docs live at https://bot.zaloplatforms.com/docs (formerly
https://bot.zapps.me/docs); we read them through copies and clients:

* ``[D]`` a copy of the official docs: XuanNguyenNB/QuanLyThuChi_Bot_Telegram_Zalom,
  ``docs/ZALO_BOT_API.md`` ("Cập nhật lần cuối: 10/12/2025");
* ``[O]`` OpenClaw's Zalo plugin: openclaw/openclaw, ``extensions/zalo/src/api.ts``
  and ``extensions/zalo/src/inbound-parsing.ts``;
* ``[G]`` GoClaw's Zalo Bot page, whose error table cites https://bot.zapps.me/docs/error-code/:
  nextlevelbuilder/goclaw-docs, ``channels/zalo-bot.md``;
* ``[L]`` a small polling script: lamdt1/ckvn-bot, ``src/test_zalo_chat_id.py``;
* ``[V]`` a Vietnamese digest of the docs (its repository not named by the search tool;
  stored file id 71334954298) listing
  ``message.voice.received`` with ``voice_url``, stickers with ``sticker`` and ``url``,
  and error 426.

Facts:

* URL ``{base}{token}/{method}``, base ``https://bot-api.zaloplatforms.com/bot``; every
  method is a POST with a JSON body and answers ``{"ok", "result"}`` or
  ``{"ok": false, "error_code", "description"}`` [D][O]. The token is
  ``<bot id>:<secret>`` [D] and sits in the URL, hence the redaction below.
* ``getUpdates``: long polling with ``timeout`` (seconds, sent as a string, 30 by default);
  **one** update per call as ``result`` (not a list) and no offset [D][O]. A poll that
  times out with nothing to say answers ``error_code`` 408 ("Request timeout") [O][L][G].
  It does not work while a webhook is set: ``deleteWebhook`` first [D].
* ``setWebhook`` (``url``, ``secret_token`` of 8-256 characters, sent back in the
  ``X-Bot-Api-Secret-Token`` header), ``getWebhookInfo`` and ``deleteWebhook`` answer
  ``{"url", "updated_at"}`` (milliseconds) [D].
* ``sendMessage`` (``chat_id``, ``text`` of 1-2000 characters) and ``sendPhoto``
  (``chat_id``, ``photo`` as a URL, ``caption``) answer ``{"message_id", "date"}``: a
  string id and milliseconds [D]. ``sendChatAction`` (``chat_id``, ``action``: ``typing``)
  answers ``{"ok": true}`` [D]. ``getMe`` answers ``{"id", "account_name", ...}`` [D].
* Update: ``{"event_name", "message": {"from": {"id", "display_name", "is_bot"},
  "chat": {"id", "chat_type": "PRIVATE"|"GROUP"}, "text", "message_id", "date"}}``,
  ids as strings, ``date`` in milliseconds [D][O][V]; the docs' getUpdates sample names the
  sender ``first_name`` instead of ``display_name`` [D], so both are read. Events:
  ``message.text.received``,
  ``message.image.received`` (the picture's URL under ``photo_url``, or ``photo``, with a
  ``caption``) [O], ``message.sticker.received``, ``message.voice.received``,
  ``message.unsupported.received`` [O][V]. Photo URLs expire: download at once.

Error codes we handle (the ``error_code`` of a refused call, or else the HTTP status)
---------------------------------------------------------------------------------------
See :data:`ERROR_CODES`. Zalo publishes no rate limit and no ``retry_after``; its "blocked
the bot" answer is not documented either, so a ``description`` saying "block" counts as
blocked whatever the code (an assumption, kept in one place: :func:`outcome`).

The token never appears in a log line or an exception: errors are built from a redacted
description (httpx puts the URL in its messages), never chained to httpx's exception, and
httpx's own request log line goes through the process-wide redacting filter.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from bot.logging_setup import redacting_filter
from channels.download import write_limited
from core.outbound import describe

DEFAULT_BASE_URL = "https://bot-api.zaloplatforms.com/bot"
POLL_SECONDS = 30  # getUpdates' own default [D]
REQUEST_SECONDS = 30.0
CONNECT_SECONDS = 10.0
DOWNLOAD_SECONDS = 120.0
MAX_TEXT = 2000  # sendMessage's text and sendPhoto's caption [D]

Outcome = Literal["rate_limited", "transient", "blocked", "refused", "poll_timeout"]


@dataclass(frozen=True)
class ErrorCode:
    outcome: Outcome
    meaning: str
    source: str


ERROR_CODES: Mapping[int, ErrorCode] = {
    400: ErrorCode("refused", "Bad request: wrong path or method name", "[G][V]"),
    401: ErrorCode("refused", "Unauthorized: token expired or invalid", "[G][V][L]"),
    # Documented as an internal server error, not as "forbidden": retried, not "blocked".
    403: ErrorCode("transient", "Internal server error", "[G][V]"),
    # The recipient (or what was asked for) does not exist for this bot: unreachable.
    404: ErrorCode("blocked", "Not found: invalid request target", "[G][V]"),
    408: ErrorCode("poll_timeout", "Request timeout: a long poll with nothing new", "[G][O][L]"),
    426: ErrorCode("refused", "testWebhook called too often today", "[V]"),
    429: ErrorCode("rate_limited", "Quota exceeded", "[G][V]"),
}
# Zalo gives no retry_after with its quota error: wait this long before trying again.
QUOTA_WAIT_SECONDS = 5.0


class ZaloError(Exception):
    """A call that failed. ``str()`` never holds the token."""

    def __init__(self, method: str, code: int | None, description: str) -> None:
        super().__init__(f"{method}: {code if code is not None else 'network'}: {description}")
        self.method = method
        self.code = code
        self.description = description


class ZaloNetworkError(ZaloError):
    """No answer: connection refused or reset, a time out."""

    def __init__(self, method: str, description: str) -> None:
        super().__init__(method, None, description)


class PhotoExpired(Exception):
    """The photo URL of an update no longer serves the picture (4xx)."""


def outcome(error: ZaloError) -> Outcome:
    """What a failed call means for whoever made it (see ERROR_CODES)."""
    if error.code is None:
        return "transient"
    if "block" in error.description.lower():
        return "blocked"
    known = ERROR_CODES.get(error.code)
    if known is not None:
        return known.outcome
    return "transient" if error.code >= 500 else "refused"


def bot_id(token: str) -> str:
    """The bot's id, the token's public part before ":" [D] (not a secret)."""
    return token.split(":", 1)[0][:64]


class ZaloApi:
    """One bot's API: one ``httpx.AsyncClient``, used as ``async with ZaloApi(...) as api``."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = REQUEST_SECONDS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._token = token
        self._prefix = f"{base_url}{token}"
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=CONNECT_SECONDS), transport=transport
        )
        # httpx logs each request's URL (token included) at INFO: the redacting filter on its
        # logger masks it even where setup_logging() did not run (tests, other entry points).
        secrets = redacting_filter()
        secrets.add_secrets([token])
        httpx_log = logging.getLogger("httpx")
        if secrets not in httpx_log.filters:
            httpx_log.addFilter(secrets)

    @property
    def bot_id(self) -> str:
        return bot_id(self._token)

    async def __aenter__(self) -> ZaloApi:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    def redact(self, text: str) -> str:
        return text.replace(self._token, "[REDACTED]")

    # --- the calls ------------------------------------------------------------------------------

    async def call(
        self, method: str, payload: Mapping[str, Any] | None = None, *, seconds: float | None = None
    ) -> Any:
        """POST one method; its ``result``, or a ZaloError (never carrying the token)."""
        failure: str | None = None
        options: dict[str, Any] = {} if seconds is None else {"timeout": seconds}
        try:
            response = await self._client.post(
                f"{self._prefix}/{method}", json=dict(payload or {}), **options
            )
        except httpx.HTTPError as exc:
            failure = describe(exc, self._token)
        if failure is not None:  # raised outside the except: no chained httpx error
            raise ZaloNetworkError(method, failure)
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("ok") is True:
            return body.get("result")
        raise self._error(method, response, body)

    def _error(self, method: str, response: httpx.Response, body: object) -> ZaloError:
        code: int | None = response.status_code
        description = response.reason_phrase or "error"
        if isinstance(body, dict):
            raw_code = body.get("error_code")
            if isinstance(raw_code, int) and not isinstance(raw_code, bool):
                code = raw_code
            if body.get("description"):
                description = str(body["description"])
        if response.status_code >= 500 and code is not None and code < 500:
            code = response.status_code  # a gateway's error page wins over a stale body
        return ZaloError(method, code, self.redact(description)[:200])

    async def get_me(self) -> dict[str, Any]:
        return dict(await self.call("getMe"))

    async def get_update(self, *, poll_seconds: int = POLL_SECONDS) -> dict[str, Any] | None:
        """The next update, or None when the long poll ended with nothing (408)."""
        try:
            result = await self.call(
                "getUpdates", {"timeout": str(poll_seconds)}, seconds=poll_seconds + CONNECT_SECONDS
            )
        except ZaloError as exc:
            if exc.code == 408:
                return None
            raise
        return result if isinstance(result, dict) and result else None

    async def delete_webhook(self) -> None:
        await self.call("deleteWebhook")

    async def get_webhook_info(self) -> dict[str, Any]:
        return dict(await self.call("getWebhookInfo") or {})

    async def set_webhook(self, url: str, secret_token: str) -> None:
        await self.call("setWebhook", {"url": url, "secret_token": secret_token})

    async def send_message(self, chat_id: str, text: str) -> dict[str, Any]:
        return dict(await self.call("sendMessage", {"chat_id": chat_id, "text": text}) or {})

    async def send_photo(self, chat_id: str, photo_url: str, caption: str = "") -> dict[str, Any]:
        payload = {"chat_id": chat_id, "photo": photo_url}
        if caption:
            payload["caption"] = caption
        return dict(await self.call("sendPhoto", payload) or {})

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> None:
        await self.call("sendChatAction", {"chat_id": chat_id, "action": action})

    # --- files ----------------------------------------------------------------------------------

    async def download(self, url: str, target: Path, *, limit: int) -> None:
        """Stream ``url`` to ``target``: PhotoExpired on a 4xx, FileTooBig past ``limit`` bytes
        (declared or counted), ZaloNetworkError when the host does not answer."""
        failure: str | None = None
        try:
            await self._stream(url, target, limit)
        except httpx.HTTPError as exc:
            failure = describe(exc, self._token)
        if failure is not None:
            raise ZaloNetworkError("download", failure)

    async def _stream(self, url: str, target: Path, limit: int) -> None:
        async with self._client.stream("GET", url, timeout=DOWNLOAD_SECONDS) as response:
            if 400 <= response.status_code < 500:
                raise PhotoExpired
            response.raise_for_status()
            await write_limited(response, target, limit)
