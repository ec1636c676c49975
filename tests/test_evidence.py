"""Evidence files: where they go, duplicates, the size limit, streamed hashing."""

from __future__ import annotations

import hashlib
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.evidence import (
    MAX_EVIDENCE_BYTES,
    EvidenceError,
    EvidenceResult,
    evidence_count,
    extension,
    file_sha256,
    find_duplicate,
    new_incoming_path,
    safe_part,
    store_evidence,
)
from core.officers import add_officer
from core.plan_store import find_unit, import_plan
from storage.models import AuditLog, Criterion, Evidence, Officer
from tests.seed_files import PHUONG6, parsed_seed

NOW = datetime(2023, 10, 2, 8, 15, tzinfo=UTC)
PHOTO = b"\xff\xd8\xff\xe0 a photo of the notice board"


@pytest.fixture
async def world(session: AsyncSession) -> tuple[Officer, dict[str, Criterion]]:
    await import_plan(
        session,
        unit_name="Phường 6",
        plan=parsed_seed(PHUONG6),
        source_name=PHUONG6,
        source_sha256=None,
        actor="t",
    )
    unit = await find_unit(session, name="Phường 6")
    assert unit is not None
    officer, _ = await add_officer(
        session, unit=unit, name="Vũ Văn Phòng", positions=["VPTK"], telegram_id=31, actor="t"
    )
    rows = await session.scalars(select(Criterion).where(Criterion.index_name == "PAR"))
    return officer, {row.code: row for row in rows}


def incoming(evidence_dir: Path, content: bytes) -> Path:
    path = new_incoming_path(evidence_dir)
    path.write_bytes(content)
    return path


async def store(
    session: AsyncSession,
    officer: Officer,
    criterion: Criterion,
    source: Path,
    evidence_dir: Path,
    *,
    file_unique_id: str | None = "uniq-1",
    mime: str | None = "image/jpeg",
    original_name: str | None = None,
) -> EvidenceResult:
    return await store_evidence(
        session,
        officer=officer,
        criterion=criterion,
        source=source,
        file_unique_id=file_unique_id,
        mime=mime,
        original_name=original_name,
        caption="3.1.3 bảng niêm yết",
        source_update_id="900",
        evidence_dir=evidence_dir,
        now=NOW,
    )


def stored_files(evidence_dir: Path) -> list[str]:
    return sorted(
        p.relative_to(evidence_dir).as_posix()
        for p in evidence_dir.rglob("*")
        if p.is_file() and ".incoming" not in p.parts
    )


async def evidence_rows(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Evidence)) or 0)


async def test_a_file_is_stored_under_unit_index_code_and_hash(
    session: AsyncSession, world: tuple[Officer, dict[str, Criterion]], tmp_path: Path
) -> None:
    officer, rows = world
    evidence_dir = tmp_path / "evidence"
    source = incoming(evidence_dir, PHOTO)
    assert source.parent == evidence_dir / ".incoming"
    result = await store(session, officer, rows["7.2.9.a"], source, evidence_dir)
    await session.commit()
    digest = hashlib.sha256(PHOTO).hexdigest()
    expected = f"{rows['7.2.9.a'].unit_id}/PAR/7.2.9.a/{digest}.jpg"
    assert not result.duplicate and result.count == 1
    assert stored_files(evidence_dir) == [expected]
    assert (evidence_dir / expected).read_bytes() == PHOTO
    assert not source.exists()
    row = result.evidence
    assert (row.storage_path, row.sha256, row.size_bytes, row.mime) == (
        expected,
        digest,
        len(PHOTO),
        "image/jpeg",
    )
    assert (row.officer_id, row.caption, row.source_update_id, row.created_at) == (
        officer.id,
        "3.1.3 bảng niêm yết",
        "900",
        NOW,
    )
    assert officer.last_activity_at == NOW
    audit = await session.scalar(select(AuditLog).where(AuditLog.action == "evidence.add"))
    assert audit is not None and audit.actor == "telegram:31"
    assert audit.new is not None and audit.new["path"] == expected
    assert audit.entity_id == rows["7.2.9.a"].id


async def test_the_same_content_twice_is_stored_once(
    session: AsyncSession, world: tuple[Officer, dict[str, Criterion]], tmp_path: Path
) -> None:
    officer, rows = world
    evidence_dir = tmp_path / "evidence"
    first = await store(session, officer, rows["1.1"], incoming(evidence_dir, PHOTO), evidence_dir)
    resend = incoming(evidence_dir, PHOTO)
    again = await store(
        session, officer, rows["1.1"], resend, evidence_dir, file_unique_id="uniq-other"
    )
    assert again.duplicate and again.count == 1
    assert again.evidence.id == first.evidence.id
    assert not resend.exists() and len(stored_files(evidence_dir)) == 1
    elsewhere = await store(
        session, officer, rows["1.2"], incoming(evidence_dir, PHOTO), evidence_dir
    )
    assert not elsewhere.duplicate
    assert await evidence_rows(session) == 2


async def test_the_same_telegram_file_twice_is_stored_once(
    session: AsyncSession, world: tuple[Officer, dict[str, Criterion]], tmp_path: Path
) -> None:
    officer, rows = world
    evidence_dir = tmp_path / "evidence"
    await store(session, officer, rows["1.1"], incoming(evidence_dir, PHOTO), evidence_dir)
    # Same file_unique_id, other bytes: Telegram re-encoded the same photo.
    again = await store(
        session, officer, rows["1.1"], incoming(evidence_dir, PHOTO + b"!"), evidence_dir
    )
    assert again.duplicate and await evidence_rows(session) == 1
    found = await find_duplicate(session, criterion_id=rows["1.1"].id, file_unique_id="uniq-1")
    assert found is not None
    assert await find_duplicate(session, criterion_id=rows["1.1"].id) is None
    assert await evidence_count(session, criterion_id=rows["1.1"].id) == 1


async def test_a_file_over_20_mb_is_refused_and_nothing_is_kept(
    session: AsyncSession, world: tuple[Officer, dict[str, Criterion]], tmp_path: Path
) -> None:
    officer, rows = world
    evidence_dir = tmp_path / "evidence"
    source = new_incoming_path(evidence_dir)
    with source.open("wb") as handle:
        handle.truncate(MAX_EVIDENCE_BYTES + 1)  # sparse: no disk space used
    with pytest.raises(EvidenceError, match="20 MB"):
        await store(session, officer, rows["1.1"], source, evidence_dir)
    assert not source.exists()
    assert stored_files(evidence_dir) == [] and await evidence_rows(session) == 0
    assert await session.scalar(select(AuditLog).where(AuditLog.action == "evidence.add")) is None


def test_hashing_streams_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    with path.open("wb") as handle:
        handle.truncate(16 * 1024 * 1024)
        handle.write(b"head")
    tracemalloc.start()
    try:
        digest, size = file_sha256(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == 16 * 1024 * 1024
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert peak < 4 * 1024 * 1024  # a 16 MB file never sits in memory whole
    with pytest.raises(EvidenceError):  # a file that grows past the limit while read
        file_sha256(path, limit=1024 * 1024)


def test_path_parts_and_extensions() -> None:
    assert safe_part("7.2.9.a") == "7.2.9.a"
    assert safe_part("..") == "_" and safe_part("../etc") == "_etc"
    assert safe_part("a/b\\c") == "a_b_c" and safe_part("") == "_"
    assert extension("Biên bản.PDF", None) == ".pdf"
    assert extension(None, "image/jpeg") == ".jpg"
    assert extension("no-extension", "application/pdf") == ".pdf"
    assert extension("weird.name with space", None) == ""
    assert extension(None, "application/x-unknown-thing") == ""
    assert extension(None, None) == ""


async def test_officers_cannot_attach_to_another_units_item(
    session: AsyncSession, world: tuple[Officer, dict[str, Criterion]], tmp_path: Path
) -> None:
    _, rows = world
    evidence_dir = tmp_path / "evidence"
    outsider = Officer(unit_id=999, name="X", name_key="x", positions=[], roles=[])
    source = incoming(evidence_dir, PHOTO)
    with pytest.raises(EvidenceError):
        await store(session, outsider, rows["1.1"], source, evidence_dir)
    assert not source.exists() and stored_files(evidence_dir) == []


@pytest.mark.parametrize(
    ("name", "content", "stored_as"),
    [
        ("\u202efdp.exe", b"MZ\x90\x00 a program", ".bin"),  # reads "exe.pdf" on screen
        ("foo.PDF\x00.exe", b"%PDF-1.7 a real report", ".pdf"),
        ("..\\..\\win.ini", b"[fonts]\r\n", ".bin"),
        ("bao-cao.pdf", b"MZ\x90\x00 a program named .pdf", ".bin"),
        ("bien-ban.docx", b"PK\x03\x04 a Word file", ".docx"),
        ("anh.jpeg", PHOTO, ".jpeg"),
    ],
)
async def test_a_file_is_stored_under_what_its_content_is(
    session: AsyncSession,
    world: tuple[Officer, dict[str, Criterion]],
    tmp_path: Path,
    name: str,
    content: bytes,
    stored_as: str,
) -> None:
    officer, items = world
    result = await store(
        session,
        officer,
        items["7.2.9.a"],
        incoming(tmp_path, content),
        tmp_path,
        mime="application/octet-stream",
        original_name=name,
    )
    path = result.evidence.storage_path
    assert Path(path).suffix == stored_as and Path(path).parent.name == "7.2.9.a"
    assert (tmp_path / path).read_bytes() == content
