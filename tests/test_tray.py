"""The tray icon: its words and looks, its widgets on Qt's offscreen platform, the
composition with a monitor thread, the menu's actions from the command line's side,
and, for real, the icon in an X11 system tray (Xvfb + trayer) driven through its menu
with the mouse and keyboard (xdotool) and checked on screenshots.

Mostly the monitor is the recording stand-in (tests/fake_controls.py), so that every
state and command can be set up; Qt, the X server, the tray host and the menu are real.
Two tests run the real monitor under the tray: the menu's recalibration in this process,
and `posture tray` itself in an X11 tray on the stand-in webcam of tests/webcam.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from posture.control import State
from posture.errors import SourceError
from posture.tray import (
    INSTALL_HINT,
    LOOKS,
    RECALIBRATING,
    Calibrated,
    TrayActions,
    TrayError,
    look_of,
    run_tray,
    score_words,
    status_words,
    tooltip,
    tray_unavailable,
)
from tests.conftest import REPO, UPRIGHT_PHOTO
from tests.fake_controls import RecordingControls, snapshot_of

HAS_QT = importlib.util.find_spec("PySide6") is not None
needs_qt = pytest.mark.skipif(not HAS_QT, reason=f"PySide6 not installed ({INSTALL_HINT})")
AT_10_15 = datetime(2024, 5, 6, 10, 15).astimezone()


# -- words and looks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("snapshot", "words"),
    [
        (snapshot_of(State.GOOD), "Good posture"),
        (snapshot_of(State.SLOUCHING, reason="slouch"), "Slouching: slouch"),
        (snapshot_of(State.PAUSED, paused_until=AT_10_15, reason="paused"), "Paused until 10:15"),
        (snapshot_of(State.PAUSED, reason="screen locked"), "Paused: screen locked"),
        (
            snapshot_of(State.CAMERA_IN_USE, reason="camera in use by zoom"),
            "Camera in use by another program: camera in use by zoom",
        ),
        (
            snapshot_of(State.CAMERA_PROBLEM, reason="too dark: turn on a light"),
            "Camera problem: too dark: turn on a light",
        ),
    ],
)
def test_the_status_line_says_the_state_and_why(snapshot: Any, words: str) -> None:
    assert status_words(snapshot) == words


def test_the_score_line_and_the_tooltip() -> None:
    assert score_words(snapshot_of(State.GOOD)) == "Today's score: none yet"
    snapshot = snapshot_of(State.AWAY, today_score=82)
    assert tooltip(snapshot) == "posture: Away from the desk\nToday's score: 82 / 100"


def test_every_state_of_the_monitor_has_a_look_of_its_own() -> None:
    looks = [look_of(state) for state in State]
    assert len(set(looks)) == len(State) == len(LOOKS)
    # Apart by shape too, for colour-blind eyes: the states a person acts on differ in form.
    acted_on = (State.GOOD, State.AWAY, State.PAUSED, State.CAMERA_PROBLEM)
    assert len({(look_of(s).filled, look_of(s).mark) for s in acted_on}) == 4


def test_without_a_display_there_is_no_tray(monkeypatch: pytest.MonkeyPatch) -> None:
    assert tray_unavailable({}, "linux") == (
        "no graphical display (neither DISPLAY nor WAYLAND_DISPLAY is set)"
    )
    assert tray_unavailable({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert tray_unavailable({}, "darwin") is None


def test_an_x_display_that_does_not_answer_is_no_tray_rather_than_an_abort() -> None:
    """Qt aborts the process when it cannot reach the X server; the monitor must not."""
    assert tray_unavailable({"DISPLAY": ":987"}, "linux") == "the X display :987 does not answer"
    assert tray_unavailable({"DISPLAY": "remote.example:0"}, "linux") is None  # only Qt can tell


def test_without_pyside6_the_tray_gives_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "PySide6", None)
    with pytest.raises(TrayError) as caught:
        run_tray(RecordingControls(), _actions())
    assert str(caught.value) == 'the tray icon needs PySide6: pip install "posture[tray]"'
    from posture.cli.exits import describe

    assert describe(caught.value)[0] == 2


def test_posture_tray_without_pyside6_is_one_line_and_starts_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.test_cli import run

    monkeypatch.setitem(sys.modules, "PySide6", None)
    code, out, err = run(["tray", "--source", "7"], capsys)  # no such camera: not opened
    assert (code, out) == (2, "")
    assert err == 'posture: error: the tray icon needs PySide6: pip install "posture[tray]"\n'
    assert not (Path(os.environ["POSTURE_HOME"]) / "history.sqlite3").exists()


def _actions(
    recalibrate: Callable[[], Calibrated] | None = None, report: Path | None = None
) -> TrayActions:
    def write_report() -> Path:
        if report is None:
            raise SourceError("no history")
        return report

    return TrayActions(recalibrate or (lambda: Calibrated(True, "done")), write_report)


# -- the widgets, on Qt's offscreen platform -----------------------------------------------------


@pytest.fixture(scope="module")
def qt_app() -> Iterator[Any]:
    if not HAS_QT:
        pytest.skip(f"PySide6 not installed ({INSTALL_HINT})")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        previous = os.environ.get("QT_QPA_PLATFORM")
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # read once, when the app is made
        app = QApplication(["posture-tests"])
        if previous is None:
            del os.environ["QT_QPA_PLATFORM"]
        else:
            os.environ["QT_QPA_PLATFORM"] = previous
    yield app


@pytest.fixture
def qt(qt_app: Any) -> Iterator[Any]:
    """The app, with what a test left queued (a tray closing itself) run off afterwards,
    so that it cannot end the next test's event loop, and what it left to the garbage
    collector freed here, on the GUI thread, not on a later test's monitor thread."""
    from PySide6.QtCore import QCoreApplication

    yield qt_app
    for _ in range(3):
        QCoreApplication.processEvents()
    while _TRAYS:
        _TRAYS.pop().close()
    gc.collect()


_TRAYS: list[Any] = []  # made by _tray(), closed by the qt fixture


def _process_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    from PySide6.QtCore import QCoreApplication

    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        QCoreApplication.processEvents()
        time.sleep(0.01)
    return condition()


class Messages:
    """Stands in for the tray's balloon messages (the desktop's notification area)."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, str]] = []

    def __call__(self, title: str, message: str, *rest: Any) -> None:
        self.shown.append((title, message))


def _tray(controls: Any, actions: TrayActions) -> tuple[Any, Messages]:
    from PySide6.QtWidgets import QApplication

    from posture.tray_qt import Tray

    tray = Tray(QApplication.instance(), controls, actions, platform="linux")
    messages = Messages()
    tray.icon.showMessage = messages
    _TRAYS.append(tray)
    return tray, messages


def _pixel(image: Any, x: int, y: int) -> str:
    colour = image.pixelColor(x, y)
    return "transparent" if colour.alpha() == 0 else colour.name()


@needs_qt
@pytest.mark.usefixtures("qt")
def test_the_icon_is_a_dot_a_ring_or_a_dot_with_a_mark() -> None:
    from posture.tray_qt import draw_icon

    good = draw_icon(LOOKS[State.GOOD]).toImage()
    assert _pixel(good, 32, 32) == _pixel(good, 20, 20) == LOOKS[State.GOOD].colour
    assert _pixel(good, 1, 1) == "transparent"
    away = draw_icon(LOOKS[State.AWAY]).toImage()
    assert _pixel(away, 32, 32) == "transparent" and _pixel(away, 32, 8) == LOOKS[State.AWAY].colour
    paused = draw_icon(LOOKS[State.PAUSED]).toImage()
    assert _pixel(paused, 24, 32) == "#ffffff"
    assert _pixel(paused, 32, 32) == LOOKS[State.PAUSED].colour


@needs_qt
@pytest.mark.usefixtures("qt")
def test_the_menu_shows_the_state_and_its_commands_reach_the_monitor() -> None:
    controls = RecordingControls(State.GOOD, today_score=82)
    tray, _ = _tray(controls, _actions())
    texts = [a.text() for a in tray.menu.actions() if not a.isSeparator()]
    assert texts == [
        "Good posture",
        "Today's score: 82 / 100",
        "Pause for &15 minutes",
        "Pause for &30 minutes",
        "Pause for &60 minutes",
        "&Resume",
        "Re&calibrate…",
        "Open today's re&port",
        "&Quit",
    ]
    assert not tray.resume_action.isEnabled()
    assert tray.icon.toolTip() == "posture: Good posture\nToday's score: 82 / 100"
    tray.pause_actions[60].trigger()
    assert controls.calls == [("pause", 60, "paused")]
    assert tray.status_action.text().startswith("Paused until ")
    assert tray.resume_action.isEnabled()
    tray.resume_action.trigger()
    assert controls.calls[-1] == ("resume",) and tray.status_action.text() == "Good posture"


@needs_qt
@pytest.mark.usefixtures("qt")
def test_a_snapshot_from_the_monitors_thread_reaches_the_icon() -> None:
    controls = RecordingControls(State.GOOD)
    tray, _ = _tray(controls, _actions())
    publisher = threading.Thread(
        target=controls.publish, args=(State.CAMERA_IN_USE,), kwargs={"reason": "zoom"}
    )
    publisher.start()
    publisher.join()
    assert _process_until(lambda: "Camera in use" in tray.status_action.text())
    image = tray.icon.icon().pixmap(64, 64).toImage()
    assert _pixel(image, 32, 8) == LOOKS[State.CAMERA_IN_USE].colour


@needs_qt
@pytest.mark.usefixtures("qt")
def test_closing_frees_every_qt_object_of_the_tray_at_once_on_the_gui_thread() -> None:
    """Left to the garbage collector, they were freed on whichever thread it ran, the
    monitor's among them, while this one processed events: a crash, once in a while."""
    import shiboken6

    controls = RecordingControls(State.GOOD)
    tray, _ = _tray(controls, _actions())
    finished = threading.Event()
    tray.watch(finished, lambda: None)
    tray.show(snapshot_of(State.AWAY))  # one more icon drawn
    made = [tray.bridge, tray.icon, tray.menu, tray.status_action, *tray._timers]
    assert all(shiboken6.isValid(qobject) for qobject in made)
    tray.close()
    assert not any(shiboken6.isValid(qobject) for qobject in made)
    assert tray._icons == {} and tray._timers == []
    # The monitor's thread goes on publishing, and a calibration may end late: dropped.
    late = threading.Thread(target=controls.publish, args=(State.SLOUCHING,))
    late.start()
    late.join()
    tray._run_calibration()
    from PySide6.QtCore import QCoreApplication

    for _ in range(3):
        QCoreApplication.processEvents()
    assert tray._icons == {}  # show() did not run again: it would have drawn the icon
    tray.close()  # twice is once


@needs_qt
@pytest.mark.usefixtures("qt")
def test_recalibrating_pauses_the_monitor_meanwhile_and_says_how_it_went() -> None:
    release = threading.Event()

    def recalibrate() -> Calibrated:
        release.wait(10)
        return Calibrated(False, "too dark: turn on a light")

    controls = RecordingControls()
    tray, messages = _tray(controls, _actions(recalibrate))
    tray.recalibrate_action.trigger()
    assert controls.calls == [("pause", None, RECALIBRATING)]
    assert not tray.recalibrate_action.isEnabled()
    tray.recalibrate()  # a second click while it runs does nothing
    release.set()
    assert _process_until(lambda: len(controls.calls) == 2)
    assert controls.calls[-1] == ("resume",) and tray.recalibrate_action.isEnabled()
    assert messages.shown[-1] == ("Calibration not saved", "too dark: turn on a light")
    assert messages.shown[0][0] == "Recalibrating"


@needs_qt
@pytest.mark.usefixtures("qt")
def test_a_pause_chosen_during_the_recalibration_is_kept() -> None:
    release = threading.Event()
    controls = RecordingControls()
    tray, messages = _tray(
        controls,
        _actions(lambda: Calibrated(True, "Saved.") if release.wait(10) else Calibrated(False, "")),
    )
    tray.recalibrate_action.trigger()
    controls.pause(30)
    release.set()
    assert _process_until(lambda: bool(messages.shown) and messages.shown[-1][0] == "Recalibrated")
    assert controls.calls == [("pause", None, RECALIBRATING), ("pause", 30, "paused")]


@needs_qt
@pytest.mark.usefixtures("qt")
def test_the_report_opens_in_the_desktops_browser(tmp_path: Path) -> None:
    from PySide6.QtCore import QObject, QUrl, Slot
    from PySide6.QtGui import QDesktopServices

    class Opener(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.urls: list[str] = []

        @Slot(QUrl)
        def open(self, url: QUrl) -> None:
            self.urls.append(url.toLocalFile())

    page = tmp_path / "today.html"
    opener = Opener()
    QDesktopServices.setUrlHandler("file", opener, "open")
    try:
        tray, messages = _tray(RecordingControls(), _actions(report=page))
        tray.report_action.trigger()
        assert opener.urls == [str(page)]
        failing, messages = _tray(RecordingControls(), _actions(report=None))
        failing.report_action.trigger()
        assert messages.shown == [("No report", "no history")]
    finally:
        QDesktopServices.unsetUrlHandler("file")


@needs_qt
@pytest.mark.usefixtures("qt")
def test_a_notice_of_the_monitor_becomes_a_tray_message_once() -> None:
    controls = RecordingControls(State.GOOD)
    tray, messages = _tray(controls, _actions())
    why = "kept the profile in use: the new one cannot be loaded (profile 'desk' is corrupt)"
    controls.publish(State.GOOD, notice=why)
    controls.publish(State.GOOD)  # the next frame's snapshot: nothing new to say
    assert _process_until(lambda: bool(messages.shown))
    _process_until(lambda: False, timeout_s=0.2)  # and the second snapshot too
    assert messages.shown == [("posture", why)]
    assert tray.status_action.text() == "Good posture"  # the state line is the state's


@needs_qt
@pytest.mark.usefixtures("qt")
def test_quit_stops_the_monitor() -> None:
    controls = RecordingControls()
    tray, _ = _tray(controls, _actions())
    tray.quit_action.trigger()
    assert controls.calls == [("stop",)]


# -- the composition: the monitor on a thread, the tray on this one ----------------------------


@dataclass
class FakeMonitor:
    """A monitor loop that runs until stopped (or for `run_s`), or fails."""

    controls: RecordingControls
    run_s: float | None = None
    error: Exception | None = None

    def __call__(self) -> str:
        started = time.monotonic()
        if self.error is None:
            self.controls.publish(State.GOOD)  # the source opened: watching
        while self.controls.snapshot.state is not State.STOPPED:
            if self.error is not None:
                raise self.error
            if self.run_s is not None and time.monotonic() - started > self.run_s:
                return "ran out"
            time.sleep(0.01)
        return "stopped"


def test_without_a_display_the_monitor_runs_alone_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from posture.cli.tray import run_with_tray

    if not HAS_QT:
        pytest.skip(f"PySide6 not installed ({INSTALL_HINT})")
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    controls, said = RecordingControls(State.STARTING), []
    result = run_with_tray(controls, FakeMonitor(controls, run_s=0.2), _actions(), said.append)
    assert result == "ran out"
    assert said == [
        "No tray icon: no graphical display (neither DISPLAY nor WAYLAND_DISPLAY is set). "
        "The monitor runs without one."
    ]
    assert controls.calls == []
    # A monitor that cannot start says only why: one line, the error's.
    fresh, said = RecordingControls(State.STARTING), []
    failing = FakeMonitor(fresh, error=SourceError("camera 0 cannot be opened"))
    with pytest.raises(SourceError, match="camera 0 cannot be opened"):
        run_with_tray(fresh, failing, _actions(), said.append)
    assert said == []


@needs_qt
@pytest.mark.usefixtures("qt")
def test_the_monitor_ending_closes_the_tray_and_its_error_reaches_the_caller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from posture.cli.tray import run_with_tray

    monkeypatch.setenv("DISPLAY", ":offscreen")  # the app is on the offscreen platform
    controls, said = RecordingControls(State.STARTING), []
    assert run_with_tray(controls, FakeMonitor(controls, run_s=0.3), _actions(), said.append) == (
        "ran out"
    )
    assert said == [
        "No system tray here yet: the monitor runs on, and the icon appears when a tray starts."
    ]
    fresh, said = RecordingControls(State.STARTING), []
    failing = FakeMonitor(fresh, error=SourceError("camera 0 cannot be opened"))
    with pytest.raises(SourceError, match="camera 0 cannot be opened"):
        run_with_tray(fresh, failing, _actions(), said.append)
    assert fresh.calls == [("stop",)]
    assert said == []  # the error's line alone


# -- the menu's actions, from the command line's side ----------------------------------------


def test_a_calibration_that_saved_says_what_it_saved() -> None:
    from posture.cli.tray import calibrate_with

    script = (
        "print('neck baseline 12.0'); "
        "print(\"Saved profile 'default' from 3 of 3 frames (side view):\"); print('  /x/p.json')"
    )
    assert calibrate_with([sys.executable, "-c", script]) == Calibrated(
        True, "Saved profile 'default' from 3 of 3 frames (side view)."
    )


def test_a_refused_calibration_gives_its_reason() -> None:
    from posture.cli.tray import calibrate_with

    script = "import sys; sys.exit('posture: error: too dark: turn on a light')"
    assert calibrate_with([sys.executable, "-c", script]) == Calibrated(
        False, "too dark: turn on a light"
    )
    assert calibrate_with([sys.executable, "-c", "import time; time.sleep(5)"], 0.2) == (
        Calibrated(False, "calibration did not finish within 0.2 s")
    )
    missing = calibrate_with(["/nonexistent/posture", "calibrate"])
    assert not missing.ok and missing.message.startswith("cannot run /nonexistent/posture")


def test_recalibrate_runs_the_real_calibration_then_has_the_monitor_reload_it() -> None:
    from posture.cli.tray import default_actions
    from posture.control import Controls, Reload

    with Controls() as controls:
        result = default_actions(controls, str(UPRIGHT_PHOTO.parent), "desk").recalibrate()
        assert result.ok, result.message
        assert result.message.startswith("Saved profile 'desk' from ")
        assert (Path(os.environ["POSTURE_HOME"]) / "profiles" / "desk.json").is_file()
        (reload,) = controls.take_commands()
        assert isinstance(reload, Reload)
        judge = reload.load()  # what the monitor calls between two frames
        assert judge.profile is not None and judge.profile.name == "desk"


@needs_qt
@pytest.mark.usefixtures("qt")
def test_recalibrating_from_the_tray_pauses_the_monitor_which_resumes_on_the_new_profile() -> None:
    """The tray's menu item, the real calibration (on the sample photos) and the real
    monitor (on a recording and the fake pose model) together."""
    from posture.cli.tray import default_actions
    from posture.control import Controls
    from posture.monitor import Monitor
    from posture.scoring import Scorer
    from tests.fakes import UPRIGHT, Estimators, Recording, profile_of

    snapshots: list[Any] = []
    with Controls() as controls:
        controls.subscribe(snapshots.append)
        runner = Monitor(
            lambda: Recording([UPRIGHT] * 600, step_ms=100),  # a minute, replayed in real time
            Scorer(profile_of()),
            estimator=Estimators(),
            controls=controls,
        )
        thread = threading.Thread(target=runner.run)
        thread.start()
        try:
            actions = default_actions(controls, str(UPRIGHT_PHOTO.parent), None)
            tray, messages = _tray(controls, actions)
            assert _process_until(lambda: controls.snapshot.state is State.GOOD), snapshots
            tray.recalibrate_action.trigger()
            assert _process_until(lambda: bool(messages.shown[1:]), timeout_s=60)
            assert messages.shown[1][0] == "Recalibrated", messages.shown
            assert _process_until(lambda: snapshots[-1].state is not State.PAUSED), snapshots
            assert runner.profile_name == "default"  # judged against the new profile
        finally:
            controls.stop()
            thread.join(10)
    paused = [(s.state, s.reason) for s in snapshots if s.state is State.PAUSED]
    assert paused == [(State.PAUSED, RECALIBRATING)], snapshots
    resumed = snapshots[snapshots.index(next(s for s in snapshots if s.state is State.PAUSED)) + 1]
    assert (resumed.state, resumed.reason) == (State.STARTING, "resuming")


def test_a_calibration_that_failed_leaves_the_monitors_profile_alone(tmp_path: Path) -> None:
    from posture.cli.tray import default_actions
    from posture.control import Controls

    with Controls() as controls:
        result = default_actions(controls, str(tmp_path), "desk").recalibrate()  # empty folder
        assert not result.ok and "desk" not in result.message
        assert controls.take_commands() == []


def test_todays_report_page_is_written_in_the_data_folder() -> None:
    from posture.cli.tray import write_today_report

    day = date(2024, 5, 6)
    path = write_today_report(day=day)
    assert path == Path(os.environ["POSTURE_HOME"]) / "reports" / "2024-05-06.html"
    assert "2024-05-06" in path.read_text(encoding="utf-8")


# -- for real: an X11 system tray -----------------------------------------------------------

SCREEN = (640, 480)
TRAY_BOX = (440, 0, 640, 32)  # where trayer sits: top right, 200 x 32
TRAYER_BACKGROUND = "#dcdad5"  # its GTK theme's panel grey


@dataclass
class XDesktop:
    """A virtual X display; `start_tray_host()` puts trayer (an XEmbed tray) on it."""

    display: str
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]]

    def start_tray_host(self) -> None:
        trayer = [
            "trayer", "--edge", "top", "--align", "right", "--widthtype", "pixel",
            "--width", "200", "--heighttype", "pixel", "--height", "32",
        ]  # fmt: skip
        host = subprocess.Popen(
            trayer, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.processes.append(host)
        # Up once its panel is painted (it claims the tray selection before it shows).
        deadline = time.monotonic() + 20
        while not _pixels_near(_screenshot(self), TRAYER_BACKGROUND, (600, 4, 612, 8)):
            if time.monotonic() > deadline or host.poll() is not None:
                host.terminate()
                _, errors = host.communicate(timeout=5)
                raise RuntimeError(
                    f"trayer did not show its panel (exit status {host.returncode}): "
                    + errors.decode(errors="replace").strip()
                )
            time.sleep(0.05)


def _display_number(xvfb: subprocess.Popen[bytes], reader: int) -> str:
    data = b""
    deadline = time.monotonic() + 10
    while not data.endswith(b"\n") and time.monotonic() < deadline:
        chunk = os.read(reader, 16)
        if not chunk:
            break
        data += chunk
    if not data.strip():
        raise RuntimeError(f"Xvfb gave no display number (exit status {xvfb.poll()})")
    return f":{data.decode().strip()}"


@pytest.fixture
def x_desktop() -> Iterator[XDesktop]:
    """Xvfb on a free display, with no D-Bus session: Qt then embeds its icon over X."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the X11 tray test runs on Linux")
    if not HAS_QT:
        pytest.skip(f"PySide6 not installed ({INSTALL_HINT})")
    for program, package in (("Xvfb", "xvfb"), ("trayer", "trayer"), ("xdotool", "xdotool")):
        if shutil.which(program) is None:
            pytest.skip(f"{program} not found (Debian/Ubuntu: apt-get install {package})")
    from PIL import features

    if not features.check("xcb"):
        pytest.skip("Pillow was built without XCB: no screenshots")
    desktop = XDesktop("", {}, [])
    try:
        # An explicit display number, unlike -displayfd's own pick, takes Xvfb's lock
        # file: other test runs on this machine cannot start a second server on it.
        first = 100 + os.getpid() % 400
        if not any(_start_xvfb(desktop, number) for number in range(first, first + 20)):
            raise RuntimeError(f"no free X display among :{first} to :{first + 19}")
        yield desktop
    finally:
        for process in reversed(desktop.processes):
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)


def _start_xvfb(desktop: XDesktop, number: int) -> bool:
    """Xvfb on display `number`, once it answers; False when that display is taken."""
    reader, writer = os.pipe()
    size = f"{SCREEN[0]}x{SCREEN[1]}x24"
    # -noreset: otherwise the server resets whenever its last client leaves (the check
    # below), and a client that connects during the reset is turned away.
    arguments = ["-displayfd", str(writer), "-screen", "0", size, "-nolisten", "tcp", "-noreset"]
    xvfb = subprocess.Popen(
        ["Xvfb", f":{number}", *arguments],
        pass_fds=(writer,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(writer)
    try:
        ready = _display_number(xvfb, reader)  # written once it accepts clients
    except RuntimeError:
        xvfb.wait(5)
        return False
    finally:
        os.close(reader)
    unwanted = ("DBUS_SESSION_BUS_ADDRESS", "WAYLAND_DISPLAY")
    env = {k: v for k, v in os.environ.items() if k not in unwanted}
    env.update(DISPLAY=ready, QT_QPA_PLATFORM="xcb")
    # It exits instead when another server holds the display's lock.
    answer = subprocess.run(["xdotool", "getdisplaygeometry"], env=env, capture_output=True)
    if answer.returncode != 0 or xvfb.poll() is not None:
        xvfb.terminate()
        xvfb.wait(5)
        return False
    desktop.processes.append(xvfb)
    desktop.display, desktop.env = ready, env
    return True


def _screenshot(desktop: XDesktop) -> Any:
    from PIL import ImageGrab

    return ImageGrab.grab(xdisplay=desktop.display).convert("RGB")


def _hex(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _pixels_near(
    image: Any, colour: str, box: tuple[int, int, int, int] = TRAY_BOX
) -> list[tuple[int, int]]:
    """The pixels in `box` within a small distance of `colour` (antialiased edges aside)."""
    import numpy as np

    region = np.asarray(image.crop(box), dtype=np.int32)
    distance = np.sqrt(((region - np.array(_hex(colour))) ** 2).sum(axis=2))
    rows, columns = np.nonzero(distance <= 30)
    return [(box[0] + int(x), box[1] + int(y)) for y, x in zip(rows, columns, strict=True)]


def _wait_for_look(
    desktop: XDesktop, state: State, timeout_s: float = 15.0
) -> tuple[Any, list[tuple[int, int]]]:
    deadline = time.monotonic() + timeout_s
    while True:
        image = _screenshot(desktop)
        found = _pixels_near(image, LOOKS[state].colour)
        if len(found) >= 40 or time.monotonic() > deadline:
            return image, found
        time.sleep(0.1)


class Harness:
    """tests/tray_harness.py in its own process: commands in, JSON events out."""

    def __init__(self, desktop: XDesktop, folder: Path) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.tray_harness", str(folder)],
            cwd=REPO,
            env=desktop.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.put(json.loads(line))

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def expect(self, key: str, timeout_s: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(event)
            if key in event:
                return event[key]
        raise AssertionError(f"no {key!r} event within {timeout_s:g} s; seen {self.seen}")

    def close(self) -> str:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        if self.process.poll() is None:
            self.process.kill()
        assert self.process.stderr is not None
        return self.process.stderr.read()


def _menu(desktop: XDesktop, at: tuple[int, int], key: str) -> None:
    """Right-click the icon, then choose an item by its underlined letter."""
    xdotool = ["xdotool", "mousemove", str(at[0]), str(at[1]), "click", "3"]
    subprocess.run(xdotool, env=desktop.env, check=True, timeout=10)
    time.sleep(0.5)  # the menu maps and grabs the keyboard
    subprocess.run(["xdotool", "key", key], env=desktop.env, check=True, timeout=10)


def test_the_tray_shows_the_state_and_its_menu_pauses_and_resumes(
    x_desktop: XDesktop, tmp_path: Path
) -> None:
    opened = tmp_path / "opened.txt"
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    # The desktop's opener, standing in for a browser: it writes down what it was given.
    opener = fake_bin / "xdg-open"
    opener.write_text(f'#!/bin/sh\necho "$@" >> {opened}\n')
    opener.chmod(0o755)
    x_desktop.env["PATH"] = f"{fake_bin}{os.pathsep}{x_desktop.env['PATH']}"
    x_desktop.start_tray_host()
    harness = Harness(x_desktop, tmp_path)
    try:
        image, green = _wait_for_look(x_desktop, State.GOOD)
        image.save(tmp_path / "1-good.png")
        assert len(green) >= 40, f"no green icon in the tray (screenshot {tmp_path / '1-good.png'})"
        xs, ys = [x for x, _ in green], [y for _, y in green]
        icon = ((min(xs) + max(xs)) // 2, (min(ys) + max(ys)) // 2)
        assert max(xs) - min(xs) <= 32 and max(ys) - min(ys) <= 32  # one icon, tray-sized

        harness.send("state slouching")
        image, orange = _wait_for_look(x_desktop, State.SLOUCHING)
        image.save(tmp_path / "2-slouching.png")
        assert len(orange) >= 40 and not _pixels_near(image, LOOKS[State.GOOD].colour)

        _menu(x_desktop, icon, "3")
        assert harness.expect("call") == ["pause", 30, "paused"]
        image, blue = _wait_for_look(x_desktop, State.PAUSED)
        image.save(tmp_path / "3-paused.png")
        assert len(blue) >= 40 and not _pixels_near(image, LOOKS[State.SLOUCHING].colour)
        assert _pixels_near(image, "#ffffff"), "the pause mark is missing"

        _menu(x_desktop, icon, "r")
        assert harness.expect("call") == ["resume"]
        image, green = _wait_for_look(x_desktop, State.GOOD)
        image.save(tmp_path / "4-resumed.png")
        assert len(green) >= 40 and not _pixels_near(image, LOOKS[State.PAUSED].colour)

        _menu(x_desktop, icon, "p")
        page = harness.expect("report")
        deadline = time.monotonic() + 10
        while not opened.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert opened.read_text().strip() in (page, f"file://{page}")

        _menu(x_desktop, icon, "c")
        assert harness.expect("call") == ["pause", None, RECALIBRATING]
        assert harness.expect("call") == ["resume"]

        _menu(x_desktop, icon, "q")
        assert harness.expect("call") == ["stop"]
        assert harness.expect("exit") == "monitor stopped"
    finally:
        errors = harness.close()
    assert harness.process.returncode == 0, errors


def test_without_a_tray_the_monitor_runs_on_and_the_icon_comes_with_a_tray(
    x_desktop: XDesktop, tmp_path: Path
) -> None:
    """As at login, when posture may start before the panel that holds the tray; and
    SIGTERM, as at logout, stops the monitor from inside Qt's event loop."""
    harness = Harness(x_desktop, tmp_path)
    try:
        assert harness.expect("say").startswith("No system tray here yet")
        x_desktop.start_tray_host()
        _, green = _wait_for_look(x_desktop, State.GOOD)
        assert len(green) >= 40, "the icon did not come when the tray started"
        harness.process.send_signal(signal.SIGTERM)  # as a logout does
        assert harness.expect("call") == ["stop"]
        assert harness.expect("exit") == "monitor stopped"
    finally:
        errors = harness.close()
    assert harness.process.returncode == 0, errors


def test_posture_tray_on_the_real_monitor_shows_the_state_pauses_and_resumes(
    x_desktop: XDesktop, tmp_path: Path
) -> None:
    """The command itself: `posture tray` on the real monitor and pose model, watching
    the webcam of tests/webcam (a person sitting upright), in trayer's X11 tray; its
    menu pauses (the camera is let go), resumes and quits."""
    from tests.webcam import Lines, camera_events, start_posture, webcam_env

    x_desktop.start_tray_host()
    log = tmp_path / "camera.log"
    env = webcam_env(x_desktop.env, tmp_path / "home", log)
    # No system bus of the machine's: its suspends are none of this test's business.
    env["DBUS_SYSTEM_BUS_ADDRESS"] = f"unix:path={tmp_path / 'no-system-bus'}"
    process = start_posture(["tray", "--quiet", "--notifier", "none"], env)
    err = Lines(process.stderr)
    try:
        image, green = _wait_for_look(x_desktop, State.GOOD, timeout_s=60)
        image.save(tmp_path / "1-good.png")
        assert len(green) >= 40, f"no green icon ({tmp_path / '1-good.png'}):\n{err.text}"
        xs, ys = [x for x, _ in green], [y for _, y in green]
        icon = ((min(xs) + max(xs)) // 2, (min(ys) + max(ys)) // 2)

        _menu(x_desktop, icon, "3")  # Pause for 30 minutes
        image, blue = _wait_for_look(x_desktop, State.PAUSED)
        image.save(tmp_path / "2-paused.png")
        assert len(blue) >= 40 and _pixels_near(image, "#ffffff"), err.text
        assert not _pixels_near(image, LOOKS[State.GOOD].colour)
        assert _eventually(lambda: camera_events(log) == ["open 0", "release"]), err.text

        _menu(x_desktop, icon, "r")  # Resume
        image, green = _wait_for_look(x_desktop, State.GOOD, timeout_s=30)
        image.save(tmp_path / "3-resumed.png")
        assert len(green) >= 40 and not _pixels_near(image, LOOKS[State.PAUSED].colour)
        assert camera_events(log)[2:] == ["open 0"]

        _menu(x_desktop, icon, "q")  # Quit
        out, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert process.returncode == 0, err.rest()
    assert camera_events(log)[-1] == "release"
    assert "Session:" in out and "Paused " in out, out


def _eventually(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


# -- for real: a StatusNotifierItem host (KDE, GNOME's AppIndicator extension, waybar) --------

SNI = "org.kde.StatusNotifierItem"


class BusClient:
    """Calls methods on a D-Bus bus, synchronously, for the test's side of a conversation."""

    def __init__(self, address: str) -> None:
        from dbus_fast.aio import MessageBus

        async def connect() -> MessageBus:
            return await MessageBus(bus_address=address).connect()  # made inside its loop

        self.loop = asyncio.new_event_loop()
        self.bus = self.loop.run_until_complete(connect())

    def call(
        self,
        destination: str,
        path: str,
        interface: str,
        member: str,
        signature: str = "",
        *body: Any,
    ) -> list[Any]:
        from dbus_fast import Message, MessageType

        message = Message(
            destination=destination,
            path=path,
            interface=interface,
            member=member,
            signature=signature,
            body=list(body),
        )
        reply = self.loop.run_until_complete(asyncio.wait_for(self.bus.call(message), 10))
        assert reply is not None and reply.message_type == MessageType.METHOD_RETURN, reply
        return list(reply.body)

    def item_property(self, item: str, name: str) -> Any:
        return self.call(
            item, "/StatusNotifierItem", "org.freedesktop.DBus.Properties", "Get", "ss", SNI, name
        )[0].value

    def close(self) -> None:
        self.bus.disconnect()
        self.loop.close()


def _largest_pixels(pixmaps: list[tuple[int, int, bytes]]) -> list[str]:
    """The opaque pixels of the largest icon pixmap (ARGB32, big-endian), row by row, as
    #rrggbb; transparent ones as ""."""
    _width, _height, data = max(pixmaps, key=lambda pixmap: pixmap[0])
    return [
        f"#{data[i + 1]:02x}{data[i + 2]:02x}{data[i + 3]:02x}" if data[i] == 255 else ""
        for i in range(0, len(data), 4)
    ]


def _centre_colour(pixmaps: list[tuple[int, int, bytes]]) -> str:
    width = max(pixmap[0] for pixmap in pixmaps)
    return _largest_pixels(pixmaps)[width // 2 * width + width // 2]


def _menu_items(client: BusClient, item: str) -> dict[str, tuple[int, bool]]:
    """The menu the item exports (com.canonical.dbusmenu): label → (id, enabled)."""
    menu = client.item_property(item, "Menu")
    _revision, (_root, _props, children) = client.call(
        item, menu, "com.canonical.dbusmenu", "GetLayout", "iias", 0, -1, []
    )
    items = {}
    for child in children:
        identifier, properties, _ = child.value
        if "label" in properties:
            enabled = properties.get("enabled")
            items[properties["label"].value] = (
                identifier,
                True if enabled is None else enabled.value,
            )
    return items


def _click(client: BusClient, item: str, label: str) -> None:
    from dbus_fast import Variant

    identifier, enabled = _menu_items(client, item)[label]
    assert enabled, f"{label!r} is disabled"
    menu = client.item_property(item, "Menu")
    client.call(
        item,
        menu,
        "com.canonical.dbusmenu",
        "Event",
        "isvu",
        identifier,
        "clicked",
        Variant("i", 0),
        0,
    )


def test_a_status_notifier_host_shows_the_state_and_its_menu_pauses_and_resumes(
    x_desktop: XDesktop, tmp_path: Path
) -> None:
    """KDE's panel, GNOME's AppIndicator extension and waybar are StatusNotifierItem
    hosts: Qt registers the icon with their watcher on the session bus and exports its
    picture, tooltip and menu there. The host here is a mock watcher on a private bus;
    the test reads what a panel would and clicks the menu items as a panel does."""
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon not found (Debian/Ubuntu: apt-get install dbus)")
    pytest.importorskip("dbus_fast.annotations", reason="dbus-fast >= 4 not installed")
    from tests.dbus_desktop import MockStatusNotifierWatcher
    from tests.dbus_notifications import private_session_bus

    with private_session_bus() as address, MockStatusNotifierWatcher(address) as host:
        x_desktop.env["DBUS_SESSION_BUS_ADDRESS"] = address
        harness = Harness(x_desktop, tmp_path)
        client = BusClient(address)
        try:
            deadline = time.monotonic() + 15
            while not host.items and time.monotonic() < deadline:
                time.sleep(0.05)
            assert host.items, "the icon never registered with the StatusNotifierWatcher"
            item = host.items[0]
            assert client.item_property(item, "Status") == "Active"
            _icon_name, _pixmaps, title, _description = client.item_property(item, "ToolTip")
            assert title == "posture: Good posture\nToday's score: 82 / 100"
            good = LOOKS[State.GOOD].colour
            assert _centre_colour(client.item_property(item, "IconPixmap")) == good
            menu = _menu_items(client, item)
            assert menu["Good posture"] == (menu["Good posture"][0], False)  # information only
            assert not menu["_Resume"][1]

            _click(client, item, "Pause for _30 minutes")
            assert harness.expect("call") == ["pause", 30, "paused"]
            paused = LOOKS[State.PAUSED].colour
            deadline = time.monotonic() + 10
            while _centre_colour(client.item_property(item, "IconPixmap")) != paused:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            pixels = _largest_pixels(client.item_property(item, "IconPixmap"))
            assert _centre_colour(client.item_property(item, "IconPixmap")) == paused
            assert pixels.count("#ffffff") > 50  # the two bars of the pause mark
            assert any(label.startswith("Paused until ") for label in _menu_items(client, item))

            _click(client, item, "_Resume")
            assert harness.expect("call") == ["resume"]
            _click(client, item, "_Quit")
            assert harness.expect("call") == ["stop"]
            assert harness.expect("exit") == "monitor stopped"
        finally:
            client.close()
            errors = harness.close()
    assert harness.process.returncode == 0, errors
