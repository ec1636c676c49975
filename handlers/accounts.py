"""/kenh: the asker's linked chat channels, which one reminders go to first, which are blocked.

``/kenh`` lists them with a button per channel; ``/kenh telegram``, ``/kenh zalo`` (or a
button) make that channel the preferred one; ``/kenh tudong`` goes back to "the channel
used last". A channel the person has no account on is refused (core.accounts).
"""

from __future__ import annotations

from bot import texts
from core.accounts import (
    CHANNEL_NAMES,
    AccountError,
    channel_label,
    delivery_order,
    officer_accounts,
    pushable,
    set_preferred_channel,
)
from core.text import fold
from handlers.base import (
    OFFICER,
    Inbound,
    Option,
    Reply,
    Request,
    callback_data,
    callback_parts,
    handler,
)
from storage.models import ChannelAccount

PREFIX = "kenh"
AUTO = "-"  # the button's data for "the channel used last"


@handler(OFFICER)
async def channel_command(event: Inbound, request: Request) -> Reply:
    if not event.args:
        return await _overview(request)
    return await _choose(request, " ".join(event.args), edit=False)


@handler(OFFICER)
async def channel_pressed(event: Inbound, request: Request) -> Reply:
    return await _choose(request, callback_parts(event, 2)[1] or AUTO, edit=True)


async def _choose(request: Request, wanted: str, *, edit: bool) -> Reply:
    assert request.officer is not None
    accounts = pushable(await officer_accounts(request.session, officer_id=request.officer.id))
    key = fold(wanted).replace(" ", "")
    if wanted == AUTO or key in {fold(w).replace(" ", "") for w in texts.CHANNEL_AUTO_WORDS}:
        channel = None
    else:
        channel = _channel_named(key, accounts)
        if channel is None:
            linked = [channel_label(a.channel) for a in accounts]
            return Reply(texts.channel_unknown(wanted[:40], linked), edit=edit)
    try:
        await set_preferred_channel(
            request.session, officer=request.officer, channel=channel, actor=request.actor
        )
    except AccountError as exc:
        return Reply(texts.channel_not_linked(str(exc)), edit=edit)
    done = texts.channel_set(channel_label(channel) if channel else None)
    return await _overview(request, done=done, edit=edit)


def _channel_named(key: str, accounts: list[ChannelAccount]) -> str | None:
    """The channel a person typed ("zalo", "Telegram"): one dondoc knows of, or one of theirs,
    linked or not (set_preferred_channel refuses one they have no account on)."""
    names = {*CHANNEL_NAMES, *(a.channel for a in accounts)}
    return next((name for name in sorted(names) if fold(name) == key), None)


async def _overview(request: Request, *, done: str | None = None, edit: bool = False) -> Reply:
    assert request.officer is not None
    officer = request.officer
    accounts = pushable(await officer_accounts(request.session, officer_id=officer.id))
    preferred = officer.preferred_channel
    lines = [done] if done else []
    lines.append(texts.CHANNEL_TITLE)
    for account in accounts:
        lines.append(
            texts.channel_line(
                channel_label(account.channel),
                preferred=account.channel == preferred,
                reachable=not account.unreachable,
            )
        )
    if preferred is None:
        first = delivery_order(accounts, None)
        lines.append(texts.channel_default(channel_label(first[0].channel) if first else None))
    lines.append(texts.CHANNEL_USAGE)
    choices: list[list[Option]] = [
        [(texts.channel_button(channel_label(a.channel)), callback_data(PREFIX, a.channel))]
        for a in accounts
        if a.channel != preferred
    ]
    if preferred is not None:
        choices.append([(texts.CHANNEL_AUTO_BUTTON, callback_data(PREFIX, AUTO))])
    return Reply("\n".join(lines), choices=choices, edit=edit)
