"""The fake Zalo server in a thread of its own and as a process of its own (serving.py)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from channels.zalo_api import ZaloApi
from tests.fakes.zalo_api import DEFAULT_TOKEN, FakeZalo
from tests.seed_files import REPO_DIR


async def test_in_a_thread_the_helpers_hop_onto_the_servers_loop() -> None:
    zalo = FakeZalo()
    zalo.start_in_thread()
    try:
        async with ZaloApi(zalo.token, base_url=zalo.base_url) as api:
            sent = zalo.send_text("u1", "/viec")  # from this thread and loop
            update = await api.get_update(poll_seconds=5)
            assert update is not None and update["message"]["message_id"] == sent
            assert update["message"]["from"]["id"] == "u1"
            mark = zalo.checkpoint()
            await api.send_message("u1", "Việc của bạn")
            reply = await zalo.wait_for(lambda m: m.chat_id == "u1", after=mark)
            assert reply.content == "Việc của bạn"
            zalo.hold_sends_after(0)
            held = asyncio.create_task(api.send_message("u2", "giữ lại"))
            [request] = await zalo.wait_for_held(1)
            assert request.params["chat_id"] == "u2"
            assert await zalo.release_held() == 1
            with pytest.raises(Exception, match="network"):  # dropped, never answered
                await held
        assert zalo.texts_to("u2") == []
    finally:
        zalo.stop()


def control(url: str, action: str, **body: Any) -> Any:
    answer = httpx.post(f"{url}/_fake/{action}", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["result"]


def test_as_a_process_driven_over_http_with_a_journal(tmp_path: Path) -> None:
    journal = tmp_path / "zalo.jsonl"
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.zalo_api", "--port", "0", "--state", journal],
        cwd=REPO_DIR,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_DIR)},
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        api = f"{url}/bot{DEFAULT_TOKEN}"
        message_id = control(url, "send_text", user="u7", text="/viec")
        update = httpx.post(f"{api}/getUpdates", json={"timeout": "1"}, timeout=10).json()
        assert update["result"]["message"]["message_id"] == message_id
        control(url, "hold_sends_after", n=1)
        sent = httpx.post(f"{api}/sendMessage", json={"chat_id": "u7", "text": "một"}, timeout=10)
        assert sent.json()["ok"] is True
        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(
                httpx.post, f"{api}/sendMessage", json={"chat_id": "u8", "text": "hai"}, timeout=10
            )
            assert control(url, "wait_for_held", count=1) == 1
            assert control(url, "release_held") == 1
            with pytest.raises(httpx.HTTPError):  # the connection dropped, never answered
                held.result(timeout=10)
        assert [m["chat_id"] for m in httpx.get(f"{url}/_fake/sent", timeout=10).json()] == ["u7"]
        assert httpx.post(f"{url}/_fake/nothing", json={}, timeout=10).status_code == 404
    finally:
        server.terminate()
        server.wait(timeout=10)
    events = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    assert [(e["kind"], e.get("method"), e.get("status")) for e in events] == [
        ("update", None, None),
        ("request", "getUpdates", 200),
        ("message", "sendMessage", None),
        ("request", "sendMessage", 200),
        ("request", "sendMessage", 499),  # the held one: journalled once released, no message
    ]
