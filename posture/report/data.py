"""The report as data: JSON (everything) and CSV (one row per day, then the pain entries)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from posture.history import VERDICT_ORDER, DaySummary, RangeSummary, posture_score
from posture.pain import PainEntry, printable
from posture.report.model import SAFETY_NOTE, choose_tips, empty_message
from posture.vocabulary import Verdict


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
    """One day of the JSON report."""
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
    """The whole report as JSON: each day, the tips, the score's definition."""
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
                "pain_feels": printable(entry.feels),
                "pain_note": printable(entry.note),
            }
        )
    return out.getvalue()
