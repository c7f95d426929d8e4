"""The daily review, rendered: a terminal table, JSON, CSV, a PNG chart and an HTML page.

Presentation only: every number comes from `posture.history` (a `RangeSummary`;
one day when its first and last day are the same). `model` holds what every
output shares (labels, breakdown, day rows, habit tips); each output has its own
module: `table` (terminal), `data` (JSON and CSV), `chart` (PNG), `page` (HTML).
"""

from posture.report.chart import CHART_SIZE_PX, chart_png, write_chart
from posture.report.data import to_csv, to_json
from posture.report.model import SAFETY_NOTE, choose_tips
from posture.report.page import to_html, write_html
from posture.report.table import render_table

__all__ = [
    "CHART_SIZE_PX",
    "SAFETY_NOTE",
    "chart_png",
    "choose_tips",
    "render_table",
    "to_csv",
    "to_html",
    "to_json",
    "write_chart",
    "write_html",
]
