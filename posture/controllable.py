"""What the desktop parts (the tray icon, the screen-lock watcher) need of the monitor.

The monitor owns one `Controls` (`posture.control`, see its docstring): commands
from any thread, and a `Snapshot` published after every judged sample and every
change of state. The tray and the watcher are written against the small
structural protocols below rather than against that class, so they import no
monitor, no camera and no model, and their tests drive them with a stand-in
that records calls. The real `Controls` and `Snapshot` satisfy them as they are.

States are compared by value: `State` is a `str` enum, so `State.PAUSED == "paused"`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

# The values of the monitor's `State`, in the words the tray shows.
STARTING = "starting"
GOOD = "good"
SLOUCHING = "slouching"
AWAY = "away"
PAUSED = "paused"
CAMERA_IN_USE = "camera in use"
CAMERA_PROBLEM = "camera problem"
STOPPED = "stopped"
STATES = (STARTING, GOOD, SLOUCHING, AWAY, PAUSED, CAMERA_IN_USE, CAMERA_PROBLEM, STOPPED)


class SnapshotView(Protocol):
    """The parts of a monitor snapshot the desktop shows or acts on."""

    @property
    def state(self) -> str: ...

    @property
    def today_score(self) -> int | None: ...

    @property
    def paused_until(self) -> datetime | None: ...

    @property
    def reason(self) -> str: ...


class Pausable(Protocol):
    """Enough of the monitor's controls to pause it and give the pause back."""

    def pause(self, minutes: float | None = None, reason: str = "paused") -> None: ...

    def resume(self) -> None: ...

    @property
    def snapshot(self) -> SnapshotView: ...


class Controllable(Pausable, Protocol):
    """Everything the tray uses: pausing, stopping, and the snapshots as they come."""

    def stop(self) -> None: ...

    def subscribe(self, callback: Callable[[SnapshotView], None]) -> None: ...
