"""The tray icon's widgets (PySide6): imported only by `posture.tray.run_tray`.

Snapshots arrive on the monitor's thread; a Qt signal hands each one to this (the
GUI) thread, where the icon, tooltip and menu change. Menu commands go straight to
the monitor's `Controls`, which any thread may call. Recalibration blocks for
seconds, so it runs on a worker thread and reports back the same way.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator

import shiboken6
from PySide6.QtCore import QObject, QRectF, QSocketNotifier, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QColor, QCursor, QDesktopServices, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon

from posture.control import Controllable, Snapshot, State, say_once_watching
from posture.errors import PostureError
from posture.tray import (
    PAUSE_MINUTES,
    RECALIBRATING,
    Calibrated,
    Look,
    TrayActions,
    look_of,
    score_words,
    status_words,
    tooltip,
)

log = logging.getLogger(__name__)

ICON_PX = 64
FINISHED_CHECK_MS = 250  # how soon the tray closes after the monitor thread has ended
CALIBRATION_HINT = "Sit upright, facing your screen as you do when working, for about 10 seconds."
NO_TRAY_YET = (
    "No system tray here yet: the monitor runs on, and the icon appears when a tray starts."
)


def draw_icon(look: Look, size: int = ICON_PX) -> QPixmap:
    """A dot in the state's colour: filled or a ring, with a white pause or alert mark."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    colour = QColor(look.colour)
    margin = size * 0.06
    disc = QRectF(margin, margin, size - 2 * margin, size - 2 * margin)
    if look.filled:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawEllipse(disc)
    else:
        width = size * 0.18
        painter.setPen(QPen(colour, width))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(disc.adjusted(width / 2, width / 2, -width / 2, -width / 2))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("white"))
    unit = size / 16
    if look.mark == "pause":
        painter.drawRoundedRect(
            QRectF(5 * unit, 4.5 * unit, 2 * unit, 7 * unit), unit / 2, unit / 2
        )
        painter.drawRoundedRect(
            QRectF(9 * unit, 4.5 * unit, 2 * unit, 7 * unit), unit / 2, unit / 2
        )
    elif look.mark == "alert":
        painter.drawRoundedRect(
            QRectF(7 * unit, 3.5 * unit, 2 * unit, 6 * unit), unit / 2, unit / 2
        )
        painter.drawEllipse(QRectF(7 * unit, 10.5 * unit, 2 * unit, 2 * unit))
    painter.end()
    return pixmap


class _Bridge(QObject):
    """Carries results from other threads to the GUI thread (queued signals)."""

    snapshot = Signal(object)
    calibrated = Signal(object)


class Tray:
    """The icon and its menu, bound to one monitor's controls."""

    def __init__(
        self,
        app: QApplication,
        controls: Controllable,
        actions: TrayActions,
        platform: str = sys.platform,
    ) -> None:
        self.app, self.controls, self.actions, self.platform = app, controls, actions, platform
        self._icons: dict[Look, QIcon] = {}
        self._calibrating = False
        self._closed = False
        # Held to emit and to close: no thread emits on the bridge once close() frees it.
        self._emitting = threading.RLock()
        self.bridge = _Bridge()
        self._timers: list[QTimer] = []
        self.icon = QSystemTrayIcon()
        self.menu = QMenu()
        self.status_action = self._info_action()
        self.score_action = self._info_action()
        self.menu.addSeparator()
        self.pause_actions = {
            minutes: self._action(f"Pause for &{minutes} minutes", self._pause_for(minutes))
            for minutes in PAUSE_MINUTES
        }
        self.resume_action = self._action("&Resume", controls.resume)
        self.menu.addSeparator()
        self.recalibrate_action = self._action("Re&calibrate…", self.recalibrate)
        self.report_action = self._action("Open today's re&port", self.open_report)
        self.menu.addSeparator()
        self.quit_action = self._action("&Quit", self.quit)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.bridge.snapshot.connect(self.show)
        self.bridge.calibrated.connect(self._calibrated)
        controls.subscribe(self._from_monitor)
        self.show(controls.snapshot)
        self.icon.show()

    def _from_monitor(self, snapshot: Snapshot) -> None:
        # On the monitor's thread. There is no unsubscribe: once closed, drop them here.
        self._emit("snapshot", snapshot)

    def _emit(self, signal_name: str, value: object) -> None:
        """Hands `value` to the GUI thread (from any thread), unless the tray is closed."""
        with self._emitting:
            if not self._closed:
                getattr(self.bridge, signal_name).emit(value)

    def watch(self, finished: threading.Event, quit_: Callable[[], object]) -> None:
        """Calls `quit_` on this thread soon after `finished` is set.

        Looked at from this thread, a few times a second: a thread of its own that
        signalled the GUI could still be signalling while the interpreter exits.
        """
        timer = QTimer()
        timer.setInterval(FINISHED_CHECK_MS)
        timer.timeout.connect(lambda: finished.is_set() and quit_())
        timer.start()
        self._timers.append(timer)

    def close(self) -> None:
        """Takes the icon away and frees every Qt object of the tray, here and now.

        Left to Python's garbage collector, they would be freed whenever it runs, on
        whichever thread it runs (the monitor's): Qt objects freed off the GUI thread,
        or after the application, crash the process. The monitor goes on publishing
        snapshots after the tray has gone; they are dropped.
        """
        with self._emitting:
            if self._closed:
                return
            self._closed = True
        self.icon.hide()
        for qobject in (*self._timers, self.icon, self.menu, self.bridge):
            shiboken6.delete(qobject)  # stopped, with their connections and queued calls
        self._timers.clear()
        self._icons.clear()

    def _info_action(self) -> QAction:
        action = self.menu.addAction("")
        action.setEnabled(False)
        return action

    def _action(self, text: str, slot: Callable[[], object]) -> QAction:
        action = self.menu.addAction(text)
        action.triggered.connect(lambda *_: slot())
        return action

    def _pause_for(self, minutes: int) -> Callable[[], None]:
        return lambda: self.controls.pause(minutes)

    def show(self, snapshot: Snapshot) -> None:
        """Icon, tooltip and menu for this snapshot; a stopped monitor closes the tray."""
        self.icon.setIcon(self.icon_for(look_of(snapshot.state)))
        self.icon.setToolTip(tooltip(snapshot))
        self.status_action.setText(status_words(snapshot))
        self.score_action.setText(score_words(snapshot))
        self.resume_action.setEnabled(snapshot.state is State.PAUSED)
        self.recalibrate_action.setEnabled(not self._calibrating)
        if snapshot.notice:
            self.icon.showMessage("posture", snapshot.notice, QSystemTrayIcon.MessageIcon.Warning)
        if snapshot.state is State.STOPPED:
            QTimer.singleShot(0, self.app.quit)  # also when the loop has not started yet

    def icon_for(self, look: Look) -> QIcon:
        """The icon of `look`, drawn the first time and kept (GUI thread only)."""
        if look not in self._icons:
            self._icons[look] = QIcon(draw_icon(look))
        return self._icons[look]

    def recalibrate(self) -> None:
        """Pauses the monitor (calibration needs the camera), calibrates, gives the camera back."""
        if self._calibrating:
            return
        self._calibrating = True
        self.recalibrate_action.setEnabled(False)
        self.controls.pause(None, reason=RECALIBRATING)
        self.icon.showMessage("Recalibrating", CALIBRATION_HINT)
        threading.Thread(
            target=self._run_calibration, name="posture-calibrate", daemon=True
        ).start()

    def _run_calibration(self) -> None:
        try:
            result = self.actions.recalibrate()
        except Exception as error:  # a calibration bug must not take the tray down
            log.warning("recalibration failed", exc_info=True)
            result = Calibrated(False, f"calibration failed: {type(error).__name__}: {error}")
        self._emit("calibrated", result)  # unless quit meanwhile: nobody to tell

    def _calibrated(self, result: Calibrated) -> None:
        self._calibrating = False
        self.recalibrate_action.setEnabled(True)
        snapshot = self.controls.snapshot
        # A lagging snapshot still shows our pause or none; only another pause stays.
        if not (snapshot.state is State.PAUSED and snapshot.reason != RECALIBRATING):
            self.controls.resume()
        title, kind = ("Recalibrated", QSystemTrayIcon.MessageIcon.Information)
        if not result.ok:
            title, kind = ("Calibration not saved", QSystemTrayIcon.MessageIcon.Warning)
        self.icon.showMessage(title, result.message, kind)

    def open_report(self) -> None:
        """Writes today's report and opens it in the browser; a report that cannot be
        written, or no browser, is a tray message, never an error."""
        try:
            path = self.actions.write_report()
        except (PostureError, OSError) as error:
            self.icon.showMessage("No report", str(error), QSystemTrayIcon.MessageIcon.Warning)
            return
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
            self.icon.showMessage("Today's report", f"Written to {path}")

    def quit(self) -> None:
        """Stops the monitor (without waiting for it), hides the icon and ends the event
        loop. Also what Ctrl+C and SIGTERM call."""
        self.controls.stop()
        if not self._closed:
            self.icon.hide()
        self.app.quit()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        # A left click opens the menu too, as on most Linux trays; macOS does it itself.
        if reason == QSystemTrayIcon.ActivationReason.Trigger and self.platform != "darwin":
            self.menu.popup(QCursor.pos())


def run_event_loop(
    controls: Controllable,
    actions: TrayActions,
    say: Callable[[str], None],
    finished: threading.Event | None = None,
) -> None:
    """The tray on this thread until Quit, Ctrl+C, SIGTERM or the monitor stopping."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication([sys.argv[0] if sys.argv else "posture"])
    app.setApplicationName("posture")
    app.setDesktopFileName("posture")
    app.setQuitOnLastWindowClosed(False)  # the menu is the only window: closing it is normal
    tray = Tray(app, controls, actions)
    if finished is not None:
        tray.watch(finished, app.quit)
    if not QSystemTrayIcon.isSystemTrayAvailable():
        say_once_watching(controls, say, NO_TRAY_YET)
    try:
        with _stop_on_signals(tray):
            app.exec()
    finally:
        tray.close()


@contextlib.contextmanager
def _stop_on_signals(tray: Tray) -> Iterator[None]:
    """Ctrl+C and SIGTERM quit the tray and stop the monitor, even inside Qt's loop.

    Python runs signal handlers only between its own bytecodes, never while Qt's
    C++ loop waits; a wake-up socket that Qt watches brings the loop back to Python.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read)
    notifier.activated.connect(lambda *_: _drain(reader))
    previous_fd = signal.set_wakeup_fd(writer.fileno())
    previous = {
        number: signal.signal(number, lambda *_: tray.quit())
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        signal.set_wakeup_fd(previous_fd)
        notifier.setEnabled(False)
        shiboken6.delete(notifier)
        reader.close()
        writer.close()


def _drain(reader: socket.socket) -> None:
    with contextlib.suppress(OSError):
        reader.recv(256)
