"""Reading a plan file of any supported format into a ParsedPlan."""

from __future__ import annotations

import asyncio

from core.plan_checks import finish_plan
from core.plan_model import ParsedPlan, PlanParseError
from core.plan_parser import parse_document
from core.plan_reader import read_source
from core.plan_yaml import load_yaml_plan
from core.positions import PositionCatalogue

MAX_PLAN_BYTES = 20 * 1024 * 1024


def parse_plan_file(
    data: bytes, *, filename: str | None = None, catalogue: PositionCatalogue | None = None
) -> ParsedPlan:
    """Parse a plan document (.txt/.tsv, .docx, .xlsx, .csv or dondoc YAML).

    The format is recognised from the content. Raises PlanParseError, with a
    Vietnamese message saying why, for anything that is not a plan.
    """
    if len(data) > MAX_PLAN_BYTES:
        raise PlanParseError("Tệp quá lớn (trên 20 MB); kế hoạch thường chỉ vài trăm KB.")
    source = read_source(data, filename=filename)
    if isinstance(source, str):
        return finish_plan(load_yaml_plan(source, catalogue=catalogue))
    return finish_plan(parse_document(source, catalogue=catalogue))


async def parse_plan_file_async(
    data: bytes, *, filename: str | None = None, catalogue: PositionCatalogue | None = None
) -> ParsedPlan:
    """parse_plan_file in a worker thread, so that other users are answered meanwhile."""
    return await asyncio.to_thread(parse_plan_file, data, filename=filename, catalogue=catalogue)
