"""The weekly summary as it is sent, whatever the channel: message parts, chart, workbook."""

from __future__ import annotations

from dataclasses import dataclass

from core.evidence_pack import safe_name
from core.progress import unit_tz
from core.summary_model import Summary
from core.summary_render import render_message
from core.summary_xlsx import render_workbook
from storage.models import Unit


@dataclass(frozen=True)
class Bundle:
    texts: list[str]
    chart: bytes
    workbook: bytes
    workbook_name: str


def bundle(summary: Summary, unit: Unit) -> Bundle:
    # matplotlib (about 50 MB with numpy) loads with the first chart, not with the bot.
    from core.summary_chart import render_chart

    name = safe_name(f"TongHop {summary.unit} {summary.as_of:%Y-%m-%d}", max_length=80)
    return Bundle(
        texts=render_message(summary),
        chart=render_chart(summary),
        workbook=render_workbook(summary, tz=unit_tz(unit)),
        workbook_name=f"{name}.xlsx",
    )
