"""How a fake API server runs: in the test's loop, in a thread of its own, or as a process.

Shared by the fakes (telegram_api, zalo_api), each a subclass of :class:`FakeServer` that adds
its routes (``_add_routes``), its test-side helpers and their names for HTTP control
(``control_actions``), and what ``GET /_fake/sent`` lists (``_sent_json``).

* In the test's loop: ``async with Fake() as fake``.
* In a thread: ``fake.start_in_thread()`` / ``fake.stop()``, for code without a loop of its own
  or whose loop must not serve (a bot in a subprocess). Async helpers marked
  :func:`on_server_loop` and sync ones marked :func:`on_server_thread` then hop onto the
  server's loop by themselves, so its state is only ever touched from one thread (the fakes
  need no locks); ``fake.submit(coro)`` does it from synchronous code.
* As a process: ``python -m tests.fakes.<fake> --port N --state FILE`` (:func:`serve_main`)
  prints its URL, journals every event to FILE as flushed JSON lines (a killed test still has
  them), serves ``GET /_fake/sent`` and takes the test's side through ``POST /_fake/<helper>``
  with a JSON body of the helper's keyword arguments (file bytes as base64 in ``file_b64``);
  ``POST /_fake/wait_for_held`` answers with the number of requests held.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import concurrent.futures
import contextlib
import functools
import json
import signal
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import IO, Any, Concatenate, ParamSpec, TypeVar

from aiohttp import web

from tests.fakes.changes import notify_change

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S", bound="FakeServer")


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def on_server_loop(
    fn: Callable[Concatenate[S, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]:
    """Runs an async test helper on the server's loop, so that a test whose own loop differs
    (the server was started with start_in_thread) can still await it."""

    @functools.wraps(fn)
    async def wrapper(self: S, *args: P.args, **kwargs: P.kwargs) -> R:
        loop = self._loop
        if loop is None or loop is _running_loop():
            return await fn(self, *args, **kwargs)
        future = asyncio.run_coroutine_threadsafe(fn(self, *args, **kwargs), loop)
        return await asyncio.wrap_future(future)

    return wrapper


def on_server_thread(fn: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """Runs a synchronous test helper on the server's loop (a quick state change), waiting
    for its result, when the caller is on another thread."""

    @functools.wraps(fn)
    def wrapper(self: S, *args: P.args, **kwargs: P.kwargs) -> R:
        loop = self._loop
        if loop is None or loop is _running_loop():
            return fn(self, *args, **kwargs)
        result: concurrent.futures.Future[R] = concurrent.futures.Future()

        def call() -> None:
            try:
                result.set_result(fn(self, *args, **kwargs))
            except BaseException as exc:  # handed to the caller
                result.set_exception(exc)

        loop.call_soon_threadsafe(call)
        return result.result(timeout=10)

    return wrapper


class FakeServer:
    """The lifecycle, journal and HTTP control of a fake server (see the module docstring)."""

    thread_name = "fake-server"
    # Served bodies may be uploads: aiohttp's 1 MB default is too small for some fakes.
    client_max_size = 1024 * 1024

    def __init__(self, *, port: int = 0, journal: str | Path | None = None) -> None:
        self.port = port
        self.journal_path = Path(journal) if journal is not None else None
        self.url = ""
        self._seq = 0
        self._changed = asyncio.Condition()
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._journal: IO[str] | None = None
        self._thread: threading.Thread | None = None

    # --- what a fake adds ------------------------------------------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def control_actions(self) -> dict[str, Callable[..., Any]]:
        """The helpers a test in another process may call, by name."""
        raise NotImplementedError

    def _sent_json(self, chat_id: str | None) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _bind_loop(self) -> None:
        """Make the loop-bound objects (events, conditions) anew in the serving loop."""
        self._changed = asyncio.Condition()

    async def _before_stop(self) -> None:
        """Release what waits (held requests, long polls) so that the server closes at once."""

    # --- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self: S) -> S:
        await self._start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stop()

    async def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._bind_loop()
        self._closing = False
        if self.journal_path is not None:
            self._journal = self.journal_path.open("a", encoding="utf-8")
        app = web.Application(client_max_size=self.client_max_size)
        self._add_routes(app)
        app.router.add_get("/_fake/sent", self._handle_control_sent)
        app.router.add_post("/_fake/{action}", self._handle_control)
        # A short shutdown timeout: long polls are released on close, nothing else lingers.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{self.port}"

    async def _stop(self) -> None:
        self._closing = True
        await self._before_stop()
        await self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        self._loop = None

    def start_in_thread(self) -> str:
        """Serves from a thread of its own, for code without a running loop. Returns the URL."""
        started = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start())
            except BaseException as exc:  # reported to the caller below
                failure.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name=self.thread_name, daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            self._thread.join()
            raise failure[0]
        return self.url

    def stop(self) -> None:
        """Stops a server started with start_in_thread and frees its port."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._thread = None

    def submit(self, coro: Coroutine[Any, Any, R], timeout: float = 10.0) -> R:
        """Runs a helper coroutine on the server's loop from synchronous code (thread mode)."""
        if self._loop is None:
            raise RuntimeError(f"the {type(self).__name__} server is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # --- state changes ---------------------------------------------------------------------------

    def _bump(self) -> int:
        self._seq += 1
        return self._seq

    async def _notify(self) -> None:
        await notify_change(self._changed)

    def _write_journal(self, kind: str, **data: Any) -> None:
        """One JSON line per event, flushed, so a killed process loses nothing."""
        if self._journal is None:
            return
        line = {"kind": kind, "seq": self._seq, **data}
        self._journal.write(json.dumps(line, ensure_ascii=False, default=repr) + "\n")
        self._journal.flush()

    # --- HTTP: the test's side, for a server in another process ----------------------------------

    async def _handle_control(self, request: web.Request) -> web.Response:
        try:
            args: dict[str, Any] = await request.json() if request.can_read_body else {}
            if "file_b64" in args:
                args["file_bytes"] = base64.b64decode(args.pop("file_b64"))
            action = self.control_actions().get(request.match_info["action"])
            if action is None:
                return web.json_response({"ok": False, "description": "unknown action"}, status=404)
            result = action(**args)
            if asyncio.iscoroutine(result):
                result = await result
        except (TypeError, ValueError, KeyError, LookupError, TimeoutError) as exc:
            return web.json_response({"ok": False, "description": repr(exc)}, status=400)
        return web.json_response({"ok": True, "result": result})

    async def _handle_control_sent(self, request: web.Request) -> web.Response:
        return web.json_response(self._sent_json(request.query.get("chat_id")))


def serve_main(
    make: Callable[[argparse.Namespace], FakeServer],
    parser: argparse.ArgumentParser,
    argv: list[str] | None = None,
) -> None:
    """``python -m tests.fakes.<fake>``: serve until SIGTERM or SIGINT, the URL printed first.

    ``parser`` has the fake's own options; --port and --state are added here."""
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--state", help="journal every event to this JSON-lines file")
    args = parser.parse_args(argv)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):  # not on Windows
                loop.add_signal_handler(sig, stop.set)
        async with make(args) as fake:
            print(fake.url, flush=True)  # the parent reads the port from here when --port 0
            await stop.wait()

    asyncio.run(serve())
