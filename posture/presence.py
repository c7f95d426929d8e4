"""Is someone there when the pose model sees no one?

Leaning right into the screen fills the picture with a face and the pose model
often gives up: that must not count as being away. Two cheap cues, used only on
frames without a pose:

- `skin_fraction`: the share of skin-coloured pixels (a fixed YCrCb box, the
  classic Chai & Ngan skin model, on a 96 px thumbnail). A face a hand's width
  from the camera covers a large part of the picture.
- `PresenceTracker`: the last pose was large (its head filling much of the
  picture) and vanished moments ago.

Neither is a face detector; both err towards "present", which only costs an
"away" minute, while the opposite error would hide the worst posture of the day.
"""

from __future__ import annotations

import cv2
import numpy as np

from posture.metrics import PostureMetrics

THUMBNAIL_PX = 96
# Cr/Cb bounds of skin under ordinary indoor light (Chai & Ngan, 1999).
SKIN_CR = (133, 173)
SKIN_CB = (77, 127)
# Share of the picture that is skin when a face is close to the lens.
CLOSE_FACE_SKIN_FRACTION = 0.25
# A head this large (diagonal over image diagonal) is leaning into the camera...
LARGE_HEAD_FRAC = 0.22
# ...and a pose lost within this many milliseconds was lost by leaning in.
LEAN_IN_MEMORY_MS = 5000


def skin_fraction(image_bgr: np.ndarray) -> float:
    """Share of skin-coloured pixels, on a small thumbnail (cheap)."""
    height, width = image_bgr.shape[:2]
    factor = THUMBNAIL_PX / max(height, width)
    if factor < 1:
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        image_bgr = cv2.resize(image_bgr, size, interpolation=cv2.INTER_AREA)
    ycrcb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2YCrCb)
    low = np.array([0, SKIN_CR[0], SKIN_CB[0]], np.uint8)
    high = np.array([255, SKIN_CR[1], SKIN_CB[1]], np.uint8)
    skin = np.count_nonzero(cv2.inRange(ycrcb, low, high))
    return float(skin / (ycrcb.shape[0] * ycrcb.shape[1]))


def brightness(image_bgr: np.ndarray) -> float:
    """Mean grey level, 0-255, on every 8th pixel (enough for a darkness check)."""
    sample = image_bgr[::8, ::8]
    return float(sample.mean()) if sample.size else 0.0


class PresenceTracker:
    """Remembers the last pose, to tell "leaned in and lost" from "left"."""

    def __init__(self) -> None:
        self._last_t_ms: int | None = None
        self._last_head_frac: float | None = None

    def person_present(
        self, t_ms: int, metrics: PostureMetrics | None, pose_detected: bool, image_bgr: np.ndarray
    ) -> bool:
        """True with a pose; without one, True when a cue says someone is there."""
        if pose_detected and metrics is None:
            # A body without usable shoulders: someone is there, too close to measure.
            return True
        if metrics is not None:
            self._last_t_ms, self._last_head_frac = t_ms, metrics.head_size_frac
            return True
        recently_close = (
            self._last_t_ms is not None
            and self._last_head_frac is not None
            and self._last_head_frac >= LARGE_HEAD_FRAC
            and 0 <= t_ms - self._last_t_ms <= LEAN_IN_MEMORY_MS
        )
        return recently_close or skin_fraction(image_bgr) >= CLOSE_FACE_SKIN_FRACTION
