"""A simulated webcam: the bundled sample session served like a real camera.

`FrameStore.build()` decodes `samples/session.mp4` (portrait 360x640, 10 fps, 40 s) once,
letterboxes every frame onto 640x480 (the commonest webcam mode), and writes the raw BGR
pixels to one file in shared memory (`/dev/shm`). Measured processes map that file: frames
cost them no decoding, and the mapping shows up in `RssShmem`, which the benchmark reports
apart from the process's own memory (a real camera's frames live in driver buffers too).

`FakeCamera` stands in for `cv2.VideoCapture(index)`:

- Frames arrive every 1/30 s of real wall-clock time from the moment it is opened; frame
  k shows the session at `scene_offset_s + k / 30` seconds, looping every 40 s (so the
  session's 10 fps video shows each picture three times, as a 30 fps camera filming a
  10 fps world would). `scene_stretch` slows the session down: at 6, each of its four
  postures is held for a minute instead of 10 s (a calmer sitter than the session's).
- Like V4L2, a small ring of driver buffers (4, or what `CAP_PROP_BUFFERSIZE` asks) fills
  while nobody reads; when it is full, newer frames are dropped, so a reader that slept
  finds stale frames waiting. `grab()` takes the oldest waiting frame at once, or blocks
  (sleeping, no CPU) until the next one arrives; it never decodes. `retrieve()` copies the
  frame out (OpenCV allocates a new array per frame too); `read()` is both.
- It records what a benchmark needs: grabs, retrieves, and the scene time of the last
  retrieved frame.
"""

from __future__ import annotations

import mmap
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
SESSION_VIDEO = REPO / "samples" / "session.mp4"
WIDTH, HEIGHT = 640, 480
CAMERA_FPS = 30.0
DEFAULT_BUFFERS = 4


def letterbox(image: np.ndarray, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """Fit `image` inside width x height, keeping its aspect ratio, on black."""
    h, w = image.shape[:2]
    factor = min(width / w, height / h)
    size = (round(w * factor), round(h * factor))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    canvas = np.zeros((height, width, 3), np.uint8)
    x, y = (width - size[0]) // 2, (height - size[1]) // 2
    canvas[y : y + size[1], x : x + size[0]] = small
    return canvas


@dataclass(frozen=True)
class FrameStore:
    """The session's frames, 640x480 BGR, in one raw file: `count` frames at `video_fps`."""

    path: Path
    count: int
    video_fps: float

    @property
    def duration_s(self) -> float:
        return self.count / self.video_fps

    @classmethod
    def build(cls, video: Path = SESSION_VIDEO) -> FrameStore:
        capture = cv2.VideoCapture(str(video))
        fps = capture.get(cv2.CAP_PROP_FPS) or 10.0
        folder = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
        handle, name = tempfile.mkstemp(prefix="posture-bench-frames-", dir=folder)
        count = 0
        with os.fdopen(handle, "wb") as out:
            while True:
                ok, image = capture.read()
                if not ok:
                    break
                out.write(letterbox(image).tobytes())
                count += 1
        capture.release()
        if count == 0:
            raise SystemExit(f"cannot decode {video}")
        return cls(Path(name), count, fps)

    def open(self) -> np.ndarray:
        """A read-only (count, 480, 640, 3) view of the file, paged in on first touch."""
        with open(self.path, "rb") as handle:
            mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        return np.frombuffer(mapping, np.uint8).reshape(self.count, HEIGHT, WIDTH, 3)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    def as_args(self) -> list[str]:
        return [
            "--frames",
            str(self.path),
            "--frame-count",
            str(self.count),
            "--video-fps",
            str(self.video_fps),
        ]


class FakeCamera:
    """`cv2.VideoCapture` for one camera index, serving a `FrameStore` at 30 fps."""

    def __init__(
        self,
        frames: np.ndarray,
        video_fps: float,
        *,
        scene_offset_s: float = 0.0,
        clock=time.monotonic,
        sleep=time.sleep,
        device: Path | None = None,
        open_s: float = 0.0,
        scene_origin: float | None = None,
        scene_stretch: float = 1.0,
    ) -> None:
        # A real webcam takes a while to open (modelled: `open_s`, asleep), and the
        # driver holds its device node open until released (`device`, a stand-in file
        # that the camera-sharing watch sees opened and closed).
        if open_s:
            sleep(open_s)
        self.device = None if device is None else open(device, "rb")
        self.released_at: float | None = None
        self.frames = frames
        self.video_fps = video_fps
        self.loop_s = len(frames) / video_fps
        self.scene_offset_s = scene_offset_s
        self.scene_stretch = scene_stretch
        self.clock, self.sleep = clock, sleep
        self.opened_at = clock()
        # The world goes on while the camera is closed: a camera opened again shows the
        # session where it is by then (the origin is when the first one opened).
        self.scene_origin = self.opened_at if scene_origin is None else scene_origin
        self.buffers = DEFAULT_BUFFERS
        self._waiting: list[int] = []  # frame numbers filled and not yet grabbed, oldest first
        self._next_arrival = 0  # the next frame number the sensor will deliver
        self._current: int | None = None
        self._open = True
        self._lock = threading.Lock()
        self.grabs = 0
        self.retrieves = 0
        self.last_scene_s: float | None = None
        self.last_arrived_at: float | None = None

    # -- the sensor's timeline -------------------------------------------------------------

    def arrival_time(self, number: int) -> float:
        return self.opened_at + (number + 1) / CAMERA_FPS

    def scene_s(self, number: int) -> float:
        """Seconds into the (looping) session that frame `number` shows."""
        elapsed = self.opened_at - self.scene_origin + number / CAMERA_FPS
        return (self.scene_offset_s + elapsed / self.scene_stretch) % self.loop_s

    def _fill(self, now: float) -> None:
        """Move frames that arrived by `now` into free driver buffers; drop the rest."""
        arrived = int((now - self.opened_at) * CAMERA_FPS + 1e-6)  # frames 0..arrived-1 are out
        if arrived <= self._next_arrival:
            return
        space = self.buffers - len(self._waiting)
        take = min(space, arrived - self._next_arrival)
        self._waiting.extend(range(self._next_arrival, self._next_arrival + take))
        self._next_arrival = arrived

    # -- cv2.VideoCapture ------------------------------------------------------------------

    def isOpened(self) -> bool:
        return self._open

    def set(self, prop: int, value: float) -> bool:
        if prop == cv2.CAP_PROP_BUFFERSIZE:
            self.buffers = max(1, int(value))
            return True
        return prop in (cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT)

    def get(self, prop: int) -> float:
        return {
            cv2.CAP_PROP_FRAME_WIDTH: WIDTH,
            cv2.CAP_PROP_FRAME_HEIGHT: HEIGHT,
            cv2.CAP_PROP_FPS: CAMERA_FPS,
            cv2.CAP_PROP_BUFFERSIZE: self.buffers,
        }.get(prop, 0.0)

    def grab(self) -> bool:
        if not self._open:
            return False
        self.grabs += 1
        now = self.clock()
        self._fill(now)
        if not self._waiting:
            number = self._next_arrival
            delay = self.arrival_time(number) - now
            if delay > 0:
                self.sleep(delay)
            self._fill(max(self.clock(), self.arrival_time(number)))
        self._current = self._waiting.pop(0)
        return True

    def retrieve(self, image=None, flag: int = 0):
        if not self._open or self._current is None:
            return False, None
        self.retrieves += 1
        number = self._current
        scene = self.scene_s(number)
        self.last_scene_s = scene
        self.last_arrived_at = self.arrival_time(number)
        video_index = min(int(scene * self.video_fps), len(self.frames) - 1)
        frame = self.frames[video_index]
        if image is not None and image.shape == frame.shape and image.dtype == frame.dtype:
            np.copyto(image, frame)  # OpenCV fills a matching output array in place
            return True, image
        return True, frame.copy()

    def read(self, image=None):
        if not self.grab():
            return False, None
        return self.retrieve()

    def release(self) -> None:
        if self._open:
            self.released_at = self.clock()
        self._open = False
        if self.device is not None:
            self.device.close()
            self.device = None


class CameraFactory:
    """Replaces `cv2.VideoCapture`: camera indexes get a `FakeCamera`, paths the real thing."""

    def __init__(
        self,
        store_args,
        scene_offset_s: float = 0.0,
        device: Path | None = None,
        open_s: float = 0.0,
        scene_stretch: float = 1.0,
    ) -> None:
        self.device, self.open_s, self.scene_stretch = device, open_s, scene_stretch
        self.frames = FrameStore(
            Path(store_args.frames), store_args.frame_count, store_args.video_fps
        ).open()
        self.video_fps = store_args.video_fps
        self.scene_offset_s = scene_offset_s
        self.real = cv2.VideoCapture
        self.cameras: list[FakeCamera] = []

    def __call__(self, spec, *args):
        if isinstance(spec, int):
            camera = FakeCamera(
                self.frames,
                self.video_fps,
                scene_offset_s=self.scene_offset_s,
                device=self.device,
                open_s=self.open_s,
                scene_origin=self.cameras[0].opened_at if self.cameras else None,
                scene_stretch=self.scene_stretch,
            )
            self.cameras.append(camera)
            return camera
        return self.real(spec, *args)

    @property
    def camera(self) -> FakeCamera | None:
        return self.cameras[-1] if self.cameras else None

    def install(self) -> CameraFactory:
        cv2.VideoCapture = self  # the module object posture.sources uses
        return self
