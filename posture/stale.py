"""A calibration that no longer fits: another camera, or a camera (or seat) that moved.

A profile is a person's upright posture *as one camera saw it*: the whole-body-drop
cue (`shoulder_level_ratio`, issue #11) and the too-close cue compare where the body
sits in the picture and how large it is with where it sat while calibrating. Tilt the
laptop lid by 5 degrees and the shoulders drop in the picture by a quarter of a
shoulder width: one tolerance, a stream of "slouch" verdicts for sitting exactly as
before. So the profile records its set-up (`calibration.profile.Setup`: the camera,
the picture's size, where the shoulders sat and how large the body was), and
`SetupCheck` watches for a set-up that no longer fits:

- **Another camera** (the device's own name differs) or another picture size:
  the profile does not fit from the first frame.
- **A moved camera or seat**: the body's *placement* moved while its *shape* did
  not. A slouch moves the shoulders too, but it changes the body's shape: the
  trunk or neck leans, the head sinks towards the shoulder line, the shoulders
  narrow as they round, the torso shortens. A moved camera moves everything
  together (head, shoulders and hips alike) and changes only where the body sits
  and how large it is. A frame is *moved* when every shape measure it shares with
  the profile (`SHAPE_METRICS`) is within `SHAPE_AT_BASELINE` of its tolerance
  of the baseline and the placement moved by more than:

  - down or up: the profile's own tolerance for `shoulder_level_ratio` (at least
    `MIN_LEVEL_SHIFT`): a drop that would make the whole-body-drop cue fire on its
    own (with the hips in the picture, a slump that leaves them on the seat
    shortens the torso, a shape measure, so it is never taken for a moved camera);
  - sideways: `SIDE_SHIFT` shoulder widths;
  - in size: `SCALE_SHIFT` (the chair or the screen moved nearer or further).

  When moved frames stand for `MOVED_SHARE` of the last `STALE_AFTER_S` (each
  frame for the time until the next), the set-up is stale: about 16 s after the
  camera moved. It fits again when frames in place stand for that share of the
  last `BACK_AFTER_S` (the lid put back).

What cannot be told apart from landmarks alone, and so is called a moved camera: a
frontal slump in which the body's shape does not change at all, held for 20 s; and
leaning in on a straight back, hips out of the picture, by a quarter or more of
the body's size, held for 20 s. Both are said as "recalibrate", never nudged.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import median

from calibration.profile import Profile, Setup
from posture.landmarks import Landmark, PoseResult
from posture.metrics import PostureMetrics

# The body's shape, as every rule of the scorer sees it: what a posture changes.
SHAPE_METRICS = (
    "neck_inclination_deg",
    "neck_inclination_3d_deg",
    "trunk_inclination_deg",
    "trunk_inclination_3d_deg",
    "head_forward_ratio",
    "head_height_ratio",
    "shoulder_width_ratio",
    "torso_height_ratio",
)
# "At baseline": within half a tolerance, about twice the frame-to-frame jitter of a
# still sitter (the same figure as `MonitorSettings.change_excess`).
SHAPE_AT_BASELINE = 0.5
# The shoulders' height jitters by 0.02-0.03 shoulder widths frame to frame
# (`calibration.baseline`); a shift under 0.1 is never a moved camera.
MIN_LEVEL_SHIFT = 0.1
# Sitting off-centre by half a shoulder width (about 20 cm) is no posture the scorer
# judges, and no one shifts that far on the seat for long.
SIDE_SHIFT = 0.5
# The body a quarter larger or smaller (ln 1.25): the screen or the chair about 12 cm
# nearer or further at a 60 cm sitting distance; past the too-close rule's least
# tolerance (20 % of head size), so it would be judged, wrongly, otherwise.
SCALE_SHIFT = math.log(1.25)
# Stale after 20 s of moved frames: sooner than the 30 s of bad posture a nudge
# waits for, so a moved camera never nudges; longer than shifting on the seat.
STALE_AFTER_S = 20.0
BACK_AFTER_S = 10.0
MOVED_SHARE = 0.8
# A frame stands for the time until the next one, at most this long (the monitor's
# slowest sampling is one frame every 2 s).
MAX_FRAME_S = 2.5


@dataclass(frozen=True)
class Placement:
    """Where the body sits in one picture: the shoulder midpoint (shares of the
    picture's width and height) and the body scale (a share of the width)."""

    x: float
    y: float
    scale: float


def placement_of(pose: PoseResult, metrics: PostureMetrics | None) -> Placement | None:
    """The body's placement in this picture; None without a measured body scale."""
    if metrics is None or metrics.body_scale_px is None:
        return None
    shoulders = (pose.image_xy[Landmark.LEFT_SHOULDER] + pose.image_xy[Landmark.RIGHT_SHOULDER]) / 2
    width = pose.image_size[0]
    return Placement(float(shoulders[0]), float(shoulders[1]), metrics.body_scale_px / width)


def setup_of(
    placements: Iterable[Placement | None],
    *,
    source: str,
    size: tuple[int, int] | None,
    camera: str | None = None,
) -> Setup | None:
    """The set-up of a calibration: the medians of its frames' placements."""
    found = [p for p in placements if p is not None]
    if not found or size is None:
        return None
    return Setup(
        source=source,
        camera=camera,
        width=size[0],
        height=size[1],
        shoulder_x=median(p.x for p in found),
        shoulder_y=median(p.y for p in found),
        body_scale=median(p.scale for p in found),
    )


def checkable(setup: Setup | None, *, live: bool, source: str) -> bool:
    """Whether a source can be checked against a profile's set-up: a camera against a
    profile taken with a camera, a recording against one taken from that recording.
    (A profile from photos says nothing about where a camera sees the body.)"""
    if setup is None:
        return False
    return setup.source.startswith("camera") if live else setup.source == source


def _size(width: int, height: int) -> str:
    return f"{width}x{height}"


class SetupCheck:
    """Does the profile's set-up still fit this camera? See the module docstring.

    `reason` is the sentence to show while it does not (None while it fits);
    `update` returns it when it starts or changes, "" when the set-up fits again,
    None otherwise.
    """

    def __init__(self, profile: Profile, *, camera: str | None, live: bool) -> None:
        if profile.setup is None:
            raise ValueError("the profile records no set-up to check")
        self.profile = profile
        self.setup: Setup = profile.setup
        self.camera, self.live = camera, live
        self.reason: str | None = None
        self._fixed: str | None = None  # another camera: stale for the whole run
        self._seen: deque[tuple[float, bool]] = deque()

    def update(
        self,
        now_s: float,
        size: tuple[int, int],
        pose: PoseResult,
        metrics: PostureMetrics | None,
    ) -> str | None:
        """Take one analysed frame (its size, pose and metrics) at loop time `now_s`."""
        before = self.reason
        if self._fixed is None:
            self._fixed = self._other_camera(size)
        if self._fixed is not None:
            self.reason = self._fixed
        else:
            moved = self.moved(size, pose, metrics)
            if moved is not None:
                self._seen.append((now_s, moved))
            self.reason = self._judge(now_s)
        if self.reason == before:
            return None
        return self.reason or ""

    def _other_camera(self, size: tuple[int, int]) -> str | None:
        """Why this is another camera than the profile's, if it is one (cameras only)."""
        setup = self.setup
        if not self.live:
            return None
        if setup.camera and self.camera and setup.camera != self.camera:
            return (
                f"another camera ({self.camera}) than calibrated ({setup.camera}): "
                "recalibrate with this one"
            )
        if (setup.width, setup.height) != size:
            return (
                f"the camera gives {_size(*size)} pictures, calibrated at "
                f"{_size(setup.width, setup.height)}: recalibrate"
            )
        return None

    def moved(
        self, size: tuple[int, int], pose: PoseResult, metrics: PostureMetrics | None
    ) -> bool | None:
        """Whether this frame shows a moved set-up (True), the set-up in place (False),
        or says nothing (None: no body measured, or a posture that explains a shift)."""
        placement = placement_of(pose, metrics)
        if placement is None or metrics is None or not self._shape_at_baseline(metrics):
            return None
        setup = self.setup
        width, height = size
        if abs(width * setup.height - height * setup.width) > 0.02 * width * setup.height:
            return None  # another aspect: placements cannot be compared (a replay)
        base = setup.body_scale
        aspect = pose.image_size[1] / pose.image_size[0]  # the landmarks' own picture
        side = (placement.x - setup.shoulder_x) / base
        drop = (placement.y - setup.shoulder_y) * aspect / base
        if abs(math.log(placement.scale / base)) > SCALE_SHIFT or abs(side) > SIDE_SHIFT:
            return True
        level = self.profile.baseline("shoulder_level_ratio")
        limit = max(MIN_LEVEL_SHIFT, level.tolerance if level is not None else 0.0)
        return abs(drop) > limit

    def _shape_at_baseline(self, metrics: PostureMetrics) -> bool:
        shared = 0
        for name in SHAPE_METRICS:
            value, base = getattr(metrics, name), self.profile.baseline(name)
            if value is None or base is None:
                continue
            shared += 1
            if abs(value - base.median) > SHAPE_AT_BASELINE * base.tolerance:
                return False
        return shared > 0

    def _judge(self, now_s: float) -> str | None:
        """Stale, or fit again, once frames that agree stand for MOVED_SHARE of a long
        enough stretch (each frame for the time until the next, at most MAX_FRAME_S:
        the monitor samples faster while things change, and frames that say nothing,
        nobody there or a posture, do not count either way)."""
        seen = self._seen
        if not seen:
            return self.reason  # nothing said about the set-up yet
        while len(seen) > 1 and seen[1][0] < now_s - STALE_AFTER_S:
            seen.popleft()
        stale = self.reason is not None
        span_s = BACK_AFTER_S if stale else STALE_AFTER_S
        start_s = now_s - span_s
        covered = agreeing = 0.0
        ends = [t for t, _ in list(seen)[1:]] + [now_s]
        for (t, moved), end_s in zip(seen, ends, strict=True):
            lasted = max(0.0, min(end_s, t + MAX_FRAME_S) - max(t, start_s))
            covered += lasted
            agreeing += lasted if moved is not stale else 0.0
        if covered < 0.9 * span_s or agreeing < MOVED_SHARE * covered:
            return self.reason
        return None if stale else MOVED


MOVED = "the camera or your seat moved since calibrating: recalibrate"
