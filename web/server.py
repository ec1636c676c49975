"""The web server: the chat channels' webhooks, signed file links and a health check.

One aiohttp application inside the bot's process, started by ``python -m bot run`` when
PUBLIC_BASE_URL is set. aiohttp rather than Starlette with uvicorn, because:

- it is made to run inside an event loop that already exists (``AppRunner``/``TCPSite``,
  no signal handlers of its own), where uvicorn's ``Server.serve`` takes SIGINT/SIGTERM
  over and raises them again when it stops;
- its ``FileResponse`` sends files from disk with ``sendfile`` and handles ``Range``,
  so a pack of hundreds of MB keeps memory flat and a phone can resume a download;
- it is one package, already used by the tests' fake Bot API server.

Routes: ``GET /healthz``, ``GET /f/<token>`` (web/files.py), the dashboard's pages
(web/dashboard.py) and ``POST /<channel>`` for each
:class:`Webhook` a channel adapter hands over. Adding a channel's webhook is one more
``Webhook(...)`` in the list given to :func:`start_web_server`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from core.dashboard import unit_states
from web.context import CONTEXT, HEALTH_TIMEOUT, Clock, WebContext
from web.dashboard import add_dashboard_routes
from web.files import open_link
from web.links import LINK_PATH, PACKS_DIR, remove_expired_packs
from web.uploads import add_upload_routes

log = logging.getLogger(__name__)

WebhookAccept = Callable[[dict[str, Any]], Awaitable[None]]
SHUTDOWN_SECONDS = 5.0  # a download still running at stop is cut after this long
WARM_UP = web.AppKey("dashboard warm-up", asyncio.Task)


@dataclass(frozen=True)
class Webhook:
    """A channel's webhook: ``POST /<path>`` with ``secret`` in the ``header`` header.

    ``accept`` gets the JSON object of each request whose secret matched; an
    exception there answers 400 (the body was not an update the channel reads).
    """

    path: str
    header: str
    secret: str
    accept: WebhookAccept


def build_web_app(
    settings: Settings,
    *,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    webhooks: Iterable[Webhook] = (),
    health_timeout: float = HEALTH_TIMEOUT,
) -> web.Application:
    app = web.Application()
    app[CONTEXT] = WebContext(settings, sessions, clock, health_timeout)
    app.router.add_get("/healthz", health)
    app.router.add_get(f"/{LINK_PATH}/{{token}}", open_link)
    add_dashboard_routes(app)
    add_upload_routes(app)
    for hook in webhooks:
        app.router.add_post(f"/{hook.path}", _webhook_handler(hook))
    app.on_response_prepare.append(_private)
    return app


async def health(request: web.Request) -> web.Response:
    """200 when the database answers ``SELECT 1`` in time, 503 otherwise; an empty body."""
    context = request.app[CONTEXT]
    try:
        async with asyncio.timeout(context.health_timeout), context.sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # whatever the reason, the answer is "not healthy"
        log.warning("health check: the database did not answer (%s)", type(exc).__name__)
        return web.Response(status=503)
    return web.Response(status=200)


def _webhook_handler(hook: Webhook) -> Callable[[web.Request], Awaitable[web.Response]]:
    secret = hook.secret.encode()

    async def handle(request: web.Request) -> web.Response:
        given = request.headers.get(hook.header, "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, secret):
            return web.Response(status=403)
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400)
        if not isinstance(body, dict):
            return web.Response(status=400)
        try:
            await hook.accept(body)
        except Exception:
            log.warning("%s webhook: a request body was not an update", hook.path, exc_info=True)
            return web.Response(status=400)
        return web.Response(status=200)

    return handle


async def _private(request: web.Request, response: web.StreamResponse) -> None:
    # A link is a bearer of access: keep it out of caches, search engines and Referer headers.
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Robots-Tag", "noindex, nofollow")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")


class WebServer:
    """The application on a TCP port, started and stopped inside the running event loop."""

    def __init__(self, app: web.Application, *, host: str, port: int) -> None:
        # No access log: every link's token is in its path.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
        self._host, self._port = host, port

    async def start(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()

    @property
    def app(self) -> web.Application:
        return self._runner.app

    @property
    def port(self) -> int:
        """The port it listens on (the one chosen by the system when asked for port 0)."""
        return int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        await self._runner.cleanup()


async def start_web_server(
    settings: Settings,
    *,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    webhooks: Iterable[Webhook] = (),
) -> WebServer:
    """Listen on WEB_LISTEN:PORT; packs left from before the restart are swept first, and the
    dashboard's summaries are computed in the background (the first province page need not)."""
    _sweep_packs(settings, clock())
    app = build_web_app(settings, sessions=sessions, clock=clock, webhooks=webhooks)
    app.cleanup_ctx.append(_warm_dashboard)
    server = WebServer(app, host=settings.listen_address, port=settings.port)
    await server.start()
    return server


async def _warm_dashboard(app: web.Application) -> AsyncIterator[None]:
    context = app[CONTEXT]

    async def warm() -> None:
        try:
            async with context.sessions() as session:
                await unit_states(session, cache=context.dashboard, now=context.clock())
        except Exception:  # only a head start: the pages compute what is missing
            log.warning("could not compute the dashboard in advance", exc_info=True)

    task = app[WARM_UP] = asyncio.create_task(warm())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _sweep_packs(settings: Settings, now: datetime) -> None:
    folder = settings.evidence_dir / PACKS_DIR
    if folder.is_dir():
        remove_expired_packs(folder, now=now)
