"""Reading a plan file of any supported format into a ParsedPlan."""

from __future__ import annotations

from core.plan_model import ParsedPlan, PlanParseError
from core.plan_parser import parse_document
from core.plan_reader import detect_format, read_document
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
    if detect_format(data, filename) == "yaml":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise PlanParseError("Tệp YAML phải được lưu ở bảng mã UTF-8.") from None
        return load_yaml_plan(text, catalogue=catalogue)
    document = read_document(data, filename=filename)
    return parse_document(document, catalogue=catalogue)
