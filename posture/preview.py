"""`--preview`: the camera picture with the skeleton and the verdict, in a window.

Shown on screen only, never written anywhere. Off by default: a background
monitor has no reason to draw, and drawing costs CPU.
"""

from __future__ import annotations

import os
import sys

import cv2
import numpy as np

from posture.errors import PostureError
from posture.landmarks import Landmark, PoseResult
from posture.scoring import Assessment
from posture.sources import Frame
from posture.vocabulary import Verdict

WINDOW = "posture preview (q to close)"
# The upper-body lines worth seeing: face to shoulders, shoulders, arms, torso.
BONES = (
    (Landmark.LEFT_EAR, Landmark.LEFT_SHOULDER),
    (Landmark.RIGHT_EAR, Landmark.RIGHT_SHOULDER),
    (Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER),
    (Landmark.LEFT_SHOULDER, Landmark.LEFT_ELBOW),
    (Landmark.RIGHT_SHOULDER, Landmark.RIGHT_ELBOW),
    (Landmark.LEFT_SHOULDER, Landmark.LEFT_HIP),
    (Landmark.RIGHT_SHOULDER, Landmark.RIGHT_HIP),
    (Landmark.LEFT_HIP, Landmark.RIGHT_HIP),
    (Landmark.NOSE, Landmark.LEFT_EYE),
    (Landmark.NOSE, Landmark.RIGHT_EYE),
)
GOOD_BGR = (80, 200, 80)
BAD_BGR = (60, 60, 230)


class PreviewError(PostureError):
    """The preview window cannot be shown (no display)."""


def draw(image: np.ndarray, pose: PoseResult, assessment: Assessment) -> np.ndarray:
    """A copy of `image` with the visible skeleton and the verdict drawn on it."""
    canvas: np.ndarray = image.copy()
    height, width = canvas.shape[:2]
    colour = GOOD_BGR if not assessment.verdict.is_bad else BAD_BGR
    if pose.detected:
        points = (pose.image_xy * np.array([width, height])).astype(int)
        for a, b in BONES:
            if pose.visibility[a] >= 0.5 and pose.visibility[b] >= 0.5:
                cv2.line(canvas, tuple(points[a]), tuple(points[b]), colour, 2, cv2.LINE_AA)
    label = assessment.verdict.value if assessment.verdict is not Verdict.NO_PERSON else "away"
    score = "" if assessment.score is None else f"  {assessment.score}"
    cv2.putText(
        canvas, label + score, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.9, colour, 2, cv2.LINE_AA
    )
    return canvas


class PreviewWindow:
    """Shows each judged frame; closing it (q) just stops the preview."""

    def __init__(self) -> None:
        # Without a display, OpenCV's GUI backend aborts the whole process instead of
        # raising: check first.
        if sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        ):
            raise PreviewError(
                "--preview needs a graphical display (DISPLAY is not set): run without it"
            )
        self.open = True

    def __call__(self, frame: Frame, pose: PoseResult, assessment: Assessment) -> None:
        if not self.open:
            return
        try:
            cv2.imshow(WINDOW, draw(frame.image, pose, assessment))
            if cv2.waitKey(1) & 0xFF == ord("q"):
                self.close()
        except cv2.error as error:
            raise PreviewError(
                f"cannot open the preview window ({str(error).strip().splitlines()[-1]}): "
                "--preview needs a graphical display; run without it"
            ) from None

    def close(self) -> None:
        """Close the window once; a window the user closed already is no error."""
        if self.open:
            self.open = False
            try:
                cv2.destroyWindow(WINDOW)
            except cv2.error:
                pass
