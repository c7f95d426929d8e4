"""Frames → pose → metrics, one `FrameAnalysis` per frame.

The shared core of `posture analyze`, calibration and evaluation: it knows
nothing about output formats or exit codes. Frames are dropped as soon as they
are measured.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from posture.landmarks import Landmark, PoseResult
from posture.metrics import METRIC_NAMES, PostureMetrics, compute_metrics
from posture.pose import PoseEstimator
from posture.presence import PresenceTracker, brightness
from posture.sources import Frame, FrameSource


@dataclass(frozen=True)
class FrameAnalysis:
    """What one frame says about posture. `metrics` is None without a usable pose."""

    t_ms: int
    index: int
    pose: PoseResult
    metrics: PostureMetrics | None
    person_present: bool
    brightness: float
    name: str | None = None
    # People in view from a separate crowd check (`CrowdCounter`); None: the
    # pose estimator's own count.
    people: int | None = None

    def __post_init__(self) -> None:
        if self.t_ms < 0:
            raise ValueError(f"t_ms must be >= 0, got {self.t_ms}")

    @property
    def person_count(self) -> int:
        """The crowd check's count where there was one: a tracking estimator sees
        only the person it follows."""
        return self.pose.person_count if self.people is None else self.people

    def as_dict(self) -> dict[str, Any]:
        """One flat JSON-ready record: every metric is present, null when unknown."""
        record: dict[str, Any] = {"t_ms": self.t_ms, "frame": self.index}
        if self.name is not None:
            record["name"] = self.name
        record["pose"] = self.pose.detected
        record["persons"] = self.person_count
        values = self.metrics.as_dict() if self.metrics is not None else {}
        record["view"] = values.get("view")
        record["near_side"] = values.get("near_side")
        for metric in METRIC_NAMES:
            record[metric] = values.get(metric)
        return record


def estimator_for(source: FrameSource, **options: Any) -> PoseEstimator:
    """VIDEO mode (tracking) for streams, IMAGE mode for independent stills."""
    return PoseEstimator(mode="video" if source.is_stream else "image", **options)


class CrowdCounter:
    """Counts the people in view with a detector pass of its own.

    Tracking (VIDEO mode) follows one person, so it never reports a second.
    Asking it for two makes MediaPipe re-detect on every frame, which places
    the first person's landmarks differently from the tracking the monitor
    uses: 4 degrees of neck angle on the sample session, half a tolerance.
    Calibration must measure the way the monitor will, so the crowd gate gets
    this separate IMAGE-mode estimator, run once per `every_ms` of source time;
    the last count stands for the frames in between.

    MediaPipe's detector, asked for two people, often reports one when two sit
    side by side (in 23 of 55 pairs of the bundled photos put side by side).
    When it finds one, the picture is searched again with that person blanked
    out (`without_person`): a second pose there is a second person (51 of the
    55 pairs, and 1 false second person in the 116 single-person dev images).
    """

    def __init__(self, every_ms: int = 300) -> None:
        self.every_ms = every_ms
        self._estimator = PoseEstimator(mode="image", num_poses=2)
        self._checked_ms: int | None = None
        self._count = 0

    def __enter__(self) -> CrowdCounter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._estimator.close()

    def count(self, frame: Frame) -> int:
        """People in view at `frame`, detected afresh only once per `every_ms` of
        source time: a second detector pass on every frame would double the cost."""
        due = (
            self._checked_ms is None
            or frame.t_ms < self._checked_ms  # a new file, or a rewound one
            or frame.t_ms - self._checked_ms >= self.every_ms
        )
        if due:
            self._count = self.people_in(frame.image)
            self._checked_ms = frame.t_ms
        return self._count

    def people_in(self, image: np.ndarray) -> int:
        """0, 1 or 2 (two or more) people in `image`."""
        first = self._estimator.estimate_image(image)
        if first.person_count != 1:
            return first.person_count
        second = self._estimator.estimate_image(without_person(image, first))
        return 2 if second.detected else 1


# How far beyond a person's landmarks `without_person` blanks the picture, as a
# share of the landmarks' extent: the body's outline (the back, the top of the
# head) lies outside the joints the model places.
BLANK_MARGIN = 0.25


def without_person(image: np.ndarray, pose: PoseResult) -> np.ndarray:
    """A copy of `image` with the person of `pose` painted over in grey: their
    landmarks' box grown by BLANK_MARGIN, and everything above it (the head's
    top reaches past the eyes and ears, the model's highest points)."""
    height, width = image.shape[:2]
    xy = np.clip(pose.image_xy, 0.0, 1.0) * (width, height)
    (left, _), (right, bottom) = xy.min(axis=0), xy.max(axis=0)
    margin = BLANK_MARGIN * max(right - left, bottom - xy[:, 1].min())
    blanked: np.ndarray = image.copy()
    x0, x1 = max(0, int(left - margin)), min(width, int(right + margin) + 1)
    blanked[: min(height, int(bottom + margin) + 1), x0:x1] = 127
    return blanked


# Settling (see `analyze_frames`): a pose whose key points moved by more than this
# share of their bounding box since the previous analysed frame is estimated again.
SETTLE_SHIFT = 0.03
SETTLE_STEP_MS = 33  # as if the same picture came again from a 30 fps camera
# With a stride over a video, how many times a frame that shows a posture change
# may be estimated again so the tracking catches up: on the sample session at
# `analyze --every 10` the verdict after sitting up again comes 1 s late instead
# of 4 s, for 20 % more model runs.
SETTLE_REPEATS = 4
KEY_POINTS = (
    Landmark.NOSE,
    Landmark.LEFT_EAR,
    Landmark.RIGHT_EAR,
    Landmark.LEFT_SHOULDER,
    Landmark.RIGHT_SHOULDER,
    Landmark.LEFT_HIP,
    Landmark.RIGHT_HIP,
)


def pose_shift(before: PoseResult, after: PoseResult) -> float:
    """How far the key points moved between two poses, as a share of the size of the
    body they outline (median over the points); 1.0 when either pose is missing."""
    if not (before.detected and after.detected):
        return 1.0
    keys = list(KEY_POINTS)
    old = before.image_xy[keys] * before.image_size
    new = after.image_xy[keys] * after.image_size
    size = float(np.hypot(*(new.max(axis=0) - new.min(axis=0))))
    moved = float(np.median(np.hypot(*(new - old).T)))
    return moved / size if size > 0 else 1.0


def analyze_frames(
    source: FrameSource,
    estimator: PoseEstimator,
    crowd: CrowdCounter | None = None,
    settle: int = 0,
) -> Iterator[FrameAnalysis]:
    """Run the estimator, the metrics and the presence cues over every frame.

    `settle`: in VIDEO mode MediaPipe tracks the body from one frame to the next
    and smooths its landmarks over time, so after a posture change it needs
    several frames to catch up, however far apart they are. Analysing every Nth
    frame of a video that makes verdicts N times later. With `settle` > 0, a pose
    that moved a lot since the previous analysed frame is estimated again on the
    same picture, up to `settle` more times, until it stops moving: the cost is
    paid only at changes.
    """
    presence = PresenceTracker()
    previous: PoseResult | None = None
    for frame in source:
        pose = estimator.estimate(frame)
        if settle and estimator.mode == "video" and previous is not None:
            shift, repeats = pose_shift(previous, pose), 0
            while shift > SETTLE_SHIFT and repeats < settle:
                repeats += 1
                again = estimator.estimate_image(frame.image, frame.t_ms + repeats * SETTLE_STEP_MS)
                shift, pose = pose_shift(pose, again), again
        previous = pose
        metrics = compute_metrics(pose)
        yield FrameAnalysis(
            t_ms=frame.t_ms,
            index=frame.index,
            pose=pose,
            metrics=metrics,
            person_present=presence.person_present(frame.t_ms, metrics, pose, frame.image),
            brightness=brightness(frame.image),
            name=getattr(frame, "name", None),
            people=None if crowd is None else max(crowd.count(frame), pose.person_count),
        )


def calibration_frames(source: FrameSource) -> Iterator[FrameAnalysis]:
    """Every frame of `source` measured exactly as the monitor and `analyze`
    measure it, with the people in view counted for the crowd gate."""
    # Stills are independent pictures: each is checked.
    every_ms = 300 if source.is_stream else 0
    with estimator_for(source) as estimator, CrowdCounter(every_ms) as crowd:
        yield from analyze_frames(source, estimator, crowd)
