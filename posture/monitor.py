"""The background loop: sample a few frames a second, judge them, nudge, record.

    source ─(throttled)─▶ pose ─▶ metrics ─▶ scorer ─▶ smoother ─▶ NudgeEngine
                                                                 ├─▶ notifier (nudges)
                                                                 └─▶ recorder (history)

Time: the loop's clock is the frames' own (`Frame.t_ms`): a camera's comes from
the monotonic clock, a file's from the file, so a recording replays with the
same timers as a live session, at `speed` times real time (0 = as fast as it
can). Wall-clock times for the history are the session start plus that clock.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from posture.analysis import estimator_for
from posture.errors import SourceError
from posture.landmarks import PoseResult
from posture.metrics import compute_metrics
from posture.nudges import BreakEvent, EpisodeEvent, NudgeEngine, NudgeEvent, NudgePolicy
from posture.presence import PresenceTracker
from posture.records import Break, Episode, Nudge, NullRecorder, Recorder, Sample, SessionInfo
from posture.scoring import Assessment, Scorer, SmootherSettings, Verdict, VerdictSmoother
from posture.sources import CameraLostError, CameraSource, Frame, FrameSource, VideoFileSource

log = logging.getLogger(__name__)

# One sample stands for at most this long in the history, so a stalled loop (a
# suspended laptop) is not counted as minutes of posture.
MAX_SAMPLE_S = 5.0
# Camera reopen delays after a loss: quick at first, then every 30 s.
RETRY_DELAYS_S = (1.0, 2.0, 5.0, 10.0, 30.0)


@dataclass(frozen=True)
class MonitorSettings:
    """How the loop samples and times things.

    - `fps`: samples per second (2: a posture does not change 30 times a second,
      and 2 samples catch a slouch within seconds at a fraction of the cost).
    - `speed`: how fast a file plays (1 = real time; 0 = as fast as possible).
    - `flush_every_s`: the history is written at least this often.
    """

    fps: float = 2.0
    speed: float = 1.0
    policy: NudgePolicy = field(default_factory=NudgePolicy)
    smoother: SmootherSettings = field(default_factory=SmootherSettings)
    flush_every_s: float = 60.0

    def __post_init__(self) -> None:
        if not 0 < self.fps <= 60:
            raise ValueError(f"fps must be in (0, 60], got {self.fps}")
        if self.speed < 0:
            raise ValueError(f"speed must be >= 0, got {self.speed}")
        if self.flush_every_s <= 0:
            raise ValueError(f"flush_every_s must be positive, got {self.flush_every_s}")


@dataclass
class MonitorSummary:
    """What one run saw, for the closing summary."""

    started_at: datetime
    duration_s: float = 0.0
    samples: int = 0
    seconds_by_verdict: Counter[Verdict] = field(default_factory=Counter)
    score_seconds: float = 0.0
    weighted_score: float = 0.0
    nudges: list[NudgeEvent] = field(default_factory=list)
    episodes: list[EpisodeEvent] = field(default_factory=list)
    breaks: list[BreakEvent] = field(default_factory=list)
    camera_gaps_s: list[float] = field(default_factory=list)

    @property
    def present_s(self) -> float:
        return sum(s for v, s in self.seconds_by_verdict.items() if v is not Verdict.NO_PERSON)

    @property
    def mean_score(self) -> float | None:
        return self.weighted_score / self.score_seconds if self.score_seconds else None

    def add(self, duration_s: float, assessment: Assessment) -> None:
        self.samples += 1
        self.seconds_by_verdict[assessment.verdict] += duration_s
        if assessment.score is not None and duration_s > 0:
            self.score_seconds += duration_s
            self.weighted_score += assessment.score * duration_s


@dataclass(frozen=True)
class Status:
    """The live status line's content."""

    now_s: float
    verdict: Verdict
    score: int | None
    in_state_s: float
    session_score: float | None
    snoozed: bool

    def line(self) -> str:
        score = "--" if self.score is None else f"{self.score:3d}"
        mean = "--" if self.session_score is None else f"{self.session_score:.0f}"
        state = "away" if self.verdict is Verdict.NO_PERSON else self.verdict.value
        snooze = "  (nudges snoozed)" if self.snoozed else ""
        return (
            f"{state:<14} score {score}  for {_duration(self.in_state_s):>6}  "
            f"session {mean}{snooze}"
        )


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Monitor:
    """One monitoring run over a frame source. Call `run()` once."""

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
        self.summary = MonitorSummary(self.started_at)
        self.source_name = source_name
        self.profile_name = profile_name
        self.preview = preview
        self._last_now_s: float | None = None
        self._last_flush_s = 0.0
        self._state: tuple[Verdict, float] | None = None

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
        with estimator_for(source) as estimator:
            for frame, now_s in self._paced(source):
                if self.stop.is_set():
                    return
                pose = estimator.estimate_image(frame.image, round(now_s * 1000))
                metrics = compute_metrics(pose)
                present = self.presence.person_present(
                    frame.t_ms, metrics, pose.detected, frame.image
                )
                self._judge(now_s, self.scorer.assess(metrics, present))

    def _paced(self, source: FrameSource) -> Iterator[tuple[Frame, float]]:
        """Frames at about `fps`, each with the loop's clock in seconds."""
        interval = 1.0 / self.settings.fps
        if isinstance(source, CameraSource):
            origin = self.clock() - (self._last_now_s or 0.0)
            for frame in source.sampled(interval, wait=self.stop.wait):
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
        self.summary.add(step, smoothed)
        self.recorder.add_sample(
            Sample(
                at=self._wall(now_s),
                duration_s=step,
                verdict=smoothed.verdict,
                score=smoothed.score,
                neck_excess=smoothed.neck_excess,
                trunk_excess=smoothed.trunk_excess,
            )
        )
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
                    session_score=self.summary.mean_score,
                    snoozed=self.engine.snoozed(now_s),
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
