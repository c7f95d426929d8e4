"""Judging someone who never calibrated: learn a provisional baseline from the session.

A population profile cannot know one person's upright: its tolerances span the
differences between people, which are wider than one person's slump (an
uncalibrated frontal camera missed most slumps of new people). So without a
profile the monitor learns one as it goes:

1. From the start it judges against the population profile (wide, and it says
   so), and keeps the frames that look upright *and settled*: the population
   calls them good, and neck and trunk have not moved since the previous frame
   by more than a still sitter's jitter (a posture being taken or left is not
   one to learn).
2. Once it holds `LearningSettings.learn_s` seconds of such frames in the view
   the camera mostly sees, it builds a provisional profile from them by the
   calibration's own rule (median and MAD per metric, `calibration.baseline`),
   with each median kept inside what upright looks like for people in that view
   (`calibration.upright`), and judges against that from then on.
3. It goes on learning from frames its provisional profile calls good, and
   refits every `refit_s` seconds of them (up to `max_frames` kept), so a
   baseline learned in a first minute spent leaning forward relaxes towards the
   person's real upright.

`posture calibrate` remains better: ten deliberate seconds of sitting tall beat
a baseline inferred from however one happened to sit. The monitor says so.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from calibration.baseline import build_baseline
from calibration.profile import Profile
from calibration.upright import UPRIGHT_BOUNDS
from posture.metrics import PostureMetrics
from posture.scoring import Assessment, Scorer
from posture.vocabulary import Verdict, View

PROVISIONAL_NAME = "provisional"


@dataclass(frozen=True)
class LearningSettings:
    """How much of a session the provisional baseline is learned from.

    - `learn_s`: seconds of upright, settled frames before the first provisional
      profile (60: several minutes of a real session, since frames that move or
      look bad are not counted; long enough for the median to be a posture,
      not a moment).
    - `refit_s`: the profile is refitted after every this many more seconds.
    - `max_step_s`: one frame counts for at most this long (frames come every
      0.5 to 2 s from the monitor; a gap is not learning time).
    - `settled_deg`: a frame is settled when neck and trunk moved less than this
      since the previous frame (about twice the model's frame-to-frame jitter).
    - `max_frames`: the newest frames kept to fit from.
    """

    learn_s: float = 60.0
    refit_s: float = 120.0
    max_step_s: float = 2.0
    settled_deg: float = 5.0
    max_frames: int = 1200

    def __post_init__(self) -> None:
        for name in ("learn_s", "refit_s", "max_step_s", "settled_deg"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value}")
        if self.max_frames < 10:
            raise ValueError(f"max_frames must be at least 10, got {self.max_frames}")


SETTLED_METRICS = (
    "neck_inclination_deg",
    "neck_inclination_3d_deg",
    "trunk_inclination_deg",
    "trunk_inclination_3d_deg",
)


def _settled(metrics: PostureMetrics, previous: PostureMetrics | None, limit: float) -> bool:
    if previous is None or previous.view is not metrics.view:
        return False
    for name in SETTLED_METRICS:
        now, before = getattr(metrics, name), getattr(previous, name)
        if now is not None and before is not None and abs(now - before) > limit:
            return False
    return True


def _inside_upright(view: View, profile: Profile) -> Profile:
    """`profile` with each bounded median moved inside upright for `view`."""
    metrics = dict(profile.metrics)
    for bound in UPRIGHT_BOUNDS[view]:
        base = metrics.get(bound.metric)
        if base is None:
            continue
        low = -math.inf if bound.low is None else bound.low
        high = math.inf if bound.high is None else bound.high
        clamped = min(max(base.median, low), high)
        if clamped != base.median:
            metrics[bound.metric] = type(base)(clamped, base.mad, base.tolerance, base.count)
    return Profile(
        name=profile.name,
        view=profile.view,
        metrics=metrics,
        source=profile.source,
        frame_count=profile.frame_count,
    )


class LearningScorer:
    """A scorer for someone without a profile: the population's verdicts while it
    learns, then a provisional profile of the person's own (see the module text).

    It is called exactly as `Scorer` is, once per judged frame in time order, with
    the frame's time (`t_ms`) so that it knows how long it has been learning.
    """

    def __init__(
        self,
        population: Scorer | None = None,
        settings: LearningSettings | None = None,
    ) -> None:
        self.population = population or Scorer()
        self.settings = settings or LearningSettings()
        self.provisional: Scorer | None = None
        self.learned_at_ms: int | None = None  # when the first provisional profile came
        self._frames: dict[View, deque[PostureMetrics]] = {}
        self._seconds: dict[View, float] = dict.fromkeys(View, 0.0)
        self._seconds_at_fit = 0.0
        self._previous: PostureMetrics | None = None
        self._previous_t_ms: int | None = None

    @property
    def profile(self) -> Profile | None:
        """Never a calibrated profile: the view checks of a calibrated run do not apply."""
        return None

    @property
    def learning(self) -> bool:
        """Still on the population's verdicts: no provisional profile fitted yet."""
        return self.provisional is None

    @property
    def remaining_s(self) -> float:
        """Seconds of upright, settled frames still needed before the first fit."""
        return max(0.0, self.settings.learn_s - max(self._seconds.values(), default=0.0))

    def note(self) -> str:
        """One line for the status: what the verdicts are judged against."""
        if self.learning:
            return (
                f"learning your posture: {math.ceil(self.remaining_s)} s of upright sitting to go"
            )
        return "judged against a baseline learned from this session"

    def assess(
        self,
        metrics: PostureMetrics | None,
        person_present: bool = False,
        t_ms: int | None = None,
    ) -> Assessment:
        """The verdict of the best judge so far; a settled frame it calls good is
        learned from. Without `t_ms` (stills) each frame counts as a second."""
        judge = self.provisional or self.population
        assessment = judge.assess(metrics, person_present)
        step_s = self._step_s(t_ms)
        if metrics is not None:
            settled = _settled(metrics, self._previous, self.settings.settled_deg)
            if settled and assessment.verdict is Verdict.GOOD:
                self._learn(metrics, step_s, t_ms)
        self._previous = metrics
        return assessment

    def _step_s(self, t_ms: int | None) -> float:
        if t_ms is None:  # stills: each frame counts as one second
            return 1.0
        previous, self._previous_t_ms = self._previous_t_ms, t_ms
        if previous is None or t_ms <= previous:
            return 0.0
        return min((t_ms - previous) / 1000, self.settings.max_step_s)

    def _learn(self, metrics: PostureMetrics, step_s: float, t_ms: int | None) -> None:
        view = metrics.view
        kept = self._frames.setdefault(view, deque(maxlen=self.settings.max_frames))
        kept.append(metrics)
        self._seconds[view] += step_s
        total = sum(self._seconds.values())
        due = self.settings.learn_s if self.learning else self.settings.refit_s
        if self._seconds[view] >= self.settings.learn_s and total - self._seconds_at_fit >= due:
            self._fit(t_ms)
            self._seconds_at_fit = total

    def _fit(self, t_ms: int | None) -> None:
        learned = {view: self._profile_for(view) for view in self._frames if self._ready(view)}
        if not learned:
            return
        # A view not learned yet borrows a learned one, as the population's views do.
        fallback = next(iter(learned.values()))
        self.provisional = Scorer(defaults={view: learned.get(view, fallback) for view in View})
        if self.learned_at_ms is None:
            self.learned_at_ms = t_ms

    def _ready(self, view: View) -> bool:
        return self._seconds[view] >= self.settings.learn_s and bool(self._frames.get(view))

    def _profile_for(self, view: View) -> Profile:
        frames = list(self._frames[view])
        learned = Profile(
            name=PROVISIONAL_NAME,
            view=view,
            metrics=build_baseline(frames),
            source=f"learned from {len(frames)} upright frames of this session",
            frame_count=len(frames),
        )
        return _inside_upright(view, learned)


def learning_scorer() -> LearningScorer:
    """What the monitor judges with when there is no calibrated profile."""
    return LearningScorer()
