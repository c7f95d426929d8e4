"""Posture over time: the daily score, its components and the timeline, from stored rows.

Pure: no I/O and no clock. `posture.store` turns the monitor's samples into
per-minute rows (with `MinuteTally`) and reads rows back; this module sums them
up into day and range summaries; `posture.report` renders those.

Times are timezone-aware; a day is a local calendar day (`day_bounds`). The
score is defined once, in `posture_score`.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, TypeVar

from posture.nudges import NudgePolicy
from posture.pain import PainEntry
from posture.records import Break, Episode, Nudge, Sample, Span, check_aware
from posture.vocabulary import POSTURE_NUDGE_KINDS, Verdict

T = TypeVar("T")

MINUTE_S = 60
# The report's timeline resolution: fine enough to show a morning slump, coarse
# enough that one noisy minute does not colour the chart.
BLOCK_S = 10 * 60
# A movement break falls due after this much sitting: by default the nudge policy's
# own; a report passes the user's configured `break_due` (`posture.config`).
DEFAULT_BREAK_DUE_S = NudgePolicy.break_due_s
# Bad posture just past its threshold still earns this share of a good second;
# the share falls linearly to 0 one tolerance further (see `posture_score`).
BAD_CREDIT_AT_THRESHOLD = 0.5
# Two episodes this close together are one stretch of bad posture for recovery
# times: the monitor closes an episode on a verdict change, not on a fix.
SAME_RUN_GAP_S = 2.0

# Display and tie-break order: good first, away last.
VERDICT_ORDER = (
    Verdict.GOOD,
    Verdict.SLOUCH,
    Verdict.FORWARD_HEAD,
    Verdict.RECLINED,
    Verdict.TOO_CLOSE,
    Verdict.LATERAL_LEAN,
    Verdict.PERSON_NO_POSE,
    Verdict.NO_PERSON,
)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """Local midnight to the next local midnight (23 or 25 hours on a DST change)."""
    start = datetime.combine(day, time()).astimezone()
    end = datetime.combine(day + timedelta(days=1), time()).astimezone()
    return start, end


# -- spans -------------------------------------------------------------------------------------


def merge_spans(spans: Iterable[Span], max_gap_s: float = 0.0) -> list[Span]:
    """Identical consecutive verdicts merge into one span.

    Neighbours merge when they share a verdict and the second starts at most
    `max_gap_s` after the first ends (a short gap is a missed sample, not a
    change of posture). Spans must come in order of their start.
    """
    merged: list[Span] = []
    for span in spans:
        if merged and span.start < merged[-1].start:
            raise ValueError(
                f"spans must be in time order: {span.start} comes after {merged[-1].start}"
            )
        last = merged[-1] if merged else None
        gap = (span.start - last.end).total_seconds() if last else math.inf
        if last is not None and last.verdict is span.verdict and gap <= max_gap_s:
            merged[-1] = Span(last.start, max(last.end, span.end), last.verdict)
        else:
            merged.append(span)
    return merged


# -- per-minute rows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MinuteRow:
    """What one wall-clock minute of monitoring left behind (the store's `minutes` row).

    `seconds` holds the seconds spent in each verdict (away = `NO_PERSON`).
    `credit_s` is those seconds weighted as `posture_score` says, each by the
    posture of its own moment (None, for a row made by hand: weighted by the
    minute's mean deviations, see `credit`). Each mean is weighted by the seconds it was
    measured over (`neck_s`, `trunk_s`), so rows of the same minute can be merged
    exactly.
    Excesses are in tolerances past the calibrated baseline: 1 is the threshold.
    """

    start: datetime
    seconds: Mapping[Verdict, float]
    credit_s: float | None = None
    mean_neck_excess: float | None = None
    neck_s: float = 0.0
    mean_trunk_excess: float | None = None
    trunk_s: float = 0.0

    def __post_init__(self) -> None:
        check_aware(self.start)
        if self.start.timestamp() % MINUTE_S:
            raise ValueError(f"a minute row must start on a whole minute, got {self.start}")
        weights = (*self.seconds.values(), self.credit, self.neck_s, self.trunk_s)
        if not all(math.isfinite(s) and s >= 0 for s in weights):
            raise ValueError(f"seconds must be finite and non-negative, got {weights}")

    def seconds_in(self, verdict: Verdict) -> float:
        """Seconds spent in `verdict` (0 when none)."""
        return self.seconds.get(verdict, 0.0)

    @property
    def present_s(self) -> float:
        """Seconds someone was in front of the camera (everything but away)."""
        return sum(s for v, s in self.seconds.items() if v is not Verdict.NO_PERSON)

    @property
    def credit(self) -> float:
        """The present seconds weighted as `posture_score` says: `credit_s`, or when it
        is not known, each second weighted by the minute's mean deviations."""
        if self.credit_s is not None:
            return self.credit_s
        return sum(
            seconds * moment_credit(verdict, self.mean_neck_excess, self.mean_trunk_excess)
            for verdict, seconds in self.seconds.items()
        )

    @property
    def state(self) -> Verdict:
        """The verdict that filled most of the minute (ties: the earlier in VERDICT_ORDER)."""
        state, most = VERDICT_ORDER[0], -1.0
        for verdict in VERDICT_ORDER:
            seconds = self.seconds.get(verdict, 0.0)
            if seconds > most:
                state, most = verdict, seconds
        return state


class MinuteTally:
    """The running totals of one wall-clock minute. Mutable: the store keeps one per session.

    Holds sums, not means, so adding seconds and seeding from a stored row
    (`base`) are exact; `row()` gives the minute so far.
    """

    def __init__(self, start: datetime, base: MinuteRow | None = None) -> None:
        self.start = start
        self.seconds: dict[Verdict, float] = {}
        self.credit_s = 0.0
        self._sums = {"neck": 0.0, "trunk": 0.0}
        self._weights = {"neck": 0.0, "trunk": 0.0}
        if base is not None:
            self.merge(base)

    def add(
        self,
        verdict: Verdict,
        seconds: float,
        neck_excess: float | None = None,
        trunk_excess: float | None = None,
    ) -> None:
        """Adds `seconds` in `verdict`, with the deviations measured over them."""
        self.seconds[verdict] = self.seconds.get(verdict, 0.0) + seconds
        self.credit_s += seconds * moment_credit(verdict, neck_excess, trunk_excess)
        for key, value in (("neck", neck_excess), ("trunk", trunk_excess)):
            if value is not None and math.isfinite(value):
                self._sums[key] += value * seconds
                self._weights[key] += seconds

    def merge(self, row: MinuteRow) -> None:
        """Adds a row of the same minute (another session's, or the stored one)."""
        for verdict, seconds in row.seconds.items():
            self.seconds[verdict] = self.seconds.get(verdict, 0.0) + seconds
        self.credit_s += row.credit
        for key, mean, weight in (
            ("neck", row.mean_neck_excess, row.neck_s),
            ("trunk", row.mean_trunk_excess, row.trunk_s),
        ):
            if mean is not None:
                self._sums[key] += mean * weight
                self._weights[key] += weight

    def _mean(self, key: str) -> float | None:
        weight = self._weights[key]
        return self._sums[key] / weight if weight > 0 else None

    def row(self) -> MinuteRow:
        """The minute so far."""
        return MinuteRow(
            start=self.start,
            seconds=dict(self.seconds),
            credit_s=self.credit_s,
            mean_neck_excess=self._mean("neck"),
            neck_s=self._weights["neck"],
            mean_trunk_excess=self._mean("trunk"),
            trunk_s=self._weights["trunk"],
        )


def minute_start(moment: datetime) -> datetime:
    """The wall-clock minute `moment` falls in, in `moment`'s time zone."""
    stamp = moment.timestamp()
    return datetime.fromtimestamp(stamp - stamp % MINUTE_S, tz=moment.tzinfo)


def split_by_minute(start: datetime, end: datetime) -> list[tuple[datetime, float]]:
    """[start, end) cut at minute boundaries: (minute, seconds inside it) pairs."""
    check_aware(start, end)
    pieces: list[tuple[datetime, float]] = []
    t0, t1 = start.timestamp(), end.timestamp()
    while t0 < t1:
        minute = t0 - t0 % MINUTE_S
        piece_end = min(t1, minute + MINUTE_S)
        pieces.append((datetime.fromtimestamp(minute, tz=end.tzinfo), piece_end - t0))
        t0 = piece_end
    return pieces


class MinuteTallies:
    """Samples cut at wall-clock minute boundaries into running minute tallies.

    The one place where samples become minutes: the history store (which writes each
    finished minute) and the monitor's running summary (which scores it) both feed
    their samples here, so the status line and the day's report agree to the point.
    `finished` is called with each minute the samples have moved past, before the
    next one opens; `seed` gives what is already known of a minute being opened (the
    store's row when the wall clock stepped back into it), else None.
    """

    def __init__(
        self,
        finished: Callable[[MinuteRow], None],
        seed: Callable[[datetime], MinuteRow | None] = lambda minute: None,
    ) -> None:
        self.open: MinuteTally | None = None
        self._finished = finished
        self._seed = seed

    def add(self, sample: Sample) -> None:
        """Adds the sample's seconds to the minute(s) it covers."""
        start = sample.at - timedelta(seconds=sample.duration_s)
        for minute, seconds in split_by_minute(start, sample.at):
            if self.open is None or self.open.start != minute:
                if self.open is not None:
                    self._finished(self.open.row())
                self.open = MinuteTally(minute, self._seed(minute))
            self.open.add(sample.verdict, seconds, sample.neck_excess, sample.trunk_excess)

    def current(self) -> MinuteRow | None:
        """The open minute so far, or None before the first sample."""
        return None if self.open is None else self.open.row()


def combine_minutes(rows: Iterable[MinuteRow]) -> list[MinuteRow]:
    """One row per minute, in time order: rows of the same minute (two sessions) merged."""
    rows = list(rows)
    stamps = [row.start.timestamp() for row in rows]
    if all(a < b for a, b in itertools.pairwise(stamps)):
        return rows  # the usual case: one session at a time, read in order
    tallies: dict[float, MinuteTally] = {}
    for row in rows:
        key = row.start.timestamp()
        if key in tallies:
            tallies[key].merge(row)
        else:
            tallies[key] = MinuteTally(row.start, row)
    return [tallies[key].row() for key in sorted(tallies)]


# -- the score ---------------------------------------------------------------------------------


def bad_credit(excess: float | None) -> float:
    """The share of a good second that a second of bad posture earns (see `posture_score`)."""
    if excess is None or not math.isfinite(excess):
        return BAD_CREDIT_AT_THRESHOLD
    return BAD_CREDIT_AT_THRESHOLD * min(1.0, max(0.0, 2.0 - max(excess, 1.0)))


def moment_credit(
    verdict: Verdict, neck_excess: float | None = None, trunk_excess: float | None = None
) -> float:
    """The weight of one second in `verdict` with these deviations (see `posture_score`)."""
    if verdict is Verdict.GOOD:
        return 1.0
    if verdict in (Verdict.SLOUCH, Verdict.RECLINED):
        return bad_credit(trunk_excess)
    if verdict is Verdict.FORWARD_HEAD:
        return bad_credit(neck_excess)
    if verdict in (Verdict.TOO_CLOSE, Verdict.LATERAL_LEAN):
        return BAD_CREDIT_AT_THRESHOLD
    return 0.0  # no pose (leaning in), or away (which does not count at all)


def posture_score(minutes: Iterable[MinuteRow]) -> int | None:
    """The posture score, 0-100: the share of present time spent in good posture,
    with bad posture weighted by how far past its threshold it was.

    Every second someone sat in front of the camera counts, as:
    - 1 in good posture;
    - (2 - e) / 2, clipped to [0, ½], in slouch or reclined posture, where e is
      the trunk excess of that moment in tolerances (1 = the threshold); in
      forward-head posture the same with the neck excess. So bad posture just past
      its threshold (or not measured) counts ½, and 0 from one tolerance further on;
    - ½ too close to the screen or leaning sideways (their excess is not kept);
    - 0 present without a pose: almost always leaning right into the screen.
    Away time does not count. Score = 100 * (sum of those weights) / (present
    seconds), rounded; None when nobody was there. A day spent upright scores
    100, a day of slight slouch 50, a day of deep slouch 0. Each moment is weighted
    by its own posture, so where the wall-clock minutes fall does not move the score.
    """
    tally = ScoreTally()
    for row in minutes:
        tally.add(row)
    return tally.score()


@dataclass
class ScoreTally:
    """The running sums behind `posture_score`, so that a score kept up to date all
    day (the monitor's status line) costs the same at 17:00 as at 9:00."""

    credit: float = 0.0
    present: float = 0.0

    def add(self, row: MinuteRow) -> None:
        """Counts a minute in."""
        self.credit += row.credit
        self.present += row.present_s

    def score(self, *more: MinuteRow) -> int | None:
        """`posture_score` of the rows added so far and `more`."""
        credit = self.credit + sum(row.credit for row in more)
        present = self.present + sum(row.present_s for row in more)
        return score_of(credit, present)


def score_of(credit_s: float, present_s: float) -> int | None:
    """The score of weighted seconds over present seconds, 0-100 (see `posture_score`)."""
    if present_s <= 0:
        return None
    return round(100 * min(1.0, credit_s / present_s))


@dataclass(frozen=True)
class Totals:
    """Seconds per verdict and their score weights, summed over any stretch of minutes
    (a 10-minute block, a day, a range): what a score and a breakdown need."""

    seconds: Mapping[Verdict, float] = field(default_factory=dict)
    credit_s: float = 0.0  # the present seconds weighted as `posture_score` says
    minutes: int = 0  # how many minute rows went in

    @classmethod
    def of(cls, rows: Iterable[MinuteRow]) -> Totals:
        """The totals of these minutes."""
        seconds: dict[Verdict, float] = {}
        credit, count = 0.0, 0
        for row in rows:
            for verdict, value in row.seconds.items():
                seconds[verdict] = seconds.get(verdict, 0.0) + value
            credit += row.credit
            count += 1
        return cls(seconds, credit, count)

    def __add__(self, other: Totals) -> Totals:
        """The totals of both stretches together."""
        seconds = dict(self.seconds)
        for verdict, value in other.seconds.items():
            seconds[verdict] = seconds.get(verdict, 0.0) + value
        return Totals(seconds, self.credit_s + other.credit_s, self.minutes + other.minutes)

    @property
    def present_s(self) -> float:
        """Seconds someone was in front of the camera (everything but away)."""
        return sum(s for v, s in self.seconds.items() if v is not Verdict.NO_PERSON)

    @property
    def score(self) -> int | None:
        """`posture_score` of the minutes summed up here."""
        return score_of(self.credit_s, self.present_s)


# -- day components ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """A stretch of the timeline (10 minutes in reports) with its own score."""

    start: datetime
    end: datetime
    score: int | None
    state: Verdict  # the verdict that filled most of the block
    present_s: float


def blocks(minutes: Sequence[MinuteRow], size_s: int = BLOCK_S) -> list[Block]:
    """The minutes grouped into aligned blocks of `size_s` (local clock), each scored."""
    groups: dict[float, list[MinuteRow]] = {}
    for row in minutes:
        # Aligned on the local wall clock (09:00, 09:10...), whatever the UTC offset.
        local = row.start.astimezone()
        since_midnight = (local.hour * 60 + local.minute) * MINUTE_S
        groups.setdefault(local.timestamp() - since_midnight % size_s, []).append(row)
    result = []
    for key in sorted(groups):
        rows = groups[key]
        total = MinuteTally(rows[0].start)
        for row in rows:
            total.merge(row)
        start = datetime.fromtimestamp(key).astimezone()
        result.append(
            Block(
                start,
                start + timedelta(seconds=size_s),
                posture_score(rows),
                total.row().state,
                sum(r.present_s for r in rows),
            )
        )
    return result


def _spans(
    pieces: Iterable[tuple[float, float, Verdict]], zone: tzinfo | None, max_gap_s: float = 0.0
) -> list[Span]:
    """Pieces (start and end in Unix seconds, verdict) in time order, neighbours of one
    verdict at most `max_gap_s` apart merged, as Spans: `merge_spans` in plain numbers,
    for the thousands of pieces of a range of days."""
    runs: list[list[Any]] = []
    for start, end, verdict in pieces:
        if runs and runs[-1][2] is verdict and start - runs[-1][1] <= max_gap_s:
            runs[-1][1] = max(runs[-1][1], end)
        else:
            runs.append([start, end, verdict])
    return [
        Span(datetime.fromtimestamp(start, zone), datetime.fromtimestamp(end, zone), verdict)
        for start, end, verdict in runs
    ]


def timeline(minutes: Sequence[MinuteRow]) -> list[Span]:
    """Each minute's state, identical neighbours merged; a missing minute leaves a gap."""
    zone = minutes[0].start.tzinfo if minutes else None
    return _spans(
        ((stamp, stamp + MINUTE_S, row.state) for row in minutes for stamp in [_stamp(row)]),
        zone,
    )


def composition(minutes: Sequence[MinuteRow]) -> list[Span]:
    """Each minute cut into its verdicts' shares, neighbours of one verdict merged.

    Where `timeline` colours a minute by its main state, this keeps the rest: a
    minute of 45 s upright and 15 s slouched shows both. Within a minute the order
    is unknown; the shares follow VERDICT_ORDER (good first).
    """
    pieces: list[tuple[float, float, Verdict]] = []
    for row in minutes:
        recorded = sum(row.seconds.values())
        start = _stamp(row)
        for verdict in VERDICT_ORDER:
            seconds = row.seconds.get(verdict, 0.0)
            if seconds > 0:
                end = start + MINUTE_S * seconds / recorded
                pieces.append((start, end, verdict))
                start = end
    return _spans(pieces, minutes[0].start.tzinfo if minutes else None, max_gap_s=0.001)


def _stamp(row: MinuteRow) -> float:
    return row.start.timestamp()


@dataclass(frozen=True)
class Streak:
    """Consecutive minutes spent mostly in good posture."""

    start: datetime
    end: datetime
    good_s: float  # the seconds of good posture in those minutes: a session may start mid-minute


def longest_good_streak(minutes: Sequence[MinuteRow]) -> Streak | None:
    """The run of consecutive good-posture minutes with the most good seconds (the
    first of equals); a missing minute ends a run, as in the `timeline`."""
    best: list[float] | None = None  # [start, end, good seconds]
    run: list[float] | None = None  # the run going on: `best` itself once it leads
    for row in minutes:
        if row.state is not Verdict.GOOD:
            run = None
            continue
        stamp, good = _stamp(row), row.seconds_in(Verdict.GOOD)
        if run is not None and stamp == run[1]:
            run[1], run[2] = run[1] + MINUTE_S, run[2] + good
        else:
            run = [stamp, stamp + MINUTE_S, good]
        if best is None or run[2] > best[2]:
            best = run
    if best is None:
        return None
    zone = minutes[0].start.tzinfo
    start_at, end_at = (datetime.fromtimestamp(t, zone) for t in best[:2])
    return Streak(start_at, end_at, best[2])


def minute_presence(minutes: Iterable[MinuteRow]) -> list[tuple[float, float]]:
    """(minute start as Unix seconds, present seconds) per minute: what sitting needs."""
    return [(row.start.timestamp(), row.present_s) for row in minutes]


def sitting_stretches(
    presence: Iterable[tuple[float, float]], breaks: Sequence[Break]
) -> list[float]:
    """Present seconds in each stretch of sitting: consecutive minutes between breaks.

    `presence`: (minute start in Unix seconds, present seconds) in time order, see
    `minute_presence`. A recorded break, or a missing minute (the monitor was not
    running), ends a stretch. A minute belongs after a break that started before its
    middle.
    """
    starts = sorted(b.start.timestamp() for b in breaks)
    stretches: list[float] = []
    previous_stamp: float | None = None
    previous_after = after = 0
    for stamp, present in presence:
        while after < len(starts) and starts[after] <= stamp + MINUTE_S / 2:
            after += 1
        if previous_stamp is None or stamp - previous_stamp > MINUTE_S or after != previous_after:
            stretches.append(0.0)
        stretches[-1] += present
        previous_stamp, previous_after = stamp, after
    return stretches


def breaks_due(stretches: Iterable[float], every_s: float = DEFAULT_BREAK_DUE_S) -> int:
    """How many times a break fell due: once per full `every_s` of one stretch of sitting."""
    if every_s <= 0:
        return 0  # break reminders switched off
    return sum(int(seconds // every_s) for seconds in stretches)


def _bad_runs(episodes: Iterable[Episode]) -> list[tuple[datetime, datetime]]:
    runs: list[tuple[datetime, datetime]] = []
    for episode in sorted(episodes, key=lambda e: e.start):
        if runs and (episode.start - runs[-1][1]).total_seconds() <= SAME_RUN_GAP_S:
            runs[-1] = (runs[-1][0], max(runs[-1][1], episode.end))
        else:
            runs.append((episode.start, episode.end))
    return runs


def recovery_times(nudges: Iterable[Nudge], episodes: Iterable[Episode]) -> list[float]:
    """Seconds from each posture or distance nudge to good posture again.

    An episode ends when good posture returns, so the recovery is the end of
    the stretch of bad posture the nudge fell in. A nudge outside any episode
    (the episode was too short to keep) is not counted.
    """
    runs = _bad_runs(episodes)
    times = []
    for nudge in nudges:
        if nudge.kind not in POSTURE_NUDGE_KINDS:
            continue
        # The last run that starts at or before the nudge: runs do not overlap.
        index = bisect.bisect_right(runs, nudge.at, key=lambda run: run[0]) - 1
        if index >= 0 and nudge.at <= runs[index][1]:
            times.append((runs[index][1] - nudge.at).total_seconds())
    return times


# -- summaries ---------------------------------------------------------------------------------


def _slice(items: tuple[T, ...], key: Callable[[T], Any], start: Any, end: Any) -> tuple[T, ...]:
    """The items (in order of `key`) whose key is in [start, end)."""
    low = bisect.bisect_left(items, start, key=key)
    return items[low : bisect.bisect_left(items, end, lo=low, key=key)]


@dataclass(frozen=True)
class HistoryRows:
    """Everything stored for a stretch of time, as the store reads it back.

    The minutes come as rows (`minutes`) where a report draws them: a day's
    timeline, its 10-minute scores, its longest good streak. For longer ranges
    the store sums them up in SQL instead (a year is 120,000 minutes): `day_totals`
    per local day, and `presence`, (minute start in Unix seconds, present seconds)
    per minute, which is all that stretches of sitting need. Each kind is kept in
    time order.
    """

    minutes: tuple[MinuteRow, ...] = ()
    episodes: tuple[Episode, ...] = ()
    nudges: tuple[Nudge, ...] = ()
    breaks: tuple[Break, ...] = ()
    pains: tuple[PainEntry, ...] = ()
    day_totals: Mapping[date, Totals] | None = None
    presence: tuple[tuple[float, float], ...] = ()

    def in_order(self) -> HistoryRows:
        """These rows, each kind sorted by time (the store reads them sorted already;
        `presence` only ever comes from the store)."""
        ordered: dict[str, Any] = {}
        for name, key in _TIMED.items():
            items = getattr(self, name)
            if any(key(a) > key(b) for a, b in itertools.pairwise(items)):
                ordered[name] = tuple(sorted(items, key=key))
        return dataclasses.replace(self, **ordered) if ordered else self

    @property
    def detailed(self) -> bool:
        """Whether the minutes come one by one (else only summed up per day)."""
        return self.day_totals is None

    def within(self, start: datetime, end: datetime) -> HistoryRows:
        """The rows that start in [start, end), found by bisection: rows `in_order`."""
        timed = {name: _slice(getattr(self, name), key, start, end) for name, key in _TIMED.items()}
        return HistoryRows(
            **timed,
            day_totals=self.day_totals,
            presence=_slice(self.presence, _first, start.timestamp(), end.timestamp()),
        )


def _first(pair: tuple[float, float]) -> float:
    return pair[0]


# How each kind of row is ordered in time, in HistoryRows' field order.
_TIMED: dict[str, Callable[[Any], datetime]] = {
    "minutes": lambda row: row.start,
    "episodes": lambda row: row.start,
    "nudges": lambda row: row.at,
    "breaks": lambda row: row.start,
    "pains": lambda row: row.at,
}


@dataclass(frozen=True)
class DaySummary:
    """One local day: the score and everything shown beside it."""

    day: date
    score: int | None
    seconds: Mapping[Verdict, float]  # per verdict; away = NO_PERSON
    episodes: tuple[Episode, ...]  # stretches of bad posture, exact to the second
    longest_good_streak: Streak | None
    breaks: tuple[Break, ...]
    breaks_due: int
    break_due_s: float  # the sitting that makes one break due (the user's setting)
    longest_sitting_s: float
    nudges: tuple[Nudge, ...]
    recovery_s: tuple[float, ...]  # after each posture or distance nudge
    pains: tuple[PainEntry, ...]
    blocks: tuple[Block, ...]  # () when not `detailed`
    timeline: tuple[Span, ...]  # each minute's main state; () when not `detailed`
    minutes_recorded: int = 0
    detailed: bool = True  # False: summed up in the store, no blocks, timeline or streak
    composition: tuple[Span, ...] = ()  # every verdict of each minute; () when not `detailed`

    @property
    def present_s(self) -> float:
        """Seconds someone was in front of the camera (everything but away)."""
        return sum(s for v, s in self.seconds.items() if v is not Verdict.NO_PERSON)

    @property
    def recorded(self) -> bool:
        """Whether the monitor ran at all that day."""
        return self.minutes_recorded > 0

    @property
    def longest_episode(self) -> Episode | None:
        """The longest stretch of bad posture, or None."""
        return max(self.episodes, key=lambda e: e.seconds, default=None)

    @property
    def breaks_taken(self) -> int:
        """How many movement breaks were taken."""
        return len(self.breaks)

    @property
    def nudge_counts(self) -> dict[str, int]:
        """Nudges by kind: posture, distance, break."""
        counts: dict[str, int] = {}
        for nudge in self.nudges:
            counts[nudge.kind] = counts.get(nudge.kind, 0) + 1
        return counts

    @property
    def median_recovery_s(self) -> float | None:
        """The median seconds from a posture nudge to good posture again, or None."""
        return statistics.median(self.recovery_s) if self.recovery_s else None

    def seconds_in(self, verdict: Verdict) -> float:
        """Seconds spent in `verdict` that day (0 when none)."""
        return self.seconds.get(verdict, 0.0)


def summarize_day(
    day: date, rows: HistoryRows, break_due_s: float = DEFAULT_BREAK_DUE_S
) -> DaySummary:
    """The day's summary from rows that may cover more than the day.

    `break_due_s`: the sitting after which a break falls due (the user's setting).
    """
    return _summarize_day(day, rows.in_order(), break_due_s)[0]


def _summarize_day(day: date, rows: HistoryRows, break_due_s: float) -> tuple[DaySummary, Totals]:
    """The day's summary and totals, from rows `in_order`."""
    start, end = day_bounds(day)
    mine = rows.within(start, end)
    if rows.day_totals is None:
        minutes = combine_minutes(mine.minutes)
        totals = Totals.of(minutes)
        presence: Sequence[tuple[float, float]] = minute_presence(minutes)
        detail = (tuple(blocks(minutes)), tuple(timeline(minutes)), longest_good_streak(minutes))
        parts = tuple(composition(minutes))
    else:
        totals = rows.day_totals.get(day, Totals())
        presence = mine.presence
        detail, parts = ((), (), None), ()
    stretches = sitting_stretches(presence, mine.breaks)
    # Episodes reach back a day, so a nudge just after midnight finds the one it interrupted.
    recent = _slice(rows.episodes, _TIMED["episodes"], start - timedelta(days=1), end)
    summary = DaySummary(
        day=day,
        score=totals.score,
        seconds=dict(totals.seconds),
        episodes=mine.episodes,
        longest_good_streak=detail[2],
        breaks=mine.breaks,
        breaks_due=breaks_due(stretches, break_due_s),
        break_due_s=break_due_s,
        longest_sitting_s=max(stretches, default=0.0),
        nudges=mine.nudges,
        recovery_s=tuple(recovery_times(mine.nudges, recent)),
        pains=mine.pains,
        blocks=detail[0],
        timeline=detail[1],
        minutes_recorded=totals.minutes,
        detailed=rows.detailed,
        composition=parts,
    )
    return summary, totals


def score_trend(scores: Sequence[int | None]) -> float | None:
    """Points per day: the least-squares slope of the daily scores (days without one skipped).

    None with fewer than 3 scored days: two points always make a "trend".
    """
    points = [(float(i), float(s)) for i, s in enumerate(scores) if s is not None]
    if len(points) < 3:
        return None
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


@dataclass(frozen=True)
class RangeSummary:
    """Consecutive days, first to last inclusive: a day report when first == last."""

    first: date
    last: date
    days: tuple[DaySummary, ...]
    score: int | None  # over the whole range, by the same definition as a day's
    trend_per_day: float | None
    pains: tuple[PainEntry, ...] = field(default=())
    break_due_s: float = DEFAULT_BREAK_DUE_S  # the sitting that makes one break due

    @property
    def single_day(self) -> bool:
        """Whether the range is one day (a day report)."""
        return self.first == self.last

    @property
    def recorded(self) -> bool:
        """Whether the monitor ran on any day of the range."""
        return any(day.recorded for day in self.days)


def summarize(
    first: date, last: date, rows: HistoryRows, break_due_s: float = DEFAULT_BREAK_DUE_S
) -> RangeSummary:
    """Every day from `first` to `last` (inclusive), empty days included.

    `break_due_s`: the sitting after which a break falls due (the user's setting).
    """
    if last < first:
        raise ValueError(f"the range ends ({last}) before it starts ({first})")
    count = (last - first).days + 1
    rows = rows.in_order()
    pairs = [_summarize_day(first + timedelta(days=i), rows, break_due_s) for i in range(count)]
    days = tuple(day for day, _ in pairs)
    start, end = day_bounds(first)[0], day_bounds(last)[1]
    mine = rows.within(start, end)
    return RangeSummary(
        first=first,
        last=last,
        days=days,
        score=sum((totals for _, totals in pairs), Totals()).score,
        trend_per_day=score_trend([day.score for day in days]),
        pains=mine.pains,
        break_due_s=break_due_s,
    )
