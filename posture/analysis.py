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
from posture.sources import FrameSource


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

    def __post_init__(self) -> None:
        if self.t_ms < 0:
            raise ValueError(f"t_ms must be >= 0, got {self.t_ms}")

    def as_dict(self) -> dict[str, Any]:
        """One flat JSON-ready record: every metric is present, null when unknown."""
        record: dict[str, Any] = {"t_ms": self.t_ms, "frame": self.index}
        if self.name is not None:
            record["name"] = self.name
        record["pose"] = self.pose.detected
        record["persons"] = self.pose.person_count
        values = self.metrics.as_dict() if self.metrics is not None else {}
        record["view"] = values.get("view")
        record["near_side"] = values.get("near_side")
        for metric in METRIC_NAMES:
            record[metric] = values.get(metric)
        return record


def estimator_for(source: FrameSource, **options: Any) -> PoseEstimator:
    """VIDEO mode (tracking) for streams, IMAGE mode for independent stills."""
    return PoseEstimator(mode="video" if source.is_stream else "image", **options)


def analyze_frames(source: FrameSource, estimator: PoseEstimator) -> Iterator[FrameAnalysis]:
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
        )
