"""Stand-ins at the monitor's edges: the pose model, the clocks, `cv2.VideoCapture`.

The monitor, the camera source, the metrics and the scorer run for real on them:

- `FakeEstimator` returns a hand-built skeleton (`tests/skeletons.py`) chosen by the
  picture's first pixel, so a scene is a list of poses and no model is loaded.
- `Clocks` is a monotonic clock and a wall clock that move together when time passes
  (`sleep`) and apart when a laptop is suspended or the clock is set (`jump_wall`).
- `SceneCamera` stands in for `cv2.VideoCapture`: a frame every 1/30 s of the fake
  clock, one driver buffer, pictures from a scene (seconds since opened -> pose), and
  scripted faults: losing the picture, a `grab` that blocks. Given a `device` file it
  holds it open from open to release, as the driver holds /dev/videoN (on
  `RealClocks`, for the camera-sharing tests, which meet a real second process).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from calibration.gates import CalibrationSample
from calibration.profile import Profile
from calibration.protocol import calibrate
from posture.landmarks import Landmark, PoseResult
from posture.metrics import PostureMetrics, compute_metrics
from posture.sources import Frame, SourceBase
from tests.skeletons import skeleton, with_visibility

# A picture's first pixel names the pose the fake model "sees" in it.
NOBODY, UPRIGHT, SLOUCHED, RECLINED, FACING = 0, 1, 2, 3, 4
# Pictures that show no posture: a covered lens (no detail), a dark room (the pose
# lost), someone whose shoulders are out of the picture (a pose without them).
COVERED, DARK, NO_SHOULDERS = 20, 21, 22
POSES: dict[int, Callable[[], PoseResult]] = {
    UPRIGHT: lambda: skeleton(yaw_deg=90),
    SLOUCHED: lambda: skeleton(trunk_deg=20, neck_deg=-20, yaw_deg=90),
    RECLINED: lambda: skeleton(trunk_deg=-20, yaw_deg=90),
    FACING: lambda: skeleton(yaw_deg=0),  # the same person facing the camera
    NO_SHOULDERS: lambda: with_visibility(
        skeleton(yaw_deg=90), {Landmark.LEFT_SHOULDER: 0.1, Landmark.RIGHT_SHOULDER: 0.1}
    ),
}
IMAGE_SHAPE = (48, 64, 3)
_ROWS, _COLUMNS = np.mgrid[0 : IMAGE_SHAPE[0], 0 : IMAGE_SHAPE[1]]
# A lit room's detail: grey levels about 95 +- 19, no skin tones, no face.
_ROOM = np.sin(_COLUMNS / 3.0) * np.cos(_ROWS / 4.0)


def picture(code: int) -> np.ndarray:
    """A picture of a lit room with no skin and no face (so an empty one reads as
    nobody there), its first pixel naming a pose; COVERED is black, DARK dim."""
    if code == COVERED:
        grey = np.zeros(IMAGE_SHAPE[:2])
    elif code == DARK:
        grey = 18 + 12 * _ROOM
    else:
        grey = 96 + 40 * _ROOM
    image = np.repeat(grey.astype(np.uint8)[:, :, None], 3, axis=2)
    image[0, 0, 0] = code
    return image


class FakeEstimator:
    """The pose model's stand-in: the skeleton the picture names, or no pose."""

    def __init__(self, mode: str = "video") -> None:
        self.mode = mode
        self.calls: list[int] = []
        self.closed = False

    def estimate_image(self, image_bgr: np.ndarray, t_ms: int = 0) -> PoseResult:
        assert not self.closed, "estimate after close"
        self.calls.append(t_ms)
        code = int(image_bgr[0, 0, 0])
        if code not in POSES:
            return PoseResult.empty((image_bgr.shape[1], image_bgr.shape[0]))
        return _pose(code)

    def close(self) -> None:
        self.closed = True


@functools.cache
def _pose(code: int) -> PoseResult:
    return POSES[code]()


def _pose_metrics(code: int) -> PostureMetrics:
    """The metrics of the pose a picture names (for checking a scene's verdicts)."""
    metrics = compute_metrics(POSES[code]())
    assert metrics is not None
    return metrics


class Estimators:
    """An `EstimatorFactory` that keeps what it made, to check modes and closing."""

    def __init__(self) -> None:
        self.made: list[FakeEstimator] = []

    def __call__(self, mode: str) -> FakeEstimator:
        self.made.append(FakeEstimator(mode))
        return self.made[-1]


@functools.cache
def profile_of(yaw_deg: float = 90, name: str = "fake") -> Profile:
    """A profile calibrated on upright skeletons with a little natural sway."""
    rng = np.random.default_rng(0)
    samples = [
        CalibrationSample(
            compute_metrics(
                skeleton(neck_deg=rng.normal(0, 1), trunk_deg=rng.normal(0, 1), yaw_deg=yaw_deg)
            ),
            1,
            120.0,
        )
        for _ in range(30)
    ]
    return calibrate(samples, name=name, source="skeletons")


class Clocks:
    """A monotonic clock and a wall clock on fake time.

    `sleep` lets time pass on both; `jump_wall` moves the wall clock alone, as a
    suspend does (the monotonic clock stops while the machine sleeps) or as setting
    the clock does.
    """

    def __init__(self, wall: datetime | None = None, mono_s: float = 1000.0) -> None:
        self.mono_s = mono_s
        self.wall = wall or datetime(2026, 11, 24, 9, 0, 0).astimezone()
        self.lock = threading.Lock()

    def monotonic(self) -> float:
        return self.mono_s

    def now(self) -> datetime:
        return self.wall

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.mono_s += seconds
            self.wall += timedelta(seconds=seconds)

    def jump_wall(self, seconds: float) -> None:
        with self.lock:
            self.wall += timedelta(seconds=seconds)


class RealClocks:
    """`Clocks`' interface on real time, for tests that meet another process (inotify)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    @property
    def mono_s(self) -> float:
        return time.monotonic()

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now().astimezone()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


class SceneCamera:
    """`cv2.VideoCapture` on fake clocks: 30 fps into a one-frame driver buffer.

    `scene(t_s)` gives the pose code shown `t_s` seconds after the camera opened.
    `fails(t_s)` says when the camera delivers nothing (unplugged, taken): `grab`
    returns False then. With `block`, the first `grab` blocks until the event is set.
    """

    def __init__(
        self,
        clocks: Clocks | RealClocks,
        scene: Callable[[float], int],
        *,
        fails: Callable[[float], bool] = lambda t_s: False,
        block: threading.Event | None = None,
        device: Path | None = None,
    ) -> None:
        self.clocks = clocks
        # Held open from open to release, as a driver holds /dev/videoN.
        self.device = None if device is None else open(device, "rb")
        self.scene = scene
        self.fails = fails
        self.block = block
        self.opened_at = clocks.monotonic()
        self.next_arrival = 0
        self.waiting: list[int] = []
        self.current = 0
        self.grabs = 0
        self.retrieves = 0
        self.released = False
        self.grab_started = threading.Event()

    def isOpened(self) -> bool:
        return not self.released

    def set(self, prop: int, value: float) -> bool:
        return True

    def _fill(self) -> None:
        arrived = int((self.clocks.monotonic() - self.opened_at) * 30 + 1e-6)
        if arrived > self.next_arrival:
            if not self.waiting:
                self.waiting.append(self.next_arrival)
            self.next_arrival = arrived

    def grab(self) -> bool:
        self.grabs += 1
        self.grab_started.set()
        if self.block is not None:
            self.block.wait()
        if self.fails(self.clocks.monotonic() - self.opened_at):
            return False
        self._fill()
        if not self.waiting:  # wait for the sensor
            self.clocks.sleep(self.opened_at + (self.next_arrival + 1) / 30 - self.clocks.mono_s)
            self._fill()
        self.current = self.waiting.pop(0)
        return True

    def retrieve(self, image: np.ndarray | None = None) -> tuple[bool, np.ndarray]:
        self.retrieves += 1
        frame = picture(self.scene(self.current / 30))
        if image is not None and image.shape == frame.shape:
            np.copyto(image, frame)
            return True, image
        return True, frame

    def read(self) -> tuple[bool, np.ndarray | None]:
        if not self.grab():
            return False, None
        return self.retrieve()

    def release(self) -> None:
        self.released = True
        if self.device is not None:
            self.device.close()


class Recording(SourceBase):
    """A recorded stream of pictures naming poses, `step_ms` apart on its own clock.

    `then` is raised after the last frame (a `CameraLostError` makes it a camera
    that stopped delivering). `opened` counts iterations.
    """

    kind = "video"
    is_stream = True

    def __init__(
        self, codes: list[int], step_ms: int = 500, *, then: Exception | None = None
    ) -> None:
        self.description = "video fake"
        self.codes, self.step_ms, self.then = codes, step_ms, then
        self.frame_count = len(codes)
        self.duration_ms = len(codes) * step_ms
        self.yielded: list[int] = []

    def __iter__(self) -> Iterator[Frame]:
        for index, code in enumerate(self.codes):
            self.yielded.append(index)
            yield Frame(picture(code), index * self.step_ms, index)
        if self.then is not None:
            raise self.then
