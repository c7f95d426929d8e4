"""Presence without a pose: cues of shape and change, never of colour.

The face cue runs on the bundled frontal photo under tinted and dim light, where
the pose model loses the person and a skin-colour test saw nobody; the movement
cue on hand-made pictures with a hand-built pose, so every change is known."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from posture.analysis import without_person
from posture.landmarks import PoseResult
from posture.metrics import compute_metrics
from posture.pose import PoseEstimator
from posture.presence import (
    LEAN_IN_MEMORY_MS,
    MOTION_MEMORY_MS,
    PresenceTracker,
    face_in,
    pose_box,
)
from tests.conftest import SAMPLES
from tests.skeletons import skeleton

LIGHTS = {
    "blue": (1.0, 0.45, 0.3),  # BGR factors
    "green": (0.3, 1.0, 0.4),
    "dim": (0.2, 0.2, 0.2),
}


@pytest.fixture(scope="module")
def portrait() -> np.ndarray:
    image = cv2.imread(str(SAMPLES / "frontal" / "man-selfie.jpg"))
    height, width = image.shape[:2]
    # Leaning in: the face fills the picture.
    return image[int(height * 0.05) : int(height * 0.55), int(width * 0.15) : int(width * 0.85)]


@pytest.mark.parametrize("light", sorted(LIGHTS))
def test_a_face_under_coloured_or_dim_light_is_someone_there(portrait, light):
    lit = np.clip(portrait * np.array(LIGHTS[light]), 0, 255).astype(np.uint8)
    assert face_in(lit)
    tracker = PresenceTracker()
    assert tracker.person_present(0, None, PoseResult.empty((640, 480)), lit)


def test_a_tinted_picture_the_pose_model_loses_is_not_away():
    """The whole bundled portrait under blue light: MediaPipe finds no pose."""
    image = cv2.imread(str(SAMPLES / "frontal" / "man-selfie.jpg"))
    blue = np.clip(image * np.array(LIGHTS["blue"]), 0, 255).astype(np.uint8)
    with PoseEstimator(mode="image") as estimator:
        pose = estimator.estimate_image(blue)
        assert not pose.detected
        present = PresenceTracker().person_present(0, compute_metrics(pose), pose, blue)
        assert present
        # With the person painted out of the (white-light) picture, nobody is there.
        found = estimator.estimate_image(image)
        empty = without_person(image, found)
        assert not estimator.estimate_image(empty).detected
        assert not face_in(empty)
        assert not PresenceTracker().person_present(0, None, PoseResult.empty((800, 1200)), empty)


def scene(seed: int = 1) -> np.ndarray:
    """A textured 640x480 room."""
    rng = np.random.default_rng(seed)
    small = rng.integers(40, 200, (30, 40, 3), dtype=np.uint8)
    return cv2.resize(small, (640, 480), interpolation=cv2.INTER_NEAREST)


def seated() -> PoseResult:
    """A hand-built person in the middle of a 640x480 picture, head small."""
    return skeleton(image_size=(640, 480), hip_px=(320.0, 420.0), px_per_m=400.0)


def test_movement_where_the_person_was_means_present_stillness_does_not():
    pose, room = seated(), scene()
    metrics = compute_metrics(pose)
    assert metrics is not None and metrics.head_size_frac < 0.22  # not a lean-in by size
    tracker = PresenceTracker()
    assert tracker.person_present(0, metrics, pose, room)
    # The pose is lost and the picture changed inside their box: leaning in, moving.
    x0, y0, x1, y1 = pose_box(pose)
    moved = room.copy()
    moved[int(y0 * 480) : int(y1 * 480), int(x0 * 640) : int(x1 * 640)] = scene(2)[
        int(y0 * 480) : int(y1 * 480), int(x0 * 640) : int(x1 * 640)
    ]
    lost = PoseResult.empty((640, 480))
    assert tracker.person_present(6000, None, lost, moved)  # past the lean-in memory
    # The same picture again: nothing moves in an empty chair.
    assert not tracker.person_present(7000, None, lost, moved)
    # A light switched on is not movement.
    assert not tracker.person_present(
        8000, None, lost, np.clip(moved * 1.4, 0, 255).astype(np.uint8)
    )
    # Movement long after the last pose is not taken for that person.
    assert not tracker.person_present(MOTION_MEMORY_MS + 1, None, lost, room)


def test_a_large_head_lost_moments_ago_is_a_lean_in():
    close = skeleton(image_size=(640, 480), hip_px=(320.0, 900.0), px_per_m=1500.0)
    metrics = compute_metrics(close)
    assert metrics is not None and metrics.head_size_frac >= 0.22
    tracker, room = PresenceTracker(), scene()
    tracker.person_present(0, metrics, close, room)
    lost = PoseResult.empty((640, 480))
    assert tracker.person_present(LEAN_IN_MEMORY_MS, None, lost, room)
    assert not tracker.person_present(LEAN_IN_MEMORY_MS + 1000, None, lost, room)


def test_a_body_without_usable_shoulders_is_someone_too_close():
    pose = seated()
    hidden = PoseResult(
        image_size=pose.image_size,
        image_xy=pose.image_xy,
        visibility=np.zeros_like(pose.visibility),
        world_xyz=pose.world_xyz,
    )
    assert compute_metrics(hidden) is None
    assert PresenceTracker().person_present(0, None, hidden, scene())
