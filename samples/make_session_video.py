"""Build `session.mp4` and its ground truth `session.json` from the bundled side-view photos.

A 40 s sample "sitting session" of one person seen from the side by a fixed camera:

    0-10 s upright, 10-20 s slouched, 20-30 s upright, 30-40 s reclined

at 10 fps, 360x640 (portrait). Each change is a 0.5 s crossfade centred on the segment
boundary, so frames within 250 ms of a boundary are blends of two postures.

The three photos were taken with a hand-held phone that moved a little between shots, so
each is first aligned to the upright photo on the background (ORB features and a RANSAC
similarity transform); otherwise the whole room would jump at every posture change, which a
laptop camera never does. On top of that every frame gets a little of what a real camera
adds: a slow drift of a few pixels, a tiny zoom wobble, slow brightness changes and sensor
noise. All randomness is seeded, so running the script again gives the same frames.

Run from anywhere: `python samples/make_session_video.py`. Needs only numpy and OpenCV.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

SAMPLES = Path(__file__).resolve().parent
VIDEO_PATH = SAMPLES / "session.mp4"
TRUTH_PATH = SAMPLES / "session.json"

SEED = 20240611
FPS = 10
WIDTH, HEIGHT = 360, 640  # half the photos' 720x1280
CROSSFADE_MS = 500
# A slight zoom keeps the edges that alignment and drift move in from ever showing.
BASE_ZOOM = 1.06
SENSOR_NOISE_SD = 1.5  # grey levels: a clean webcam image in a lit room
# Webcam optics are softer than a phone photo halved; the softness also keeps the file small
# (OpenCV's mp4v writer encodes at a fixed high quality, so detail costs bytes).
OPTICS_BLUR_SD_PX = 0.8

PHOTOS = {
    "upright": "upright/straight_hf.jpg",
    "slouched": "slouched/hunchback_hf.jpg",
    "reclined": "reclined/recline_hf.jpg",
}
SEGMENTS = [  # (start_ms, end_ms, label)
    (0, 10_000, "upright"),
    (10_000, 20_000, "slouched"),
    (20_000, 30_000, "upright"),
    (30_000, 40_000, "reclined"),
]


def load_photo(relative_path: str) -> np.ndarray:
    """The photo at output resolution (area averaging: no aliasing when halving), softened."""
    image = cv2.imdecode(np.fromfile(SAMPLES / relative_path, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"cannot read {SAMPLES / relative_path}")
    half = cv2.resize(image, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(half, (0, 0), OPTICS_BLUR_SD_PX)


def align_to(reference: np.ndarray, moving: np.ndarray) -> np.ndarray:
    """2x3 similarity transform taking `moving` onto `reference`, fitted on the background.

    The person moves between shots but the room does not; RANSAC keeps the room's matches
    as the consensus and rejects the person's as outliers.
    """
    cv2.setRNGSeed(SEED)  # RANSAC samples with OpenCV's RNG
    orb = cv2.ORB_create(nfeatures=4000)
    ref_keys, ref_desc = orb.detectAndCompute(cv2.cvtColor(reference, cv2.COLOR_BGR2GRAY), None)
    mov_keys, mov_desc = orb.detectAndCompute(cv2.cvtColor(moving, cv2.COLOR_BGR2GRAY), None)
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(mov_desc, ref_desc)
    src = np.float32([mov_keys[m.queryIdx].pt for m in matches])
    dst = np.float32([ref_keys[m.trainIdx].pt for m in matches])
    transform, inliers = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=2.0
    )
    if transform is None or int(inliers.sum()) < 50:
        raise SystemExit("could not align the photos on their background")
    return transform


@dataclass(frozen=True)
class CameraWobble:
    """Per-frame camera state: drift in output pixels, zoom factor, brightness gain."""

    dx_px: float
    dy_px: float
    zoom: float
    gain: float


def slow_walk(rng: np.random.Generator, count: int, sd: float, keep: float = 0.97) -> np.ndarray:
    """A stationary AR(1) series with standard deviation `sd`: slow, bounded wandering."""
    values = np.empty(count)
    values[0] = rng.normal(0, sd)
    step_sd = sd * np.sqrt(1 - keep**2)
    for i in range(1, count):
        values[i] = keep * values[i - 1] + rng.normal(0, step_sd)
    return values


def camera_wobble(rng: np.random.Generator, count: int) -> list[CameraWobble]:
    dx = slow_walk(rng, count, sd=1.5) + rng.normal(0, 0.3, count)
    dy = slow_walk(rng, count, sd=1.0) + rng.normal(0, 0.3, count)
    zoom = 1 + slow_walk(rng, count, sd=0.004)
    gain = 1 + slow_walk(rng, count, sd=0.025, keep=0.99)
    return [CameraWobble(*values) for values in zip(dx, dy, zoom, gain, strict=True)]


def render(photo: np.ndarray, align: np.ndarray, wobble: CameraWobble) -> np.ndarray:
    """Photo -> output frame: align, zoom about the centre, drift, in one resampling."""
    zoom = BASE_ZOOM * wobble.zoom
    centre_x, centre_y = WIDTH / 2, HEIGHT / 2
    camera = np.array(
        [
            [zoom, 0, centre_x * (1 - zoom) + wobble.dx_px],
            [0, zoom, centre_y * (1 - zoom) + wobble.dy_px],
            [0, 0, 1],
        ]
    )
    full = camera @ np.vstack([align, [0, 0, 1]])
    return cv2.warpAffine(
        photo, full[:2], (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    ).astype(np.float32)


def label_weights(t_ms: int) -> dict[str, float]:
    """How much of each posture is in the frame at t_ms (crossfades around boundaries)."""
    weights: dict[str, float] = {}
    for start_ms, end_ms, label in SEGMENTS:
        fade_in = np.clip((t_ms - start_ms) / CROSSFADE_MS + 0.5, 0, 1) if start_ms > 0 else 1.0
        is_last = end_ms == SEGMENTS[-1][1]
        fade_out = 1.0 if is_last else np.clip((end_ms - t_ms) / CROSSFADE_MS + 0.5, 0, 1)
        weight = float(min(fade_in, fade_out))
        if weight > 0:
            weights[label] = weights.get(label, 0.0) + weight
    return weights


def build_frames() -> list[np.ndarray]:
    rng = np.random.default_rng(SEED)
    photos = {label: load_photo(path) for label, path in PHOTOS.items()}
    reference = photos["upright"]
    aligns = {
        label: (
            np.float64([[1, 0, 0], [0, 1, 0]]) if label == "upright" else align_to(reference, p)
        )
        for label, p in photos.items()
    }
    count = SEGMENTS[-1][1] * FPS // 1000
    frames = []
    for index, wobble in enumerate(camera_wobble(rng, count)):
        weights = label_weights(index * 1000 // FPS)
        frame = sum(
            w * render(photos[label], aligns[label], wobble) for label, w in weights.items()
        )
        frame = frame * wobble.gain + rng.normal(0, SENSOR_NOISE_SD, frame.shape)
        frames.append(np.clip(np.rint(frame), 0, 255).astype(np.uint8))
    return frames


def write_video(frames: list[np.ndarray]) -> None:
    writer = cv2.VideoWriter(str(VIDEO_PATH), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise SystemExit(f"OpenCV cannot write {VIDEO_PATH} with the mp4v codec")
    for frame in frames:
        writer.write(frame)
    writer.release()


def write_truth(frame_count: int) -> None:
    truth = {
        "video": VIDEO_PATH.name,
        "fps": FPS,
        "width": WIDTH,
        "height": HEIGHT,
        "frame_count": frame_count,
        "duration_ms": SEGMENTS[-1][1],
        "crossfade_ms": CROSSFADE_MS,
        "note": (
            "Segments are half-open [start_ms, end_ms). Frames within crossfade_ms/2 of a "
            "boundary blend two postures; leave them out when scoring. Side view, person "
            "facing left. Made by make_session_video.py."
        ),
        "segments": [
            {"start_ms": start, "end_ms": end, "label": label, "photo": PHOTOS[label]}
            for start, end, label in SEGMENTS
        ],
    }
    TRUTH_PATH.write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    frames = build_frames()
    write_video(frames)
    write_truth(len(frames))
    size_kb = VIDEO_PATH.stat().st_size / 1024
    print(f"wrote {VIDEO_PATH} ({len(frames)} frames, {size_kb:.0f} KiB) and {TRUTH_PATH}")


if __name__ == "__main__":
    main()
