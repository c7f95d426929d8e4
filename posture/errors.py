"""Domain errors. Only the CLI turns them into messages and exit codes.

Every error carries a one-line message that names the thing, the bad value and
the fix, so the CLI can print it as it is.
"""

from __future__ import annotations


class PostureError(Exception):
    """Base of every error a user can cause or fix."""

    exit_code = 1


class SourceError(PostureError):
    """A camera, file or folder that cannot be read as frames."""

    exit_code = 2


class ModelError(PostureError):
    """The bundled pose model is missing, corrupt or cannot be loaded."""

    exit_code = 3


class CalibrationError(PostureError):
    """A calibration that must not be saved: the message says what to change."""


class ProfileError(PostureError):
    """A profile that is missing, corrupt or from a newer version."""


class EvaluationError(PostureError):
    """A labels file that cannot be evaluated."""
