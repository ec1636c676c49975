"""From a Document to a ParsedPlan: criteria with codes, parents, points, owners and deadlines.

The rules below come from reading real plans (see shared/seeds/README.md):

* A row with a number starts an item. A row without one is either the rest of
  the previous row carried over a page break (its title is empty or starts in
  lower case) or an item the document forgot to number, which gets a made-up
  code (``7.2.9.a``) and a warning.
* A merged cell is filled on its first row only. Lead, support and deadline
  cells left blank under it inherit the value above, within the same area,
  for leaf items (headings keep their own, usually empty, cells).
* Codes lose markup and trailing dots; Roman areas stay Roman ("I", "VIII").
  A code that repeats is kept and warned about; its items stay distinct.
* In a task/activity plan (Sông Cầu), each numbered task is a criterion and
  its activity rows are its milestones, each with its own lead and deadline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from core import limits
from core.deadlines import DeadlineResult, parse_deadline
from core.plan_meta import PlanMeta, detect_index, read_plan_meta
from core.plan_model import (
    Document,
    Milestone,
    ParsedCriterion,
    ParsedPlan,
    ParseWarning,
    PlanParseError,
)
from core.plan_tables import DataRow, PlanTable, find_tables
from core.positions import PositionCatalogue, default_catalogue, unmapped_message
from core.text import (
    ROMAN_CODE,
    fold,
    is_all_caps,
    join_text,
    one_line,
    parse_decimal,
    roman_to_int,
    starts_lowercase,
)

_OWNER_ROLES = ("lead", "support", "deadline")
_TEXT_ROLES = ("title", "task", "goal", "requirement", "activity", "output", *_OWNER_ROLES)
_POINT_ROLES = ("max_points", "target_points")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass
class _Activity:
    line_no: int
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class _Item:
    """A criterion while it is being assembled from one or more rows."""

    index: str
    code: str | None
    line_no: int
    fields: dict[str, str] = field(default_factory=dict)
    own: dict[str, str] = field(default_factory=dict)  # cells as written, before fill-down
    activities: list[_Activity] = field(default_factory=list)
    parent: _Item | None = None
    children: list[_Item] = field(default_factory=list)
    occurrence: int = 1
    synthetic: bool = False
    deadline_column: bool = True  # False: the plan has no deadline column at all

    @property
    def is_area(self) -> bool:
        return self.code is not None and self.parent is None

    @property
    def looks_like_heading(self) -> bool:
        return not any(self.own.get(role) for role in ("lead", "requirement", "deadline"))


def normalize_code(raw: str) -> str | None:
    """ "<b>2.1.</b>" -> "2.1", "VIII." -> "VIII"; None when the cell is not a code."""
    text = one_line(raw).strip().rstrip(".)").strip()
    if not text:
        return None
    digits = text.replace(".", "")
    if len(text) > limits.MAX_CODE_LENGTH and digits.isascii() and digits.isdigit():
        limits.check_code(text)  # "1.1.1.….1": refused before splitting a 100 KB cell
    parts = text.split(".")
    if all(part.isascii() and part.isdigit() and len(part) <= 3 for part in parts):
        limits.check_code(text)
        return text
    if ROMAN_CODE.match(text) and roman_to_int(text) is not None:
        return text
    return None


def parse_document(document: Document, *, catalogue: PositionCatalogue | None = None) -> ParsedPlan:
    """Parse a Document read from any format. Raises PlanParseError if it holds no plan table."""
    tables, text_lines = find_tables(document)
    if not tables:
        raise PlanParseError(
            "Không tìm thấy bảng kế hoạch trong tệp: cần một bảng có hàng tiêu đề gồm cột "
            "số thứ tự (STT/TT) và cột lĩnh vực, tiêu chí hoặc nhiệm vụ."
        )
    meta = read_plan_meta(tables, text_lines)
    # Leads as plans of that year spell them (posts before the merger, departments after).
    builder = _PlanBuilder((catalogue or default_catalogue()).for_year(meta.year), meta)
    for table in tables:
        builder.add_table(table)
    plan = builder.finish()
    if not plan.criteria:
        raise PlanParseError(
            "Bảng kế hoạch không có dòng tiêu chí nào có số thứ tự và tên: hãy kiểm tra lại tệp."
        )
    plan.source_format = document.source_format
    limits.check_plan(plan)
    return plan


@dataclass
class _PlanBuilder:
    catalogue: PositionCatalogue
    meta: PlanMeta
    items: list[_Item] = field(default_factory=list)
    warnings: list[ParseWarning] = field(default_factory=list)
    hierarchies: dict[str, _Hierarchy] = field(default_factory=dict)

    def warn(self, item: _Item | None, message: str, line_no: int | None = None) -> None:
        line = line_no if line_no is not None else (item.line_no if item else None)
        prefix = f"Dòng {line}" if line is not None else "Tệp"
        if item is not None and item.code:
            prefix += f", mục {item.index} {item.code}"
        self.warnings.append(
            ParseWarning(
                code=item.code if item else None, message=f"{prefix}: {message}", line_no=line
            )
        )

    # -- reading rows ------------------------------------------------------

    def add_table(self, table: PlanTable) -> None:
        index = detect_index(table.context, fallback_lines=self.meta.title_lines)
        items = (
            _ActivityReader(self, table, index)
            if table.is_activity_table
            else _CriteriaReader(self, table, index)
        ).read()
        # One hierarchy per index across tables: an index split over two tables
        # must still see a code repeated between them.
        self.hierarchies.setdefault(index, _Hierarchy(self, index)).link(items)
        _fill_down(items, activity_table=table.is_activity_table)
        for item in items:
            item.deadline_column = "deadline" in table.columns
        self.items.extend(items)

    def finish(self) -> ParsedPlan:
        finisher = _Finisher(self)
        criteria = [finisher.criterion(item) for item in self.items]
        warnings = list(self.meta.warnings) + self.warnings
        return ParsedPlan(
            unit=self.meta.unit,
            year=self.meta.year,
            period=self.meta.period,
            criteria=criteria,
            warnings=warnings,
            title=self.meta.title,
        )


def _cells_by_role(table: PlanTable, row: DataRow, roles: Iterable[str]) -> dict[str, str]:
    values = {}
    for role in roles:
        value = row.get(table.column(role))
        if value:
            values[role] = value
    return values


def _is_total_row(table: PlanTable, row: DataRow) -> bool:
    """ "TỔNG ĐIỂM | | 100 | 97,90": a total, recognised by its label and its number."""
    first = next((cell for cell in row.cells if cell), "")
    labelled = fold(first).startswith(("tong diem", "tong cong", "tong so diem", "cong diem"))
    return labelled and parse_decimal(row.get(table.column("max_points"))) is not None


def _strip_bullet(text: str) -> str:
    return text.lstrip(" .-–•+*").strip()


@dataclass
class _CriteriaReader:
    """A criteria table (PAR-style): one row per criterion, continuations in between."""

    builder: _PlanBuilder
    table: PlanTable
    index: str

    def read(self) -> list[_Item]:
        items: list[_Item] = []
        for row in self.table.rows:
            code_cell = row.get(self.table.column("code"))
            code = normalize_code(code_cell)
            if code is None and _is_total_row(self.table, row):
                self._check_total(items, row)
                continue
            if code_cell and code is None:
                self.builder.warn(None, f"không hiểu số thứ tự {code_cell!r}", row.line_no)
            if code is None and items and self._continues(row, items[-1]):
                self._append(items[-1], row)
                continue
            if code is None and not row.get(self.table.title_column):
                continue  # a stray fragment before the first item
            items.append(self._new_item(row, code))
        return items

    def _check_total(self, items: list[_Item], row: DataRow) -> None:
        """A "TỔNG ĐIỂM" row: not an item, but a check on the areas' points."""
        stated = parse_decimal(row.get(self.table.column("max_points")))
        if stated is None:
            return
        areas = [item for item in items if item.code and "." not in item.code]
        total = sum(parse_decimal(item.fields.get("max_points", "")) or 0.0 for item in areas)
        if abs(total - stated) > 0.001:
            self.builder.warn(
                None,
                f"tổng điểm ghi trong tài liệu là {stated:g} nhưng các lĩnh vực cộng lại "
                f"được {total:g}.",
                row.line_no,
            )

    def _continues(self, row: DataRow, previous: _Item) -> bool:
        title = row.get(self.table.title_column)
        if not title or starts_lowercase(title):
            return True
        # An all-caps area name broken by a page break ("CẢI CÁCH TỔ CHỨC BỘ" / "MÁY HÀNH CHÍNH").
        return (
            row.after_page_break
            and is_all_caps(title)
            and is_all_caps(previous.fields.get("title", ""))
        )

    def _new_item(self, row: DataRow, code: str | None) -> _Item:
        values = _cells_by_role(self.table, row, _TEXT_ROLES + _POINT_ROLES)
        if "title" not in values and "task" in values and self.table.column("title") is None:
            values["title"] = values.pop("task")
        return _Item(self.index, code, row.line_no, dict(values), dict(values))

    def _append(self, item: _Item, row: DataRow) -> None:
        # Points never continue over a page break; only text does.
        values = _cells_by_role(self.table, row, _TEXT_ROLES)
        if "title" not in values and "task" in values and self.table.column("title") is None:
            values["title"] = values.pop("task")
        for role, value in values.items():
            item.fields[role] = join_text(item.fields.get(role), value)
            item.own[role] = join_text(item.own.get(role), value)


_TASK_ROLES = ("goal", "task")
_ACTIVITY_ROLES = ("activity", "output", "lead", "support", "deadline")


@dataclass
class _ActivityReader:
    """A task/activity table: Roman sections, numbered tasks, activity rows under each task."""

    builder: _PlanBuilder
    table: PlanTable
    index: str
    items: list[_Item] = field(default_factory=list)

    def read(self) -> list[_Item]:
        for row in self.table.rows:
            code = normalize_code(row.get(self.table.column("code")))
            if code is not None and ROMAN_CODE.match(code):
                self._section(row, code)
            elif code is not None:
                self._task(row, code)
            elif self.items:
                self._uncoded(row)
        return self.items

    def _section(self, row: DataRow, code: str) -> None:
        title = next((cell for cell in row.cells[1:] if cell), "")
        self.items.append(_Item(self.index, code, row.line_no, {"title": title}, {}))

    def _task(self, row: DataRow, code: str | None) -> _Item:
        values = _cells_by_role(self.table, row, _TASK_ROLES)
        fields = {"title": _strip_bullet(values.get("task", ""))}
        if "goal" in values:
            fields["goal"] = _strip_bullet(values["goal"])
        item = _Item(self.index, code, row.line_no, fields, dict(fields))
        self.items.append(item)
        self._activity(item, row)
        return item

    def _activity(self, task: _Item, row: DataRow) -> None:
        values = _cells_by_role(self.table, row, _ACTIVITY_ROLES)
        if values:
            if "activity" in values:
                values["activity"] = _strip_bullet(values["activity"])
            task.activities.append(_Activity(row.line_no, values))

    def _uncoded(self, row: DataRow) -> None:
        current = self.items[-1]
        values = _cells_by_role(self.table, row, _TASK_ROLES)
        task_text = _strip_bullet(values.get("task", ""))
        goal_text = values.get("goal", "")
        starts_task = bool(task_text) and not starts_lowercase(task_text)
        if goal_text and (starts_lowercase(goal_text) or not starts_task):
            current.fields["goal"] = join_text(current.fields.get("goal"), goal_text)
            goal_text = ""
        if starts_task:
            task = self._task(DataRow([""], row.line_no, False), None)
            task.fields["title"] = task.own["title"] = task_text
            if goal_text:
                task.fields["goal"] = task.own["goal"] = _strip_bullet(goal_text)
            task.synthetic = True
            current = task
        elif task_text:
            current.fields["title"] = join_text(current.fields.get("title"), task_text)
        self._activity_part(current, row)

    def _activity_part(self, task: _Item, row: DataRow) -> None:
        values = _cells_by_role(self.table, row, _ACTIVITY_ROLES)
        if not values:
            return
        activity = values.get("activity", "")
        if (activity and not starts_lowercase(activity)) or not task.activities:
            self._activity(task, row)
            return
        last = task.activities[-1]
        for role, value in values.items():
            last.fields[role] = join_text(last.fields.get(role), value)


@dataclass
class _Hierarchy:
    """Parents, made-up codes for unnumbered items, and duplicate codes, for one index."""

    builder: _PlanBuilder
    index: str
    latest: dict[str, _Item] = field(default_factory=dict)
    section: _Item | None = None
    used_codes: set[str] = field(default_factory=set)

    def link(self, items: list[_Item]) -> None:
        self.used_codes |= {item.code for item in items if item.code}
        self.section = None  # a new table starts outside any Roman section
        previous: _Item | None = None
        for item in items:
            if item.code is None:
                self._name_unnumbered(item, previous)
            else:
                self._place_numbered(item, previous)
            if item.parent is not None:
                item.parent.children.append(item)
            previous = item

    def _place_numbered(self, item: _Item, previous: _Item | None) -> None:
        assert item.code is not None
        earlier = self.latest.get(item.code)
        if earlier is not None:
            item.occurrence = earlier.occurrence + 1
            self.builder.warn(
                item,
                f"mã {item.code} đã có ở dòng {earlier.line_no}; giữ cả hai mục, "
                f"mục này là lần thứ {item.occurrence}.",
            )
        if ROMAN_CODE.match(item.code):
            self.section = item
        elif earlier is not None and previous is earlier and earlier.looks_like_heading:
            item.parent = earlier  # a heading and its only child both numbered "4.1"
        else:
            item.parent = self._structural_parent(item.code)
        self.latest[item.code] = item

    def _structural_parent(self, code: str) -> _Item | None:
        parts = code.split(".")
        for length in range(len(parts) - 1, 0, -1):
            candidate = self.latest.get(".".join(parts[:length]))
            if candidate is not None:
                return candidate
        return self.section if self.section is not None and self.section.code != code else None

    def _name_unnumbered(self, item: _Item, previous: _Item | None) -> None:
        if previous is None:
            parent = self.section
        elif previous.synthetic or (item.activities and previous.activities):
            parent = previous.parent  # siblings: unnumbered tasks, or runs of unnumbered rows
        elif previous.looks_like_heading and not previous.activities:
            parent = previous
        else:
            parent = previous.parent
        item.parent = parent
        item.synthetic = True
        item.code = self._free_code(parent.code if parent else None)
        self.latest[item.code] = item
        self.builder.warn(
            item,
            "dòng không có số thứ tự; tạm đặt mã "
            f"{item.code}{f' (thuộc {parent.code})' if parent else ''}.",
        )

    def _free_code(self, parent_code: str | None) -> str:
        for letter in _LETTERS:
            code = f"{parent_code}.{letter}" if parent_code else letter
            if code not in self.used_codes:
                self.used_codes.add(code)
                return code
        raise PlanParseError("Quá nhiều dòng không có số thứ tự liền nhau.")


def _fill_down(items: list[_Item], *, activity_table: bool) -> None:
    """Share a merged cell's value with the blank cells under it, within an area."""
    last: dict[str, str] = {}
    last_goal = ""
    for item in items:
        # A new area heading starts fresh; in a flat list (no headings) a merged
        # cell can span several top-level items.
        if (item.code and ROMAN_CODE.match(item.code)) or (item.is_area and bool(item.children)):
            last, last_goal = {}, ""
        if activity_table:
            if item.fields.get("goal"):
                last_goal = item.fields["goal"]
            elif last_goal and item.activities:
                item.fields["goal"] = last_goal
            for activity in item.activities:
                _fill_fields(activity.fields, last, share=True)
            continue
        _fill_fields(item.fields, last, share=not item.children)


def _fill_fields(fields: dict[str, str], last: dict[str, str], *, share: bool) -> None:
    for role in _OWNER_ROLES:
        if fields.get(role):
            last[role] = fields[role]
        elif share and role in last:
            fields[role] = last[role]


@dataclass
class _Finisher:
    """Turns assembled items into ParsedCriterion objects: owners, points and dates."""

    builder: _PlanBuilder

    @property
    def meta(self) -> PlanMeta:
        return self.builder.meta

    def criterion(self, item: _Item) -> ParsedCriterion:
        assert item.code is not None
        criterion = ParsedCriterion(
            index=item.index,
            code=item.code,
            parent=item.parent.code if item.parent else None,
            title=_strip_bullet(one_line(item.fields.get("title", ""))),
            requirement=self._requirement(item),
            task=_stripped_or_none(item.fields.get("task")),
            max_points=self._points(item, "max_points"),
            target_points=self._points(item, "target_points"),
            line_no=item.line_no,
            occurrence=item.occurrence,
            synthetic_code=item.synthetic,
        )
        if not criterion.title:
            self.builder.warn(item, "không có tên tiêu chí.")
        if item.activities:
            self._owners_from_activities(item, criterion)
        else:
            self._owners_from_cells(item, criterion)
        return criterion

    def _requirement(self, item: _Item) -> str | None:
        text = item.fields.get("requirement") or item.fields.get("goal")
        return text.strip() if text else None

    def _points(self, item: _Item, role: str) -> float | None:
        raw = item.fields.get(role)
        if not raw:
            return None
        value = parse_decimal(raw)
        if value is None:
            self.builder.warn(item, f"không đọc được điểm {raw!r}.")
        return value

    def _owners_from_cells(self, item: _Item, criterion: ParsedCriterion) -> None:
        criterion.lead_text = _one_line_or_none(item.fields.get("lead"))
        criterion.support_text = _one_line_or_none(item.fields.get("support"))
        criterion.leads = self._positions(item, criterion.lead_text, "chủ trì", criterion)
        supports = self._positions(item, criterion.support_text, "phối hợp", criterion)
        criterion.supports = [code for code in supports if code not in criterion.leads]
        if not item.children and not criterion.leads and not criterion.unmapped_leads:
            self.builder.warn(item, "không có đơn vị chủ trì; việc này sẽ giao cho đầu mối.")
        criterion.deadline_text = _one_line_or_none(item.fields.get("deadline"))
        result = self._deadline(item, criterion.deadline_text)
        criterion.due_dates = list(result.due_dates)
        criterion.recurrence = result.recurrence
        criterion.milestones = [
            Milestone(due_date=day, leads=list(criterion.leads)) for day in result.due_dates
        ]

    def _owners_from_activities(self, item: _Item, criterion: ParsedCriterion) -> None:
        lead_texts: list[str] = []
        support_texts: list[str] = []
        deadline_texts: list[str] = []
        dates: set[date] = set()
        for activity in item.activities:
            lead_text = _one_line_or_none(activity.fields.get("lead"))
            codes = self._positions(item, lead_text, "chủ trì", criterion)
            _extend_unique(criterion.leads, codes)
            support_text = _one_line_or_none(activity.fields.get("support"))
            _extend_unique(
                criterion.supports, self._positions(item, support_text, "phối hợp", criterion)
            )
            deadline_text = _one_line_or_none(activity.fields.get("deadline"))
            result = self._deadline(item, deadline_text, activity.line_no)
            criterion.recurrence = criterion.recurrence or result.recurrence
            dates.update(result.due_dates)
            label = one_line(activity.fields.get("activity", "")) or None
            criterion.milestones.extend(
                Milestone(due_date=day, label=label, leads=list(codes)) for day in result.due_dates
            )
            for texts, text in (
                (lead_texts, lead_text),
                (support_texts, support_text),
                (deadline_texts, deadline_text),
            ):
                if text and text not in texts:
                    texts.append(text)
        criterion.supports = [c for c in criterion.supports if c not in criterion.leads]
        criterion.lead_text = "; ".join(lead_texts) or None
        criterion.support_text = "; ".join(support_texts) or None
        criterion.deadline_text = "; ".join(deadline_texts) or None
        criterion.due_dates = sorted(dates)
        criterion.milestones.sort(key=lambda milestone: milestone.due_date)
        if not criterion.leads and not criterion.unmapped_leads:
            self.builder.warn(item, "không có đơn vị chủ trì; việc này sẽ giao cho đầu mối.")

    def _positions(
        self,
        item: _Item,
        text: str | None,
        what: str,
        criterion: ParsedCriterion | None = None,
    ) -> list[str]:
        match = self.builder.catalogue.match(text)
        for written in match.unmapped:
            self.builder.warn(item, unmapped_message(what, written, text or written))
            if criterion is not None:
                unmapped = (
                    criterion.unmapped_leads if what == "chủ trì" else criterion.unmapped_supports
                )
                _extend_unique(unmapped, [written])
        for written, code in match.fuzzy:
            self.builder.warn(item, f"đọc {written!r} là {code} (gần đúng chính tả).")
        return list(match.codes)

    def _deadline(
        self, item: _Item, text: str | None, line_no: int | None = None
    ) -> DeadlineResult:
        if not item.deadline_column:
            return _year_end(self.meta)
        if not text:
            if item.children:
                return _EMPTY
            self.builder.warn(item, "không ghi thời hạn; tạm tính hạn cuối năm kế hoạch.", line_no)
            return _year_end(self.meta)
        result = _parse_deadline_cached(text, self.meta.year, self.meta.period)
        for message in result.warnings:
            self.builder.warn(item, message, line_no)
        return result


_EMPTY = DeadlineResult(kind="empty", due_dates=(), recurrence=None, warnings=())


def _year_end(meta: PlanMeta) -> DeadlineResult:
    if meta.year is None:
        return _EMPTY
    return DeadlineResult(
        kind="dated", due_dates=(date(meta.year, 12, 31),), recurrence=None, warnings=()
    )


@lru_cache(maxsize=4096)
def _parse_deadline_cached(
    text: str, year: int | None, period: tuple[int, int] | None
) -> DeadlineResult:
    return parse_deadline(text, year=year, period=period)


def _stripped_or_none(text: str | None) -> str | None:
    return text.strip() or None if text else None


def _one_line_or_none(text: str | None) -> str | None:
    if not text:
        return None
    return one_line(text) or None


def _extend_unique(items: list[str], more: Iterable[str]) -> None:
    for item in more:
        if item not in items:
            items.append(item)


def count_by_index(plan: ParsedPlan) -> Counter[str]:
    return Counter(criterion.index for criterion in plan.criteria)
