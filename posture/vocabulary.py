"""Words shared across the stages: what a frame was judged, where the camera sat,
what a reminder asks for.

This module imports nothing of the project, so the history, the report and the
store can speak of verdicts and views without loading the scorer, numpy or the
calibration package.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal, get_args


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
        """Whether this verdict is bad posture (away and good are not)."""
        return self not in (Verdict.GOOD, Verdict.NO_PERSON)


# What a reminder asks for: good posture again ("posture"), more distance from the
# screen ("distance"), or a movement break ("break"). Plain strings (a Literal, not an
# Enum), so that they are stored, formatted and used as dictionary keys as they read.
NudgeKind = Literal["posture", "distance", "break"]
NUDGE_KINDS: tuple[NudgeKind, ...] = get_args(NudgeKind)
# The nudges answered by good posture again: the recovery times of a report.
POSTURE_NUDGE_KINDS: tuple[NudgeKind, ...] = ("posture", "distance")
