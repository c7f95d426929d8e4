"""The real model on the bundled samples, and the model-loading error paths."""

from __future__ import annotations

import numpy as np
import pytest

from posture import pose as pose_module
from posture.errors import ModelError
from posture.landmarks import NUM_LANDMARKS
from posture.metrics import compute_metrics
from posture.pose import PoseEstimator, downscale, load_model_bytes
from posture.sources import ImageSource
from posture.vocabulary import View
from tests.conftest import RECLINED_PHOTO, SLOUCHED_PHOTO, UPRIGHT_PHOTO


def _metrics_of(path):
    with ImageSource(path) as source, PoseEstimator(mode="image") as estimator:
        frame = next(iter(source))
        pose = estimator.estimate(frame)
    return pose, compute_metrics(pose)


@pytest.fixture(scope="module")
def upright():
    return _metrics_of(UPRIGHT_PHOTO)


@pytest.fixture(scope="module")
def slouched():
    return _metrics_of(SLOUCHED_PHOTO)


def test_model_finds_a_pose_on_the_upright_sample(upright):
    pose, metrics = upright
    assert pose.detected
    assert pose.image_xy.shape == (NUM_LANDMARKS, 2)
    assert np.all(np.isfinite(pose.world_xyz))
    # Downscaled to the 640 px default before inference, aspect ratio kept (720x1280 photo).
    assert pose.image_size == (360, 640)
    assert metrics is not None
    assert metrics.view is View.SIDE


def test_hunchback_leans_further_forward_than_upright(upright, slouched):
    _, straight = upright
    _, hunch = slouched
    assert hunch.neck_inclination_deg > straight.neck_inclination_deg + 15
    assert hunch.trunk_inclination_deg > straight.trunk_inclination_deg + 15
    assert hunch.neck_inclination_3d_deg > straight.neck_inclination_3d_deg + 15
    assert hunch.craniovertebral_deg < straight.craniovertebral_deg - 15


def test_reclined_trunk_leans_back():
    _, reclined = _metrics_of(RECLINED_PHOTO)
    assert reclined is not None
    assert reclined.trunk_inclination_deg < -15


def test_blank_image_is_no_pose_not_an_error():
    with PoseEstimator(mode="image") as estimator:
        result = estimator.estimate_image(np.zeros((480, 640, 3), np.uint8))
    assert not result.detected
    assert result.person_count == 0
    assert compute_metrics(result) is None


def test_video_mode_accepts_repeated_timestamps():
    image = np.full((240, 320, 3), 127, np.uint8)
    with PoseEstimator(mode="video") as estimator:
        estimator.estimate_image(image, 100)
        # VIDEO mode needs strictly increasing timestamps; the estimator must cope.
        estimator.estimate_image(image, 100)
        estimator.estimate_image(image, 50)
        assert estimator._last_t_ms == 102


def test_closed_estimator_refuses_work():
    estimator = PoseEstimator(mode="image")
    estimator.close()
    estimator.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        estimator.estimate_image(np.zeros((64, 64, 3), np.uint8))


def test_bundled_model_checksum_verifies():
    assert len(load_model_bytes("lite")) > 1_000_000


def test_corrupt_model_is_a_clear_error(monkeypatch):
    spec = pose_module.MODELS["lite"]
    monkeypatch.setitem(
        pose_module.MODELS, "lite", pose_module.ModelSpec(spec.name, spec.filename, "0" * 64)
    )
    with pytest.raises(ModelError, match=r"corrupt.*reinstall posture"):
        load_model_bytes("lite")


def test_missing_model_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(
        pose_module.MODELS, "lite", pose_module.ModelSpec("lite", "nope.task", "0" * 64)
    )
    with pytest.raises(ModelError, match=r"missing.*reinstall posture"):
        PoseEstimator(mode="image")


def test_unknown_model_name_lists_the_choices():
    with pytest.raises(ModelError, match=r"unknown pose model 'huge'.*lite"):
        load_model_bytes("huge")


@pytest.mark.parametrize(
    ("shape", "limit", "expected"),
    [
        ((1280, 720, 3), 640, (640, 360, 3)),
        ((480, 640, 3), 640, (480, 640, 3)),
        ((100, 50, 3), 640, (100, 50, 3)),
    ],
)
def test_downscale_caps_the_longest_side_and_never_enlarges(shape, limit, expected):
    assert downscale(np.zeros(shape, np.uint8), limit).shape == expected


def test_native_log_chatter_is_silenced(capfd):
    with PoseEstimator(mode="image") as estimator:
        estimator.estimate_image(np.zeros((64, 64, 3), np.uint8))
    assert capfd.readouterr().err == ""


def _side_by_side(*paths) -> np.ndarray:
    import cv2

    images = [cv2.imread(str(path)) for path in paths]
    height = min(image.shape[0] for image in images)
    return np.hstack(
        [cv2.resize(i, (round(i.shape[1] * height / i.shape[0]), height)) for i in images]
    )


def test_crowd_counter_sees_a_second_person_the_tracker_cannot():
    from posture.analysis import CrowdCounter
    from posture.sources import Frame

    two = _side_by_side(UPRIGHT_PHOTO, SLOUCHED_PHOTO)
    one = _side_by_side(UPRIGHT_PHOTO)
    with PoseEstimator(mode="video") as tracker:
        assert tracker.estimate_image(two).person_count == 1
    with CrowdCounter(every_ms=300) as crowd:
        assert crowd.count(Frame(two, 0, 0)) == 2
        # Between checks the last count stands; a check is due every 300 ms...
        assert crowd.count(Frame(one, 100, 1)) == 2
        assert crowd.count(Frame(one, 300, 2)) == 1
        # ...and at once when time runs backwards (a new file).
        assert crowd.count(Frame(two, 0, 3)) == 2


def test_pose_shift_is_the_key_points_move_over_the_body_size():
    import dataclasses

    from posture.analysis import pose_shift
    from posture.landmarks import PoseResult
    from tests.skeletons import skeleton

    pose = skeleton()
    assert pose_shift(pose, pose) == 0.0
    moved = dataclasses.replace(pose, image_xy=pose.image_xy + np.array([0.01, 0.0]))
    width, height = pose.image_size
    keys = pose.image_xy[[0, 7, 8, 11, 12, 23, 24]] * (width, height)
    size = np.hypot(*(keys.max(axis=0) - keys.min(axis=0)))
    assert pose_shift(pose, moved) == pytest.approx(0.01 * width / size)
    assert pose_shift(pose, PoseResult.empty(pose.image_size)) == 1.0
