"""Tests for posture.sources: every source type, every error message, and a camera fake.

Test media are made in tmp_path with OpenCV. Video frames carry their own frame number as
eight black/white stripes (one bit each), wide enough to survive lossy mp4v compression, so
a test can check that stride and range picked the right frames by looking at the pixels.
"""

from __future__ import annotations

import json
import logging
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from posture import sources
from posture.errors import PostureError, SourceError
from posture.sources import (
    CameraLostError,
    CameraOpenError,
    CameraSource,
    FolderSource,
    Frame,
    FrameSource,
    ImageSource,
    Pace,
    VideoFileSource,
    natural_sort_key,
    open_source,
)

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"

VIDEO_FPS = 10
VIDEO_FRAMES = 25  # 2.5 s
STRIPE_PX = 10
BITS = 8
VIDEO_W, VIDEO_H = STRIPE_PX * BITS, 64


# --- test media ----------------------------------------------------------------------------


def numbered_frame(number: int) -> np.ndarray:
    image = np.zeros((VIDEO_H, VIDEO_W, 3), np.uint8)
    for bit in range(BITS):
        if number >> bit & 1:
            image[:, bit * STRIPE_PX : (bit + 1) * STRIPE_PX] = 255
    return image


def frame_number(image: np.ndarray) -> int:
    # Read the middle of each stripe; compression blurs the edges.
    centres = image[:, STRIPE_PX // 2 :: STRIPE_PX].mean(axis=(0, 2))
    return sum(1 << bit for bit, value in enumerate(centres[:BITS]) if value > 127)


def write_video(path: Path, count: int = VIDEO_FRAMES, fourcc: str = "mp4v") -> Path:
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*fourcc), VIDEO_FPS, (VIDEO_W, VIDEO_H)
    )
    assert writer.isOpened()
    for number in range(count):
        writer.write(numbered_frame(number))
    writer.release()
    return path


def write_image(path: Path, value: int = 128, size: tuple[int, int] = (40, 30)) -> Path:
    width, height = size
    ok, data = cv2.imencode(path.suffix, np.full((height, width, 3), value, np.uint8))
    assert ok
    # tofile, not imwrite: some test paths are deliberately non-ASCII.
    data.tofile(path)
    return path


@pytest.fixture(scope="module")
def video_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("video") / "clip.mp4")


def frames_of(source: FrameSource) -> list[Frame]:
    with source:
        return list(source)


# --- Frame -----------------------------------------------------------------------------------


def test_frame_accepts_a_bgr_image_and_reports_its_size() -> None:
    frame = Frame(np.zeros((30, 40, 3), np.uint8), t_ms=5, index=2)
    assert frame.size == (40, 30)


@pytest.mark.parametrize(
    ("image", "t_ms", "index", "message"),
    [
        (np.zeros((30, 40), np.uint8), 0, 0, "HxWx3"),
        (np.zeros((30, 40, 4), np.uint8), 0, 0, "HxWx3"),
        (np.zeros((0, 40, 3), np.uint8), 0, 0, "HxWx3"),
        (np.zeros((30, 40, 3), np.float32), 0, 0, "uint8"),
        (np.zeros((30, 40, 3), np.uint8), -1, 0, "t_ms"),
        (np.zeros((30, 40, 3), np.uint8), 0, -1, "index"),
    ],
)
def test_frame_rejects_invalid_values(image: Any, t_ms: int, index: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Frame(image, t_ms=t_ms, index=index)


# --- video ----------------------------------------------------------------------------------


def test_video_yields_every_frame_at_the_files_own_timestamps(video_path: Path) -> None:
    source = VideoFileSource(video_path)
    frames = frames_of(source)

    assert (source.kind, source.is_stream, source.frame_count) == ("video", True, VIDEO_FRAMES)
    assert source.description == f"video {video_path}"
    assert len(frames) == VIDEO_FRAMES
    assert all(frame.image.shape == (VIDEO_H, VIDEO_W, 3) for frame in frames)
    assert [frame.index for frame in frames] == list(range(VIDEO_FRAMES))
    assert [frame_number(frame.image) for frame in frames] == list(range(VIDEO_FRAMES))
    assert all(frame.name is None for frame in frames)
    t_ms = [frame.t_ms for frame in frames]
    assert t_ms[0] == 0
    assert np.diff(t_ms).tolist() == pytest.approx([100] * (VIDEO_FRAMES - 1), abs=1)


def test_video_stride_keeps_every_nth_frame(video_path: Path) -> None:
    source = VideoFileSource(video_path, stride=3)
    frames = frames_of(source)

    expected = list(range(0, VIDEO_FRAMES, 3))
    assert [frame.index for frame in frames] == expected
    assert [frame_number(frame.image) for frame in frames] == expected
    assert [frame.t_ms for frame in frames] == [100 * i for i in expected]
    assert source.frame_count == len(expected) == 9


@pytest.mark.parametrize(
    ("start_ms", "end_ms", "stride", "expected"),
    [
        (1000, 2000, 1, list(range(10, 20))),
        (1000, 2000, 4, [10, 14, 18]),
        (1050, None, 1, list(range(11, VIDEO_FRAMES))),
        (None, 450, 1, [0, 1, 2, 3, 4]),
        (2400, None, 1, [24]),
        (0, 100, 1, [0]),
        (2000, 9000, 2, [20, 22, 24]),
    ],
)
def test_video_range_selects_frames_on_the_files_clock(
    video_path: Path, start_ms: int | None, end_ms: int | None, stride: int, expected: list[int]
) -> None:
    source = VideoFileSource(video_path, stride=stride, start_ms=start_ms, end_ms=end_ms)
    frames = frames_of(source)

    assert [frame.index for frame in frames] == expected
    assert [frame_number(frame.image) for frame in frames] == expected
    assert [frame.t_ms for frame in frames] == [100 * i for i in expected]
    assert source.frame_count == len(expected)


def test_video_can_be_iterated_twice_from_the_start(video_path: Path) -> None:
    with VideoFileSource(video_path, stride=5) as source:
        first = [frame.index for frame in source]
        second = [frame.index for frame in source]
    assert first == second == [0, 5, 10, 15, 20]


def test_video_reads_other_containers(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.avi", count=6, fourcc="MJPG")
    frames = frames_of(VideoFileSource(path))
    assert [frame_number(frame.image) for frame in frames] == list(range(6))
    assert [frame.t_ms for frame in frames] == [0, 100, 200, 300, 400, 500]


def test_video_errors_name_the_file_and_the_fix(tmp_path: Path, video_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video" * 100)
    empty_avi = tmp_path / "empty.avi"
    writer = cv2.VideoWriter(str(empty_avi), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    writer.release()

    with pytest.raises(SourceError, match=r"no such file: '.*missing\.mp4'"):
        VideoFileSource(tmp_path / "missing.mp4")
    with pytest.raises(SourceError, match=r"is a folder, not a video file"):
        VideoFileSource(tmp_path)
    with pytest.raises(SourceError, match=r"cannot open video '.*junk\.mp4': OpenCV cannot decode"):
        VideoFileSource(junk)
    with pytest.raises(SourceError, match=r"cannot read video '.*empty\.avi': it has no decodable"):
        VideoFileSource(empty_avi)
    with pytest.raises(SourceError, match=r"stride must be 1 or more, got 0"):
        VideoFileSource(video_path, stride=0)
    with pytest.raises(SourceError, match=r"end \(1 s\) must be after start \(2 s\)"):
        VideoFileSource(video_path, start_ms=2000, end_ms=1000)
    with pytest.raises(SourceError, match=r"end \(1 s\) must be after start \(1 s\)"):
        VideoFileSource(video_path, start_ms=1000, end_ms=1000)
    with pytest.raises(SourceError, match=r"start must be 0 s or later, got -0.005 s"):
        VideoFileSource(video_path, start_ms=-5)
    with pytest.raises(SourceError, match=r"start 3 s is past the end of video .*\(2.5 s long\)"):
        VideoFileSource(video_path, start_ms=3000)


class FakeVideoCapture:
    """A video whose container reports chosen timestamps and frame rate."""

    def __init__(self, pos_ms: list[float], fps: float) -> None:
        self.pos_ms = pos_ms
        self.fps = fps
        self.position = -1
        self.retrieved: list[int] = []
        self.released = False

    def isOpened(self) -> bool:
        return True

    def grab(self) -> bool:
        if self.position + 1 >= len(self.pos_ms):
            return False
        self.position += 1
        return True

    def retrieve(self) -> tuple[bool, np.ndarray]:
        self.retrieved.append(self.position)
        return True, numbered_frame(self.position)

    def get(self, prop: int) -> float:
        values = {
            cv2.CAP_PROP_FPS: self.fps,
            cv2.CAP_PROP_FRAME_COUNT: float(len(self.pos_ms)),
            cv2.CAP_PROP_POS_MSEC: self.pos_ms[max(self.position, 0)],
        }
        return values[prop]

    def release(self) -> None:
        self.released = True


def fake_video(
    monkeypatch: pytest.MonkeyPatch, pos_ms: list[float], fps: float
) -> list[FakeVideoCapture]:
    opened: list[FakeVideoCapture] = []

    def factory(_path: str) -> FakeVideoCapture:
        opened.append(FakeVideoCapture(pos_ms, fps))
        return opened[-1]

    monkeypatch.setattr(sources.cv2, "VideoCapture", factory)
    return opened


@pytest.mark.parametrize(
    ("pos_ms", "fps", "expected_t_ms"),
    [
        # Container reports nothing: fall back to index / fps.
        ([0.0, 0.0, 0.0, 0.0], 10.0, [0, 100, 200, 300]),
        # Container reports garbage and no frame rate either: assume 30 fps.
        ([float("nan")] * 3, float("nan"), [0, 33, 67]),
        # A repeated or backwards timestamp is pushed forward to stay strictly increasing.
        ([0.0, 40.0, 40.0, 30.0, 120.0], 25.0, [0, 40, 41, 42, 120]),
        ([0.0, -7.0, 80.0], 25.0, [0, 40, 80]),
    ],
)
def test_video_timestamps_are_sensible_and_strictly_increasing(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    pos_ms: list[float],
    fps: float,
    expected_t_ms: list[int],
) -> None:
    fake_video(monkeypatch, pos_ms, fps)
    path = tmp_path / "fake.mp4"
    path.touch()
    assert [frame.t_ms for frame in frames_of(VideoFileSource(path))] == expected_t_ms


def test_video_skips_decoding_frames_left_out_by_stride_and_range(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    opened = fake_video(monkeypatch, [100.0 * i for i in range(20)], 10.0)
    path = tmp_path / "fake.mp4"
    path.touch()
    frames = frames_of(VideoFileSource(path, stride=3, start_ms=500, end_ms=1500))

    assert [frame.index for frame in frames] == [5, 8, 11, 14]
    assert opened[-1].retrieved == [5, 8, 11, 14]
    assert all(capture.released for capture in opened)


def test_video_capture_is_released_when_iteration_stops_early(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    opened = fake_video(monkeypatch, [100.0 * i for i in range(20)], 10.0)
    path = tmp_path / "fake.mp4"
    path.touch()
    with VideoFileSource(path) as source:
        for frame in source:
            if frame.index == 3:
                break
        iterating = opened[-1]
    assert iterating.released


# --- image ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["photo.png", "photo.jpg", "Foto-ü-姿势.JPEG", "scan.bmp"])
def test_image_yields_one_still_at_time_zero(tmp_path: Path, name: str) -> None:
    path = write_image(tmp_path / name, value=200, size=(40, 30))
    source = ImageSource(path)
    frames = frames_of(source)

    assert (source.kind, source.is_stream, source.frame_count) == ("image", False, 1)
    assert len(frames) == 1
    assert (frames[0].t_ms, frames[0].index, frames[0].name) == (0, 0, name)
    assert frames[0].image.shape == (30, 40, 3)
    assert abs(int(frames[0].image.mean()) - 200) <= 2


@pytest.mark.parametrize(
    "pixels", [np.full((30, 40), 90, np.uint8), np.full((30, 40, 4), 90, np.uint8)]
)
def test_grey_and_rgba_images_become_bgr(tmp_path: Path, pixels: np.ndarray) -> None:
    path = tmp_path / "odd.png"
    assert cv2.imwrite(str(path), pixels)
    (frame,) = frames_of(ImageSource(path))
    assert frame.image.shape == (30, 40, 3)
    assert frame.image.dtype == np.uint8
    assert int(frame.image.mean()) == 90


def test_image_errors_name_the_file_and_the_fix(tmp_path: Path) -> None:
    not_image = tmp_path / "notes.png"
    not_image.write_text("hello")
    empty = tmp_path / "empty.jpg"
    empty.touch()

    with pytest.raises(SourceError, match=r"no such file: '.*missing\.png'"):
        ImageSource(tmp_path / "missing.png")
    with pytest.raises(SourceError, match=r"is a folder, not an image file"):
        ImageSource(tmp_path)
    for path in (not_image, empty):
        with pytest.raises(
            SourceError,
            match=rf"cannot read image '.*{path.name}': not a decodable image file "
            r"\(supported: \.jpg, \.jpeg, \.png",
        ):
            ImageSource(path)


# --- folder ---------------------------------------------------------------------------------


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for value, name in enumerate(["img10.png", "img2.png", "img1.png", "IMG3.JPG", "img20.webp"]):
        write_image(folder / name, value=40 * value + 20)
    (folder / "notes.txt").write_text("not an image")
    (folder / "clip.mp4").write_bytes(b"")
    write_image(folder / ".hidden.png")
    (folder / "nested").mkdir()
    write_image(folder / "nested" / "img0.png")
    return folder


def test_folder_yields_images_in_natural_order_at_fixed_intervals(photo_folder: Path) -> None:
    source = FolderSource(photo_folder, interval_ms=250)
    frames = frames_of(source)

    assert [path.name for path in source.paths] == [
        "img1.png",
        "img2.png",
        "IMG3.JPG",
        "img10.png",
        "img20.webp",
    ]
    assert (source.kind, source.is_stream, source.frame_count) == ("folder", False, 5)
    assert [frame.t_ms for frame in frames] == [0, 250, 500, 750, 1000]
    assert [frame.index for frame in frames] == [0, 1, 2, 3, 4]
    assert [frame.name for frame in frames] == [path.name for path in source.paths]
    # Each file was filled with its own grey level: the frames really come in that order.
    brightness = [round(float(frame.image.mean())) for frame in frames]
    assert brightness == pytest.approx([100, 60, 140, 20, 180], abs=3)


def test_folder_stride_keeps_positions_and_timestamps(photo_folder: Path) -> None:
    source = FolderSource(photo_folder, stride=2)
    frames = frames_of(source)
    assert source.frame_count == 3
    assert [frame.index for frame in frames] == [0, 2, 4]
    assert [frame.t_ms for frame in frames] == [0, 2000, 4000]


def test_folder_skips_a_corrupt_image_with_a_warning(
    photo_folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (photo_folder / "img2.png").write_bytes(b"\x89PNG broken")
    with caplog.at_level(logging.WARNING, logger="posture.sources"):
        frames = frames_of(FolderSource(photo_folder))

    assert [frame.index for frame in frames] == [0, 2, 3, 4]
    assert [frame.t_ms for frame in frames] == [0, 2000, 3000, 4000]
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "img2.png" in warnings[0].getMessage()
    assert "not a decodable image" in warnings[0].getMessage()


def test_folder_errors_name_the_folder_and_the_fix(tmp_path: Path, photo_folder: Path) -> None:
    only_text = tmp_path / "text"
    only_text.mkdir()
    (only_text / "a.txt").write_text("x")
    write_image(only_text / ".hidden.jpg")
    a_file = write_image(tmp_path / "single.png")

    with pytest.raises(SourceError, match=r"no such folder: '.*nowhere'"):
        FolderSource(tmp_path / "nowhere")
    with pytest.raises(SourceError, match=r"'.*single\.png' is not a folder"):
        FolderSource(a_file)
    with pytest.raises(
        SourceError,
        match=r"no images in folder '.*text' \(looked for \.jpg, .*\.tiff; subfolders",
    ):
        FolderSource(only_text)
    with pytest.raises(SourceError, match=r"stride must be 1 or more, got -1"):
        FolderSource(photo_folder, stride=-1)
    with pytest.raises(SourceError, match=r"interval must be 1 ms or more, got 0 ms"):
        FolderSource(photo_folder, interval_ms=0)


def test_natural_sort_orders_numbers_by_value() -> None:
    names = ["img10.png", "img2.png", "img1.png", "img02.png", "a.png", "img1b.png", "Img3.png"]
    assert sorted(names, key=natural_sort_key) == [
        "a.png",
        "img1.png",
        "img1b.png",
        "img02.png",
        "img2.png",
        "Img3.png",
        "img10.png",
    ]


@given(st.lists(st.text(max_size=12), max_size=20), st.randoms())
def test_natural_sort_is_a_total_order_on_any_names(names: list[str], rng: random.Random) -> None:
    ordered = sorted(names, key=natural_sort_key)
    shuffled = list(names)
    rng.shuffle(shuffled)
    assert sorted(shuffled, key=natural_sort_key) == ordered


@given(st.lists(st.integers(min_value=0, max_value=10**6), unique=True, max_size=30))
def test_natural_sort_follows_the_numbers(numbers: list[int]) -> None:
    names = [f"frame_{n}.png" for n in numbers]
    assert sorted(names, key=natural_sort_key) == [f"frame_{n}.png" for n in sorted(numbers)]


# --- camera (fake: there is no camera on the test machine) ---------------------------------


class FakeCamera:
    def __init__(self, frames: list[np.ndarray], *, opens: bool = True) -> None:
        self.frames = list(frames)
        self.opens = opens
        self.settings: dict[int, float] = {}
        self.released = False

    def isOpened(self) -> bool:
        return self.opens and not self.released

    def set(self, prop: int, value: float) -> bool:
        self.settings[prop] = value
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        if not self.frames:
            return False, None
        return True, self.frames.pop(0)

    def release(self) -> None:
        self.released = True


def fake_camera(
    monkeypatch: pytest.MonkeyPatch, frames: list[np.ndarray], *, opens: bool = True
) -> list[tuple[int, FakeCamera]]:
    opened: list[tuple[int, FakeCamera]] = []

    def factory(index: int) -> FakeCamera:
        opened.append((index, FakeCamera(frames, opens=opens)))
        return opened[-1][1]

    monkeypatch.setattr(sources.cv2, "VideoCapture", factory)
    return opened


class FakeClock:
    def __init__(self, times_s: list[float]) -> None:
        self.times_s: Iterator[float] = iter(times_s)

    def __call__(self) -> float:
        return next(self.times_s)


def camera_frames(count: int) -> list[np.ndarray]:
    return [numbered_frame(i) for i in range(count)]


def test_camera_timestamps_come_from_the_clock_relative_to_the_first_frame(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened = fake_camera(monkeypatch, camera_frames(10))
    clock = FakeClock([500.0, 500.0333, 500.0667, 500.5, 500.5, 501.0])
    source = CameraSource(2, width=320, height=240, clock=clock)

    frames = []
    for frame in source:
        frames.append(frame)
        if len(frames) == 6:
            break
    source.close()

    index, capture = opened[0]
    assert index == 2
    assert capture.settings[cv2.CAP_PROP_FRAME_WIDTH] == 320
    assert capture.settings[cv2.CAP_PROP_FRAME_HEIGHT] == 240
    assert (source.kind, source.is_stream, source.frame_count) == ("camera", True, None)
    assert source.description == "camera 2"
    # Equal clock readings still give strictly increasing timestamps (VIDEO mode needs it).
    assert [frame.t_ms for frame in frames] == [0, 33, 67, 500, 501, 1000]
    assert [frame.index for frame in frames] == [0, 1, 2, 3, 4, 5]
    assert [frame_number(frame.image) for frame in frames] == [0, 1, 2, 3, 4, 5]
    assert capture.released


def test_camera_that_cannot_open_says_so_and_suggests_another_index(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened = fake_camera(monkeypatch, [], opens=False)
    with pytest.raises(
        SourceError,
        match=r"^cannot open camera 0: check that it is connected and not in use by another "
        r"program \(try --source 1 for another camera\)$",
    ):
        CameraSource(0)
    with pytest.raises(SourceError, match=r"camera 3: .*\(try --source 0 for another camera\)$"):
        CameraSource(3)  # a numbered camera that is not there: the built-in one is 0
    assert opened[0][1].released


def test_a_camera_that_hangs_in_its_open_is_given_up_and_released_when_it_comes_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answer = threading.Event()
    opened = fake_camera(monkeypatch, camera_frames(3))
    factory = sources.cv2.VideoCapture

    def hanging(index: int) -> FakeCamera:
        answer.wait(30)  # the driver, stuck in the device's open
        return factory(index)

    monkeypatch.setattr(sources.cv2, "VideoCapture", hanging)
    monkeypatch.setattr(sources, "OPEN_TIMEOUT_S", 0.3)
    started = time.monotonic()
    with pytest.raises(
        CameraOpenError,
        match=r"^camera 0 did not answer within 0.3 s of being opened: reconnect it \(or "
        r"restart, for a built-in camera\), or try --source 1 for another camera$",
    ):
        CameraSource(0)
    assert time.monotonic() - started < 2.0
    answer.set()  # the open comes back after all: the device is not left held
    deadline = time.monotonic() + 5
    while not (opened and opened[0][1].released) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert opened and opened[0][1].released


def test_camera_lost_mid_run_raises_camera_lost_error(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_camera(monkeypatch, camera_frames(3))
    source = CameraSource(0, clock=FakeClock([0.0, 0.1, 0.2]))
    received: list[Frame] = []
    with pytest.raises(CameraLostError, match=r"camera 0 stopped delivering frames after 3 frames"):
        received.extend(source)
    assert len(received) == 3
    assert issubclass(CameraLostError, SourceError)
    assert issubclass(CameraLostError, PostureError)


@pytest.mark.parametrize(
    "raw",
    [np.full((48, 64), 77, np.uint8), np.full((48, 64, 4), 77, np.uint8)],
    ids=["grey", "bgra"],
)
def test_camera_grey_and_bgra_frames_become_bgr(
    monkeypatch: pytest.MonkeyPatch, raw: np.ndarray
) -> None:
    fake_camera(monkeypatch, [raw])
    with CameraSource(0, clock=FakeClock([1.0])) as source:
        frame = next(iter(source))
    assert frame.image.shape == (48, 64, 3)
    assert int(frame.image[0, 0, 2]) == 77


def test_camera_context_manager_releases_and_stops_iteration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened = fake_camera(monkeypatch, camera_frames(5))
    with CameraSource(0, clock=FakeClock([0.0, 0.1])) as source:
        next(iter(source))
        assert not opened[0][1].released
    assert opened[0][1].released
    assert list(source) == []
    source.close()  # closing twice is harmless


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"index": -1}, r"camera index must be 0 to 99, got -1: try --source 0"),
        # OpenCV would read 200 as "V4L2 backend, camera 0".
        ({"index": 200}, r"camera index must be 0 to 99, got 200"),
        ({"index": 0, "width": 0}, r"camera size must be positive, got 0x480"),
    ],
)
def test_camera_rejects_bad_settings(
    monkeypatch: pytest.MonkeyPatch, kwargs: dict[str, int], message: str
) -> None:
    fake_camera(monkeypatch, [])
    with pytest.raises(SourceError, match=message):
        CameraSource(**kwargs)


# --- open_source ----------------------------------------------------------------------------


def test_open_source_dispatches_on_what_the_spec_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, photo_folder: Path
) -> None:
    video = write_video(tmp_path / "CLIP.MP4", count=3)
    image = write_image(tmp_path / "still.Png")

    with open_source(photo_folder) as folder:
        assert isinstance(folder, FolderSource)
    with open_source(str(image)) as still:
        assert isinstance(still, ImageSource)
    with open_source(video, stride=2, start_ms=100) as clip:
        assert isinstance(clip, VideoFileSource)
        assert [frame.index for frame in clip] == [1]

    opened = fake_camera(monkeypatch, camera_frames(1))
    with open_source(" 1 ", clock=FakeClock([3.0])) as camera:
        assert isinstance(camera, CameraSource)
        assert next(iter(camera)).t_ms == 0
    assert opened[0][0] == 1


def test_open_source_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("x")
    image = write_image(tmp_path / "still.jpg")
    fake_camera(monkeypatch, camera_frames(1))

    with pytest.raises(SourceError, match=r"^no such file or folder: 'nowhere/x\.mp4'$"):
        open_source("nowhere/x.mp4")
    # A Path is always a path, even one made of digits.
    with pytest.raises(SourceError, match=r"^no such file or folder: '0'$"):
        open_source(Path("0"))
    with pytest.raises(
        SourceError,
        match=r"cannot use '.*notes\.txt' as a source: unsupported file type '\.txt' \(supported: "
        r"a camera index such as 0, a folder of images, images \.jpg.*, videos \.mp4",
    ):
        open_source(text)
    with pytest.raises(SourceError, match=r"stride 2 does not apply to an image"):
        open_source(image, stride=2)
    with pytest.raises(SourceError, match=r"a start or end time does not apply to a camera"):
        open_source("0", start_ms=1000)
    with pytest.raises(SourceError, match=r"a start or end time does not apply to a folder"):
        open_source(tmp_path, end_ms=1000)


def test_opencv_and_ffmpeg_chatter_stays_out_of_the_terminal(tmp_path: Path) -> None:
    # A fresh process: FFmpeg reads its log level once, at first use.
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video" * 100)
    script = (
        "import sys\n"
        "from posture.errors import SourceError\n"
        "from posture.sources import open_source\n"
        "for spec in sys.argv[1:]:\n"
        "    try:\n"
        "        open_source(spec)\n"
        "    except SourceError as error:\n"
        "        print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "99", str(junk)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
        check=True,
    )
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        "cannot open camera 99: check that it is connected and not in use by another program "
        "(try --source 0 for another camera)",
        f"cannot open video '{junk}': OpenCV cannot decode it (is it a video? supported: "
        ".mp4, .avi, .mov, .mkv, .webm, .m4v, .mpg, .mpeg, .wmv, .gif)",
    ]


# --- one contract for every implementation --------------------------------------------------


SourceFactory = Callable[[Path, pytest.MonkeyPatch], FrameSource]


def make_video(tmp_path: Path, _monkeypatch: pytest.MonkeyPatch) -> FrameSource:
    return VideoFileSource(write_video(tmp_path / "clip.mp4", count=5))


def make_image(tmp_path: Path, _monkeypatch: pytest.MonkeyPatch) -> FrameSource:
    return ImageSource(write_image(tmp_path / "still.png"))


def make_folder(tmp_path: Path, _monkeypatch: pytest.MonkeyPatch) -> FrameSource:
    for i in range(4):
        write_image(tmp_path / f"{i}.jpg")
    return FolderSource(tmp_path)


def make_camera(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FrameSource:
    fake_camera(monkeypatch, camera_frames(4))
    return CameraSource(0, clock=FakeClock([0.0, 0.04, 0.08, 0.12]))


@pytest.mark.parametrize("factory", [make_video, make_image, make_folder, make_camera])
def test_every_source_keeps_the_frame_source_contract(
    factory: SourceFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = factory(tmp_path, monkeypatch)
    assert isinstance(source, FrameSource)
    assert source.kind in {"camera", "video", "image", "folder"}
    assert source.is_stream == (source.kind in {"camera", "video"})
    assert source.description.startswith(source.kind)

    frames: list[Frame] = []
    try:
        frames.extend(source)
    except CameraLostError:
        assert source.kind == "camera"  # the fake camera runs out of frames
    source.close()
    source.close()

    assert frames
    assert all(frame.image.dtype == np.uint8 and frame.image.ndim == 3 for frame in frames)
    assert all(b.t_ms > a.t_ms and b.index > a.index for a, b in pairwise(frames))
    if source.frame_count is not None:
        assert source.frame_count == len(frames)


# --- the bundled samples ------------------------------------------------------------------


def test_bundled_session_video_matches_its_ground_truth() -> None:
    truth = json.loads((SAMPLES / "session.json").read_text(encoding="utf-8"))
    source = open_source(SAMPLES / "session.mp4", stride=10)
    frames = frames_of(source)

    assert frames[0].image.shape == (truth["height"], truth["width"], 3)
    assert len(frames) == source.frame_count == truth["frame_count"] // 10
    assert frames[-1].t_ms == pytest.approx(truth["segments"][-1]["end_ms"] - 1000, abs=1)
    assert all(b.t_ms - a.t_ms == pytest.approx(1000, abs=1) for a, b in pairwise(frames))
    labels = [segment["label"] for segment in truth["segments"]]
    assert labels == ["upright", "slouched", "upright", "reclined"]


@pytest.mark.parametrize(("folder", "count"), [("upright", 3), ("slouched", 2), ("reclined", 2)])
def test_bundled_sample_photos_decode(folder: str, count: int) -> None:
    frames = frames_of(open_source(SAMPLES / folder))
    assert len(frames) == count
    assert all(frame.size == (720, 1280) for frame in frames)


# --- damaged videos: reported, read past, times from the container -------------------------


def damaged_copy(video: Path, where: float, path: Path) -> Path:
    """`video` with a stretch of its media data zeroed at `where` (0-1) of the way in."""
    data = bytearray(video.read_bytes())
    media, index = data.find(b"mdat"), data.find(b"moov")
    at = media + int((index - media) * where)
    data[at : at + 3000] = bytes(3000)
    path.write_bytes(bytes(data))
    return path


def test_a_damaged_video_is_read_past_with_a_warning_and_its_times_do_not_shift(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    whole = write_video(tmp_path / "whole.mp4", count=200)
    damaged = damaged_copy(whole, 0.3, tmp_path / "damaged.mp4")
    with caplog.at_level("WARNING", logger="posture"):
        frames = frames_of(VideoFileSource(damaged))
    (warning,) = [r.getMessage() for r in caplog.records]
    assert warning.startswith(f"video {damaged} is damaged after frame ")
    assert warning.endswith(" s; what lies between was skipped")
    read = [f.index for f in frames]
    assert read[0] == 0 and read[-1] == 199 and 100 < len(read) < 200  # past the damage
    skipped_from = next(i for i, (a, b) in enumerate(pairwise(read)) if b != a + 1)
    # Every frame after the damaged stretch is the frame its container time says.
    after = frames[skipped_from + 1 :]
    assert all(f.t_ms == f.index * 100 and frame_number(f.image) == f.index for f in after)


def test_frames_a_demuxer_skips_silently_are_reported_and_later_ones_keep_their_place(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Matroska's reader resyncs past damage without failing: the frames after it must
    keep their container time and their own index, not move up to fill the hole."""
    data = bytearray(write_video(tmp_path / "whole.mkv", count=200, fourcc="MJPG").read_bytes())
    at = int(len(data) * 0.4)
    data[at : at + 20000] = bytes(20000)
    damaged = tmp_path / "damaged.mkv"
    damaged.write_bytes(bytes(data))
    with caplog.at_level("WARNING", logger="posture"):
        frames = frames_of(VideoFileSource(damaged))
    (warning,) = [r.getMessage() for r in caplog.records]
    assert warning.startswith(f"video {damaged} has no frames from ")
    assert warning.endswith("the file is damaged there (or the recording paused)")
    assert 100 < len(frames) < 190 and frames[-1].index == 199
    assert all(f.t_ms == f.index * 100 and frame_number(f.image) == f.index for f in frames)


def test_a_truncated_video_says_where_it_broke_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    whole = write_video(tmp_path / "whole.avi", count=200, fourcc="MJPG")
    data = whole.read_bytes()
    truncated = tmp_path / "truncated.avi"
    truncated.write_bytes(data[: len(data) // 2])
    with caplog.at_level("WARNING", logger="posture"):
        frames = frames_of(VideoFileSource(truncated))
    (warning,) = [r.getMessage() for r in caplog.records]
    last = frames[-1]
    assert warning == (
        f"video {truncated} ends early, after frame {last.index} ({last.t_ms / 1000:.1f} s) of "
        "the 200 it announces (20 s): the file is truncated or damaged there; the rest was "
        "not read"
    )
    assert 50 < len(frames) < 150 and [f.index for f in frames] == list(range(len(frames)))


def test_a_whole_video_reads_to_its_end_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="posture"):
        frames = frames_of(VideoFileSource(write_video(tmp_path / "whole.mp4", count=200)))
    assert len(frames) == 200 and caplog.records == []


# --- a camera that hangs: reads are bounded -------------------------------------------------


class HangingCamera:
    """A `cv2.VideoCapture` whose `grab` never returns until told to."""

    def __init__(self) -> None:
        self.release_grab = threading.Event()
        self.grabbing = threading.Event()
        self.released = threading.Event()

    def isOpened(self) -> bool:
        return True

    def set(self, prop: int, value: float) -> bool:
        return True

    def grab(self) -> bool:
        self.grabbing.set()
        self.release_grab.wait()
        return False

    def read(self) -> tuple[bool, None]:
        return self.grab(), None

    def release(self) -> None:
        self.released.set()


def test_waiting_for_a_hung_camera_stops_when_the_reader_wants_to_stop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    camera = HangingCamera()
    monkeypatch.setattr(sources.cv2, "VideoCapture", lambda index: camera)
    stop = threading.Event()
    source = CameraSource(0)
    threading.Timer(0.1, stop.set).start()
    started = time.monotonic()
    assert list(source.sampled(0.5, wait=lambda s: stop.is_set())) == []
    assert camera.grabbing.is_set() and time.monotonic() - started < 1.0
    source.close()  # the device is released behind the stuck grab, not under it
    assert not camera.released.is_set()
    camera.release_grab.set()
    assert camera.released.wait(5)


def test_a_camera_read_that_never_returns_is_a_lost_camera(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    camera = HangingCamera()
    monkeypatch.setattr(sources.cv2, "VideoCapture", lambda index: camera)
    monkeypatch.setattr(sources, "READ_TIMEOUT_S", 0.3)
    with CameraSource(0) as source:
        with pytest.raises(CameraLostError, match=r"camera 0 stopped responding \(no frame for"):
            next(iter(source))
        with pytest.raises(CameraLostError, match="stopped responding"):
            next(source.sampled(0.5))
    camera.release_grab.set()


# --- pacing: a recording replays on its own clock, a camera paces itself ---------------------


def test_a_recording_replays_on_the_fps_grid_of_its_own_clock_at_its_speed(
    video_path: Path,
) -> None:
    now = [0.0]
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        now[0] += seconds
        return False

    pace = Pace(fps=2.0, speed=2.0, wait=wait, clock=lambda: now[0])
    with VideoFileSource(video_path) as source:
        frames = list(source.paced(pace))
    assert [f.t_ms for f in frames] == [0, 500, 1000, 1500, 2000]  # 10 fps file, 2 taken a second
    assert now[0] == pytest.approx(1.0)  # 2 s of the file at twice real time
    assert not source.live and source.duration_ms == 2500


def test_a_paced_recording_ends_when_the_reader_says_so(video_path: Path) -> None:
    calls = []
    pace = Pace(fps=10.0, speed=1.0, wait=lambda s: calls.append(s) or len(calls) >= 3)
    with VideoFileSource(video_path) as source:
        frames = list(source.paced(pace))
    assert len(frames) == 3 and len(calls) == 3  # the first needs no wait; the 4th is refused


@pytest.mark.parametrize(
    ("fps", "speed", "message"),
    [(0.0, 1.0, "fps must be a positive"), (2.0, float("nan"), "speed must be 0 or more")],
)
def test_a_pace_is_validated(fps: float, speed: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Pace(fps=fps, speed=speed)
