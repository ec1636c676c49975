"""Every user-facing message of the bot, in Vietnamese, in one place.

Short lines for small phone screens; full diacritics. Functions take the
values to fill in; constants are used as they are. Nothing else in the
code base writes a sentence a user will read in the chat.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo

from core.progress import STATUS_LABELS
from core.text import format_date, format_points

TELEGRAM_UNREACHABLE = (
    "Không kết nối được Telegram Bot API ({where}) nên bot chưa chạy được: kiểm tra mạng "
    "(Telegram bị chặn ở một số nhà mạng) hoặc TELEGRAM_API_BASE_URL, rồi chạy lại."
)
TOKEN_REFUSED = (
    "Telegram từ chối TELEGRAM_BOT_TOKEN: kiểm tra lại token nhận từ @BotFather trong tệp .env."
)
NO_TOKEN = """\
Chưa có token của kênh chat nào nên bot chưa chạy được. Cần ít nhất một token:
- Zalo: mở ứng dụng "Zalo Bot Manager", chọn "Tạo bot" và làm theo hướng dẫn để nhận token,
  rồi ghi vào tệp .env ở thư mục dự án: ZALO_BOT_TOKEN=...
- Telegram: nhắn @BotFather, gõ /newbot và làm theo hướng dẫn để nhận token,
  rồi ghi vào tệp .env: TELEGRAM_BOT_TOKEN=123456:ABC...
(hoặc đặt biến môi trường cùng tên), rồi chạy lại lệnh. Bot chạy mọi kênh đã có token.
Muốn thử dondoc ngay trên máy, không cần token: python -m bot chat --demo

No chat channel token is set, so the bot cannot start. Set at least one:
- Zalo: in the "Zalo Bot Manager" app, choose "Tạo bot" (create a bot) and follow the steps
  to get a token, then put it in a .env file in the project folder: ZALO_BOT_TOKEN=...
- Telegram: message @BotFather, send /newbot and follow the steps to get a token,
  then put it in .env: TELEGRAM_BOT_TOKEN=123456:ABC...
(or set the environment variable of the same name), then run this command again. The bot
runs every channel whose token is set.
To try dondoc on this computer without a token: python -m bot chat --demo"""

STRANGER = (
    "Xin chào! Đây là bot nhắc việc cải cách hành chính của UBND xã/phường.\n"
    "Bạn chưa được liên kết với đơn vị nào. Hãy xin lời mời từ bộ phận "
    "Văn phòng - Thống kê (người quản trị bot): bấm vào đường link mời, hoặc nhắn cho bot "
    "mã mời (trên Zalo: gõ mã mời vào đây) để bắt đầu."
)
NOT_ALLOWED = "Bạn không có quyền dùng lệnh này."
INACTIVE = "Tài khoản của bạn đang tạm ngưng. Hãy liên hệ người quản trị bot."
ERROR = "Có lỗi khi xử lý. Vui lòng thử lại sau ít phút."
PRIVATE_ONLY = "Xin lỗi, tôi chỉ làm việc trong tin nhắn riêng. Vui lòng nhắn riêng cho tôi."
NOT_A_NUMBER = "Số không hợp lệ: chỉ gõ chữ số 0-9, không quá lớn."
STALE_BUTTON = "Nút này đã cũ. Gõ /viec để xem danh sách mới."

CMD_UNDO = ("hoantac", "undo")
CMD_ROLE = ("vaitro", "role")
CMD_CHANNEL = ("kenh", "channel")
CHANNEL_MENU = ("kenh", "Kênh nhận nhắc việc: /kenh, /kenh telegram, /kenh zalo")
UNDO_MENU = ("hoantac", "Hoàn tác lần cập nhật/gửi tệp vừa rồi (trong 10 phút)")
ROLE_MENU = ("vaitro", "Đổi vai trò: /vaitro <cán bộ> <vai trò>")

# Command menu: (command, description) per role. Names are ASCII, descriptions Vietnamese.
OFFICER_COMMANDS: tuple[tuple[str, str], ...] = (
    ("viec", "Việc của tôi"),
    ("capnhat", "Cập nhật tiến độ: /capnhat <mã> <0-100>"),
    ("xong", "Báo hoàn thành: /xong <mã>"),
    ("hoanlai", "Hoãn nhắc một việc: /hoanlai <mã> <số ngày>"),
    ("nghi", "Tạm dừng nhắc khi nghỉ: /nghi <dd/mm/yyyy>"),
    CHANNEL_MENU,
    UNDO_MENU,
    ("help", "Hướng dẫn"),
)
MANAGER_COMMANDS: tuple[tuple[str, str], ...] = (
    ("quahan", "Việc quá hạn của đơn vị"),
    ("tonghop", "Tổng hợp tuần: tin nhắn, biểu đồ, Excel"),
    ("canbo", "Danh sách cán bộ"),
    ("caidat", "Cài đặt nhắc việc"),
    ("xuat", "Gói minh chứng cuối năm (ZIP)"),
)
ADMIN_COMMANDS: tuple[tuple[str, str], ...] = (
    ("kehoach", "Nhập kế hoạch (gửi kèm tệp)"),
    ("moi", "Mời cán bộ: /moi <VỊ_TRÍ> [vai trò] <Họ tên>"),
    ROLE_MENU,
    ("giao", "Giao việc: /giao <mã> <cán bộ>"),
    ("vitri", "Xem, đổi vị trí của cán bộ"),
)

# Command names: (Vietnamese, English alias). Handlers register both; menus show the first.
CMD_START = ("start",)
CMD_HELP = ("help", "trogiup")
CMD_TASKS = ("viec", "tasks")
CMD_UPDATE = ("capnhat", "update")
CMD_DONE = ("xong", "done")
CMD_OVERDUE = ("quahan", "overdue")
CMD_SUMMARY = ("tonghop", "summary")
CMD_OFFICERS = ("canbo", "officers")
CMD_ASSIGN = ("giao", "assign")
CMD_POSITIONS = ("vitri", "positions")
CMD_INVITE = ("moi", "invite")
CMD_IMPORT = ("kehoach", "import")
CMD_SNOOZE = ("hoanlai", "snooze")
CMD_AWAY = ("nghi", "away")
CMD_SETTINGS = ("caidat", "settings")
CMD_EXPORT = ("xuat", "export")
CMD_WEB = ("web",)

# English aliases of the Vietnamese command names, for /help.
ALIASES: dict[str, str] = {
    names[0]: names[1]
    for names in (
        CMD_HELP,
        CMD_TASKS,
        CMD_UPDATE,
        CMD_DONE,
        CMD_OVERDUE,
        CMD_SUMMARY,
        CMD_OFFICERS,
        CMD_ASSIGN,
        CMD_POSITIONS,
        CMD_INVITE,
        CMD_IMPORT,
        CMD_SNOOZE,
        CMD_AWAY,
        CMD_SETTINGS,
        CMD_EXPORT,
        CMD_UNDO,
        CMD_ROLE,
        CMD_CHANNEL,
    )
}


# --- small formatters ------------------------------------------------------------------------


def moment(value: datetime, tz: tzinfo) -> str:
    return value.astimezone(tz).strftime("%d/%m/%Y %H:%M")


# The formatters and labels live in core/, shared with the channel-neutral summary.
day = format_date
number = format_points
STATUS = STATUS_LABELS


def status(code: str, percent: int) -> str:
    return f"{STATUS.get(code, code)} {percent}%"


# How a plan item repeats (core.plan_model.RECURRENCES), as a plan would say it.
RECURRENCE_LABELS = {
    "monthly": "Hằng tháng",
    "quarterly": "Hằng quý",
    "semiannual": "6 tháng một lần",
    "annual": "Hằng năm",
    "continuous": "Thường xuyên",
}

ROLE_NAMES = {
    "officer": "cán bộ",
    "coordinator": "đầu mối",
    "leader": "lãnh đạo",
    "admin": "quản trị",
}


# --- greeting and help -----------------------------------------------------------------------

ADMIN_WITHOUT_UNIT = (
    "Bạn là quản trị viên nhưng chưa có đơn vị.\n"
    "Hãy gửi tệp kế hoạch (.docx, .xlsx, .csv, .txt hoặc .yaml) kèm chú thích /kehoach: "
    "bot tạo đơn vị theo kế hoạch và gắn bạn vào đó."
)


def greeting(name: str, positions: list[str], owned: int, common: int, roles: list[str]) -> str:
    lines = [f"Xin chào {name}!"]
    if positions:
        lines.append(f"Vị trí: {', '.join(positions)}.")
    extra = [ROLE_NAMES[r] for r in roles if r != "officer" and r in ROLE_NAMES]
    if extra:
        lines.append(f"Vai trò: {', '.join(extra)}.")
    lines.append(f"Bạn phụ trách {owned} việc" + (f", và {common} việc chung." if common else "."))
    lines.append("Gõ /viec để xem việc, /help để xem hướng dẫn.")
    return "\n".join(lines)


def linked(channel: str) -> str:
    """The first line after an invite code linked the account (channel: "Zalo", …)."""
    return f"Đã liên kết tài khoản {channel} của bạn."


LINKED = linked("Telegram")
HELP_TITLE = "Bạn có thể dùng:"
HELP_TIPS = (
    "Mẹo: gửi ảnh hoặc tệp kèm chú thích là mã mục (ví dụ «3.1.3 bảng tin») để nộp minh chứng; "
    "hoặc mở việc bằng /viec rồi bấm nút."
)
HELP_ADMIN_TIPS = (
    "Quản trị: gửi tệp danh sách cán bộ (.csv, .xlsx) kèm chú thích /canbo để nhập nhiều người."
)

# /help on a channel without buttons (Zalo, the local shell): how numbered choices work.
HELP_NUMBERED = (
    "Chọn bằng số: các lựa chọn được đánh số 1, 2, 3…; gõ số để chọn trong danh sách vừa gửi.\n"
    "Trên thẻ việc, số là phần trăm (gõ 50 là 50 %); gõ «xong», «khó khăn», «ảnh» "
    "(gửi minh chứng) hoặc «quay lại».\n"
    "Danh sách hết hạn sau 30 phút (danh sách nhắc việc hằng ngày: 24 giờ); gõ /viec để xem lại."
)


def help_line(name: str, description: str) -> str:
    alias = ALIASES.get(name)
    return f"/{name}" + (f" (/{alias})" if alias else "") + f" — {description}"


# --- items: list and card --------------------------------------------------------------------

TASK_GROUPS = {
    "overdue": "Quá hạn",
    "due_7": "Đến hạn trong 7 ngày",
    "later": "Hạn sau",
    "ongoing": "Thường xuyên",
    "unscheduled": "Chưa có hạn",
    "department": "Việc của phòng",
    "common": "Việc chung",
}
NO_TASKS = "Bạn chưa có việc nào trong kế hoạch."
NO_PLAN = "Đơn vị chưa có kế hoạch. Quản trị viên nhập bằng /kehoach."
PREV = "◀ Trước"
NEXT = "Sau ▶"
BACK = "Quay lại"
CANCEL = "Hủy"
DONE_BUTTON = "Hoàn thành"
BLOCKED_BUTTON = "Gặp khó khăn"
EVIDENCE_BUTTON = "Gửi minh chứng"

# The card's actions typed on a channel without buttons (accents and case do not matter).
WORD_DONE = "xong"
WORD_BLOCKED = "khó khăn"
WORD_EVIDENCE = "ảnh"
WORD_BACK = "quay lại"
CARD_TYPED_HINT = (
    "Gõ một số từ 0 đến 100 để ghi phần trăm (50 là 50 %).\n"
    "Gõ «xong» khi hoàn thành, «khó khăn» nếu vướng mắc, «ảnh» để gửi minh chứng, "
    "«quay lại» để về danh sách."
)
CARD_PERCENT_RANGE = "Trên thẻ việc, số là phần trăm: hãy gõ một số từ 0 đến 100."
NUMBERED_EXPIRED = "Danh sách đã hết hạn, gõ /viec để xem lại."


def numbered_out_of_range(count: int) -> str:
    return f"Không có số đó. Hãy gõ một số từ 1 đến {count} trong danh sách vừa gửi."


def tasks_title(count: int, page: int, pages: int) -> str:
    paging = f" — trang {page + 1}/{pages}" if pages > 1 else ""
    return f"Việc của bạn ({count}){paging}:"


def task_line(label: str, title: str, due: date | None, status_code: str, percent: int) -> str:
    when = day(due) if due else "chưa có hạn"
    return f"• {label} {title}\n   {when} · {status(status_code, percent)}"


CARD_REQUIREMENT = "Yêu cầu"
CARD_TASK = "Nhiệm vụ"
HEAD_OF_DEPARTMENT = "trưởng phòng"
CARD_DEADLINE = "Thời hạn"
CARD_DATES = "Mốc"
CARD_ONGOING = "Thường xuyên"
CARD_POINTS = "Điểm"
CARD_OWNERS = "Phụ trách"
CARD_STATUS = "Trạng thái"
CARD_RECENT = "Cập nhật gần đây:"
CARD_EVIDENCE = "Minh chứng"
CARD_NO_OWNER = "chưa có"


def card_points(max_points: float | None, target: float | None) -> str:
    parts = []
    if max_points is not None:
        parts.append(f"tối đa {number(max_points)}")
    if target is not None:
        parts.append(f"phấn đấu {number(target)}")
    return f"{CARD_POINTS}: {', '.join(parts)}"


def card_dates(dates: list[date], limit: int = 6) -> str:
    shown = ", ".join(day(d) for d in dates[:limit])
    more = f" (+{len(dates) - limit} mốc)" if len(dates) > limit else ""
    return f"{CARD_DATES}: {shown}{more}"


def card_update(when: str, who: str, status_code: str, percent: int, note: str | None) -> str:
    tail = f" — {note}" if note else ""
    return f"• {when} {who}: {status(status_code, percent)}{tail}"


def card_evidence(count: int) -> str:
    return f"{CARD_EVIDENCE}: {count} tệp"


def card_footer(criterion_id: int) -> str:
    # Parsed back from a reply to the card (handlers.tasks.CARD_FOOTER); keep the shape.
    return f"Mục #{criterion_id}"


ASK_BLOCKED_REASON = "✍️ Nhập lý do gặp khó khăn vào một tin nhắn."


def ask_evidence(label: str) -> str:
    return f"📎 Gửi ảnh hoặc tệp minh chứng cho {label} ngay bây giờ (gửi được nhiều tệp)."


ITEM_GONE = "Mục này không còn trong kế hoạch. Gõ /viec để xem danh sách mới."
CHOICE_EXPIRED = "Lựa chọn đã hết hạn. Hãy gõ lại lệnh."


def unknown_code(code: str, has_suggestions: bool) -> str:
    hint = " Có phải một trong các mục dưới đây?" if has_suggestions else ""
    return f"Không thấy mục «{code}» trong kế hoạch.{hint}"


def ambiguous_code(code: str) -> str:
    return f"Mã «{code}» ứng với nhiều mục. Chọn mục:"


# --- progress --------------------------------------------------------------------------------

UPDATE_USAGE = (
    "Cách dùng: /capnhat <mã> <0-100> [ghi chú]\nVí dụ: /capnhat 3.1.3 50 đã dự thảo kế hoạch"
)
DONE_USAGE = "Cách dùng: /xong <mã> [ghi chú]\nVí dụ: /xong 3.1.3 đã niêm yết"
BAD_PERCENT = "Phần trăm phải là số nguyên từ 0 đến 100."


def not_owner(label: str) -> str:
    return f"Bạn không phụ trách mục {label}."


def progress_saved(label: str, status_code: str, percent: int) -> str:
    return f"Đã ghi {label}: {status(status_code, percent)}."


def progress_toast(status_code: str, percent: int) -> str:
    return f"Đã ghi: {status(status_code, percent)}"


def blocked_saved(label: str) -> str:
    return f"Đã ghi {label}: gặp khó khăn. Đầu mối sẽ được báo."


FREE_TEXT_HINT = "Gõ /viec để xem việc của bạn, /help để xem hướng dẫn."
UNKNOWN_COMMAND = "Không có lệnh này. Gõ /help để xem các lệnh bạn dùng được."

# --- evidence --------------------------------------------------------------------------------

FILE_TOO_BIG = "Tệp quá lớn (trên 20 MB) nên chưa lưu gì. Hãy nén hoặc chia nhỏ rồi gửi lại."
# Zalo: what its users may send that the bot cannot take (yet).
ZALO_PHOTO_EXPIRED = "Ảnh này đã hết hạn tải về nên tôi chưa lưu gì. Vui lòng gửi lại ảnh."
ZALO_STICKER = "Tôi chưa hỗ trợ nhãn dán. Hãy gõ lệnh bằng chữ, ví dụ /viec để xem việc của bạn."
ZALO_VOICE = (
    "Tôi chưa hỗ trợ tin nhắn thoại. Hãy gõ bằng chữ, ví dụ /capnhat 3.1.3 60 "
    "để báo tiến độ mục 3.1.3 đạt 60%."
)
# Zalo takes no uploaded files: where the chart, the spreadsheet and the pack go instead.
ZALO_FILE_ON_WEB = "Zalo không nhận tệp gửi kèm: mở tệp qua đường dẫn trong tin nhắn của bot."
FILES_NEED_WEB = (
    "Zalo không nhận tệp gửi kèm. Biểu đồ, bảng Excel và gói minh chứng cần máy chủ web của "
    "dondoc (người quản trị đặt PUBLIC_BASE_URL); bản tóm tắt bằng chữ có trong tin nhắn."
)
ZALO_UNREACHABLE = (
    "Không kết nối được Zalo Bot API ({where}) nên bot chưa chạy được: kiểm tra mạng "
    "hoặc ZALO_API_BASE_URL, rồi chạy lại."
)
ZALO_TOKEN_REFUSED = (
    "Zalo từ chối ZALO_BOT_TOKEN: kiểm tra lại token lấy trong ứng dụng Zalo Bot Manager "
    "(tệp .env)."
)
ZALO_UNSUPPORTED = (
    "Tôi chưa hỗ trợ loại tin nhắn này. Hãy gõ bằng chữ (ví dụ /viec) hoặc gửi ảnh làm minh chứng."
)
EVIDENCE_NO_TARGET = (
    "Chưa rõ tệp này là minh chứng cho mục nào. Gửi lại kèm chú thích là mã mục "
    "(ví dụ «3.1.3»), hoặc mở việc bằng /viec rồi bấm «Gửi minh chứng»."
)
EVIDENCE_SEND_AGAIN = "Lựa chọn đã hết hạn. Hãy gửi lại tệp kèm mã mục."


def evidence_saved(label: str, new: int, duplicates: int, count: int) -> str:
    parts = []
    if new:
        parts.append(f"Đã nhận {new} tệp minh chứng cho {label}.")
    if duplicates:
        parts.append(f"{duplicates} tệp đã có từ trước, không lưu lại.")
    parts.append(f"Mục này có {count} tệp minh chứng.")
    return " ".join(parts)


# --- leaders ---------------------------------------------------------------------------------

NO_OVERDUE = "Không có việc nào quá hạn. 👍"


def overdue_title(count: int, page: int, pages: int) -> str:
    paging = f" — trang {page + 1}/{pages}" if pages > 1 else ""
    return f"Việc quá hạn ({count}){paging}:"


def overdue_line(
    label: str, title: str, due: date, late: int, owners: list[str], status_code: str, pct: int
) -> str:
    who = ", ".join(owners) or CARD_NO_OWNER
    state = status(status_code, pct)
    return f"• {label} {title}\n   trễ {late} ngày (hạn {day(due)}) · {who} · {state}"


def officers_title(unit: str, count: int, page: int, pages: int) -> str:
    paging = f" — trang {page + 1}/{pages}" if pages > 1 else ""
    return f"Cán bộ {unit} ({count}){paging}:"


def officer_line(
    name: str,
    positions: list[str],
    roles: list[str],
    linked: bool,
    reachable: bool,
    seen: str,
    department: str | None = None,
    accounts: str = "",
) -> str:
    """One officer of /canbo; ``accounts``: their channels (see accounts_text), if any."""
    extra = [ROLE_NAMES[r] for r in roles if r != "officer" and r in ROLE_NAMES]
    where = [", ".join(positions)] if positions else []
    where += [department] if department else []
    head = f"• {name} — {' · '.join(where) or 'chưa có vị trí'}"
    if extra:
        head += f" ({', '.join(extra)})"
    if not linked:
        state = "chưa liên kết"
    elif not reachable:
        state = "đã liên kết, không nhận được tin"
    else:
        state = "đã liên kết"
    tail = f" · {accounts}" if accounts else ""
    return f"{head}\n   {state} · hoạt động: {seen or '-'}{tail}"


def accounts_text(accounts: list[tuple[str, bool]]) -> str:
    """ "Telegram, Zalo (không nhận được tin)" from (channel name, reachable) pairs."""
    return ", ".join(
        name if reachable else f"{name} (không nhận được tin)" for name, reachable in accounts
    )


# --- admin: invites, assignment, positions, roster -------------------------------------------

INVITE_USAGE = (
    "Cách dùng: /moi <VỊ_TRÍ> [vai trò] <Họ tên>\n"
    "Ví dụ: /moi VPTK Nguyễn Thị Lan, /moi VPTK lãnh đạo Nguyễn Văn Hùng\n"
    "Vai trò (nếu có): cán bộ, đầu mối, lãnh đạo, quản trị."
)
INVITE_ROLE_IS_POSITION = (
    "Trong /moi, «Chủ tịch» là tên một vị trí nên không được hiểu là vai trò: "
    "ghi vai trò «lãnh đạo» sau vị trí, ví dụ /moi VPTK lãnh đạo Nguyễn Văn Hùng."
)


INVITE_WAIT = (
    "Bạn đã nhập sai mã mời quá nhiều lần. Xin vui lòng đợi khoảng một giờ rồi thử lại, "
    "hoặc xin quản trị viên một mã mới."
)


def invite_created(name: str, positions: list[str], link: str, expires: str, code: str) -> str:
    """``link`` is the code itself on a channel without deep links (Zalo): then only the code."""
    head = (
        f"Lời mời cho {name} ({', '.join(positions) or 'chưa có vị trí'}), dùng một lần, "
        f"hết hạn {expires}.\n"
    )
    if link == code:
        return head + f"Người đó nhắn cho bot (trên Zalo) đúng mã mời này: {code}"
    return (
        head + f"Gửi đường dẫn này cho người đó:\n{link}\nHoặc người đó nhắn cho bot mã mời: {code}"
    )


ASSIGN_USAGE = "Cách dùng: /giao <mã> <họ tên cán bộ>\nVí dụ: /giao 3.1.3 Nguyễn Thị Lan"


def officer_not_found(text: str) -> str:
    return f"Không thấy cán bộ «{text}» trong đơn vị. Xem danh sách: /canbo"


def officer_ambiguous(text: str, names: list[str]) -> str:
    return f"Có nhiều cán bộ khớp «{text}»: {', '.join(names)}. Hãy gõ đủ họ tên."


def assigned(label: str, name: str) -> str:
    return f"Đã giao {label} cho {name}."


POSITIONS_USAGE = (
    "Đổi vị trí: bấm tên cán bộ bên dưới, hoặc gõ /vitri <VỊ_TRÍ[,VỊ_TRÍ]> <Họ tên>\n"
    "Ví dụ: /vitri VPTK,TPHT Nguyễn Thị Lan"
)
POSITIONS_TITLE = "Vị trí và người giữ:"
POSITIONS_NOBODY = "chưa có ai"


def positions_line(code: str, name: str, holders: list[str]) -> str:
    return f"• {code} ({name}): {', '.join(holders) or POSITIONS_NOBODY}"


def positions_of(name: str, positions: list[str]) -> str:
    return (
        f"Vị trí của {name}: {', '.join(positions) or 'chưa có'}.\nBấm để thêm hoặc bỏ một vị trí."
    )


def positions_changed(name: str, positions: list[str]) -> str:
    return f"Đã đổi vị trí của {name}: {', '.join(positions) or 'không còn vị trí nào'}."


def roster_imported(added: int, updated: int) -> str:
    return f"Đã nhập danh sách cán bộ: thêm mới {added}, cập nhật {updated}."


def roster_failed(problems: list[str], limit: int = 20) -> str:
    shown = problems[:limit]
    more = f"\n… và {len(problems) - limit} lỗi khác" if len(problems) > limit else ""
    return "Danh sách có lỗi, chưa nhập gì:\n" + "\n".join(shown) + more


# --- admin: plan import ----------------------------------------------------------------------

ASK_PLAN_FILE = "Gửi tệp kế hoạch (.docx, .xlsx, .csv, .txt hoặc .yaml) ngay sau tin này."
CONFIRM = "Xác nhận"
PLAN_GONE = "Bản xem trước không còn nữa (đã hủy, đã nhập hoặc quá hạn). Hãy gửi lại tệp."
PLAN_CANCELLED = "Đã hủy, chưa nhập gì."
PLAN_NO_UNIT = (
    "Không đọc được tên đơn vị trong kế hoạch. Thêm dòng «UBND xã/phường …» vào tệp, "
    "hoặc nhập bằng lệnh: python -m bot plan import TỆP --unit TÊN"
)
PLAN_TOO_BIG = "Tệp quá lớn (trên 20 MB); kế hoạch thường chỉ vài trăm KB."


def plan_unreadable(reason: str) -> str:
    return f"Không đọc được kế hoạch: {reason}"


PLAN_OTHER_UNIT = (
    "Không thể xác nhận: tệp ghi tên một đơn vị khác. Nếu đơn vị đã đổi tên (sáp nhập), "
    "hãy đổi tên đơn vị trước (lệnh unit rename) rồi gửi lại tệp."
)
PLAN_OTHER_UNIT_REFUSED = "Chưa nhập gì. " + PLAN_OTHER_UNIT.split(": ", 1)[1]


def plan_preview(filename: str, unit: str, body: str, mapped: dict[str, str]) -> str:
    lines = [f"Xem trước «{filename}» cho {unit}:", body]
    for text, code in mapped.items():
        lines.append(f"Đã gán: «{text}» → {code}")
    lines.append("Bấm «Xác nhận» để nhập; nhập lại sẽ cập nhật, giữ tiến độ đã báo.")
    return "\n".join(lines)


def map_button(text: str, limit: int = 28) -> str:
    short = text if len(text) <= limit else text[: limit - 1] + "…"
    return f"Gán «{short}»"


def choose_position(text: str) -> str:
    return f"Chọn vị trí chủ trì cho «{text}»:"


def plan_imported(
    unit: str, added: int, changed: int, removed: int, unchanged: int, warnings: int
) -> str:
    lines = [
        f"Đã nhập kế hoạch cho {unit}.",
        f"Thêm mới {added}, thay đổi {changed}, gỡ bỏ {removed}, giữ nguyên {unchanged}.",
    ]
    if warnings:
        lines.append(f"Có {warnings} cảnh báo (xem lại bản xem trước).")
    lines.append("Tiếp theo: mời cán bộ bằng /moi <VỊ_TRÍ> <Họ tên>.")
    return "\n".join(lines)


# --- Reminders (scheduler/reminders.py) ------------------------------------------------------

REMINDER_KINDS = {
    "overdue": "quá hạn",
    "due_today": "hạn hôm nay",
    "due_in_1": "còn 1 ngày",
    "due_in_3": "còn 3 ngày",
    "due_in_7": "còn 7 ngày",
    "checkin": "cập nhật tháng này",
}


def reminder_line(
    code: str,
    short_title: str,
    kind: str,
    due: date | None,
    days_late: int,
    owners: list[str],
    task: str | None = None,
) -> str:
    when = REMINDER_KINDS.get(kind, kind)
    if kind == "overdue":
        when = f"quá hạn {days_late} ngày"
    if due is not None:
        when += f" ({due:%d/%m/%Y})"
    whose = f" — {', '.join(owners)}" if owners else ""
    line = f"• {code} {short_title}: {when}{whose}"
    return f"{line}\n  {CARD_TASK}: {task}" if task else line


def digest_header(day: date) -> str:
    return f"Nhắc việc ngày {day:%d/%m/%Y}:"


DIGEST_FOOTER = "Chọn từng việc (bấm, hoặc gõ số) để cập nhật tiến độ hoặc gửi minh chứng."


def more_items(count: int) -> str:
    return f"… và {count} việc khác (gõ /viec để xem hết)."


def escalation_header(day: date) -> str:
    return f"Việc quá hạn cần lãnh đạo đôn đốc ({day:%d/%m/%Y}):"


def unreachable_notice(name: str) -> str:
    return (
        f"Không gửi được tin nhắc cho {name}: có thể đã chặn bot. "
        "Hãy liên hệ trực tiếp và nhắc bấm /start lại."
    )


# --- Pausing reminders and their settings (handlers/reminders.py) ------------------------------

SNOOZE_USAGE = "Cách dùng: /hoanlai <mã> <số ngày>, ví dụ /hoanlai 3.1.3 5 (tối đa 14 ngày)."
AWAY_USAGE = (
    "Cách dùng: /nghi <dd/mm/yyyy> (nghỉ đến hết ngày đó), hoặc /nghi xong khi đã đi làm lại."
)
AWAY_BACK_WORDS = ("xong", "het", "hết", "back")
BACK_FROM_AWAY = "Chào mừng trở lại! Bot nhắc việc lại cho bạn từ hôm nay."
SETTINGS_USAGE = (
    "Cách dùng: /caidat <mục> <giá trị>, ví dụ:\n"
    "/caidat gio 07:30 — giờ nhắc\n"
    "/caidat truoc 7,3,1,0 — nhắc trước hạn (ngày)\n"
    "/caidat quahan 1,3,7 — nhắc sau hạn (ngày làm việc)\n"
    "/caidat baolen 3 — báo lãnh đạo sau (ngày làm việc)\n"
    "/caidat hoantoida 14 — số ngày hoãn tối đa\n"
    "/caidat tongket 0 16 * * fri — lịch gửi tổng hợp tuần\n"
    "/caidat nghi 02/09/2025,03/09/2025 — ngày nghỉ riêng của đơn vị"
)
SETTINGS_SAVED = "Đã lưu cài đặt."


def snoozed(item: str, until: date) -> str:
    return f"Đã hoãn nhắc {item} đến hết ngày {day(until)}."


def away_until(until: date) -> str:
    return (
        f"Đã tạm dừng nhắc việc đến hết ngày {day(until)}. "
        "Việc quá hạn của bạn sẽ được chuyển cho đầu mối theo dõi."
    )


def reminder_settings(values: dict[str, object]) -> str:
    def numbers(key: str) -> str:
        return ", ".join(str(n) for n in values.get(key, []))  # type: ignore[attr-defined]

    days_off = [day(date.fromisoformat(d)) for d in values.get("days_off", [])]  # type: ignore[attr-defined]
    lines = [
        "Cài đặt nhắc việc của đơn vị:",
        f"• Giờ nhắc: {values['reminder_time']}",
        f"• Nhắc trước hạn: {numbers('days_before')} ngày",
        f"• Nhắc sau hạn: ngày làm việc thứ {numbers('overdue_workdays')}, rồi mỗi thứ Hai",
        f"• Báo lãnh đạo sau {values['escalate_after_workdays']} ngày làm việc quá hạn",
        f"• Hoãn tối đa {values['max_snooze_days']} ngày",
        f"• Lịch tổng hợp tuần: {values.get('summary_cron') or 'mặc định (16:00 thứ Sáu)'}",
        f"• Ngày nghỉ riêng: {', '.join(days_off) or 'không có'}",
        "Đổi: /caidat <mục> <giá trị> (gõ /caidat ? để xem ví dụ).",
    ]
    return "\n".join(lines)


# --- Summary and evidence pack on demand (handlers/reports.py) ---------------------------------

CHART_CAPTION = "Tiến độ theo lĩnh vực"
WORKBOOK_CAPTION = "Bảng tổng hợp (Excel) để in hoặc gửi lãnh đạo"


def on_the_web(chart: str, workbook: str) -> str:
    return f"Xem trên web (7 ngày):\n• Biểu đồ: {chart}\n• Bảng Excel: {workbook}"


def no_plan_for_year(year: int) -> str:
    return f"Đơn vị chưa có kế hoạch nào cho năm {year}."


EXPORT_USAGE = "Cách dùng: /xuat [năm], ví dụ /xuat 2024 (năm từ 2000 đến 2100)."


def export_ready(items: int, files: int, parts: int) -> str:
    split = f", chia thành {parts} phần (mỗi phần dưới 50 MB)" if parts > 1 else ""
    return f"Gói minh chứng: {items} mục, {files} tệp{split}. Đang gửi…"


def export_link(items: int, files: int, link: str) -> str:
    return f"Gói minh chứng: {items} mục, {files} tệp. Tải về (trong 24 giờ):\n{link}"


def export_missing(count: int) -> str:
    return f"Lưu ý: {count} tệp minh chứng không còn trên máy chủ, đã bỏ qua."


# --- /hoantac and /vaitro (core: core.undo.undo_last, core.officers.change_roles) -------------
# Wired into the chat by the channel-neutral handlers (issue 11); the command names and
# texts live here so every channel says the same.
UNDO_NOTHING = "Không có gì để hoàn tác: chỉ hoàn tác được lần cập nhật hoặc gửi tệp trong 10 phút."
ROLE_USAGE = (
    "Cách dùng: /vaitro <cán bộ> <vai trò>, ví dụ /vaitro Nguyễn Thị Lan đầu mối.\n"
    "Vai trò: cán bộ, đầu mối, lãnh đạo, quản trị (nhiều vai trò thì ngăn bằng dấu ;)."
)


def undone_progress(item: str, percent: int, status: str, now_percent: int, now_status: str) -> str:
    was = STATUS_LABELS.get(status, status)
    now = STATUS_LABELS.get(now_status, now_status)
    return (
        f"Đã hoàn tác cập nhật {item} ({percent}% – {was}).\n"
        f"Tiến độ hiện tại: {now_percent}% – {now}."
    )


def undone_evidence(item: str, file_name: str) -> str:
    return f"Đã hoàn tác tệp minh chứng {file_name} của {item}: tệp được giữ lại nhưng không tính."


def roles_changed(name: str, roles: list[str]) -> str:
    labels = ", ".join(ROLE_NAMES.get(role, role) for role in roles)
    return f"Đã đặt vai trò của {name}: {labels}."


# --- /web --------------------------------------------------------------------------------------

WEB_OFF = "Trang web chưa được bật cho đơn vị này. Vui lòng hỏi quản trị viên."


def web_login(url: str) -> str:
    return (
        "Liên kết đăng nhập trang web (dùng một lần, trong 15 phút; "
        f"mở rồi bấm «Đăng nhập»):\n{url}"
    )


# --- /kenh: which channel reminders go to ------------------------------------------------------

CHANNEL_AUTO_WORDS = ("tudong", "tự động", "gannhat", "gần nhất", "auto")
CHANNEL_TITLE = "Kênh nhận nhắc việc, báo cáo tuần và báo lên của bạn:"
CHANNEL_AUTO_BUTTON = "Kênh dùng gần nhất"
CHANNEL_USAGE = (
    "Chọn kênh: /kenh telegram hoặc /kenh zalo; /kenh tudong để nhận qua kênh bạn dùng gần nhất."
)


def channel_line(name: str, *, preferred: bool, reachable: bool) -> str:
    marks = ["ưu tiên"] if preferred else []
    if not reachable:
        marks.append("không nhận được tin (đã chặn bot?)")
    return f"• {name}" + (f" — {', '.join(marks)}" if marks else "")


def channel_default(name: str | None) -> str:
    """The footnote when no channel is preferred."""
    if name is None:
        return "Chưa chọn kênh ưu tiên: tin nhắn đi qua kênh bạn dùng gần nhất."
    return f"Chưa chọn kênh ưu tiên: tin nhắn đi qua kênh bạn dùng gần nhất ({name})."


def channel_button(name: str) -> str:
    return f"Nhận qua {name}"


def channel_set(name: str | None) -> str:
    if name is None:
        return "Đã chọn: nhận qua kênh bạn dùng gần nhất."
    return f"Đã chọn: nhắc việc sẽ gửi qua {name} trước."


def channel_unknown(text: str, linked: list[str]) -> str:
    return f"Không có kênh «{text}». Bạn đã liên kết: {', '.join(linked)}. {CHANNEL_USAGE}"


def channel_not_linked(message: str) -> str:
    return (
        f"{message} Để liên kết, hãy xin quản trị viên một mã mời (/moi) "
        "và gửi mã đó cho bot từ kênh ấy."
    )
