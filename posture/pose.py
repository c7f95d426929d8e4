"""The only module that talks to MediaPipe: frames in, `PoseResult` out.

`PoseEstimator` wraps MediaPipe Tasks' `PoseLandmarker`. Streams (camera, video)
use VIDEO mode, which tracks the person between frames and needs strictly
increasing timestamps; stills use IMAGE mode. Frames are downscaled before
inference because the model's input is 256x256 anyway: decoding and converting a
full-HD frame costs more than it buys. "No pose" is a value, never an exception.

The model ships inside the package (`posture/models/`, Apache-2.0) and is checked
against its SHA-256 before use; nothing is downloaded at run time.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import logging
import os
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal, Protocol

import cv2
import numpy as np

from posture.errors import ModelError
from posture.landmarks import NUM_LANDMARKS, PoseResult

if TYPE_CHECKING:
    from posture.sources import Frame

log = logging.getLogger(__name__)

RunningMode = Literal["video", "image"]


class Estimator(Protocol):
    """What the monitor needs of a pose model: a picture and its time in, landmarks out.

    `PoseEstimator` (MediaPipe) is the real one; tests give the monitor a fake
    that returns poses of known geometry, so they run without the model. In
    "video" mode `t_ms` must increase from call to call; "no pose" is a value
    (`PoseResult.empty`), never an exception.
    """

    def estimate_image(self, image_bgr: np.ndarray, t_ms: int = 0) -> PoseResult:
        """Landmarks in a BGR picture taken at `t_ms`, or an empty result."""
        ...

    def close(self) -> None:
        """Release the model; closing twice is harmless."""
        ...


# Makes an estimator for a running mode: "video" for streams, "image" for stills.
EstimatorFactory = Callable[[RunningMode], Estimator]


def open_estimator(mode: RunningMode) -> Estimator:
    """The real estimator (MediaPipe's lite model) in `mode`: the monitor's default."""
    return PoseEstimator(mode=mode)


@dataclass(frozen=True)
class ModelSpec:
    """A pose model bundled with the package, pinned by checksum."""

    name: str
    filename: str
    sha256: str


# Room for "full" and "heavy" later: add the file under posture/models/ and a line here.
MODELS: dict[str, ModelSpec] = {
    "lite": ModelSpec(
        name="lite",
        filename="pose_landmarker_lite.task",
        sha256="59929e1d1ee95287735ddd833b19cf4ac46d29bc7afddbbf6753c459690d574a",
    ),
}
DEFAULT_MODEL = "lite"

# The longest image side fed to the model. The landmarker resizes to 256x256
# internally; 640 px keeps enough detail for its person detector on a small,
# distant subject while making decode-to-tensor work cheap.
DEFAULT_MAX_SIDE_PX = 640


def load_model_bytes(name: str = DEFAULT_MODEL) -> bytes:
    """Read a bundled model and verify its checksum."""
    spec = MODELS.get(name)
    if spec is None:
        choices = ", ".join(sorted(MODELS))
        raise ModelError(f"unknown pose model {name!r}: choose one of {choices}")
    resource = resources.files("posture") / "models" / spec.filename
    try:
        data = resource.read_bytes()
    except OSError as error:
        raise ModelError(
            f"pose model {spec.filename!r} is missing from the installed package ({error}); "
            "reinstall posture"
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        raise ModelError(
            f"pose model {spec.filename!r} is corrupt (sha256 {digest[:12]}..., expected "
            f"{spec.sha256[:12]}...); reinstall posture"
        )
    return data


# Importing any part of MediaPipe runs its package's __init__, which also imports its
# drawing helpers (matplotlib.pyplot) and its audio tasks (sounddevice): measured 0.3 s
# of a 0.75 s start-up to the first verdict (docs/performance.md), for modules the pose
# task never uses. While MediaPipe is imported, stand-ins take their place; a stand-in
# imports the real module the first time anything is looked up on it, so MediaPipe's
# drawing and audio helpers still work for whoever calls them.
DEFERRED_MODULES = ("matplotlib", "matplotlib.pyplot", "sounddevice")


class _DeferredModule(types.ModuleType):
    """A module imported on first use, standing in while MediaPipe is imported."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        child = sys.modules.get(f"{self.__name__}.{name}")
        if isinstance(child, _DeferredModule):
            return child  # `import matplotlib.pyplot as plt` while standing in
        if sys.modules.get(self.__name__) is self:
            raise AttributeError(f"{self.__name__}.{name} is not available yet")
        return getattr(importlib.import_module(self.__name__), name)


def import_mediapipe_vision() -> Any:
    """`mediapipe.tasks.python.vision`, without importing what the pose task never uses."""
    loaded = sys.modules.get("mediapipe.tasks.python.vision")
    if loaded is not None:
        return loaded
    placed = [name for name in DEFERRED_MODULES if name not in sys.modules]
    for name in placed:
        sys.modules[name] = _DeferredModule(name)
    try:
        return importlib.import_module("mediapipe.tasks.python.vision")
    except Exception:  # a MediaPipe that needs them at import: import it the plain way
        log.debug("deferred import of MediaPipe failed; importing it fully", exc_info=True)
        for name in [n for n in sys.modules if n == "mediapipe" or n.startswith("mediapipe.")]:
            del sys.modules[name]
        for name in placed:
            sys.modules.pop(name, None)
        placed = []
        return importlib.import_module("mediapipe.tasks.python.vision")
    finally:
        for name in placed:
            if isinstance(sys.modules.get(name), _DeferredModule):
                del sys.modules[name]


@contextlib.contextmanager
def _quiet_native_stderr(enabled: bool) -> Iterator[None]:
    """Silence MediaPipe's C++ logging, which writes straight to file descriptor 2.

    Environment variables such as GLOG_minloglevel do not reach it, so the
    descriptor itself is pointed at /dev/null for the duration.
    """
    if not enabled:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def downscale(image: np.ndarray, max_side_px: int) -> np.ndarray:
    """Shrink so that the longest side is at most `max_side_px`; never enlarge."""
    height, width = image.shape[:2]
    longest = max(height, width)
    if longest <= max_side_px:
        return image
    factor = max_side_px / longest
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


class PoseEstimator:
    """MediaPipe PoseLandmarker behind the project's own types.

    Use as a context manager so the native landmarker is closed::

        with PoseEstimator(mode="video") as estimator:
            for frame in source:
                pose = estimator.estimate(frame)
    """

    def __init__(
        self,
        *,
        mode: RunningMode = "video",
        model: str = DEFAULT_MODEL,
        max_side_px: int = DEFAULT_MAX_SIDE_PX,
        num_poses: int = 1,
        min_detection_confidence: float = 0.5,
        quiet: bool = True,
    ) -> None:
        if mode not in ("video", "image"):
            raise ValueError(f"mode must be 'video' or 'image', got {mode!r}")
        if max_side_px < 64:
            raise ValueError(f"max_side_px must be at least 64, got {max_side_px}")
        if num_poses < 1:
            raise ValueError(f"num_poses must be at least 1, got {num_poses}")
        self.mode: RunningMode = mode
        self.model = model
        self.max_side_px = max_side_px
        self.quiet = quiet
        self._last_t_ms = -1
        # The RGB copy handed to MediaPipe, reused from frame to frame: MediaPipe copies
        # it into its own image, and a fresh 1 MB array costs page faults every time.
        self._rgb: np.ndarray | None = None
        # The first inference logs too (a one-time projection warning).
        self._calls_to_silence = 1
        self._landmarker = self._create(model, mode, num_poses, min_detection_confidence)

    def _create(self, model: str, mode: RunningMode, num_poses: int, confidence: float) -> Any:
        model_bytes = load_model_bytes(model)
        with _quiet_native_stderr(self.quiet):
            vision = import_mediapipe_vision()
            from mediapipe.tasks.python import BaseOptions

            running_mode = vision.RunningMode.VIDEO if mode == "video" else vision.RunningMode.IMAGE
            options = vision.PoseLandmarkerOptions(
                base_options=BaseOptions(model_asset_buffer=model_bytes),
                running_mode=running_mode,
                num_poses=num_poses,
                min_pose_detection_confidence=confidence,
                min_pose_presence_confidence=confidence,
                min_tracking_confidence=confidence,
            )
            try:
                return vision.PoseLandmarker.create_from_options(options)
            except (RuntimeError, ValueError) as error:
                raise ModelError(f"cannot load pose model {model!r}: {error}") from None

    def __enter__(self) -> PoseEstimator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the native landmarker; closing twice is harmless."""
        if self._landmarker is not None:
            # Closing logs too ("DestroyAccelerator ..." on some runs).
            with _quiet_native_stderr(self.quiet):
                self._landmarker.close()
            self._landmarker = None

    def estimate(self, frame: Frame) -> PoseResult:
        """Landmarks of the most prominent person in `frame`, or `PoseResult.empty`."""
        return self.estimate_image(frame.image, frame.t_ms)

    def estimate_image(self, image_bgr: np.ndarray, t_ms: int = 0) -> PoseResult:
        """Landmarks in a BGR picture; `t_ms` orders the frames of a stream (VIDEO mode)."""
        if self._landmarker is None:
            raise RuntimeError("PoseEstimator is closed")
        import mediapipe as mp

        small = downscale(image_bgr, self.max_side_px)
        if self._rgb is None or self._rgb.shape != small.shape:
            self._rgb = np.empty_like(small)
        rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB, dst=self._rgb)
        mp_image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        with _quiet_native_stderr(self.quiet and self._calls_to_silence > 0):
            if self.mode == "video":
                # VIDEO mode rejects a timestamp that does not increase.
                t_ms = max(int(t_ms), self._last_t_ms + 1)
                self._last_t_ms = t_ms
                result = self._landmarker.detect_for_video(mp_image, t_ms)
            else:
                result = self._landmarker.detect(mp_image)
        self._calls_to_silence = max(0, self._calls_to_silence - 1)
        height, width = small.shape[:2]
        return pose_from_mediapipe(result, (width, height))


def pose_from_mediapipe(result: Any, image_size: tuple[int, int]) -> PoseResult:
    """Convert a MediaPipe `PoseLandmarkerResult` (first person) to a `PoseResult`."""
    if not result.pose_landmarks:
        return PoseResult.empty(image_size)
    image_landmarks = result.pose_landmarks[0]
    world_landmarks = result.pose_world_landmarks[0] if result.pose_world_landmarks else None
    image_xy = np.array([[p.x, p.y] for p in image_landmarks], dtype=np.float64)
    image_z = np.array([p.z for p in image_landmarks], dtype=np.float64)
    visibility = np.array(
        [p.visibility if p.visibility is not None else 0.0 for p in image_landmarks],
        dtype=np.float64,
    )
    if world_landmarks is not None:
        world_xyz = np.array([[p.x, p.y, p.z] for p in world_landmarks], dtype=np.float64)
    else:
        world_xyz = np.full((NUM_LANDMARKS, 3), np.nan)
    return PoseResult(
        image_size=image_size,
        image_xy=image_xy,
        image_z=image_z,
        visibility=visibility,
        world_xyz=world_xyz,
        person_count=len(result.pose_landmarks),
    )
