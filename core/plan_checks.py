"""Checks run on every parsed plan, whatever its format, before anyone sees it.

Points are earned on the leaves, and summaries add the leaves' points. When a
document's area row states a total that its leaves do not add up to (Phường 6
gives area 5 a target of 13,2 over leaves adding up to 14), the admin is told
once, naming the area, so the chairman is not surprised by the figures.
"""

from __future__ import annotations

from collections import defaultdict

from core.plan_model import ParsedCriterion, ParsedPlan, ParseWarning, leaf_flags, parent_positions
from core.text import format_points

_FIELDS = (("max_points", "điểm tối đa"), ("target_points", "điểm phấn đấu"))
_TOLERANCE = 0.005  # points are written with at most two decimals


def finish_plan(plan: ParsedPlan) -> ParsedPlan:
    """Add the cross-row warnings and put every warning in document order."""
    # A YAML item's line_no is its place in the list, not a line: name the code alone.
    by_line = plan.source_format != "yaml"
    plan.warnings.extend(area_total_warnings(plan.criteria, by_line=by_line))
    # Readers warn in several passes; the admin reads them against the file, top to bottom.
    plan.warnings.sort(key=lambda w: (w.line_no is None, w.line_no or 0))
    return plan


def area_total_warnings(
    criteria: list[ParsedCriterion], *, by_line: bool = True
) -> list[ParseWarning]:
    """One warning per area whose stated points differ from the sum of its leaves."""
    leaves_of = _leaves_by_area(criteria)
    warnings = []
    for position, leaves in leaves_of.items():
        area = criteria[position]
        differences = []
        for name, label in _FIELDS:
            stated = getattr(area, name)
            values = [getattr(leaf, name) for leaf in leaves if getattr(leaf, name) is not None]
            if stated is None or not values:
                continue
            total = round(sum(values), 2)
            if abs(total - stated) > _TOLERANCE:
                differences.append(
                    f"{label} ghi {format_points(stated)}, các mục con cộng lại "
                    f"{format_points(total)}"
                )
        if differences:
            where = f"Lĩnh vực {area.index} {area.code}"
            if by_line and area.line_no is not None:
                where = f"Dòng {area.line_no}, lĩnh vực {area.index} {area.code}"
            warnings.append(
                ParseWarning(
                    code=area.code,
                    message=f"{where}: {'; '.join(differences)}. Tổng hợp tính theo các mục con.",
                    line_no=area.line_no,
                )
            )
    return warnings


def _leaves_by_area(criteria: list[ParsedCriterion]) -> dict[int, list[ParsedCriterion]]:
    """Top-level criteria that have children, each with the leaves below it."""
    parents = parent_positions(criteria)
    leaves = leaf_flags(criteria)

    def area_of(position: int) -> int:
        while parents[position] is not None:
            position = parents[position]  # type: ignore[assignment]
        return position

    found: dict[int, list[ParsedCriterion]] = defaultdict(list)
    for position, leaf in enumerate(leaves):
        area = area_of(position)
        if leaf and area != position:
            found[area].append(criteria[position])
    return found
