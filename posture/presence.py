"""Is someone there when the pose model sees no one?

Leaning right into the screen fills the picture with a face and the pose model
often gives up: that must not count as being away. The cues, used only on
frames without a usable pose, are all about shapes and change, never colour
(a skin-colour test failed under dim or coloured light, and it is not fair
across skin tones):

- a pose without usable shoulders: someone is there, too close to measure;
- a large last pose that vanished moments ago (`LEAN_IN_MEMORY_MS`): its head
  was filling much of the picture, so it was lost by leaning in;
- a face: OpenCV's Haar cascade for frontal faces, run on a small grey,
  contrast-equalised thumbnail with a border around it (a face that fills the
  picture has no surroundings for the cascade otherwise); grey and equalised,
  it finds a face under white, blue, green or dim light alike (tested on the
  bundled frontal photo, tinted);
- movement where the person last was (`MOTION_LEVEL`): the last pose's box
  changes between two frames (the first frame without a pose is compared with
  the last one with it), within `MOTION_MEMORY_MS` of that pose. A chair
  someone has left stops changing; a person leaning in does not.

All of them err towards "present", which only costs an "away" minute, while the
opposite error would hide the worst posture of the day. Thumbnails live in
memory only, like the frames they come from.
"""

from __future__ import annotations

import os
from functools import cache

import cv2
import numpy as np

from posture.landmarks import PoseResult
from posture.metrics import PostureMetrics

THUMBNAIL_PX = 96
# A head this large (diagonal over image diagonal) is leaning into the camera...
LARGE_HEAD_FRAC = 0.22
# ...and a pose lost within this many milliseconds was lost by leaning in.
LEAN_IN_MEMORY_MS = 5000
# The face finder's thumbnail: a face filling the picture is 60-100 px there, well
# above the cascade's 24 px window, and it costs about a millisecond.
FACE_THUMBNAIL_PX = 128
FACE_CASCADE = "haarcascade_frontalface_alt2.xml"
# Mean absolute change of the brightness-normalised thumbnail inside the last pose's
# box, as a share of full scale, above which something moved there: a still empty
# chair changes by sensor noise (well under 0.01), a person by several times this.
MOTION_LEVEL = 0.03
# Movement counts as a person only this long after the last pose was seen.
MOTION_MEMORY_MS = 60_000
# The last pose's box is grown by this share of its size on each side.
BOX_MARGIN = 0.1


def brightness(image_bgr: np.ndarray) -> float:
    """Mean grey level, 0-255, on every 8th pixel (enough for a darkness check)."""
    sample = image_bgr[::8, ::8]
    return float(sample.mean()) if sample.size else 0.0


def _thumbnail(image_bgr: np.ndarray, size_px: int) -> np.ndarray:
    height, width = image_bgr.shape[:2]
    factor = size_px / max(height, width)
    if factor < 1:
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        image_bgr = cv2.resize(image_bgr, size, interpolation=cv2.INTER_AREA)
    grey: np.ndarray = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    return grey


@cache
def _face_cascade() -> cv2.CascadeClassifier | None:
    folder = cv2.data.haarcascades  # type: ignore[attr-defined]
    cascade = cv2.CascadeClassifier(os.path.join(folder, FACE_CASCADE))
    return None if cascade.empty() else cascade


def face_in(image_bgr: np.ndarray) -> bool:
    """Whether a frontal face is in the picture, in any light (grey, equalised)."""
    cascade = _face_cascade()
    if cascade is None:  # an OpenCV build without its cascade files: no such cue
        return False
    grey = cv2.equalizeHist(_thumbnail(image_bgr, FACE_THUMBNAIL_PX))
    border = FACE_THUMBNAIL_PX // 2
    framed = cv2.copyMakeBorder(
        grey, border, border, border, border, cv2.BORDER_CONSTANT, value=128
    )
    return len(cascade.detectMultiScale(framed, 1.1, 3, minSize=(24, 24))) > 0


def pose_box(pose: PoseResult) -> tuple[float, float, float, float]:
    """The pose's landmarks' box in normalised image coordinates, grown by BOX_MARGIN."""
    xy = np.clip(pose.image_xy, 0.0, 1.0)
    (left, top), (right, bottom) = xy.min(axis=0), xy.max(axis=0)
    grow_x, grow_y = BOX_MARGIN * (right - left), BOX_MARGIN * (bottom - top)
    return (
        max(0.0, float(left - grow_x)),
        max(0.0, float(top - grow_y)),
        min(1.0, float(right + grow_x)),
        min(1.0, float(bottom + grow_y)),
    )


def motion_in(
    before: np.ndarray, after: np.ndarray, box: tuple[float, float, float, float]
) -> float:
    """Mean absolute change inside `box` between two grey thumbnails of one size,
    each divided by its own mean first (a light switched on is not movement)."""
    if before.shape != after.shape:
        return 1.0
    height, width = after.shape
    x0, y0 = int(box[0] * width), int(box[1] * height)
    x1, y1 = max(x0 + 1, round(box[2] * width)), max(y0 + 1, round(box[3] * height))
    a = before[y0:y1, x0:x1].astype(np.float32)
    b = after[y0:y1, x0:x1].astype(np.float32)
    a /= max(float(before.mean()), 1.0)
    b /= max(float(after.mean()), 1.0)
    # Back to a share of full scale at the picture's own brightness.
    level = max(float(after.mean()), 1.0) / 255.0
    return float(np.abs(a - b).mean()) * level


class PresenceTracker:
    """Remembers the last pose, to tell "leaned in and lost" from "left"."""

    def __init__(self) -> None:
        self._last_t_ms: int | None = None
        self._last_head_frac: float | None = None
        self._last_box: tuple[float, float, float, float] | None = None
        self._previous: np.ndarray | None = None

    def person_present(
        self, t_ms: int, metrics: PostureMetrics | None, pose: PoseResult, image_bgr: np.ndarray
    ) -> bool:
        """True with a pose; without one, True when a cue says someone is there."""
        if metrics is not None:
            self._last_t_ms, self._last_head_frac = t_ms, metrics.head_size_frac
            self._last_box = pose_box(pose)
            # The first frame without a pose is compared with this one.
            self._previous = _thumbnail(image_bgr, THUMBNAIL_PX)
            return True
        if pose.detected:
            # A body without usable shoulders: someone is there, too close to measure.
            return True
        since_ms = None if self._last_t_ms is None else t_ms - self._last_t_ms
        recently_close = (
            since_ms is not None
            and 0 <= since_ms <= LEAN_IN_MEMORY_MS
            and self._last_head_frac is not None
            and self._last_head_frac >= LARGE_HEAD_FRAC
        )
        return recently_close or self._moving(image_bgr, since_ms) or face_in(image_bgr)

    def _moving(self, image_bgr: np.ndarray, since_ms: int | None) -> bool:
        """Movement in the last pose's box since the previous frame."""
        thumbnail = _thumbnail(image_bgr, THUMBNAIL_PX)
        previous, self._previous = self._previous, thumbnail
        if previous is None or self._last_box is None or since_ms is None:
            return False
        if not 0 <= since_ms <= MOTION_MEMORY_MS:
            return False
        return motion_in(previous, thumbnail, self._last_box) >= MOTION_LEVEL
