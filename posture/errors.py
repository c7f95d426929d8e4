"""Domain errors. Only the CLI turns them into messages and exit codes.

Every error carries a one-line message that names the thing, the bad value and
the fix, so the CLI can print it as it is. The kinds live here, in a leaf that
imports nothing of the project, so that the CLI can tell them apart (and pick an
exit code: `posture.cli.exits`) without loading the modules that raise them.
"""

from __future__ import annotations

import errno
from pathlib import Path


class PostureError(Exception):
    """Base of every error a user can cause or fix."""


class SourceError(PostureError):
    """A camera, file or folder that cannot be read as frames."""


class ModelError(PostureError):
    """The bundled pose model is missing, corrupt or cannot be loaded."""


class CalibrationError(PostureError):
    """A calibration that must not be saved: the message says what to change."""


class MovementError(CalibrationError):
    """A calibration refused because the person moved (or the recording changes posture)."""


class ProfileError(PostureError):
    """A profile that is missing, corrupt or from a newer version."""


class EvaluationError(PostureError):
    """A labels file that cannot be evaluated."""


class ConfigError(PostureError):
    """A configuration file, variable or flag that cannot be used as it is."""


class DemoHomeError(PostureError):
    """A `demo --home` the demo must not use: it did not make it."""


class AutostartError(PostureError):
    """Start-at-login cannot be set up or read: the message says why and what to do."""


class TrayError(PostureError):
    """The tray cannot be shown: the message says how to get it."""


class NotifierError(PostureError):
    """A notification sink that cannot be made: the message says how to get it."""


class StorageError(PostureError):
    """A file or folder posture must create or write, refused by the file system."""


# Why the file system refused, and what the user can do about it there (None: nothing
# but going elsewhere: a read-only file system is not fixed by "chmod").
_CAUSES: dict[int, tuple[str, str | None]] = {
    errno.EROFS: ("the file system is read-only", None),
    errno.EACCES: ("permission denied", "give your user write access there"),
    errno.EPERM: ("not permitted there", "give your user write access there"),
    errno.ENOTDIR: ("part of that path is a file, not a folder", "move that file away"),
    errno.EEXIST: ("a file is in the way", "move it away"),
    errno.EISDIR: ("it is a folder", "move it away"),
    errno.ENOSPC: ("the disk is full", "free some space"),
    errno.EDQUOT: ("your disk quota is used up", "free some space"),
    errno.ENAMETOOLONG: ("the name is too long", "use a shorter one"),
}


def refusal(path: Path | str | None, error: OSError, elsewhere: str, action: str = "write") -> str:
    """One line for an `OSError` the file system raised about `path`, with the way out.

    The cause and its remedy come from the errno, so a read-only file system is
    never answered with "chmod"; `elsewhere` is the way around it, e.g. "set
    POSTURE_HOME to a folder you can write". `path` None: the error named none.
    """
    cause, remedy = _CAUSES.get(error.errno or 0, ((error.strerror or str(error)).lower(), None))
    fix = f"{remedy}, or {elsewhere}" if remedy else elsewhere
    if path is None:
        return f"{cause}: {fix}"
    refused = None if error.filename is None else str(error.filename)
    where = f" ({refused})" if refused not in (None, str(path)) else ""
    return f"cannot {action} '{path}'{where}: {cause}: {fix}"
