"""Words shared across the stages: what a frame was judged, where the camera sat.

This module imports nothing of the project, so the history, the report and the
store can speak of verdicts and views without loading the scorer, numpy or the
calibration package.
"""

from __future__ import annotations

from enum import Enum


class View(str, Enum):
    """Where the camera sits relative to the person's shoulder line."""

    FRONTAL = "frontal"
    OBLIQUE = "oblique"
    SIDE = "side"


class Verdict(str, Enum):
    """The judgement on one frame, or on a smoothed stretch of frames."""

    GOOD = "good"
    SLOUCH = "slouch"
    FORWARD_HEAD = "forward-head"
    LATERAL_LEAN = "lateral-lean"
    TOO_CLOSE = "too-close"
    RECLINED = "reclined"
    NO_PERSON = "no-person"
    PERSON_NO_POSE = "person-no-pose"

    @property
    def is_bad(self) -> bool:
        return self not in (Verdict.GOOD, Verdict.NO_PERSON)
