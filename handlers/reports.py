"""The weekly summary on demand (/tonghop) and the year-end evidence pack (/xuat).

/tonghop sends exactly what the Friday summary sends: the message (one or
more parts), the chart and the spreadsheet, computed now. /xuat streams the
pack to a temporary folder, split into parts under Telegram's 50 MB limit for
bots, and sends each part straight from disk.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bot import texts
from core.evidence_pack import safe_name, write_pack_async
from core.export import PackContents, pack_contents
from core.summary import compute_summary
from core.summary_bundle import bundle
from core.text import parse_whole_number
from handlers.base import MANAGER, Inbound, Reply, Request, handler
from web import links

# Telegram takes documents up to 50 MB from bots; keep a margin for the request itself.
MAX_PART_BYTES = 49_000_000
MIN_YEAR, MAX_YEAR = 2000, 2100  # a plan year, as /xuat takes it


@handler(MANAGER)
async def summary_command(event: Inbound, request: Request) -> list[Reply]:
    assert request.unit is not None
    summary = await compute_summary(request.session, unit=request.unit, as_of=request.today)
    if not summary.indexes:
        return [Reply(texts.NO_PLAN)]
    parts = bundle(summary, request.unit)
    replies = [Reply(text) for text in parts.texts]
    files = request.channel.capabilities.documents
    if files:
        replies += [
            Reply(texts.CHART_CAPTION, photo=parts.chart),
            Reply(texts.WORKBOOK_CAPTION, document=(parts.workbook_name, parts.workbook)),
        ]
    if request.settings.web_enabled:  # the same, as links to open or forward (7 days)
        unit_id, today, now = request.unit.id, request.today, request.now
        chart = links.summary_chart_link(request.settings, unit_id=unit_id, as_of=today, now=now)
        workbook = links.summary_xlsx_link(request.settings, unit_id=unit_id, as_of=today, now=now)
        replies.append(Reply(texts.on_the_web(chart, workbook)))
    elif not files:  # Zalo without the web server: the summary's text is all there is
        replies.append(Reply(texts.FILES_NEED_WEB))
    return replies


@handler(MANAGER, reads_only=True)
async def export_command(event: Inbound, request: Request) -> list[Reply]:
    """/xuat [năm] — coordinators and admins.

    It only reads, so the frame builds the ZIP before taking SQLite's writer's turn
    (reads_only): a pack of hundreds of MB holds up no other user's claim.
    """
    assert request.unit is not None and request.officer is not None
    if not {"coordinator", "admin"} & set(request.officer.roles or ()):
        return [Reply(texts.NOT_ALLOWED)]
    args = event.args
    year = parse_whole_number(args[0], minimum=MIN_YEAR, maximum=MAX_YEAR) if args else None
    if args and year is None:
        return [Reply(texts.EXPORT_USAGE)]
    year = year or request.today.year
    contents = await pack_contents(
        request.session,
        unit=request.unit,
        year=year,
        evidence_dir=request.settings.evidence_dir,
    )
    if not contents.items:
        return [Reply(texts.no_plan_for_year(year))]
    if not request.channel.capabilities.documents:
        return await _pack_link(request, contents, year)
    folder = Path(tempfile.mkdtemp(prefix="dondoc-pack-"))
    name = safe_name(f"MinhChung {request.unit.name} {year}", max_length=80)
    parts = await write_pack_async(
        folder / f"{name}.zip",
        items=contents.items,
        files=contents.files,
        max_part_bytes=MAX_PART_BYTES,
        tz=request.tz,
    )
    assert parts is not None
    replies = [Reply(texts.export_ready(len(contents.items), len(contents.files), len(parts)))]
    replies += [Reply("", document=(part.name, part)) for part in parts]
    if contents.missing:
        replies.append(Reply(texts.export_missing(len(contents.missing))))
    # The parts are sent after the transaction commits; remove them once the last was tried.
    replies[-1].after = lambda: shutil.rmtree(folder, ignore_errors=True)
    return replies


async def _pack_link(request: Request, contents: PackContents, year: int) -> list[Reply]:
    """For a channel that takes no files (Zalo): the whole pack, written once where the web
    server serves it, as a link valid 24 hours; without the web server, say what it takes."""
    assert request.unit is not None
    if not request.settings.web_enabled:
        return [Reply(texts.FILES_NEED_WEB)]
    pack = links.new_pack_path(request.settings, now=request.now)
    await write_pack_async(pack, items=contents.items, files=contents.files, tz=request.tz)
    link = links.evidence_pack_link(
        request.settings, unit_id=request.unit.id, year=year, pack=pack, now=request.now
    )
    replies = [Reply(texts.export_link(len(contents.items), len(contents.files), link))]
    if contents.missing:
        replies.append(Reply(texts.export_missing(len(contents.missing))))
    return replies
