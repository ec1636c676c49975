"""The dashboard: pages for the chairman, the province and officers, behind a one-time login.

Routes (all server-rendered with Jinja2, Vietnamese, no JavaScript):

- ``GET /dangnhap/<token>`` shows one "Đăng nhập" button (a chat app's preview fetch must
  not spend the link); ``POST`` spends it and sets the session cookie.
- ``GET /`` sends each person to their page; ``POST /dangxuat`` ends the session.
- ``GET /tinh`` (and ``/tinh.xlsx``): one row per commune, for province users.
- ``GET /xa/<unit>``: the commune's summary as of today (coordinators, leaders, admins of
  the unit, province users); an officer sees only their own items there.
- ``GET /xa/<unit>/bieudo.png``, ``/xa/<unit>/tonghop.xlsx``: the chat summary's chart and
  spreadsheet; ``GET /xa/<unit>/viec/<item>``: one item; ``POST …/minhchung``: an evidence
  file; ``GET /xa/<unit>/minhchung/<id>``: one evidence file.

Every request reads the session and the person again (core/web_login.py), and every page,
file and upload checks the viewer's scope on the server: another unit's id is 403.
Every form carries a CSRF token tied to the session.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import logging
import secrets
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import openpyxl
from aiohttp import BodyPartReader, web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.dashboard import ProvinceRow, UnitState, today_in, unit_state, unit_states
from core.evidence import MAX_EVIDENCE_BYTES, EvidenceError, new_incoming_path, store_evidence
from core.ownership import can_update, officer_items, owners_of
from core.progress import STATUS_LABELS, unit_tz
from core.summary_xlsx import Column, local_naive, render_workbook, write_table
from core.text import format_date, format_points
from core.web_login import (
    LOGIN_PATH,
    SESSION_TTL,
    SessionRefused,
    Viewer,
    end_session,
    login_is_usable,
    session_viewer,
    spend_login,
)
from storage.models import Criterion, Evidence, Officer, ProgressUpdate, Unit
from web.context import CONTEXT, WebContext
from web.files import XLSX, _evidence_name, _evidence_type, _headers, content_disposition

log = logging.getLogger(__name__)

COOKIE = "dondoc_phien"
MAX_FIELD_CHARS = 1000
CSRF_FIELD = "csrf"
# What officers send as evidence: photos, PDF, Word, Excel (as the chat accepts).
EVIDENCE_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".heic": "image/heic",
    ".pdf": "application/pdf",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": XLSX,
}

GROUP_LABELS = {
    "overdue": "Quá hạn",
    "due_7": "Đến hạn trong 7 ngày",
    "later": "Sau này",
    "ongoing": "Thường xuyên",
    "unscheduled": "Chưa có hạn",
    "common": "Việc chung",
}
NOTICES = {
    "ok": "Đã nhận tệp minh chứng.",
    "trung": "Tệp này đã có trong minh chứng của mục.",
}
SORTS: dict[str, Callable[[ProvinceRow], Any]] = {
    "ten": lambda r: r.unit,
    "xong": lambda r: r.percent_done,
    "quahan": lambda r: r.overdue,
    "diem": lambda r: r.secured,
    "ruiro": lambda r: r.at_risk,
    "hoatdong": lambda r: r.last_activity.timestamp() if r.last_activity else 0,
    "imlang": lambda r: r.silent_officers,
    "khonglienlac": lambda r: r.unreachable_officers,
    "nam": lambda r: r.plan_year or 0,
}

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
_ENV.filters["points"] = format_points
_ENV.globals["STATUS"] = STATUS_LABELS
_ENV.globals["GROUP_LABELS"] = GROUP_LABELS
_ENV.globals["NOTICES"] = NOTICES


def add_dashboard_routes(app: web.Application) -> None:
    app.router.add_get("/", home)
    app.router.add_get(f"/{LOGIN_PATH}/{{token}}", login_page)
    app.router.add_post(f"/{LOGIN_PATH}/{{token}}", login_submit)
    app.router.add_post("/dangxuat", logout)
    app.router.add_get("/tinh", province_page)
    app.router.add_get("/tinh.xlsx", province_xlsx)
    app.router.add_get(r"/xa/{unit:\d+}", commune_page)
    app.router.add_get(r"/xa/{unit:\d+}/bieudo.png", commune_chart)
    app.router.add_get(r"/xa/{unit:\d+}/tonghop.xlsx", commune_xlsx)
    app.router.add_get(r"/xa/{unit:\d+}/viec/{item:\d+}", item_page)
    app.router.add_post(r"/xa/{unit:\d+}/viec/{item:\d+}/minhchung", evidence_upload)
    app.router.add_get(r"/xa/{unit:\d+}/minhchung/{evidence:\d+}", evidence_file)


# ---------------------------------------------------------------- rendering and refusals


def render(template: str, *, status: int = 200, **values: Any) -> web.Response:
    text = _ENV.get_template(template).render(format_date=format_date, **values)
    return web.Response(status=status, text=text, content_type="text/html", charset="utf-8")


def message(status: int, title: str, body: str, viewer: Viewer | None = None) -> web.Response:
    return render("message.html", status=status, title=title, body=body, viewer=viewer, csrf="")


def _redirect(location: str) -> web.Response:
    """303: after a POST the browser GETs the page, so a reload sends nothing twice."""
    return web.Response(status=303, headers={"Location": location})


def _no_session() -> web.Response:
    return message(
        401,
        "Chưa đăng nhập",
        "Hãy gửi /web cho bot trong tin nhắn riêng để nhận liên kết đăng nhập.",
    )


def _forbidden(viewer: Viewer) -> web.Response:
    return message(403, "Không có quyền", "Bạn không được xem trang này.", viewer)


def _not_found(viewer: Viewer) -> web.Response:
    return message(404, "Không tìm thấy", "Trang này không có hoặc đã bị xóa.", viewer)


# ---------------------------------------------------------------- sessions and CSRF


def _secure(context: WebContext) -> bool:
    return (context.settings.base_url or "").startswith("https://")


def csrf_token(context: WebContext, cookie: str) -> str:
    """Tied to the session: a page of another site cannot know it, and it dies with it."""
    secret = context.settings.web_secret
    if secret is None:
        raise ValueError("WEB_SECRET is not set")
    key = hmac.new(secret.get_secret_value().encode(), b"dondoc csrf", hashlib.sha256).digest()
    return hmac.new(key, cookie.encode(), hashlib.sha256).hexdigest()


def _csrf_ok(context: WebContext, cookie: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(given, csrf_token(context, cookie))


Page = Callable[[web.Request, AsyncSession, Viewer, str], Awaitable[web.StreamResponse]]


def signed_in(handler: Page) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Runs ``handler`` with the request's viewer, read again from the database; one
    transaction per request."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        context = request.app[CONTEXT]
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return _no_session()
        async with context.sessions() as session, session.begin():
            try:
                viewer = await session_viewer(session, cookie=cookie, now=context.clock())
            except SessionRefused:
                refused = message(
                    403, "Tài khoản đã bị khóa", "Tài khoản của bạn không còn được dùng trang này."
                )
                refused.del_cookie(COOKIE, path="/")
                return refused
            if viewer is None:
                response = _no_session()
                response.del_cookie(COOKIE, path="/")
                return response
            return await handler(request, session, viewer, cookie)

    return wrapped


# ---------------------------------------------------------------- login


async def login_page(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    token = request.match_info["token"]
    async with context.sessions() as session:
        usable = await login_is_usable(session, token=token, now=context.clock())
    if not usable:
        return _login_gone()
    return render("login.html", viewer=None, csrf="")


def _login_gone() -> web.Response:
    return message(
        410,
        "Liên kết đăng nhập đã hết hạn",
        "Liên kết này đã dùng rồi hoặc đã quá 15 phút. Hãy gửi /web cho bot để nhận liên kết mới.",
    )


async def login_submit(request: web.Request) -> web.StreamResponse:
    context = request.app[CONTEXT]
    async with context.sessions() as session, session.begin():
        cookie = await spend_login(session, token=request.match_info["token"], now=context.clock())
    if cookie is None:
        return _login_gone()
    response = _redirect("/")
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(SESSION_TTL.total_seconds()),
        path="/",
        httponly=True,
        samesite="Lax",
        secure=_secure(context),
    )
    return response


@signed_in
async def logout(
    request: web.Request, session: AsyncSession, viewer: Viewer, cookie: str
) -> web.StreamResponse:
    form = await request.post()
    if not _csrf_ok(request.app[CONTEXT], cookie, _field(form, CSRF_FIELD)):
        return _forbidden(viewer)
    await end_session(session, cookie=cookie)
    response = message(200, "Đã đăng xuất", "Hẹn gặp lại.")
    response.del_cookie(COOKIE, path="/")
    return response


def _field(form: Any, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


@signed_in
async def home(
    request: web.Request, session: AsyncSession, viewer: Viewer, cookie: str
) -> web.StreamResponse:
    if viewer.is_province:
        return _redirect("/tinh")
    return _redirect(f"/xa/{viewer.unit_id}")


# ---------------------------------------------------------------- province


def _sorted_rows(rows: list[ProvinceRow], key: str, descending: bool) -> list[ProvinceRow]:
    return sorted(rows, key=SORTS.get(key, SORTS["ten"]), reverse=descending)


@signed_in
async def province_page(
    request: web.Request, session: AsyncSession, viewer: Viewer, cookie: str
) -> web.StreamResponse:
    if not viewer.is_province:
        return _forbidden(viewer)
    context = request.app[CONTEXT]
    states = await unit_states(session, cache=context.dashboard, now=context.clock())
    key = request.query.get("sap", "ten")
    key = key if key in SORTS else "ten"
    descending = request.query.get("chieu") == "giam"
    rows = _sorted_rows([s.row for s in states], key, descending)
    return render(
        "province.html",
        viewer=viewer,
        csrf=csrf_token(context, cookie),
        rows=rows,
        sort=key,
        descending=descending,
        year=context.clock().year,
    )


PROVINCE_COLUMNS = (
    Column("Đơn vị", wrap=True),
    Column("Hoàn thành"),
    Column("Tổng số việc"),
    Column("Tỷ lệ (%)", "0.0"),
    Column("Quá hạn"),
    Column("Điểm đảm bảo", "0.00"),
    Column("Điểm phấn đấu", "0.00"),
    Column("Điểm rủi ro", "0.00"),
    Column("Hoạt động gần nhất", "dd/mm/yyyy hh:mm"),
    Column("Cán bộ im lặng"),
    Column("Cán bộ không liên lạc được"),
    Column("Năm kế hoạch"),
    Column("Có kế hoạch năm nay"),
)


def province_workbook(rows: list[ProvinceRow], tz: Any) -> bytes:
    """The province table as .xlsx, written as the summary's sheets are (text cells are
    strings no spreadsheet evaluates)."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Toàn tỉnh"
    values = [
        [
            row.unit,
            row.done,
            row.items,
            row.percent_done,
            row.overdue,
            row.secured,
            row.target,
            row.at_risk,
            local_naive(row.last_activity, tz),
            row.silent_officers,
            row.unreachable_officers,
            row.plan_year,
            "Có" if row.plan_current else "Không",
        ]
        for row in rows
    ]
    write_table(sheet, PROVINCE_COLUMNS, values)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@signed_in
async def province_xlsx(
    request: web.Request, session: AsyncSession, viewer: Viewer, cookie: str
) -> web.StreamResponse:
    if not viewer.is_province:
        return _forbidden(viewer)
    context = request.app[CONTEXT]
    states = await unit_states(session, cache=context.dashboard, now=context.clock())
    tz = unit_tz(Unit(timezone=None))
    body = await asyncio.to_thread(province_workbook, [s.row for s in states], tz)
    name = f"TongHop Tinh {context.clock().astimezone(tz):%Y-%m-%d}.xlsx"
    return _xlsx_response(body, name)


def _xlsx_response(body: bytes, name: str) -> web.Response:
    """A workbook to download, under its Vietnamese file name."""
    return web.Response(
        body=body,
        headers={
            "Content-Type": XLSX,
            "Content-Disposition": content_disposition("attachment", name),
        },
    )


# ---------------------------------------------------------------- commune


async def _unit_in_scope(
    request: web.Request, session: AsyncSession, viewer: Viewer
) -> Unit | web.Response:
    unit_id = int(request.match_info["unit"])
    if not viewer.sees_unit_of_items(unit_id):
        return _forbidden(viewer)
    unit = await session.get(Unit, unit_id)
    return unit if unit is not None else _not_found(viewer)


@signed_in
async def commune_page(
    request: web.Request, session: AsyncSession, viewer: Viewer, cookie: str
) -> web.StreamResponse:
    unit = await _unit_in_scope(request, session, viewer)
    if isinstance(unit, web.Response):
        return unit
    context = request.app[CONTEXT]
    csrf = csrf_token(context, cookie)
    today = today_in(unit, context.clock())
    if not viewer.sees_unit(unit.id):
        assert viewer.officer is not None  # an officer of this unit: their own items only
        mine = await officer_items(session, officer=viewer.officer, today=today)
        return render("my_items.html", viewer=viewer, csrf=csrf, unit=unit, today=today, items=mine)
    state = await unit_state(session, cache=context.dashboard, unit_id=unit.id, now=context.clock())
    assert state is not None
    return render(
        "commune.html",
        viewer=viewer,
        csrf=csrf,
        unit=unit,
        summary=state.summary,
        row=state.row,
        today=today,
    )


async def _manager_state(
    request: web.Request, session: AsyncSession, viewer: Viewer
) -> tuple[Unit, UnitState] | web.Response:
    unit = await _unit_in_scope(request, session, viewer)
    if isinstance(unit, web.Response):
        return unit
    if not viewer.sees_unit(unit.id):
        return _forbidden(viewer)
    context = request.app[CONTEXT]
    state = await unit_state(session, cache=context.dashboard, unit_id=unit.id, now=context.clock())
    assert state is not None
    return unit, state


@signed_in
async def commune_chart(
    request: web.Request, session: AsyncSession, viewer: Viewer, cookie: str
) -> web.StreamResponse:
    found = await _manager_state(request, session, viewer)
    if isinstance(found, web.Response):
        return found
    unit, state = found
    key = ("chart", unit.id, state.fingerprint)
    cache = request.app[CONTEXT].dashboard
    body = cache.extra(key)
    if body is None:
        # matplotlib loads with the first chart; rendering takes a while, so off the event loop.
        from core.summary_chart import render_chart

        body = await asyncio.to_thread(render_chart, state.summary)
        cache.keep_extra(key, body)
    return web.Response(body=body, content_type="image/png")


@signed_in
async def commune_xlsx(
    request: web.Request, session: AsyncSession, viewer: Viewer, cookie: str
) -> web.StreamResponse:
    found = await _manager_state(request, session, viewer)
    if isinstance(found, web.Response):
        return found
    unit, state = found
    body = await asyncio.to_thread(render_workbook, state.summary, tz=unit_tz(unit))
    name = f"TongHop {unit.name} {state.summary.as_of:%Y-%m-%d}.xlsx"
    return _xlsx_response(body, name)


# ---------------------------------------------------------------- items and evidence


async def _item_in_scope(
    request: web.Request, session: AsyncSession, viewer: Viewer
) -> tuple[Unit, Criterion] | web.Response:
    unit = await _unit_in_scope(request, session, viewer)
    if isinstance(unit, web.Response):
        return unit
    criterion = await session.get(Criterion, int(request.match_info["item"]))
    if criterion is None or criterion.unit_id != unit.id or not criterion.active:
        return _not_found(viewer)
    if not viewer.sees_unit(unit.id):
        assert viewer.officer is not None
        if not await can_update(session, officer=viewer.officer, criterion=criterion):
            return _forbidden(viewer)
    return unit, criterion


def _may_attach(viewer: Viewer) -> bool:
    return viewer.officer is not None


@signed_in
async def item_page(
    request: web.Request, session: AsyncSession, viewer: Viewer, cookie: str
) -> web.StreamResponse:
    found = await _item_in_scope(request, session, viewer)
    if isinstance(found, web.Response):
        return found
    unit, criterion = found
    context = request.app[CONTEXT]
    tz = unit_tz(unit)
    history = (
        await session.execute(
            select(ProgressUpdate, Officer.name)
            .outerjoin(Officer, Officer.id == ProgressUpdate.officer_id)
            .where(ProgressUpdate.criterion_id == criterion.id)
            .order_by(ProgressUpdate.created_at.desc(), ProgressUpdate.id.desc())
        )
    ).all()
    evidence = (
        await session.scalars(
            select(Evidence)
            .where(Evidence.criterion_id == criterion.id, Evidence.withdrawn_at.is_(None))
            .order_by(Evidence.created_at, Evidence.id)
        )
    ).all()
    owners = await owners_of(session, criterion=criterion)
    return render(
        "item.html",
        viewer=viewer,
        csrf=csrf_token(context, cookie),
        unit=unit,
        item=criterion,
        owners=[o.name for o in owners],
        history=[(update, name, update.created_at.astimezone(tz)) for update, name in history],
        evidence=[(e, e.created_at.astimezone(tz)) for e in evidence],
        may_attach=_may_attach(viewer)
        and criterion.is_leaf
        and viewer.officer is not None
        and await can_update(session, officer=viewer.officer, criterion=criterion),
        notice=request.query.get("tb"),
        accept=",".join(EVIDENCE_TYPES),
        max_mb=MAX_EVIDENCE_BYTES // (1024 * 1024),
    )


@signed_in
async def evidence_upload(
    request: web.Request, session: AsyncSession, viewer: Viewer, cookie: str
) -> web.StreamResponse:
    found = await _item_in_scope(request, session, viewer)
    if isinstance(found, web.Response):
        return found
    unit, criterion = found
    context = request.app[CONTEXT]
    officer = viewer.officer
    if (
        officer is None
        or not criterion.is_leaf
        or not await can_update(session, officer=officer, criterion=criterion)
    ):
        return _forbidden(viewer)
    upload = await read_upload(
        request,
        folder=new_incoming_path(context.settings.evidence_dir).parent,
        suffixes=EVIDENCE_TYPES,
        limit=MAX_EVIDENCE_BYTES,
        kinds="ảnh, PDF, Word hoặc Excel (" + ", ".join(EVIDENCE_TYPES) + ")",
    )
    if isinstance(upload, web.Response):
        return upload
    path, name = upload.path, upload.name
    if not _csrf_ok(context, cookie, upload.fields.get(CSRF_FIELD)):
        path.unlink(missing_ok=True)
        return _forbidden(viewer)
    caption = upload.fields.get("ghichu", "").strip()
    suffix = Path(name).suffix.lower()
    try:
        result = await store_evidence(
            session,
            officer=officer,
            criterion=criterion,
            source=path,
            file_unique_id=None,
            mime=EVIDENCE_TYPES[suffix],
            original_name=name,
            caption=caption or None,
            source_update_id=None,
            evidence_dir=context.settings.evidence_dir,
            now=context.clock(),
            actor=f"web:{officer.id}",
        )
    except EvidenceError as exc:
        return message(400, "Không nhận được tệp", str(exc), viewer)
    notice = "trung" if result.duplicate else "ok"
    return _redirect(f"/xa/{unit.id}/viec/{criterion.id}?tb={notice}")


@dataclass
class Upload:
    path: Path  # the file, streamed to a temporary path: the caller moves or removes it
    name: str  # its name on the sender's computer, without folders
    fields: dict[str, str]  # the form's short text fields


async def read_upload(
    request: web.Request,
    *,
    folder: Path,
    suffixes: Collection[str],
    limit: int,
    kinds: str,
) -> Upload | web.Response:
    """The form's one file (field ``tep``) streamed to ``folder`` (at most ``limit`` bytes)
    and its text fields; a Vietnamese refusal for no file, another type or too many bytes."""
    wrong = message(400, "Không nhận được tệp", f"Hãy chọn một tệp {kinds}.")
    fields: dict[str, str] = {}
    upload: Upload | None = None
    try:
        reader = await request.multipart()
    except (AssertionError, ValueError):
        return wrong
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue  # a nested multipart: no form of ours sends one
        if part.name == "tep" and part.filename and upload is None:
            name = Path(part.filename.replace("\\", "/")).name
            if Path(name).suffix.lower() not in suffixes:
                return wrong
            upload = Upload(folder / f"{secrets.token_hex(16)}.part", name, fields)
            await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
            if not await _save_part(part, upload.path, limit):
                return message(413, "Tệp quá lớn", f"Tệp tối đa {limit // 2**20} MB.")
        elif part.name and part.filename is None:
            fields[part.name] = (await part.text())[:MAX_FIELD_CHARS]
    return upload if upload is not None else wrong


async def _save_part(part: BodyPartReader, path: Path, limit: int) -> bool:
    size = 0
    with path.open("wb") as out:
        while chunk := await part.read_chunk(256 * 1024):
            size += len(chunk)
            if size > limit:
                break
            out.write(chunk)
    if size > limit:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        return False
    return True


@signed_in
async def evidence_file(
    request: web.Request, session: AsyncSession, viewer: Viewer, cookie: str
) -> web.StreamResponse:
    unit = await _unit_in_scope(request, session, viewer)
    if isinstance(unit, web.Response):
        return unit
    evidence = await session.get(Evidence, int(request.match_info["evidence"]))
    if evidence is None or evidence.unit_id != unit.id:
        return _not_found(viewer)
    criterion = await session.get_one(Criterion, evidence.criterion_id)
    if not viewer.sees_unit(unit.id):
        assert viewer.officer is not None
        if not await can_update(session, officer=viewer.officer, criterion=criterion):
            return _forbidden(viewer)
    root = request.app[CONTEXT].settings.evidence_dir.resolve()
    path = (root / evidence.storage_path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return _not_found(viewer)
    # Named and typed as the signed links serve it (web/files.py).
    name = _evidence_name(evidence, criterion, path)
    return web.FileResponse(path, headers=_headers(_evidence_type(evidence, name), name))
