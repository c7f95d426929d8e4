"""Pose landmarks as the project's own values: no MediaPipe types leak past `pose.py`.

MediaPipe's 33-point BlazePose topology is used throughout; the indices the
metrics need are named here once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.typing as npt

NUM_LANDMARKS = 33

FloatArray = npt.NDArray[np.float64]


class Landmark(IntEnum):
    """BlazePose landmark indices ("left" is the person's left)."""

    NOSE = 0
    LEFT_EYE = 2
    RIGHT_EYE = 5
    LEFT_EAR = 7
    RIGHT_EAR = 8
    MOUTH_LEFT = 9
    MOUTH_RIGHT = 10
    LEFT_SHOULDER = 11
    RIGHT_SHOULDER = 12
    LEFT_ELBOW = 13
    RIGHT_ELBOW = 14
    LEFT_HIP = 23
    RIGHT_HIP = 24


def _as_array(values: object, shape: tuple[int, ...], name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
    return array


@dataclass(frozen=True, eq=False)
class PoseResult:
    """One person's pose in one frame, or "no pose" (`detected` is False).

    - `image_xy`: (33, 2) positions normalized to [0, 1] by image width and height.
    - `image_z`: (33,) MediaPipe's relative depth (smaller = nearer the camera),
      on roughly the same scale as x.
    - `visibility`: (33,) probability that each landmark is visible in the image.
    - `world_xyz`: (33, 3) metric 3D positions in metres, origin between the hips,
      axes aligned with the camera (x right, y down, z away from the camera).
    - `image_size`: (width, height) in pixels of the image the pose was found in,
      so that normalized x and y can be turned into undistorted pixel geometry.
    - `person_count`: how many people the estimator found (this result is the first).
    """

    image_size: tuple[int, int]
    detected: bool = True
    image_xy: FloatArray = field(default_factory=lambda: np.zeros((NUM_LANDMARKS, 2)))
    image_z: FloatArray = field(default_factory=lambda: np.zeros(NUM_LANDMARKS))
    visibility: FloatArray = field(default_factory=lambda: np.zeros(NUM_LANDMARKS))
    world_xyz: FloatArray = field(default_factory=lambda: np.zeros((NUM_LANDMARKS, 3)))
    person_count: int = 1

    def __post_init__(self) -> None:
        width, height = self.image_size
        if width <= 0 or height <= 0:
            raise ValueError(f"image_size must be positive, got {self.image_size}")
        object.__setattr__(
            self, "image_xy", _as_array(self.image_xy, (NUM_LANDMARKS, 2), "image_xy")
        )
        object.__setattr__(self, "image_z", _as_array(self.image_z, (NUM_LANDMARKS,), "image_z"))
        object.__setattr__(
            self, "visibility", _as_array(self.visibility, (NUM_LANDMARKS,), "visibility")
        )
        object.__setattr__(
            self, "world_xyz", _as_array(self.world_xyz, (NUM_LANDMARKS, 3), "world_xyz")
        )
        if self.person_count < (1 if self.detected else 0):
            raise ValueError(
                f"person_count {self.person_count} does not fit detected={self.detected}"
            )

    @classmethod
    def empty(cls, image_size: tuple[int, int]) -> PoseResult:
        """The "no pose" value: no landmark is visible."""
        return cls(image_size=image_size, detected=False, person_count=0)

    def pixels(self, index: int) -> FloatArray:
        """Landmark `index` in pixels (x right, y down)."""
        width, height = self.image_size
        return np.array([self.image_xy[index, 0] * width, self.image_xy[index, 1] * height])

    def is_visible(self, index: int, threshold: float) -> bool:
        """False without a pose, whatever the index: callers need not check `detected`."""
        return self.detected and bool(self.visibility[index] >= threshold)
