"""What an admin needs to see before confirming an import: counts, gaps and warnings.

Used by ``python -m bot plan parse`` and by the chat's /kehoach preview, so
both show the same thing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from core.plan_model import ParsedCriterion, ParsedPlan, leaf_flags
from core.units import document_unit_conflict, unit_conflict_text


@dataclass
class PlanPreview:
    unit: str | None
    year: int | None
    period: tuple[int, int] | None
    counts: dict[str, int]
    leaf_counts: dict[str, int]
    without_owner: list[ParsedCriterion] = field(default_factory=list)
    without_date: list[ParsedCriterion] = field(default_factory=list)
    # Lead and support texts nothing in the catalogue matched (whole cells when
    # nothing in them did) -> how many items; the chat offers to map each.
    unmapped_leads: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # The unit the plan would be filed under, when the document names another one.
    other_unit: str | None = None


def build_preview(plan: ParsedPlan, *, target_unit: str | None = None) -> PlanPreview:
    """``target_unit``: the unit the plan is about to be filed under, checked against
    the unit the document names (see core.units.same_unit)."""
    leaves = [c for c, leaf in zip(plan.criteria, leaf_flags(plan.criteria), strict=True) if leaf]
    unmapped: Counter[str] = Counter()
    for criterion in plan.criteria:
        unmapped.update({*criterion.unmapped_leads, *criterion.unmapped_supports})
    return PlanPreview(
        unit=plan.unit,
        year=plan.year,
        period=plan.period,
        counts=dict(Counter(c.index for c in plan.criteria)),
        leaf_counts=dict(Counter(c.index for c in leaves)),
        without_owner=[c for c in leaves if not c.leads],
        without_date=[c for c in leaves if not c.due_dates and c.recurrence != "continuous"],
        unmapped_leads=dict(unmapped.most_common()),
        warnings=[w.message for w in plan.warnings],
        other_unit=target_unit
        if target_unit and document_unit_conflict(plan, target_unit)
        else None,
    )


def _other_unit(plan: ParsedPlan, target_unit: str | None) -> str | None:
    if target_unit and document_unit_conflict(plan, target_unit):
        return target_unit
    return None


def render_preview(preview: PlanPreview, *, max_lines: int = 15) -> str:
    """A short Vietnamese summary, one fact per line, for a terminal or a phone."""
    lines = [
        f"Đơn vị: {preview.unit or '(không rõ)'}",
        f"Năm: {preview.year or '(không rõ)'}"
        + (
            f" (giai đoạn {preview.period[0]}–{preview.period[1]})"
            if preview.period and preview.period[0] != preview.period[1]
            else ""
        ),
        "Số mục theo bộ chỉ số:",
    ]
    if preview.other_unit:
        lines.insert(1, f"⚠️ {unit_conflict_text(preview.unit or '', preview.other_unit)}")
    for index, count in preview.counts.items():
        lines.append(f"  {index}: {count} mục ({preview.leaf_counts.get(index, 0)} việc cụ thể)")
    lines += _listed("Việc chưa có người chủ trì", preview.without_owner, max_lines)
    lines += _listed("Việc chưa có thời hạn", preview.without_date, max_lines)
    if preview.unmapped_leads:
        lines.append(f"Đơn vị chưa nhận ra ({len(preview.unmapped_leads)}):")
        for text, count in list(preview.unmapped_leads.items())[:max_lines]:
            lines.append(f"  «{text}» — {count} mục")
    if preview.warnings:
        lines.append(f"Cảnh báo ({len(preview.warnings)}):")
        lines += [f"  - {message}" for message in preview.warnings[:max_lines]]
        if len(preview.warnings) > max_lines:
            lines.append(f"  … và {len(preview.warnings) - max_lines} cảnh báo khác")
    return "\n".join(lines)


def _listed(title: str, items: list[ParsedCriterion], max_lines: int) -> list[str]:
    if not items:
        return [f"{title}: không có"]
    lines = [f"{title} ({len(items)}):"]
    lines += [f"  {c.index} {c.code} {_short(c.title)}" for c in items[:max_lines]]
    if len(items) > max_lines:
        lines.append(f"  … và {len(items) - max_lines} mục khác")
    return lines


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
