"""Pausing when nobody can be at the screen: the rules (AwayTracker), then the real
watcher on private D-Bus buses with a mock screen saver and a mock logind.

The monitor is the recording stand-in `RecordingControls` (tests/fake_controls.py) here;
the watcher, dbus-fast and dbus-daemon run for real. The watcher pausing the real
monitor is in tests/test_desktop_monitor.py.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from posture.control import State
from posture.screen import (
    ASLEEP,
    LOCKED,
    SCREEN_SAVER,
    SLEEP_DELAY_WHY,
    AwayTracker,
    ScreenWatcher,
)
from tests.fake_controls import RecordingControls

T0 = datetime(2024, 5, 6, 10, 0).astimezone()


class FakeWallClock:
    def __init__(self, start: datetime = T0) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at


# -- the rules ------------------------------------------------------------------------------


def test_a_lock_pauses_and_the_unlock_resumes() -> None:
    controls = RecordingControls()
    tracker = AwayTracker(controls)
    tracker.update(LOCKED, True)
    assert controls.snapshot.state is State.PAUSED and controls.snapshot.reason == LOCKED
    tracker.update(LOCKED, False)
    assert controls.calls == [("pause", None, LOCKED), ("resume",)]
    assert controls.snapshot.state is State.GOOD


def test_repeated_reports_give_one_pause_and_one_resume() -> None:
    controls = RecordingControls()
    tracker = AwayTracker(controls)
    for active in (True, True, False, False):
        tracker.update(SCREEN_SAVER, active)
    assert controls.calls == [("pause", None, SCREEN_SAVER), ("resume",)]


def test_waking_up_behind_a_locked_screen_stays_paused_until_the_unlock() -> None:
    controls = RecordingControls()
    tracker = AwayTracker(controls)
    tracker.update(LOCKED, True)
    tracker.update(ASLEEP, True)
    tracker.update(ASLEEP, False)
    assert controls.calls == [("pause", None, LOCKED)]
    assert tracker.causes == (LOCKED,)
    tracker.update(LOCKED, False)
    assert controls.calls[-1] == ("resume",) and tracker.causes == ()


def test_the_users_open_ended_pause_outlives_a_lock() -> None:
    controls = RecordingControls()
    controls.pause(None, "paused")
    tracker = AwayTracker(controls)
    tracker.update(LOCKED, True)
    tracker.update(LOCKED, False)
    assert controls.calls == [("pause", None, "paused")]
    assert controls.snapshot.state is State.PAUSED


def test_a_timed_pause_interrupted_by_a_lock_gets_its_remaining_time_back() -> None:
    clock = FakeWallClock()
    controls = RecordingControls(now=clock)
    controls.pause(30, "paused")  # until 10:30
    tracker = AwayTracker(controls, now=clock)
    clock.at = T0 + timedelta(minutes=5)
    tracker.update(LOCKED, True)
    clock.at = T0 + timedelta(minutes=20)
    tracker.update(LOCKED, False)
    assert controls.calls[1:] == [("pause", None, LOCKED), ("pause", 10.0, "paused")]
    assert controls.snapshot.paused_until == T0 + timedelta(minutes=30)


def test_a_timed_pause_that_ran_out_during_the_lock_resumes() -> None:
    clock = FakeWallClock()
    controls = RecordingControls(now=clock)
    controls.pause(15, "paused")
    tracker = AwayTracker(controls, now=clock)
    tracker.update(LOCKED, True)
    clock.at = T0 + timedelta(hours=1)
    tracker.update(LOCKED, False)
    assert controls.calls[-1] == ("resume",)


def test_a_pause_the_user_chose_while_locked_is_not_undone_by_the_unlock() -> None:
    controls = RecordingControls()
    tracker = AwayTracker(controls)
    tracker.update(LOCKED, True)
    controls.pause(60, "paused")  # from the tray, say, or a D-Bus command
    tracker.update(LOCKED, False)
    assert controls.calls == [("pause", None, LOCKED), ("pause", 60, "paused")]


def test_an_unlock_before_the_monitor_applied_the_pause_still_resumes() -> None:
    controls = RecordingControls(apply=False)  # the snapshot lags the commands
    tracker = AwayTracker(controls)
    tracker.update(LOCKED, True)
    tracker.update(LOCKED, False)
    assert controls.calls == [("pause", None, LOCKED), ("resume",)]


def test_a_stopped_monitor_is_left_alone() -> None:
    controls = RecordingControls(state=State.STOPPED)
    tracker = AwayTracker(controls)
    tracker.update(ASLEEP, True)
    tracker.update(ASLEEP, False)
    assert controls.calls == []


# -- the watcher without D-Bus --------------------------------------------------------------


def test_elsewhere_than_linux_the_watcher_says_so_and_runs_nothing() -> None:
    watcher = ScreenWatcher(RecordingControls(), platform="darwin")
    with watcher:
        assert watcher.watching == []
        assert watcher.problems == ["the screen lock is watched on Linux only"]


def test_without_any_bus_the_watcher_says_why_and_the_monitor_runs_on(tmp_path) -> None:
    controls = RecordingControls()
    watcher = ScreenWatcher(
        controls, environ={}, system_address=f"unix:path={tmp_path / 'no-bus'}", timeout_s=2
    )
    with watcher:
        assert watcher.watching == []
    assert watcher.problems[0] == "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)"
    assert watcher.problems[1].startswith("no D-Bus system bus (")
    assert controls.calls == []


# -- the real watcher on private buses ---------------------------------------------------------


@dataclass
class Desktop:
    session: str
    system: str


@pytest.fixture
def desktop() -> Iterator[Desktop]:
    yield from private_desktop()


def private_desktop() -> Iterator[Desktop]:
    """Two private buses, standing for the session bus and the system bus (skips the
    test where they cannot be had)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the screen lock is watched over D-Bus on Linux only")
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon not found (Debian/Ubuntu: apt-get install dbus)")
    pytest.importorskip("dbus_fast.annotations", reason="dbus-fast >= 4 not installed")
    from tests.dbus_notifications import private_session_bus

    with private_session_bus() as session, private_session_bus() as system:
        yield Desktop(session, system)


def watcher_on(controls: Any, desktop: Desktop, **environ: str) -> ScreenWatcher:
    """The watcher on the private buses (environ: the process's environment)."""
    return ScreenWatcher(
        controls,
        session_address=desktop.session,
        system_address=desktop.system,
        environ={"DBUS_SESSION_BUS_ADDRESS": desktop.session, **environ},
    )


def test_locking_and_unlocking_the_session_pauses_and_resumes(desktop: Desktop) -> None:
    from tests.dbus_desktop import SESSION_ID, MockLogind

    controls = RecordingControls()
    with (
        MockLogind(desktop.system) as logind,
        watcher_on(controls, desktop, XDG_SESSION_ID=SESSION_ID) as watcher,
    ):
        assert watcher.watching == ["screen saver", "suspend", "screen lock"]
        logind.set_locked(True)
        assert controls.wait_for_calls(1) == [("pause", None, LOCKED)]
        logind.set_locked(False)
        assert controls.wait_for_calls(2) == [("pause", None, LOCKED), ("resume",)]
    assert logind.manager.lookups == [("GetSession", SESSION_ID)]


def test_suspend_and_wake_pause_and_resume(desktop: Desktop) -> None:
    from tests.dbus_desktop import MockLogind

    controls = RecordingControls()
    with MockLogind(desktop.system) as logind, watcher_on(controls, desktop) as watcher:
        logind.sleep(True)
        assert controls.wait_for_calls(1) == [("pause", None, ASLEEP)]
        logind.sleep(False)
        assert controls.wait_for_calls(2)[-1] == ("resume",)
    # Without XDG_SESSION_ID the session is looked up by this process.
    assert [name for name, _ in logind.manager.lookups] == ["GetSessionByPID"]
    assert "screen lock" in watcher.watching


@pytest.mark.parametrize("interface", ["org.freedesktop.ScreenSaver", "org.gnome.ScreenSaver"])
def test_the_screen_saver_coming_on_pauses_and_going_off_resumes(
    desktop: Desktop, interface: str
) -> None:
    from tests.dbus_desktop import MockScreenSaver

    controls = RecordingControls()
    with MockScreenSaver(desktop.session, interface) as saver, watcher_on(controls, desktop):
        saver.set_active(True)
        assert controls.wait_for_calls(1) == [("pause", None, SCREEN_SAVER)]
        saver.set_active(False)
        assert controls.wait_for_calls(2) == [("pause", None, SCREEN_SAVER), ("resume",)]


def test_a_watcher_started_behind_a_locked_screen_pauses_at_once(desktop: Desktop) -> None:
    from tests.dbus_desktop import SESSION_ID, MockLogind

    controls = RecordingControls()
    with MockLogind(desktop.system) as logind:
        logind.set_locked(True)
        with watcher_on(controls, desktop, XDG_SESSION_ID=SESSION_ID):
            assert controls.calls == [("pause", None, LOCKED)]


def test_an_unknown_session_still_watches_suspend_and_says_why_not_the_lock(
    desktop: Desktop,
) -> None:
    from tests.dbus_desktop import MockLogind

    controls = RecordingControls()
    with contextlib.ExitStack() as stack:
        logind = stack.enter_context(MockLogind(desktop.system))
        watcher = stack.enter_context(watcher_on(controls, desktop, XDG_SESSION_ID="c7"))
        assert watcher.watching == ["screen saver", "suspend"]
        assert watcher.problems == ["no logind session found for this process: lock not watched"]
        logind.sleep(True)
        assert controls.wait_for_calls(1) == [("pause", None, ASLEEP)]


def test_stopping_the_watcher_ends_its_thread(desktop: Desktop) -> None:
    watcher = watcher_on(RecordingControls(), desktop)
    watcher.start()
    thread = watcher._thread
    assert thread is not None and thread.is_alive()
    watcher.stop()
    assert not thread.is_alive()


def test_the_watcher_holds_up_a_suspend_until_the_monitor_has_paused(desktop: Desktop) -> None:
    """A logind delay lock: taken at the start, let go once the pause landed, taken again
    after the wake-up, let go when the watcher stops."""
    from tests.dbus_desktop import MockLogind

    controls = RecordingControls(apply=False)  # a monitor busy with a frame
    with MockLogind(desktop.system) as logind:
        with watcher_on(controls, desktop):
            ((what, _),) = logind.manager.inhibitors
            assert what == ("sleep", "posture", SLEEP_DELAY_WHY, "delay")
            assert logind.inhibitor_held(0)
            logind.sleep(True)
            assert controls.wait_for_calls(1) == [("pause", None, ASLEEP)]
            time.sleep(0.2)
            assert logind.inhibitor_held(0), "let go before the monitor paused"
            controls.publish(State.PAUSED, reason=ASLEEP)  # the monitor reaches its next frame
            assert _eventually(lambda: not logind.inhibitor_held(0))
            logind.sleep(False)
            assert _eventually(lambda: len(logind.manager.inhibitors) == 2)
            assert _eventually(lambda: logind.inhibitor_held(1))
        assert not logind.inhibitor_held(1)


def test_a_monitor_that_does_not_pause_holds_up_a_suspend_a_few_seconds_at_most(
    desktop: Desktop, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.dbus_desktop import MockLogind

    monkeypatch.setattr("posture.screen.SLEEP_DELAY_MAX_S", 0.3)
    controls = RecordingControls(apply=False)
    with MockLogind(desktop.system) as logind, watcher_on(controls, desktop):
        logind.sleep(True)
        started = time.monotonic()
        assert _eventually(lambda: not logind.inhibitor_held(0))
        assert 0.2 <= time.monotonic() - started < 3  # from the signal on: 0.3 s


def _eventually(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()
