"""The report in the terminal: rich tables of the day's breakdown, or one row per day."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from posture.history import DaySummary, RangeSummary
from posture.pain import PainEntry, printable
from posture.report.model import (
    RANGE_COLUMNS,
    RANGE_NOTE,
    SAFETY_NOTE,
    SCORE_BANDS,
    SCORE_SUMMARY,
    Tip,
    block_cell,
    breakdown,
    choose_tips,
    day_label,
    empty_message,
    pain_hint,
    pain_where,
    range_label,
    range_rows,
    score_color,
    trend_words,
)


def render_table(summary: RangeSummary, command: str = "posture") -> RenderableType:
    """The terminal report: the day's breakdown and timeline, or one row per day
    (`command`: how posture is run, in the hints)."""
    parts: list[RenderableType] = []
    message = empty_message(summary)
    if message:
        parts.append(Text(message))
    elif summary.single_day:
        parts.extend(_day_parts(summary.days[0]))
    else:
        parts.extend(_range_parts(summary))
    if summary.pains:
        parts.append(_pain_table(summary.pains, with_date=not summary.single_day))
    tips = choose_tips(summary)
    if tips:
        parts.append(_tips_table(tips))
    hint = pain_hint(summary, command)
    if hint:
        parts.append(Text(hint))
    if summary.recorded or summary.pains:
        parts.append(Text(SAFETY_NOTE, style="italic"))
    return Group(*_spaced(parts))


def _spaced(parts: list[RenderableType]) -> list[RenderableType]:
    out: list[RenderableType] = []
    for part in parts:
        if out:
            out.append(Text(""))
        out.append(part)
    return out


def _score_text(score: int | None) -> Text:
    if score is None:
        return Text("-")
    return Text(f"{score}/100", style=f"bold {score_color(score)}")


def _day_parts(day: DaySummary) -> list[RenderableType]:
    title = Text.assemble(f"Posture on {day_label(day.day)}: ", _score_text(day.score))
    table = Table(show_header=False, box=None, pad_edge=False, padding=(0, 2, 0, 0))
    table.add_column("what")
    table.add_column("how much", justify="right")
    table.add_column("detail")
    for what, amount, detail in breakdown(day):
        table.add_row(what, amount, detail)
    return [
        Group(title, Text(SCORE_SUMMARY, style="dim")),
        table,
        Group(_block_grid(day), _legend()),
    ]


def _block_grid(day: DaySummary) -> Table:
    """Score per 10 minutes, one row per hour, each cell coloured by its score."""
    grid = Table(title="Score per 10 minutes", title_justify="left", box=None, pad_edge=False)
    grid.add_column("hour")
    for minute in range(0, 60, 10):
        grid.add_column(f":{minute:02d}", justify="right")
    by_hour: dict[int, dict[int, Text]] = {}
    for block in day.blocks:
        local = block.start.astimezone()
        cell = block_cell(block)
        by_hour.setdefault(local.hour, {})[local.minute // 10] = Text(cell.text, style=cell.color)
    for hour in sorted(by_hour):
        cells = [by_hour[hour].get(i, Text("·", style="dim")) for i in range(6)]
        grid.add_row(f"{hour:02d}", *cells)
    return grid


def _legend() -> Text:
    bands = (Text(label, style=score_color(low)) for label, low in SCORE_BANDS)
    return Text("  ").join([*bands, Text("- under a minute at the desk", style="dim")])


def _range_parts(summary: RangeSummary) -> list[RenderableType]:
    title = Text.assemble(f"Posture from {range_label(summary)}: ", _score_text(summary.score))
    trend = trend_words(summary.trend_per_day)
    if trend:
        title.append(f", {trend}")
    note = Text(RANGE_NOTE, style="dim")
    return [Group(title, Text(SCORE_SUMMARY, style="dim")), Group(_day_by_day(summary), note)]


def _day_by_day(summary: RangeSummary) -> Text:
    """One line per day in aligned columns (the day left, the numbers right), the score
    in its colour. Laid out here rather than by a rich Table, which takes a third of
    a second for the 366 rows of a year."""
    rows = range_rows(summary)
    columns = zip(RANGE_COLUMNS, *rows, strict=True)
    widths = [max(len(cell) for cell in column) for column in columns]

    def line(cells: list[str], styles: list[str]) -> Text:
        text = Text()
        for index, (cell, width, style) in enumerate(zip(cells, widths, styles, strict=True)):
            if index:
                text.append("  ")
            text.append(cell.ljust(width) if index == 0 else cell.rjust(width), style)
        return text

    lines = [line(list(RANGE_COLUMNS), ["bold"] * len(widths))]
    for cells, day in zip(rows, summary.days, strict=True):
        styles = [""] * len(widths)
        styles[1] = score_color(day.score) if day.score is not None else ""
        lines.append(line(cells, styles))
    return Text("\n").join(lines)


def _pain_table(pains: Iterable[PainEntry], with_date: bool) -> Table:
    table = Table(title="Pain journal", title_justify="left", box=None, pad_edge=False)
    for column in ("when", "level", "where", "feels", "note"):
        table.add_column(column, overflow="fold")
    for entry in pains:
        local = entry.at.astimezone()
        when = local.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")
        table.add_row(
            when,
            f"{entry.level}/10",
            pain_where(entry),
            Text(printable(entry.feels)),
            Text(printable(entry.note)),
        )
    return table


def _tips_table(tips: Iterable[Tip]) -> Table:
    table = Table(title="Habit tips", title_justify="left", box=None, show_header=False)
    table.add_column("bullet", width=1)
    table.add_column("tip")
    for tip in tips:
        text = Text.assemble(
            (tip.title, "bold"),
            f": {tip.habit}\n",
            ("Stretch and strengthen: ", "dim"),
            tip.exercise,
        )
        table.add_row("•", text)
    return table
