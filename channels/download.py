"""Streaming a user's file to disk under a size limit, for every channel that downloads one.

Telegram's files (channels.telegram) and Zalo's photos (channels.zalo_api) both
arrive as an HTTP response: the body is written in chunks and the download
stops with FileTooBig once it passes the limit, whatever the server declared.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from handlers.base import FileTooBig


async def write_limited(response: httpx.Response, target: Path, limit: int) -> None:
    """Write the body of a streamed ``response`` to ``target``; FileTooBig past ``limit``."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FileTooBig
    size = 0
    with target.open("wb") as out:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise FileTooBig
            out.write(chunk)
