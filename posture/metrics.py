"""Posture metrics: pure functions from landmarks to a frozen `PostureMetrics`.

No I/O and no MediaPipe here, so every formula can be tested with hand-built
landmarks of known geometry. Conventions:

- 2D geometry is done in pixels (normalized x times width, y times height), so a
  non-square image does not distort angles. Image y grows downwards.
- "Forward" is the direction the face points (from the ears towards the nose).
  Inclinations are signed: positive leans forward, negative leans back.
- World (3D) landmarks are in metres, hip-centred, camera-aligned, y down.
- A metric whose landmarks are missing or barely visible is `None`, never a guess.

Landmark indices are BlazePose's (see `posture.landmarks.Landmark`): nose 0,
eyes 2/5, ears 7/8, mouth 9/10, shoulders 11/12, elbows 13/14, hips 23/24
(left/right are the person's own).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from posture.landmarks import FloatArray, Landmark, PoseResult
from posture.vocabulary import View

# Below this MediaPipe visibility a landmark is treated as absent. 0.5 is the
# model's own decision boundary for "visible in the image".
VISIBILITY_THRESHOLD = 0.5

# Body yaw (angle between the shoulder line and the image plane) that separates
# views: a shoulder line within 30 deg of the image plane is a frontal view,
# beyond 60 deg a side view, oblique in between.
FRONTAL_MAX_YAW_DEG = 30.0
SIDE_MIN_YAW_DEG = 60.0

# A hip predicted this far outside the image is extrapolated, not seen.
IN_FRAME_MARGIN = 0.02

FACE = (
    Landmark.NOSE,
    Landmark.LEFT_EYE,
    Landmark.RIGHT_EYE,
    Landmark.LEFT_EAR,
    Landmark.RIGHT_EAR,
    Landmark.MOUTH_LEFT,
    Landmark.MOUTH_RIGHT,
)
# Landmarks whose image and world positions are compared to find the body scale.
SCALE_POINTS = (
    *FACE,
    Landmark.LEFT_SHOULDER,
    Landmark.RIGHT_SHOULDER,
    Landmark.LEFT_ELBOW,
    Landmark.RIGHT_ELBOW,
    Landmark.LEFT_HIP,
    Landmark.RIGHT_HIP,
)
UP = np.array([0.0, -1.0, 0.0])


@dataclass(frozen=True)
class PostureMetrics:
    """Every posture measurement of one frame. Angles in degrees, ratios unitless.

    Ratios are divided by `body_scale_px`, the person's shoulder width in pixels
    as it would look square-on, so that distance to the camera cancels out.
    """

    view: View
    view_confidence: float
    body_yaw_deg: float
    key_visibility: float
    near_side: str | None = None
    body_scale_px: float | None = None
    neck_inclination_deg: float | None = None
    neck_inclination_3d_deg: float | None = None
    craniovertebral_deg: float | None = None
    trunk_inclination_deg: float | None = None
    trunk_inclination_3d_deg: float | None = None
    head_forward_ratio: float | None = None
    head_height_ratio: float | None = None
    head_size_ratio: float | None = None
    head_size_frac: float | None = None
    shoulder_width_ratio: float | None = None
    torso_height_ratio: float | None = None
    shoulder_level_ratio: float | None = None
    shoulder_tilt_deg: float | None = None
    head_roll_deg: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.view_confidence <= 1.0:
            raise ValueError(f"view_confidence must be in [0, 1], got {self.view_confidence}")
        if not 0.0 <= self.body_yaw_deg <= 90.0:
            raise ValueError(f"body_yaw_deg must be in [0, 90], got {self.body_yaw_deg}")
        if self.near_side not in (None, "left", "right"):
            raise ValueError(f"near_side must be 'left', 'right' or None, got {self.near_side}")
        # vars(), not asdict(): this runs on every frame, and asdict deep-copies.
        for name, value in vars(self).items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value}")

    @classmethod
    def from_pose(cls, pose: PoseResult) -> PostureMetrics | None:
        """Measure `pose`; `None` when there is no pose or no usable shoulders."""
        return compute_metrics(pose)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values, rounded to a precision the model supports."""
        out: dict[str, Any] = {}
        for name, value in asdict(self).items():
            if isinstance(value, View):
                out[name] = value.value
            elif isinstance(value, float):
                out[name] = round(value, 4)
            else:
                out[name] = value
        return out


METRIC_NAMES: tuple[str, ...] = tuple(
    name for name in PostureMetrics.__dataclass_fields__ if name not in ("view", "near_side")
)


def _norm(vector: FloatArray) -> float:
    """Length of a short vector (np.linalg.norm's generality costs more than the sum)."""
    return math.sqrt(float(np.dot(vector, vector)))


def _cross(a: FloatArray, b: FloatArray) -> FloatArray:
    """3D cross product, without np.cross's broadcasting machinery."""
    a0, a1, a2 = a.tolist()
    b0, b1, b2 = b.tolist()
    return np.array([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0])


def _unit(vector: FloatArray) -> FloatArray | None:
    norm = _norm(vector)
    if norm < 1e-9 or not math.isfinite(norm):
        return None
    return vector / norm


def _line_angle_deg(first: FloatArray, second: FloatArray) -> float:
    """Angle of the image line first→second from horizontal, folded into (-90, 90].

    Positive when the line falls towards the image's right (y grows down).
    """
    dx, dy = second - first
    angle = math.degrees(math.atan2(dy, dx))
    if angle > 90.0:
        angle -= 180.0
    elif angle <= -90.0:
        angle += 180.0
    return angle


def _roll_deg(geometry: _Geometry, left: int, right: int, facing_camera: bool) -> float:
    """How much lower the person's `left` point sits than the `right` one, in degrees.

    From the world landmarks (height difference over the 3D distance), which
    holds in any view. For the shoulders of a person facing the camera
    (`facing_camera`) the image line is the more direct measure: on mirrored
    and half-size copies of the dev set's frontal photos it varies 30 % less
    than the world estimate (robust SD 1.3 against 1.9 degrees, worst case 7.9
    against 10.4). For the eyes it is no steadier (2.2 either way) and it leans
    with a turned, lowered head, so head roll stays 3D. Without world
    landmarks, the image line.
    """
    if facing_camera:
        # y grows downwards: positive when `left` is lower, whichever side of the
        # picture it is on (a rear view, or a mirrored camera).
        across, drop = (geometry.px[left] - geometry.px[right]).tolist()
        return math.degrees(math.atan2(drop, abs(across)))
    if geometry.world_ok(left, right):
        span = geometry.world[left] - geometry.world[right]
        length = _norm(span)
        if length > 1e-9:
            return math.degrees(math.asin(max(-1.0, min(1.0, float(span[1]) / length))))
    return _line_angle_deg(geometry.px[right], geometry.px[left])


class _Geometry:
    """Visibility-aware access to one pose's landmarks."""

    def __init__(self, pose: PoseResult, threshold: float) -> None:
        self.pose = pose
        self.threshold = threshold
        width, height = pose.image_size
        self.px = pose.image_xy * np.array([width, height], dtype=np.float64)
        self.world = pose.world_xyz
        self.diagonal_px = math.hypot(width, height)
        # Per-landmark answers, computed once: the metrics ask about the same
        # few landmarks dozens of times per frame.
        margin = IN_FRAME_MARGIN
        xy = pose.image_xy
        self._visible = ((pose.visibility >= threshold) & pose.detected).tolist()
        self._in_frame = np.all((xy >= -margin) & (xy <= 1.0 + margin), axis=1).tolist()
        self._world_ok = np.all(np.isfinite(self.world), axis=1).tolist()

    def visible(self, *indices: int) -> bool:
        return all(self._visible[i] for i in indices)

    def in_frame(self, *indices: int) -> bool:
        return all(self._in_frame[i] for i in indices)

    def world_ok(self, *indices: int) -> bool:
        return all(self._world_ok[i] for i in indices)

    def mid_px(self, a: int, b: int) -> FloatArray:
        return np.asarray((self.px[a] + self.px[b]) / 2.0, dtype=np.float64)

    def mid_world(self, a: int, b: int) -> FloatArray:
        return np.asarray((self.world[a] + self.world[b]) / 2.0, dtype=np.float64)

    def hips_seen(self) -> bool:
        hips = (Landmark.LEFT_HIP, Landmark.RIGHT_HIP)
        return self.visible(*hips) and self.in_frame(*hips)


def body_yaw_deg(geometry: _Geometry) -> float:
    """Angle between the shoulder line (11→12) and the image plane, 0..90 deg.

    From the world landmarks where they exist (x and z of the shoulders), else
    from MediaPipe's per-landmark image depth, which is on the scale of x.
    """
    left, right = Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER
    if geometry.world_ok(left, right):
        dx, _, dz = geometry.world[right] - geometry.world[left]
    else:
        width = geometry.pose.image_size[0]
        dx = geometry.px[right, 0] - geometry.px[left, 0]
        dz = (geometry.pose.image_z[right] - geometry.pose.image_z[left]) * width
    return math.degrees(math.atan2(abs(dz), abs(dx)))


def classify_view(yaw_deg: float) -> tuple[View, float]:
    """View from body yaw, with a confidence in [0.5, 1] that falls near a boundary."""
    if yaw_deg < FRONTAL_MAX_YAW_DEG:
        return View.FRONTAL, 0.5 + 0.5 * (FRONTAL_MAX_YAW_DEG - yaw_deg) / FRONTAL_MAX_YAW_DEG
    if yaw_deg > SIDE_MIN_YAW_DEG:
        return View.SIDE, 0.5 + 0.5 * (yaw_deg - SIDE_MIN_YAW_DEG) / (90.0 - SIDE_MIN_YAW_DEG)
    centre = (FRONTAL_MAX_YAW_DEG + SIDE_MIN_YAW_DEG) / 2.0
    half_width = (SIDE_MIN_YAW_DEG - FRONTAL_MAX_YAW_DEG) / 2.0
    return View.OBLIQUE, 0.5 + 0.5 * (1.0 - abs(yaw_deg - centre) / half_width)


def near_side(geometry: _Geometry) -> str | None:
    """The body side nearer the camera: the one whose ear and shoulder are nearer.

    Depth comes from world z (7/11 against 8/12), else from MediaPipe's image z,
    else from visibility.
    """
    left = [Landmark.LEFT_EAR, Landmark.LEFT_SHOULDER]
    right = [Landmark.RIGHT_EAR, Landmark.RIGHT_SHOULDER]
    left_seen, right_seen = geometry.visible(*left), geometry.visible(*right)
    if not (left_seen or right_seen):
        return None
    if left_seen != right_seen:
        return "left" if left_seen else "right"
    if geometry.world_ok(*left, *right):
        depth = geometry.world[:, 2]
    else:
        depth = geometry.pose.image_z
    left_depth, right_depth = float(depth[left].sum()), float(depth[right].sum())
    if abs(left_depth - right_depth) > 1e-9:
        return "left" if left_depth < right_depth else "right"
    visibility = geometry.pose.visibility
    return "left" if visibility[left].sum() >= visibility[right].sum() else "right"


def _side_points(side: str) -> tuple[int, int, int]:
    if side == "left":
        return Landmark.LEFT_EAR, Landmark.LEFT_SHOULDER, Landmark.LEFT_HIP
    return Landmark.RIGHT_EAR, Landmark.RIGHT_SHOULDER, Landmark.RIGHT_HIP


def _inclination_2d(lower: FloatArray, upper: FloatArray, facing: float) -> float:
    """Angle of lower→upper from image vertical, positive towards `facing` (+1 right)."""
    forward = (upper[0] - lower[0]) * facing
    rise = lower[1] - upper[1]
    return math.degrees(math.atan2(forward, rise))


def side_inclinations(geometry: _Geometry, side: str) -> tuple[float | None, float | None]:
    """2D neck and trunk inclination, as a side camera sees them.

    Neck: ear over shoulder; trunk: shoulder over hip (only when the hips are
    visible and inside the image). Midpoints of both sides (7/8, 11/12, 23/24)
    are used when both are visible, which cancels the sideways offset of ear,
    shoulder and hip once the camera is not exactly side-on; otherwise the
    `side` nearer the camera. Forward is the way the nose (0) points from the ears.
    """
    ear, shoulder, hip = _side_points(side)
    both = geometry.visible(Landmark.LEFT_EAR, Landmark.RIGHT_EAR) and geometry.visible(
        Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER
    )
    if both:
        ear_px = geometry.mid_px(Landmark.LEFT_EAR, Landmark.RIGHT_EAR)
        shoulder_px = geometry.mid_px(Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER)
    elif geometry.visible(ear, shoulder):
        ear_px, shoulder_px = geometry.px[ear], geometry.px[shoulder]
    else:
        return None, None
    if not geometry.visible(Landmark.NOSE):
        return None, None
    facing = 1.0 if geometry.px[Landmark.NOSE, 0] >= ear_px[0] else -1.0
    neck = _inclination_2d(shoulder_px, ear_px, facing)
    trunk = None
    if both and geometry.hips_seen():
        hip_px = geometry.mid_px(Landmark.LEFT_HIP, Landmark.RIGHT_HIP)
        trunk = _inclination_2d(hip_px, shoulder_px, facing)
    elif geometry.visible(hip) and geometry.in_frame(hip):
        trunk = _inclination_2d(geometry.px[hip], geometry.px[shoulder], facing)
    return neck, trunk


def body_frame(geometry: _Geometry) -> tuple[FloatArray, FloatArray] | None:
    """World-space (forward, lateral) unit vectors of the upper body.

    Lateral is the shoulder line 11→12 made horizontal; forward is horizontal and
    perpendicular to it, pointing the way the nose (0) points from the ears.
    """
    left, right = Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER
    ears = (Landmark.LEFT_EAR, Landmark.RIGHT_EAR)
    if not geometry.world_ok(left, right, Landmark.NOSE, *ears):
        return None
    shoulder_line = geometry.world[right] - geometry.world[left]
    lateral = _unit(shoulder_line * np.array([1.0, 0.0, 1.0]))
    if lateral is None:
        return None
    forward = _cross(UP, lateral)
    nose_direction = geometry.world[Landmark.NOSE] - geometry.mid_world(*ears)
    if float(np.dot(nose_direction, forward)) < 0:
        forward = -forward
    return forward, lateral


def _inclination_3d(vector: FloatArray, forward: FloatArray) -> float:
    return math.degrees(math.atan2(float(np.dot(vector, forward)), float(np.dot(vector, UP))))


def world_measures(
    geometry: _Geometry,
) -> tuple[float | None, float | None, float | None]:
    """3D neck inclination, trunk inclination and head-forward ratio.

    Neck: ear midpoint (7, 8) against shoulder midpoint (11, 12); trunk: shoulder
    midpoint against hip midpoint (23, 24), hips visible only; both measured in
    the body's sagittal plane. Head-forward: how far the ear midpoint sits ahead
    of the shoulder midpoint, over the 3D shoulder width.
    """
    frame = body_frame(geometry)
    head_pts = (Landmark.LEFT_EAR, Landmark.RIGHT_EAR)
    shoulder_pts = (Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER)
    if frame is None or not geometry.visible(*shoulder_pts):
        return None, None, None
    forward, _ = frame
    shoulders = geometry.mid_world(*shoulder_pts)
    neck = head_forward = None
    if geometry.visible(head_pts[0]) or geometry.visible(head_pts[1]):
        neck_vector = geometry.mid_world(*head_pts) - shoulders
        neck = _inclination_3d(neck_vector, forward)
        width = _norm(geometry.world[shoulder_pts[1]] - geometry.world[shoulder_pts[0]])
        if width > 1e-6:
            head_forward = float(np.dot(neck_vector, forward)) / width
    trunk = None
    if geometry.hips_seen() and geometry.world_ok(Landmark.LEFT_HIP, Landmark.RIGHT_HIP):
        trunk_vector = shoulders - geometry.mid_world(Landmark.LEFT_HIP, Landmark.RIGHT_HIP)
        trunk = _inclination_3d(trunk_vector, forward)
    return neck, trunk, head_forward


def body_scale_px(geometry: _Geometry) -> float | None:
    """The shoulder width in pixels as it would look square-on to the camera.

    Pixels per metre come from a least-squares fit of the visible landmarks'
    image positions to their world x, y (weak perspective: pixel = s * world +
    offset), over the face, shoulders, elbows and hips; times the world shoulder
    width (11→12). Unlike the 2D shoulder width it does not collapse in a side view.
    """
    points = [i for i in SCALE_POINTS if geometry.visible(i) and geometry.world_ok(i)]
    shoulders = (Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER)
    if len(points) < 4 or not geometry.world_ok(*shoulders):
        return None
    image = geometry.px[points] - geometry.px[points].mean(axis=0)
    world = geometry.world[points, :2] - geometry.world[points, :2].mean(axis=0)
    spread = float((world**2).sum())
    if spread < 1e-9:
        return None
    px_per_m = float((image * world).sum()) / spread
    width_m = _norm(geometry.world[shoulders[1]] - geometry.world[shoulders[0]])
    scale = px_per_m * width_m
    return scale if scale > 1e-6 else None


def head_measures(geometry: _Geometry) -> tuple[float | None, float | None]:
    """Head size: diagonal of the visible face landmarks' box (0-10), in pixels,
    and as a fraction of the image diagonal. `None` with fewer than 3 face points."""
    face = [i for i in FACE if geometry.visible(i)]
    if len(face) < 3:
        return None, None
    span = geometry.px[face].max(axis=0) - geometry.px[face].min(axis=0)
    size_px = float(math.hypot(*span))
    return size_px, size_px / geometry.diagonal_px


def compute_metrics(
    pose: PoseResult, visibility_threshold: float = VISIBILITY_THRESHOLD
) -> PostureMetrics | None:
    """Every metric of `pose`; `None` when there is no pose or a shoulder is missing.

    Both shoulders (11, 12) are required: every measurement is relative to them.
    """
    if not pose.detected:
        return None
    geometry = _Geometry(pose, visibility_threshold)
    left_sh, right_sh = Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER
    if not geometry.visible(left_sh, right_sh):
        return None
    yaw = body_yaw_deg(geometry)
    view, confidence = classify_view(yaw)
    frontal = view is View.FRONTAL
    side = near_side(geometry)
    neck_2d = trunk_2d = None
    if view is not View.FRONTAL and side is not None:
        neck_2d, trunk_2d = side_inclinations(geometry, side)
    neck_3d, trunk_3d, head_forward = world_measures(geometry)
    # The 2D angle is the classic side-view measure; in other views the 3D one is truer.
    neck_for_cva = neck_2d if view is View.SIDE and neck_2d is not None else neck_3d
    scale = body_scale_px(geometry)
    head_size_px, head_size_frac = head_measures(geometry)
    shoulders_px = geometry.mid_px(left_sh, right_sh)
    ears = (Landmark.LEFT_EAR, Landmark.RIGHT_EAR)

    def ratio(length_px: float | None) -> float | None:
        return None if length_px is None or scale is None else length_px / scale

    head_height = None
    if geometry.visible(*ears):
        head_height = float(shoulders_px[1] - geometry.mid_px(*ears)[1])
    torso_height = None
    if geometry.hips_seen():
        hips_px = geometry.mid_px(Landmark.LEFT_HIP, Landmark.RIGHT_HIP)
        torso_height = float(hips_px[1] - shoulders_px[1])
    head_roll = None
    if geometry.visible(Landmark.LEFT_EYE, Landmark.RIGHT_EYE):
        head_roll = _roll_deg(geometry, Landmark.LEFT_EYE, Landmark.RIGHT_EYE, facing_camera=False)
    key_points = [left_sh, right_sh, max(ears, key=lambda i: pose.visibility[i])]
    return PostureMetrics(
        view=view,
        view_confidence=confidence,
        body_yaw_deg=yaw,
        key_visibility=float(pose.visibility[key_points].min()),
        near_side=side,
        body_scale_px=scale,
        neck_inclination_deg=neck_2d,
        neck_inclination_3d_deg=neck_3d,
        craniovertebral_deg=None if neck_for_cva is None else 90.0 - neck_for_cva,
        trunk_inclination_deg=trunk_2d,
        trunk_inclination_3d_deg=trunk_3d,
        head_forward_ratio=head_forward,
        head_height_ratio=ratio(head_height),
        head_size_ratio=ratio(head_size_px),
        head_size_frac=head_size_frac,
        shoulder_width_ratio=ratio(_norm(geometry.px[right_sh] - geometry.px[left_sh])),
        torso_height_ratio=ratio(torso_height),
        shoulder_level_ratio=ratio(float(shoulders_px[1]) - pose.image_size[1] / 2.0),
        shoulder_tilt_deg=_roll_deg(geometry, left_sh, right_sh, facing_camera=frontal),
        head_roll_deg=head_roll,
    )
