"""The tray icon: the monitor's state at a glance, its commands one click away.

A coloured dot in the system tray says what the monitor sees (green good, orange
slouching, a grey ring away, blue bars paused, a purple ring when another program has
the camera, red with a mark when the camera fails), its tooltip and menu say it in
words with today's score, and the menu pauses for 15, 30 or 60 minutes, resumes,
recalibrates, opens today's report and quits:

    run_tray(controls, TrayActions(recalibrate, write_report))   # on the main thread

The icon is Qt's (`QSystemTrayIcon`, from the optional `posture[tray]` extra, PySide6):
one code path that reaches the StatusNotifierItem hosts of KDE, of GNOME with the
AppIndicator extension and of the wlroots bars, under X11 and Wayland alike, the
XEmbed trays of older X11 desktops, the macOS menu bar and the Windows notification
area. Qt wants the main thread (macOS insists), so the monitor runs on another one and
the two meet through `Controls`, which any thread may call. Where there is no display
`run_tray` says so and returns at once; where there is a display but no tray yet, the
icon waits for one and the monitor runs on.

This module holds the words, the colours and the checks; `posture.tray_qt` the widgets,
imported only once a tray is wanted.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from posture.control import Controllable, Snapshot, State
from posture.errors import TrayError

INSTALL_HINT = 'pip install "posture[tray]"'
PAUSE_MINUTES = (15, 30, 60)
RECALIBRATING = "recalibrating"  # the reason of the pause while calibration has the camera


@dataclass(frozen=True)
class Look:
    """How a state is drawn: a colour, filled or a ring, and an optional white mark."""

    colour: str
    filled: bool = True
    mark: str = ""  # "pause" (two bars), "alert" (an exclamation mark) or ""


# Shape as well as colour, so that the states stay apart for colour-blind eyes.
LOOKS: dict[State, Look] = {
    State.STARTING: Look("#b0bec5", filled=False),
    State.GOOD: Look("#2e7d32"),
    State.SLOUCHING: Look("#ef6c00"),
    State.AWAY: Look("#78909c", filled=False),
    State.PAUSED: Look("#1565c0", mark="pause"),
    State.CAMERA_IN_USE: Look("#8e24aa", filled=False),
    State.CAMERA_PROBLEM: Look("#c62828", mark="alert"),
    State.STOPPED: Look("#616161", mark="pause"),
}

_HEADLINES = {
    State.STARTING: "Starting",
    State.GOOD: "Good posture",
    State.SLOUCHING: "Slouching",
    State.AWAY: "Away from the desk",
    State.PAUSED: "Paused",
    State.CAMERA_IN_USE: "Camera in use by another program",
    State.CAMERA_PROBLEM: "Camera problem",
    State.STOPPED: "Stopped",
}


def look_of(state: State) -> Look:
    """The icon for `state`; every state has one."""
    return LOOKS[state]


def status_words(snapshot: Snapshot) -> str:
    """One line for the menu and the tooltip: the state, when a pause ends, and why."""
    state = snapshot.state
    words = _HEADLINES[state]
    if state is State.PAUSED and snapshot.paused_until is not None:
        words += f" until {snapshot.paused_until:%H:%M}"
    reason = snapshot.reason.strip()
    if reason and reason.lower() not in (state.value, "paused"):
        words += f": {reason}"
    return words


def score_words(snapshot: Snapshot) -> str:
    """Today's posture score as a menu line; "none yet" until there is one."""
    if snapshot.today_score is None:
        return "Today's score: none yet"
    return f"Today's score: {snapshot.today_score} / 100"


def tooltip(snapshot: Snapshot) -> str:
    """The icon's tooltip: the status line over the score line."""
    return f"posture: {status_words(snapshot)}\n{score_words(snapshot)}"


@dataclass(frozen=True)
class Calibrated:
    """How a recalibration from the tray went, in one line for a tray message."""

    ok: bool
    message: str


@dataclass(frozen=True)
class TrayActions:
    """What the menu does beyond the monitor's own controls.

    `recalibrate` runs on a worker thread while the monitor is paused (it needs the
    camera) and blocks until done; `write_report` writes today's report page and
    returns its path, which the tray opens in the browser.
    """

    recalibrate: Callable[[], Calibrated]
    write_report: Callable[[], Path]


def tray_unavailable(
    environ: Mapping[str, str] | None = None, platform: str | None = None
) -> str | None:
    """Why no tray icon can be shown here at all, or None if one can be tried."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if platform in ("win32", "darwin"):
        return None
    if not environ.get("DISPLAY") and not environ.get("WAYLAND_DISPLAY"):
        return "no graphical display (neither DISPLAY nor WAYLAND_DISPLAY is set)"
    if not environ.get("WAYLAND_DISPLAY") and not _x_server_answers(environ["DISPLAY"]):
        # Qt would abort the whole process on it ("could not connect to display").
        return f"the X display {environ['DISPLAY']} does not answer"
    return None


def _x_server_answers(display: str) -> bool:
    """Whether a local X server listens for `display` (":0", ":1.0"); True for a remote
    or unusual one, which only Qt can tell."""
    match = re.fullmatch(r"(?:unix)?:(\d+)(?:\.\d+)?", display)
    if match is None:
        return True
    path = f"/tmp/.X11-unix/X{match[1]}"
    for address in ("\0" + path, path):  # Linux servers listen in both namespaces
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(2)
            try:
                probe.connect(address)
            except OSError:
                continue
            return True
    return False


def require_library() -> None:
    """Raises `TrayError` with the install hint when PySide6 is not installed."""
    try:
        import PySide6  # noqa: F401
    except ImportError:
        raise TrayError(f"the tray icon needs PySide6: {INSTALL_HINT}") from None


def run_tray(
    controls: Controllable,
    actions: TrayActions,
    say: Callable[[str], None] = print,
    finished: threading.Event | None = None,
) -> str | None:
    """Shows the icon and runs the event loop on this thread until Quit or the monitor stops.

    The monitor stops when its snapshot says so, or when `finished` is set (by the
    thread that ran it, whether it ended or failed). Ctrl+C and SIGTERM stop the
    monitor and close the tray. Returns None after a run, or at once the reason why
    no tray can be shown here (the caller then runs the monitor without one).
    Raises `TrayError` when PySide6 is missing.
    """
    require_library()
    reason = tray_unavailable()
    if reason is not None:
        return reason
    from posture.tray_qt import run_event_loop

    run_event_loop(controls, actions, say, finished)
    return None
