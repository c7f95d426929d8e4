"""The background loop: sample a few frames a second, judge them, nudge, record.

    source ─(throttled)─▶ pose ─▶ metrics ─▶ scorer ─▶ smoother ─▶ NudgeEngine
                                                                 ├─▶ notifier (nudges)
                                                                 └─▶ recorder (history)

Time: the loop's clock is the frames' own (`Frame.t_ms`): a camera's comes from
the monotonic clock, a file's from the file, so a recording replays with the
same timers as a live session, at `speed` times real time (0 = as fast as it
can). Wall-clock times for the history are the session start plus that clock.

Sampling: a recording replays at a fixed `fps`. A camera is sampled adaptively
(`MonitorSettings.settled_fps`): slowly while the latest frame agrees with the
smoothed verdict, and, as soon as one does not (a change is starting), a few
consecutive frames so that the pose model's tracking catches up, then `fps` until
the verdict settles again. Only samples on the `fps` grid are judged (smoothed,
timed, recorded), so the smoother sees the same evidence at any pace. The figures
behind the defaults are in docs/performance.md.

Faults: a camera that disappears mid-run (unplugged, taken by a video call) is
reported once and reopened with backoff; the gap is not counted as presence.
`stop` (a `threading.Event`, set by the CLI on SIGINT/SIGTERM) ends the loop
cleanly at the next frame or during any wait; the recorder is flushed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from posture.analysis import estimator_for
from posture.errors import SourceError
from posture.history import MinuteRow, MinuteTallies, ScoreTally
from posture.landmarks import PoseResult
from posture.metrics import compute_metrics
from posture.nudges import BreakEvent, EpisodeEvent, NudgeEngine, NudgeEvent, NudgePolicy
from posture.presence import PresenceTracker
from posture.records import Break, Episode, Nudge, NullRecorder, Recorder, Sample, SessionInfo
from posture.scoring import (
    Assessment,
    Scorer,
    SmootherSettings,
    VerdictSmoother,
    ViewCheck,
)
from posture.sources import CameraLostError, CameraSource, Frame, FrameSource, VideoFileSource
from posture.vocabulary import Verdict, View

log = logging.getLogger(__name__)

# One sample stands for at most this long in the history, so a stalled loop (a
# suspended laptop) is not counted as minutes of posture.
MAX_SAMPLE_S = 5.0
# Camera reopen delays after a loss: quick at first, then every 30 s.
RETRY_DELAYS_S = (1.0, 2.0, 5.0, 10.0, 30.0)


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
        if not 0 < self.fps <= 60:
            raise ValueError(f"fps must be in (0, 60], got {self.fps}")
        if self.speed < 0:
            raise ValueError(f"speed must be >= 0, got {self.speed}")
        if self.flush_every_s <= 0:
            raise ValueError(f"flush_every_s must be positive, got {self.flush_every_s}")
        if self.settled_fps is not None and not 0 < self.settled_fps <= 60:
            raise ValueError(f"settled_fps must be in (0, 60] or None, got {self.settled_fps}")
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
    seconds_by_verdict: Counter[Verdict] = field(default_factory=Counter)
    nudges: list[NudgeEvent] = field(default_factory=list)
    episodes: list[EpisodeEvent] = field(default_factory=list)
    breaks: list[BreakEvent] = field(default_factory=list)
    camera_gaps_s: list[float] = field(default_factory=list)
    # What the history already held for the day this run started on.
    earlier_today: list[MinuteRow] = field(default_factory=list)
    # Set when the camera came to see the user from another side than the profile's.
    view_advice: str | None = None
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
        self.samples += 1
        self.seconds_by_verdict[sample.verdict] += sample.duration_s
        self._minutes.add(sample)


@dataclass(frozen=True)
class Status:
    """The live status line's content."""

    now_s: float
    verdict: Verdict
    score: int | None
    in_state_s: float
    session_score: float | None
    snoozed: bool
    day_score: float | None = None

    def line(self) -> str:
        def shown(value: float | None) -> str:
            return "--" if value is None else f"{value:.0f}"

        score = "--" if self.score is None else f"{self.score:3d}"
        state = "away" if self.verdict is Verdict.NO_PERSON else self.verdict.value
        snooze = "  (nudges snoozed)" if self.snoozed else ""
        return (
            f"{state:<14} score {score}  for {_duration(self.in_state_s):>6}  "
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

    `earlier_today`: the history's minutes of the day so far, so that the
    status line can show today's score and not only this run's.
    """

    def __init__(
        self,
        open_source: Callable[[], FrameSource],
        scorer: Scorer,
        *,
        notify: Callable[[NudgeEvent], None] = lambda event: None,
        recorder: Recorder | None = None,
        settings: MonitorSettings | None = None,
        status: Callable[[Status], None] | None = None,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now().astimezone(),
        source_name: str = "",
        profile_name: str | None = None,
        preview: Callable[[Frame, PoseResult, Assessment], None] | None = None,
        earlier_today: Sequence[MinuteRow] = (),
    ) -> None:
        self.open_source = open_source
        self.scorer = scorer
        self.notify = notify
        self.recorder = recorder or NullRecorder()
        self.settings = settings or MonitorSettings()
        self.status = status
        self.stop = stop or threading.Event()
        self.clock = clock
        self.engine = NudgeEngine(self.settings.policy)
        self.smoother = VerdictSmoother(self.settings.smoother, clock=clock)
        self.presence = PresenceTracker()
        self.started_at = now()
        self.summary = MonitorSummary(self.started_at, earlier_today=list(earlier_today))
        self.source_name = source_name
        self.profile_name = profile_name
        self.preview = preview
        self._last_now_s: float | None = None
        self._last_flush_s = 0.0
        self._state: tuple[Verdict, float] | None = None
        self.rate = AdaptiveRate(self.settings)
        self.frames_analysed = 0
        self._shown: Assessment | None = None  # the latest smoothed verdict, for the preview
        profile = scorer.profile
        self.view_check = ViewCheck(profile.view) if profile is not None else None

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> MonitorSummary:
        self.recorder.begin_session(
            SessionInfo(self.started_at, self.source_name, self.profile_name)
        )
        try:
            self._run_until_stopped()
        finally:
            for event in self.engine.finish(self._last_now_s or 0.0):
                self._handle(event)
            end = self._wall(self._last_now_s or 0.0)
            self.recorder.flush()
            self.recorder.end_session(end)
            self.summary.duration_s = self._last_now_s or 0.0
        return self.summary

    def _run_until_stopped(self) -> None:
        retries = 0
        while not self.stop.is_set():
            try:
                with self.open_source() as source:
                    retries = 0
                    self._watch(source)
                return  # a file ended, or stop was set
            except CameraLostError as error:
                self._camera_lost(error, retries)
                retries += 1
            except SourceError:
                if retries == 0:
                    raise  # never opened: the user's error, reported by the CLI
                self._camera_lost(None, retries)
                retries += 1

    def _camera_lost(self, error: CameraLostError | None, retries: int) -> None:
        delay = RETRY_DELAYS_S[min(retries, len(RETRY_DELAYS_S) - 1)]
        if error is not None:
            log.warning("%s; retrying", error)
        lost_at = self.clock()
        self.stop.wait(delay)
        self.summary.camera_gaps_s.append(self.clock() - lost_at)

    def _watch(self, source: FrameSource) -> None:
        adaptive = isinstance(source, CameraSource) and self.settings.settled_fps is not None
        with estimator_for(source) as estimator:
            for frame, now_s in self._paced(source):
                if self.stop.is_set():
                    return
                pose = estimator.estimate_image(frame.image, round(now_s * 1000))
                self.frames_analysed += 1
                metrics = compute_metrics(pose)
                present = self.presence.person_present(frame.t_ms, metrics, pose, frame.image)
                assessment = self.scorer.assess(metrics, present)
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

    def _paced(self, source: FrameSource) -> Iterator[tuple[Frame, float]]:
        """Frames at about `fps` (adaptive for a camera), each with the loop's clock
        in seconds."""
        interval = 1.0 / self.settings.fps
        if isinstance(source, CameraSource):
            origin = self.clock() - (self._last_now_s or 0.0)
            pace = interval if self.settings.settled_fps is None else self.rate.interval_s
            for frame in source.sampled(pace, wait=self.stop.wait, reuse_buffer=True):
                yield frame, self.clock() - origin
            return
        start_wall = self.clock()
        first_t_ms: int | None = None
        next_due = 0.0
        for frame in source:
            first_t_ms = frame.t_ms if first_t_ms is None else first_t_ms
            file_s = (frame.t_ms - first_t_ms) / 1000
            if file_s + 1e-6 < next_due:
                continue  # between samples: throttled away
            next_due = file_s + interval
            if self.settings.speed > 0:
                delay = start_wall + file_s / self.settings.speed - self.clock()
                if delay > 0 and self.stop.wait(delay):
                    return
            yield frame, file_s

    # -- judging, nudging, recording --------------------------------------------------------

    def _judge(self, now_s: float, assessment: Assessment) -> Assessment:
        smoothed = self.smoother.update(assessment, round(now_s * 1000))
        step = (
            0.0
            if self._last_now_s is None
            else min(max(0.0, now_s - self._last_now_s), MAX_SAMPLE_S)
        )
        self._last_now_s = now_s
        sample = Sample(
            at=self._wall(now_s),
            duration_s=step,
            verdict=smoothed.verdict,
            score=smoothed.score,
            neck_excess=smoothed.neck_excess,
            trunk_excess=smoothed.trunk_excess,
        )
        self.summary.add(sample)
        self.recorder.add_sample(sample)
        for event in self.engine.update(now_s, smoothed.verdict):
            self._handle(event)
        if now_s - self._last_flush_s >= self.settings.flush_every_s:
            self.recorder.flush()
            self._last_flush_s = now_s
        self._report_status(now_s, smoothed)
        return smoothed

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
        if self._state is None or self._state[0] is not smoothed.verdict:
            self._state = (smoothed.verdict, now_s)
        if self.status is not None:
            self.status(
                Status(
                    now_s=now_s,
                    verdict=smoothed.verdict,
                    score=smoothed.score,
                    in_state_s=now_s - self._state[1],
                    session_score=self.summary.score,
                    snoozed=self.engine.snoozed(now_s),
                    day_score=self.summary.day_score,
                )
            )

    def snooze(self, minutes: float) -> None:
        """Pause nudges for `minutes` from the loop's current time."""
        self.engine.snooze((self._last_now_s or 0.0) + minutes * 60)

    def _wall(self, now_s: float) -> datetime:
        return self.started_at + timedelta(seconds=now_s)


def open_throttled(spec: str, fps: float) -> FrameSource:
    """Open a `--source`, decoding as few frames as `fps` allows (videos skip by stride)."""
    from posture.sources import open_source

    source = open_source(spec)
    if isinstance(source, VideoFileSource) and source.fps:
        stride = max(1, int(source.fps / fps))
        if stride > 1:
            source.close()
            source = open_source(spec, stride=stride)
    return source
