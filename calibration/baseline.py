"""A robust baseline per metric, and the tolerance around it.

Baseline = the median over the accepted calibration frames; spread = the median
absolute deviation (MAD), which one stray frame cannot inflate. The tolerance
(how far a metric may move before it counts as a deviation) is

    tolerance = clip(SPREAD_K * 1.4826 * MAD, minimum, maximum)

1.4826 * MAD estimates the standard deviation of normal noise, so SPREAD_K = 3
puts the threshold three sigma from the baseline. The minimum margin keeps a
still image (MAD = 0) or an unusually steady calibration from flagging the
model's own frame-to-frame jitter; the maximum keeps a fidgety calibration from
accepting a real slouch. Margins marked relative are fractions of the baseline.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from statistics import median

from posture.metrics import PostureMetrics

SPREAD_K = 3.0
MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class Margin:
    """Bounds on a metric's tolerance, in the metric's unit (or a fraction of it)."""

    minimum: float
    maximum: float
    relative: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.minimum <= self.maximum:
            raise ValueError(f"need 0 < minimum <= maximum, got {self.minimum}, {self.maximum}")


# Why these numbers: the landmarker jitters by about 2-3 deg frame to frame on a
# still person, and by 0.01-0.02 in the ratios; the minimums are roughly three
# times that. Side-view angles get more (10 deg): two upright sittings of the
# same person differ by up to 8 deg there (the bundled upright photos). The
# maximums are where a change is plainly visible in a photo (15 deg of neck or
# trunk lean, a head 15 % of a shoulder width lower).
MARGINS: Mapping[str, Margin] = {
    "neck_inclination_deg": Margin(10.0, 15.0),
    "neck_inclination_3d_deg": Margin(6.0, 15.0),
    "trunk_inclination_deg": Margin(10.0, 15.0),
    "trunk_inclination_3d_deg": Margin(8.0, 15.0),
    "head_forward_ratio": Margin(0.06, 0.2),
    "head_height_ratio": Margin(0.05, 0.15),
    "head_size_ratio": Margin(0.05, 0.15),
    "head_size_frac": Margin(0.2, 0.5, relative=True),
    "shoulder_width_ratio": Margin(0.08, 0.2),
    "torso_height_ratio": Margin(0.08, 0.25),
    # The shoulders' height in the picture moves with the model's jitter by about
    # 0.02-0.03 of a shoulder width; a slump of 10 cm is about a quarter of one.
    "shoulder_level_ratio": Margin(0.08, 0.25),
    "shoulder_tilt_deg": Margin(6.0, 12.0),
    "head_roll_deg": Margin(8.0, 15.0),
}
BASELINE_METRICS: tuple[str, ...] = tuple(MARGINS)


@dataclass(frozen=True)
class MetricBaseline:
    """One metric's calibrated centre, spread and tolerance."""

    median: float
    mad: float
    tolerance: float
    count: int

    def __post_init__(self) -> None:
        for name in ("median", "mad", "tolerance"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value}")
        if self.mad < 0 or self.tolerance <= 0 or self.count < 1:
            raise ValueError(
                f"invalid baseline: mad={self.mad} tolerance={self.tolerance} count={self.count}"
            )

    def as_dict(self) -> dict[str, float | int]:
        """For the profile file: six decimals are far below the landmarker's jitter
        and keep the file short enough to read and diff."""
        return {
            "median": round(self.median, 6),
            "mad": round(self.mad, 6),
            "tolerance": round(self.tolerance, 6),
            "count": self.count,
        }


def tolerance_for(metric: str, centre: float, mad: float) -> float:
    """SPREAD_K robust sigmas clipped to the metric's margins (see the module's
    docstring). A relative margin around a zero centre would be no margin at all,
    so it falls back to the minimum taken as absolute."""
    margin = MARGINS[metric]
    scale = abs(centre) if margin.relative else 1.0
    lower, upper = margin.minimum * scale, margin.maximum * scale
    if lower <= 0:
        lower = upper = margin.minimum
    return min(max(SPREAD_K * MAD_TO_SIGMA * mad, lower), upper)


def baseline_of(metric: str, values: Iterable[float | None]) -> MetricBaseline | None:
    """Median, MAD and tolerance of `values`; None when there are none."""
    data = [v for v in values if v is not None and math.isfinite(v)]
    if not data:
        return None
    centre = median(data)
    mad = median(abs(v - centre) for v in data)
    return MetricBaseline(centre, mad, tolerance_for(metric, centre, mad), len(data))


def build_baseline(frames: Iterable[PostureMetrics]) -> dict[str, MetricBaseline]:
    """Per-metric baselines over the frames; metrics never measured are left out."""
    frames = list(frames)
    baselines: dict[str, MetricBaseline] = {}
    for metric in BASELINE_METRICS:
        found = baseline_of(metric, (getattr(f, metric) for f in frames))
        if found is not None:
            baselines[metric] = found
    return baselines
