"""A recording stand-in for the monitor's `Controls`, for the desktop parts' own tests.

The tray and the screen-lock watcher are written against `posture.control.Controllable`;
this stand-in is one, with the real `State` and `Snapshot`, that records every command.
By default a command changes the snapshot at once, as the monitor does between two
frames; `apply=False` leaves the snapshot as it was, as a monitor that has not yet
reached its next frame would. Their tests with the real monitor are in
tests/test_desktop_monitor.py. Tests only: the package never sees it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from posture.control import Snapshot, State
from posture.timeline import local_now


def snapshot_of(state: State, **fields: Any) -> Snapshot:
    """A snapshot in `state`, the other fields empty unless given."""
    empty: dict[str, Any] = dict(
        verdict=None, score=None, today_score=None, paused_until=None, reason=""
    )
    empty.setdefault("at", local_now())
    return Snapshot(state, **{**empty, **fields})


class RecordingControls:
    """Records `("pause", minutes, reason)`, `("resume",)`, `("snooze", m)`, `("reload",)`,
    `("stop",)`; `loads` keeps what each reload was given."""

    def __init__(
        self,
        state: State = State.GOOD,
        now: Callable[[], datetime] = local_now,
        apply: bool = True,
        today_score: int | None = None,
    ) -> None:
        self.now = now
        self.apply = apply
        self.loads: list[Callable[[], Any]] = []
        self._lock = threading.Lock()
        self._calls: list[tuple[Any, ...]] = []
        self._subscribers: list[Callable[[Snapshot], None]] = []
        self._snapshot = snapshot_of(state, today_score=today_score, at=now())

    @property
    def calls(self) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._calls)

    @property
    def snapshot(self) -> Snapshot:
        with self._lock:
            return self._snapshot

    def pause(self, minutes: float | None = None, reason: str = "paused") -> None:
        self._record("pause", minutes, reason)
        if self.apply:
            until = None if minutes is None else self.now() + timedelta(minutes=minutes)
            self.publish(State.PAUSED, paused_until=until, reason=reason)

    def resume(self) -> None:
        self._record("resume")
        if self.apply:
            self.publish(State.GOOD, paused_until=None, reason="")

    def snooze(self, minutes: float) -> None:
        self._record("snooze", minutes)

    def reload_profile(self, load: Callable[[], Any]) -> None:
        self.loads.append(load)
        self._record("reload")

    def stop(self) -> None:
        self._record("stop")
        if self.apply:
            self.publish(State.STOPPED, paused_until=None, reason="")

    def subscribe(self, callback: Callable[[Snapshot], None]) -> None:
        with self._lock:
            self._subscribers.append(callback)

    def publish(self, state: State, **fields: Any) -> Snapshot:
        """A new snapshot, as the monitor publishes one, to every subscriber."""
        with self._lock:
            fields.setdefault("notice", None)
            self._snapshot = replace(self._snapshot, state=state, at=self.now(), **fields)
            snapshot, subscribers = self._snapshot, list(self._subscribers)
        for callback in subscribers:
            callback(snapshot)
        return snapshot

    def wait_for_calls(self, count: int, timeout_s: float = 10.0) -> list[tuple[Any, ...]]:
        """The calls once there are at least `count` (or all there are at the deadline)."""
        deadline = time.monotonic() + timeout_s
        while len(self.calls) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.calls

    def _record(self, *call: Any) -> None:
        with self._lock:
            self._calls.append(call)
