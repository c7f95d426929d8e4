"""The background loop: sample a few frames a second, judge them, nudge, record.

    source ─(throttled)─▶ pose ─▶ metrics ─▶ scorer ─▶ smoother ─▶ NudgeEngine
                                                                 ├─▶ notifier (nudges)
                                                                 └─▶ recorder (history)

Time (posture.timeline): timers run on the loop's seconds, records are stamped
with wall-clock time read when they happen. A camera's loop seconds are the
monotonic clock's, plus any time it did not see (a suspend); a recording's are its
own clock, so it replays with the same timers as a live session at `speed` times
real time (0 = as fast as it can), filed in the past, never in the future. Time not
watched (the camera lost, a pause, a suspend or a clock set) is a gap: the history
gets nothing for it, and the nudge engine sees an absence (a break, if long).

Sampling is the source's own (`FrameSource.paced`): a recording replays on a
fixed `fps` grid of its own clock; a camera is sampled adaptively
(`MonitorSettings.settled_fps`): slowly while the latest frame agrees with the
smoothed verdict, and, as soon as one does not (a change is starting), a few
consecutive frames so that the pose model's tracking catches up, then `fps` until
the verdict settles again. Only samples on the `fps` grid are judged (smoothed,
timed, recorded), so the smoother sees the same evidence at any pace. The figures
behind the defaults are in docs/performance.md.

Commands: `Controls` (posture.control) carries pause, resume, snooze and stop from
any thread (the terminal's keys, a tray, a signal handler); the loop applies them
between frames and wakes from any wait the moment one arrives. A pause frees the
camera (a recording keeps its place); the loop publishes a `Snapshot` after every
judged sample and every change of state.

Sharing (posture.camera_share): when another program opens the camera (a video
call), the loop releases it at once and waits, publishing `State.CAMERA_IN_USE`
("camera in use by zoom"), until the device has been free for `FREE_SETTLE_S`; a
camera that fails to open or to deliver while another program holds it is that
too, not a fault. The time is a gap (a break, if long), never presence.

Faults: a camera that disappears mid-run (unplugged, taken by a video call) is
reported once and reopened with backoff; the gap is not counted as presence.
The recorder is flushed, and the session closed, however the loop ends.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from posture.camera_share import CameraShare, describe
from posture.config import MAX_FPS, MIN_FPS
from posture.control import Controls, Pause, Reload, Snapshot, Snooze, State
from posture.errors import PostureError, SourceError
from posture.hints import Hints, picture_problem
from posture.history import MinuteRow, MinuteTallies, ScoreTally
from posture.landmarks import PoseResult
from posture.metrics import compute_metrics
from posture.nudges import BreakEvent, EpisodeEvent, NudgeEngine, NudgeEvent, NudgePolicy
from posture.pose import Estimator, EstimatorFactory, RunningMode, open_estimator
from posture.presence import PresenceTracker
from posture.records import Break, Episode, Nudge, NullRecorder, Recorder, Sample, SessionInfo
from posture.scoring import (
    Assessment,
    Judge,
    SmootherSettings,
    VerdictSmoother,
    ViewCheck,
)
from posture.sources import (
    CameraLostError,
    CameraOpenError,
    Frame,
    FrameSource,
    Pace,
    VideoFileSource,
)
from posture.stale import SetupCheck, checkable
from posture.timeline import LiveTimeline, Reading, ReplayTimeline, local_now
from posture.vocabulary import Verdict, View

log = logging.getLogger(__name__)

# One sample stands for at most this long in the history, so a loop held up by
# something it cannot see as a gap (a process stopped with SIGSTOP, a frame that took
# long) is not counted as minutes of posture. Suspends and lost cameras are gaps.
MAX_SAMPLE_S = 5.0
# Camera reopen delays after a loss: quick at first, then every 30 s.
RETRY_DELAYS_S = (1.0, 2.0, 5.0, 10.0, 30.0)
# A paused monitor looks at the wall clock this often (a command wakes it at once).
PAUSE_CHECK_S = 60.0
# While another program has the camera: it must have been free this long before the
# monitor opens it again (programs often open a camera, close it and open it again
# while they set up a call), and who holds it is read again at least this often (the
# watch wakes the loop at every close; without inotify this is the only look).
FREE_SETTLE_S = 2.0
BUSY_CHECK_S = 5.0


@dataclass(frozen=True)
class MonitorSettings:
    """How the loop samples and times things.

    - `fps`: judged samples per second while something may be changing, and the
      fixed rate of a recording's replay (2: a posture does not change 30 times a
      second, and 2 samples a second let the smoother confirm a change within
      about 2 s).
    - `speed`: how fast a file plays (1 = real time; 0 = as fast as possible).
    - `flush_every_s`: the history is written at least this often.
    - `settled_fps`: a camera's rate while the latest frame agrees with the smoothed
      verdict (0.5: most of a day is settled, and every frame costs about as much
      CPU as the pose model; a change is noticed on the next sample, at most 2 s
      later). Never above `fps`. None samples a camera at `fps` all the time.
    - `burst_frames`: when a change starts, this many more consecutive camera
      frames are analysed before one is judged (5: the model's VIDEO-mode
      tracking follows the body from frame to frame and needs four or five
      frames to catch up with a new posture, however far apart the frames are).
    - `change_excess`: a frame whose neck or trunk deviation (in tolerances)
      moved this much since the previous frame also starts a change, even before
      its verdict differs (0.5: twice the frame-to-frame jitter of a still
      sitter), so a tracker still catching up does not hide a change.
    """

    fps: float = 2.0
    speed: float = 1.0
    policy: NudgePolicy = field(default_factory=NudgePolicy)
    smoother: SmootherSettings = field(default_factory=SmootherSettings)
    flush_every_s: float = 60.0
    settled_fps: float | None = 0.5
    burst_frames: int = 5
    change_excess: float = 0.5

    def __post_init__(self) -> None:
        if not MIN_FPS <= self.fps <= MAX_FPS:
            raise ValueError(f"fps must be in [{MIN_FPS:g}, {MAX_FPS:g}], got {self.fps}")
        if not (math.isfinite(self.speed) and self.speed >= 0):
            raise ValueError(f"speed must be a finite number >= 0, got {self.speed}")
        if not (math.isfinite(self.flush_every_s) and self.flush_every_s > 0):
            raise ValueError(f"flush_every_s must be positive, got {self.flush_every_s}")
        if self.settled_fps is not None and not 0 < self.settled_fps <= MAX_FPS:
            raise ValueError(
                f"settled_fps must be in (0, {MAX_FPS:g}] or None, got {self.settled_fps}"
            )
        if not 0 <= self.burst_frames <= 30:
            raise ValueError(f"burst_frames must be in [0, 30], got {self.burst_frames}")
        if self.change_excess <= 0:
            raise ValueError(f"change_excess must be positive, got {self.change_excess}")


class AdaptiveRate:
    """When a camera's next frame is due, and which frames are judged.

    Settled (the latest frame agrees with the smoothed verdict and has not jumped):
    a frame every 1/settled_fps s. A change starting: the frame that shows it and
    `burst_frames` more at once, of which only the last is judged (the pose
    model's tracking has caught up by then), then a frame every 1/fps s until
    settled again. Before any verdict: every 1/fps s.
    """

    def __init__(self, settings: MonitorSettings) -> None:
        self.settings = settings
        self.settled = False
        self.burst_left = 0
        self.bursts = 0
        self._previous: Assessment | None = None

    @property
    def in_burst(self) -> bool:
        """The latest frame started a burst or is inside one: not worth judging."""
        return self.burst_left > 0

    def interval_s(self) -> float:
        """Seconds until the camera's next frame is due (0: the next fresh frame)."""
        settings = self.settings
        if settings.settled_fps is None:
            return 1.0 / settings.fps
        if self.burst_left:
            return 0.0
        if self.settled:
            return 1.0 / min(settings.settled_fps, settings.fps)
        return 1.0 / settings.fps

    def update(self, latest: Assessment, smoothed: Verdict | None) -> None:
        """Take in the latest frame's own assessment and the smoothed verdict so far."""
        jumped = self._jumped(latest)
        self._previous = latest
        if self.burst_left:
            # A burst runs to its end: mid-way, the tracking may still show the
            # old posture, and the frame that ends it is the one judged.
            self.burst_left -= 1
            if self.burst_left:
                return
        if smoothed is not None and latest.verdict is smoothed and not jumped:
            self.settled = True
            return
        if self.settled:  # a change starts; at most one burst until settled again
            self.burst_left = self.settings.burst_frames
            self.bursts += 1
        self.settled = False

    def _jumped(self, latest: Assessment) -> bool:
        previous = self._previous
        if previous is None:
            return False
        return any(
            now is not None
            and before is not None
            and abs(now - before) >= self.settings.change_excess
            for now, before in (
                (latest.neck_excess, previous.neck_excess),
                (latest.trunk_excess, previous.trunk_excess),
            )
        )


@dataclass
class MonitorSummary:
    """What one run saw, for the closing summary."""

    started_at: datetime
    duration_s: float = 0.0
    samples: int = 0
    # Seconds per verdict: floats (a Counter's counts are ints to the type checker).
    seconds_by_verdict: defaultdict[Verdict, float] = field(
        default_factory=lambda: defaultdict(float)
    )
    nudges: list[NudgeEvent] = field(default_factory=list)
    episodes: list[EpisodeEvent] = field(default_factory=list)
    breaks: list[BreakEvent] = field(default_factory=list)
    camera_gaps_s: list[float] = field(default_factory=list)
    # Every stretch not watched: ("camera" | "paused" | "clock", seconds).
    gaps: list[tuple[str, float]] = field(default_factory=list)
    # What the history already held for the day this run started on.
    earlier_today: list[MinuteRow] = field(default_factory=list)
    # Set when the camera came to see the user from another side than the profile's.
    view_advice: str | None = None
    # What the verdicts were judged against at the end, when worth saying (a baseline
    # learned from the session, or still learning).
    judged_note: str | None = None
    # Samples become minutes exactly as in the history store. Finished minutes are
    # added to running sums once; only the open minute is re-read for the status
    # line's scores on every sample of an all-day run.
    _minutes: MinuteTallies = field(init=False, repr=False)
    _session: ScoreTally = field(default_factory=ScoreTally, init=False, repr=False)
    _days: dict[date, ScoreTally] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._minutes = MinuteTallies(self._finish_minute)
        for row in self.earlier_today:
            self._days.setdefault(row.start.date(), ScoreTally()).add(row)

    @property
    def present_s(self) -> float:
        """Seconds someone was in front of the camera this run (everything but away)."""
        return sum(s for v, s in self.seconds_by_verdict.items() if v is not Verdict.NO_PERSON)

    @property
    def score(self) -> int | None:
        """The session's posture score, by the same definition as the daily report's."""
        current = self._minutes.current()
        return self._session.score(*(() if current is None else (current,)))

    @property
    def day_score(self) -> int | None:
        """Today's score so far: the history's earlier minutes of the day plus this
        run's, by the daily report's definition. After midnight, the new day only."""
        row = self._minutes.current()
        if row is None:
            return self._days.get(self.started_at.date(), ScoreTally()).score()
        return self._days.get(row.start.date(), ScoreTally()).score(row)

    def _finish_minute(self, row: MinuteRow) -> None:
        self._session.add(row)
        self._days.setdefault(row.start.date(), ScoreTally()).add(row)

    def add(self, sample: Sample) -> None:
        """Counts one judged sample: its seconds by verdict, and into the scores minute by
        minute, exactly as the history store does."""
        self.samples += 1
        self.seconds_by_verdict[sample.verdict] += sample.duration_s
        self._minutes.add(sample)


@dataclass(frozen=True)
class Status:
    """The live status line's content.

    Three scores side by side, each named by the time it covers: `now_score` is the
    smoothed verdict's score at this moment (how far from the baseline), `day_score`
    and `session_score` are the daily report's posture score over today and over this
    run (the share of time in good posture).
    """

    now_s: float
    verdict: Verdict
    now_score: int | None
    in_state_s: float
    session_score: float | None
    snoozed: bool
    day_score: float | None = None
    # What the verdicts are judged against, when worth saying ("learning your posture").
    note: str | None = None
    # The state's word when the monitor is not judging ("camera in use"), else the verdict.
    label: str | None = None

    def line(self) -> str:
        """One line: state and time in it, then the scores now, today and this session."""

        def shown(value: float | None) -> str:
            return "--" if value is None else f"{value:.0f}"

        state = self.label or ("away" if self.verdict is Verdict.NO_PERSON else self.verdict.value)
        snooze = "  (nudges snoozed)" if self.snoozed else ""
        if self.note:
            snooze += f"  ({self.note})"
        return (
            f"{state:<14} for {_duration(self.in_state_s):>6}  now {shown(self.now_score):>3}  "
            f"today {shown(self.day_score)}  session {shown(self.session_score)}{snooze}"
        )


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Monitor:
    """One monitoring run over a frame source. Call `run()` once.

    - `open_source`: opens the source, again after a lost camera or a pause.
    - `estimator`: makes the pose estimator for a source's running mode (MediaPipe's by
      default; tests pass a fake, so the loop runs without the model).
    - `controls`: commands from other threads (pause, resume, snooze, stop) and the
      published `Snapshot`s; one is made if none is given.
    - `earlier_today`: the history's minutes of the day so far, so that the status
      line can show today's score and not only this run's.
    - `camera_share`: makes the watch on camera N's device that hands the camera to
      other programs (`posture.camera_share`), given a function that wakes the loop;
      None where there is no device to watch.
    """

    def __init__(
        self,
        open_source: Callable[[], FrameSource],
        scorer: Judge,
        *,
        estimator: EstimatorFactory = open_estimator,
        notify: Callable[[NudgeEvent], None] = lambda event: None,
        recorder: Recorder | None = None,
        settings: MonitorSettings | None = None,
        status: Callable[[Status], None] | None = None,
        controls: Controls | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = local_now,
        source_name: str = "",
        profile_name: str | None = None,
        preview: Callable[[Frame, PoseResult, Assessment], None] | None = None,
        earlier_today: Sequence[MinuteRow] = (),
        camera_share: Callable[[int, Callable[[], None]], CameraShare | None] = (
            CameraShare.for_camera
        ),
    ) -> None:
        self.open_source = open_source
        self.scorer = scorer
        self.open_estimator = estimator
        self.notify = notify
        self.recorder = recorder or NullRecorder()
        self.settings = settings or MonitorSettings()
        self.status = status
        self._owns_controls = controls is None
        self.controls = controls or Controls()
        self.clock = clock
        self.now = now
        self.engine = NudgeEngine(self.settings.policy)
        self.smoother = VerdictSmoother(self.settings.smoother, clock=clock)
        self.presence = PresenceTracker()
        self.hints = Hints()
        self.started_at = now()
        self.summary = MonitorSummary(self.started_at, earlier_today=list(earlier_today))
        self.source_name = source_name
        self.profile_name = profile_name
        self.preview = preview
        self._last_now_s: float | None = None
        self._last_flush_s = 0.0
        self._state: tuple[str, float] | None = None  # what the status line shows, since
        self.rate = AdaptiveRate(self.settings)
        self.frames_analysed = 0
        self._shown: Assessment | None = None  # the latest smoothed verdict, for the preview
        self._timeline: LiveTimeline | ReplayTimeline | None = None  # set when a source opens
        self._gap: _Gap | None = None  # time not watched, open until the next sample
        self._pause: _Pause | None = None
        self._held_s = 0.0  # time a replay spent paused in place: its pace stands still
        self.camera_share = camera_share
        self._share: CameraShare | None = None  # the watch on the camera, once known
        self._share_index: int | None = None
        self._busy: _Busy | None = None  # another program has the camera
        # Whether the profile's camera set-up still fits (posture.stale), per profile.
        self.setup_check: SetupCheck | None = None
        self._camera_name: str | None = None
        self._live, self._description = False, ""
        self._checked: tuple[object, str | None, bool, str] | None = None
        profile = scorer.profile
        self.view_check = ViewCheck(profile.view) if profile is not None else None

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> MonitorSummary:
        """Monitor until the source ends (a recording) or `controls.stop()`; flush; summarise."""
        self._publish(State.STARTING, "starting")
        try:
            self._run_until_stopped()
        finally:
            self._finish()
        return self.summary

    def _finish(self) -> None:
        """Close what is open (an episode, a gap, the session) at the time it ends."""
        timeline = self._timeline
        if timeline is not None:
            end_s = self._loop_now()
            if self._gap is not None:
                self._close_gap(end_s)
            for event in self.engine.finish(end_s):
                self._handle(event)
            self.recorder.flush()
            self.recorder.end_session(timeline.wall(end_s))
            self.summary.duration_s = end_s
            self.summary.judged_note = self.scorer.note()
        if self._share is not None:
            self._share.close()
        self._publish(State.STOPPED, "stopped")
        if self._owns_controls:
            self.controls.close()

    def _run_until_stopped(self) -> None:
        retries = 0
        while not self.controls.stopped:
            if self._pause is not None:
                self._wait_while_paused()
                continue
            if self._busy is not None:
                self._wait_while_busy()
                continue
            try:
                with self.open_source() as source:
                    index = getattr(source, "camera_index", None)
                    if source.live and isinstance(index, int):
                        self._watch_camera(index)
                    self._begin(source)
                    retries = 0
                    if self._watch(source):
                        return  # a recording ended, or stop
            except CameraLostError as error:
                if not self._camera_taken():
                    self._camera_lost(error, retries)
                    retries += 1
            except SourceError as error:
                if self.controls.stopped:
                    return  # stopped while the camera opened: that open was given up
                if isinstance(error, CameraOpenError):
                    self._watch_camera(error.camera_index)
                    if self._camera_taken():
                        continue  # another program has it: that is no error
                if self._timeline is None:
                    raise  # never opened: the user's error, reported by the CLI
                self._camera_lost(None, retries)
                retries += 1

    def _begin(self, source: FrameSource) -> None:
        """The first time a source opens, the session begins, on its kind of time."""
        self._camera_name = getattr(source, "device_name", None)
        self._live, self._description = source.live, source.description
        if self._timeline is not None:
            return
        if source.live:
            live = LiveTimeline(self.clock, self.now)
            self._timeline, self.started_at = live, live.read().at
        else:
            replay = ReplayTimeline(source.duration_ms, self.now)
            self._timeline, self.started_at = replay, replay.started_at
        self.summary.started_at = self.started_at
        self.recorder.begin_session(
            SessionInfo(self.started_at, self.source_name, source.kind, self.profile_name)
        )

    def _camera_lost(self, error: CameraLostError | None, retries: int) -> None:
        delay = RETRY_DELAYS_S[min(retries, len(RETRY_DELAYS_S) - 1)]
        if error is not None:
            log.warning("%s; retrying", error)
        if self._gap is None:
            self._gap = _Gap(self._last_now_s or 0.0, "camera")
        reason = str(error) if error is not None else "cannot reopen the camera; retrying"
        self._publish(State.CAMERA_PROBLEM, reason)
        self._wait_for(delay)

    def _watch(self, source: FrameSource) -> bool:
        """Judge `source`'s frames. True: it ended, or stop; False: a pause freed it."""
        adaptive = source.live and self.settings.settled_fps is not None
        pace = Pace(
            fps=self.settings.fps,
            speed=self.settings.speed,
            interval_s=self.rate.interval_s if adaptive else None,
            wait=lambda seconds: self._wait_for(seconds) and self._leave(source.live),
            clock=lambda: self.clock() - self._held_s,
        )
        mode: RunningMode = "video" if source.is_stream else "image"
        with contextlib.closing(self.open_estimator(mode)) as estimator:
            for frame in source.paced(pace):
                if self._apply_commands() and self._leave(source.live):
                    break
                reading = self._noted(self._read(frame))
                self._analyse(frame, reading.loop_s, estimator, adaptive)
        if self._pause is not None and not self.controls.stopped and self._gap is None:
            self._gap = _Gap(self._last_now_s or 0.0, "paused")
        return self.controls.stopped or (self._pause is None and self._busy is None)

    def _read(self, frame: Frame) -> Reading:
        timeline = self._timeline
        if isinstance(timeline, ReplayTimeline):
            return timeline.read(frame.t_ms)
        assert timeline is not None
        return timeline.read()

    def _loop_now(self) -> float:
        """The loop's seconds now: a live clock's reading, or a replay's latest frame."""
        if isinstance(self._timeline, LiveTimeline):
            return self._noted(self._timeline.read()).loop_s
        return self._last_now_s or 0.0

    def _noted(self, reading: Reading) -> Reading:
        """A reading whose clocks disagree opens a gap: asleep, or the clock was set,
        so nothing was seen since the last sample (whichever read noticed it)."""
        if reading.jump_s and self._gap is None:
            self._gap = _Gap(self._last_now_s or 0.0, "clock", reading.jump_s)
        return reading

    def _analyse(self, frame: Frame, now_s: float, estimator: Estimator, adaptive: bool) -> None:
        pose = estimator.estimate_image(frame.image, round(now_s * 1000))
        self.frames_analysed += 1
        metrics = compute_metrics(pose)
        present = self.presence.person_present(frame.t_ms, metrics, pose, frame.image)
        hint = self.hints.update(now_s, picture_problem(frame.image, pose, metrics))
        if hint:
            log.info("%s", hint)
        check = self._setup_check()
        if check is not None:
            stale = check.update(now_s, frame.size, pose, metrics)
            if stale is not None:
                log.info("%s", stale or "the camera set-up fits the profile again: judging")
        assessment = self.scorer.assess(metrics, present, t_ms=round(now_s * 1000))
        if adaptive:
            self.rate.update(assessment, self.smoother.verdict)
            judged = not self.rate.in_burst and self._due(now_s)
        else:
            judged = True
        if judged:
            self._shown = self._judge(now_s, assessment)
            if metrics is not None:
                self._check_view(metrics.view)
        if self.preview is not None:
            self.preview(frame, pose, self._shown or assessment)

    # -- commands: pause, resume, snooze, stop ------------------------------------------------

    def _apply_commands(self) -> bool:
        """Take the commands sent since last time. True: stop, or paused."""
        for command in self.controls.take_commands():
            if isinstance(command, Snooze):
                self.engine.snooze(self._loop_now() + command.minutes * 60)
            elif isinstance(command, Pause):
                self._pause = _Pause.starting(command, self.clock(), self.now())
                self._publish(State.PAUSED, command.reason)
            elif isinstance(command, Reload):
                self._reload(command)
            elif self._pause is not None:
                self._resume()
        if self._busy is None and self._pause is None and self._share is not None:
            holder = self._share.take_wanted()
            if holder is not None:
                self._enter_busy(describe([holder]))
        return self.controls.stopped or self._pause is not None or self._busy is not None

    # -- reloading the profile: posture.control's Reload, after a recalibration -------------

    def _reload(self, command: Reload) -> None:
        """Judge with a newly saved profile from the next frame on; keep the judge in
        use, and say why in a snapshot's notice, when it cannot be loaded."""
        try:
            scorer = command.load()
        except (PostureError, OSError) as error:
            notice = f"kept the profile in use: the new one cannot be loaded ({error})"
            log.warning("%s", notice)
            self.controls.publish(replace(self.controls.snapshot, notice=notice, at=self.now()))
            return
        self.scorer = scorer
        profile = scorer.profile
        self.profile_name = profile.name if profile is not None else None
        self.view_check = ViewCheck(profile.view) if profile is not None else None
        self.summary.view_advice = None  # said of the old profile
        self.smoother.reset()  # verdicts against the old baseline say nothing now
        log.info("judging against profile %r from now on", self.profile_name)

    def _leave(self, live: bool) -> bool:
        """After `_apply_commands` said stop or pause: True if the source must be left.

        A live source is left on a pause, to free the camera; a recording keeps its
        place and waits here, its pace held still, until resumed.
        """
        if self.controls.stopped or live:
            return True
        held_from = self.clock()
        self._wait_while_paused()
        self._held_s += self.clock() - held_from
        return self.controls.stopped

    def _wait_for(self, seconds: float) -> bool:
        """Sleep up to `seconds`, applying commands as they come. True: stop or paused."""
        deadline = self.clock() + seconds
        while not self._apply_commands():
            remaining = deadline - self.clock()
            if remaining <= 0:
                return False
            self.controls.wait(remaining)
        return True

    def _wait_while_paused(self) -> None:
        while self._pause is not None and not self.controls.stopped:
            remaining = self._pause.remaining_s(self.clock(), self.now())
            if remaining <= 0:
                self._resume()
                break
            # Wake now and then to read the wall clock: a suspend can pass a pause's end.
            self.controls.wait(min(remaining, PAUSE_CHECK_S))
            self._apply_commands()

    # -- sharing the camera ------------------------------------------------------------------

    def _watch_camera(self, index: int) -> None:
        """Watch camera `index`'s device for other programs (once per camera)."""
        if self._share_index == index:
            return
        if self._share is not None:
            self._share.close()
        self._share = self.camera_share(index, self.controls.wake)
        self._share_index = index

    def _camera_taken(self) -> bool:
        """After the camera failed: True, and waiting begins, if another program has it."""
        if self._share is None:
            return False
        holders = self._share.holders()
        if not holders:
            return False
        self._enter_busy(describe(holders))
        return True

    def _enter_busy(self, reason: str) -> None:
        """Another program has the camera: leave it, and count the time as not watched."""
        self._busy = _Busy(self.clock(), reason)
        if self._timeline is not None:
            if self._gap is None:
                self._gap = _Gap(self._last_now_s or 0.0, "in use")
            elif self._gap.cause == "camera":  # lost, then found in another's hands
                self._gap = _Gap(self._gap.start_s, "in use")
        log.info("%s: waiting until it is free", reason)
        self._publish(State.CAMERA_IN_USE, reason)

    def _wait_while_busy(self) -> None:
        """Wait, quietly, until the camera has been free for FREE_SETTLE_S (or a pause
        or a stop comes); the watch wakes the wait whenever someone closes it."""
        assert self._share is not None
        free_since: float | None = None
        while self._busy is not None and self._pause is None and not self.controls.stopped:
            holders, now = self._share.holders(), self.clock()
            if holders:
                free_since = None
                reason = describe(holders)
                if reason != self._busy.reason:
                    self._busy = _Busy(self._busy.since_s, reason)
                    self._publish(State.CAMERA_IN_USE, reason)
                wait_s = BUSY_CHECK_S
            else:
                free_since = now if free_since is None else free_since
                wait_s = FREE_SETTLE_S - (now - free_since)
                if wait_s <= 0:
                    self._busy = None
                    self._share.take_wanted()  # opens seen while waiting are history
                    self._publish(State.STARTING, "camera free again")
                    return
            self._idle_status("camera in use", self._busy.reason, now - self._busy.since_s)
            self.controls.wait(wait_s)
            self._apply_commands()

    def _idle_status(self, label: str, note: str, in_state_s: float) -> None:
        """The status line while nothing is judged: the state, how long, the scores."""
        if self.status is None:
            return
        self.status(
            Status(
                now_s=self._loop_now() if self._timeline is not None else 0.0,
                verdict=Verdict.NO_PERSON,
                now_score=None,
                in_state_s=in_state_s,
                session_score=self.summary.score,
                snoozed=False,
                day_score=self.summary.day_score,
                note=note,
                label=label,
            )
        )

    def _resume(self) -> None:
        """The pause ends (resumed, or its time is up): judging again from the next frame."""
        self._pause = None
        self._publish(State.STARTING, "resuming")

    def _check_view(self, view: View) -> None:
        if self.view_check is None or self.view_check.update(view) is None:
            return
        advice = self.view_check.advice(self.profile_name or "default")
        self.summary.view_advice = advice
        log.warning("%s", advice)

    def _due(self, now_s: float) -> bool:
        """Judge at most `fps` camera samples a second: frames of a burst in between
        only help the tracking, so the smoother's votes mean the same at any pace."""
        if self._last_now_s is None or now_s < self._last_now_s:
            return True
        # A quarter-interval of slack: camera samples land a frame late or early.
        return now_s - self._last_now_s >= 0.75 / self.settings.fps

    def _setup_check(self) -> SetupCheck | None:
        """The check of the judged profile's set-up against this camera (made again when
        the profile or the camera changes); None when the profile records none."""
        profile = self.scorer.profile
        key = (profile, self._camera_name, self._live, self._description)
        if key != self._checked:
            self._checked = key
            self.setup_check = None
            setup = None if profile is None else profile.setup
            if profile is not None and checkable(setup, live=self._live, source=self._description):
                self.setup_check = SetupCheck(profile, camera=self._camera_name, live=self._live)
        return self.setup_check

    def _stale(self) -> str | None:
        """Why the profile does not fit this camera now (judging waits), if it does not."""
        return None if self.setup_check is None else self.setup_check.reason

    # -- judging, nudging, recording --------------------------------------------------------

    def _judge(self, now_s: float, assessment: Assessment) -> Assessment:
        if self._gap is not None:
            self._close_gap(now_s)
            step = 0.0  # the time since the last sample was not seen: not presence
        elif self._last_now_s is None:
            step = 0.0
        else:
            step = min(max(0.0, now_s - self._last_now_s), MAX_SAMPLE_S)
        smoothed = self.smoother.update(assessment, round(now_s * 1000))
        self._last_now_s = now_s
        verdict = smoothed.verdict
        if self._stale():
            # The profile does not fit this camera: no posture is judged, recorded or
            # nudged; presence goes on (breaks, the break reminder).
            verdict = Verdict.NO_PERSON if verdict is Verdict.NO_PERSON else Verdict.GOOD
        else:
            sample = Sample(
                at=self._wall(now_s),
                duration_s=step,
                verdict=smoothed.verdict,
                score=smoothed.score,
                neck_excess=smoothed.neck_excess,
                trunk_excess=smoothed.trunk_excess,
            )
            self.summary.add(sample)
            if self.summary.samples == 1:
                log.info("first verdict: %s", smoothed.verdict.value)
            self.recorder.add_sample(sample)
        for event in self.engine.update(now_s, verdict):
            self._handle(event)
        if now_s - self._last_flush_s >= self.settings.flush_every_s:
            self.recorder.flush()
            self._last_flush_s = now_s
        self._report_status(now_s, smoothed)
        return smoothed

    def _close_gap(self, now_s: float) -> None:
        """Time not watched (camera lost, paused, asleep) ends: the nudge engine sees an
        absence over it (a break, if long enough), the history sees nothing."""
        gap, self._gap = self._gap, None
        assert gap is not None
        for at_s in (gap.start_s, now_s):
            for event in self.engine.update(at_s, Verdict.NO_PERSON):
                self._handle(event)
        self.smoother.reset()  # what was seen before says nothing about now
        self.hints.reset()
        self.summary.gaps.append((gap.cause, max(0.0, now_s - gap.start_s)))
        if gap.cause == "camera":
            self.summary.camera_gaps_s.append(max(0.0, now_s - gap.start_s))

    def _handle(self, event: NudgeEvent | EpisodeEvent | BreakEvent) -> None:
        if isinstance(event, NudgeEvent):
            self.summary.nudges.append(event)
            self.recorder.add_nudge(Nudge(self._wall(event.at_s), event.kind, event.message))
            self.notify(event)
        elif isinstance(event, EpisodeEvent):
            self.summary.episodes.append(event)
            self.recorder.add_episode(
                Episode(self._wall(event.start_s), self._wall(event.end_s), event.verdict)
            )
        else:
            self.summary.breaks.append(event)
            self.recorder.add_break(Break(self._wall(event.start_s), self._wall(event.end_s)))

    def _report_status(self, now_s: float, smoothed: Assessment) -> None:
        state = _STATE_OF.get(smoothed.verdict, State.SLOUCHING)
        hint, stale = self.hints.current, self._stale()
        label = None
        if stale:
            state, label, hint = State.CAMERA_PROBLEM, NOT_JUDGING, stale
            smoothed = Assessment(smoothed.verdict, None)  # no score: not judged
        elif hint and smoothed.verdict in _UNSEEN:
            state = State.CAMERA_PROBLEM  # the picture shows no posture: say why
            label = state.value
        shown = label or smoothed.verdict.value
        if self._state is None or self._state[0] != shown:
            self._state = (shown, now_s)
        snoozed = self.engine.snoozed(now_s)
        if self.status is not None:
            self.status(
                Status(
                    now_s=now_s,
                    verdict=smoothed.verdict,
                    now_score=smoothed.score,
                    in_state_s=now_s - self._state[1],
                    session_score=self.summary.score,
                    snoozed=snoozed,
                    day_score=self.summary.day_score,
                    note=hint or self.scorer.note(),
                    label=label,
                )
            )
        reason = (
            hint
            or self.summary.view_advice
            or ("nudges snoozed" if snoozed else "")
            or self.scorer.note()
            or ""
        )
        self._publish(state, reason, None if stale else smoothed)

    def _publish(self, state: State, reason: str, smoothed: Assessment | None = None) -> None:
        pause = self._pause
        self.controls.publish(
            Snapshot(
                state=state,
                verdict=None if smoothed is None else smoothed.verdict.value,
                score=None if smoothed is None else smoothed.score,
                today_score=self.summary.day_score,
                paused_until=None if pause is None else pause.until,
                reason=reason,
                at=self.now(),
            )
        )

    def _wall(self, loop_s: float) -> datetime:
        assert self._timeline is not None
        return self._timeline.wall(loop_s)


_STATE_OF = {Verdict.GOOD: State.GOOD, Verdict.NO_PERSON: State.AWAY}
# The status line's word while the profile does not fit the camera (posture.stale).
NOT_JUDGING = "not judging"
# Verdicts that show no posture: with a hint in force, the picture is the problem.
_UNSEEN = (Verdict.NO_PERSON, Verdict.PERSON_NO_POSE)


@dataclass(frozen=True)
class _Gap:
    """Time not watched, from the last judged sample: `cause` is "camera" (lost),
    "paused" or "clock" (a suspend or the clock set; `jump_s` by how much)."""

    start_s: float
    cause: str
    jump_s: float = 0.0


@dataclass(frozen=True)
class _Busy:
    """Another program has the camera since a monotonic instant; `reason` names it."""

    since_s: float
    reason: str


@dataclass(frozen=True)
class _Pause:
    """A pause in force: until a monotonic instant and its wall-clock time, or resumed."""

    until_s: float | None
    until: datetime | None
    reason: str

    @classmethod
    def starting(cls, command: Pause, clock_s: float, now: datetime) -> _Pause:
        """The pause a command starts at this moment (monotonic and wall-clock)."""
        if command.minutes is None:
            return cls(None, None, command.reason)
        seconds = command.minutes * 60
        return cls(clock_s + seconds, now + timedelta(seconds=seconds), command.reason)

    def remaining_s(self, clock_s: float, now: datetime) -> float:
        """Seconds left by whichever clock says less (the monotonic one stops in a suspend)."""
        if self.until_s is None or self.until is None:
            return math.inf
        return min(self.until_s - clock_s, (self.until - now).total_seconds())


def open_throttled(
    spec: str, fps: float, give_up: Callable[[], bool] = lambda: False
) -> FrameSource:
    """Open a `--source`, decoding as few frames as `fps` allows (videos skip by stride);
    `give_up()` true stops waiting for a camera that hangs in its open."""
    from posture.sources import open_source

    source = open_source(spec, give_up=give_up)
    if isinstance(source, VideoFileSource) and source.fps:
        stride = max(1, int(source.fps / fps))
        if stride > 1:
            source.close()
            source = open_source(spec, stride=stride)
    return source
