"""The pure history core: merging spans, per-minute tallies, the score and its components."""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posture.history import (
    DEFAULT_BREAK_DUE_S,
    HistoryRows,
    MinuteRow,
    MinuteTallies,
    MinuteTally,
    Span,
    bad_credit,
    blocks,
    breaks_due,
    combine_minutes,
    composition,
    day_bounds,
    longest_good_streak,
    merge_spans,
    minute_presence,
    minute_start,
    posture_score,
    recovery_times,
    score_trend,
    sitting_stretches,
    split_by_minute,
    summarize,
    summarize_day,
    timeline,
)
from posture.monitor import MonitorSummary
from posture.nudges import NudgePolicy
from posture.pain import PainEntry
from posture.records import Break, Episode, Nudge, Sample, SessionInfo
from posture.store import HistoryStore
from posture.vocabulary import Verdict

V = Verdict
T0 = datetime(2026, 11, 24, 9, 0).astimezone()


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def minute(
    offset: int, trunk: float | None = None, neck: float | None = None, **seconds: float
) -> MinuteRow:
    """A minute `offset` minutes after T0, e.g. minute(3, good=40, slouch=20, trunk=1.5),
    every second of it measured with these deviations."""
    tally = MinuteTally(at(offset))
    for name, spent in seconds.items():
        tally.add(Verdict(name.replace("_", "-")), spent, neck, trunk)
    return tally.row()


# -- merging spans -----------------------------------------------------------------------------


def test_identical_consecutive_verdicts_merge_into_one_span():
    spans = [
        Span(at(0), at(1), V.SLOUCH),
        Span(at(1), at(2), V.SLOUCH),
        Span(at(2), at(3), V.GOOD),
        Span(at(3), at(4), V.SLOUCH),
    ]
    assert merge_spans(spans) == [
        Span(at(0), at(2), V.SLOUCH),
        Span(at(2), at(3), V.GOOD),
        Span(at(3), at(4), V.SLOUCH),
    ]


def test_a_gap_splits_spans_unless_within_the_allowed_gap():
    spans = [Span(at(0), at(1), V.GOOD), Span(at(1.05), at(2), V.GOOD)]  # 3 s apart
    assert len(merge_spans(spans)) == 2
    assert merge_spans(spans, max_gap_s=5) == [Span(at(0), at(2), V.GOOD)]


def test_merge_spans_of_nothing_and_out_of_order():
    assert merge_spans([]) == []
    with pytest.raises(ValueError, match="time order"):
        merge_spans([Span(at(2), at(3), V.GOOD), Span(at(0), at(1), V.GOOD)])


def test_a_span_cannot_end_before_it_starts_or_be_naive():
    with pytest.raises(ValueError, match="cannot end"):
        Span(at(1), at(0), V.GOOD)
    with pytest.raises(ValueError, match="timezone-aware"):
        Span(datetime(2026, 1, 1), datetime(2026, 1, 2), V.GOOD)


@given(st.lists(st.tuples(st.sampled_from(list(Verdict)), st.integers(1, 600)), max_size=40))
def test_merging_contiguous_spans_keeps_the_total_time_and_leaves_no_equal_neighbours(parts):
    spans, start = [], T0
    for verdict, seconds in parts:
        spans.append(Span(start, start + timedelta(seconds=seconds), verdict))
        start = spans[-1].end
    merged = merge_spans(spans)
    assert sum(s.seconds for s in merged) == sum(s.seconds for s in spans)
    assert all(a.verdict is not b.verdict for a, b in itertools.pairwise(merged))
    assert all(a.end == b.start for a, b in itertools.pairwise(merged))


# -- per-minute tallies ------------------------------------------------------------------------


def test_split_by_minute_cuts_at_minute_boundaries():
    pieces = split_by_minute(at(0) + timedelta(seconds=58), at(2) + timedelta(seconds=1))
    assert pieces == [(at(0), 2.0), (at(1), 60.0), (at(2), 1.0)]
    assert split_by_minute(at(1), at(1)) == []
    assert minute_start(at(3) + timedelta(seconds=59.9)) == at(3)


def test_tally_weights_means_by_duration_and_merges_exactly():
    tally = MinuteTally(at(0))
    tally.add(V.GOOD, 30, neck_excess=0.2, trunk_excess=0.4)
    tally.add(V.SLOUCH, 10, neck_excess=None, trunk_excess=1.6)
    tally.add(V.NO_PERSON, 20)
    row = tally.row()
    assert row.seconds == {V.GOOD: 30, V.SLOUCH: 10, V.NO_PERSON: 20}
    assert row.present_s == 40
    assert row.mean_neck_excess == pytest.approx(0.2) and row.neck_s == 30
    assert row.mean_trunk_excess == pytest.approx(0.7) and row.trunk_s == 40
    again = MinuteTally(at(0), base=row)
    again.add(V.GOOD, 20, trunk_excess=0.1)
    merged = again.row()
    assert merged.seconds[V.GOOD] == 50 and merged.trunk_s == 60
    assert merged.mean_trunk_excess == pytest.approx((40 * 0.7 + 20 * 0.1) / 60)


def test_samples_become_minutes_in_one_place_finished_ones_handed_on_in_order():
    finished: list[MinuteRow] = []
    seeded: list[datetime] = []

    def seed(start: datetime) -> MinuteRow | None:
        seeded.append(start)
        return MinuteRow(start, {V.GOOD: 5.0}) if start == at(0) and finished else None

    tallies = MinuteTallies(finished.append, seed)
    assert tallies.current() is None
    tallies.add(Sample(at(0) + timedelta(seconds=58), 58.0, V.GOOD, 90))
    tallies.add(Sample(at(1) + timedelta(seconds=3), 5.0, V.SLOUCH, 50))  # 2 s + 3 s
    assert [row.seconds for row in finished] == [{V.GOOD: 58, V.SLOUCH: 2}]
    current = tallies.current()
    assert current is not None and current.start == at(1) and current.seconds == {V.SLOUCH: 3}
    # The wall clock steps back into minute 0: minute 1 is handed on first, then
    # minute 0 reopens on what `seed` knows of it.
    tallies.add(Sample(at(0) + timedelta(seconds=30), 1.0, V.GOOD, 90))
    assert [row.start for row in finished] == [at(0), at(1)]
    assert seeded == [at(0), at(1), at(0)]
    current = tallies.current()
    assert current is not None and current.seconds == {V.GOOD: 6.0}


def test_minute_row_validation():
    with pytest.raises(ValueError, match="whole minute"):
        MinuteRow(at(0) + timedelta(seconds=1), {})
    with pytest.raises(ValueError, match="non-negative"):
        MinuteRow(at(0), {V.GOOD: -1.0})
    with pytest.raises(ValueError, match="non-negative"):
        MinuteRow(at(0), {V.GOOD: 1.0}, trunk_s=math.nan)


def test_rows_of_the_same_minute_from_two_sessions_combine():
    rows = combine_minutes([minute(1, good=30), minute(0, slouch=60), minute(1, good=20)])
    assert [r.start for r in rows] == [at(0), at(1)]
    assert rows[1].seconds == {V.GOOD: 50}


# -- the score ---------------------------------------------------------------------------------


def test_score_of_nothing_or_only_away_is_none():
    assert posture_score([]) is None
    assert posture_score([minute(0, no_person=60)]) is None


@pytest.mark.parametrize(
    ("rows", "score"),
    [
        ([minute(0, good=60)], 100),
        ([minute(0, good=60), minute(1, no_person=60)], 100),  # away does not count
        ([minute(0, slouch=60, trunk=1.0)], 50),  # just past the threshold: half
        ([minute(0, slouch=60, trunk=0.4)], 50),  # a diluted mean counts as the threshold
        ([minute(0, slouch=60, trunk=1.5)], 25),
        ([minute(0, slouch=60, trunk=2.0)], 0),  # one tolerance further: nothing
        ([minute(0, slouch=60, trunk=3.7)], 0),
        ([minute(0, reclined=60, trunk=1.2)], 40),
        ([minute(0, forward_head=60, neck=1.8)], 10),
        ([minute(0, forward_head=60)], 50),  # excess not measured
        ([minute(0, too_close=60)], 50),
        ([minute(0, lateral_lean=60)], 50),
        ([minute(0, person_no_pose=60)], 0),  # leaning in counts as bad
        ([minute(0, good=45, slouch=15, trunk=1.4)], 82),  # (45 + 15 * 0.3) / 60
        ([minute(0, good=60), minute(1, forward_head=60, neck=2.5)], 50),
    ],
)
def test_score_definition(rows, score):
    assert posture_score(rows) == score


def demo_samples(start: datetime) -> list[Sample]:
    """40 s like the demo's, a sample every 0.5 s: upright, slouched, the head forward,
    upright again."""
    samples = []
    for index in range(1, 81):
        t = index / 2
        if t <= 4 or t > 36:
            verdict, neck, trunk = V.GOOD, 0.2, 0.3
        elif t <= 20:
            verdict, neck, trunk = V.SLOUCH, 0.5, 1.6 + (t - 4) / 40
        else:
            verdict, neck, trunk = V.FORWARD_HEAD, 1.8, 0.6
        samples.append(Sample(start + timedelta(seconds=t), 0.5, verdict, None, neck, trunk))
    return samples


def test_the_score_does_not_depend_on_where_the_minutes_fall():
    """The same 40 s, started at every half second of a minute: the day's score is the
    same. (Weighting each minute by its mean deviations, as before, moved it by 20 points.)"""
    scores, per_minute_means = set(), []
    for shift in range(120):
        store = HistoryStore.in_memory(now=lambda: T0 + timedelta(days=1))
        start = T0 + timedelta(seconds=shift / 2)
        status_line = MonitorSummary(start)
        store.begin_session(SessionInfo(start, "demo.mp4", "video", None))
        for sample in demo_samples(start):
            store.add_sample(sample)
            status_line.add(sample)
        store.end_session(start + timedelta(seconds=40))
        rows = store.days(T0.date(), T0.date())
        scores |= {summarize_day(T0.date(), rows).score, status_line.score}
        per_minute_means.append(
            posture_score(dataclasses.replace(row, credit_s=None) for row in rows.minutes)
        )
        store.close()
    assert scores == {28}  # 8 s good, 32 s well past the thresholds: about 0.1 each
    old = [s for s in per_minute_means if s is not None]
    assert max(old) - min(old) >= 15  # the old weighting moved with the minutes


@given(st.floats(0, 10), st.floats(0, 10))
def test_bad_credit_never_rises_with_excess_and_stays_within_half(low, high):
    low, high = sorted((low, high))
    assert 0 <= bad_credit(high) <= bad_credit(low) <= 0.5


# -- components --------------------------------------------------------------------------------


def test_timeline_and_longest_good_streak_from_minutes():
    rows = [minute(i, good=60) for i in range(5)]
    rows += [minute(5, good=20, slouch=40, trunk=1.5)]
    rows += [minute(i, good=60) for i in range(6, 8)]
    rows += [minute(i, good=60) for i in range(10, 17)]  # after a gap: monitor off
    spans = timeline(rows)
    assert [(s.verdict, s.seconds / 60) for s in spans] == [
        (V.GOOD, 5),
        (V.SLOUCH, 1),
        (V.GOOD, 2),
        (V.GOOD, 7),
    ]
    streak = longest_good_streak(rows)
    assert streak is not None and streak.start == at(10) and streak.good_s == 7 * 60
    # A session that starts mid-minute: the streak counts its good seconds, not whole minutes.
    short = longest_good_streak([minute(0, good=20), minute(1, good=15, slouch=5)])
    assert short is not None and (short.start, short.end, short.good_s) == (at(0), at(2), 35)
    assert longest_good_streak([minute(0, slouch=60)]) is None


def test_composition_keeps_every_verdict_of_a_minute_in_its_share():
    rows = [minute(0, good=45, slouch=15), minute(1, good=30), minute(3, slouch=60)]
    assert [(s.verdict, s.seconds) for s in composition(rows)] == [
        (V.GOOD, 45),
        (V.SLOUCH, 15),
        (V.GOOD, 60),  # 30 s recorded, the whole minute drawn
        (V.SLOUCH, 60),  # after a minute with no row: a gap, not merged
    ]
    assert composition(rows)[3].start == at(3)


def test_blocks_are_aligned_to_ten_minutes_of_the_local_clock():
    rows = [minute(i, good=60) for i in range(7, 14)]
    found = blocks(rows)
    assert [b.start for b in found] == [at(0), at(10)]
    assert [b.present_s for b in found] == [180, 240]
    assert all(b.score == 100 and b.state is V.GOOD for b in found)


def test_breaks_fall_due_every_45_minutes_of_one_stretch_of_sitting():
    assert DEFAULT_BREAK_DUE_S == NudgePolicy().break_due_s == 45 * 60
    ninety = [minute(i, good=60) for i in range(90)]
    assert sitting_stretches(minute_presence(ninety), []) == [90 * 60]
    assert breaks_due(sitting_stretches(minute_presence(ninety), [])) == 2
    # A break after 44 minutes: two stretches of 44 and 43 min, none due.
    pause = Break(at(44), at(47))
    rows = [minute(i, good=60) for i in range(44)]
    rows += [minute(i, no_person=60) for i in range(44, 47)]
    rows += [minute(i, good=60) for i in range(47, 90)]
    stretches = sitting_stretches(minute_presence(rows), [pause])
    assert stretches == [44 * 60, 43 * 60]
    assert breaks_due(stretches) == 0
    # A missing stretch of minutes (monitor off) also ends a stretch.
    gap = [minute(i, good=60) for i in range(40)] + [minute(i, good=60) for i in range(50, 90)]
    assert sitting_stretches(minute_presence(gap), []) == [40 * 60, 40 * 60]


def test_breaks_fall_due_by_the_configured_interval():
    ninety = [minute(i, good=60) for i in range(90)]
    assert breaks_due(sitting_stretches(minute_presence(ninety), []), every_s=30 * 60) == 3
    # Break reminders switched off: none ever due.
    assert breaks_due(sitting_stretches(minute_presence(ninety), []), every_s=0) == 0
    day = summarize_day(T0.date(), HistoryRows(tuple(ninety)), break_due_s=20 * 60)
    assert (day.breaks_due, day.break_due_s) == (4, 20 * 60)


def test_recovery_is_measured_from_the_nudge_to_the_end_of_its_bad_stretch():
    episodes = [
        Episode(at(10), at(14), V.SLOUCH),
        Episode(at(14), at(15), V.FORWARD_HEAD),  # one stretch with the slouch
        Episode(at(30), at(31), V.SLOUCH),
    ]
    nudges = [
        Nudge(at(10.5), "posture", "Sit back."),
        Nudge(at(30.5), "distance", "Lean back."),
        Nudge(at(12), "break", "Stand up."),  # not about posture
        Nudge(at(50), "posture", "Sit back."),  # no episode kept around it
    ]
    assert recovery_times(nudges, episodes) == [4.5 * 60, 30.0]


# -- summaries ---------------------------------------------------------------------------------


def test_day_summary_components():
    rows = [minute(i, good=60, trunk=0.3) for i in range(20)]
    rows += [minute(i, slouch=60, trunk=1.5) for i in range(20, 30)]
    episodes = (Episode(at(20), at(30), V.SLOUCH),)
    nudges = (Nudge(at(20.5), "posture", "Sit back."), Nudge(at(25), "break", "Stand."))
    pains = (PainEntry(at(25), 4, "neck", "stiff"),)
    day = summarize_day(
        T0.date(), HistoryRows(minutes=tuple(rows), episodes=episodes, nudges=nudges, pains=pains)
    )
    assert day.score == round(100 * (1200 + 600 * 0.25) / 1800)
    assert day.present_s == 1800 and day.seconds_in(V.SLOUCH) == 600
    assert day.episodes == episodes and day.longest_episode == episodes[0]
    assert day.longest_good_streak is not None and day.longest_good_streak.good_s == 1200
    assert day.breaks_taken == 0 and day.breaks_due == 0 and day.longest_sitting_s == 1800
    assert day.nudge_counts == {"posture": 1, "break": 1}
    assert day.median_recovery_s == 9.5 * 60
    assert day.pains == pains and len(day.blocks) == 3 and day.recorded


def test_empty_days_are_summarized_as_empty():
    summary = summarize(date(2026, 11, 20), date(2026, 11, 24), HistoryRows())
    assert len(summary.days) == 5 and not summary.recorded and summary.score is None
    assert all(d.score is None and not d.recorded for d in summary.days)
    with pytest.raises(ValueError, match="before it starts"):
        summarize(date(2026, 11, 24), date(2026, 11, 20), HistoryRows())


def test_trend_is_points_per_day_and_needs_three_scored_days():
    assert score_trend([50, None, 70]) is None
    assert score_trend([50, 60, None, 80]) == pytest.approx(10.0)
    assert score_trend([90, 80, 70]) == pytest.approx(-10.0)


def test_a_day_follows_the_local_calendar_across_a_dst_change(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        start, end = day_bounds(date(2026, 3, 29))  # clocks go forward: 23 hours
        assert (end - start) == timedelta(hours=23)
        assert start.hour == 0 and end.astimezone().hour == 0
    finally:
        monkeypatch.undo()
        time.tzset()
