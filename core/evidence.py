"""Evidence files: stored once per item under their SHA-256, tied to the item by a row.

The downloader writes into ``EVIDENCE_DIR/.incoming`` (:func:`new_incoming_path`),
on the same filesystem as the final place, so the move is one atomic rename and
a crash never leaves half a file under an item's folder.

Order of writes: the file is moved into place first, then the row is added to
the caller's transaction. If that transaction later rolls back, the file stays
as an orphan: nothing is lost, a retry reuses it (same content, same name), and
a clean-up job can remove files no row points to. The other order could leave a
row pointing at a missing file, which is worse.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import mimetypes
import os
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePath

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts import actor_on
from core.audit import audit
from core.text import nfc
from storage.db import insert_ignoring_conflicts
from storage.models import Criterion, Evidence, Officer

MAX_EVIDENCE_BYTES = 20 * 1024 * 1024  # what a bot may download through getFile
INCOMING_DIR = ".incoming"
_CHUNK_BYTES = 1024 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_EXTENSION = re.compile(r"\.[a-z0-9]{1,8}")
# mimetypes' first guesses for these are odd (".jpe", ".xlb"); these are what people expect.
_PREFERRED_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "application/pdf": ".pdf",
    "application/msword": ".doc",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
}


class EvidenceError(ValueError):
    """A file we refuse (too large); nothing was stored. The message is Vietnamese."""


@dataclass(frozen=True)
class EvidenceResult:
    evidence: Evidence
    duplicate: bool  # already attached to this item: nothing new was written
    count: int  # the item's evidence files, this one included


def new_incoming_path(evidence_dir: Path) -> Path:
    """A fresh temp path for a download, on the same filesystem as the evidence."""
    incoming = evidence_dir / INCOMING_DIR
    incoming.mkdir(parents=True, exist_ok=True)
    return incoming / f"{uuid.uuid4().hex}.part"


def too_large_message() -> str:
    return f"Tệp quá lớn (tối đa {MAX_EVIDENCE_BYTES // (1024 * 1024)} MB). Hãy gửi tệp nhỏ hơn."


def file_sha256(path: Path, limit: int = MAX_EVIDENCE_BYTES) -> tuple[str, int]:
    """Hash and size of a file, read in chunks; EvidenceError once it passes ``limit``."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            size += len(chunk)
            if size > limit:
                raise EvidenceError(too_large_message())
            digest.update(chunk)
    return digest.hexdigest(), size


def safe_part(text: str) -> str:
    """One path component from a unit id, an index or a code: never "/", "..", or empty."""
    cleaned = _UNSAFE.sub("_", text).strip(".")
    return cleaned or "_"


def extension(original_name: str | None, mime: str | None) -> str:
    if original_name:
        suffix = PurePath(original_name).suffix.lower()
        if _EXTENSION.fullmatch(suffix):
            return suffix
    if mime:
        mime = mime.split(";")[0].strip().lower()
        guessed = _PREFERRED_EXTENSIONS.get(mime) or mimetypes.guess_extension(mime) or ""
        if _EXTENSION.fullmatch(guessed):
            return guessed
    return ""


# What an evidence file can be, recognised by its first bytes: images, PDF, Word, Excel,
# and ZIP (.docx/.xlsx are ZIP too). Each kind lists the names it may keep; anything
# else, whatever its name says ("\u202efdp.exe", "foo.PDF\x00.exe"), is stored and
# exported as NEUTRAL_EXTENSION, which no computer opens by running it.
NEUTRAL_EXTENSION = ".bin"
HEAD_BYTES = 16
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"}
_IMAGES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".heif", ".tif", ".tiff", ".bmp")
_KINDS: tuple[tuple[Callable[[bytes], bool], str, tuple[str, ...]], ...] = (
    # (recognises the first bytes, the kind's own extension, the names it may keep)
    (lambda h: h.startswith(b"\xff\xd8\xff"), ".jpg", _IMAGES),
    (lambda h: h.startswith(b"\x89PNG\r\n\x1a\n"), ".png", _IMAGES),
    (lambda h: h.startswith((b"GIF87a", b"GIF89a")), ".gif", _IMAGES),
    (lambda h: h[:4] == b"RIFF" and h[8:12] == b"WEBP", ".webp", _IMAGES),
    (lambda h: h[4:8] == b"ftyp" and h[8:12] in _HEIF_BRANDS, ".heic", _IMAGES),
    (lambda h: h.startswith((b"II*\x00", b"MM\x00*")), ".tif", _IMAGES),
    (lambda h: h.startswith(b"BM"), ".bmp", _IMAGES),
    (lambda h: h.startswith(b"%PDF-"), ".pdf", (".pdf",)),
    (lambda h: h.startswith(b"\xd0\xcf\x11\xe0"), ".doc", (".doc", ".xls", ".ppt")),
    (
        lambda h: h.startswith(b"PK\x03\x04"),
        ".zip",
        (".zip", ".docx", ".xlsx", ".pptx", ".odt", ".ods"),
    ),
)


def content_extension(head: bytes, name_extension: str) -> str:
    """The extension to store and export a file under: its name's when its content agrees
    (a PNG photo named .jpg stays .jpg: both are images), the kind's own when the name
    says something else (a PDF named .exe becomes .pdf), and .bin for anything that is
    not an image, a PDF, an Office file or a ZIP."""
    for matches, own, allowed in _KINDS:
        if matches(head):
            return name_extension if name_extension in allowed else own
    return NEUTRAL_EXTENSION


def _read_head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(HEAD_BYTES)


def relative_path(criterion: Criterion, sha256: str, ext: str) -> PurePath:
    """``<unit_id>/<index>/<code>/<sha256><ext>``, relative to EVIDENCE_DIR."""
    return PurePath(
        safe_part(str(criterion.unit_id)),
        safe_part(criterion.index_name),
        safe_part(criterion.code),
        f"{sha256}{ext}",
    )


_COUNT = (
    select(func.count())
    .select_from(Evidence.__table__)
    .where(
        Evidence.__table__.c.criterion_id == bindparam("criterion_id"),
        Evidence.__table__.c.withdrawn_at.is_(None),
    )
)  # built once, on the table (no ORM on the way): it runs on every card


async def evidence_count(session: AsyncSession, *, criterion_id: int) -> int:
    return int(await session.scalar(_COUNT, {"criterion_id": criterion_id}) or 0)


async def find_duplicate(
    session: AsyncSession,
    *,
    criterion_id: int,
    sha256: str | None = None,
    file_unique_id: str | None = None,
    include_withdrawn: bool = False,
) -> Evidence | None:
    """Evidence of this item with the same content or the same Telegram file.

    With ``file_unique_id`` alone it lets a handler skip downloading a resend. A file
    withdrawn with /hoantac is not a duplicate (sent again, it is restored), unless
    ``include_withdrawn``.
    """
    matches = []
    if sha256:
        matches.append(Evidence.sha256 == sha256)
    if file_unique_id:
        matches.append(Evidence.file_unique_id == file_unique_id)
    if not matches:
        return None
    query = select(Evidence).where(Evidence.criterion_id == criterion_id, or_(*matches))
    if not include_withdrawn:
        query = query.where(Evidence.withdrawn_at.is_(None))
    return await session.scalar(query.order_by(Evidence.id).limit(1))


def _checked_hash(source: Path) -> tuple[str, int]:
    # st_size first: a file announced as too big is refused without reading it.
    if source.stat().st_size > MAX_EVIDENCE_BYTES:
        raise EvidenceError(too_large_message())
    return file_sha256(source)


def _discard(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        # Another filesystem: copy beside the target, then rename, still never half a file.
        part = target.with_name(f".{uuid.uuid4().hex}.part")
        shutil.copyfile(source, part)
        os.replace(part, target)
        source.unlink()


async def store_evidence(
    session: AsyncSession,
    *,
    officer: Officer,
    criterion: Criterion,
    source: Path,
    file_unique_id: str | None,
    mime: str | None,
    original_name: str | None,
    caption: str | None,
    source_update_id: str | None,
    evidence_dir: Path,
    now: datetime,
    actor: str | None = None,
) -> EvidenceResult:
    """Attach the downloaded file at ``source`` to ``criterion``; ``source`` is always consumed.

    ``actor`` defaults to "telegram:<the officer's Telegram account>" (core.accounts.actor_on).
    """
    # Names and captions come from the chat: NFC, without control characters (a NUL in
    # "foo.PDF\x00.exe" fails PostgreSQL's text columns).
    original_name = nfc(original_name) if original_name is not None else None
    caption = nfc(caption) if caption is not None else None
    try:
        if officer.unit_id != criterion.unit_id:
            raise EvidenceError("Mục này không thuộc đơn vị của bạn.")
        # File work runs in a thread: hashing 20 MB would stall every other chat.
        sha256, size = await asyncio.to_thread(_checked_hash, source)
        existing = await find_duplicate(
            session,
            criterion_id=criterion.id,
            sha256=sha256,
            file_unique_id=file_unique_id,
            include_withdrawn=True,
        )
        if existing is not None and existing.withdrawn_at is None:
            return await _result(session, existing, duplicate=True)
        if existing is not None:  # withdrawn with /hoantac, now sent again: it counts again
            return await _restore(session, existing, officer=officer, actor=actor, now=now)
        head = await asyncio.to_thread(_read_head, source)
        ext = content_extension(head, extension(original_name, mime))
        relative = relative_path(criterion, sha256, ext)
        await asyncio.to_thread(_move, source, evidence_dir / relative)
    finally:
        await asyncio.to_thread(_discard, source)  # refused, duplicate or failed
    values = {
        "unit_id": criterion.unit_id,
        "criterion_id": criterion.id,
        "officer_id": officer.id,
        "sha256": sha256,
        "file_unique_id": file_unique_id,
        "mime": mime,
        "size_bytes": size,
        "original_name": original_name,
        "caption": caption,
        "storage_path": relative.as_posix(),
        "source_update_id": source_update_id,
        "created_at": now,
    }
    inserted = await session.scalar(  # the same file stored by a racing twin inserts nothing
        insert_ignoring_conflicts(session, Evidence)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["criterion_id", "sha256"])
        .returning(Evidence.id)
    )
    if inserted is None:
        twin = await find_duplicate(
            session, criterion_id=criterion.id, sha256=sha256, include_withdrawn=True
        )
        assert twin is not None  # the conflict was with it
        return await _result(session, twin, duplicate=True)
    row = await session.get_one(Evidence, inserted)
    audit(
        session,
        unit_id=criterion.unit_id,
        actor=actor or await actor_on(session, officer=officer, channel="telegram"),
        actor_officer_id=officer.id,
        action="evidence.add",
        entity="criterion",
        entity_id=criterion.id,
        old=None,
        new={"evidence_id": row.id, "sha256": sha256, "path": row.storage_path, "size": size},
        at=now,
    )
    officer.last_activity_at = now
    await session.flush()
    return await _result(session, row, duplicate=False)


async def _restore(
    session: AsyncSession, evidence: Evidence, *, officer: Officer, actor: str | None, now: datetime
) -> EvidenceResult:
    withdrawn = evidence.withdrawn_at
    evidence.withdrawn_at = None
    audit(
        session,
        unit_id=evidence.unit_id,
        actor=actor or await actor_on(session, officer=officer, channel="telegram"),
        actor_officer_id=officer.id,
        action="evidence.restore",
        entity="criterion",
        entity_id=evidence.criterion_id,
        old={
            "evidence_id": evidence.id,
            "withdrawn_at": withdrawn.isoformat() if withdrawn else None,
        },
        new={"evidence_id": evidence.id, "withdrawn_at": None},
        at=now,
    )
    await session.flush()
    return await _result(session, evidence, duplicate=False)


async def _result(session: AsyncSession, evidence: Evidence, *, duplicate: bool) -> EvidenceResult:
    count = await evidence_count(session, criterion_id=evidence.criterion_id)
    return EvidenceResult(evidence=evidence, duplicate=duplicate, count=count)
