"""Calibration: learn a person's own upright posture and save it as a profile.

    frames of the user sitting upright
      → gates (light, one person, head and shoulders visible, still)
      → baseline (median and MAD per metric, tolerance per metric)
      → profile (versioned JSON in the data directory)

Builds on `posture.metrics` only; it never sees a frame, only measurements.
"""

from calibration.baseline import MetricBaseline, build_baseline
from calibration.gates import CalibrationSample
from calibration.profile import Profile, ProfileStore
from calibration.protocol import calibrate

__all__ = [
    "CalibrationSample",
    "MetricBaseline",
    "Profile",
    "ProfileStore",
    "build_baseline",
    "calibrate",
]
