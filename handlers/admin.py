"""Admin: /kehoach (plan import with preview), /moi, /giao, /vitri, and a roster sent with /canbo.

A plan preview waits for "Xác nhận" in the conversation state (handlers.state,
a row keyed by the admin's chat, for a day) under a short random token, and
the document itself on disk (``EVIDENCE_DIR/.pending-plans/<token>.bin``): the
admin may take a while to confirm, and a restart or another bot process in
between must not lose it. The token in a button is only a name, looked up in
the presser's own conversation. A preview that is gone (confirmed, cancelled,
or over a day old) gets "hãy gửi lại tệp".
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from bot import texts
from bot.settings import Settings
from core.accounts import accounts_by_officer, officer_accounts
from core.conversation import DOCUMENT
from core.officers import (
    OfficerError,
    RosterError,
    add_officer,
    attach_admin_to_unit,
    change_roles,
    create_invite,
    deep_link,
    import_roster,
    officer_by_name,
    set_positions,
    unit_officers,
)
from core.ownership import OwnershipError, assign
from core.plan_model import ParsedPlan, PlanParseError
from core.plan_preview import build_preview, render_preview
from core.plan_store import (
    UnitNameError,
    add_position_alias,
    find_unit,
    import_plan,
    unit_catalogue,
)
from core.plan_years import current_plans_text, plan_statuses
from core.plans import MAX_PLAN_BYTES, parse_plan_file
from core.positions import PositionCatalogue, default_catalogue
from core.roles import RoleError, parse_roles
from core.roster import RosterRow, officer_position_codes, read_roster_async
from core.text import fold
from core.units import document_unit_conflict, unit_conflict_text
from handlers.base import (
    ADMIN,
    ANYONE,
    TELEGRAM,
    Action,
    Channel,
    Fetch,
    Inbound,
    IncomingFile,
    MenuChange,
    Option,
    Replies,
    Reply,
    Request,
    Result,
    as_int,
    callback_data,
    callback_parts,
    handler,
)
from handlers.lookup import (
    choice_action,
    find_item,
    label,
    rows,
    split_code,
    unit_indexes,
)
from handlers.state import (
    PLAN_TTL,
    Choice,
    drop_plan_preview,
    expect,
    keep_plan_preview,
    peek_awaiting,
    plan_preview,
    stop_awaiting,
)
from handlers.tasks import pager
from storage.models import Criterion, Officer, Unit

PLAN_PREFIX = "K"
POSITIONS_PREFIX = "V"  # V:<officer id>, VT:<officer id>:<code>, VL:<page>
PENDING_DIR = ".pending-plans"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{8,16}")
MAX_MAP_BUTTONS = 8
MAX_TEXT = 4000
OFFICER_BUTTONS_PAGE = 12


def may_import(request: Request) -> bool:
    """Unit admins, and configured admins (ADMIN_TELEGRAM_IDS) not yet in any unit."""
    officer = request.officer
    if officer is None:
        return request.is_configured_admin
    return officer.active and "admin" in (officer.roles or ())


# --- the pending preview: a state row, and the document on disk ------------------------------


@dataclass
class PendingPlan:
    token: str
    unit_id: int | None
    filename: str
    sha256: str
    unmapped: list[str] = field(default_factory=list)  # as first previewed; buttons index it
    mappings: dict[str, str] = field(default_factory=dict)


def _pending_file(settings: Settings, token: str) -> Path:
    return settings.evidence_dir / PENDING_DIR / f"{token}.bin"


def _save_document(settings: Settings, token: str, data: bytes) -> None:
    path = _pending_file(settings, token)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(".part")
    part.write_bytes(data)
    part.replace(path)  # a crash never leaves half a document


async def _load_pending(request: Request, token: str) -> tuple[PendingPlan, bytes] | None:
    if not _TOKEN.fullmatch(token):  # button data is untrusted: never a path
        return None
    found = await plan_preview(request, token)
    if found is None:
        return None
    try:
        data = await asyncio.to_thread(_pending_file(request.settings, token).read_bytes)
    except OSError:
        return None
    return PendingPlan(**found), data


async def _drop_pending(request: Request, token: str) -> None:
    await drop_plan_preview(request, token)
    if _TOKEN.fullmatch(token):
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(_pending_file(request.settings, token).unlink)


def _drop_old_pending(settings: Settings) -> None:
    """Documents of previews past their day (their state rows go with the minute tick)."""
    folder = settings.evidence_dir / PENDING_DIR
    if not folder.is_dir():
        return
    cutoff = datetime.now(UTC) - PLAN_TTL
    for path in folder.glob("*.bin"):
        with contextlib.suppress(OSError):
            if datetime.fromtimestamp(path.stat().st_mtime, UTC) < cutoff:
                path.unlink()


# --- /kehoach: command, document, preview ----------------------------------------------------


@handler(ANYONE)
async def plan_command(event: Inbound, request: Request) -> Reply:
    """/kehoach without a file: the next document this user sends is the plan."""
    if not may_import(request):
        return _refused(request)
    await expect(request, "plan")
    if request.unit is None:
        return Reply(texts.ASK_PLAN_FILE)
    return Reply(f"{await _current_plans(request, request.unit)}\n{texts.ASK_PLAN_FILE}")


async def _current_plans(request: Request, unit: Unit) -> str:
    """Which of the unit's plans are current today (a late import: an earlier year's)."""
    statuses = await plan_statuses(request.session, unit_id=unit.id, day=request.today)
    return current_plans_text(statuses, year=request.today.year)


async def wants_plan(event: Inbound, channel: Channel) -> bool:
    """A document right after /kehoach (checked before it is taken for evidence)."""
    if not event.files or event.files[0].kind != DOCUMENT:
        return False
    return await peek_awaiting(channel.app, event, "plan") is not None


@handler(ANYONE)
async def plan_document(event: Inbound, request: Request) -> Result:
    """A plan document (caption /kehoach, or right after it): download it, then preview."""
    if not may_import(request):
        return _refused(request)
    await stop_awaiting(request, "plan")
    ref = event.files[0] if event.files else None
    if ref is None or ref.kind != DOCUMENT:
        return Reply(texts.ASK_PLAN_FILE)
    too_big = Reply(texts.PLAN_TOO_BIG)
    if ref.size is not None and ref.size > MAX_PLAN_BYTES:
        return too_big
    ready = await _plan_parse(request, ref.name or "kehoach", {}, None)
    return Fetch(
        [ref],
        partial(_preview_file, ref, ready),
        too_big=too_big,
        limit=MAX_PLAN_BYTES,
        prepare=ready,
    )


def _refused(request: Request) -> Reply:
    text = texts.STRANGER if request.officer is None else texts.NOT_ALLOWED
    return Reply(text, alert=text[:190])  # the alert shows only on a button press


@dataclass
class _PlanParse:
    """Parses the plan before the transaction (Fetch.prepare): on SQLite the transaction
    holds the writer's turn, and a parse inside it would hold up every other user.

    Made in the first transaction with the catalogue of that moment (the unit's lead
    mappings and the preview's); _parse uses its result only if they still apply.
    """

    filename: str
    catalogue: PositionCatalogue
    unit_id: int | None
    mappings: dict[str, str]
    data: bytes | None  # the pending document, or None: the downloaded file
    plan: ParsedPlan | PlanParseError | None = None

    async def __call__(self, paths: list[Path]) -> None:
        if self.data is None:
            self.data = await asyncio.to_thread(paths[0].read_bytes)
        try:
            self.plan = await asyncio.to_thread(
                parse_plan_file, self.data, filename=self.filename, catalogue=self.catalogue
            )
        except PlanParseError as exc:
            self.plan = exc

    def result_for(self, request: Request, pending: PendingPlan) -> ParsedPlan | None:
        """The parsed plan (PlanParseError raised as parsed), if made for this preview."""
        unit_id = request.unit.id if request.unit is not None else None
        if self.plan is None or unit_id != self.unit_id or self.mappings != pending.mappings:
            return None
        if isinstance(self.plan, PlanParseError):
            raise self.plan
        return self.plan


async def _plan_parse(
    request: Request, filename: str, mappings: dict[str, str], data: bytes | None
) -> _PlanParse:
    catalogue = await unit_catalogue(request.session, unit=request.unit)
    if mappings:
        catalogue = catalogue.with_aliases(mappings)
    unit_id = request.unit.id if request.unit is not None else None
    return _PlanParse(filename, catalogue, unit_id, dict(mappings), data)


async def _preview_file(
    ref: IncomingFile, ready: _PlanParse, request: Request, paths: list[Path]
) -> Replies:
    if not may_import(request):
        return _refused(request)
    data = ready.data if ready.data is not None else await asyncio.to_thread(paths[0].read_bytes)
    filename = ref.name or "kehoach"
    pending = PendingPlan(
        token=secrets.token_urlsafe(6),
        unit_id=request.unit.id if request.unit else None,
        filename=filename,
        sha256=hashlib.sha256(data).hexdigest(),
    )
    parsed = await _parse(request, pending, data, ready)
    if isinstance(parsed, Reply):
        return parsed
    plan, unit_name = parsed
    pending.unmapped = list(build_preview(plan).unmapped_leads)
    await asyncio.to_thread(_drop_old_pending, request.settings)
    await asyncio.to_thread(_save_document, request.settings, pending.token, data)
    await keep_plan_preview(request, pending.token, dataclasses.asdict(pending))
    return _preview_reply(pending, plan, unit_name)


async def _target_unit(request: Request, plan: ParsedPlan) -> Unit | None:
    """The admin's own unit; for a configured admin without one, the plan's (if it exists)."""
    if request.unit is not None:
        return request.unit
    return await find_unit(request.session, name=plan.unit) if plan.unit else None


async def _parse(
    request: Request, pending: PendingPlan, data: bytes, ready: _PlanParse | None = None
) -> tuple[ParsedPlan, str] | Reply:
    """Parse with the unit's own lead mappings plus those chosen in this preview.

    ``ready``: the parse made before the transaction, used when it still applies. A
    configured admin without a unit parses again here with the plan's unit's mappings
    (their first import only).
    """
    try:
        plan = ready.result_for(request, pending) if ready is not None else None
        if plan is None:
            plan = await _parse_with(request, request.unit, pending, data)
        unit = await _target_unit(request, plan)
        if unit is not None and request.unit is None:
            plan = await _parse_with(request, unit, pending, data)
    except PlanParseError as exc:
        return Reply(texts.plan_unreadable(str(exc)))
    unit_name = unit.name if unit is not None else plan.unit
    if not unit_name:
        return Reply(texts.PLAN_NO_UNIT)
    return plan, unit_name


async def _parse_with(
    request: Request, unit: Unit | None, pending: PendingPlan, data: bytes
) -> ParsedPlan:
    catalogue = await unit_catalogue(request.session, unit=unit)
    if pending.mappings:
        catalogue = catalogue.with_aliases(pending.mappings)
    # Parsing a big plan takes a while: off the event loop, so other chats go on.
    return await asyncio.to_thread(
        parse_plan_file, data, filename=pending.filename, catalogue=catalogue
    )


def _preview_reply(pending: PendingPlan, plan: ParsedPlan, unit_name: str) -> Reply:
    preview = build_preview(plan, target_unit=unit_name)
    body = render_preview(preview)
    text = texts.plan_preview(pending.filename, unit_name, body, pending.mappings)
    if preview.other_unit:  # another unit's plan: it cannot be confirmed (see _confirm)
        text += "\n" + texts.PLAN_OTHER_UNIT
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    token = pending.token
    confirm = (
        [] if preview.other_unit else [(texts.CONFIRM, callback_data(PLAN_PREFIX, "ok", token))]
    )
    buttons: list[list[Option]] = [
        [*confirm, (texts.CANCEL, callback_data(PLAN_PREFIX, "no", token))]
    ]
    unmapped = [
        (n, lead) for n, lead in enumerate(pending.unmapped) if lead not in pending.mappings
    ]
    buttons += [
        [(texts.map_button(lead), callback_data(PLAN_PREFIX, "m", token, n))]
        for n, lead in unmapped[:MAX_MAP_BUTTONS]
    ]
    return Reply(text, choices=buttons, edit=True)


# --- /kehoach: the preview's buttons ---------------------------------------------------------


@handler(ANYONE)
async def plan_button(event: Inbound, request: Request) -> Result:
    """K:ok|no|v:<token>, K:m:<token>:<n> (pick a position), K:s:<token>:<n>:<code>.

    What parses the document (confirm, back, after a mapping) parses it between two
    transactions (a Fetch of no file, with its prepare), then goes on in the second.
    """
    _, action, token, raw_n, code = callback_parts(event, 5)
    if not may_import(request):
        return _refused(request)
    loaded = await _load_pending(request, token)
    if loaded is None:
        return Reply(texts.PLAN_GONE, edit=True)
    pending, data = loaded
    if action == "no":
        await _drop_pending(request, token)
        return Reply(texts.PLAN_CANCELLED, edit=True)
    lead = _unmapped_lead(pending, raw_n)
    if action == "m" and lead is not None:
        return _position_picker(pending, lead, raw_n)
    if action == "s" and lead is not None and code in default_catalogue().positions:
        pending.mappings[lead] = code
        await keep_plan_preview(request, pending.token, dataclasses.asdict(pending))
    ready = await _plan_parse(request, pending.filename, pending.mappings, data)
    return Fetch([], partial(_after_parse, action == "ok", token, ready), prepare=ready)


async def _after_parse(
    confirm: bool, token: str, ready: _PlanParse, request: Request, paths: list[Path]
) -> Replies:
    if not may_import(request):
        return _refused(request)
    loaded = await _load_pending(request, token)  # confirmed or cancelled meanwhile?
    if loaded is None:
        return Reply(texts.PLAN_GONE, edit=True)
    pending, data = loaded
    if confirm:
        return await _confirm(request, pending, data, ready)
    parsed = await _parse(request, pending, data, ready)  # "v" (back), or after a mapping
    return parsed if isinstance(parsed, Reply) else _preview_reply(pending, *parsed)


def _unmapped_lead(pending: PendingPlan, raw_n: str) -> str | None:
    n = as_int(raw_n)
    return pending.unmapped[n] if n is not None and n < len(pending.unmapped) else None


def _position_picker(pending: PendingPlan, lead: str, raw_n: str) -> Reply:
    codes = list(default_catalogue().positions)
    buttons = rows(
        [(code, callback_data(PLAN_PREFIX, "s", pending.token, raw_n, code)) for code in codes], 3
    )
    buttons.append([(texts.BACK, callback_data(PLAN_PREFIX, "v", pending.token))])
    return Reply(texts.choose_position(lead), choices=buttons, edit=True)


async def _confirm(
    request: Request, pending: PendingPlan, data: bytes, ready: _PlanParse
) -> Replies:
    parsed = await _parse(request, pending, data, ready)
    if isinstance(parsed, Reply):
        return parsed
    plan, unit_name = parsed
    named = document_unit_conflict(plan, unit_name)
    if named is not None:  # as the CLI without --force: never filed under the wrong unit
        await _drop_pending(request, pending.token)
        conflict = unit_conflict_text(named, unit_name)
        return Reply(f"{conflict}\n{texts.PLAN_OTHER_UNIT_REFUSED}", edit=True)
    officer_id = request.officer.id if request.officer else None
    try:
        report = await import_plan(
            request.session,
            unit_name=unit_name,
            plan=plan,
            source_name=pending.filename,
            source_sha256=pending.sha256,
            actor=request.actor,
            officer_id=officer_id,
        )
        unit = await find_unit(request.session, name=report.unit_name)
        assert unit is not None
        actions = await _attach_new_admin(request, unit)
    except (UnitNameError, OfficerError) as exc:
        return Reply(str(exc), edit=True)
    for lead, code in pending.mappings.items():
        await add_position_alias(
            request.session,
            unit=unit,
            text=lead,
            position_code=code,
            actor=request.actor,
            officer_id=officer_id,
        )
    await _drop_pending(request, pending.token)
    done = texts.plan_imported(
        report.unit_name,
        len(report.added),
        len(report.changed),
        len(report.removed),
        report.unchanged,
        len(report.warnings),
    )
    done += "\n" + await _current_plans(request, unit)
    return [Reply(done, edit=True), *actions]


async def _attach_new_admin(request: Request, unit: Unit) -> list[Action]:
    """A configured admin without a unit joins the unit their plan created."""
    if request.officer is not None:
        return []
    admin = await attach_admin_to_unit(
        request.session,
        unit=unit,
        channel=request.event.channel,
        external_id=request.user_id,
        display_name=request.display_name,
        actor=request.actor,
    )
    return [MenuChange(request.user_id, tuple(admin.roles or ()))]


# --- roster: a .csv/.xlsx sent with the caption /canbo -------------------------------------


@handler(ADMIN)
async def roster_document(event: Inbound, request: Request) -> Result:
    ref = event.files[0] if event.files else None
    if ref is None:
        return None
    read = _RosterRead(ref.name or "danhsach.csv")
    return Fetch([ref], partial(_import_roster, read), prepare=read)


@dataclass
class _RosterRead:
    """Reads the roster in a worker thread, before the transaction (Fetch.prepare)."""

    filename: str
    rows: list[RosterRow] | RosterError | None = None

    async def __call__(self, paths: list[Path]) -> None:
        data = await asyncio.to_thread(paths[0].read_bytes)
        try:
            self.rows = await read_roster_async(data, filename=self.filename)
        except RosterError as exc:
            self.rows = exc


async def _import_roster(read: _RosterRead, request: Request, paths: list[Path]) -> Replies:
    assert request.unit is not None and request.officer is not None
    before = await _linked_roles(request)
    try:
        if not isinstance(read.rows, list):
            raise read.rows or RosterError([])
        rows_read = read.rows
        # All or nothing: a bad row rolls back the rows before it, not the whole update.
        async with request.session.begin_nested():
            report = await import_roster(
                request.session,
                unit=request.unit,
                rows=rows_read,
                actor=request.actor,
                actor_officer_id=request.officer.id,
            )
    except RosterError as exc:
        return Reply(texts.roster_failed(exc.problems))
    after = await _linked_roles(request)
    menus: list[Action] = [
        MenuChange(user, roles) for user, roles in after.items() if before.get(user) != roles
    ]
    return [Reply(texts.roster_imported(len(report.added), len(report.updated))), *menus]


async def _linked_roles(request: Request) -> dict[str, tuple[str, ...]]:
    """The roles of each officer with an account on the asker's channel, by account id."""
    assert request.unit is not None
    officers = await unit_officers(request.session, unit=request.unit)
    accounts = await accounts_by_officer(request.session, officer_ids=[o.id for o in officers])
    channel = request.event.channel
    return {
        account.external_id: tuple(officer.roles or ())
        for officer in officers
        for account in accounts.get(officer.id, ())
        if account.channel == channel
    }


# --- /moi ------------------------------------------------------------------------------------


def _positions_arg(text: str) -> list[str]:
    return [part for part in re.split(r"[,;]", text) if part.strip()]


@handler(ADMIN)
async def invite_command(event: Inbound, request: Request) -> Reply:
    """/moi <VỊ_TRÍ[,VỊ_TRÍ]> <Họ tên>"""
    args = event.args
    if len(args) < 2:
        return Reply(texts.INVITE_USAGE)
    assert request.unit is not None and request.officer is not None
    role_text, words = _invite_role(args[1:])
    if role_text is None:
        return Reply(texts.INVITE_ROLE_IS_POSITION)
    if not words:
        return Reply(texts.INVITE_USAGE)
    positions, name = _positions_arg(args[0]), " ".join(words)
    try:
        officer = await _officer_with_positions(request, name, positions)
        if role_text:
            await change_roles(
                request.session,
                admin=request.officer,
                officer=officer,
                roles_text=role_text,
                actor=request.actor,
            )
        invite = await create_invite(
            request.session,
            unit=request.unit,
            officer=officer,
            actor=request.actor,
            actor_officer_id=request.officer.id,
            now=request.now,
        )
    except OfficerError as exc:
        return Reply(str(exc))
    username = request.channel.app.bot_usernames.get(TELEGRAM)
    link = deep_link(username, invite.code) if username else None
    expires = texts.moment(invite.expires_at, request.tz)
    return Reply(
        texts.invite_created(officer.name, list(officer.positions), link, expires, invite.code)
    )


# Words read as a role right after /moi's position: a role's own name only. "Chủ tịch"
# and "Phó chủ tịch" are leader words in a roster's role column, but here they could
# as well be a position's name (an alias in the catalogue) or the start of a name, so
# they are refused with a hint (INVITE_ROLE_IS_POSITION) rather than guessed.
_INVITE_ROLE_WORDS = {
    "can bo": "cán bộ",
    "dau moi": "đầu mối",
    "lanh dao": "lãnh đạo",
    "quan tri": "quản trị",
    "officer": "cán bộ",
    "coordinator": "đầu mối",
    "leader": "lãnh đạo",
    "admin": "quản trị",
}
_POSITION_WORDS = ("chu tich", "pho chu tich")


def _invite_role(words: tuple[str, ...]) -> tuple[str | None, tuple[str, ...]]:
    """("lãnh đạo", name words) for "lãnh đạo Nguyễn Văn A"; ("", words) with no role word;
    (None, ()) when the words start with "Chủ tịch" (see _INVITE_ROLE_WORDS)."""
    for size in (3, 2):
        if fold(" ".join(words[:size])) in _POSITION_WORDS:
            return None, ()
    for size in (2, 1):
        role = _INVITE_ROLE_WORDS.get(fold(" ".join(words[:size])))
        if role is not None and len(words) >= size:
            return role, words[size:]  # no words left: no name, the usage is shown
    return "", words


async def _officer_with_positions(request: Request, name: str, positions: list[str]) -> Officer:
    assert request.unit is not None and request.officer is not None
    officer = await officer_by_name(request.session, unit=request.unit, name=name)
    if officer is None:
        officer, _ = await add_officer(
            request.session,
            unit=request.unit,
            name=name,
            positions=positions,
            actor=request.actor,
            actor_officer_id=request.officer.id,
        )
        return officer
    await set_positions(
        request.session,
        officer=officer,
        positions=positions,
        actor=request.actor,
        actor_officer_id=request.officer.id,
    )
    return officer


# --- /giao -----------------------------------------------------------------------------------


async def find_officer(request: Request, text: str) -> Officer | Reply:
    """An officer of the unit by full name, or by a part of it that only one name has."""
    assert request.unit is not None
    officers = await unit_officers(request.session, unit=request.unit)
    key = fold(text)
    exact = [o for o in officers if o.name_key == key]
    partial_matches = exact or [o for o in officers if key and key in o.name_key]
    if len(partial_matches) == 1:
        return partial_matches[0]
    if partial_matches:
        names = [o.name for o in partial_matches[:6]]
        return Reply(texts.officer_ambiguous(text, names))
    return Reply(texts.officer_not_found(text))


@handler(ADMIN)
async def role_command(event: Inbound, request: Request) -> Result:
    """/vaitro <cán bộ> <vai trò>: the roles come last, so any role word counts there
    ("chủ tịch" included: it can be nothing else at the end)."""
    assert request.officer is not None
    split = _name_and_roles(event.args)
    if split is None:
        return Reply(texts.ROLE_USAGE)
    found = await find_officer(request, split[0])
    if isinstance(found, Reply):
        return found
    try:
        roles = await change_roles(
            request.session,
            admin=request.officer,
            officer=found,
            roles_text=split[1],
            actor=request.actor,
        )
    except OfficerError as exc:
        return Reply(str(exc))
    reply = Reply(texts.roles_changed(found.name, roles))
    account = next(
        (
            a
            for a in await officer_accounts(request.session, officer_id=found.id)
            if a.channel == request.event.channel
        ),
        None,
    )
    if account is None:
        return reply
    return [reply, MenuChange(account.external_id, tuple(roles))]


def _name_and_roles(args: tuple[str, ...]) -> tuple[str, str] | None:
    """("Nguyễn Thị Lan", "đầu mối") from the words: the longest tail that reads as roles."""
    for cut in range(1, len(args)):
        tail = " ".join(args[cut:])
        try:
            if parse_roles(tail):
                return " ".join(args[:cut]), tail
        except RoleError:
            continue
    return None


@handler(ADMIN)
async def assign_command(event: Inbound, request: Request) -> Result:
    """/giao <mã> <họ tên>"""
    code, rest = split_code(event.args, await unit_indexes(request))
    if not code or not rest:
        return Reply(texts.ASSIGN_USAGE)
    officer = await find_officer(request, " ".join(rest))
    if isinstance(officer, Reply):
        return officer
    choice = Choice("assign", officer_id=officer.id)
    found = await find_item(request, code, choice)
    if isinstance(found, Reply):
        return found
    return await _assign(request, found, officer)


async def _assign(request: Request, criterion: Criterion, officer: Officer) -> Reply:
    assert request.officer is not None
    try:
        await assign(
            request.session,
            criterion=criterion,
            officer=officer,
            actor=request.actor,
            actor_officer_id=request.officer.id,
        )
    except OwnershipError as exc:
        return Reply(str(exc))
    return Reply(texts.assigned(label(criterion), officer.name))


@choice_action("assign")
async def assign_chosen(request: Request, choice: Choice, criterion: Criterion) -> Result:
    if request.officer is None or "admin" not in (request.officer.roles or ()):
        return Reply(texts.NOT_ALLOWED, alert=texts.NOT_ALLOWED)
    officer = await request.session.get(Officer, choice.officer_id or -1)
    if officer is None or officer.unit_id != criterion.unit_id:
        return Reply(texts.CHOICE_EXPIRED, edit=True)
    reply = await _assign(request, criterion, officer)
    reply.edit = True
    return reply


# --- /vitri ----------------------------------------------------------------------------------


@handler(ADMIN)
async def positions_command(event: Inbound, request: Request) -> Reply:
    """/vitri: who holds what, with a button per officer; /vitri <VỊ_TRÍ> <Họ tên> sets it."""
    args = event.args
    if len(args) >= 2:
        return await _set_by_text(request, _positions_arg(args[0]), " ".join(args[1:]))
    return await positions_reply(request, page=0)


async def _set_by_text(request: Request, positions: list[str], name: str) -> Reply:
    assert request.officer is not None
    officer = await find_officer(request, name)
    if isinstance(officer, Reply):
        return officer
    try:
        await set_positions(
            request.session,
            officer=officer,
            positions=positions,
            actor=request.actor,
            actor_officer_id=request.officer.id,
        )
    except OfficerError as exc:
        return Reply(str(exc))
    return Reply(texts.positions_changed(officer.name, list(officer.positions)))


async def positions_reply(request: Request, *, page: int, edit: bool = False) -> Reply:
    assert request.unit is not None
    officers = await unit_officers(request.session, unit=request.unit)
    catalogue = default_catalogue()
    lines = [texts.POSITIONS_TITLE]
    for code in officer_position_codes():
        holders = [o.name for o in officers if code in (o.positions or ())]
        lines.append(texts.positions_line(code, catalogue.positions[code].name, holders))
    lines += ["", texts.POSITIONS_USAGE]
    pages = max((len(officers) + OFFICER_BUTTONS_PAGE - 1) // OFFICER_BUTTONS_PAGE, 1)
    page = min(max(page, 0), pages - 1)
    shown = officers[page * OFFICER_BUTTONS_PAGE : (page + 1) * OFFICER_BUTTONS_PAGE]
    buttons = rows([(o.name, callback_data(POSITIONS_PREFIX, o.id)) for o in shown], 2)
    buttons += pager(f"{POSITIONS_PREFIX}L", page, pages)
    return Reply("\n".join(lines), choices=buttons, edit=edit)


@handler(ADMIN)
async def positions_button(event: Inbound, request: Request) -> Reply:
    """V:<officer>, VT:<officer>:<code> (toggle), VL:<page>."""
    kind, raw_id, code = callback_parts(event, 3)
    if kind == f"{POSITIONS_PREFIX}L":
        return await positions_reply(request, page=as_int(raw_id) or 0, edit=True)
    officer = await request.session.get(Officer, as_int(raw_id) or -1)
    if officer is None or request.unit is None or officer.unit_id != request.unit.id:
        return Reply("", alert=texts.STALE_BUTTON)
    alert = None
    if kind == f"{POSITIONS_PREFIX}T" and code in officer_position_codes():
        held = list(officer.positions or [])
        wanted = [c for c in held if c != code] if code in held else [*held, code]
        await _toggle(request, officer, wanted)
        alert = texts.positions_changed(officer.name, wanted)[:190]
    return _officer_positions(officer, alert)


async def _toggle(request: Request, officer: Officer, positions: list[str]) -> None:
    assert request.officer is not None
    await set_positions(
        request.session,
        officer=officer,
        positions=positions,
        actor=request.actor,
        actor_officer_id=request.officer.id,
    )


def _officer_positions(officer: Officer, alert: str | None) -> Reply:
    held = list(officer.positions or [])
    toggle = f"{POSITIONS_PREFIX}T"
    marks = [
        (f"✓ {code}" if code in held else code, callback_data(toggle, officer.id, code))
        for code in officer_position_codes()
    ]
    buttons = rows(marks, 3)
    buttons.append([(texts.BACK, callback_data(f"{POSITIONS_PREFIX}L", 0))])
    return Reply(texts.positions_of(officer.name, held), choices=buttons, edit=True, alert=alert)
