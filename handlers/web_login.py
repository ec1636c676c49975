"""/web: a one-time link to the web dashboard, for whoever asks in a private chat.

The link itself comes from core.web_login (the same one the command line prints):
valid 15 minutes, spent only by pressing "Đăng nhập" on the page it opens, so a
chat app fetching it for a preview spends nothing. What the person sees there
follows their role (web/dashboard.py checks it on every request).
"""

from __future__ import annotations

from bot import texts
from core.web_login import WebLoginError, issue_login_link
from handlers.base import OFFICER, Inbound, Reply, Request, handler


@handler(OFFICER, province=True)
async def web_command(event: Inbound, request: Request) -> Reply:
    """An officer's link opens their unit; a province user's, the province page."""
    base_url = request.settings.base_url
    if base_url is None or not request.settings.web_enabled:
        return Reply(texts.WEB_OFF)
    officer, province_user = request.officer, request.province_user
    try:
        url = await issue_login_link(
            request.session,
            base_url=base_url,
            now=request.now,
            officer_id=officer.id if officer is not None else None,
            province_user_id=province_user.id if province_user is not None else None,
        )
    except WebLoginError as exc:
        return Reply(str(exc))
    return Reply(texts.web_login(url))
