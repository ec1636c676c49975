"""Command line of dondoc: ``python -m bot <command> …``.

Each area of the application registers its own subcommands from a module
listed in COMMAND_MODULES. Such a module exposes ``register(subparsers)``,
and each command it adds sets ``handler=`` to an async function
``async def handler(args: argparse.Namespace, settings: Settings) -> int``.
A command that touches the database calls ``bot.database.open_database``
first, which migrates the database to the newest schema.

Exit codes:
    0  success
    1  unexpected error (the traceback goes to the log)
    2  bad input: wrong arguments, a malformed file, an unknown code
    3  configuration error: a bad setting (the message names it)
    4  database unavailable
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, Protocol, cast

from sqlalchemy.exc import InterfaceError, OperationalError

from bot import cli_vietnamese
from bot.database import DatabaseUnavailable, unavailable
from bot.logging_setup import setup_logging
from bot.settings import Settings, SettingsError, load_settings
from core.plan_model import PlanParseError
from core.plan_store import UnitNameError

# Modules that add subcommands, each with register(subparsers).
# >>> Add new command modules here (e.g. "bot.cli_plan"). <<<
COMMAND_MODULES: list[str] = [
    "bot.cli_chat",
    "bot.cli_db",
    "bot.cli_officer",
    "bot.cli_plan",
    "bot.cli_run",
    "bot.cli_remind",
    "bot.cli_summary",
    "bot.cli_settings",
    "bot.cli_unit",
    "bot.cli_web",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_CONFIG = 3
EXIT_DB_UNAVAILABLE = 4

EPILOG = """\
mã thoát / exit codes:
  0  thành công / success
  1  lỗi không mong đợi / unexpected error
  2  dữ liệu vào sai / bad input (arguments, file)
  3  cấu hình sai / configuration error
  4  không kết nối được cơ sở dữ liệu / database unavailable
"""

Handler = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]
log = logging.getLogger(__name__)


class CommandError(Exception):
    """Bad input to a command: the message is shown to the user, nothing is changed."""

    def __init__(self, message: str, exit_code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def read_input_file(path: Path) -> bytes:
    """A file named on the command line, or a clear Vietnamese reason why not."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CommandError(f"Không tìm thấy tệp {path}.") from None
    except IsADirectoryError:
        raise CommandError(f"{path} là một thư mục, không phải tệp.") from None
    except OSError as exc:
        raise CommandError(f"Không đọc được tệp {path}: {exc.strerror}.") from None


def output_file(path: Path) -> Path:
    """A file named on the command line to be written: its folder must already exist.

    Creating folders from a mistyped path would scatter output where nobody looks.
    """
    if path.is_dir():
        raise CommandError(f"{path} là một thư mục; hãy ghi cả tên tệp.")
    if not path.parent.is_dir():
        raise CommandError(f"Không có thư mục {path.parent}; hãy tạo trước hoặc chọn nơi khác.")
    return path


class CommandModule(Protocol):
    def register(self, subparsers: argparse._SubParsersAction[Any]) -> None: ...


def build_parser() -> argparse.ArgumentParser:
    cli_vietnamese.install()
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="dondoc — nhắc việc và theo dõi kế hoạch cải cách hành chính.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="mức nhật ký (mặc định WARNING)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="<lệnh>")
    for name in COMMAND_MODULES:
        # A missing module is a packaging bug: let the ImportError surface.
        module = cast(CommandModule, importlib.import_module(name))
        module.register(subparsers)
    return parser


def _exit_code(code: object) -> int:
    if code is None:
        return EXIT_OK
    return code if isinstance(code, int) else EXIT_BAD_INPUT


def _fail(message: str, code: int) -> int:
    print(message, file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code; never calls sys.exit itself."""
    setup_logging(logging.WARNING)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has already printed
        return _exit_code(exc.code)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    try:
        settings = load_settings()
    except SettingsError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    setup_logging(args.log_level, settings.secret_values())
    return run_handler(handler, args, settings)


def _stdout_closed() -> int:
    """The reader of our output went away (``… | head``): stop quietly, as other tools do.

    Whatever is still buffered goes to /dev/null, or the interpreter's last flush
    at exit would raise again.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):  # stdout is not a real file
        sys.stdout = os.fdopen(devnull, "w")
    return EXIT_OK


def run_handler(handler: Handler, args: argparse.Namespace, settings: Settings) -> int:
    try:
        code = asyncio.run(handler(args, settings))
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        return _stdout_closed()
    except CommandError as exc:
        return _fail(str(exc), exc.exit_code)
    except (PlanParseError, UnitNameError) as exc:
        return _fail(str(exc), EXIT_BAD_INPUT)
    except SettingsError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    except DatabaseUnavailable as exc:
        return _fail(str(exc), EXIT_DB_UNAVAILABLE)
    except (OperationalError, InterfaceError) as exc:  # the database went away mid-command
        log.debug("database error in %s", args.command, exc_info=True)
        return _fail(str(unavailable(exc, settings.database_url)), EXIT_DB_UNAVAILABLE)
    except KeyboardInterrupt:
        return _fail("Đã dừng.", 130)
    except Exception as exc:
        log.exception("unexpected error in %s", args.command)
        return _fail(f"Lỗi không mong đợi: {type(exc).__name__}. Xem nhật ký.", EXIT_ERROR)
