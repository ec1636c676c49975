"""Background database work: what the minute tick does, as opposed to answering someone.

A reminder fan-out writes a claim, a budget slot and an outcome for every message; a
person waiting for a reply should not queue behind a burst of them. On SQLite, where
this process's writers take turns (storage.sqlite_driver.WriterTurn), work marked
background here lets a reply's write go first and hands the event loop back between
its reads. PostgreSQL needs nothing of the kind: every query there is a real wait on
the network, and writers wait only on the rows they share.

The mark is a context variable, so the tasks a background task starts are background
too (asyncio copies the context into each new task).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_background: ContextVar[bool] = ContextVar("dondoc_background_work", default=False)


@contextmanager
def background_work() -> Iterator[None]:
    """Mark the database work done inside (and in the tasks started inside) as background."""
    token = _background.set(True)
    try:
        yield
    finally:
        _background.reset(token)


def in_background() -> bool:
    return _background.get()
