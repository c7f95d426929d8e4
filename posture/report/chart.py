"""The report as a PNG chart: a day's timeline and score per 10 minutes, or daily scores.

Matplotlib draws on its Agg canvas directly (no pyplot), imported only when a
chart is drawn.
"""

from __future__ import annotations

import io
import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from posture.history import VERDICT_ORDER, DaySummary, RangeSummary, day_bounds
from posture.paths import write_private
from posture.records import Span
from posture.report.model import (
    BLOCK_COLOR,
    BREAK_COLOR,
    PAIN_COLOR,
    SCORE_SUMMARY,
    STATE_COLORS,
    STATE_LABELS,
    WEEKDAYS,
    block_score,
    clock,
    day_label,
    duration,
    empty_message,
    range_label,
    score_color,
    trend_words,
)
from posture.vocabulary import Verdict

# Chart size in pixels (a 12 x 5.4 inch figure at 100 dpi): wide enough for a working day.
CHART_DPI = 100

CHART_SIZE_PX = (1200, 540)

# Left margin (figure fraction): room for the timeline's row labels.
CHART_LEFT = 0.105
# Pain levels on the timeline: their font size, and how far right of the mark.
PAIN_LABEL_PT = 9.0
PAIN_LABEL_OFFSET_PX = 7


def chart_png(summary: RangeSummary, titled: bool = True) -> bytes:
    """A day's timeline and score per 10 minutes, or a bar chart of daily scores, as PNG.

    Exactly CHART_SIZE_PX. `titled=False` leaves out the title and score, for a page
    that shows them.
    """
    buffer = io.BytesIO()
    chart_figure(summary, titled).savefig(buffer, format="png", dpi=CHART_DPI)
    return buffer.getvalue()


def chart_figure(summary: RangeSummary, titled: bool = True) -> Any:
    """The chart as a matplotlib Figure on its Agg canvas (no pyplot: no display is
    needed and no global backend is switched)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width, height = CHART_SIZE_PX
    figure = Figure(figsize=(width / CHART_DPI, height / CHART_DPI), dpi=CHART_DPI)
    FigureCanvasAgg(figure)
    message = empty_message(summary)
    if message:
        figure.text(0.5, 0.5, message, ha="center", va="center", fontsize=18, color="#555555")
    elif summary.single_day:
        _day_chart(figure, summary.days[0], titled)
    else:
        _range_chart(figure, summary, titled)
    return figure


def write_chart(summary: RangeSummary, path: Path) -> None:
    """Writes the chart as PNG (readable by the user only), replacing an existing file."""
    write_private(path, chart_png(summary))


def _chart_heading(figure: Any, title: str, score: int | None, subtitle: str, titled: bool) -> None:
    if not titled:
        figure.text(CHART_LEFT, 0.91, subtitle, fontsize=11, color="#444444")
        return
    figure.text(CHART_LEFT, 0.935, title, fontsize=17, weight="bold", color="#222222")
    figure.text(CHART_LEFT, 0.885, subtitle, fontsize=10.5, color="#444444")
    if score is not None:
        figure.text(
            0.98,
            0.925,
            f"{score}/100",
            ha="right",
            fontsize=24,
            weight="bold",
            color=score_color(score),
        )
    figure.text(CHART_LEFT, 0.025, SCORE_SUMMARY, fontsize=8.5, color="#666666")


def _day_subtitle(day: DaySummary) -> str:
    return (
        f"{duration(day.present_s)} at the desk, {duration(day.seconds_in(Verdict.GOOD))} "
        f"good  ·  {len(day.episodes)} bad-posture episodes  ·  breaks: {day.breaks_taken} taken, "
        f"{day.breaks_due} due  ·  {len(day.nudges)} nudges"
    )


def _chart_window(day: DaySummary, midnight: datetime) -> tuple[int, int]:
    """The x range in minutes since midnight: the monitored time (and pain entries),
    widened to 10-minute marks up to 2 hours and to whole hours beyond, to fill the chart."""
    moments = [day.timeline[0].start, day.timeline[-1].end, *(p.at for p in day.pains)]
    first = (min(moments) - midnight).total_seconds() // 60
    last = -(-(max(moments) - midnight).total_seconds() // 60)
    grain = 10 if last - first <= 120 else 60
    low = int(first // grain * grain)
    return low, max(int(-(-last // grain) * grain), low + grain)


def _minute_ticks(low: int, high: int) -> list[int]:
    """Tick positions in minutes since midnight: every 5 minutes up to every 2 hours."""
    span = high - low
    step = next(
        (s for limit, s in ((30, 5), (120, 10), (240, 30), (720, 60)) if span <= limit), 120
    )
    return list(range(low, high + 1, step))


def _day_chart(figure: Any, day: DaySummary, titled: bool) -> None:
    midnight = day_bounds(day.day)[0]

    def hours(moment: datetime) -> float:
        return (moment - midnight).total_seconds() / 3600

    low, high = _chart_window(day, midnight)
    grid = figure.add_gridspec(
        2,
        1,
        height_ratios=(1.0, 2.0),
        hspace=0.12,
        left=CHART_LEFT,
        right=0.98,
        top=0.76,
        bottom=0.12,
    )
    strip = figure.add_subplot(grid[0])
    scores = figure.add_subplot(grid[1], sharex=strip)
    handles = _strip(strip, day, hours, (high - low) / 60)
    strip.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0, 1.02),
        ncol=len(handles),
        frameon=False,
        fontsize=9.5,
        handlelength=1.2,
        columnspacing=1.4,
    )
    _block_bars(scores, day, hours)
    ticks = _minute_ticks(low, high)
    scores.set_xticks(
        [t / 60 for t in ticks], [clock(midnight + timedelta(minutes=t)) for t in ticks]
    )
    scores.set_xlim(low / 60, high / 60)
    title = f"Posture on {day_label(day.day)}"
    _chart_heading(figure, title, day.score, _day_subtitle(day), titled)


def _pain_labels(day: DaySummary, hours: Any, window_h: float) -> list[tuple[float, str]]:
    """Where to write the pain levels: entries too close to be labelled apart (in one
    minute, say) share one label, '4/10, 6/10', so that no label is printed over
    another. Widths are estimated generously from the font size."""
    axes_px = CHART_SIZE_PX[0] * (0.98 - CHART_LEFT)
    hours_per_px = window_h / axes_px
    char_px = PAIN_LABEL_PT * CHART_DPI / 72 * 0.62  # the widest digit, and some
    labels: list[tuple[float, list[str]]] = []
    free_from = -math.inf
    for entry in day.pains:
        at_h, text = hours(entry.at), f"{entry.level}/10"
        if labels and at_h < free_from:
            labels[-1][1].append(text)
        else:
            labels.append((at_h, [text]))
        label = ", ".join(labels[-1][1])
        free_from = labels[-1][0] + (PAIN_LABEL_OFFSET_PX + len(label) * char_px) * hours_per_px
    return [(at_h, ", ".join(texts)) for at_h, texts in labels]


def _strip(axes: Any, day: DaySummary, hours: Any, window_h: float) -> list[Any]:
    """The timeline rows: posture by state; breaks and nudges; pain entries (when any).

    Returns the legend handles for what was drawn.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = []
    rows = ["pain", "breaks, nudges", "posture"] if day.pains else ["breaks, nudges", "posture"]
    top = len(rows) - 1
    # Every verdict of each minute in its share of the minute (a slouch that never
    # filled most of a minute still shows), then the episodes on top: they are exact
    # to the second.
    spans = [*day.composition, *(Span(e.start, e.end, e.verdict) for e in day.episodes)]
    for verdict in VERDICT_ORDER:
        bars = [(hours(s.start), s.seconds / 3600) for s in spans if s.verdict is verdict]
        if bars:
            handles.append(Patch(color=STATE_COLORS[verdict], label=STATE_LABELS[verdict]))
    for span in spans:
        axes.broken_barh(
            [(hours(span.start), span.seconds / 3600)],
            (top - 0.4, 0.8),
            facecolors=STATE_COLORS[span.verdict],
        )
    events = top - 1
    breaks = [(hours(b.start), (b.end - b.start).total_seconds() / 3600) for b in day.breaks]
    if breaks:
        axes.broken_barh(breaks, (events - 0.3, 0.6), facecolors=BREAK_COLOR)
        handles.append(Patch(color=BREAK_COLOR, label="break"))
    if day.nudges:
        axes.plot(
            [hours(n.at) for n in day.nudges],
            [events] * len(day.nudges),
            "v",
            color="#333333",
            markersize=8,
        )
        handles.append(Line2D([], [], marker="v", color="#333333", linestyle="", label="nudge"))
    for entry in day.pains:
        axes.plot(hours(entry.at), 0, marker="D", color=PAIN_COLOR, markersize=8)
    for at_h, label in _pain_labels(day, hours, window_h):
        axes.annotate(
            label,
            (at_h, 0),
            xytext=(7, -4),
            textcoords="offset points",
            fontsize=PAIN_LABEL_PT,
            color=PAIN_COLOR,
        )
    if day.pains:
        handles.append(Line2D([], [], marker="D", color=PAIN_COLOR, linestyle="", label="pain"))
    axes.set_ylim(-0.6, top + 0.6)
    axes.set_yticks(range(len(rows)), rows)
    axes.tick_params(axis="x", labelbottom=False)
    axes.tick_params(axis="y", length=0)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    return handles


def _block_bars(axes: Any, day: DaySummary, hours: Any) -> None:
    """The score of each 10 minutes, one neutral colour: the strip above shows the states.

    A block is drawn only from a minute at the desk (`MIN_BLOCK_DATA_S`), and the
    less of it was spent at the desk, the fainter its bar.
    """
    for block in day.blocks:
        score = block_score(block)
        if score is None:
            continue
        start, width = hours(block.start), (block.end - block.start).total_seconds() / 3600
        coverage = min(1.0, block.present_s / (block.end - block.start).total_seconds())
        axes.bar(
            start,
            score,
            width=width * 0.9,
            align="edge",
            color=BLOCK_COLOR,
            alpha=0.35 + 0.65 * coverage,
        )
        axes.text(
            start + width * 0.45,
            score + 1.5,
            str(score),
            ha="center",
            fontsize=8.5,
            color="#333333",
        )
    if day.score is not None:
        axes.axhline(day.score, color="#333333", linestyle="--", linewidth=1)
        axes.annotate(
            f"day score {day.score}",
            (1.0, day.score),
            xycoords=("axes fraction", "data"),
            xytext=(-4, 4),
            textcoords="offset points",
            ha="right",
            fontsize=9,
            color="#333333",
        )
    axes.set_ylim(0, 108)
    axes.set_yticks([0, 25, 50, 75, 100])
    axes.set_ylabel("score per 10 min")
    axes.grid(axis="y", color="#E5E5E5")
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)


def _range_chart(figure: Any, summary: RangeSummary, titled: bool) -> None:
    axes = figure.add_axes((CHART_LEFT, 0.2, 0.93 - CHART_LEFT, 0.6))
    days = summary.days
    for index, day in enumerate(days):
        if day.score is None:
            axes.text(
                index,
                3,
                "no data",
                ha="center",
                fontsize=8.5,
                color="#888888",
                rotation=90 if len(days) > 14 else 0,
            )
            continue
        axes.bar(index, max(day.score, 1), width=0.7, color=score_color(day.score))
        # Inside the bar's top, clear of the dashed range score and the pain line.
        inside = day.score >= 15
        axes.text(
            index,
            day.score - 3 if inside else day.score + 2,
            str(day.score),
            ha="center",
            va="top" if inside else "bottom",
            fontsize=10.5,
            weight="bold",
            color="white" if inside else "#333333",
        )
    if summary.score is not None:
        axes.axhline(summary.score, color="#333333", linestyle="--", linewidth=1)
    every = max(1, len(days) // 14)
    ticks = list(range(0, len(days), every))
    axes.set_xticks(ticks, [_day_tick(days[i], every == 1) for i in ticks], fontsize=9)
    axes.set_xlim(-0.6, len(days) - 0.4)
    axes.set_ylim(0, 108)
    axes.set_ylabel("daily score")
    axes.grid(axis="y", color="#E5E5E5")
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    _pain_line(axes, days)
    subtitle = f"range score {summary.score}/100 (dashed)" if summary.score is not None else ""
    trend = trend_words(summary.trend_per_day)
    subtitle += f"  ·  {trend}" if trend else ""
    title = f"Posture from {range_label(summary)}"
    _chart_heading(figure, title, summary.score, subtitle, titled)


def _day_tick(day: DaySummary, full: bool) -> str:
    if not full:
        return day.day.strftime("%m-%d")
    hours = f"{day.present_s / 3600:.1f} h" if day.recorded else ""
    return f"{WEEKDAYS[day.day.weekday()]}\n{day.day.strftime('%m-%d')}\n{hours}"


def _pain_line(axes: Any, days: tuple[DaySummary, ...]) -> None:
    points = [(i, max(p.level for p in d.pains)) for i, d in enumerate(days) if d.pains]
    if not points:
        return
    pain = axes.twinx()
    pain.plot(
        [i for i, _ in points],
        [level for _, level in points],
        marker="D",
        color=PAIN_COLOR,
        linewidth=1.5,
        label="pain (highest of the day)",
    )
    pain.set_ylim(0, 10.8)
    pain.set_ylabel("pain, 0-10", color=PAIN_COLOR)
    pain.tick_params(axis="y", colors=PAIN_COLOR)
    pain.spines["top"].set_visible(False)
    pain.legend(loc="lower right", bbox_to_anchor=(1, 1.0), frameon=False, fontsize=9)
