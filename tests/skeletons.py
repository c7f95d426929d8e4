"""Synthetic poses of exactly known geometry, for testing the pure metrics.

A seated person is built in a body frame in metres (lateral towards the person's
LEFT, up, forward; hip midpoint at the origin), bent and turned by known angles,
turned to the camera by a known yaw and projected with a weak-perspective camera:

- `world_xyz` = the 3D points, camera-aligned (x right, y DOWN, z AWAY from the camera).
- pixels: `u = hip_u + px_per_m * x`, `v = hip_v + px_per_m * y`.
- `image_xy` = pixels / (width, height); `image_z` = z * px_per_m / width.

Yaw 0 faces the camera (the nose is nearer than the ears, the person's left
shoulder is on the image right); yaw 90 is a side view facing image-right (right
side nearer the camera); yaw -90 faces image-left (left side nearer).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from posture.landmarks import NUM_LANDMARKS, FloatArray, PoseResult

SHOULDER_HEIGHT_M = 0.5
SHOULDER_WIDTH_M = 0.36
EAR_ABOVE_SHOULDERS_M = 0.25
NOSE_AHEAD_OF_EARS_M = 0.10
HIP_WIDTH_M = 0.20

DEFAULT_IMAGE_SIZE = (1280, 720)
DEFAULT_PX_PER_M = 600.0

_SHOULDER = SHOULDER_WIDTH_M / 2
_EAR_Y = SHOULDER_HEIGHT_M + EAR_ABOVE_SHOULDERS_M
_HIP = HIP_WIDTH_M / 2

# (lateral to the person's left, up, forward) in metres for each BlazePose index.
_BODY_POINTS: dict[int, tuple[float, float, float]] = {
    0: (0.0, _EAR_Y, NOSE_AHEAD_OF_EARS_M),  # nose
    1: (0.015, _EAR_Y + 0.03, 0.09),  # left eye inner
    2: (0.032, _EAR_Y + 0.03, 0.085),  # left eye
    3: (0.048, _EAR_Y + 0.03, 0.075),  # left eye outer
    4: (-0.015, _EAR_Y + 0.03, 0.09),  # right eye inner
    5: (-0.032, _EAR_Y + 0.03, 0.085),  # right eye
    6: (-0.048, _EAR_Y + 0.03, 0.075),  # right eye outer
    7: (0.075, _EAR_Y, 0.0),  # left ear
    8: (-0.075, _EAR_Y, 0.0),  # right ear
    9: (0.025, _EAR_Y - 0.05, 0.09),  # mouth left
    10: (-0.025, _EAR_Y - 0.05, 0.09),  # mouth right
    11: (_SHOULDER, SHOULDER_HEIGHT_M, 0.0),  # left shoulder
    12: (-_SHOULDER, SHOULDER_HEIGHT_M, 0.0),  # right shoulder
    13: (0.22, 0.22, 0.05),  # left elbow
    14: (-0.22, 0.22, 0.05),  # right elbow
    15: (0.15, 0.15, 0.30),  # left wrist (forearms on a desk)
    16: (-0.15, 0.15, 0.30),  # right wrist
    17: (0.16, 0.14, 0.37),  # left pinky
    18: (-0.16, 0.14, 0.37),  # right pinky
    19: (0.14, 0.14, 0.38),  # left index
    20: (-0.14, 0.14, 0.38),  # right index
    21: (0.12, 0.15, 0.34),  # left thumb
    22: (-0.12, 0.15, 0.34),  # right thumb
    23: (_HIP, 0.0, 0.0),  # left hip
    24: (-_HIP, 0.0, 0.0),  # right hip
    25: (_HIP, 0.0, 0.45),  # left knee (seated: thighs horizontal)
    26: (-_HIP, 0.0, 0.45),  # right knee
    27: (_HIP, -0.45, 0.45),  # left ankle
    28: (-_HIP, -0.45, 0.45),  # right ankle
    29: (_HIP, -0.50, 0.40),  # left heel
    30: (-_HIP, -0.50, 0.40),  # right heel
    31: (_HIP, -0.50, 0.55),  # left foot index
    32: (-_HIP, -0.50, 0.55),  # right foot index
}
HEAD = tuple(range(11))
UPPER_BODY = tuple(range(23))
MIRROR_PAIRS = (
    (1, 4),
    (2, 5),
    (3, 6),
    (7, 8),
    (9, 10),
    (11, 12),
    (13, 14),
    (15, 16),
    (17, 18),
    (19, 20),
    (21, 22),
    (23, 24),
    (25, 26),
    (27, 28),
    (29, 30),
    (31, 32),
)
_MIRROR_ORDER = np.arange(NUM_LANDMARKS)
for _a, _b in MIRROR_PAIRS:
    _MIRROR_ORDER[_a], _MIRROR_ORDER[_b] = _b, _a


def _pitch(points: FloatArray, pivot: FloatArray, degrees: float) -> FloatArray:
    """Rotate about the lateral axis through `pivot`; positive tips the top forward."""
    angle = math.radians(degrees)
    lateral, up, forward = (points - pivot).T
    rotated = np.stack(
        [
            lateral,
            up * math.cos(angle) - forward * math.sin(angle),
            up * math.sin(angle) + forward * math.cos(angle),
        ],
        axis=1,
    )
    return rotated + pivot


def _roll(points: FloatArray, pivot: FloatArray, degrees: float) -> FloatArray:
    """Rotate about the forward axis through `pivot`; positive lowers the person's left."""
    angle = math.radians(degrees)
    lateral, up, forward = (points - pivot).T
    rotated = np.stack(
        [
            lateral * math.cos(angle) + up * math.sin(angle),
            -lateral * math.sin(angle) + up * math.cos(angle),
            forward,
        ],
        axis=1,
    )
    return rotated + pivot


def body_points(
    neck_deg: float = 0.0,
    trunk_deg: float = 0.0,
    trunk_roll_deg: float = 0.0,
    head_roll_deg: float = 0.0,
) -> FloatArray:
    """(33, 3) body-frame points: the head bent about the shoulder midpoint, then
    everything above the hips bent about the hip midpoint (angles positive forward
    for pitch, towards the person's left for roll)."""
    points = np.array([_BODY_POINTS[i] for i in range(NUM_LANDMARKS)], dtype=np.float64)
    head, upper = list(HEAD), list(UPPER_BODY)
    shoulder_mid = np.array([0.0, SHOULDER_HEIGHT_M, 0.0])
    points[head] = _roll(_pitch(points[head], shoulder_mid, neck_deg), shoulder_mid, head_roll_deg)
    hip_mid = np.zeros(3)
    points[upper] = _roll(_pitch(points[upper], hip_mid, trunk_deg), hip_mid, trunk_roll_deg)
    return points


def to_camera(points: FloatArray, yaw_deg: float) -> FloatArray:
    """Body frame to camera-aligned world xyz (x right, y down, z away)."""
    angle = math.radians(yaw_deg)
    left = np.array([math.cos(angle), 0.0, math.sin(angle)])
    up = np.array([0.0, -1.0, 0.0])
    forward = np.array([math.sin(angle), 0.0, -math.cos(angle)])
    return points[:, :1] * left + points[:, 1:2] * up + points[:, 2:3] * forward


def project(
    world_xyz: FloatArray,
    image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE,
    px_per_m: float = DEFAULT_PX_PER_M,
    hip_px: tuple[float, float] | None = None,
    visibility: Mapping[int, float] | None = None,
) -> PoseResult:
    """Weak-perspective projection of camera-aligned points into a `PoseResult`.

    `hip_px` is where the hip midpoint lands (default: centred, 80% down the image).
    Every landmark is fully visible unless `visibility` says otherwise.
    """
    width, height = image_size
    hip_u, hip_v = hip_px if hip_px is not None else (width / 2, 0.8 * height)
    pixels = np.array([hip_u, hip_v]) + px_per_m * world_xyz[:, :2]
    seen = np.ones(NUM_LANDMARKS)
    for index, value in (visibility or {}).items():
        seen[index] = value
    return PoseResult(
        image_size=image_size,
        image_xy=pixels / np.array([width, height], dtype=np.float64),
        image_z=world_xyz[:, 2] * px_per_m / width,
        visibility=seen,
        world_xyz=world_xyz.copy(),
    )


def skeleton(
    neck_deg: float = 0.0,
    trunk_deg: float = 0.0,
    yaw_deg: float = 0.0,
    *,
    trunk_roll_deg: float = 0.0,
    head_roll_deg: float = 0.0,
    visibility: Mapping[int, float] | None = None,
    image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE,
    px_per_m: float = DEFAULT_PX_PER_M,
    hip_px: tuple[float, float] | None = None,
) -> PoseResult:
    """A seated person bent by known angles, turned `yaw_deg` from facing the camera."""
    points = body_points(neck_deg, trunk_deg, trunk_roll_deg, head_roll_deg)
    return project(to_camera(points, yaw_deg), image_size, px_per_m, hip_px, visibility)


def swap_sides(pose: PoseResult) -> PoseResult:
    """The same picture with every left/right label swapped (a model's side mix-up)."""
    return dataclasses.replace(
        pose,
        image_xy=pose.image_xy[_MIRROR_ORDER],
        image_z=pose.image_z[_MIRROR_ORDER],
        visibility=pose.visibility[_MIRROR_ORDER],
        world_xyz=pose.world_xyz[_MIRROR_ORDER],
    )


def mirror(pose: PoseResult) -> PoseResult:
    """The pose as the model would see a horizontally flipped photo of it.

    Pixels flip (u -> width - u), world x flips, and every left/right pair swaps
    labels, because the model names sides by anatomy, not by image position.
    """
    flipped = dataclasses.replace(
        pose,
        image_xy=pose.image_xy * np.array([-1.0, 1.0]) + np.array([1.0, 0.0]),
        world_xyz=pose.world_xyz * np.array([-1.0, 1.0, 1.0]),
    )
    return swap_sides(flipped)


def translate(pose: PoseResult, du: float, dv: float) -> PoseResult:
    """The person moved by (du, dv) pixels within the same image."""
    width, height = pose.image_size
    return dataclasses.replace(pose, image_xy=pose.image_xy + np.array([du / width, dv / height]))


def rescale(pose: PoseResult, factor: float) -> PoseResult:
    """Image and person scaled together (a higher or lower camera resolution).

    The image size is rounded to whole pixels; pixel positions and image depth are
    scaled by exactly `factor`, so pixel geometry stays exactly similar.
    """
    width, height = pose.image_size
    new_size = (max(1, round(width * factor)), max(1, round(height * factor)))
    pixels = pose.image_xy * np.array([width, height], dtype=np.float64) * factor
    return dataclasses.replace(
        pose,
        image_size=new_size,
        image_xy=pixels / np.array(new_size, dtype=np.float64),
        image_z=pose.image_z * width * factor / new_size[0],
    )


def with_visibility(pose: PoseResult, overrides: Mapping[int, float]) -> PoseResult:
    """`pose` with some landmarks' visibility replaced."""
    seen = pose.visibility.copy()
    for index, value in overrides.items():
        seen[index] = value
    return dataclasses.replace(pose, visibility=seen)


def without_world(pose: PoseResult) -> PoseResult:
    """`pose` with every world landmark unknown (NaN), as from a 2D-only source."""
    return dataclasses.replace(pose, world_xyz=np.full((NUM_LANDMARKS, 3), np.nan))


YAW_BY_VIEW = {"frontal": 0.0, "oblique": 45.0, "side": 90.0}


def hand_metrics(view: Any = None, **values: Any) -> Any:
    """A frame's metrics built by hand, fully confident and visible unless told otherwise."""
    from posture.metrics import PostureMetrics
    from posture.vocabulary import View

    view = View.SIDE if view is None else View(view)
    fields: dict[str, Any] = {
        "view_confidence": 1.0,
        "body_yaw_deg": YAW_BY_VIEW[view.value],
        "key_visibility": 1.0,
    }
    fields.update(values)
    return PostureMetrics(view=view, **fields)
