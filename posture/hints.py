"""Hints about the picture, said once: camera covered, too dark, shoulders out of view.

Each analysed frame is checked for what keeps it from showing a posture
(`picture_problem`), and `Hints` turns those per-frame findings into one hint with
its fix, which starts once the problem has lasted `HintSettings.start_s` (a hand
passing over the lens is not a covered camera), stays while it lasts, and ends once
the problem has been gone for `HintSettings.clear_s`. `Hints.update` returns the hint
when it starts or changes, "" when it ends, and None otherwise, so the monitor says
it once (the status line, the tray's reason) instead of on every frame.

The checks look at numbers only (mean and spread of a sparse grid of grey levels,
the pose's shoulders); no picture is kept.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from calibration.gates import MIN_BRIGHTNESS
from posture.landmarks import PoseResult
from posture.metrics import PostureMetrics

# A picture whose grey levels spread less than this has no detail: the lens is covered
# (a shutter, a finger, tape). Measured on a sparse grid (every 8th pixel): the bundled
# photos spread 43-67 levels, the sample session 58-67; sensor noise on a black frame
# about 2; the bundled upright photo at 12 % of its exposure (a dark room) still 8.
COVERED_SPREAD = 4.0
# Below this mean grey level (0-255) the pose model's landmarks get unreliable: the
# calibration refuses such frames for the same reason (`calibration.gates`).
DARK_BRIGHTNESS = MIN_BRIGHTNESS

COVERED = "camera covered: uncover the camera"
DARK = "too dark: turn on a light"
SHOULDERS = "shoulders out of the picture: move back so your shoulders are in the picture"
# When several problems show, the one to fix first: nothing else can be seen under a
# covered lens, and in the dark the shoulders are lost for want of light.
PRECEDENCE = (COVERED, DARK, SHOULDERS)


def picture_problem(
    image_bgr: np.ndarray, pose: PoseResult, metrics: PostureMetrics | None
) -> str | None:
    """What keeps this frame from showing a posture, as a hint with its fix, or None."""
    grid = image_bgr[::8, ::8]
    if grid.size:
        grey = cv2.cvtColor(np.ascontiguousarray(grid), cv2.COLOR_BGR2GRAY)
        if float(grey.std()) < COVERED_SPREAD:
            return COVERED
        if float(grid.mean()) < DARK_BRIGHTNESS:
            return DARK
    if pose.detected and metrics is None:
        # Someone is there, but the model cannot place both shoulders: too close, too
        # low, or the camera points too high.
        return SHOULDERS
    return None


@dataclass(frozen=True)
class HintSettings:
    """How long a problem must last to be said, and be gone to be unsaid.

    - `start_s`: 5 s, longer than the smoother takes to believe a posture (about
      1.2 s): reaching across the desk or a hand over the lens for a moment says
      nothing.
    - `clear_s`: 3 s without the problem ends the hint (a light switched on); a
      shorter break (one frame the model got right in the dark) does not restart
      the wait for `start_s`.
    """

    start_s: float = 5.0
    clear_s: float = 3.0

    def __post_init__(self) -> None:
        for name in ("start_s", "clear_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds, got {value}")


class Hints:
    """The hint in force, from the per-frame problems (see the module docstring)."""

    def __init__(self, settings: HintSettings | None = None) -> None:
        self.settings = settings or HintSettings()
        self.current: str | None = None
        self._since_s: float | None = None  # when the current stretch of problems began
        self._last_s: float | None = None  # the latest frame with a problem
        self._recent: deque[tuple[float, str]] = deque()  # problems of the last start_s

    def update(self, now_s: float, problem: str | None) -> str | None:
        """Take one frame's problem at loop time `now_s`. Returns the hint when it
        starts or changes, "" when it ends, None when nothing changed."""
        settings = self.settings
        if self._last_s is not None and now_s < self._last_s:
            self.reset()  # a new timeline
        if problem is not None:
            self._since_s = now_s if self._since_s is None else self._since_s
            self._last_s = now_s
            self._recent.append((now_s, problem))
        elif self._last_s is None or now_s - self._last_s >= settings.clear_s:
            self._since_s = None
        while self._recent and self._recent[0][0] < now_s - settings.start_s:
            self._recent.popleft()
        if self._since_s is None:
            ended = self.current is not None
            self.current = None
            return "" if ended else None
        if problem is None or now_s - self._since_s < settings.start_s:
            return None  # said only on a frame that shows it, once it has lasted
        seen = {problem for _, problem in self._recent}
        leading = next(hint for hint in PRECEDENCE if hint in seen)
        if leading == self.current:
            return None
        self.current = leading
        return leading

    def reset(self) -> None:
        """Forget the stretch under way (after a gap: nothing was seen). A hint in
        force stays until frames without the problem end it."""
        self._since_s = self._last_s = None
        self._recent.clear()
