"""Frame sources: camera, video file, single image and folder of images behind one protocol.

Every source is a `FrameSource`: iterate it to get `Frame(image, t_ms, index)` values, close
it (or use it as a context manager) to release the device or file. The rest of the pipeline
never asks where frames come from, so the monitor loop runs the same on a recorded session as
on a live camera:

    with open_source("samples/session.mp4") as source:
        for frame in source:
            ...  # frame.image is BGR uint8, frame.t_ms is on the source's own clock

- `is_stream` tells the pose estimator how to treat the frames: True (camera, video) means
  consecutive frames of one scene with strictly increasing `t_ms`, suitable for MediaPipe's
  VIDEO mode, which tracks the person between frames; False (image, folder) means
  independent stills for IMAGE mode.
- A video plays at its own timestamps, not at wall-clock speed: the caller decides whether
  to pace it.
- `paced(pace)` is how the monitor reads a source: a camera paces itself (it grabs a fresh
  frame whenever the caller's `pace.interval_s()` says the next one is due, adaptively), a
  recording replays at its own times, on a grid of `pace.fps` frames per second of its own
  clock, at `pace.speed` times real time. `live` tells the two apart: a live source's frames
  happen now; a recording's happened at its own times.
- Every bad input raises `SourceError` with a one-line message for the user. A camera that
  stops delivering frames mid-run raises `CameraLostError`, so the monitor can tell "lost the
  camera" from "never had one" and retry.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, TypeVar, cast, runtime_checkable

import cv2
import numpy as np
import numpy.typing as npt

from posture.errors import SourceError

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_EXTENSIONS = (
    ".mp4",
    ".avi",
    ".mov",
    ".mkv",
    ".webm",
    ".m4v",
    ".mpg",
    ".mpeg",
    ".wmv",
    ".gif",
)

# Used only when a video reports neither usable timestamps nor a frame rate; 30 fps is the
# commonest webcam and phone recording rate, so timestamps stay plausible.
_FALLBACK_FPS = 30.0
# Containers report garbage (e.g. -2**63) for the frame count of streams they cannot index.
_MAX_PLAUSIBLE_FRAME_COUNT = 2**31
# A seek past a damaged stretch lands on a keyframe, which may lie before frames already
# read: at most this many are read again (and dropped) before giving the seek up.
MAX_FRAMES_BACK_AFTER_SEEK = 300

ImageArray = npt.NDArray[np.uint8]
_Source = TypeVar("_Source", bound="SourceBase")


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False


@dataclass(frozen=True)
class Pace:
    """How a reader wants frames from `FrameSource.paced`.

    - `fps`: a recording's frames are taken on this grid of its own clock (frames in
      between are skipped), and a live source's when `interval_s` is None.
    - `speed`: a recording plays at this many times real time; 0 = as fast as it can.
    - `interval_s`: asked by a live source after each frame has been handled: seconds
      until the next one is due (0: the next fresh frame). None: every 1/fps s.
    - `wait`: sleeps up to the given seconds; returns True when the reader wants the
      iteration to end now (stopping, pausing), which the source then does.
    - `clock`: monotonic seconds for the pacing, injectable (the reader may hold it still
      while it pauses a replay).
    """

    fps: float
    speed: float = 1.0
    interval_s: Callable[[], float] | None = None
    wait: Callable[[float], bool] = _sleep
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"fps must be a positive number, got {self.fps}")
        if not (math.isfinite(self.speed) and self.speed >= 0):
            raise ValueError(f"speed must be 0 or more, got {self.speed}")

    def next_interval_s(self) -> float:
        """Seconds until a live source's next frame is due."""
        return 1.0 / self.fps if self.interval_s is None else self.interval_s()


class CameraLostError(SourceError):
    """The camera opened but stopped delivering frames (unplugged, taken by another program,
    laptop lid closed). Distinct from failing to open, so the monitor can wait and retry."""


class CameraOpenError(SourceError):
    """A camera could not be opened (absent, or held by another program). Carries the index,
    so that the monitor can ask who holds the device (`posture.camera_share`)."""

    def __init__(self, message: str, camera_index: int) -> None:
        super().__init__(message)
        self.camera_index = camera_index


def _supported_list(extensions: tuple[str, ...]) -> str:
    return ", ".join(extensions)


@dataclass(frozen=True, eq=False)
class Frame:
    """One picture from a source.

    - `image`: HxWx3 uint8 BGR array, as OpenCV gives it.
    - `t_ms`: milliseconds on the source's clock (camera: since its first frame; video: the
      file's own presentation time; folder: position * interval).
    - `index`: frame number in the source, counting frames skipped by stride or range (in
      a video, placed by the container's time, so frames lost to damage leave a hole).
    - `name`: the file name for stills (image and folder sources), so results can say which
      picture they belong to; None for camera and video frames.
    """

    image: ImageArray
    t_ms: int
    index: int
    name: str | None = None

    def __post_init__(self) -> None:
        image = self.image
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
            raise ValueError(f"Frame.image must be a uint8 numpy array, got {type(image)!r}")
        if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
            raise ValueError(f"Frame.image must be HxWx3 (BGR), got shape {image.shape}")
        if self.t_ms < 0:
            raise ValueError(f"Frame.t_ms must be >= 0, got {self.t_ms}")
        if self.index < 0:
            raise ValueError(f"Frame.index must be >= 0, got {self.index}")

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        height, width = self.image.shape[:2]
        return width, height


@runtime_checkable
class FrameSource(Protocol):
    """Anything that yields `Frame`s and can be closed.

    - `kind`: "camera", "video", "image" or "folder".
    - `description`: for messages and logs, e.g. "video samples/session.mp4".
    - `is_stream`: True for consecutive frames of one scene (VIDEO mode), False for
      independent stills (IMAGE mode).
    - `frame_count`: frames the iteration will yield, after stride and range, when known
      in advance (for progress bars); None for a camera.
    - `live`: True when frames happen now (a camera); False for a recording, whose frames
      carry the times they were recorded at.
    - `duration_ms`: a recording's length on its own clock (range included) when known in
      advance; None for a camera or when the file does not say.
    """

    kind: str
    description: str
    is_stream: bool
    frame_count: int | None
    live: bool
    duration_ms: int | None

    def __iter__(self) -> Iterator[Frame]: ...

    def paced(self, pace: Pace) -> Iterator[Frame]:
        """Frames as a reader paces them: see `Pace` and the module docstring."""
        ...

    def close(self) -> None:
        """Release the device or file. Safe to call more than once."""
        ...

    def __enter__(self) -> FrameSource: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class SourceBase:
    """Context-manager plumbing shared by the sources (and by test fakes)."""

    kind: str = ""
    description: str = ""
    is_stream: bool = False
    frame_count: int | None = None
    live: bool = False
    duration_ms: int | None = None

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def paced(self, pace: Pace) -> Iterator[Frame]:
        """A recording's frames on the `pace.fps` grid of its own clock, at `pace.speed`.

        Frames closer than 1/fps to the previous one taken are skipped; each is handed
        over when real time (`pace.clock`) reaches its own time divided by the speed,
        counted from the first frame. Ends early when `pace.wait` says so.
        """
        interval = 1.0 / pace.fps
        started = pace.clock()
        first_t_ms: int | None = None
        next_due = 0.0
        for frame in self:
            first_t_ms = frame.t_ms if first_t_ms is None else first_t_ms
            own_s = (frame.t_ms - first_t_ms) / 1000
            if own_s + 1e-6 < next_due:
                continue  # between samples: throttled away
            next_due = own_s + interval
            if pace.speed > 0:
                delay = started + own_s / pace.speed - pace.clock()
                if delay > 0 and pace.wait(delay):
                    return
            yield frame

    def close(self) -> None:
        """Release the device or file. Safe to call more than once."""

    def __enter__(self: _Source) -> _Source:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description}>"


def _as_bgr(image: npt.NDArray[Any]) -> ImageArray:
    """Some camera backends and image files give grey or BGRA; the pipeline wants BGR."""
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return cast(ImageArray, image)


@contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Keep OpenCV's and FFmpeg's own stderr warnings ("can't open camera by index", "moov
    atom not found") out of the user's terminal: a failure becomes one SourceError line.
    At DEBUG level (--verbose) they are let through, for diagnosis."""
    if logger.isEnabledFor(logging.DEBUG):
        yield
        return
    # FFmpeg reads this once, when OpenCV first uses it; a user's own setting wins.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


def _check_stride(stride: int) -> None:
    if stride < 1:
        raise SourceError(f"stride must be 1 or more, got {stride}: 1 keeps every frame")


# A grab that returns faster than this came out of the driver's buffer (stale); one
# that had to wait for the sensor is fresh. Webcams deliver a frame every 33 ms.
FRESH_GRAB_S = 0.005
# Driver buffers hold a handful of frames; never spin longer than this.
MAX_STALE_FRAMES = 8
# A camera read that takes longer than this is a camera that stopped responding (a hung
# driver, a stalled USB hub). Generous: some webcams take seconds for their first frame.
READ_TIMEOUT_S = 10.0
# The same for opening the device (a camera that opens at all does so within a second or
# two; USB cameras being reset take a few).
OPEN_TIMEOUT_S = 10.0
# While a read is under way, the reader looks this often whether it should stop waiting.
READ_POLL_S = 0.2
# How long `close()` waits for the device to be released behind a read still under way.
RELEASE_WAIT_S = 0.5

_T = TypeVar("_T")


class _GaveUp(Exception):
    """The caller stopped waiting for a camera read (to stop or to pause)."""


class _Call:
    """One function call handed to another thread, and its outcome."""

    def __init__(self, function: Callable[[], object]) -> None:
        self.function = function
        self.done = threading.Event()
        self.value: object = None
        self.error: BaseException | None = None

    def run(self) -> None:
        """Call the function and keep its value or error."""
        try:
            self.value = self.function()
        except BaseException as error:  # handed to the caller, raised there
            self.error = error
        self.done.set()


class _CallThread:
    """Runs a capture's blocking calls, one at a time, on a thread of its own.

    The caller waits for each call's outcome and can stop waiting: a driver that
    hangs in `grab()` must not keep SIGTERM from stopping the monitor. The thread is a
    daemon, so a call that never returns does not keep the process alive either, and
    the capture is released on that thread, after whatever call it is stuck in.
    """

    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while (call := self._calls.get()) is not None:
            call.run()

    def run(
        self,
        function: Callable[[], _T],
        timeout_s: float,
        give_up: Callable[[], bool] = lambda: False,
    ) -> _T:
        """`function()`, run on the thread. Raises `TimeoutError` after `timeout_s`, and
        `_GaveUp` as soon as `give_up()` says so (asked every READ_POLL_S)."""
        call = _Call(function)
        self._calls.put(call)
        deadline = time.monotonic() + timeout_s
        while not call.done.wait(min(READ_POLL_S, max(0.0, deadline - time.monotonic()))):
            if give_up():
                raise _GaveUp
            if time.monotonic() >= deadline:
                raise TimeoutError
        if call.error is not None:
            raise call.error
        return cast(_T, call.value)

    def close(self, last: Callable[[], object]) -> None:
        """Run `last` after any call under way, wait for it a little, and end the thread."""
        call = _Call(last)
        self._calls.put(call)
        self._calls.put(None)
        call.done.wait(RELEASE_WAIT_S)


def camera_device_name(index: int, sysfs: Path = Path("/sys/class/video4linux")) -> str | None:
    """The camera's own name as Linux gives it ("Integrated Camera: Integrated C"), so
    that a profile can tell one camera from another at the same index; None elsewhere."""
    try:
        name = (sysfs / f"video{index}" / "name").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return name or None


class CameraSource(SourceBase):
    """A live camera by OpenCV index. Endless: iterate until `close()` or an error.

    `t_ms` comes from the injected `clock`, relative to the first frame. A `read()` that fails
    after the camera opened raises `CameraLostError` rather than ending the iteration, because
    a silent end would look like the user quitting. Iterating again after that continues the
    same timeline (`t_ms` and `index` keep increasing). A device that hangs in its open is
    given up after OPEN_TIMEOUT_S, or as soon as `give_up()` is true (the monitor stopping).
    """

    kind = "camera"
    is_stream = True
    live = True
    frame_count: int | None = None

    def __init__(
        self,
        index: int,
        *,
        width: int = 640,
        height: int = 480,
        clock: Callable[[], float] = time.monotonic,
        give_up: Callable[[], bool] = lambda: False,
    ) -> None:
        # OpenCV reads an index of 100 or more as backend * 100 + camera (200 = V4L2 camera 0).
        if not 0 <= index < 100:
            raise SourceError(f"camera index must be 0 to 99, got {index}: try --source 0")
        if width <= 0 or height <= 0:
            raise SourceError(f"camera size must be positive, got {width}x{height}: try 640x480")
        self.camera_index = index
        self.description = f"camera {index}"
        self.device_name = camera_device_name(index)
        self._clock = clock
        self._t0_s: float | None = None
        self._next_index = 0
        self._last_t_ms = -1
        self._reads = _CallThread(f"read camera {index}")
        self._capture: cv2.VideoCapture | None = None
        self._opening: cv2.VideoCapture | None = None
        other = 1 if index == 0 else 0  # the usual built-in camera, or the next one
        # Opened on the reads thread too: a driver can hang in the open as well.
        with _quiet_opencv():
            try:
                opened = self._reads.run(
                    lambda: self._open(index, width, height), OPEN_TIMEOUT_S, give_up
                )
            except (TimeoutError, _GaveUp):  # a stop asked for meanwhile gives up early
                self._reads.close(self._release_late_open)
                raise CameraOpenError(
                    f"camera {index} did not answer within {OPEN_TIMEOUT_S:g} s of being "
                    "opened: reconnect it (or restart, for a built-in camera), or try "
                    f"--source {other} for another camera",
                    index,
                ) from None
        self._capture = self._opening
        if not opened:
            self.close()
            raise CameraOpenError(
                f"cannot open camera {index}: check that it is connected and not in use by "
                f"another program (try --source {other} for another camera)",
                index,
            )

    def _open(self, index: int, width: int, height: int) -> bool:
        """On the reads thread: open the device and ask for the mode. True: it opened."""
        self._opening = capture = cv2.VideoCapture(index)
        if not capture.isOpened():
            return False
        # A request, not a promise: the driver picks the nearest mode it supports.
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        # The monitor samples a few times a second; a deep driver buffer would hand it
        # frames that are seconds old. Backends that cannot do this ignore it.
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        return True

    def _release_late_open(self) -> None:
        # On the reads thread, after an open given up on has come back, if it ever does.
        if self._opening is not None:
            self._opening.release()

    def __iter__(self) -> Iterator[Frame]:
        while self._capture is not None:
            ok, image = self._bounded(self._capture.read)
            if not ok or image is None:
                raise self._lost()
            yield Frame(_as_bgr(image), self._now_ms(), self._take_index())

    def _bounded(self, read: Callable[[], _T], give_up: Callable[[], bool] = lambda: False) -> _T:
        """A camera read, given up after READ_TIMEOUT_S as a camera that stopped responding."""
        try:
            return self._reads.run(read, READ_TIMEOUT_S, give_up)
        except TimeoutError:
            raise CameraLostError(
                f"camera {self.camera_index} stopped responding (no frame for "
                f"{READ_TIMEOUT_S:g} s): check the cable and that no other program took "
                "the camera"
            ) from None

    def paced(self, pace: Pace) -> Iterator[Frame]:
        """Fresh frames whenever `pace` says the next is due, decoded into one buffer."""
        return self.sampled(pace.next_interval_s, wait=pace.wait, reuse_buffer=True)

    def sampled(
        self,
        interval_s: float | Callable[[], float],
        wait: Callable[[float], object] = time.sleep,
        *,
        reuse_buffer: bool = False,
    ) -> Iterator[Frame]:
        """Fresh frames about every `interval_s`, decoding only the frames it returns.

        Between samples the camera keeps streaming into the driver's small buffer;
        before a sample, frames already waiting there (stale) are grabbed without
        decoding until a grab has to wait for the camera, which means the next one
        is fresh. `wait` sleeps; when it returns True (a stop event's `wait` does when
        the event is set) the iteration ends.

        `interval_s` may be a function, asked after each frame has been handled (the
        generator resumes), so the caller can change the pace from what it just saw:
        the monitor samples slowly while posture is settled and quickly while it
        changes. 0 means the next fresh frame.

        With `reuse_buffer`, every frame is decoded into the same array, which saves an
        allocation and its page faults per sample; each frame is then valid only until
        the next one is requested (the monitor is done with a frame by then).
        """
        next_due = self._clock()
        buffer: npt.NDArray[Any] | None = None
        while self._capture is not None:
            delay = next_due - self._clock()
            if delay > 0 and (wait(delay) or self._capture is None):
                return
            due = next_due
            try:
                self._grab_fresh(give_up=lambda: bool(wait(0)))
            except _GaveUp:
                return  # stopping or pausing while the camera is slow to answer
            ok, image = (
                self._capture.retrieve(buffer) if buffer is not None else self._capture.retrieve()
            )
            if not ok or image is None:
                raise self._lost()
            if reuse_buffer:
                buffer = image
            yield Frame(_as_bgr(image), self._now_ms(), self._take_index())
            step = interval_s() if callable(interval_s) else interval_s
            next_due = max(due + step, self._clock())

    def _grab_fresh(self, give_up: Callable[[], bool]) -> None:
        assert self._capture is not None
        for _ in range(MAX_STALE_FRAMES):
            started = self._clock()
            if not self._bounded(self._capture.grab, give_up):
                raise self._lost()
            if self._clock() - started >= FRESH_GRAB_S:
                return

    def _lost(self) -> CameraLostError:
        return CameraLostError(
            f"camera {self.camera_index} stopped delivering frames after "
            f"{self._next_index} frames: check the cable and that no other program "
            "took the camera"
        )

    def _now_ms(self) -> int:
        now_s = self._clock()
        if self._t0_s is None:
            self._t0_s = now_s
        t_ms = round((now_s - self._t0_s) * 1000)
        # Two buffered frames can be read within one millisecond, and VIDEO mode rejects a
        # repeated timestamp: nudge forward instead.
        t_ms = max(t_ms, self._last_t_ms + 1)
        self._last_t_ms = t_ms
        return t_ms

    def _take_index(self) -> int:
        index = self._next_index
        self._next_index += 1
        return index

    def close(self) -> None:
        """Release the camera (behind any read still under way); closing twice is harmless."""
        if self._capture is not None:
            capture, self._capture = self._capture, None
            self._reads.close(capture.release)


def _existing_file(path: Path, what: str) -> Path:
    if not path.exists():
        raise SourceError(f"no such file: '{path}'")
    if path.is_dir():
        raise SourceError(
            f"'{path}' is a folder, not {what}: give a file, or open the folder as a folder "
            "of images"
        )
    return path


class VideoFileSource(SourceBase):
    """A video file, played at its own timestamps (not at wall-clock speed).

    `t_ms` is the file's presentation time of each frame (falling back to index * 1000 / fps
    when the container reports nothing usable), forced strictly increasing because VIDEO
    mode requires it. `start_ms`/`end_ms` keep frames with start_ms <= t_ms < end_ms, still
    on the file's clock; `stride` keeps every stride-th frame of that range. Iterating again
    starts from the beginning.

    `prefetch` frames are decoded ahead in a background thread (OpenCV lets go of the GIL
    while decoding), so decoding, including the frames a stride skips, overlaps with the
    caller's work on another core: `posture analyze` runs at the pose model's own pace
    (docs/performance.md). 0 decodes in the caller's thread.
    """

    kind = "video"
    is_stream = True

    def __init__(
        self,
        path: str | Path,
        *,
        stride: int = 1,
        start_ms: int | None = None,
        end_ms: int | None = None,
        prefetch: int = 2,
    ) -> None:
        self.path = _existing_file(Path(path), "a video file")
        _check_stride(stride)
        _check_range(start_ms, end_ms)
        if prefetch < 0:
            raise SourceError(f"prefetch must be 0 or more frames, got {prefetch}")
        self.prefetch = prefetch
        self.stride = stride
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.description = f"video {self.path}"
        self._capture: cv2.VideoCapture | None = None
        self._prefetcher: _Prefetcher | None = None
        self.fps, total_frames = self._probe()
        self._total_frames = total_frames
        self.frame_count = self._expected_count(total_frames)
        self.duration_ms = self._expected_duration_ms(total_frames)

    def _open(self) -> cv2.VideoCapture:
        with _quiet_opencv():
            capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            capture.release()
            raise SourceError(
                f"cannot open video '{self.path}': OpenCV cannot decode it (is it a video? "
                f"supported: {_supported_list(VIDEO_EXTENSIONS)})"
            )
        return capture

    def _probe(self) -> tuple[float | None, int | None]:
        """Fail now, not mid-run, on a file with no frames; read fps and length."""
        capture = self._open()
        try:
            fps = capture.get(cv2.CAP_PROP_FPS)
            count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
            has_frame = capture.grab()
        finally:
            capture.release()
        if not has_frame:
            raise SourceError(
                f"cannot read video '{self.path}': it has no decodable frames "
                "(is the file complete?)"
            )
        usable_fps = fps if math.isfinite(fps) and 0 < fps <= 1000 else None
        usable_count = int(count) if 0 < count < _MAX_PLAUSIBLE_FRAME_COUNT else None
        if usable_fps and usable_count and self.start_ms is not None:
            duration_ms = usable_count * 1000 / usable_fps
            if self.start_ms >= duration_ms:
                raise SourceError(
                    f"start {_seconds(self.start_ms)} is past the end of video '{self.path}' "
                    f"({_seconds(duration_ms)} long): choose an earlier start"
                )
        return usable_fps, usable_count

    def _expected_count(self, total_frames: int | None) -> int | None:
        """Frames the range and stride will keep, assuming a constant frame rate."""
        if self.fps is None or total_frames is None:
            return None
        first = math.ceil((self.start_ms or 0) * self.fps / 1000)
        stop = total_frames
        if self.end_ms is not None:
            stop = min(stop, math.ceil(self.end_ms * self.fps / 1000))
        return max(0, math.ceil((stop - first) / self.stride))

    def _expected_duration_ms(self, total_frames: int | None) -> int | None:
        """The range's length on the file's clock, assuming a constant frame rate."""
        if self.fps is None or total_frames is None:
            return None
        end_ms = total_frames * 1000 / self.fps
        if self.end_ms is not None:
            end_ms = min(end_ms, self.end_ms)
        return max(0, math.ceil(end_ms - (self.start_ms or 0)))

    def __iter__(self) -> Iterator[Frame]:
        self.close()
        capture = self._capture = self._open()
        try:
            if self.prefetch:
                self._prefetcher = _Prefetcher(
                    self._frames(capture), self.prefetch, self.description
                )
                yield from self._prefetcher
            else:
                yield from self._frames(capture)
        finally:
            self._stop_prefetching()
            capture.release()

    def _frames(self, capture: cv2.VideoCapture) -> Iterator[Frame]:
        start_ms = self.start_ms or 0
        last_t_ms = -1
        in_range = 0
        index = -1
        # grab() advances without retrieve()'s colour conversion and copy, so frames skipped
        # by stride or before the range cost less. The range is found by grabbing forward
        # rather than seeking: OpenCV seeks land on keyframes and lose the frame index.
        fps = self.fps or _FALLBACK_FPS
        while True:
            if capture.grab():
                index += 1
                own_ms = self._timestamp_ms(capture, index)
                self._check_continuity(last_t_ms, own_ms)
            else:
                resumed = self._past_damage(capture, index, last_t_ms)
                if resumed is None:
                    return
                index = resumed
                own_ms = self._timestamp_ms(capture, index)
            # The container's time says which frame this is: a demuxer that skips a
            # damaged stretch without failing would otherwise shift every later index.
            index = max(index, round(own_ms * fps / 1000))
            t_ms = max(own_ms, last_t_ms + 1)
            last_t_ms = t_ms
            if t_ms < start_ms:
                continue
            if self.end_ms is not None and t_ms >= self.end_ms:
                return
            keep = in_range % self.stride == 0
            in_range += 1
            if not keep:
                continue
            ok, image = capture.retrieve()
            if not ok or image is None:
                logger.warning(
                    "%s: frame %d could not be decoded; skipped", self.description, index
                )
                continue
            yield Frame(_as_bgr(image), t_ms, index)

    def _past_damage(self, capture: cv2.VideoCapture, index: int, last_t_ms: int) -> int | None:
        """After a failed grab: the index of the frame reading resumes at, or None.

        OpenCV ends a video at the first packet it cannot read, which silently cut a
        damaged file short. When the container announced more frames than were read
        (by more than a second's worth), the reader seeks forward a second at a time
        until a frame later than the last one read comes, and says where it broke
        and where it resumed; if none comes, it says where the file broke off.
        Frames read after a seek keep the container's own timestamps, and their
        index follows from those, so neither shifts.
        """
        total, fps = self._total_frames, self.fps or _FALLBACK_FPS
        step = max(1, round(fps))
        if total is None or index + 1 + step > total:
            return None  # the end, as announced (counts are approximate by a frame or so)
        broke_at = f"after frame {index} ({_seconds(max(0, last_t_ms))})"
        for target in range(index + 1 + step, total, step):
            if self.end_ms is not None and target * 1000 / fps >= self.end_ms:
                break
            if not capture.set(cv2.CAP_PROP_POS_FRAMES, target):
                continue
            t_ms = self._later_frame_ms(capture, target, last_t_ms)
            if t_ms is not None:
                logger.warning(
                    "%s is damaged %s: reading resumed at %s; what lies between was skipped",
                    self.description,
                    broke_at,
                    _seconds(t_ms),
                )
                return max(index + 1, round(t_ms * fps / 1000))
        logger.warning(
            "%s ends early, %s of the %d it announces (%s): the file is truncated or "
            "damaged there; the rest was not read",
            self.description,
            broke_at,
            total,
            _seconds(total * 1000 / fps),
        )
        return None

    def _check_continuity(self, last_t_ms: int, t_ms: int) -> None:
        """Warn when the container's time jumps: frames are missing (a damaged stretch
        the demuxer skipped without failing), more than a second and 10 frames' worth."""
        frame_ms = 1000 / (self.fps or _FALLBACK_FPS)
        if last_t_ms >= 0 and t_ms - last_t_ms > max(1000.0, 10 * frame_ms):
            logger.warning(
                "%s has no frames from %s to %s: the file is damaged there (or the "
                "recording paused)",
                self.description,
                _seconds(last_t_ms),
                _seconds(t_ms),
            )

    def _later_frame_ms(self, capture: cv2.VideoCapture, target: int, last_t_ms: int) -> int | None:
        """After a seek: grab up to the first frame later than `last_t_ms` (a seek may land
        on frames already read), and return its time; None if none reads."""
        for _ in range(MAX_FRAMES_BACK_AFTER_SEEK):
            if not capture.grab():
                return None
            t_ms = self._timestamp_ms(capture, target)
            if t_ms > last_t_ms:
                return t_ms
        return None

    def _timestamp_ms(self, capture: cv2.VideoCapture, index: int) -> int:
        pos_ms = capture.get(cv2.CAP_PROP_POS_MSEC)
        # Some containers report 0 (or nonsense) for every frame; only frame 0 may be at 0.
        if math.isfinite(pos_ms) and pos_ms >= 0 and (pos_ms > 0 or index == 0):
            return round(pos_ms)
        return round(index * 1000 / (self.fps or _FALLBACK_FPS))

    def _stop_prefetching(self) -> None:
        if self._prefetcher is not None:
            self._prefetcher.stop()
            self._prefetcher = None

    def close(self) -> None:
        """Stop decoding ahead and release the file; closing twice is harmless."""
        # The decoding thread must be done with the capture before it is released.
        self._stop_prefetching()
        if self._capture is not None:
            self._capture.release()
            self._capture = None


_END = object()


class _Prefetcher:
    """Runs a frame iterator up to `depth` frames ahead in a background thread.

    Iterate it once. Errors are raised in the caller's thread. `stop()` ends the thread
    and waits for it, so whatever the iterator reads from (a capture) can be released
    safely afterwards; iteration calls it when it ends, early or not.
    """

    def __init__(self, frames: Iterator[Frame], depth: int, name: str) -> None:
        self._frames = frames
        self._ready: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name=f"decode {name}", daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            for frame in self._frames:
                if not self._put(frame):
                    return
            self._put(_END)
        except BaseException as error:  # handed to the caller, raised there
            self._put(error)

    def __iter__(self) -> Iterator[Frame]:
        try:
            while True:
                item = self._ready.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield cast(Frame, item)
        finally:
            self.stop()

    def stop(self) -> None:
        """End the decoding thread and wait for it (unless called from it)."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()


def _seconds(ms: float) -> str:
    """A time for people, in the seconds `--start` and `--end` take."""
    return f"{ms / 1000:.3g} s" if ms < 1000 else f"{ms / 1000:.1f} s".replace(".0 s", " s")


def _check_range(start_ms: int | None, end_ms: int | None) -> None:
    if start_ms is not None and start_ms < 0:
        raise SourceError(f"start must be 0 s or later, got {_seconds(start_ms)}")
    if end_ms is not None and end_ms <= (start_ms or 0):
        raise SourceError(
            f"end ({_seconds(end_ms)}) must be after start ({_seconds(start_ms or 0)}): "
            "choose an end later than the start"
        )


def _decode_image(path: Path) -> ImageArray | None:
    """Decode an image file, or None if it is not one. Works with non-ASCII paths, which
    `cv2.imread` mishandles on Windows; IMREAD_COLOR also applies EXIF rotation and turns
    grey, 16-bit and RGBA files into 8-bit BGR."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    except (OSError, cv2.error):
        return None
    return None if image is None else _as_bgr(image)


class ImageSource(SourceBase):
    """One still image, yielded once at t_ms 0. Decoded at construction so a bad file fails
    before anything starts."""

    kind = "image"
    is_stream = False
    frame_count: int | None = 1
    duration_ms: int | None = 0

    def __init__(self, path: str | Path) -> None:
        self.path = _existing_file(Path(path), "an image file")
        self.description = f"image {self.path}"
        image = _decode_image(self.path)
        if image is None:
            raise SourceError(
                f"cannot read image '{self.path}': not a decodable image file "
                f"(supported: {_supported_list(IMAGE_EXTENSIONS)})"
            )
        self._image: ImageArray | None = image

    def __iter__(self) -> Iterator[Frame]:
        if self._image is not None:
            yield Frame(self._image, 0, 0, name=self.path.name)

    def close(self) -> None:
        """Let go of the decoded picture."""
        self._image = None


def natural_sort_key(name: str) -> tuple[object, ...]:
    """Sort key that puts "img2" before "img10". `re.split` with a group alternates text and
    digits, starting with text, so ints and strs never meet at the same position."""
    parts = re.split(r"(\d+)", name.casefold())
    key = tuple(int(part) if i % 2 else part for i, part in enumerate(parts))
    # "img01" and "img1" have equal keys; the name breaks the tie. It sits outside `key` so
    # that a short key is never compared with an int in a longer one.
    return (key, name)


def _list_images(folder: Path) -> list[Path]:
    images = [
        entry
        for entry in folder.iterdir()
        if not entry.name.startswith(".")
        and entry.suffix.lower() in IMAGE_EXTENSIONS
        and entry.is_file()
    ]
    return sorted(images, key=lambda entry: natural_sort_key(entry.name))


class FolderSource(SourceBase):
    """The images of one folder (not its subfolders) in natural name order, as independent
    stills at t_ms = position * interval_ms.

    Position counts every image in the folder, including ones skipped by stride or because
    they cannot be decoded (logged as a warning, not fatal: one bad file should not lose a
    folder of results). `frame_count` is therefore an upper bound if some files are corrupt.
    """

    kind = "folder"
    is_stream = False

    def __init__(self, path: str | Path, *, interval_ms: int = 1000, stride: int = 1) -> None:
        folder = Path(path)
        if not folder.exists():
            raise SourceError(f"no such folder: '{folder}'")
        if not folder.is_dir():
            raise SourceError(f"'{folder}' is not a folder: pass a folder of images")
        _check_stride(stride)
        if interval_ms < 1:
            raise SourceError(f"interval must be 1 ms or more, got {interval_ms} ms")
        self.path = folder
        self.interval_ms = interval_ms
        self.stride = stride
        self.description = f"folder {folder}"
        self.paths = _list_images(folder)
        if not self.paths:
            raise SourceError(
                f"no images in folder '{folder}' (looked for "
                f"{_supported_list(IMAGE_EXTENSIONS)}; subfolders are not searched)"
            )
        self.frame_count = math.ceil(len(self.paths) / stride)
        self.duration_ms = len(self.paths) * interval_ms

    def __iter__(self) -> Iterator[Frame]:
        for position in range(0, len(self.paths), self.stride):
            image_path = self.paths[position]
            image = _decode_image(image_path)
            if image is None:
                logger.warning("skipping '%s': not a decodable image file", image_path)
                continue
            yield Frame(image, position * self.interval_ms, position, name=image_path.name)


def open_source(
    spec: str | Path,
    *,
    stride: int = 1,
    start_ms: int | None = None,
    end_ms: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    give_up: Callable[[], bool] = lambda: False,
) -> FrameSource:
    """Turn a command-line `--source` value into a source.

    A string of digits is a camera index; a folder is a folder of images; a file is an image
    or a video by its extension. `stride` applies to videos and folders, `start_ms`/`end_ms`
    to videos only; asking for them elsewhere is an error rather than silently ignored.
    `give_up()` true stops waiting for a camera that hangs in its open.
    """
    if isinstance(spec, str) and spec.strip().isdigit():
        _reject_options("a camera", stride=stride, start_ms=start_ms, end_ms=end_ms)
        return CameraSource(int(spec.strip()), clock=clock, give_up=give_up)
    path = Path(spec).expanduser()
    if not path.exists():
        raise SourceError(f"no such file or folder: '{spec}'")
    if path.is_dir():
        _reject_options("a folder", start_ms=start_ms, end_ms=end_ms)
        return FolderSource(path, stride=stride)
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        _reject_options("an image", stride=stride, start_ms=start_ms, end_ms=end_ms)
        return ImageSource(path)
    if suffix in VIDEO_EXTENSIONS:
        return VideoFileSource(path, stride=stride, start_ms=start_ms, end_ms=end_ms)
    raise SourceError(
        f"cannot use '{spec}' as a source: unsupported file type '{suffix or '(none)'}' "
        f"(supported: a camera index such as 0, a folder of images, images "
        f"{_supported_list(IMAGE_EXTENSIONS)}, videos {_supported_list(VIDEO_EXTENSIONS)})"
    )


def _reject_options(
    what: str,
    *,
    stride: int = 1,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> None:
    if stride != 1:
        raise SourceError(f"stride {stride} does not apply to {what}: it needs a video or folder")
    if start_ms is not None or end_ms is not None:
        raise SourceError(f"a start or end time does not apply to {what}: it needs a video file")
