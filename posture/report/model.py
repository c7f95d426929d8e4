"""The report model: every word and number the renderers share.

A report is a `posture.history.RangeSummary` (one day when its first and last day
are the same). This module turns it into what every output shows alike: labels,
durations, colours, the day's breakdown, the day-by-day rows, the habit tips and
the safety note. The renderers (`table`, `data`, `chart`, `page`) only lay it out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime

from posture.history import VERDICT_ORDER, Block, DaySummary, RangeSummary
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


def day_label(day: date) -> str:
    """'Tue 2026-11-24': unambiguous, and the same in every locale."""
    return f"{WEEKDAYS[day.weekday()]} {day.isoformat()}"


def range_label(summary: RangeSummary) -> str:
    """'Tue 2026-11-24', or 'Mon 2026-11-23 to Tue 2026-11-24'."""
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
    """'09:30': the local time of day."""
    return moment.astimezone().strftime("%H:%M")


def score_color(score: int | None) -> str:
    """Green from 80 (at most a fifth of the time lost), orange from 60, else red-orange."""
    if score is None:
        return STATE_COLORS[Verdict.NO_PERSON]
    if score >= 80:
        return STATE_COLORS[Verdict.GOOD]
    return STATE_COLORS[Verdict.SLOUCH] if score >= 60 else STATE_COLORS[Verdict.FORWARD_HEAD]


# The colour bands of `score_color`, for legends.
SCORE_BANDS = (("80 and up", 80), ("60 to 79", 60), ("under 60", 0))
# A 10-minute block is scored only from this much time at the desk: a score from
# half a second of data is noise, and drawn as a full bar it misleads.
MIN_BLOCK_DATA_S = 60.0


@dataclass(frozen=True)
class BlockCell:
    """How one 10-minute block shows in the grids: its text, colour and tooltip."""

    text: str
    color: str
    title: str


def block_score(block: Block) -> int | None:
    """The block's score where it rests on enough data, else None."""
    return block.score if block.present_s >= MIN_BLOCK_DATA_S else None


def block_cell(block: Block) -> BlockCell:
    """A block's cell: its score coloured by `score_color`; 'away', or '-' for under
    a minute at the desk."""
    score = block_score(block)
    if block.score is None:
        return BlockCell("away", STATE_COLORS[Verdict.NO_PERSON], "away: nobody at the desk")
    if score is None:
        return BlockCell(
            "-", STATE_COLORS[Verdict.NO_PERSON], "under a minute at the desk: too little to score"
        )
    title = f"{duration(block.present_s)} at the desk, mostly {STATE_LABELS[block.state]}"
    return BlockCell(str(score), score_color(score), title)


def trend_words(per_day: float | None) -> str | None:
    """'getting better (+2.0 points a day)' and the like, or None without a trend."""
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


def total_seconds(summary: RangeSummary) -> dict[Verdict, float]:
    """Seconds per verdict over every day of the range."""
    totals: dict[Verdict, float] = {}
    for day in summary.days:
        for verdict, seconds in day.seconds.items():
            totals[verdict] = totals.get(verdict, 0.0) + seconds
    return totals


@dataclass(frozen=True)
class Tip:
    """A habit tip: what it is about, its title, the habit and an exercise."""

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
    seconds = total_seconds(summary)
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


def pain_hint(summary: RangeSummary, command: str = "posture") -> str | None:
    """A pointer to the CSV report for a clinician, when pain was written down
    (`command`: how posture is run, so that the line can be pasted)."""
    if not summary.pains:
        return None
    days = len({p.at.astimezone().date() for p in summary.pains})
    return (
        f"Pain written down on {days} day{'s' if days != 1 else ''}: "
        f"`{command} report --week --format csv` puts posture and pain side by side "
        "for a clinician."
    )


def breakdown(day: DaySummary) -> list[tuple[str, str, str]]:
    """(what, how much, detail) rows: the components shown beside a day's score."""
    present = day.present_s
    rows = [("at the desk", duration(present), monitored(day))]
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
            f"{day.breaks_due} due (every {duration(day.break_due_s)}); "
            f"longest sitting {duration(day.longest_sitting_s)}",
        ),
        ("nudges", str(len(day.nudges)), nudge_detail(day)),
    ]
    return rows


def monitored(day: DaySummary) -> str:
    """'09:00-17:00': when the monitor ran that day (empty when it did not)."""
    if not day.timeline:
        return ""
    return f"{clock(day.timeline[0].start)}-{clock(day.timeline[-1].end)}"


def nudge_detail(day: DaySummary) -> str:
    """Nudges by kind, and the median time back to good posture after one."""
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(day.nudge_counts.items()))
    median = day.median_recovery_s
    if median is None:
        return counts
    return f"{counts}; back to good in {short_duration(median)} (median)"


def pain_where(entry: PainEntry) -> str:
    """Where the pain was, in words ('upper back')."""
    return entry.where.replace("-", " ")


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
            rows.append([label, "-", "", "", "", "", "", "", "", max_pain(day.pains)])
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
                max_pain(day.pains),
            ]
        )
    return rows


def max_pain(pains: Iterable[PainEntry]) -> str:
    """'7/10', the highest level among the entries, or '' when none."""
    levels = [p.level for p in pains]
    return f"{max(levels)}/10" if levels else ""
