"""Replies for a channel without buttons or editing (Zalo, the local shell): numbered
choices, a new message instead of an edit, long text split under the channel's limit.

An adapter for such a channel hands its send calls over as a :class:`TextSink` and
calls :func:`deliver_text` with what a feature returned (its ``Channel.deliver``), and
uses :class:`TextOutbound` as the schedule's sending side (core.outbound.Outbound).
Both render with :func:`render`, send the parts, then keep the numbered list shown
for the chat (handlers.numbered), so that a typed number picks from it:

* choices become a numbered list under the text ("1. PAR 1.5 Phối hợp…"), numbered
  row by row; a reply with typed answers (an item card) gets their hint instead;
* an alert (Telegram's toast on a pressed button) becomes the first line;
* a link becomes a "label: URL" line;
* an edit, or a reply naming a message to replace, is a new message;
* text over ``max_text`` is split on line boundaries; a single line over it on word
  boundaries (:func:`split_text`, with the standard library's textwrap).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.conversation import Action, Capabilities, Inbound, Option, Reply, TypedAnswers
from core.outbound import Attachment, Buttons
from handlers.base import AppState
from handlers.numbered import (
    DIGEST_LIST_TTL,
    Shown,
    keep_list,
    keep_reply_list,
    options_of,
    private_chat_key,
)


@dataclass(frozen=True)
class TextReply:
    """One reply as a text channel sends it: an optional file, then messages."""

    messages: tuple[str, ...]  # each within the channel's max_text
    file: tuple[str, bytes | Path] | None = None  # (name, content or a file on disk)
    photo: bool = False  # the file is a picture
    caption: str | None = None  # the file's caption, when the whole text fits in one
    shown: Shown | None = None  # the numbered list or typed answers to keep for the chat


class TextSink(Protocol):
    """A text channel's sending calls: one message each, its id if the channel gives one."""

    async def send_text(self, chat_id: str, text: str) -> int | None: ...

    async def send_file(
        self,
        chat_id: str,
        name: str,
        content: bytes | Path,
        *,
        caption: str | None,
        photo: bool,
    ) -> int | None: ...


# --- rendering -----------------------------------------------------------------------------------


def render(
    text: str,
    capabilities: Capabilities,
    *,
    choices: Sequence[Sequence[Option]] = (),
    typed: TypedAnswers | None = None,
    alert: str | None = None,
    link: tuple[str, str] | None = None,
    file: tuple[str, bytes | Path] | None = None,
    photo: bool = False,
) -> TextReply:
    """The messages for a text, its choices and the rest, as the module docstring says."""
    blocks = [alert] if alert and alert not in text else []
    blocks += [text] if text else []
    if link is not None:
        blocks.append(f"{link[0]}: {link[1]}")
    shown = None
    if typed is not None and choices:
        blocks.append(typed.hint)
        shown = Shown(typed=typed)
    elif choices:
        labels = [label for row in choices for label, _ in row]
        blocks.append("\n".join(f"{n}. {label}" for n, label in enumerate(labels, 1)))
        shown = Shown(options=options_of(choices))
    body = "\n\n".join(blocks)
    if file is not None and len(body) <= capabilities.max_caption:
        return TextReply((), file, photo, body or None, shown)
    return TextReply(tuple(split_text(body, capabilities.max_text)), file, photo, None, shown)


def render_reply(reply: Reply, capabilities: Capabilities) -> TextReply:
    file = reply.document
    if reply.photo is not None:
        file = (_photo_name(reply.photo), reply.photo)
    return render(
        reply.text,
        capabilities,
        choices=reply.choices,
        typed=reply.typed,
        alert=reply.alert,
        link=reply.link,
        file=file,
        photo=reply.photo is not None,
    )


def _photo_name(content: bytes) -> str:
    """A name for a picture sent without one (a chart is a PNG, a photo a JPEG)."""
    return "anh.png" if content.startswith(b"\x89PNG") else "anh.jpg"


def split_text(text: str, limit: int) -> list[str]:
    """``text`` in parts of at most ``limit`` characters, cut between lines; a line longer
    than ``limit`` is cut between words (a single word longer than that, between letters,
    as nothing may be lost). Blank lines at the edge of a part are dropped."""
    parts: list[str] = []
    lines: list[str] = []
    size = -1  # the joined length of ``lines`` (no newline before the first)
    for line in _short_lines(text, limit):
        if lines and size + 1 + len(line) > limit:
            parts.append("\n".join(lines))
            lines, size = [], -1
        lines.append(line)
        size += 1 + len(line)
    if lines:
        parts.append("\n".join(lines))
    return [part.strip("\n") for part in parts if part.strip()]


def _short_lines(text: str, limit: int) -> list[str]:
    lines: list[str] = []
    for line in text.split("\n"):
        if len(line) <= limit:
            lines.append(line)
        else:
            lines += textwrap.wrap(line, width=limit, break_on_hyphens=False)
    return lines


# --- sending ----------------------------------------------------------------------------------


async def send_rendered(sink: TextSink, chat_id: str, rendered: TextReply) -> int | None:
    """Send the file, then the messages; the id of the last one sent."""
    last = None
    if rendered.file is not None:
        name, content = rendered.file
        last = await sink.send_file(
            chat_id, name, content, caption=rendered.caption, photo=rendered.photo
        )
    for message in rendered.messages:
        last = await sink.send_text(chat_id, message)
    return last


async def deliver_text(
    app: AppState,
    capabilities: Capabilities,
    sink: TextSink,
    event: Inbound,
    actions: Sequence[Action],
) -> None:
    """A text channel's ``Channel.deliver``: each reply rendered and sent as new messages, and
    the last list shown kept for the chat. Menus (MenuChange) have no place here."""
    for action in actions:
        if not isinstance(action, Reply):
            continue
        try:
            rendered = render_reply(action, capabilities)
            sent = await send_rendered(sink, event.chat_id, rendered)
            if sent is not None and action.on_sent is not None:
                action.on_sent(sent)
            if rendered.shown is not None:
                await keep_reply_list(app, event, replace(rendered.shown, message_id=sent))
        finally:
            if action.after is not None:
                action.after()


@dataclass
class TextOutbound:
    """The schedule's sending side (core.outbound.Outbound) for a text channel.

    Buttons (a digest's items) are numbered like a reply's choices and kept for the chat
    for :data:`~handlers.numbered.DIGEST_LIST_TTL`: in a private chat the chat is the
    person. The sink raises core.outbound's errors; a retried message whose first parts
    went out sends them again (only a message over the limit has several).
    """

    name: str
    sink: TextSink
    capabilities: Capabilities
    sessions: async_sessionmaker[AsyncSession]
    clock: Callable[[], datetime]
    per_second: float  # the sink's pace (core.outbound.Outbound)

    async def send(
        self,
        chat_id: int | str,
        text: str,
        *,
        buttons: Buttons | None = None,
        html: bool = False,
        attachment: Attachment | None = None,
    ) -> int | None:
        file = (attachment.filename, attachment.content) if attachment is not None else None
        photo = attachment is not None and attachment.kind == "photo"
        rendered = render(text, self.capabilities, choices=buttons or (), file=file, photo=photo)
        sent = await send_rendered(self.sink, str(chat_id), rendered)
        if rendered.shown is not None:
            await keep_list(
                self.sessions,
                key=private_chat_key(self.name, str(chat_id)),
                shown=replace(rendered.shown, message_id=sent),
                now=self.clock(),
                ttl=DIGEST_LIST_TTL,
            )
        return sent
