"""Every user-facing message of the bot, in Vietnamese, in one place.

Short lines for small phone screens; full diacritics. Functions take the
values to fill in; constants are used as they are. Nothing else in the
code base writes a sentence a user will read in the chat.
"""

from __future__ import annotations

NO_TOKEN = """\
Chưa có TELEGRAM_BOT_TOKEN nên bot chưa chạy được.
1. Mở Telegram, nhắn @BotFather, gõ /newbot và làm theo hướng dẫn để nhận token.
2. Ghi token vào tệp .env ở thư mục dự án: TELEGRAM_BOT_TOKEN=123456:ABC...
   (hoặc đặt biến môi trường TELEGRAM_BOT_TOKEN), rồi chạy lại lệnh.

No TELEGRAM_BOT_TOKEN is set, so the bot cannot start.
1. In Telegram, message @BotFather, send /newbot and follow the steps to get a token.
2. Put it in a .env file in the project folder: TELEGRAM_BOT_TOKEN=123456:ABC...
   (or set the TELEGRAM_BOT_TOKEN environment variable), then run this command again."""

STRANGER = (
    "Xin chào! Đây là bot nhắc việc cải cách hành chính của UBND xã/phường.\n"
    "Bạn chưa được liên kết với đơn vị nào. Hãy xin đường link mời từ bộ phận "
    "Văn phòng - Thống kê (người quản trị bot) và bấm vào link đó để bắt đầu."
)
NOT_ALLOWED = "Bạn không có quyền dùng lệnh này."
INACTIVE = "Tài khoản của bạn đang tạm ngưng. Hãy liên hệ người quản trị bot."
ERROR = "Có lỗi khi xử lý. Vui lòng thử lại sau ít phút."
STALE_BUTTON = "Nút này đã cũ. Gõ /viec để xem danh sách mới."

# Command menu: (command, description) per role. Names are ASCII, descriptions Vietnamese.
OFFICER_COMMANDS: tuple[tuple[str, str], ...] = (
    ("viec", "Việc của tôi"),
    ("capnhat", "Cập nhật tiến độ: /capnhat <mã> <0-100>"),
    ("xong", "Báo hoàn thành: /xong <mã>"),
    ("help", "Hướng dẫn"),
)
MANAGER_COMMANDS: tuple[tuple[str, str], ...] = (
    ("quahan", "Việc quá hạn của đơn vị"),
    ("tonghop", "Tình hình chung của đơn vị"),
    ("canbo", "Danh sách cán bộ"),
)
ADMIN_COMMANDS: tuple[tuple[str, str], ...] = (
    ("kehoach", "Nhập kế hoạch (gửi kèm tệp)"),
    ("moi", "Mời cán bộ: /moi <VỊ_TRÍ> <Họ tên>"),
    ("giao", "Giao việc: /giao <mã> <cán bộ>"),
    ("vitri", "Xem, đổi vị trí của cán bộ"),
)
