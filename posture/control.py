"""The monitor's control surface: commands in from any thread, snapshots out.

Whoever drives a running monitor (the terminal's Enter and `q`, a tray menu, a
D-Bus screen-lock watcher, a signal handler) calls `Controls`; the monitor loop
owns one, applies its commands between frames and wakes from any wait the moment
one arrives. What the monitor is doing comes back as a `Snapshot`, published
after every judged sample and every change of state, to every subscriber:

    controls = Controls()
    controls.subscribe(lambda snapshot: print(snapshot.state.value, snapshot.reason))
    threading.Thread(target=Monitor(..., controls=controls).run).start()
    controls.pause(15, reason="in a meeting")   # frees the camera for 15 minutes
    controls.reload_profile(lambda: Scorer(store.load("default")))  # after a recalibration
    controls.stop()

Why the plumbing is lock-free on the command side: a signal handler runs on the
main thread between two bytecodes, possibly while that thread holds a lock, and a
handler that takes the same lock waits forever. Commands therefore go into a
`deque` (its append and popleft are atomic) and the waiting loop is woken by a
byte on a socket pair (a send never blocks on a lock), so `stop()` is safe in a
signal handler at any moment. Only `subscribe` takes a lock; it is never called
from a handler.

This module imports neither MediaPipe nor numpy: the tray and the D-Bus watcher
import it cheaply, and are written against its `Controllable` protocol, which
`Controls` satisfies and a test's recording stand-in can too.
"""

from __future__ import annotations

import contextlib
import math
import select
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Protocol

from posture.records import check_aware

if TYPE_CHECKING:  # for the annotations only: the scorer imports numpy
    from posture.scoring import Judge


class State(str, Enum):
    """What the monitor is doing: what a tray colours and the status line says."""

    STARTING = "starting"
    GOOD = "good"
    SLOUCHING = "slouching"  # any bad posture verdict
    AWAY = "away"
    PAUSED = "paused"  # by the user (menu, snooze-all), or screen locked / asleep
    CAMERA_IN_USE = "camera in use"
    CAMERA_PROBLEM = "camera problem"
    STOPPED = "stopped"


@dataclass(frozen=True)
class Snapshot:
    """The monitor's state at one moment, for people (a tray, a status line).

    - `verdict`: the smoothed verdict's value (`Verdict.value`), None when not judging.
    - `score`: this frame's smoothed score (0-100), None when not judging or nobody there.
    - `today_score`: the day's posture score so far, by the daily report's definition.
    - `paused_until`: when a timed pause ends; None when not paused or paused until resumed.
    - `reason`: one line for people: "screen locked", "camera in use by zoom", a hint.
    - `at`: wall-clock time of the snapshot (timezone-aware).
    - `notice`: news for people that is not a state, on the one snapshot published
      when it happened (a profile that could not be reloaded); None on the others.
      The state and `reason` stay what they were, so that a pause keeps its reason.
    """

    state: State
    verdict: str | None
    score: int | None
    today_score: int | None
    paused_until: datetime | None
    reason: str
    at: datetime
    notice: str | None = None

    def __post_init__(self) -> None:
        check_aware(self.at)
        if self.paused_until is not None:
            check_aware(self.paused_until)
        for name in ("score", "today_score"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 100:
                raise ValueError(f"{name} must be in [0, 100], got {value}")


# -- commands: what the loop takes from the queue -----------------------------------------------


@dataclass(frozen=True)
class Pause:
    """Stop judging and free the camera for `minutes` (None: until `Resume`)."""

    minutes: float | None
    reason: str


@dataclass(frozen=True)
class Resume:
    """End a pause now."""


@dataclass(frozen=True)
class Snooze:
    """No nudges for `minutes`; judging and recording go on (0 ends a snooze)."""

    minutes: float


@dataclass(frozen=True)
class Reload:
    """Judge against a new profile from the next frame on: `load()` makes its judge.

    Run on the monitor's thread between frames; when it raises a `PostureError` or
    an `OSError` (the profile is missing or corrupt) the monitor keeps the judge it
    has and publishes why in a snapshot's `notice`.
    """

    load: Callable[[], Judge]


Command = Pause | Resume | Snooze | Reload


def _check_minutes(minutes: float, what: str, *, zero_ok: bool) -> None:
    valid = isinstance(minutes, int | float) and math.isfinite(minutes)
    if not valid or minutes < 0 or (minutes == 0 and not zero_ok):
        least = "0 or more" if zero_ok else "more than 0"
        raise ValueError(f"{what} takes a finite number of minutes, {least}; got {minutes!r}")


class Controls:
    """Thread-safe commands to one running monitor, and its published state.

    Any thread (terminal, tray, D-Bus, a signal handler for `stop`) calls
    `pause`, `resume`, `snooze`, `reload_profile` and `stop`; subscribers receive
    every `Snapshot`.
    The loop's side is `take_commands`, `wait`, `stopped` and `publish`.

    `sleep` stands in for the real wait in tests on a fake clock: it is called
    with the seconds to wait (and should advance the fake clock) whenever the
    loop would block; commands still cut a wait short.
    """

    def __init__(
        self,
        initial: Snapshot | None = None,
        *,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._commands: deque[Command] = deque()
        self._stopped = False
        self._sleep = sleep
        self._subscribers: list[Callable[[Snapshot], None]] = []
        self._subscribers_lock = threading.Lock()
        self._snapshot = initial or Snapshot(
            State.STARTING, None, None, None, None, "starting", datetime.now().astimezone()
        )
        # The loop blocks on _wake_in; a command sends one byte on _wake_out.
        self._wake_in, self._wake_out = socket.socketpair()
        self._wake_in.setblocking(False)
        self._wake_out.setblocking(False)

    # -- any thread ------------------------------------------------------------------------

    def pause(self, minutes: float | None = None, reason: str = "paused") -> None:
        """Stop judging and free the camera, for `minutes` or (None) until `resume()`."""
        if minutes is not None:
            _check_minutes(minutes, "pause", zero_ok=False)
        self._send(Pause(minutes, reason))

    def resume(self) -> None:
        """End a pause now; nothing happens if the monitor is not paused."""
        self._send(Resume())

    def snooze(self, minutes: float) -> None:
        """No nudges for `minutes` from now; judging and recording go on."""
        _check_minutes(minutes, "snooze", zero_ok=True)
        self._send(Snooze(minutes))

    def reload_profile(self, load: Callable[[], Judge]) -> None:
        """Judge with `load()`'s result from the next frame on (after a recalibration)."""
        self._send(Reload(load))

    def stop(self) -> None:
        """End the monitor: it flushes the history and returns. Safe in a signal handler."""
        self._stopped = True
        self._wake()

    def wake(self) -> None:
        """Wake the loop from any wait without a command: a watcher (the camera share)
        saw something the loop must look at. Safe in a signal handler."""
        self._wake()

    def subscribe(self, callback: Callable[[Snapshot], None]) -> None:
        """Call `callback(snapshot)` on every snapshot from now on.

        Callbacks run on the monitor's thread, between frames: keep them short
        and hand the snapshot off to your own loop.
        """
        with self._subscribers_lock:
            self._subscribers.append(callback)

    @property
    def snapshot(self) -> Snapshot:
        """The latest published snapshot."""
        return self._snapshot

    # -- the loop's side -------------------------------------------------------------------

    @property
    def stopped(self) -> bool:
        """`stop()` was called."""
        return self._stopped

    @property
    def pending(self) -> bool:
        """A command waits to be taken, or `stop()` was called."""
        return self._stopped or bool(self._commands)

    def take_commands(self) -> list[Command]:
        """Every command sent since the last call, oldest first."""
        taken: list[Command] = []
        while True:
            try:
                taken.append(self._commands.popleft())
            except IndexError:
                return taken

    def wait(self, seconds: float) -> bool:
        """Block up to `seconds`, less if a command arrives or `stop()` is called.

        Returns `pending`: True when the loop has something to do at once.
        """
        if seconds > 0 and not self.pending:
            if self._sleep is not None:
                self._sleep(seconds)
            else:
                select.select([self._wake_in], [], [], seconds)
        self._drain()
        return self.pending

    def publish(self, snapshot: Snapshot) -> None:
        """Make `snapshot` current and hand it to every subscriber (the loop's thread)."""
        self._snapshot = snapshot
        with self._subscribers_lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            callback(snapshot)

    def close(self) -> None:
        """Release the wake-up sockets; commands sent afterwards are dropped."""
        self._wake_in.close()
        self._wake_out.close()

    def __enter__(self) -> Controls:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _send(self, command: Command) -> None:
        self._commands.append(command)
        self._wake()

    def _wake(self) -> None:
        # Full buffer: the loop is woken already. Closed: nobody is listening any more.
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_out.send(b"\0")

    def _drain(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while self._wake_in.recv(4096):
                pass


def say_once_watching(controls: Controllable, say: Callable[[str], None], text: str) -> None:
    """Says `text` once the monitor watches (its source opened), never before: a monitor
    that cannot start then says only why, in one line."""
    once = threading.Lock()  # taken by the first to say it, never given back

    def listen(snapshot: Snapshot) -> None:
        if snapshot.state not in (State.STARTING, State.STOPPED) and once.acquire(blocking=False):
            say(text)

    controls.subscribe(listen)
    listen(controls.snapshot)  # watching already


class Controllable(Protocol):
    """What the desktop parts (the tray, the screen-lock watcher) use of `Controls`.

    `Controls` is the one the monitor obeys; tests give the desktop parts a stand-in
    that records the calls.
    """

    def pause(self, minutes: float | None = None, reason: str = "paused") -> None:
        """Stop judging and free the camera, for `minutes` or (None) until `resume()`;
        `reason` is what the snapshots say meanwhile. ValueError for bad minutes."""

    def resume(self) -> None:
        """End a pause now; nothing happens if the monitor is not paused."""

    def reload_profile(self, load: Callable[[], Judge]) -> None:
        """Judge with `load()`'s result from the next frame on; `load` runs on the
        monitor's thread, and its failure comes back as a snapshot's `notice`."""

    def stop(self) -> None:
        """End the monitor; returns at once, without waiting for it to finish."""

    def subscribe(self, callback: Callable[[Snapshot], None]) -> None:
        """Call `callback(snapshot)` on every snapshot from now on, on the monitor's
        thread: hand it off to your own thread rather than work in it."""

    @property
    def snapshot(self) -> Snapshot:
        """The latest published snapshot (what to show before the next one arrives)."""
