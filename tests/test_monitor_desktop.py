"""The desktop's commands in the real monitor: a profile reloaded after a recalibration,
and the screen-lock watcher pausing it while nobody can be at the screen.

The monitor, its controls, the scorer, the profile store, the watcher, dbus-fast and
dbus-daemon are real; the pose model, the camera (`cv2.VideoCapture`), the clocks and
logind (a mock on a private bus) stand in. The last test runs `posture monitor` itself,
with the real pose model, on the stand-in webcam of tests/webcam.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from calibration.gates import CalibrationSample
from calibration.profile import Profile
from calibration.protocol import calibrate
from posture.cli.common import profile_store
from posture.cli.monitor import saved_judge
from posture.control import Controls, Snapshot, State
from posture.metrics import compute_metrics
from posture.monitor import Monitor, MonitorSettings, Status
from posture.screen import ASLEEP, LOCKED
from posture.tray import RECALIBRATING
from posture.vocabulary import Verdict
from tests.fakes import SLOUCHED, UPRIGHT, Clocks, Recording, SceneCamera
from tests.skeletons import skeleton
from tests.test_monitor import FAST_POLICY, RecordingRecorder, camera_monitor, replay_monitor
from tests.test_screen import Desktop, private_desktop, watcher_on
from tests.webcam import Lines, camera_events, start_posture, webcam_env


def slouched_profile(name: str) -> Profile:
    """A profile calibrated sitting as SLOUCHED does (kept although it is not upright)."""
    rng = np.random.default_rng(1)
    samples = [
        CalibrationSample(
            compute_metrics(
                skeleton(
                    trunk_deg=20 + rng.normal(0, 1), neck_deg=-20 + rng.normal(0, 1), yaw_deg=90
                )
            ),
            1,
            120.0,
        )
        for _ in range(30)
    ]
    return calibrate(samples, name=name, source="skeletons", force=True)


def _until(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Waits, in real time, for another thread to make `condition` true."""
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)
    return condition()


# -- reloading the profile ------------------------------------------------------------------


def test_a_reload_judges_against_the_newly_saved_profile_from_the_next_frame() -> None:
    profile_store().save(slouched_profile("desk"))
    controls = Controls()
    verdicts: list[tuple[float, Verdict]] = []

    def status(state: Status) -> None:
        verdicts.append((state.now_s, state.verdict))
        if state.now_s == 10.0:
            controls.reload_profile(lambda: saved_judge("desk"))

    # A minute of the same slouch: against the upright profile, then against "desk".
    runner = replay_monitor(Recording([SLOUCHED] * 120), controls=controls, status=status)
    runner.run()
    assert {v for t, v in verdicts if t <= 10} == {Verdict.SLOUCH}
    first_good = next(t for t, v in verdicts if v is Verdict.GOOD)
    assert 10 < first_good <= 13  # the smoother confirms the change within a few samples
    assert {v for t, v in verdicts if t >= first_good} == {Verdict.GOOD}
    assert runner.profile_name == "desk"


def test_a_profile_that_cannot_be_loaded_keeps_the_judge_and_says_why() -> None:
    path = profile_store().save(slouched_profile("desk"))
    path.write_text("{ not a profile", encoding="utf-8")
    controls = Controls()
    snapshots: list[Snapshot] = []
    controls.subscribe(snapshots.append)

    def status(state: Status) -> None:
        if state.now_s == 10.0:
            controls.reload_profile(lambda: saved_judge("desk"))

    runner = replay_monitor(Recording([SLOUCHED] * 60), controls=controls, status=status)
    runner.run()
    (told,) = [s for s in snapshots if s.notice]
    assert told.notice is not None
    assert told.notice.startswith("kept the profile in use: the new one cannot be loaded (")
    assert "desk" in told.notice and "calibrate again" in told.notice
    # Said beside the state, which stays what it was; judged as before, all along.
    before = snapshots[snapshots.index(told) - 1]
    assert (told.state, told.reason) == (before.state, before.reason) == (State.SLOUCHING, "")
    assert {s.verdict for s in snapshots if s.verdict} == {Verdict.SLOUCH.value}


@pytest.mark.parametrize("loads", [True, False], ids=["saved", "unreadable"])
def test_a_reload_sent_during_the_recalibration_pause_is_used_once_resumed(
    monkeypatch: pytest.MonkeyPatch, loads: bool
) -> None:
    """The tray's recalibration, command by command: pause (the camera is let go),
    reload (the profile just saved), resume."""
    path = profile_store().save(slouched_profile("desk"))
    if not loads:
        path.write_text("[]", encoding="utf-8")
    clocks = Clocks()
    paused_at: list[float] = []

    def sleep(seconds: float) -> None:  # the monitor waits: paused, or between frames
        clocks.sleep(seconds)
        if paused_at and clocks.monotonic() - paused_at[0] >= 60 and len(paused_at) == 1:
            paused_at.append(clocks.monotonic())  # a calibration takes about a minute
            assert cameras[0].released  # it had the camera meanwhile
            controls.reload_profile(lambda: saved_judge("desk"))
            controls.resume()

    controls = Controls(sleep=sleep)
    snapshots: list[Snapshot] = []
    controls.subscribe(snapshots.append)
    judged: list[tuple[float, Verdict]] = []

    def status(state: Status) -> None:
        judged.append((clocks.monotonic(), state.verdict))
        if state.now_s >= 10 and not paused_at:
            paused_at.append(clocks.monotonic())
            controls.pause(None, reason=RECALIBRATING)
        if len(paused_at) == 2 and clocks.monotonic() - paused_at[1] >= 10:
            controls.stop()

    runner, cameras = camera_monitor(
        monkeypatch,
        lambda t: SLOUCHED,
        clocks,
        controls,
        status=status,
        settings=MonitorSettings(policy=FAST_POLICY),
    )
    runner.run()
    assert len(cameras) == 2
    paused = [s for s in snapshots if s.state is State.PAUSED]
    assert paused and {s.reason for s in paused} == {RECALIBRATING}  # a notice changes neither
    assert [bool(s.notice) for s in paused] == ([False] if loads else [False, True])
    after = {v for t, v in judged if t >= paused_at[1] + 5}
    assert after == ({Verdict.GOOD} if loads else {Verdict.SLOUCH})


# -- the screen-lock watcher over the real monitor --------------------------------------------


@pytest.fixture
def desktop() -> Iterator[Desktop]:
    yield from private_desktop()


def _upright_at_the_camera(
    monkeypatch: pytest.MonkeyPatch,
    clocks: Clocks,
    controls: Controls,
    status: Callable[[Status], None],
) -> tuple[Monitor, list[SceneCamera], RecordingRecorder]:
    """The monitor on a camera showing someone sitting upright, on fake clocks."""
    recorder = RecordingRecorder()
    runner, cameras = camera_monitor(
        monkeypatch,
        lambda t: UPRIGHT,
        clocks,
        controls,
        status=status,
        recorder=recorder,
        settings=MonitorSettings(policy=FAST_POLICY),
    )
    return runner, cameras, recorder


def test_a_screen_lock_pauses_the_real_monitor_frees_the_camera_and_counts_as_a_break(
    monkeypatch: pytest.MonkeyPatch, desktop: Desktop
) -> None:
    from tests.dbus_desktop import SESSION_ID, MockLogind

    clocks = Clocks()
    locked_at: list[float] = []
    unlocked_at: list[float] = []

    def sleep(seconds: float) -> None:
        clocks.sleep(seconds)
        if locked_at and not unlocked_at and clocks.monotonic() - locked_at[0] >= 300:
            assert len(cameras) == 1 and cameras[0].released  # let go while locked
            unlocked_at.append(clocks.monotonic())
            logind.set_locked(False)
            assert _until(lambda: controls.pending), "the unlock did not resume the monitor"

    controls = Controls(sleep=sleep)
    snapshots: list[Snapshot] = []
    controls.subscribe(snapshots.append)
    judged: list[float] = []

    def status(state: Status) -> None:
        judged.append(clocks.monotonic())
        if state.now_s >= 6 and not locked_at:
            locked_at.append(clocks.monotonic())
            logind.set_locked(True)
            assert _until(lambda: controls.pending), "the lock did not pause the monitor"
        if unlocked_at and clocks.monotonic() - unlocked_at[0] >= 10:
            controls.stop()

    runner, cameras, recorder = _upright_at_the_camera(monkeypatch, clocks, controls, status)
    watcher = watcher_on(controls, desktop, XDG_SESSION_ID=SESSION_ID)
    with MockLogind(desktop.system) as logind, watcher:
        assert "screen lock" in watcher.watching
        runner.run()
    assert len(cameras) == 2 and all(camera.released for camera in cameras)
    pause = next(s for s in snapshots if s.state is State.PAUSED)
    assert (pause.reason, pause.paused_until) == (LOCKED, None)
    assert not [t for t in judged if locked_at[0] < t < unlocked_at[0]]  # nothing judged
    # Five minutes locked: a break, never presence.
    (locked_break,) = recorder.breaks
    assert locked_break.end - locked_break.start >= timedelta(seconds=300)
    present = sum(sample.duration_s for sample in recorder.samples)
    assert present == pytest.approx(runner.summary.duration_s - 300, abs=3)
    assert ("paused", pytest.approx(300, abs=3)) in runner.summary.gaps


def test_a_suspend_waits_until_the_real_monitor_has_let_the_camera_go(
    monkeypatch: pytest.MonkeyPatch, desktop: Desktop
) -> None:
    """logind's delay lock: held until the monitor paused, taken again after the wake-up."""
    from tests.dbus_desktop import MockLogind

    clocks = Clocks()
    asleep_at: list[float] = []
    woke_at: list[float] = []

    def sleep(seconds: float) -> None:
        clocks.sleep(seconds)
        if asleep_at and not woke_at:
            # Paused: the suspend may go ahead now, and not before (see `status`).
            assert _until(lambda: not logind.inhibitor_held(0)), "the suspend was held up"
            assert cameras[0].released
            woke_at.append(clocks.monotonic())
            clocks.jump_wall(8 * 3600)  # a night asleep: the monotonic clock stood still
            logind.sleep(False)
            assert _until(lambda: controls.pending)

    controls = Controls(sleep=sleep)
    snapshots: list[Snapshot] = []
    controls.subscribe(snapshots.append)

    def status(state: Status) -> None:
        if state.now_s >= 6 and not asleep_at:
            asleep_at.append(clocks.monotonic())
            logind.sleep(True)
            assert _until(lambda: controls.pending)
            time.sleep(0.1)  # the monitor is still busy with this frame...
            assert logind.inhibitor_held(0)  # ...so the suspend waits for it
        if woke_at and clocks.monotonic() - woke_at[0] >= 5:
            controls.stop()

    runner, cameras, recorder = _upright_at_the_camera(monkeypatch, clocks, controls, status)
    watcher = watcher_on(controls, desktop)
    with MockLogind(desktop.system) as logind, watcher:
        runner.run()
        assert _until(lambda: len(logind.manager.inhibitors) == 2)
        assert logind.inhibitor_held(1)  # ready for the next suspend
    assert len(cameras) == 2
    assert any(s[0] in ("paused", "clock") for s in runner.summary.gaps)
    (night,) = recorder.breaks  # the night is a break, not eight hours at the desk
    assert night.end - night.start >= timedelta(hours=8)
    assert sum(s.duration_s for s in recorder.samples) < 60
    assert (State.PAUSED, ASLEEP) in {(s.state, s.reason) for s in snapshots}


# -- `posture monitor` itself -----------------------------------------------------------------


def test_posture_monitor_lets_the_camera_go_while_the_screen_is_locked(
    desktop: Desktop, tmp_path: Path
) -> None:
    """The real command on the webcam of tests/webcam: the watcher starts with the
    monitor, a lock releases the camera, the unlock opens it again, and the summary
    counts the time paused."""
    from tests.dbus_desktop import SESSION_ID, MockLogind

    log = tmp_path / "camera.log"
    env = webcam_env(os.environ, tmp_path / "home", log)
    env.update(
        DBUS_SESSION_BUS_ADDRESS=desktop.session,
        DBUS_SYSTEM_BUS_ADDRESS=desktop.system,
        XDG_SESSION_ID=SESSION_ID,
    )
    with MockLogind(desktop.system) as logind:
        process = start_posture(["-v", "monitor", "--quiet", "--notifier", "none"], env)
        err = Lines(process.stderr)
        try:
            watching = err.wait_for("pausing when away: watching")
            assert watching.endswith("watching screen saver, suspend, screen lock")
            err.wait_for("first verdict")
            logind.set_locked(True)
            assert _until(lambda: camera_events(log) == ["open 0", "release"]), err.text
            time.sleep(2.0)  # locked
            logind.set_locked(False)
            assert _until(lambda: camera_events(log).count("open 0") == 2), err.text
            time.sleep(1.0)
        finally:
            process.send_signal(signal.SIGTERM)
            out, _ = process.communicate(timeout=30)
    assert process.returncode == 0, err.rest()
    assert camera_events(log) == ["open 0", "release", "open 0", "release"]
    # Locked 2 s, and paused until the first judged frame after the reopening.
    (paused,) = [line for line in out.splitlines() if line.startswith("Paused ")]
    assert re.fullmatch(r"Paused \d s\.", paused) and 2 <= int(paused.split()[1]) <= 6, out
