"""The report as one self-contained HTML page.

Nothing here touches the network: the page carries its chart and its styles
inside it, and its Content Security Policy forbids loading anything else.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from posture.history import DaySummary, RangeSummary
from posture.pain import printable
from posture.paths import write_private
from posture.report.chart import CHART_SIZE_PX, chart_png
from posture.report.model import (
    RANGE_COLUMNS,
    RANGE_NOTE,
    SAFETY_NOTE,
    SCORE_BANDS,
    SCORE_SUMMARY,
    block_cell,
    breakdown,
    choose_tips,
    empty_message,
    pain_hint,
    pain_where,
    range_label,
    range_rows,
    score_color,
    trend_words,
)

# Inline styles and system fonts only: the page loads nothing (its Content
# Security Policy forbids it), so opening it never tells anyone anything.
_CSS = """
body { margin: 0; background: #f6f6f4; color: #222; font: 15px/1.5 system-ui, -apple-system,
  "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 20px 40px; }
header { display: flex; align-items: baseline; justify-content: space-between; gap: 16px; }
h1 { font-size: 26px; margin: 0; }
h2 { font-size: 18px; margin: 28px 0 8px; }
.score { font-size: 44px; font-weight: 700; }
.score small { font-size: 18px; color: #666; font-weight: 400; }
.definition, footer { color: #666; font-size: 13px; }
img.chart { width: 100%; height: auto; background: #fff; border-radius: 8px;
  box-shadow: 0 1px 3px rgba(0,0,0,.12); }
table { border-collapse: collapse; background: #fff; border-radius: 8px; overflow: hidden;
  box-shadow: 0 1px 3px rgba(0,0,0,.12); }
th, td { padding: 6px 12px; text-align: left; vertical-align: top; }
th { background: #ecece8; font-weight: 600; }
tr + tr td { border-top: 1px solid #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.blocks td { text-align: center; min-width: 44px; font-variant-numeric: tabular-nums; }
.legend span { display: inline-block; padding: 1px 8px; margin: 2px 4px 2px 0;
  border-radius: 4px; font-size: 13px; }
ul.tips { padding-left: 20px; } ul.tips li { margin-bottom: 10px; }
.exercise { color: #444; }
.safety { margin-top: 28px; padding: 12px 16px; background: #fff4e5;
  border-left: 4px solid #E69F00; border-radius: 4px; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _ink(background: str) -> str:
    """Black or white text, whichever reads better on `background` (#rrggbb)."""
    red, green, blue = (int(background[i : i + 2], 16) for i in (1, 3, 5))
    return "#000" if 0.299 * red + 0.587 * green + 0.114 * blue > 150 else "#fff"


def _html_table(header: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{_e(c)}</td>' if i in numeric else f"<td>{_e(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_blocks(day: DaySummary) -> str:
    by_hour: dict[int, dict[int, str]] = {}
    for block in day.blocks:
        local = block.start.astimezone()
        cell = block_cell(block)
        by_hour.setdefault(local.hour, {})[local.minute // 10] = (
            f'<td style="background:{cell.color};color:{_ink(cell.color)}" '
            f'title="{_e(cell.title)}">{_e(cell.text)}</td>'
        )
    head = "<th>hour</th>" + "".join(f"<th>:{m:02d}</th>" for m in range(0, 60, 10))
    rows = "".join(
        f"<tr><th>{hour:02d}</th>"
        + "".join(by_hour[hour].get(i, "<td>·</td>") for i in range(6))
        + "</tr>"
        for hour in sorted(by_hour)
    )
    legend = "".join(
        f'<span style="background:{score_color(low)};color:{_ink(score_color(low))}">'
        f"{_e(label)}</span>"
        for label, low in SCORE_BANDS
    )
    legend += "<span>- under a minute at the desk</span>"
    return (
        f'<table class="blocks"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
        f'<p class="legend">{legend}</p>'
    )


def _html_pains(summary: RangeSummary) -> str:
    rows = [
        [
            p.at.astimezone().strftime("%Y-%m-%d %H:%M"),
            f"{p.level}/10",
            pain_where(p),
            printable(p.feels),
            printable(p.note),
        ]
        for p in summary.pains
    ]
    return _html_table(["when", "level", "where", "feels", "note"], rows, {1})


def _html_tips(summary: RangeSummary) -> str:
    items = "".join(
        f"<li><strong>{_e(t.title)}</strong>: {_e(t.habit)}<br>"
        f'<span class="exercise">Stretch and strengthen: {_e(t.exercise)}</span></li>'
        for t in choose_tips(summary)
    )
    return f'<ul class="tips">{items}</ul>' if items else ""


def _html_body(summary: RangeSummary) -> list[str]:
    parts = []
    message = empty_message(summary)
    if message:
        parts.append(f"<p>{_e(message)}</p>")
    elif summary.single_day:
        day = summary.days[0]
        parts.append("<h2>Breakdown</h2>")
        parts.append(_html_table(["", "time", ""], [list(r) for r in breakdown(day)], {1}))
        parts.append("<h2>Score per 10 minutes</h2>")
        parts.append(_html_blocks(day))
    else:
        parts.append("<h2>Day by day</h2>")
        parts.append(_html_table(list(RANGE_COLUMNS), range_rows(summary), set(range(1, 10))))
        parts.append(f'<p class="definition">{_e(RANGE_NOTE)}</p>')
    if summary.pains:
        parts.append("<h2>Pain journal</h2>")
        parts.append(_html_pains(summary))
    tips = _html_tips(summary)
    if tips:
        parts.append(f"<h2>Habit tips</h2>{tips}")
    hint = pain_hint(summary)
    if hint:
        parts.append(f"<p>{_e(hint)}</p>")
    return parts


def to_html(summary: RangeSummary) -> str:
    """One self-contained page: styles inline, the chart embedded, nothing loaded from anywhere."""
    title = ("Posture on " if summary.single_day else "Posture from ") + range_label(summary)
    chart = base64.b64encode(chart_png(summary, titled=False)).decode("ascii")
    score = (
        ""
        if summary.score is None
        else f'<div class="score" style="color:{score_color(summary.score)}">'
        f"{summary.score}<small>/100</small></div>"
    )
    trend = trend_words(summary.trend_per_day)
    width, height = CHART_SIZE_PX
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "img-src data:; style-src 'unsafe-inline'\">",
            '<meta name="referrer" content="no-referrer">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>",
            f"<header><h1>{_e(title)}</h1>{score}</header>",
            f'<p class="definition">{_e(SCORE_SUMMARY)}'
            + (f" Trend: {_e(trend)}." if trend else "")
            + "</p>",
            f'<img class="chart" width="{width}" height="{height}" '
            f'alt="{_e(title)}: chart" src="data:image/png;base64,{chart}">',
            *_html_body(summary),
            f'<p class="safety">{_e(SAFETY_NOTE)}</p>',
            "<footer>Made by posture on this computer, from numbers only (never pictures). "
            "This page loads nothing from the internet.</footer>",
            "</main></body></html>",
        ]
    )


def write_html(summary: RangeSummary, path: Path) -> None:
    """Writes the page (readable by the user only), replacing an existing file."""
    write_private(path, to_html(summary).encode("utf-8"))
