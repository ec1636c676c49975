"""dondoc's own YAML plan format, for plans typed by hand and for the converted seeds.

The format is documented in README.md ("The YAML plan format"). In short:
texts as written (``lead``, ``support``, ``deadline``) are always allowed and
are mapped and parsed exactly as in a document; derived values (``leads``,
``supports``, ``due_dates``, ``recurrence``, ``milestones``) are optional and,
when present, are taken as they are. ``parent`` may be left out: it follows
from the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import yaml

from core import limits
from core.deadlines import parse_deadline
from core.plan_model import (
    RECURRENCES,
    Milestone,
    ParsedCriterion,
    ParsedPlan,
    ParseWarning,
    PlanParseError,
)
from core.positions import PositionCatalogue, default_catalogue, unmapped_message
from core.text import ROMAN_CODE, nfc, one_line, roman_to_int

FORMAT_VERSION = 1
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def load_yaml_plan(text: str, *, catalogue: PositionCatalogue | None = None) -> ParsedPlan:
    try:
        data = yaml.safe_load(nfc(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (dòng {mark.line + 1})" if mark is not None else ""
        raise PlanParseError(f"Tệp YAML bị lỗi cú pháp{where}.") from None
    except ValueError as exc:
        # PyYAML builds dates itself and raises ValueError for 2024-13-01.
        raise PlanParseError(f"Tệp YAML có ngày không hợp lệ: {exc}.") from None
    if not isinstance(data, dict) or "dondoc_plan" not in data:
        raise PlanParseError("Tệp YAML không phải kế hoạch dondoc: thiếu khóa 'dondoc_plan'.")
    if data["dondoc_plan"] != FORMAT_VERSION:
        version = _scalar(data["dondoc_plan"], "dondoc_plan")
        raise PlanParseError(f"Phiên bản định dạng {version!r} chưa được hỗ trợ.")
    entries = data.get("criteria")
    if not isinstance(entries, list) or not entries:
        raise PlanParseError("Kế hoạch YAML cần danh sách 'criteria' có ít nhất một mục.")
    limits.check_criteria_count(len(entries))
    year = _optional_int(data.get("year"), "year")
    period = _period(data.get("period"), year)
    reader = _YamlReader((catalogue or default_catalogue()).for_year(year), year, period)
    criteria = [reader.criterion(number, entry) for number, entry in enumerate(entries, 1)]
    _link_parents(criteria)
    plan = ParsedPlan(
        unit=_optional_str(data.get("unit"), "unit"),
        year=year,
        period=period,
        criteria=criteria,
        warnings=reader.warnings,
        title=_optional_str(data.get("title"), "title"),
        source_format="yaml",
    )
    limits.check_plan(plan)
    return plan


@dataclass
class _YamlReader:
    catalogue: PositionCatalogue
    year: int | None
    period: tuple[int, int] | None

    def __post_init__(self) -> None:
        self.warnings: list[ParseWarning] = []
        self.seen: dict[tuple[str, str], int] = {}

    def criterion(self, number: int, entry: object) -> ParsedCriterion:
        if not isinstance(entry, dict):
            raise PlanParseError(f"Mục thứ {number} trong 'criteria' phải là một bảng khóa.")
        code = _required_str(entry, "code", number)
        limits.check_code(code, where=f"Mục thứ {number}")
        index = _required_str(entry, "index", number).upper()
        limits.check_index_name(index, where=f"Mục thứ {number}")
        occurrence = self.seen.get((index, code), 0) + 1
        self.seen[(index, code)] = occurrence
        if occurrence > 1:
            self.warn(index, code, f"mã lặp lại (mục thứ {number}); giữ cả hai mục.", number)
        criterion = ParsedCriterion(
            index=index,
            code=code,
            parent=_optional_str(entry.get("parent"), "parent", number),
            title=_required_str(entry, "title", number),
            max_points=_optional_float(entry.get("max_points"), number),
            target_points=_optional_float(entry.get("target_points"), number),
            requirement=_optional_str(entry.get("requirement"), "requirement", number),
            task=_optional_str(entry.get("task"), "task", number),
            lead_text=_optional_str(entry.get("lead"), "lead", number),
            support_text=_optional_str(entry.get("support"), "support", number),
            deadline_text=_optional_str(entry.get("deadline"), "deadline", number),
            line_no=number,
            occurrence=occurrence,
            synthetic_code=bool(entry.get("synthetic_code", False)),
        )
        self._owners(criterion, entry, number)
        self._dates(criterion, entry, number)
        return criterion

    def warn(self, index: str, code: str, message: str, number: int) -> None:
        # Named by the item's code, as the document parser does: that is what the admin
        # searches for in the file, not the item's position in the list.
        text = f"Mục {index} {code}: {message}"
        self.warnings.append(ParseWarning(code=code, message=text, line_no=number))

    def _owners(self, criterion: ParsedCriterion, entry: dict[str, Any], number: int) -> None:
        for field_name, text in (
            ("leads", criterion.lead_text),
            ("supports", criterion.support_text),
        ):
            match = self.catalogue.match(text)
            # Unmapped pieces are reported from the text even when codes are given,
            # so a converted plan still asks the admin to map "Truyền thanh".
            for written in match.unmapped:
                what = "chủ trì" if field_name == "leads" else "phối hợp"
                message = unmapped_message(what, written, text or written)
                self.warn(criterion.index, criterion.code, message, number)
                unmapped = (
                    criterion.unmapped_leads
                    if field_name == "leads"
                    else criterion.unmapped_supports
                )
                unmapped.append(written)
            explicit = entry.get(field_name)
            if explicit is not None:
                setattr(criterion, field_name, self._codes(explicit, number, field_name))
            else:
                setattr(criterion, field_name, list(match.codes))
        criterion.supports = [c for c in criterion.supports if c not in criterion.leads]

    def _codes(self, value: object, number: int, field_name: str) -> list[str]:
        if not isinstance(value, list):
            raise PlanParseError(f"Mục thứ {number}: '{field_name}' phải là một danh sách mã.")
        codes = [_scalar(code, field_name).strip().upper() for code in value]
        unknown = [code for code in codes if code not in self.catalogue.positions]
        if unknown:
            raise PlanParseError(
                f"Mục thứ {number}: mã vị trí không có trong danh mục: {', '.join(unknown)}."
            )
        return codes

    def _dates(self, criterion: ParsedCriterion, entry: dict[str, Any], number: int) -> None:
        explicit = entry.get("due_dates")
        recurrence = entry.get("recurrence")
        if recurrence is not None and recurrence not in RECURRENCES:
            raise PlanParseError(
                f"Mục thứ {number}: 'recurrence' phải là một trong {', '.join(RECURRENCES)}."
            )
        if explicit is not None:
            if not isinstance(explicit, list):
                raise PlanParseError(
                    f"Mục thứ {number}: 'due_dates' phải là một danh sách ngày, ví dụ [2024-09-30]."
                )
            criterion.due_dates = sorted({_date(value, number) for value in explicit})
            criterion.recurrence = recurrence
        elif criterion.deadline_text:
            result = parse_deadline(criterion.deadline_text, year=self.year, period=self.period)
            criterion.due_dates = list(result.due_dates)
            criterion.recurrence = recurrence or result.recurrence
            for message in result.warnings:
                self.warn(criterion.index, criterion.code, message, number)
        elif self.year is not None:
            criterion.due_dates = [date(self.year, 12, 31)]
        criterion.milestones = self._milestones(criterion, entry.get("milestones"), number)

    def _milestones(
        self, criterion: ParsedCriterion, value: object, number: int
    ) -> list[Milestone]:
        if value is None:
            return [Milestone(due_date=d, leads=list(criterion.leads)) for d in criterion.due_dates]
        if not isinstance(value, list):
            raise PlanParseError(f"Mục thứ {number}: 'milestones' phải là một danh sách.")
        milestones = []
        for item in value:
            if not isinstance(item, dict) or "due" not in item:
                raise PlanParseError(f"Mục thứ {number}: mỗi mốc cần có 'due' (YYYY-MM-DD).")
            milestones.append(
                Milestone(
                    due_date=_date(item["due"], number),
                    label=_optional_str(item.get("label"), "label", number),
                    leads=self._codes(item.get("leads", []), number, "milestones.leads"),
                )
            )
        return sorted(milestones, key=lambda milestone: milestone.due_date)


def _link_parents(criteria: list[ParsedCriterion]) -> None:
    """Fill in parents left out, from the code: "7.2.6.1" under "7.2.6", "1.1" under "I".

    Linear in the number of criteria: codes are at most a few levels deep
    (core.limits), and Roman areas are looked up by value, not by scanning.
    """
    known: dict[str, set[str]] = {}
    romans: dict[str, dict[int, str]] = {}
    for criterion in criteria:
        codes = known.setdefault(criterion.index, set())
        areas = romans.setdefault(criterion.index, {})
        if criterion.parent is None and not criterion.synthetic_code:
            criterion.parent = _parent_from_code(criterion.code, codes, areas)
        codes.add(criterion.code)
        value = roman_to_int(criterion.code)
        if value is not None:
            areas.setdefault(value, criterion.code)


def _parent_from_code(code: str, known: set[str], romans: dict[int, str]) -> str | None:
    parts = code.split(".")
    for length in range(len(parts) - 1, 0, -1):
        candidate = ".".join(parts[:length])
        if candidate in known:
            return candidate
    if len(parts) > 1 and parts[0].isascii() and parts[0].isdigit():
        return romans.get(int(parts[0]))
    return None


def dump_yaml_plan(plan: ParsedPlan) -> str:
    """Write a ParsedPlan as YAML, with every derived value explicit."""
    document: dict[str, Any] = {
        "dondoc_plan": FORMAT_VERSION,
        "unit": plan.unit,
        "year": plan.year,
        "period": list(plan.period) if plan.period else None,
        "title": plan.title,
        "criteria": [_criterion_yaml(criterion) for criterion in plan.criteria],
    }
    header = (
        "# Kế hoạch dondoc (định dạng YAML, phiên bản 1). Xem README.md, mục\n"
        "# 'The YAML plan format'. Mã (code) luôn đặt trong dấu nháy: \"2.10\".\n"
    )
    return header + yaml.dump(
        document, Dumper=_PlanDumper, allow_unicode=True, sort_keys=False, width=100
    )


class _PlanDumper(yaml.SafeDumper):
    """Short lists of plain values inline (``leads: [VPTK, TPHT]``), the rest as blocks."""


def _represent_list(dumper: yaml.SafeDumper, items: list[Any]) -> yaml.Node:
    inline = all(not isinstance(item, dict | list) for item in items)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=inline)


_PlanDumper.add_representer(list, _represent_list)


def _criterion_yaml(criterion: ParsedCriterion) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "index": criterion.index,
        "code": criterion.code,
        "parent": criterion.parent,
        "title": criterion.title,
    }
    optional: dict[str, Any] = {
        "synthetic_code": criterion.synthetic_code or None,
        "max_points": criterion.max_points,
        "target_points": criterion.target_points,
        "requirement": criterion.requirement,
        "task": criterion.task,
        "lead": criterion.lead_text,
        "support": criterion.support_text,
        "deadline": criterion.deadline_text,
    }
    entry.update({key: value for key, value in optional.items() if value is not None})
    entry["leads"] = list(criterion.leads)
    entry["supports"] = list(criterion.supports)
    entry["due_dates"] = [day.isoformat() for day in criterion.due_dates]
    if criterion.recurrence:
        entry["recurrence"] = criterion.recurrence
    if _milestones_differ(criterion):
        entry["milestones"] = [
            {"due": m.due_date.isoformat(), "label": m.label, "leads": list(m.leads)}
            for m in criterion.milestones
        ]
    return entry


def _milestones_differ(criterion: ParsedCriterion) -> bool:
    """Milestones are written only when they say more than the due dates do."""
    plain = [Milestone(due_date=d, leads=list(criterion.leads)) for d in criterion.due_dates]
    return criterion.milestones != plain


def _scalar(value: object, key: str, number: int | None = None) -> str:
    """The text of a scalar. A list or mapping where a text belongs is refused before str():
    an alias bomb (a 600-byte list of lists of lists) would print as gigabytes."""
    if isinstance(value, list | dict | set | tuple):
        where = f"Mục thứ {number}: " if number is not None else ""
        raise PlanParseError(f"{where}'{key}' phải là một giá trị đơn, không phải danh sách.")
    return str(value)


def _required_str(entry: dict[str, Any], key: str, number: int) -> str:
    value = entry.get(key)
    if value is None or not _scalar(value, key, number).strip():
        raise PlanParseError(f"Mục thứ {number} trong 'criteria' thiếu '{key}'.")
    text = one_line(nfc(str(value)))
    return text.rstrip(".") if key == "code" and not ROMAN_CODE.match(text) else text


def _optional_str(value: object, key: str = "", number: int | None = None) -> str | None:
    if value is None:
        return None
    text = nfc(_scalar(value, key or "giá trị", number)).strip()
    return text or None


def _optional_int(value: object, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1900 <= value <= 2100:
        raise PlanParseError(f"'{key}' phải là một năm, ví dụ 2024.")
    return value


def _optional_float(value: object, number: int) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise PlanParseError(f"Mục thứ {number}: điểm phải là số.")
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(_scalar(value, "điểm", number).replace(",", "."))
    except ValueError:
        raise PlanParseError(f"Mục thứ {number}: điểm {value!r} không phải là số.") from None


def _period(value: object, year: int | None) -> tuple[int, int] | None:
    if value is None:
        return (year, year) if year is not None else None
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        and limits.period_ok(value[0], value[1])
    ):
        return (value[0], value[1])
    # The document reader's rule: a period is at most ten years long ("giai đoạn 2021–2025").
    raise PlanParseError(
        "'period' phải có dạng [năm đầu, năm cuối], dài không quá "
        f"{limits.MAX_PERIOD_YEARS} năm, ví dụ [2023, 2025]."
    )


def _date(value: object, number: int) -> date:
    if isinstance(value, date):
        return value
    match = _DATE.match(_scalar(value, "ngày", number).strip())
    if match:
        try:
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            pass
    raise PlanParseError(f"Mục thứ {number}: ngày {value!r} không hợp lệ (cần YYYY-MM-DD).")
