"""Opening a signed link (GET /f/<token>): check it, look its target up again, serve the file.

A tampered token is 403 and an expired one 410, before anything is looked up. What the link
points to is read from the database on every open: a deleted unit or evidence row, or a
file gone from disk, is 404, never a stale file. Files on disk go out through aiohttp's
FileResponse (sendfile, in chunks), so a pack of hundreds of MB keeps memory flat; the
summary's chart and spreadsheet are small and rendered from the data as of their date.
"""

from __future__ import annotations

import asyncio
import mimetypes
import re
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import select

from core.evidence_pack import safe_name
from core.progress import unit_tz
from core.summary import compute_summary
from core.summary_xlsx import render_workbook
from core.text import nfc, strip_diacritics
from storage.models import Criterion, Evidence, Unit
from web.context import CONTEXT, WebContext
from web.links import (
    CHART,
    EVIDENCE,
    PACK,
    PACK_NAME,
    PACKS_DIR,
    WORKBOOK,
    LinkExpired,
    LinkInvalid,
    Target,
    read_token,
)
from web.pages import page

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_MIME = re.compile(r"[a-z0-9.+-]+/[a-z0-9.+-]+")
_FALLBACK_UNSAFE = re.compile(r'[^\x20-\x7e]|["\\;%]')
# Shown in the browser rather than downloaded: what a phone can display by itself.
_INLINE = re.compile(r"image/.*|application/pdf|text/plain")
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}")

Opener = Callable[[WebContext, Target], Awaitable[web.StreamResponse | None]]


async def open_link(request: web.Request) -> web.StreamResponse:
    context = request.app[CONTEXT]
    try:
        target = read_token(context.settings, request.match_info["token"], now=context.clock())
    except LinkExpired:
        return page(410)
    except (LinkInvalid, ValueError, UnicodeDecodeError):
        return page(403)
    response = await _OPENERS[target.kind](context, target)
    return response if response is not None else page(404)


def content_disposition(disposition: str, name: str) -> str:
    """``inline``/``attachment`` with the Vietnamese name (RFC 6266 and 5987) and an ASCII one.

    Old clients read ``filename``, so it gets the name without diacritics.
    """
    name = nfc(name)
    fallback = _FALLBACK_UNSAFE.sub("_", strip_diacritics(name)) or "tep"
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _headers(content_type: str, name: str) -> dict[str, str]:
    disposition = "inline" if _INLINE.fullmatch(content_type) else "attachment"
    return {
        "Content-Type": content_type,
        "Content-Disposition": content_disposition(disposition, name),
    }


# ---------------------------------------------------------------- the four kinds


async def _summary_file(context: WebContext, target: Target) -> web.StreamResponse | None:
    (day,) = target.refs
    as_of = date.fromisoformat(day)
    async with context.sessions() as session:
        unit = await session.get(Unit, target.unit_id)
        if unit is None:
            return None
        summary = await compute_summary(session, unit=unit, as_of=as_of)
        tz = unit_tz(unit)
    stem = safe_name(f"TongHop {summary.unit} {as_of:%Y-%m-%d}", max_length=80)
    if target.kind == CHART:
        # matplotlib loads with the first chart; rendering takes a while, so off the event loop.
        from core.summary_chart import render_chart

        body = await asyncio.to_thread(render_chart, summary)
        return web.Response(body=body, headers=_headers("image/png", f"{stem}.png"))
    body = await asyncio.to_thread(render_workbook, summary, tz=tz)
    return web.Response(body=body, headers=_headers(XLSX, f"{stem}.xlsx"))


async def _pack(context: WebContext, target: Target) -> web.StreamResponse | None:
    year, name = target.refs
    async with context.sessions() as session:
        unit = await session.get(Unit, target.unit_id)
        if unit is None:
            return None
        unit_name = unit.name
    path = context.settings.evidence_dir / PACKS_DIR / name
    if not PACK_NAME.fullmatch(name) or not path.is_file():
        return None
    download = f"{safe_name(f'MinhChung {unit_name} {year}', max_length=80)}.zip"
    return web.FileResponse(path, headers=_headers("application/zip", download))


async def _evidence(context: WebContext, target: Target) -> web.StreamResponse | None:
    (evidence_id,) = target.refs
    async with context.sessions() as session:
        found = (
            await session.execute(
                select(Evidence, Criterion)
                .join(Criterion, Criterion.id == Evidence.criterion_id)
                .where(Evidence.id == int(evidence_id), Evidence.unit_id == target.unit_id)
            )
        ).first()
    if found is None:
        return None
    evidence, criterion = found
    root = context.settings.evidence_dir.resolve()
    path = (root / evidence.storage_path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    name = _evidence_name(evidence, criterion, path)
    return web.FileResponse(path, headers=_headers(_evidence_type(evidence, name), name))


def _evidence_name(evidence: Evidence, criterion: Criterion, path: Path) -> str:
    if evidence.original_name:
        original = Path(evidence.original_name.replace("\\", "/")).name
        suffix = Path(original).suffix
        stem = safe_name(original.removesuffix(suffix), max_length=80)
        return f"{stem}{suffix if _SUFFIX.fullmatch(suffix) else path.suffix}"
    return f"MinhChung {safe_name(criterion.index_name)} {safe_name(criterion.code)}{path.suffix}"


def _evidence_type(evidence: Evidence, name: str) -> str:
    mime = (evidence.mime or "").split(";")[0].strip().lower()
    if _MIME.fullmatch(mime):
        return mime
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


_OPENERS: dict[str, Opener] = {
    CHART: _summary_file,
    WORKBOOK: _summary_file,
    PACK: _pack,
    EVIDENCE: _evidence,
}
