"""The weekly summary as a PNG: progress by area, one stacked bar per area, one panel per index.

Built on ``matplotlib.figure.Figure`` with the Agg canvas, never pyplot:
pyplot keeps global figure state and a process-wide backend, which is unsafe
in a bot that renders summaries for several units at once. Fonts are set on
every text element rather than through ``rcParams`` for the same reason.

The layout is for a phone: 1080 px wide (Telegram shows it edge to edge),
large type, and each area's label on its own line above a full-width bar, so
long Vietnamese titles need no tiny left margin.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Patch

from core.summary_model import AreaRow, IndexSummary, Summary
from core.summary_render import area_label, percent_of
from core.text import format_date, nfc

FONT_FAMILY = "DejaVu Sans"  # ships with matplotlib and covers every Vietnamese letter
WIDTH_IN = 10.8
DPI = 100  # 10.8 in x 100 dpi = 1080 px
TOP_IN = 1.8  # title, date line and legend
PANEL_HEAD_IN = 0.9  # the index's own title
AREA_IN = 0.95  # one label line plus one bar
BOTTOM_IN = 0.3
MAX_HEIGHT_IN = 40.0  # 4000 px: Telegram still shows it, scrolling
LABEL_CHARS = 48  # at 17 pt about 610 px, leaving room for "100% · 12 trễ" on the right

BANDS = ("Hoàn thành", "Đang làm", "Chưa làm", "Quá hạn")
COLORS = ("#2e7d32", "#1e88e5", "#bdbdbd", "#d32f2f")


@dataclass(frozen=True)
class Bands:
    """An area's items in four disjoint bands that add up to ``items``."""

    done: int
    in_progress: int  # in progress and not overdue
    not_started: int  # not started or blocked, and not overdue
    overdue: int

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.done, self.in_progress, self.not_started, self.overdue)


def area_bands(area: AreaRow, index: IndexSummary) -> Bands:
    """Move overdue items out of their status band, so the four bands sum to the item count.

    AreaRow says how many are overdue but not which status they have, so the
    split comes from the index's overdue list (every overdue item, matched to
    the area by the first part of its code). Whatever cannot be matched is
    taken from "not started" first: a late item has usually not been started.
    """
    prefix = f"{area.code}."
    late = [
        line for line in index.overdue if line.code == area.code or line.code.startswith(prefix)
    ]
    matched_in_progress = sum(line.status == "in_progress" for line in late)
    late_in_progress = min(matched_in_progress, area.in_progress, area.overdue)
    late_other = min(area.overdue - late_in_progress, area.not_started)
    late_in_progress = min(area.overdue - late_other, area.in_progress)  # the unmatched rest
    return Bands(
        done=area.done,
        in_progress=area.in_progress - late_in_progress,
        not_started=area.not_started - late_other,
        overdue=late_in_progress + late_other,
    )


def _font(size: float, *, bold: bool = False) -> FontProperties:
    return FontProperties(family=FONT_FAMILY, size=size, weight="bold" if bold else "normal")


def figure_height(summary: Summary) -> float:
    areas = sum(max(1, len(index.areas)) for index in summary.indexes)
    panels = max(1, len(summary.indexes))
    height = TOP_IN + panels * PANEL_HEAD_IN + areas * AREA_IN + BOTTOM_IN
    return min(max(height, 4.5), MAX_HEIGHT_IN)


def _draw_area(ax: Axes, row: int, area: AreaRow, index: IndexSummary) -> None:
    bands = area_bands(area, index)
    left = 0.0
    for count, color in zip(bands.as_tuple(), COLORS, strict=True):
        width = 100 * count / area.items if area.items else 0.0
        ax.barh(row, width, left=left, height=0.42, color=color, edgecolor="white", linewidth=1)
        left += width
    if not area.items:
        ax.barh(row, 100, height=0.42, color="#eeeeee")
    label_y = row - 0.3  # above the bar (the y axis is inverted)
    ax.text(0, label_y, nfc(area_label(area, LABEL_CHARS)), fontproperties=_font(17), va="bottom")
    stats = f"{percent_of(area.done, area.items)}%"
    if area.overdue:
        stats += f" · {area.overdue} trễ"
    color = COLORS[3] if area.overdue else "#222222"
    bold = _font(17, bold=True)
    ax.text(100, label_y, stats, fontproperties=bold, va="bottom", ha="right", color=color)


def _draw_panel(ax: Axes, index: IndexSummary) -> None:
    t = index.totals
    title = f"Chỉ số {index.index}: hoàn thành {t.done}/{t.items} ({percent_of(t.done, t.items)}%)"
    ax.set_title(nfc(title), fontproperties=_font(20, bold=True), loc="left", pad=14)
    areas = index.areas or [AreaRow("", "Chưa có lĩnh vực", 0, 0, 0, 0, 0)]
    for row, area in enumerate(areas):
        _draw_area(ax, row, area, index)
    ax.set_xlim(0, 100)
    ax.set_ylim(len(areas) - 0.5, -0.85)
    ax.set_yticks([])
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_xticklabels(["0", "25", "50", "75", "100%"])
    ax.tick_params(axis="x", labelsize=13, labelfontfamily=FONT_FAMILY, colors="#666666")
    ax.grid(axis="x", color="#e0e0e0", linewidth=1)
    ax.set_axisbelow(True)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)


def _layout_panels(fig: Figure, summary: Summary, height: float) -> list[Axes]:
    """Axes stacked top to bottom, each as tall as its number of areas."""
    axes: list[Axes] = []
    top = height - TOP_IN
    for index in summary.indexes:
        rows = max(1, len(index.areas))
        panel = rows * AREA_IN
        top -= PANEL_HEAD_IN
        rect = (0.04, (top - panel) / height, 0.91, panel / height)
        axes.append(fig.add_axes(rect))
        top -= panel
    return axes


def _draw_header(fig: Figure, summary: Summary, height: float) -> None:
    def y(inches_from_top: float) -> float:
        return 1 - inches_from_top / height

    title = f"Tiến độ CCHC theo lĩnh vực – {summary.unit}"
    fig.text(0.04, y(0.25), nfc(title), fontproperties=_font(24, bold=True), va="top")
    fig.text(
        0.04,
        y(0.85),
        f"Số liệu đến ngày {format_date(summary.as_of)}",
        fontproperties=_font(17),
        va="top",
        color="#444444",
    )
    handles = [
        Patch(facecolor=color, label=label) for label, color in zip(BANDS, COLORS, strict=True)
    ]
    fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(0.03, y(1.3)),
        ncol=4,
        frameon=False,
        prop=_font(17),
        handlelength=1.2,
        columnspacing=1.2,
    )


def render_chart(summary: Summary) -> bytes:
    """PNG bytes, 1080 px wide, taller with more areas (at most 4000 px)."""
    height = figure_height(summary)
    fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)  # attaches itself to the figure; savefig then renders with Agg
    _draw_header(fig, summary, height)
    if not summary.indexes:
        fig.text(0.04, 0.4, "Chưa có kế hoạch nào được nhập.", fontproperties=_font(18))
    for ax, index in zip(_layout_panels(fig, summary, height), summary.indexes, strict=True):
        _draw_panel(ax, index)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()
