"""Signed, expiring links to files: the summary chart and spreadsheet, the evidence pack, one
evidence file. The chat side calls one of the ``*_link`` functions and sends the URL.

A link is ``<PUBLIC_BASE_URL>/f/<payload>.<tag>``. The payload says what the link points to
and until when (``kind:unit:ref…:expires`` in base64url); the tag is an HMAC-SHA256 of it
under a key derived from WEB_SECRET. The standard library is enough for that, and an
explicit ``now`` lets the tests drive the clock (itsdangerous reads ``time.time()`` itself).

Nothing about a link is stored, so it can be opened again and again until it expires (chat
apps fetch a link for its preview before the user taps it), and what it points to is looked
up each time it is opened (web/files.py): a deleted unit or evidence row gives 404.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bot.settings import Settings

SUMMARY_TTL = timedelta(days=7)
FILE_TTL = timedelta(hours=24)  # the evidence pack and single evidence files
LINK_PATH = "f"

CHART, WORKBOOK, PACK, EVIDENCE = "chart", "xlsx", "pack", "evidence"
KINDS = frozenset({CHART, WORKBOOK, PACK, EVIDENCE})
PACKS_DIR = ".packs"  # under EVIDENCE_DIR: packs written for a link, removed after FILE_TTL
PACK_NAME = re.compile(r"[0-9a-f]{32}\.zip")
_TAG_BYTES = 16  # 128 bits: forging one is out of reach, and the URL stays short
_PART = re.compile(r"[0-9A-Za-z_.-]+")


class LinkInvalid(Exception):
    """Not a link we signed (tampered, truncated or made up)."""


class LinkExpired(Exception):
    """A link we signed, past its expiry."""


@dataclass(frozen=True)
class Target:
    """What a link points to: a kind, the unit, references of that kind, and the expiry."""

    kind: str
    unit_id: int
    refs: tuple[str, ...]
    expires: datetime


# ---------------------------------------------------------------- making links


def summary_chart_link(settings: Settings, *, unit_id: int, as_of: date, now: datetime) -> str:
    """The weekly summary's PNG chart as of the end of ``as_of``, valid 7 days."""
    return _link(settings, CHART, unit_id, (as_of.isoformat(),), now + SUMMARY_TTL)


def summary_xlsx_link(settings: Settings, *, unit_id: int, as_of: date, now: datetime) -> str:
    """The weekly summary's spreadsheet as of the end of ``as_of``, valid 7 days."""
    return _link(settings, WORKBOOK, unit_id, (as_of.isoformat(),), now + SUMMARY_TTL)


def evidence_file_link(settings: Settings, *, unit_id: int, evidence_id: int, now: datetime) -> str:
    """One evidence file, valid 24 hours."""
    return _link(settings, EVIDENCE, unit_id, (str(evidence_id),), now + FILE_TTL)


def new_pack_path(settings: Settings, *, now: datetime) -> Path:
    """Where to write an evidence pack that :func:`evidence_pack_link` will serve.

    Packs are too big to build again on every open, so they are written once
    under ``EVIDENCE_DIR/.packs/`` with an unguessable name; each call first
    removes the packs whose links have all expired.
    """
    folder = settings.evidence_dir / PACKS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    remove_expired_packs(folder, now=now)
    return folder / f"{secrets.token_hex(16)}.zip"


def evidence_pack_link(
    settings: Settings, *, unit_id: int, year: int, pack: Path, now: datetime
) -> str:
    """The pack written at ``pack`` (from :func:`new_pack_path`), valid 24 hours."""
    if not PACK_NAME.fullmatch(pack.name) or pack.parent != settings.evidence_dir / PACKS_DIR:
        raise ValueError("the pack must be written at a path from new_pack_path()")
    return _link(settings, PACK, unit_id, (str(year), pack.name), now + FILE_TTL)


def remove_expired_packs(folder: Path, *, now: datetime) -> None:
    """Delete the packs written more than FILE_TTL ago (their links have expired)."""
    cutoff = (now - FILE_TTL).timestamp()
    for path in folder.glob("*.zip"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:
            pass  # another process swept it first


# ---------------------------------------------------------------- signing


def _key(settings: Settings) -> bytes:
    # A key of its own, derived from WEB_SECRET, so a link tag can never serve as a webhook secret.
    if settings.web_secret is None:
        raise ValueError("WEB_SECRET is not set: file links cannot be signed")
    secret = settings.web_secret.get_secret_value().encode()
    return hmac.new(secret, b"dondoc file links", hashlib.sha256).digest()


def _tag(settings: Settings, payload: bytes) -> bytes:
    return hmac.new(_key(settings), payload, hashlib.sha256).digest()[:_TAG_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(settings: Settings, target: Target) -> str:
    """The token of a link: ``<payload>.<tag>``, URL-safe."""
    parts = (target.kind, str(target.unit_id), *target.refs, str(int(target.expires.timestamp())))
    if target.kind not in KINDS or not all(_PART.fullmatch(part) for part in parts):
        raise ValueError(f"cannot sign a link with parts {parts!r}")
    payload = ":".join(parts).encode("ascii")
    return f"{_b64(payload)}.{_b64(_tag(settings, payload))}"


def _link(
    settings: Settings, kind: str, unit_id: int, refs: tuple[str, ...], expires: datetime
) -> str:
    if settings.base_url is None:
        raise ValueError("PUBLIC_BASE_URL is not set: there is no web server to link to")
    token = sign(settings, Target(kind, unit_id, refs, expires))
    return f"{settings.base_url}/{LINK_PATH}/{token}"


def read_token(settings: Settings, token: str, *, now: datetime) -> Target:
    """What a token points to; LinkInvalid unless we signed it, LinkExpired once past its time.

    The tag is checked first, in constant time, so an altered expiry is invalid, not expired.
    """
    payload_text, dot, tag_text = token.partition(".")
    try:
        payload, tag = _unb64(payload_text), _unb64(tag_text)
    except (binascii.Error, ValueError) as exc:
        raise LinkInvalid from exc
    if not dot or not hmac.compare_digest(tag, _tag(settings, payload)):
        raise LinkInvalid
    kind, unit_id, *refs, expires = payload.decode("ascii").split(":")
    target = Target(kind, int(unit_id), tuple(refs), datetime.fromtimestamp(int(expires), UTC))
    if now >= target.expires:
        raise LinkExpired
    return target
