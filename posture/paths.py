"""The one data directory: profiles and history live here, nowhere else.

Default: the platform's user data directory (platformdirs), e.g.
`~/.local/share/posture` on Linux. `POSTURE_HOME` overrides it, which the tests
use so they never touch a real profile or history.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_HOME = "POSTURE_HOME"


def data_dir() -> Path:
    """The data directory (not created here: writers create what they need)."""
    override = os.environ.get(ENV_HOME)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("posture", appauthor=False))


def profiles_dir() -> Path:
    return data_dir() / "profiles"


def write_private(path: Path, data: bytes) -> None:
    """Writes (or replaces) a file readable by the user only: posture's files are health data."""
    descriptor = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with open(descriptor, "wb") as out:
        out.write(data)
