"""One conversation, whatever the channel: what came in, what to say back, what a channel can do.

Telegram, Zalo, a terminal shell: each adapter turns its platform's update
into an :class:`Inbound` event, runs the feature it routes to, and renders the
:class:`Reply` actions the feature returns with what its channel can do
(:class:`Capabilities`). Features never see a platform's objects and never
branch on the channel's name.

These types live in ``core`` because every channel adapter and every feature
imports them, and nothing here may import a chat library (a test checks it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PHOTO = "photo"
DOCUMENT = "document"


# --- inbound ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class IncomingFile:
    """A file a user sent, as their channel describes it (nothing downloaded yet)."""

    handle: str  # what the channel needs to fetch it (Telegram: the file_id)
    unique_id: str | None  # the channel's stable id for the same content, when it has one
    size: int | None  # as declared by the channel; checked before fetching
    name: str | None
    mime: str | None
    kind: str = DOCUMENT  # PHOTO or DOCUMENT

    def to_json(self) -> dict[str, Any]:
        """For conversation state kept in the database (a choice waiting with its files)."""
        return {
            "handle": self.handle,
            "unique_id": self.unique_id,
            "size": self.size,
            "name": self.name,
            "mime": self.mime,
            "kind": self.kind,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IncomingFile:
        return cls(
            handle=str(data["handle"]),
            unique_id=data.get("unique_id"),
            size=data.get("size"),
            name=data.get("name"),
            mime=data.get("mime"),
            kind=str(data.get("kind") or DOCUMENT),
        )


@dataclass(frozen=True)
class Inbound:
    """One thing a user did: a command, a text, a choice picked, or files sent.

    Exactly one of ``command``, ``choice``, ``files`` and ``text`` says what
    came (``caption`` goes with files). ``event_id`` is the channel's id for
    this event, unique per channel: a redelivered event carries the same one
    and is handled once.
    """

    channel: str
    user_id: str  # the channel's id of the person, as text
    display_name: str
    chat_id: str  # where to answer
    event_id: str  # text: Telegram's update ids are integers, Zalo's are not
    command: str | None = None  # lower case, without "/" or "@bot"
    args: tuple[str, ...] = ()
    text: str | None = None
    choice: str | None = None  # the opaque data of the choice picked
    message_id: int | None = None  # the message the choice was picked on
    files: tuple[IncomingFile, ...] = ()
    caption: str | None = None
    album: str | None = None  # files sent together arrive as events sharing this id
    replied_text: str | None = None  # the bot's message this one answers, if any
    # A one-to-one chat with the bot. The bot works there only: in a group every
    # member would see (and could use) what it answers.
    private: bool = True
    # The adapter's own object for this event (to answer a button press, say);
    # features never look at it.
    raw: Any = field(default=None, compare=False, repr=False)


# --- outbound --------------------------------------------------------------------------------

Option = tuple[str, str]  # (label, opaque data that comes back as Inbound.choice)


@dataclass(frozen=True)
class TypedAnswers:
    """How this reply is answered by typing on a channel without buttons (an open item card).

    A whole number from ``numbers[0]`` to ``numbers[1]`` comes back as ``number_data`` with
    "{n}" replaced by it; a number outside gets ``out_of_range``. Each of ``words`` (typed
    with or without accents, in any case) comes back as its data. ``hint`` is shown in place
    of the numbered list. Channels with buttons ignore all this.
    """

    hint: str
    number_data: str
    numbers: tuple[int, int]
    out_of_range: str
    words: tuple[tuple[str, str], ...]  # (word, data)

    def to_json(self) -> dict[str, Any]:
        """Kept in the database with the list last shown in a chat (handlers.numbered)."""
        return {
            "number_data": self.number_data,
            "numbers": list(self.numbers),
            "out_of_range": self.out_of_range,
            "words": [list(pair) for pair in self.words],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TypedAnswers:
        low, high = data["numbers"]
        return cls(
            hint="",
            number_data=str(data["number_data"]),
            numbers=(int(low), int(high)),
            out_of_range=str(data["out_of_range"]),
            words=tuple((str(word), str(value)) for word, value in data["words"]),
        )


@dataclass
class Reply:
    """One thing to say.

    ``choices`` are rows of (label, data) offered under the text; ``edit``
    replaces the message the choice was picked on; ``message_id`` replaces
    that message of the chat instead (a card asked for a reason answered by
    a text); ``on_sent`` is told the id of the message sent, for features that
    replace it later. A channel without editing sends a new message instead.
    """

    text: str
    choices: Sequence[Sequence[Option]] = ()
    edit: bool = False
    alert: str | None = None  # a short notice on the choice picked (Telegram: a toast)
    document: tuple[str, bytes | Path] | None = None  # (file name, content or a file on disk)
    photo: bytes | None = None  # a picture, with ``text`` as its caption
    link: tuple[str, str] | None = None  # (label, URL)
    html: bool = False
    message_id: int | None = None
    on_sent: Callable[[int], None] | None = None
    after: Callable[[], None] | None = None  # always run once this reply was tried (clean-up)
    typed: TypedAnswers | None = None


@dataclass(frozen=True)
class MenuChange:
    """This user's roles changed: show them the commands they may now use. ``roles``: an
    officer's roles, or (PROVINCE_MENU,) for a province user (/web and /help only)."""

    user_id: str
    roles: tuple[str, ...]


PROVINCE_MENU = "province"

Action = Reply | MenuChange


def as_actions(replies: Action | Sequence[Action] | None) -> list[Action]:
    if replies is None:
        return []
    return [replies] if isinstance(replies, Reply | MenuChange) else list(replies)


# --- what a channel can do -------------------------------------------------------------------


@dataclass(frozen=True)
class Capabilities:
    """Declared by each adapter; the adapter renders what its channel lacks."""

    buttons: bool
    editing: bool
    documents: bool
    max_text: int
    max_caption: int
    max_choice_data: int  # bytes of Reply.choices data the channel carries back
