"""The calibration profile: a versioned JSON file per named profile.

Schema (version 1)::

    {
      "schema_version": 1,
      "name": "default",
      "created_at": "2026-11-24T09:30:00+00:00",
      "view": "frontal" | "oblique" | "side",
      "source": "camera 0" | "video session.mp4" | ...,
      "model": "lite",
      "frame_count": 42,
      "population_default": false,
      "forced": false,
      "metrics": {"neck_inclination_deg": {"median": 12.1, "mad": 1.2,
                                             "tolerance": 8.0, "count": 42}, ...},
      "setup": {"source": "camera 0", "camera": "Integrated Camera", "width": 640,
                "height": 480, "shoulder_x": 0.51, "shoulder_y": 0.74, "body_scale": 0.42}
    }

`setup` (optional, since posture 0.1's set-up check; profiles without it still load
and are simply not checked): the camera set-up the profile was taken in, so that the
monitor can tell when it no longer fits (`posture.stale`): the source, the camera's
own name where the system gives one, the picture's size, and the medians over the
calibration frames of the shoulder midpoint (shares of the picture's width and
height) and the body scale (the shoulder width square-on, a share of the width).

Profiles live in `<data dir>/profiles/<name>.json`. A corrupt file, a file from
a newer version of posture, or an unknown name is a `ProfileError` with a
message that says what to do, never a traceback.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from calibration.baseline import MetricBaseline
from posture.errors import ProfileError
from posture.paths import PathError, os_problem, private_folder
from posture.vocabulary import View

SCHEMA_VERSION = 1
DEFAULT_PROFILE_NAME = "default"
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_name(name: str) -> str:
    """Profile names become file names: letters, digits, '.', '_' and '-' only."""
    if not _NAME_PATTERN.match(name) or name.endswith(".json"):
        raise ProfileError(
            f"invalid profile name {name!r}: use up to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Setup:
    """The camera set-up a profile was calibrated in (see the module docstring)."""

    source: str
    camera: str | None
    width: int
    height: int
    shoulder_x: float
    shoulder_y: float
    body_scale: float

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"picture size must be positive, got {self.width}x{self.height}")
        if not (math.isfinite(self.body_scale) and self.body_scale > 0):
            raise ValueError(f"body_scale must be positive, got {self.body_scale}")
        for name in ("shoulder_x", "shoulder_y"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value}")

    def to_json(self) -> dict[str, Any]:
        """The profile's `setup` entry; positions and scale rounded to 6 decimals."""
        return {
            "source": self.source,
            "camera": self.camera,
            "width": self.width,
            "height": self.height,
            "shoulder_x": round(self.shoulder_x, 6),
            "shoulder_y": round(self.shoulder_y, 6),
            "body_scale": round(self.body_scale, 6),
        }

    @classmethod
    def from_json(cls, data: Any) -> Setup:
        """Raises KeyError, TypeError or ValueError on a malformed entry."""
        camera = data.get("camera")
        return cls(
            source=str(data["source"]),
            camera=None if camera is None else str(camera),
            width=int(data["width"]),
            height=int(data["height"]),
            shoulder_x=float(data["shoulder_x"]),
            shoulder_y=float(data["shoulder_y"]),
            body_scale=float(data["body_scale"]),
        )


@dataclass(frozen=True)
class Profile:
    """A person's calibrated upright posture, seen from one camera view."""

    name: str
    view: View
    metrics: Mapping[str, MetricBaseline]
    source: str = ""
    model: str = "lite"
    frame_count: int = 0
    created_at: str = field(default_factory=_now)
    population_default: bool = False
    # Kept with --force although it did not look upright (calibration.upright).
    forced: bool = False
    schema_version: int = SCHEMA_VERSION
    # The camera set-up it was taken in; None for profiles made before it was recorded,
    # from labelled data, or by the population.
    setup: Setup | None = None

    def __post_init__(self) -> None:
        check_name(self.name)
        if self.frame_count < 0:
            raise ValueError(f"frame_count must be >= 0, got {self.frame_count}")
        if not self.metrics:
            raise ValueError("a profile needs at least one metric baseline")

    def baseline(self, metric: str) -> MetricBaseline | None:
        """The upright baseline of `metric`, or None if calibration never measured it
        (not every metric can be seen from every camera view)."""
        return self.metrics.get(metric)

    def renamed(self, name: str) -> Profile:
        """A copy under another name (checked, so a ProfileError if it cannot be a file
        name); nothing is saved."""
        return replace(self, name=check_name(name))

    def to_json(self) -> dict[str, Any]:
        """The file's content (see the module docstring); `setup` only when known."""
        return {
            "schema_version": self.schema_version,
            "name": self.name,
            "created_at": self.created_at,
            "view": self.view.value,
            "source": self.source,
            "model": self.model,
            "frame_count": self.frame_count,
            "population_default": self.population_default,
            "forced": self.forced,
            "metrics": {name: base.as_dict() for name, base in self.metrics.items()},
            **({} if self.setup is None else {"setup": self.setup.to_json()}),
        }

    @classmethod
    def from_json(cls, data: Any, origin: str = "profile") -> Profile:
        """Parse and validate; every problem is a ProfileError naming `origin`."""
        if not isinstance(data, dict):
            raise ProfileError(
                f"{origin} is corrupt (a JSON {type(data).__name__}, not a posture profile); "
                "calibrate again to replace it"
            )
        version = data.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ProfileError(f"{origin} has no schema_version: not a posture profile")
        if version > SCHEMA_VERSION:
            raise ProfileError(
                f"{origin} has schema version {version}, newer than this posture understands "
                f"({SCHEMA_VERSION}): upgrade posture, or calibrate again"
            )
        try:
            metrics = {
                str(name): MetricBaseline(
                    median=float(entry["median"]),
                    mad=float(entry["mad"]),
                    tolerance=float(entry["tolerance"]),
                    count=int(entry["count"]),
                )
                for name, entry in data["metrics"].items()
            }
            return cls(
                name=str(data["name"]),
                view=View(data["view"]),
                metrics=metrics,
                source=str(data.get("source", "")),
                model=str(data.get("model", "lite")),
                frame_count=int(data.get("frame_count", 0)),
                created_at=str(data.get("created_at", "")),
                population_default=bool(data.get("population_default", False)),
                forced=bool(data.get("forced", False)),
                schema_version=version,
                setup=None if data.get("setup") is None else Setup.from_json(data["setup"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ProfileError(
                f"{origin} is corrupt ({type(error).__name__}: {error}); "
                "calibrate again to replace it"
            ) from None


class ProfileStore:
    """Named profiles as JSON files in one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, name: str) -> Path:
        """Where the profile `name` is or would be; a ProfileError for an invalid name."""
        return self.folder / f"{check_name(name)}.json"

    def names(self) -> list[str]:
        """The saved profiles, sorted; none while the folder does not exist."""
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.json") if _NAME_PATTERN.match(p.stem))

    def exists(self, name: str) -> bool:
        """Whether a profile file by that name exists (it may still be corrupt)."""
        return self.path(name).is_file()

    def load(self, name: str) -> Profile:
        """The saved profile; a ProfileError, with the known names and how to create it,
        if there is none by that name, or saying what is wrong with its file."""
        path = self.path(name)
        if not path.is_file():
            known = ", ".join(self.names()) or "none yet"
            raise ProfileError(
                f"no profile named {name!r} (profiles: {known}); "
                f"create it with `posture calibrate --profile {name}`"
            )
        return load_profile_file(path)

    def save(self, profile: Profile) -> Path:
        """Write atomically: a crash mid-write leaves the old profile intact."""
        path = self.path(profile.name)
        try:
            private_folder(self.folder)  # 0700, like every folder posture creates
        except PathError as error:
            raise ProfileError(f"cannot save profile {profile.name!r}: {error}") from None
        text = json.dumps(profile.to_json(), indent=2) + "\n"
        try:
            handle, temp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".json")
        except OSError as error:
            problem = os_problem(error, path)
            raise ProfileError(f"cannot save profile {profile.name!r}: {problem}") from None
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:  # mkstemp: 0600
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException as error:
            Path(temp).unlink(missing_ok=True)
            if isinstance(error, OSError):  # e.g. the disk is full
                problem = os_problem(error, path)
                raise ProfileError(f"cannot save profile {profile.name!r}: {problem}") from None
            raise
        return path

    def delete(self, name: str) -> Path:
        """Removes the profile's file and returns where it was; a ProfileError if there is
        none by that name."""
        path = self.path(name)
        if not path.is_file():
            raise ProfileError(f"no profile named {name!r} to delete")
        path.unlink()
        return path


def load_profile_file(path: Path) -> Profile:
    """A profile from any file, in the store or not; a file that cannot be read, or is
    not JSON or not a valid profile, is a ProfileError naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ProfileError(f"cannot read profile {str(path)!r}: {error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProfileError(
            f"profile {str(path)!r} is corrupt (not JSON: {error.msg} at line {error.lineno}); "
            "calibrate again to replace it"
        ) from None
    return Profile.from_json(data, origin=f"profile {str(path)!r}")
