"""What an admin sends through the web because Zalo cannot carry it: a plan document and a roster.

The plan goes through the same code as /kehoach: ``parse_plan_file`` with the unit's lead
mappings, ``build_preview``/``render_preview``, the admin maps the leads it did not know,
and "Xác nhận" runs ``import_plan`` and remembers the mappings (``add_position_alias``).
Between the preview and the confirmation the uploaded file waits under
``EVIDENCE_DIR/.web-plans/`` with an unguessable name bound to the unit and the admin;
files older than a day are swept. The roster goes through ``read_roster`` and
``import_roster``, all or nothing, as /canbo.

Routes: ``GET /xa/<unit>/quantri`` (the two forms), ``POST /xa/<unit>/kehoach`` (upload,
preview), ``POST /xa/<unit>/kehoach/<token>`` (map leads, confirm or cancel),
``POST /xa/<unit>/canbo`` (roster). Admins of the unit only; CSRF on every form.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from core.officers import RosterError, import_roster
from core.plan_model import ParsedPlan, PlanParseError
from core.plan_preview import build_preview, render_preview
from core.plan_store import add_position_alias, import_plan, unit_catalogue
from core.plans import MAX_PLAN_BYTES, parse_plan_file_async
from core.positions import default_catalogue
from core.roles import has_role
from core.roster import read_roster_async
from core.units import document_unit_conflict, unit_conflict_text
from core.web_login import Viewer
from storage.models import Unit
from web.context import CONTEXT, WebContext
from web.dashboard import (
    CSRF_FIELD,
    _csrf_ok,
    _forbidden,
    _not_found,
    csrf_token,
    message,
    read_upload,
    render,
    signed_in,
)

PENDING_DIR = ".web-plans"
PENDING_TTL_SECONDS = 24 * 3600
PLAN_SUFFIXES = (".docx", ".xlsx", ".csv", ".txt", ".tsv", ".yaml", ".yml")
ROSTER_SUFFIXES = (".csv", ".xlsx")
MAX_ROSTER_BYTES = 5 * 1024 * 1024
_TOKEN = re.compile(r"[0-9a-f]{32}")


def add_upload_routes(app: web.Application) -> None:
    app.router.add_get(r"/xa/{unit:\d+}/quantri", admin_page)
    app.router.add_post(r"/xa/{unit:\d+}/kehoach", plan_upload)
    app.router.add_post(r"/xa/{unit:\d+}/kehoach/{token:[0-9a-f]{32}}", plan_decide)
    app.router.add_post(r"/xa/{unit:\d+}/canbo", roster_upload)


async def _admin_unit(
    request: web.Request, session: AsyncSession, viewer: Viewer
) -> Unit | web.Response:
    unit_id = int(request.match_info["unit"])
    officer = viewer.officer
    if officer is None or officer.unit_id != unit_id or not has_role(officer, "admin"):
        return _forbidden(viewer)
    unit = await session.get(Unit, unit_id)
    return unit if unit is not None else _not_found(viewer)


@signed_in
async def admin_page(
    request: web.Request, session: AsyncSession, viewer: Viewer, cookie: str
) -> web.StreamResponse:
    unit = await _admin_unit(request, session, viewer)
    if isinstance(unit, web.Response):
        return unit
    context = request.app[CONTEXT]
    return render(
        "admin.html",
        viewer=viewer,
        csrf=csrf_token(context, cookie),
        unit=unit,
        plan_accept=",".join(PLAN_SUFFIXES),
        roster_accept=",".join(ROSTER_SUFFIXES),
    )


# ---------------------------------------------------------------- plan


def _pending_path(context: WebContext, unit: Unit, viewer: Viewer, token: str) -> Path:
    """Where an upload waits for "Xác nhận" (``.data`` and ``.name``): only the admin who
    sent it, in that unit, can name it again."""
    assert viewer.officer is not None
    folder = context.settings.evidence_dir / PENDING_DIR
    return folder / f"{unit.id}-{viewer.officer.id}-{token}"


def _sweep(folder: Path) -> None:
    cutoff = time.time() - PENDING_TTL_SECONDS
    for path in folder.glob("*"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:
            pass  # swept by another request


async def _parse(
    session: AsyncSession, unit: Unit, data: bytes, filename: str, mappings: dict[str, str]
) -> ParsedPlan:
    catalogue = await unit_catalogue(session, unit=unit)
    if mappings:
        catalogue = catalogue.with_aliases(mappings)
    return await parse_plan_file_async(data, filename=filename, catalogue=catalogue)


def _preview(
    request: web.Request,
    viewer: Viewer,
    cookie: str,
    unit: Unit,
    token: str,
    filename: str,
    plan: ParsedPlan,
    mappings: dict[str, str],
) -> web.Response:
    preview = build_preview(plan, target_unit=unit.name)
    return render(
        "plan_preview.html",
        viewer=viewer,
        csrf=csrf_token(request.app[CONTEXT], cookie),
        unit=unit,
        token=token,
        filename=filename,
        body=render_preview(preview, max_lines=40),
        unmapped=list(preview.unmapped_leads.items()),
        mappings=mappings,
        codes=list(default_catalogue().positions),
        conflict=preview.other_unit is not None,
    )


@signed_in
async def plan_upload(
    request: web.Request, session: AsyncSession, viewer: Viewer, cookie: str
) -> web.StreamResponse:
    unit = await _admin_unit(request, session, viewer)
    if isinstance(unit, web.Response):
        return unit
    context = request.app[CONTEXT]
    folder = context.settings.evidence_dir / PENDING_DIR
    upload = await read_upload(
        request,
        folder=folder,
        suffixes=PLAN_SUFFIXES,
        limit=MAX_PLAN_BYTES,
        kinds="kế hoạch (" + ", ".join(PLAN_SUFFIXES) + ")",
    )
    if isinstance(upload, web.Response):
        return upload
    if not _csrf_ok(context, cookie, upload.fields.get(CSRF_FIELD)):
        await asyncio.to_thread(upload.path.unlink, missing_ok=True)
        return _forbidden(viewer)
    await asyncio.to_thread(_sweep, folder)
    token = upload.path.stem
    pending = _pending_path(context, unit, viewer, token)
    # The name waits beside the file (its suffix tells the parser the format).
    await asyncio.to_thread(_keep, upload.path, pending, upload.name)
    data = await asyncio.to_thread(pending.with_suffix(".data").read_bytes)
    try:
        plan = await _parse(session, unit, data, upload.name, {})
    except PlanParseError as exc:
        await asyncio.to_thread(_drop, pending)
        return message(400, "Không đọc được kế hoạch", texts.plan_unreadable(str(exc)), viewer)
    return _preview(request, viewer, cookie, unit, token, upload.name, plan, {})


def _keep(source: Path, pending: Path, name: str) -> None:
    pending.with_suffix(".name").write_text(name, encoding="utf-8")
    source.rename(pending.with_suffix(".data"))


def _drop(pending: Path) -> None:
    for suffix in (".data", ".name"):
        pending.with_suffix(suffix).unlink(missing_ok=True)


def _load(pending: Path) -> tuple[bytes, str] | None:
    try:
        return (
            pending.with_suffix(".data").read_bytes(),
            pending.with_suffix(".name").read_text(encoding="utf-8"),
        )
    except FileNotFoundError:
        return None


@signed_in
async def plan_decide(
    request: web.Request, session: AsyncSession, viewer: Viewer, cookie: str
) -> web.StreamResponse:
    unit = await _admin_unit(request, session, viewer)
    if isinstance(unit, web.Response):
        return unit
    context = request.app[CONTEXT]
    form = await request.post()
    if not _csrf_ok(context, cookie, _text(form.get(CSRF_FIELD))):
        return _forbidden(viewer)
    token = request.match_info["token"]
    pending = _pending_path(context, unit, viewer, token)
    loaded = await asyncio.to_thread(_load, pending)
    if loaded is None:
        return message(410, "Bản xem trước không còn", texts.PLAN_GONE, viewer)
    data, filename = loaded
    action = _text(form.get("hanhdong"))
    if action == "huy":
        await asyncio.to_thread(_drop, pending)
        return message(200, "Đã hủy", texts.PLAN_CANCELLED, viewer)
    codes = set(default_catalogue().positions)
    mappings = {}
    for key, value in form.items():
        lead_key = key.removeprefix("ma_")
        lead = _text(form.get(f"lead_{lead_key}")) if key.startswith("ma_") else None
        if lead and isinstance(value, str) and value in codes:
            mappings[lead] = value
    try:
        plan = await _parse(session, unit, data, filename, mappings)
    except PlanParseError as exc:
        return message(400, "Không đọc được kế hoạch", texts.plan_unreadable(str(exc)), viewer)
    if action != "xacnhan":
        return _preview(request, viewer, cookie, unit, token, filename, plan, mappings)
    named = document_unit_conflict(plan, unit.name)
    if named is not None:
        return message(400, "Không nhập", unit_conflict_text(named, unit.name), viewer)
    assert viewer.officer is not None
    actor = f"web:{viewer.officer.id}"
    report = await import_plan(
        session,
        unit_name=unit.name,
        plan=plan,
        source_name=filename,
        source_sha256=hashlib.sha256(data).hexdigest(),
        actor=actor,
        officer_id=viewer.officer.id,
    )
    for lead, code in mappings.items():
        await add_position_alias(
            session, unit=unit, text=lead, position_code=code, actor=actor,
            officer_id=viewer.officer.id,
        )  # fmt: skip
    await asyncio.to_thread(_drop, pending)
    done = texts.plan_imported(
        report.unit_name,
        len(report.added),
        len(report.changed),
        len(report.removed),
        report.unchanged,
        len(report.warnings),
    )
    return message(200, "Đã nhập kế hoạch", done, viewer)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


# ---------------------------------------------------------------- roster


@signed_in
async def roster_upload(
    request: web.Request, session: AsyncSession, viewer: Viewer, cookie: str
) -> web.StreamResponse:
    unit = await _admin_unit(request, session, viewer)
    if isinstance(unit, web.Response):
        return unit
    context = request.app[CONTEXT]
    upload = await read_upload(
        request,
        folder=context.settings.evidence_dir / PENDING_DIR,
        suffixes=ROSTER_SUFFIXES,
        limit=MAX_ROSTER_BYTES,
        kinds="danh sách cán bộ (.csv hoặc .xlsx)",
    )
    if isinstance(upload, web.Response):
        return upload
    try:
        if not _csrf_ok(context, cookie, upload.fields.get(CSRF_FIELD)):
            return _forbidden(viewer)
        data = await asyncio.to_thread(upload.path.read_bytes)
    finally:
        await asyncio.to_thread(upload.path.unlink, missing_ok=True)
    assert viewer.officer is not None
    try:
        rows = await read_roster_async(data, filename=upload.name)
        async with session.begin_nested():  # all or nothing, as /canbo
            report = await import_roster(
                session,
                unit=unit,
                rows=rows,
                actor=f"web:{viewer.officer.id}",
                actor_officer_id=viewer.officer.id,
            )
    except RosterError as exc:
        return message(400, "Chưa nhập danh sách", texts.roster_failed(exc.problems), viewer)
    done = texts.roster_imported(len(report.added), len(report.updated))
    return message(200, "Đã nhập danh sách cán bộ", done, viewer)
