"""The local channel: the conversation in a terminal, with no chat platform and no network.

Events are made here from what a person types (:func:`typed_event`); replies are rendered as
on any channel without buttons (channels.text_rendering: numbered choices, no editing) and
handed to a :class:`~channels.text_rendering.TextSink` (the shell prints them). A file is
"fetched" by copying it from the disk, within the same size limit as any channel's.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from channels.text_rendering import TextSink, deliver_text
from core.conversation import DOCUMENT, PHOTO, Action, Capabilities, Inbound, IncomingFile
from handlers import route
from handlers.base import AppState, FileTooBig

LOCAL = "local"
FILE_COMMAND = "file"  # "/file PATH [caption]": the shell's way of sending a file
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")

CAPABILITIES = Capabilities(
    buttons=False,
    editing=False,
    documents=True,
    max_text=2000,  # as on Zalo, so that the shell shows what a Zalo user would see
    max_caption=2000,
    max_choice_data=64,
)


@dataclass
class LocalChannel:
    app: AppState
    sink: TextSink
    name: str = LOCAL
    capabilities: Capabilities = field(default=CAPABILITIES)

    async def fetch(self, file: IncomingFile, target: Path, *, limit: int) -> None:
        source = Path(file.handle)
        if (await asyncio.to_thread(source.stat)).st_size > limit:
            raise FileTooBig
        await asyncio.to_thread(shutil.copyfile, source, target)

    async def deliver(self, event: Inbound, actions: Sequence[Action]) -> None:
        await deliver_text(self.app, self.capabilities, self.sink, event, actions)

    async def handle(self, event: Inbound) -> None:
        """Run the feature the event routes to; its replies go to the sink."""
        run = route(event)
        if run is not None:
            await run(event, self)


def local_file(path: Path) -> IncomingFile:
    """A file on disk, as a channel would describe one it received (FileNotFoundError if
    there is no such file)."""
    if not path.is_file():
        raise FileNotFoundError(str(path))
    kind = PHOTO if path.suffix.lower() in PHOTO_SUFFIXES else DOCUMENT
    return IncomingFile(
        handle=str(path),
        unique_id=None,
        size=path.stat().st_size,
        name=path.name,
        mime=None,
        kind=kind,
    )


def typed_event(
    line: str, *, channel: str, user_id: str, display_name: str, event_id: str
) -> Inbound:
    """What a person typed, as an event: "/viec 2" a command, "/file PATH [caption]" a file
    (quotes allowed around a path with spaces; FileNotFoundError if there is none), anything
    else text. The chat is the person's own."""
    base = Inbound(
        channel=channel,
        user_id=user_id,
        display_name=display_name,
        chat_id=user_id,
        event_id=event_id,
    )
    words = line.split()
    if not line.startswith("/") or not words:
        return replace(base, text=line)
    name = words[0][1:].lower()
    if name != FILE_COMMAND:
        return replace(base, command=name, args=tuple(words[1:]))
    path, caption = file_arguments(line[len(words[0]) :])
    if not path:
        raise FileNotFoundError("")
    return replace(base, files=(local_file(Path(path).expanduser()),), caption=caption or None)


def file_arguments(rest: str) -> tuple[str, str]:
    """ "PATH caption…" or "\"PATH WITH SPACES\" caption…" → (path, caption).

    Not shlex: a caption is free Vietnamese text (an apostrophe in it must not fail), and a
    Windows path keeps its backslashes. Only a path that starts with a quote runs to the
    next same quote.
    """
    rest = rest.strip()
    if rest[:1] in {'"', "'"} and rest[0] in rest[1:]:
        end = rest.index(rest[0], 1)
        return rest[1:end], rest[end + 1 :].strip()
    path, _, caption = rest.partition(" ")
    return path, caption.strip()
