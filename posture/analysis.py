"""Frames → pose → metrics, one `FrameAnalysis` per frame.

The shared core of `posture analyze`, calibration and evaluation: it knows
nothing about output formats or exit codes. Frames are dropped as soon as they
are measured.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from posture.landmarks import PoseResult
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
        due = (
            self._checked_ms is None
            or frame.t_ms < self._checked_ms  # a new file, or a rewound one
            or frame.t_ms - self._checked_ms >= self.every_ms
        )
        if due:
            self._count = self._estimator.estimate(frame).person_count
            self._checked_ms = frame.t_ms
        return self._count


def analyze_frames(
    source: FrameSource, estimator: PoseEstimator, crowd: CrowdCounter | None = None
) -> Iterator[FrameAnalysis]:
    """Run the estimator, the metrics and the presence cues over every frame."""
    presence = PresenceTracker()
    for frame in source:
        pose = estimator.estimate(frame)
        metrics = compute_metrics(pose)
        yield FrameAnalysis(
            t_ms=frame.t_ms,
            index=frame.index,
            pose=pose,
            metrics=metrics,
            person_present=presence.person_present(frame.t_ms, metrics, pose.detected, frame.image),
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
