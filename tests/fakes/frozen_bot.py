"""Run the bot's command line at a chosen moment: ``python -m tests.fakes.frozen_bot --at
2024-03-13T08:00:00+07:00 -- run``.

The clock starts at ``--at`` and then runs on at the normal pace (time-machine's ``tick=True``),
so the bot's wall clock (``datetime.now``, ``time.time``), APScheduler's triggers and the
claims' timestamps all live on that day. ``time.monotonic`` is left alone, so asyncio's event
loop, timeouts and the sender's pacing work as usual. Everything after ``--`` is handed to
``python -m bot``; the exit code is the bot's.

``--since T`` (a ``time.time()`` of the caller) makes the clock start at ``--at`` plus the
seconds since T instead: processes started one after another (each taking its own time to
import) then read one clock, as processes on one machine do, which the shared send budget
relies on.

For fault tests that run the bot as a subprocess on a given workday (a test must not depend
on the weekday it happens to run on).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

import time_machine

from bot.cli import main as bot_main


def _moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("--at needs a UTC offset, e.g. 2024-03-13T08:00:00+07:00")
    return moment


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    split = args.index("--") if "--" in args else len(args)
    own, bot_args = args[:split], args[split + 1 :]
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.frozen_bot",
        description="Run `python -m bot ARGS` with the clock starting at --at.",
    )
    parser.add_argument("--at", required=True, type=_moment, help="ISO moment with UTC offset")
    parser.add_argument("--since", type=float, help="the caller's time.time(): --at is then")
    options = parser.parse_args(own)
    if not bot_args:
        parser.error("give the bot's arguments after --, e.g. -- run")

    start = options.at
    if options.since is not None:
        start += timedelta(seconds=time.time() - options.since)
    with time_machine.travel(start, tick=True):
        # time-machine starts the clock ticking at the first reading, not at travel(): read
        # it now, or each process's clock would lag by its own start-up time (processes
        # sharing a send budget were measured 0.1 to 0.7 s apart).
        time.time()
        return bot_main(bot_args)


if __name__ == "__main__":
    sys.exit(main())
