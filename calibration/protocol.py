"""The calibration protocol: gated frames → robust baseline → profile."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from calibration.baseline import build_baseline
from calibration.gates import CalibrationSample, accepted_frames
from calibration.profile import Profile
from calibration.upright import check_upright
from posture.errors import CalibrationError
from posture.metrics import PostureMetrics
from posture.vocabulary import View


def dominant_view(frames: Sequence[PostureMetrics]) -> View:
    """The camera view most frames agree on (ties go to the more frontal view)."""
    counts = Counter(f.view for f in frames)
    order = [View.FRONTAL, View.OBLIQUE, View.SIDE]
    return max(order, key=lambda view: (counts[view], -order.index(view)))


def calibrate(
    samples: Sequence[CalibrationSample],
    *,
    name: str,
    source: str,
    model: str = "lite",
    force: bool = False,
    gates: bool = True,
) -> Profile:
    """Build a profile from frames of the user sitting upright.

    Raises `CalibrationError` (with what to change) when a quality gate fails, or,
    unless `force`, when the baseline is plainly not upright for people in that
    camera view (`calibration.upright`); a forced profile says so. `gates=False`
    skips both, for frames that are known to be upright (labelled evaluation data).
    """
    if gates:
        frames = accepted_frames(samples)
    else:
        frames = [s.metrics for s in samples if s.metrics is not None]
        if not frames:
            raise CalibrationError("no frame with a usable pose to calibrate from")
    baselines = build_baseline(frames)
    if not baselines:
        raise CalibrationError(
            "no posture metric could be measured in these frames: check the source"
        )
    view = dominant_view(frames)
    medians = {metric: base.median for metric, base in baselines.items()}
    forced = False
    if gates:
        try:
            check_upright(view, medians)
        except CalibrationError:
            if not force:
                raise
            forced = True
    return Profile(
        name=name,
        view=view,
        metrics=baselines,
        source=source,
        model=model,
        frame_count=len(frames),
        forced=forced,
    )
