"""The few pages a person may see when a link does not give a file: short, Vietnamese, phone-sized.

They say what happened and what to do, never why in detail: a link that was
tampered with and one that never existed look the same.
"""

from __future__ import annotations

import html

from aiohttp import web

_PAGES = {
    403: ("Liên kết không hợp lệ", "Liên kết này không đúng. Hãy mở lại từ tin nhắn của bot."),
    404: ("Không tìm thấy tệp", "Tệp này đã bị xóa hoặc không còn trên hệ thống."),
    410: ("Liên kết đã hết hạn", "Hãy yêu cầu bot gửi lại để có liên kết mới."),
}  # fmt: skip

_TEMPLATE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body style="font-family: sans-serif; margin: 2em; line-height: 1.5">
<h1 style="font-size: 1.4em">{title}</h1><p>{body}</p></body></html>
"""


def page(status: int) -> web.Response:
    """The page for a link that gives no file: 403 (not ours), 404 (gone) or 410 (expired)."""
    title, body = _PAGES[status]
    text = _TEMPLATE.format(title=html.escape(title), body=html.escape(body))
    return web.Response(status=status, text=text, content_type="text/html", charset="utf-8")
