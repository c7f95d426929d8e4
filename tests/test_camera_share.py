"""Sharing the camera: a real second process opens a file standing for /dev/videoN.

The watch (inotify) and the holder scan (/proc/*/fd) run for real; the device node is
a temporary file, and `cv2.VideoCapture` is a stand-in that holds that file open from
open to release, as a driver holds the node. The monitor runs on real time here: it
meets another process, which no fake clock can hurry.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from posture import monitor as monitor_module
from posture import sources
from posture.camera_share import (
    CameraShare,
    Holder,
    camera_paths,
    describe,
    holders_of,
    program_name,
)
from posture.control import Controls, Snapshot, State
from posture.monitor import Monitor, MonitorSettings
from posture.scoring import Scorer
from posture.sources import CameraSource, SourceError
from tests.fakes import UPRIGHT, Estimators, RealClocks, SceneCamera, profile_of
from tests.test_monitor import FAST_POLICY, RecordingRecorder


def _inotify_unavailable() -> str | None:
    if not Path("/proc/self/fd").is_dir():
        return "no /proc here: holders are read from /proc/*/fd (Linux only)"
    try:
        from inotify_simple import INotify
    except ImportError:
        return "inotify_simple is not installed"
    try:
        INotify().close()
    except OSError as error:
        return f"no inotify here ({error})"
    return None


UNAVAILABLE = _inotify_unavailable()
needs_inotify = pytest.mark.skipif(UNAVAILABLE is not None, reason=UNAVAILABLE or "")
needs_proc = pytest.mark.skipif(
    not Path("/proc/self/fd").is_dir(), reason="no /proc here: holders are Linux only"
)

HOLD = "import sys; f = open(sys.argv[1], 'rb'); print('open', flush=True); sys.stdin.read()"


class Holding:
    """A second process that opens `path` and holds it until `release()`."""

    def __init__(self, path: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "open"
        self.name = program_name(self.process.pid)

    def release(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(timeout=10)


@pytest.fixture
def device(tmp_path: Path) -> Path:
    node = tmp_path / "video0"
    node.write_bytes(b"")
    return node


@pytest.fixture
def holding(device: Path) -> Iterator[list[Holding]]:
    started: list[Holding] = []
    yield started
    for process in started:
        process.release()


def wait_until(condition, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return bool(condition())


# --- who holds the device -----------------------------------------------------------------------


@needs_proc
def test_the_holders_are_the_other_processes_with_the_node_open(device, holding):
    with open(device, "rb"):  # this process holds it too: never "another program"
        assert holders_of([device]) == []
        holding.append(Holding(device))
        child = holding[0]
        assert holders_of([device]) == [Holder(child.process.pid, child.name)]
        # A daemon that keeps camera nodes open to list them (PipeWire) is no user.
        assert holders_of([device], ignored=frozenset({child.name})) == []
    child.release()
    assert holders_of([device]) == []


def test_the_names_read_as_a_sentence():
    assert describe([Holder(7, "zoom")]) == "camera in use by zoom"
    assert describe([Holder(7, "zoom"), Holder(8, "zoom"), Holder(9, "obs")]) == (
        "camera in use by zoom and obs"
    )
    assert describe([]) == "camera in use by another program"
    assert camera_paths(2, Path("/dev")) == (Path("/dev/video2"),)


def test_no_device_node_no_share(monkeypatch, tmp_path):
    monkeypatch.setattr("posture.camera_share.camera_paths", lambda index: (tmp_path / "none",))
    assert CameraShare.for_camera(0) is None


# --- the watch --------------------------------------------------------------------------------


@needs_inotify
def test_an_open_by_another_program_is_seen_at_once_and_said_once(device, holding):
    woken = threading.Semaphore(0)
    with CameraShare([device], on_change=woken.release) as share:
        assert share.start() and share.watching
        with open(device, "rb"):  # our own open wants nothing
            assert woken.acquire(timeout=5)
        while woken.acquire(timeout=0.3):  # its close too
            pass
        assert share.take_wanted() is None
        opened_at = time.monotonic()
        holding.append(Holding(device))
        assert woken.acquire(timeout=5)
        seen_s = time.monotonic() - opened_at
        child = holding[0]
        assert share.take_wanted() == Holder(child.process.pid, child.name)
        assert share.take_wanted() is None  # once
        assert seen_s < 1.0
        child.release()
        assert woken.acquire(timeout=5)  # the close wakes a waiting monitor too
        assert share.holders() == []


# --- the monitor --------------------------------------------------------------------------------


def share_monitor(monkeypatch, device, controls, cameras, busy_while=lambda: False, **options):
    """The real monitor, camera source and share, on real time, with the watched node a
    temp file. While `busy_while()` the stand-in capture fails to open, as V4L2 does
    when another program streams."""
    clocks = RealClocks()

    def capture(index):
        camera = SceneCamera(clocks, lambda t: UPRIGHT, device=device)
        if busy_while():
            camera.release()  # the driver refused: not opened
        cameras.append(camera)
        return camera

    monkeypatch.setattr(sources.cv2, "VideoCapture", capture)
    monkeypatch.setattr(monitor_module, "FREE_SETTLE_S", 0.3)
    shares: list[CameraShare] = []

    def share(index, wake):
        shares.append(CameraShare([device], on_change=wake))
        shares[-1].start()
        return shares[-1]

    return Monitor(
        lambda: CameraSource(0),
        Scorer(profile_of()),
        estimator=Estimators(),
        controls=controls,
        camera_share=share,
        settings=MonitorSettings(policy=FAST_POLICY),
        **options,
    ), shares


@needs_inotify
def test_the_camera_is_handed_over_when_another_program_opens_it(monkeypatch, device, holding):
    controls, cameras, recorder = Controls(), [], RecordingRecorder()
    snapshots: list[Snapshot] = []
    lines: list[str] = []
    controls.subscribe(snapshots.append)

    opened, handed = threading.Event(), threading.Event()

    def watch(snapshot: Snapshot) -> None:
        judged = [s for s in snapshots if s.state is State.GOOD]
        if len(judged) >= 3 and not opened.is_set():
            opened.set()  # another program opens the camera while we judge
            threading.Thread(target=lambda: holding.append(Holding(device))).start()
        if snapshot.state is State.CAMERA_IN_USE and not handed.is_set():
            handed.set()  # ...and closes it half a second later
            threading.Timer(0.5, lambda: holding[0].release()).start()
        if handed.is_set() and snapshot.state is State.GOOD and len(cameras) == 2:
            controls.stop()

    controls.subscribe(watch)
    runner, shares = share_monitor(
        monkeypatch,
        device,
        controls,
        cameras,
        recorder=recorder,
        status=lambda status: lines.append(status.line()),
    )
    timer = threading.Timer(30, controls.stop)  # a safety net, never the way it ends
    timer.start()
    summary = runner.run()
    timer.cancel()
    child = holding[0]
    in_use = [s for s in snapshots if s.state is State.CAMERA_IN_USE]
    assert in_use and {s.reason for s in in_use} == {f"camera in use by {child.name}"}
    # Released at once, then opened again once it was free: two captures, both let go.
    assert len(cameras) == 2 and all(camera.released for camera in cameras)
    states = [s.state for s in snapshots]
    first_in_use = states.index(State.CAMERA_IN_USE)
    assert State.GOOD in states[first_in_use:]  # judged again after it came back
    # The time it was away is a gap: no sample stands for it.
    ((cause, gap_s),) = summary.gaps
    assert cause == "in use" and gap_s >= 0.5
    assert sum(s.duration_s for s in recorder.samples) < summary.duration_s - 0.5
    assert any(line.startswith("camera in use ") and child.name in line for line in lines)
    assert not shares[0].watching  # the watch ends with the run


@needs_inotify
def test_a_camera_that_will_not_open_while_another_program_has_it_waits(
    monkeypatch, device, holding
):
    holding.append(Holding(device))
    child = holding[0]
    controls, cameras = Controls(), []
    snapshots: list[Snapshot] = []

    def watch(snapshot: Snapshot) -> None:
        snapshots.append(snapshot)
        if snapshot.state is State.CAMERA_IN_USE and len(snapshots) < 4:
            threading.Timer(0.3, child.release).start()
        if snapshot.state is State.GOOD:
            controls.stop()

    controls.subscribe(watch)
    runner, _ = share_monitor(
        monkeypatch, device, controls, cameras, busy_while=lambda: child.process.poll() is None
    )
    timer = threading.Timer(30, controls.stop)
    timer.start()
    summary = runner.run()
    timer.cancel()
    states = [s.state for s in snapshots]
    assert State.CAMERA_PROBLEM not in states  # not an error: someone else has it
    assert states.index(State.CAMERA_IN_USE) < states.index(State.GOOD)
    assert snapshots[states.index(State.CAMERA_IN_USE)].reason == f"camera in use by {child.name}"
    assert cameras[0].released and cameras[-1].released
    assert summary.samples >= 1 and summary.gaps == []  # nothing was watched before


@needs_proc
def test_a_camera_that_will_not_open_with_nobody_holding_it_is_the_users_error(monkeypatch, device):
    controls, cameras = Controls(), []
    runner, _ = share_monitor(monkeypatch, device, controls, cameras, busy_while=lambda: True)
    with pytest.raises(SourceError, match="cannot open camera 0"):
        runner.run()
