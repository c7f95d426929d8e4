"""The daily review, rendered: a terminal table, JSON, CSV, a PNG chart and an HTML page.

Presentation only: every number comes from `posture.history` (a `RangeSummary`;
one day when its first and last day are the same). Habit tips are chosen here
from what dominated the range. Nothing here touches the network: the HTML page
carries its chart and its styles inside it, and forbids loading anything else.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from posture.history import (
    VERDICT_ORDER,
    DaySummary,
    RangeSummary,
    Span,
    day_bounds,
    posture_score,
)
from posture.pain import PainEntry
from posture.vocabulary import Verdict

SAFETY_NOTE = (
    "This is not medical advice. See a clinician when upper-back pain persists or gets "
    "worse, and seek emergency care at once when back pain comes with chest pain or "
    "trouble breathing."
)
SCORE_SUMMARY = (
    "Score: the share of your time at the desk spent in good posture; bad posture counts "
    "less the further past its threshold it goes. Away time does not count."
)

STATE_LABELS = {
    Verdict.GOOD: "good",
    Verdict.SLOUCH: "slouch",
    Verdict.FORWARD_HEAD: "forward head",
    Verdict.RECLINED: "reclined",
    Verdict.TOO_CLOSE: "too close",
    Verdict.LATERAL_LEAN: "leaning sideways",
    Verdict.PERSON_NO_POSE: "no pose (leaning in)",
    Verdict.NO_PERSON: "away",
}
# Okabe-Ito colours: told apart with the common colour-vision deficiencies.
STATE_COLORS = {
    Verdict.GOOD: "#009E73",
    Verdict.SLOUCH: "#E69F00",
    Verdict.FORWARD_HEAD: "#D55E00",
    Verdict.RECLINED: "#CC79A7",
    Verdict.TOO_CLOSE: "#F0E442",
    Verdict.LATERAL_LEAN: "#56B4E9",
    Verdict.PERSON_NO_POSE: "#7F3C8D",
    Verdict.NO_PERSON: "#D9D9D9",
}
BREAK_COLOR = "#9ECAE1"
BLOCK_COLOR = "#3C6EAF"
PAIN_COLOR = "#B2182B"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Chart size in pixels (a 12 x 5.4 inch figure at 100 dpi): wide enough for a working day.
CHART_DPI = 100
CHART_SIZE_PX = (1200, 540)
# Left margin (figure fraction): room for the timeline's row labels.
CHART_LEFT = 0.105


# -- words and numbers -------------------------------------------------------------------------


def day_label(day: date) -> str:
    """'Tue 2026-11-24': unambiguous, and the same in every locale."""
    return f"{WEEKDAYS[day.weekday()]} {day.isoformat()}"


def range_label(summary: RangeSummary) -> str:
    if summary.single_day:
        return day_label(summary.first)
    return f"{day_label(summary.first)} to {day_label(summary.last)}"


def duration(seconds: float) -> str:
    """'40 s', '45 min', '1 h 05 min': seconds only under a minute, so a few do not read as none."""
    if seconds < 59.5:
        return f"{round(seconds)} s" if seconds >= 0.5 else "0 min"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def short_duration(seconds: float) -> str:
    """'40 s', '2 min 10 s': for recovery times, where seconds matter."""
    whole = round(seconds)
    if whole < 60 or whole % 60 == 0:
        return f"{whole} s" if whole < 60 else f"{whole // 60} min"
    return f"{whole // 60} min {whole % 60:02d} s"


def clock(moment: datetime) -> str:
    return moment.astimezone().strftime("%H:%M")


def score_color(score: int | None) -> str:
    """Green from 80 (at most a fifth of the time lost), orange from 60, else red-orange."""
    if score is None:
        return STATE_COLORS[Verdict.NO_PERSON]
    if score >= 80:
        return STATE_COLORS[Verdict.GOOD]
    return STATE_COLORS[Verdict.SLOUCH] if score >= 60 else STATE_COLORS[Verdict.FORWARD_HEAD]


def trend_words(per_day: float | None) -> str | None:
    if per_day is None:
        return None
    if abs(per_day) < 1:
        return f"about the same ({per_day:+.1f} points a day)"
    direction = "getting better" if per_day > 0 else "getting worse"
    return f"{direction} ({per_day:+.1f} points a day)"


def empty_message(summary: RangeSummary) -> str | None:
    """The plain sentence for a range with no posture in it, else None."""
    if summary.recorded:
        return None
    if summary.single_day:
        return f"No posture recorded on {summary.first.isoformat()}."
    return f"No posture recorded from {summary.first.isoformat()} to {summary.last.isoformat()}."


def _total_seconds(summary: RangeSummary) -> dict[Verdict, float]:
    totals: dict[Verdict, float] = {}
    for day in summary.days:
        for verdict, seconds in day.seconds.items():
            totals[verdict] = totals.get(verdict, 0.0) + seconds
    return totals


# -- habit tips --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tip:
    topic: str
    title: str
    habit: str
    exercise: str


TIPS = {
    "forward-head": Tip(
        "forward-head",
        "Head forward of the shoulders",
        "Raise the screen so its top edge is at eye level, about an arm's length away; "
        "on a laptop, a stand and a separate keyboard do it.",
        "Chin tucks: glide your head straight back (a small double chin), hold for five "
        "seconds, 10 times, a few times a day.",
    ),
    "too-close": Tip(
        "too-close",
        "Leaning in to the screen",
        "Keep the screen an arm's length away and enlarge the text (Ctrl and +) "
        "instead of leaning in to read.",
        "Every 20 minutes, look at something far away for 20 seconds and let your head "
        "settle back over your shoulders.",
    ),
    "slouch": Tip(
        "slouch",
        "Slouching",
        "Sit back so the chair supports your mid and lower back (a small cushion helps), "
        "feet flat, and draw your shoulder blades gently back and down.",
        "Open the upper back: 10 slow extensions over the top of the backrest and a 30-second "
        "doorway chest stretch; strengthen it with rows or band pull-aparts 2-3 times a week.",
    ),
    "reclined": Tip(
        "reclined",
        "Reclining",
        "Sit up onto your sit bones with the backrest more upright: reclining far makes "
        "the head reach forward for the screen.",
        "Strengthen the trunk: a 20-30 second plank or 10 bird-dogs a side, a few times a week.",
    ),
    "lateral-lean": Tip(
        "lateral-lean",
        "Leaning to one side",
        "Centre the screen and keyboard in front of you, uncross your legs and keep both "
        "forearms supported.",
        "Side stretch: reach one arm overhead and lean away, 20 seconds each side.",
    ),
    "breaks": Tip(
        "breaks",
        "Too few breaks",
        "Stand up and move every {break_due}: refill your water, take calls standing, "
        "walk to a window.",
        "While standing: 10 shoulder rolls and 10 wall angels (back to a wall, slide the "
        "arms up and down).",
    ),
    "keep": Tip(
        "keep",
        "Good sitting",
        "Mostly good posture: keep the screen where it is and keep taking breaks.",
        "Keep the upper back strong: rows or band pull-aparts 2-3 times a week, and a "
        "doorway chest stretch after long days.",
    ),
}
# A topic is worth a tip when it took at least this share of the time at the desk...
TIP_MIN_SHARE = 0.05
# ...and a missed break weighs like this much bad posture.
MISSED_BREAK_WEIGHT_S = 15 * 60


def choose_tips(summary: RangeSummary, limit: int = 2) -> tuple[Tip, ...]:
    """One or two tips for what dominated the range; 'keep going' when nothing did."""
    if not summary.recorded:
        return ()
    seconds = _total_seconds(summary)
    present = sum(s for v, s in seconds.items() if v is not Verdict.NO_PERSON)
    missed = sum(max(0, d.breaks_due - d.breaks_taken) for d in summary.days)
    weights = {
        "forward-head": seconds.get(Verdict.FORWARD_HEAD, 0.0),
        "slouch": seconds.get(Verdict.SLOUCH, 0.0),
        "too-close": seconds.get(Verdict.TOO_CLOSE, 0.0) + seconds.get(Verdict.PERSON_NO_POSE, 0.0),
        "reclined": seconds.get(Verdict.RECLINED, 0.0),
        "lateral-lean": seconds.get(Verdict.LATERAL_LEAN, 0.0),
    }
    chosen = [t for t, s in weights.items() if present > 0 and s >= TIP_MIN_SHARE * present]
    if missed:
        weights["breaks"] = missed * MISSED_BREAK_WEIGHT_S
        chosen.append("breaks")
    chosen.sort(key=lambda topic: -weights[topic])
    tips = tuple(TIPS[topic] for topic in chosen[:limit]) or (TIPS["keep"],)
    # The break tip names the user's own interval.
    every = duration(summary.break_due_s)
    return tuple(replace(tip, habit=tip.habit.format(break_due=every)) for tip in tips)


def pain_hint(summary: RangeSummary) -> str | None:
    if not summary.pains:
        return None
    days = len({p.at.astimezone().date() for p in summary.pains})
    return (
        f"Pain written down on {days} day{'s' if days != 1 else ''}: "
        "`posture report --week --format csv` puts posture and pain side by side "
        "for a clinician."
    )


# -- the breakdown shared by the table, the page and the JSON ----------------------------------


def breakdown(day: DaySummary) -> list[tuple[str, str, str]]:
    """(what, how much, detail) rows: the components shown beside a day's score."""
    present = day.present_s
    rows = [("at the desk", duration(present), _monitored(day))]
    for verdict in VERDICT_ORDER:
        if verdict is Verdict.NO_PERSON:
            continue
        seconds = day.seconds_in(verdict)
        share = f"{100 * seconds / present:.0f} %" if present else ""
        rows.append((STATE_LABELS[verdict], duration(seconds), share))
    rows.append(("away", duration(day.seconds_in(Verdict.NO_PERSON)), "monitor on, nobody there"))
    longest, streak = day.longest_episode, day.longest_good_streak
    episode = (
        f"longest {duration(longest.seconds)}, {STATE_LABELS[longest.verdict]} "
        f"from {clock(longest.start)}"
        if longest
        else ""
    )
    rows += [
        ("episodes", str(len(day.episodes)), episode),
        (
            "longest good streak",
            duration(streak.good_s) if streak else "0 min",
            f"{clock(streak.start)}-{clock(streak.end)}" if streak else "",
        ),
        (
            "breaks taken",
            str(day.breaks_taken),
            f"{day.breaks_due} due (one per {duration(day.break_due_s)} of sitting); "
            f"longest sitting {duration(day.longest_sitting_s)}",
        ),
        ("nudges", str(len(day.nudges)), _nudge_detail(day)),
    ]
    return rows


def _monitored(day: DaySummary) -> str:
    if not day.timeline:
        return ""
    return f"{clock(day.timeline[0].start)}-{clock(day.timeline[-1].end)}"


def _nudge_detail(day: DaySummary) -> str:
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(day.nudge_counts.items()))
    median = day.median_recovery_s
    if median is None:
        return counts
    return f"{counts}; good posture again {short_duration(median)} after one (median)"


def _pain_where(entry: PainEntry) -> str:
    return entry.where.replace("-", " ")


# -- terminal ----------------------------------------------------------------------------------


def render_table(summary: RangeSummary) -> RenderableType:
    """The terminal report: the day's breakdown and timeline, or one row per day."""
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
    hint = pain_hint(summary)
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
    """Score per 10 minutes, one row per hour, each cell coloured by its main state."""
    grid = Table(title="Score per 10 minutes", title_justify="left", box=None, pad_edge=False)
    grid.add_column("hour")
    for minute in range(0, 60, 10):
        grid.add_column(f":{minute:02d}", justify="right")
    by_hour: dict[int, dict[int, Text]] = {}
    for block in day.blocks:
        local = block.start.astimezone()
        cell = "away" if block.score is None else str(block.score)
        color = STATE_COLORS[block.state]
        by_hour.setdefault(local.hour, {})[local.minute // 10] = Text(cell, style=color)
    for hour in sorted(by_hour):
        cells = [by_hour[hour].get(i, Text("·", style="dim")) for i in range(6)]
        grid.add_row(f"{hour:02d}", *cells)
    return grid


def _legend() -> Text:
    return Text("  ").join(Text(STATE_LABELS[v], style=STATE_COLORS[v]) for v in VERDICT_ORDER)


def _range_parts(summary: RangeSummary) -> list[RenderableType]:
    title = Text.assemble(f"Posture from {range_label(summary)}: ", _score_text(summary.score))
    trend = trend_words(summary.trend_per_day)
    if trend:
        title.append(f", {trend}")
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0))
    for column in RANGE_COLUMNS:
        table.add_column(column, justify="left" if column == "day" else "right", no_wrap=True)
    for row, day in zip(range_rows(summary), summary.days, strict=True):
        score = Text(row[1], style=score_color(day.score) if day.score is not None else "")
        table.add_row(row[0], score, *row[2:])
    note = Text(RANGE_NOTE, style="dim")
    return [Group(title, Text(SCORE_SUMMARY, style="dim")), Group(table, note)]


# Bad posture shown together in the day-by-day table's "other bad" column.
OTHER_BAD = (Verdict.RECLINED, Verdict.TOO_CLOSE, Verdict.LATERAL_LEAN, Verdict.PERSON_NO_POSE)
RANGE_COLUMNS = (
    "day",
    "score",
    "desk",
    "good",
    "slouch",
    "fwd head",
    "other",
    "episodes",
    "breaks",
    "pain",
)


RANGE_NOTE = (
    "Times in h:mm: at the desk, good, slouch, forward head, other bad posture "
    "(reclined, too close, leaning sideways, no pose). Breaks taken/due. Pain: the "
    "day's highest level."
)


def hours_minutes(seconds: float) -> str:
    """'3:58' (h:mm): compact enough for a row per day."""
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def range_rows(summary: RangeSummary) -> list[list[str]]:
    """One row of strings per day, in RANGE_COLUMNS order; times as h:mm."""
    rows = []
    for day in summary.days:
        label = f"{WEEKDAYS[day.day.weekday()]} {day.day.strftime('%m-%d')}"
        if not day.recorded:
            rows.append([label, "-", "", "", "", "", "", "", "", _max_pain(day.pains)])
            continue
        rows.append(
            [
                label,
                "-" if day.score is None else str(day.score),
                hours_minutes(day.present_s),
                hours_minutes(day.seconds_in(Verdict.GOOD)),
                hours_minutes(day.seconds_in(Verdict.SLOUCH)),
                hours_minutes(day.seconds_in(Verdict.FORWARD_HEAD)),
                hours_minutes(sum(day.seconds_in(v) for v in OTHER_BAD)),
                str(len(day.episodes)),
                f"{day.breaks_taken}/{day.breaks_due}",
                _max_pain(day.pains),
            ]
        )
    return rows


def _max_pain(pains: Iterable[PainEntry]) -> str:
    levels = [p.level for p in pains]
    return f"{max(levels)}/10" if levels else ""


def _pain_table(pains: Iterable[PainEntry], with_date: bool) -> Table:
    table = Table(title="Pain journal", title_justify="left", box=None, pad_edge=False)
    for column in ("when", "level", "where", "feels", "note"):
        table.add_column(column, overflow="fold")
    for entry in pains:
        local = entry.at.astimezone()
        when = local.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")
        table.add_row(when, f"{entry.level}/10", _pain_where(entry), entry.feels, entry.note)
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


# -- JSON and CSV ------------------------------------------------------------------------------


def _minutes(seconds: float) -> float:
    return round(seconds / 60, 1)


def _pain_json(entry: PainEntry) -> dict[str, Any]:
    return {
        "at": entry.at.astimezone().isoformat(timespec="seconds"),
        "level": entry.level,
        "where": entry.where,
        "feels": entry.feels,
        "note": entry.note,
    }


def day_json(day: DaySummary) -> dict[str, Any]:
    longest, streak = day.longest_episode, day.longest_good_streak
    return {
        "date": day.day.isoformat(),
        "score": day.score,
        "minutes": {
            "present": _minutes(day.present_s),
            **{v.value: _minutes(day.seconds_in(v)) for v in VERDICT_ORDER},
        },
        "episodes": {
            "count": len(day.episodes),
            "longest_minutes": _minutes(longest.seconds) if longest else None,
            "longest_verdict": longest.verdict.value if longest else None,
            "longest_start": longest.start.astimezone().isoformat(timespec="seconds")
            if longest
            else None,
        },
        "longest_good_streak_minutes": _minutes(streak.good_s) if streak else 0.0,
        "breaks": {
            "taken": day.breaks_taken,
            "due": day.breaks_due,
            "longest_sitting_minutes": _minutes(day.longest_sitting_s),
        },
        "nudges": dict(sorted(day.nudge_counts.items())),
        "median_recovery_seconds": None
        if day.median_recovery_s is None
        else round(day.median_recovery_s, 1),
        "blocks": [
            {
                "start": b.start.astimezone().isoformat(timespec="minutes"),
                "score": b.score,
                "state": b.state.value,
            }
            for b in day.blocks
        ],
        "pain": [_pain_json(p) for p in day.pains],
    }


def to_json(summary: RangeSummary) -> str:
    document = {
        "from": summary.first.isoformat(),
        "to": summary.last.isoformat(),
        "score": summary.score,
        "score_definition": " ".join((posture_score.__doc__ or "").split()),
        "trend_points_per_day": None
        if summary.trend_per_day is None
        else round(summary.trend_per_day, 2),
        "message": empty_message(summary),
        "days": [day_json(day) for day in summary.days],
        "tips": [
            {"topic": t.topic, "title": t.title, "habit": t.habit, "exercise": t.exercise}
            for t in choose_tips(summary)
        ],
        "safety_note": SAFETY_NOTE,
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


CSV_COLUMNS = (
    "record",
    "date",
    "time",
    "score",
    "present_min",
    "good_min",
    "slouch_min",
    "forward_head_min",
    "reclined_min",
    "too_close_min",
    "lateral_lean_min",
    "no_pose_min",
    "episodes",
    "longest_episode_min",
    "longest_good_streak_min",
    "breaks_taken",
    "breaks_due",
    "posture_nudges",
    "median_recovery_s",
    "pain_level",
    "pain_where",
    "pain_feels",
    "pain_note",
)


def _csv_day(day: DaySummary) -> dict[str, Any]:
    row: dict[str, Any] = {"record": "day", "date": day.day.isoformat()}
    if not day.recorded:
        return row
    longest, streak = day.longest_episode, day.longest_good_streak
    row.update(
        score="" if day.score is None else day.score,
        present_min=_minutes(day.present_s),
        good_min=_minutes(day.seconds_in(Verdict.GOOD)),
        slouch_min=_minutes(day.seconds_in(Verdict.SLOUCH)),
        forward_head_min=_minutes(day.seconds_in(Verdict.FORWARD_HEAD)),
        reclined_min=_minutes(day.seconds_in(Verdict.RECLINED)),
        too_close_min=_minutes(day.seconds_in(Verdict.TOO_CLOSE)),
        lateral_lean_min=_minutes(day.seconds_in(Verdict.LATERAL_LEAN)),
        no_pose_min=_minutes(day.seconds_in(Verdict.PERSON_NO_POSE)),
        episodes=len(day.episodes),
        longest_episode_min=_minutes(longest.seconds) if longest else "",
        longest_good_streak_min=_minutes(streak.good_s) if streak else 0.0,
        breaks_taken=day.breaks_taken,
        breaks_due=day.breaks_due,
        posture_nudges=day.nudge_counts.get("posture", 0) + day.nudge_counts.get("distance", 0),
        median_recovery_s="" if day.median_recovery_s is None else round(day.median_recovery_s),
    )
    return row


def to_csv(summary: RangeSummary) -> str:
    """One 'day' row per day, then one 'pain' row per journal entry: for a clinician."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    for day in summary.days:
        writer.writerow(_csv_day(day))
    for entry in summary.pains:
        local = entry.at.astimezone()
        writer.writerow(
            {
                "record": "pain",
                "date": local.date().isoformat(),
                "time": local.strftime("%H:%M"),
                "pain_level": entry.level,
                "pain_where": entry.where,
                "pain_feels": entry.feels,
                "pain_note": entry.note,
            }
        )
    return out.getvalue()


# -- files -------------------------------------------------------------------------------------


def write_private(path: Path, data: bytes) -> None:
    """Writes (or replaces) a report file readable by the user only: it is health data."""
    descriptor = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with open(descriptor, "wb") as out:
        out.write(data)


# -- the chart ---------------------------------------------------------------------------------


def chart_png(summary: RangeSummary, titled: bool = True) -> bytes:
    """A day's timeline and score per 10 minutes, or a bar chart of daily scores, as PNG.

    Exactly CHART_SIZE_PX. Matplotlib draws on its Agg canvas directly (no
    pyplot): no display is needed and no global backend is switched.
    `titled=False` leaves out the title and score, for a page that shows them.
    """
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
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=CHART_DPI)
    return buffer.getvalue()


def write_chart(summary: RangeSummary, path: Path) -> None:
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
    handles = _strip(strip, day, hours)
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


def _strip(axes: Any, day: DaySummary, hours: Any) -> list[Any]:
    """The timeline rows: posture by state; breaks and nudges; pain entries (when any).

    Returns the legend handles for what was drawn.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = []
    rows = ["pain", "breaks, nudges", "posture"] if day.pains else ["breaks, nudges", "posture"]
    top = len(rows) - 1
    # Minutes coloured by their main state, then the episodes on top: they are exact
    # to the second, where a minute's colour hides a short stretch of bad posture.
    spans = [*day.timeline, *(Span(e.start, e.end, e.verdict) for e in day.episodes)]
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
        axes.annotate(
            f"{entry.level}/10",
            (hours(entry.at), 0),
            xytext=(7, -4),
            textcoords="offset points",
            fontsize=9,
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
    """The score of each 10 minutes, one neutral colour: the strip above shows the states."""
    for block in day.blocks:
        if block.score is None:
            continue
        start, width = hours(block.start), (block.end - block.start).total_seconds() / 3600
        axes.bar(start, block.score, width=width * 0.9, align="edge", color=BLOCK_COLOR)
        axes.text(
            start + width * 0.45,
            block.score + 1.5,
            str(block.score),
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


# -- the HTML page -----------------------------------------------------------------------------

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
        color = STATE_COLORS[block.state]
        text = "away" if block.score is None else str(block.score)
        by_hour.setdefault(local.hour, {})[local.minute // 10] = (
            f'<td style="background:{color};color:{_ink(color)}" '
            f'title="{_e(STATE_LABELS[block.state])}">{_e(text)}</td>'
        )
    head = "<th>hour</th>" + "".join(f"<th>:{m:02d}</th>" for m in range(0, 60, 10))
    rows = "".join(
        f"<tr><th>{hour:02d}</th>"
        + "".join(by_hour[hour].get(i, "<td>·</td>") for i in range(6))
        + "</tr>"
        for hour in sorted(by_hour)
    )
    legend = "".join(
        f'<span style="background:{STATE_COLORS[v]};color:{_ink(STATE_COLORS[v])}">'
        f"{_e(STATE_LABELS[v])}</span>"
        for v in VERDICT_ORDER
    )
    return (
        f'<table class="blocks"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
        f'<p class="legend">{legend}</p>'
    )


def _html_pains(summary: RangeSummary) -> str:
    rows = [
        [
            p.at.astimezone().strftime("%Y-%m-%d %H:%M"),
            f"{p.level}/10",
            _pain_where(p),
            p.feels,
            p.note,
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
    write_private(path, to_html(summary).encode("utf-8"))
