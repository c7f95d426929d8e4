"""What makes the monitor cheap: adaptive camera sampling, the tracking burst, decoding
ahead, reused buffers and a lighter MediaPipe import (figures in docs/performance.md)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from posture import sources
from posture.control import Controls
from posture.monitor import AdaptiveRate, Monitor, MonitorSettings
from posture.pose import PoseEstimator
from posture.scoring import Assessment, Scorer
from posture.sources import CameraSource, Frame, VideoFileSource, open_source
from posture.vocabulary import Verdict
from tests.conftest import REPO, SESSION_VIDEO, SLOUCHED_PHOTO, UPRIGHT_PHOTO
from tests.fakes import SLOUCHED, UPRIGHT, Clocks, Estimators, SceneCamera, profile_of

GOOD = Assessment(Verdict.GOOD, 95, neck_excess=0.1, trunk_excess=0.1)
SLOUCH = Assessment(Verdict.SLOUCH, 40, neck_excess=0.5, trunk_excess=2.0)


# --- the adaptive rate (pure) ---------------------------------------------------------------


def feed(rate: AdaptiveRate, assessment: Assessment, smoothed: Verdict | None) -> float:
    rate.update(assessment, smoothed)
    return rate.interval_s()


def test_settled_posture_is_sampled_slowly_and_the_start_at_fps():
    rate = AdaptiveRate(MonitorSettings())
    assert rate.interval_s() == 0.5  # no verdict yet: 1/fps
    assert feed(rate, GOOD, Verdict.GOOD) == 2.0  # settled: 1/settled_fps
    assert feed(rate, GOOD, Verdict.GOOD) == 2.0
    assert not rate.in_burst


def test_a_change_starts_a_burst_of_frames_then_fps_until_settled():
    rate = AdaptiveRate(MonitorSettings(burst_frames=3))
    feed(rate, GOOD, Verdict.GOOD)
    # The frame that shows the change starts the burst and is not judged...
    assert feed(rate, SLOUCH, Verdict.GOOD) == 0.0 and rate.in_burst
    assert rate.bursts == 1
    # ...the burst runs to its end even if a frame in it looks settled (tracking lag)...
    assert feed(rate, GOOD, Verdict.GOOD) == 0.0 and rate.in_burst
    assert feed(rate, SLOUCH, Verdict.GOOD) == 0.0 and rate.in_burst
    # ...its last frame is judged, and the rate is fps until the verdict follows.
    assert feed(rate, SLOUCH, Verdict.GOOD) == 0.5 and not rate.in_burst
    assert feed(rate, SLOUCH, Verdict.GOOD) == 0.5
    assert rate.bursts == 1  # one burst per change, however long it takes to settle
    assert feed(rate, SLOUCH, Verdict.SLOUCH) == 2.0


def test_a_jump_in_the_deviations_starts_a_burst_before_the_verdict_changes():
    rate = AdaptiveRate(MonitorSettings(burst_frames=2, change_excess=0.5))
    feed(rate, GOOD, Verdict.GOOD)
    drifting = Assessment(Verdict.GOOD, 80, neck_excess=0.1, trunk_excess=0.7)
    assert feed(rate, drifting, Verdict.GOOD) == 0.0
    small = Assessment(Verdict.GOOD, 94, neck_excess=0.2, trunk_excess=0.3)
    rate = AdaptiveRate(MonitorSettings(burst_frames=2, change_excess=0.5))
    feed(rate, GOOD, Verdict.GOOD)
    assert feed(rate, small, Verdict.GOOD) == 2.0  # jitter is not a change


def test_fixed_rate_and_the_settled_rate_never_above_fps():
    fixed = AdaptiveRate(MonitorSettings(settled_fps=None))
    assert feed(fixed, GOOD, Verdict.GOOD) == 0.5
    assert feed(fixed, SLOUCH, Verdict.GOOD) == 0.5
    slow = AdaptiveRate(MonitorSettings(fps=0.25))
    assert feed(slow, GOOD, Verdict.GOOD) == 4.0  # min(settled_fps, fps)


def test_nobody_there_is_settled_too():
    rate = AdaptiveRate(MonitorSettings())
    away = Assessment(Verdict.NO_PERSON, None)
    assert feed(rate, away, Verdict.NO_PERSON) == 2.0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("settled_fps", 0.0),
        ("settled_fps", 31.0),
        ("fps", 0.05),
        ("fps", 31.0),
        ("burst_frames", -1),
        ("change_excess", 0.0),
    ],
)
def test_bad_sampling_settings_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        MonitorSettings(**{field: value})


def test_settings_stay_backward_compatible():
    settings = MonitorSettings(2.0, 1.0)  # positional, as before
    assert (settings.fps, settings.speed, settings.settled_fps) == (2.0, 1.0, 0.5)


# --- the camera source: pace from a function, one buffer ----------------------------------


class SteadyCamera:
    """A camera on a fake clock: a frame every 1/30 s, one driver buffer, like V4L2."""

    def __init__(self, clock: list[float], image_for=None) -> None:
        self.clock = clock
        self.image_for = image_for or (lambda t: np.full((48, 64, 3), int(t * 10) % 256, np.uint8))
        self.opened_at = clock[0]
        self.next_arrival = 0
        self.waiting: list[int] = []
        self.current = 0
        self.retrieve_args: list[object] = []

    def isOpened(self):
        return True

    def set(self, prop, value):
        return True

    def _fill(self):
        arrived = int((self.clock[0] - self.opened_at) * 30 + 1e-6)
        if arrived > self.next_arrival:
            if not self.waiting:
                self.waiting.append(self.next_arrival)
            self.next_arrival = arrived

    def grab(self):
        self._fill()
        if not self.waiting:
            self.clock[0] = self.opened_at + (self.next_arrival + 1) / 30  # wait for the sensor
            self._fill()
        self.current = self.waiting.pop(0)
        return True

    def retrieve(self, image=None):
        self.retrieve_args.append(image)
        frame = self.image_for(self.current / 30)
        if image is not None and image.shape == frame.shape:
            np.copyto(image, frame)
            return True, image
        return True, frame.copy()

    def release(self):
        pass


def camera_on_fake_clock(monkeypatch, image_for=None):
    now = [1000.0]
    camera = SteadyCamera(now, image_for)
    monkeypatch.setattr(sources.cv2, "VideoCapture", lambda index: camera)
    return now, camera, CameraSource(0, clock=lambda: now[0])


def test_camera_pace_can_change_after_every_frame(monkeypatch):
    now, _, source = camera_on_fake_clock(monkeypatch)
    paces = iter([2.0, 0.0, 0.0, 0.5, 2.0])
    asked = []

    def pace():
        asked.append(now[0])
        return next(paces)

    def wait(seconds):
        now[0] += seconds

    times = []
    for frame in source.sampled(pace, wait=wait):
        times.append(frame.t_ms)
        if len(times) == 6:
            break
    gaps = np.diff(times)
    assert len(asked) == 5  # asked after each frame was handled, not before
    assert 1900 <= gaps[0] <= 2100
    assert all(gap <= 70 for gap in gaps[1:3])  # 0: the next fresh frame
    assert 450 <= gaps[3] <= 550 and 1900 <= gaps[4] <= 2100


def test_camera_frames_can_share_one_buffer(monkeypatch):
    now, camera, source = camera_on_fake_clock(monkeypatch)
    frames = []
    for frame in source.sampled(
        0.5, wait=lambda s: now.__setitem__(0, now[0] + s), reuse_buffer=True
    ):
        frames.append((frame.image, int(frame.image[0, 0, 0])))
        if len(frames) == 3:
            break
    first_buffer = frames[0][0]
    assert all(image is first_buffer for image, _ in frames[1:])
    assert camera.retrieve_args[0] is None and camera.retrieve_args[1] is first_buffer
    assert len({value for _, value in frames}) == 3  # each sample's own content


# --- the monitor on a camera: cheap when settled, quick on a change ------------------------


def watch_scene(monkeypatch, settings, until_s=24.0, preview=None, slouch_at_s=10.0):
    """The monitor on a camera (fake VideoCapture, fake clocks, fake pose model): upright
    until `slouch_at_s`, slouched after."""
    clocks = Clocks()
    cameras = []

    def capture(index):
        cameras.append(SceneCamera(clocks, lambda t_s: UPRIGHT if t_s < slouch_at_s else SLOUCHED))
        return cameras[-1]

    monkeypatch.setattr(sources.cv2, "VideoCapture", capture)
    controls = Controls(sleep=clocks.sleep)
    judged = []

    def status(state):
        judged.append((state.now_s, state.verdict))
        if state.now_s >= until_s:
            controls.stop()

    runner = Monitor(
        lambda: CameraSource(0, clock=clocks.monotonic),
        Scorer(profile_of()),
        estimator=Estimators(),
        settings=settings,
        status=status,
        controls=controls,
        clock=clocks.monotonic,
        now=clocks.now,
        preview=preview,
    )
    runner.run()
    return runner, judged, cameras


def test_the_monitor_samples_a_settled_camera_slowly_and_catches_a_slouch(monkeypatch):
    runner, judged, _ = watch_scene(monkeypatch, MonitorSettings())
    duration = judged[-1][0]
    # Upright for 10 s then slouched: about one frame a second on average, judged ones
    # never closer than the fps grid allows.
    assert runner.frames_analysed / duration < 1.3
    assert all(b - a >= 0.375 - 1e-9 for (a, _), (b, _) in itertools.pairwise(judged))
    assert runner.rate.bursts == 1
    onset = next(t for t, verdict in judged if t >= 10 and verdict is not Verdict.GOOD)
    assert onset - 10 <= 3.0
    assert all(verdict is Verdict.GOOD for t, verdict in judged if t < 10)
    # Settled upright: a frame every 2 s (1/settled_fps).
    upright = [t for t, verdict in judged if 4 < t < 10]
    assert all(1.9 <= b - a <= 2.1 for a, b in itertools.pairwise(upright))


def test_the_preview_is_shown_every_analysed_frame_with_the_smoothed_verdict(monkeypatch):
    shown = []

    def preview(frame, pose, assessment):
        shown.append((frame.image.shape, pose.detected, assessment.verdict))

    runner, judged, _ = watch_scene(monkeypatch, MonitorSettings(), 13.0, preview)
    assert len(shown) == runner.frames_analysed > len(judged)  # burst frames are shown too
    assert all(detected for _, detected, _ in shown)
    # What the preview says is the smoothed verdict, the one the status line shows.
    assert {v for *_, v in shown} <= {v for _, v in judged}


def test_fixed_rate_sampling_is_still_available(monkeypatch):
    runner, judged, _ = watch_scene(monkeypatch, MonitorSettings(settled_fps=None), until_s=8.0)
    assert runner.frames_analysed == len(judged)  # every frame judged, none in bursts
    assert 1.8 <= len(judged) / judged[-1][0] <= 2.2


# --- video files: decoded ahead, same frames -----------------------------------------------


def test_prefetched_video_gives_the_same_frames_as_decoding_inline():
    ahead = [(f.t_ms, f.index, f.image.sum()) for f in VideoFileSource(SESSION_VIDEO, stride=7)]
    inline = [
        (f.t_ms, f.index, f.image.sum())
        for f in VideoFileSource(SESSION_VIDEO, stride=7, prefetch=0)
    ]
    assert ahead == inline and len(ahead) == 58


def test_stopping_early_stops_the_decoding_thread_before_release():
    source = VideoFileSource(SESSION_VIDEO)
    with source:
        for frame in source:
            if frame.index == 5:
                break
    assert not [t for t in threading.enumerate() if t.name.startswith("decode video")]
    assert source._capture is None


def test_a_decoding_error_reaches_the_caller(monkeypatch, tmp_path: Path):
    path = tmp_path / "x.mp4"
    path.touch()

    class Broken:
        def __init__(self, _):
            self.frames = 0

        def isOpened(self):
            return True

        def get(self, prop):
            return {cv2.CAP_PROP_FPS: 10.0, cv2.CAP_PROP_FRAME_COUNT: 5.0}.get(prop, 0.0)

        def grab(self):
            self.frames += 1
            if self.frames > 3:
                raise RuntimeError("decoder exploded")
            return True

        def retrieve(self):
            return True, np.zeros((8, 8, 3), np.uint8)

        def release(self):
            pass

    monkeypatch.setattr(sources.cv2, "VideoCapture", Broken)
    with pytest.raises(RuntimeError, match="decoder exploded"):
        list(VideoFileSource(path))


def test_negative_prefetch_is_refused():
    with pytest.raises(sources.SourceError, match="prefetch"):
        VideoFileSource(SESSION_VIDEO, prefetch=-1)


# --- the pose estimator: a reused RGB buffer, a lighter import ----------------------------


def test_a_reused_rgb_buffer_gives_the_same_landmarks():
    with open_source(UPRIGHT_PHOTO) as up, open_source(SLOUCHED_PHOTO) as down:
        upright, slouched = next(iter(up)), next(iter(down))
    with PoseEstimator(mode="image") as estimator:
        estimator.estimate(upright)
        reused = estimator.estimate(slouched)
    with PoseEstimator(mode="image") as estimator:
        fresh = estimator.estimate(slouched)
    np.testing.assert_allclose(reused.image_xy, fresh.image_xy)


def test_images_of_other_sizes_get_their_own_buffer():
    with PoseEstimator(mode="image") as estimator:
        for size in ((120, 160), (90, 200), (120, 160)):
            frame = Frame(np.zeros((*size, 3), np.uint8), 0, 0)
            assert not estimator.estimate(frame).detected


def test_mediapipe_is_imported_without_its_drawing_and_audio_helpers():
    script = (
        "import sys, json\n"
        "from posture.pose import import_mediapipe_vision\n"
        "vision = import_mediapipe_vision()\n"
        "light = [m for m in ('matplotlib', 'matplotlib.pyplot', 'sounddevice') "
        "if m in sys.modules]\n"
        "from mediapipe.tasks.python.vision import drawing_utils\n"
        "real = drawing_utils.plt.figure.__module__\n"
        "import matplotlib.pyplot as plt\n"
        "print(json.dumps({'light': light, 'real': real, 'plt': plt.__name__, "
        "'task': vision.PoseLandmarker.__name__}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "MPLBACKEND": "Agg", "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["light"] == []  # not imported while MediaPipe loaded
    assert seen["real"] == "matplotlib.pyplot"  # but there on first use
    assert seen["plt"] == "matplotlib.pyplot" and seen["task"] == "PoseLandmarker"
