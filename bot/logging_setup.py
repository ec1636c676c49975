"""Logging for every entry point, with secrets scrubbed from each record.

The bot token travels inside Bot API URLs (``…/bot<token>/getUpdates``), so
httpx request logs and network tracebacks would leak it; at DEBUG, PTB logs the
parameters of every call (setWebhook's secret_token) and every update (an
invite code in "/start <code>"). A filter on every root handler replaces the
configured secrets, anything shaped like a Telegram token and any invite code
before the record is written.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

TOKEN_PATTERN = re.compile(r"\d{6,}:[A-Za-z0-9_-]{30,}")
# An invite code links whoever holds it to an officer: in a deep link ("?start=<code>"),
# in the /start message that carries it ("/start <code>"), or in PTB's dump of an update.
INVITE_PATTERN = re.compile(r"((?:\?|&|\b)start=|/start(?:@\w+)?\s+)[A-Za-z0-9_-]{8,}")
# A code typed alone (a channel without deep links): a message text of a code's shape, as PTB
# dumps it ('text': 'abcd2345', "text":"ABCD-2345", text='abcd 2345').
TYPED_CODE_PATTERN = re.compile(
    r"""(\btext['"]?\s*[:=]\s*['"])[A-Za-z0-9]{4}[ -]?[A-Za-z0-9]{4}(?=['"])"""
)
REDACTED = "[REDACTED]"
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class SecretRedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self.add_secrets(secrets)

    def add_secrets(self, secrets: Iterable[str | None]) -> None:
        # Short strings would blank out ordinary words; real secrets are long.
        self._secrets.update(s for s in secrets if s and len(s) >= 8)

    def redact(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        text = TOKEN_PATTERN.sub(REDACTED, text)
        text = TYPED_CODE_PATTERN.sub(rf"\1{REDACTED}", text)
        return INVITE_PATTERN.sub(rf"\1{REDACTED}", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


_FILTER = SecretRedactingFilter()


def redacting_filter() -> SecretRedactingFilter:
    """The process-wide filter; attach it to any handler added after setup_logging()."""
    return _FILTER


def setup_logging(level: int | str = logging.INFO, secrets: Iterable[str | None] = ()) -> None:
    """Configure the root logger once and put the redacting filter on all its handlers."""
    root = logging.getLogger()
    if not root.handlers:
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(console)
    root.setLevel(level)
    for handler in root.handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
    _FILTER.add_secrets(secrets)
    # httpx logs every request URL at INFO, token included; WARNING is enough.
    logging.getLogger("httpx").setLevel(logging.WARNING)
