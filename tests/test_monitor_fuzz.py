"""Random scenes and commands through the real monitor: whatever is in front of the
camera, and whenever the user pauses, resumes or snoozes or the laptop sleeps, the run
ends cleanly and its records stay honest.

The monitor, the camera source, the metrics, the set-up check and the judges run for
real on a fake camera, clocks and pose model (`tests/test_stale.py`'s `camera_monitor`).
A run is a scene, stretches of poses over 60 to 120 s of fake time (every code of
`tests/fakes.py` and the set-up poses of `tests/test_stale.py`), and a script of
commands at fake times: pause (timed or until resumed), resume, snooze, and a suspend
(the wall clock jumps, the monotonic one does not). Commands come from the status
callback, as a tray's would between two frames, and from the monitor's waits, since a
paused monitor reports no status. Each judge the monitor can have runs it: a profile
that records its camera set-up, one that does not, and the CLI's learning scorer for
someone who never calibrated.

The test keeps its own account of when the monitor must be paused or snoozed, from
when it sent the commands (the monitor takes a command a little later, so it is paused
at least then), and of when it may be paused, from the latest it can have taken them
(so it is watching at least outside those times). The invariants are the `check_*`
functions below.

The runs are derandomized and use no example database, so a failure in CI is the same
failure locally: hypothesis prints the falsifying scene and script.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from posture.cli.monitor import _scorer_for
from posture.control import Controls, Pause, Resume, Snapshot, Snooze, State
from posture.monitor import MAX_SAMPLE_S, MonitorSettings, MonitorSummary
from posture.nudges import NudgeEvent, NudgePolicy
from posture.provisional import LearningScorer
from posture.records import Break, Episode, Nudge, Sample
from posture.scoring import Judge, Scorer
from posture.stale import MOVED
from posture.timeline import REANCHOR_S
from posture.vocabulary import Verdict
from tests import fakes
from tests.fakes import Clocks, profile_of
from tests.test_monitor import RecordingRecorder
from tests.test_stale import BACK, SLUMPED, TILTED, camera_monitor, frontal_profile

# Runs per judge: 30 take about 2 s on one core of a small laptop (the suite has a
# two-minute budget); 15,000 runs searched once, by hand, found nothing more.
EXAMPLES = 30
POSE_CODES = (
    fakes.NOBODY,
    fakes.UPRIGHT,
    fakes.SLOUCHED,
    fakes.RECLINED,
    fakes.FACING,
    fakes.COVERED,
    fakes.DARK,
    fakes.NO_SHOULDERS,
    TILTED,
    SLUMPED,
    BACK,
)
# Half of the stretches sit square-on or with the lid tilted: the set-up check says
# "moved" only after a tilt held for many seconds once the set-up was seen to fit.
SCENE_CODES = st.one_of(st.sampled_from(POSE_CODES), st.sampled_from((fakes.FACING, TILTED)))
# Short enough that a minute or two of scene nudges, ends episodes, takes breaks and
# is due a break reminder.
POLICY = NudgePolicy(
    sustained_bad_s=5,
    good_to_end_s=3,
    cooldown_s=10,
    away_after_s=3,
    break_min_s=8,
    break_due_s=40,
    break_repeat_s=20,
)
# What only a judged frame makes the monitor say.
JUDGED = (State.GOOD, State.SLOUCHING, State.AWAY)
# The monitor must be stopped this soon (fake seconds) after it is told to stop.
STOP_WITHIN_S = 2.0
# ...and judge a frame at least this often (fake seconds) unless paused: a settled
# camera is sampled every 2 s, and a sample stands for at most this long.
JUDGES_WITHIN_S = MAX_SAMPLE_S
# How far two computations of the same instant may differ: datetimes hold whole
# microseconds, and two differences of rounded stamps may be 2 us apart.
EPSILON_S = 1e-5
# The fake wall clock rounds every step to a microsecond, so over a run it drifts from
# the monotonic one by up to a millisecond: the account is sure of a pause or a snooze
# only this far inside it.
SURE_S = 1e-3
SURE = timedelta(seconds=SURE_S)
DRIFT = timedelta(seconds=REANCHOR_S)
# The monitor takes a command sent between two frames before the next frame: at most a
# camera frame (1/30 s) later.
TAKEN_S = 0.1
TAKEN = timedelta(seconds=TAKEN_S)


@dataclass(frozen=True)
class Suspend:
    """The laptop sleeps: the wall clock moves on `seconds`, the monotonic one stands."""

    seconds: float


Action = Pause | Resume | Snooze | Suspend


@dataclass(frozen=True)
class Run:
    """One generated run: [(from_s, pose code)], [(at_s, action)], stopped at `until_s`."""

    stretches: list[tuple[int, int]]
    script: list[tuple[float, Action]]
    until_s: float


MINUTES = st.one_of(st.sampled_from((0.05, 0.1, 0.5, 1.0, 5.0)), st.floats(0.01, 3.0))
ACTIONS = st.one_of(
    st.builds(Pause, st.none() | MINUTES, st.just("paused")),
    st.just(Resume()),
    st.builds(Snooze, st.just(0.0) | MINUTES),
    st.builds(
        Suspend,
        # Under and over the timeline's 2 s tolerance, past a timed pause, past midnight.
        st.one_of(st.sampled_from((1.0, 2.5, 90.0, 15 * 3600.0)), st.floats(0.1, 7200.0)),
    ),
)


@st.composite
def runs(draw: st.DrawFn) -> Run:
    until_s = draw(st.integers(60, 120))
    lengths = draw(st.lists(st.tuples(st.integers(1, 40), SCENE_CODES), min_size=1))
    starts = itertools.accumulate((length for length, _ in lengths), initial=0)
    stretches = [(start, code) for start, (_, code) in zip(starts, lengths, strict=False)]
    times = st.integers(0, until_s * 10).map(lambda tenths: tenths / 10)
    script = draw(st.lists(st.tuples(times, ACTIONS), max_size=8))
    return Run(stretches, sorted(script, key=lambda timed: timed[0]), until_s)


@dataclass(frozen=True)
class Moment:
    """What the test knew when the monitor did something (the `index`th such moment):
    both clocks, and whether the commands sent so far must have the monitor paused, may
    have it paused, or must have its nudges snoozed."""

    index: int
    mono_s: float
    now: datetime
    paused: bool
    maybe_paused: bool
    snoozed: bool


@dataclass(frozen=True)
class PauseEnd:
    """When a pause ends: as soon as either clock gets there (inf, None: when resumed)."""

    mono_s: float
    wall: datetime | None

    @classmethod
    def after(cls, minutes: float | None, mono_s: float, now: datetime) -> PauseEnd:
        if minutes is None:
            return cls(float("inf"), None)
        return cls(mono_s + minutes * 60, now + timedelta(minutes=minutes))

    def ahead(self, mono_s: float, now: datetime, by_s: float) -> bool:
        """Still `by_s` or more before the end, by both clocks."""
        by = timedelta(seconds=by_s)
        return mono_s < self.mono_s - by_s and (self.wall is None or now < self.wall - by)


class Driver:
    """Sends a run's script at its fake monotonic times, stops the run at `until_s`, and
    keeps the account of pauses and snoozes that the monitor's records are checked by."""

    def __init__(self, clocks: Clocks, controls: Controls, run: Run) -> None:
        self.clocks, self.controls, self.run = clocks, controls, run
        self.start_s = clocks.mono_s
        self.script = list(run.script)
        # The last pause's end reckoned from when it was sent (the earliest the monitor
        # can end it) and from when the monitor can have taken it, after the rest of
        # its batch (a suspend sent with it moves the wall clock first) and a frame.
        self.pause_minutes: float | None = None
        self.pause_ends: tuple[PauseEnd, PauseEnd | None] | None = None
        # A snooze's end by the wall clock, which runs at least as fast as the loop's
        # seconds that time a snooze.
        self.snoozed_until: datetime | None = None
        self.stopped_at_s: float | None = None
        self.moments: list[Moment] = []
        self.judged: list[Moment] = []

    @property
    def elapsed_s(self) -> float:
        return self.clocks.mono_s - self.start_s

    def sleep(self, seconds: float) -> None:
        """`Controls`' wait on the fake clock: cut short by the next scripted command."""
        self._check_running()
        self.moment()  # the monitor waits: it has taken every command sent
        due_s = min([self.run.until_s, *(at_s for at_s, _ in self.script[:1])])
        self.clocks.sleep(min(seconds, max(0.0, due_s - self.elapsed_s)))
        self.send_due()

    def status(self, _status: object) -> None:
        """The status line of every judged frame (recorded, or not while the set-up is
        stale): where a sample's time starts."""
        self._check_running()
        self.judged.append(self.moment())
        self.send_due()

    def send_due(self) -> None:
        # With a tolerance: a sleep up to a due time may fall short of it by a rounding.
        elapsed_s = self.elapsed_s + EPSILON_S
        while self.script and self.script[0][0] <= elapsed_s:
            self._send(self.script.pop(0)[1])
        if self.pause_ends is not None and self.pause_ends[1] is None:
            taken_s, taken = self.clocks.mono_s + TAKEN_S, self.clocks.now() + TAKEN
            late = PauseEnd.after(self.pause_minutes, taken_s, taken)
            self.pause_ends = (self.pause_ends[0], late)
        if elapsed_s >= self.run.until_s and self.stopped_at_s is None:
            self.stopped_at_s = self.elapsed_s
            self.controls.stop()

    def _send(self, action: Action) -> None:
        mono_s, now = self.clocks.mono_s, self.clocks.now()
        if isinstance(action, Pause):
            self.controls.pause(action.minutes)
            self.pause_minutes = action.minutes
            self.pause_ends = (PauseEnd.after(action.minutes, mono_s, now), None)
        elif isinstance(action, Resume):
            self.controls.resume()
            self.pause_ends = None
        elif isinstance(action, Snooze):
            self.controls.snooze(action.minutes)
            self.snoozed_until = now + timedelta(minutes=action.minutes)
        else:
            self.clocks.jump_wall(action.seconds)

    def _check_running(self) -> None:
        assert self.elapsed_s <= self.run.until_s + 600, "still running 10 minutes after stop"

    def moment(self) -> Moment:
        mono_s, now = self.clocks.mono_s, self.clocks.now()
        paused = maybe_paused = False
        if self.pause_ends is not None:
            early, late = self.pause_ends
            paused = early.ahead(mono_s, now, SURE_S)
            maybe_paused = late is None or late.ahead(mono_s, now, -SURE_S)
        snoozed = self.snoozed_until is not None and now < self.snoozed_until - SURE
        index = len(self.moments)
        self.moments.append(Moment(index, mono_s, now, paused, maybe_paused, snoozed))
        return self.moments[-1]


class WatchedRecorder(RecordingRecorder):
    """Keeps what the monitor writes, each record with the `Moment` it was written at."""

    def __init__(self, driver: Driver) -> None:
        super().__init__()
        self.driver = driver
        self.written: list[tuple[Sample | Episode | Nudge | Break, Moment]] = []

    def add_sample(self, sample: Sample) -> None:
        super().add_sample(sample)
        self.written.append((sample, self.driver.moment()))

    def add_episode(self, episode: Episode) -> None:
        super().add_episode(episode)
        self.written.append((episode, self.driver.moment()))

    def add_nudge(self, nudge: Nudge) -> None:
        super().add_nudge(nudge)
        self.written.append((nudge, self.driver.moment()))

    def add_break(self, interval: Break) -> None:
        super().add_break(interval)
        self.written.append((interval, self.driver.moment()))


@dataclass
class Outcome:
    """A run's summary, and everything it said and wrote with the `Moment` of each."""

    summary: MonitorSummary
    recorder: WatchedRecorder
    snapshots: list[tuple[Snapshot, Moment]]
    nudges: list[tuple[NudgeEvent, Moment]]
    driver: Driver
    end: datetime


def monitor_run(run: Run, judge: Judge) -> Outcome:
    clocks = Clocks()
    driver = Driver(clocks, Controls(sleep=lambda seconds: driver.sleep(seconds)), run)
    recorder = WatchedRecorder(driver)
    snapshots: list[tuple[Snapshot, Moment]] = []
    nudges: list[tuple[NudgeEvent, Moment]] = []
    driver.controls.subscribe(lambda snapshot: snapshots.append((snapshot, driver.moment())))
    with pytest.MonkeyPatch.context() as monkeypatch:
        summary = camera_monitor(
            monkeypatch,
            run.stretches,
            judge,
            clocks,
            recorder=recorder,
            notify=lambda event: nudges.append((event, driver.moment())),
            settings=MonitorSettings(policy=POLICY),
            status=driver.status,
            controls=driver.controls,
        ).run()
    fakes._pose.cache_clear()
    driver.controls.close()
    return Outcome(summary, recorder, snapshots, nudges, driver, clocks.now())


def check(outcome: Outcome) -> None:
    """Every invariant of a run, whatever the scene and the script."""
    check_the_end(outcome)
    check_the_stamps(outcome)
    check_the_samples(outcome)
    check_it_watches_unless_paused(outcome)
    check_the_nudges(outcome)
    check_the_snapshots(outcome)


def check_the_end(outcome: Outcome) -> None:
    """Stopped when told, said so, and the one session begun is ended."""
    recorder, driver = outcome.recorder, outcome.driver
    assert outcome.snapshots[-1][0].state is State.STOPPED
    assert driver.stopped_at_s is not None
    assert driver.elapsed_s - driver.stopped_at_s <= STOP_WITHIN_S, "slow to stop"
    assert len(recorder.sessions) == 1 and recorder.ended is not None
    assert recorder.sessions[0].started_at <= recorder.ended <= outcome.end


def check_the_stamps(outcome: Outcome) -> None:
    """Every record is stamped when it happened: after the session began, never in the
    future; episodes and breaks come in order. A past instant maps back to wall time
    within the timeline's drift tolerance (`REANCHOR_S`), the instant just read to the
    time read: a break that begins where the one before ended (a pause just after
    coming back) may overlap it by that much."""
    recorder = outcome.recorder
    started, ended = recorder.sessions[0].started_at, recorder.ended
    assert ended is not None
    for record, moment in recorder.written:
        stamps = [record.at] if isinstance(record, Sample | Nudge) else [record.start, record.end]
        assert all(started <= at <= moment.now for at in stamps), (record, moment.now)
        assert all(at <= ended for at in stamps), (record, ended)
    for spans in (recorder.episodes, recorder.breaks):
        for before, after in itertools.pairwise(spans):
            assert before.end <= after.start + DRIFT, (before, after)


def check_the_samples(outcome: Outcome) -> None:
    """Samples: in time order, never while paused, each a verdict for no more time than
    the monotonic clock saw pass since the frame judged before it (a suspend is not
    posture), and for none at all after a pause; the summary adds them up."""
    driver, summary = outcome.driver, outcome.summary
    samples = [(r, m) for r, m in outcome.recorder.written if isinstance(r, Sample)]
    for (before, _), (after, _) in itertools.pairwise(samples):
        assert before.at <= after.at, "sample times went backwards"
    judged_at = [m.index for m in driver.judged]
    for sample, moment in samples:
        assert isinstance(sample.verdict, Verdict)
        assert 0 <= sample.duration_s <= MAX_SAMPLE_S
        assert not moment.paused, f"a sample recorded while paused: {sample}"
        previous = bisect.bisect_left(judged_at, moment.index) - 1
        if previous < 0:
            assert sample.duration_s == 0.0, f"the first judged frame counted time: {sample}"
            continue
        since = driver.judged[previous]
        assert sample.duration_s <= moment.mono_s - since.mono_s + EPSILON_S, sample
        if any(m.paused for m in driver.moments[since.index : moment.index]):
            assert sample.duration_s == 0.0, f"paused time counted: {sample}"
    total_s = sum(sample.duration_s for sample, _ in samples)
    assert summary.samples == len(samples)
    assert sum(summary.seconds_by_verdict.values()) == pytest.approx(total_s)
    assert total_s <= driver.elapsed_s + EPSILON_S
    # The run's length on the loop's seconds: the monotonic clock's, plus any suspend.
    assert driver.elapsed_s <= summary.duration_s + EPSILON_S


def check_it_watches_unless_paused(outcome: Outcome) -> None:
    """Within seconds of any moment the account says it may not be paused, the monitor
    judges a frame (or a pause comes, or the run ends)."""
    driver = outcome.driver
    assert driver.stopped_at_s is not None
    stop_s = driver.start_s + driver.stopped_at_s
    judged = {m.index for m in driver.judged}
    for moment in driver.moments:
        if moment.maybe_paused or moment.mono_s > stop_s - JUDGES_WITHIN_S:
            continue
        then = next(
            (m for m in driver.moments[moment.index :] if m.maybe_paused or m.index in judged),
            None,
        )
        assert then is not None, f"never judged again, not paused: {moment}"
        assert then.mono_s - moment.mono_s <= JUDGES_WITHIN_S, f"idle, not paused: {moment}"


def check_the_nudges(outcome: Outcome) -> None:
    """Never while paused or snoozed, none about posture while the set-up does not fit
    (the snapshot of the frame that nudged says so), and each one recorded."""
    snapshots = outcome.snapshots
    for event, moment in outcome.nudges:
        assert not moment.paused, f"a nudge while paused: {event}"
        assert not moment.snoozed, f"a nudge while snoozed: {event}"
        if event.verdict is not None:
            after = next(s for s, m in snapshots if m.index > moment.index)
            assert after.reason != MOVED, f"a posture nudge on a stale set-up: {event}"
    nudged = [e.message for e, _ in outcome.nudges]
    assert [n.message for n in outcome.recorder.nudges] == nudged


def check_the_snapshots(outcome: Outcome) -> None:
    """A paused monitor shows no verdict. Not from the snapshot right after a status
    line that sent the pause: that snapshot is of the sample the status line was about,
    and the pause applies after it. (Commands sent together are applied in turn: pause,
    resume, pause says "resuming" in between, and that is no verdict.)"""
    for (_, before), (snapshot, moment) in itertools.pairwise(outcome.snapshots):
        if before.paused and moment.paused:
            assert snapshot.verdict is None and snapshot.state not in JUDGED, snapshot


def uncalibrated() -> Judge:
    """What `posture monitor` judges with when no profile is saved: one that learns."""
    judge, _name, _notice = _scorer_for(None)
    assert isinstance(judge, LearningScorer)
    return judge


JUDGES: dict[str, Callable[[], Judge]] = {
    "set-up recorded": lambda: Scorer(frontal_profile()),
    "no set-up": lambda: Scorer(profile_of()),
    "learning": uncalibrated,
}


@pytest.mark.parametrize("judge", list(JUDGES.values()), ids=list(JUDGES))
def test_any_scene_and_script_end_cleanly_with_honest_records(
    judge: Callable[[], Judge],
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(run=runs())
    # Runs worth having every time, whatever the draw. The crash found by hand: nobody
    # there, then a slump, before any frame says anything about the set-up.
    @example(Run([(0, fakes.NOBODY), (20, SLUMPED), (40, fakes.FACING), (60, TILTED)], [], 120))
    # A suspend longer than a timed pause ends it; a pause until resumed, resumed.
    @example(Run([(0, fakes.FACING)], [(0.0, Pause(0.1, "paused")), (1.0, Suspend(90.0))], 60))
    @example(Run([(0, SLUMPED)], [(10.0, Pause(None, "paused")), (30.0, Resume())], 60))
    def run_one(run: Run) -> None:
        check(monitor_run(run, judge()))

    run_one()
