"""Posture metrics on synthetic skeletons of known geometry (see `tests/skeletons.py`).

A skeleton bent 30 deg must measure 30 deg; every ratio and angle must survive moving,
rescaling and mirroring the picture; missing landmarks give `None`, never a guess.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from posture.landmarks import Landmark, PoseResult
from posture.metrics import METRIC_NAMES, PostureMetrics, compute_metrics
from posture.vocabulary import View
from tests.skeletons import (
    DEFAULT_PX_PER_M,
    EAR_ABOVE_SHOULDERS_M,
    SHOULDER_HEIGHT_M,
    SHOULDER_WIDTH_M,
    mirror,
    rescale,
    skeleton,
    swap_sides,
    translate,
    with_visibility,
    without_world,
)

ANGLE_TOL_DEG = 0.5
FAST = settings(max_examples=50, deadline=None)

HIPS = (Landmark.LEFT_HIP, Landmark.RIGHT_HIP)
EARS = (Landmark.LEFT_EAR, Landmark.RIGHT_EAR)
NECK_FIELDS = ("neck_inclination_deg", "neck_inclination_3d_deg", "craniovertebral_deg")
TRUNK_FIELDS = ("trunk_inclination_deg", "trunk_inclination_3d_deg", "torso_height_ratio")
WORLD_FIELDS = (
    "neck_inclination_3d_deg",
    "trunk_inclination_3d_deg",
    "head_forward_ratio",
    "body_scale_px",
)
# Angles of an undirected image line: a mirror negates them.
LINE_ANGLE_FIELDS = ("shoulder_tilt_deg", "head_roll_deg")
SCALE_FREE_FIELDS = tuple(name for name in METRIC_NAMES if name != "body_scale_px")

necks = st.floats(-30.0, 60.0)
trunks = st.floats(-40.0, 40.0)
yaws = st.floats(-90.0, 90.0)
rolls = st.floats(-10.0, 10.0)


def measure(pose: PoseResult) -> PostureMetrics:
    metrics = compute_metrics(pose)
    assert metrics is not None, "a pose with both shoulders visible must be measured"
    return metrics


def assert_same_metrics(
    expected: PostureMetrics, actual: PostureMetrics, names: tuple[str, ...]
) -> None:
    for name in names:
        want, got = getattr(expected, name), getattr(actual, name)
        if want is None:
            assert got is None, f"{name}: expected None, got {got}"
        else:
            assert got == pytest.approx(want, rel=1e-6, abs=1e-6), name


def line_angle_difference(first: float, second: float) -> float:
    """Smallest difference between two undirected line angles (they wrap at 180 deg)."""
    return abs((first - second + 90.0) % 180.0 - 90.0)


def posture_params(draw: st.DrawFn, *, min_abs_yaw: float = 0.0) -> dict[str, float]:
    neck, trunk = draw(necks), draw(trunks)
    # Past 90 deg of total bend the nose points down, and "forward" loses its meaning.
    assume(abs(neck + trunk) <= 80.0)
    yaw = draw(st.floats(min_abs_yaw, 90.0)) * draw(st.sampled_from([-1.0, 1.0]))
    return {
        "neck_deg": neck,
        "trunk_deg": trunk,
        "yaw_deg": yaw,
        "trunk_roll_deg": draw(rolls),
        "head_roll_deg": draw(rolls),
    }


@st.composite
def postures(draw: st.DrawFn) -> dict[str, float]:
    return posture_params(draw)


@st.composite
def turned_postures(draw: st.DrawFn) -> dict[str, float]:
    """Turned at least 5 deg from the camera, so one side is clearly nearer."""
    return posture_params(draw, min_abs_yaw=5.0)


# --- The synthetic skeleton itself follows the documented conventions ----------------


def test_skeleton_facing_the_camera_follows_mediapipe_conventions():
    pose = skeleton()
    left_sh = pose.pixels(Landmark.LEFT_SHOULDER)
    right_sh = pose.pixels(Landmark.RIGHT_SHOULDER)
    assert left_sh[0] > right_sh[0], "the person's left shoulder is on the image right"
    assert pose.world_xyz[Landmark.NOSE, 2] < pose.world_xyz[Landmark.LEFT_EAR, 2]
    assert pose.image_z[Landmark.NOSE] < pose.image_z[Landmark.LEFT_EAR]
    shoulder_gap_px = float(np.linalg.norm(left_sh - right_sh))
    assert shoulder_gap_px == pytest.approx(DEFAULT_PX_PER_M * SHOULDER_WIDTH_M)
    hips_mid = pose.world_xyz[list(HIPS)].mean(axis=0)
    assert hips_mid == pytest.approx(np.zeros(3), abs=1e-12)
    assert pose.pixels(Landmark.LEFT_EAR)[1] < left_sh[1], "image y grows downwards"


def test_skeleton_side_view_faces_image_right_with_its_right_side_nearer():
    pose = skeleton(yaw_deg=90)
    assert pose.pixels(Landmark.NOSE)[0] > pose.pixels(Landmark.LEFT_EAR)[0]
    assert pose.world_xyz[Landmark.RIGHT_SHOULDER, 2] < pose.world_xyz[Landmark.LEFT_SHOULDER, 2]


def test_mirror_flips_pixels_and_swaps_sides():
    pose = skeleton(neck_deg=20, yaw_deg=60)
    flipped = mirror(pose)
    width = pose.image_size[0]
    left_ear, right_ear = Landmark.LEFT_EAR, Landmark.RIGHT_EAR
    assert flipped.pixels(left_ear)[0] == pytest.approx(width - pose.pixels(right_ear)[0])
    assert flipped.world_xyz[left_ear] == pytest.approx(pose.world_xyz[right_ear] * [-1, 1, 1])
    assert mirror(flipped).image_xy == pytest.approx(pose.image_xy)


# --- Side view: known bends measure as built ------------------------------------------


@pytest.mark.parametrize("yaw_deg", [90.0, -90.0], ids=["facing-right", "facing-left"])
@pytest.mark.parametrize(
    ("neck_deg", "trunk_deg", "expected_neck", "expected_trunk"),
    [
        (0.0, 0.0, 0.0, 0.0),
        (30.0, 0.0, 30.0, 0.0),
        # The neck is measured from vertical, so it carries the trunk's lean too.
        (0.0, 20.0, 20.0, 20.0),
        (0.0, -25.0, -25.0, -25.0),
        (15.0, 10.0, 25.0, 10.0),
    ],
    ids=["upright", "head-forward-30", "trunk-forward-20", "reclined-25", "both"],
)
def test_side_view_measures_built_angles(
    yaw_deg, neck_deg, trunk_deg, expected_neck, expected_trunk
):
    metrics = measure(skeleton(neck_deg, trunk_deg, yaw_deg))
    assert metrics.view is View.SIDE
    assert metrics.neck_inclination_deg == pytest.approx(expected_neck, abs=ANGLE_TOL_DEG)
    assert metrics.neck_inclination_3d_deg == pytest.approx(expected_neck, abs=ANGLE_TOL_DEG)
    assert metrics.craniovertebral_deg == pytest.approx(90.0 - expected_neck, abs=ANGLE_TOL_DEG)
    assert metrics.trunk_inclination_deg == pytest.approx(expected_trunk, abs=ANGLE_TOL_DEG)
    assert metrics.trunk_inclination_3d_deg == pytest.approx(expected_trunk, abs=ANGLE_TOL_DEG)


def test_head_forward_30_has_craniovertebral_angle_60():
    metrics = measure(skeleton(neck_deg=30, yaw_deg=90))
    assert metrics.craniovertebral_deg == pytest.approx(60.0, abs=ANGLE_TOL_DEG)


@FAST
@given(necks, trunks, st.sampled_from([90.0, -90.0]))
def test_side_view_2d_angles_match_built_angles(neck_deg, trunk_deg, yaw_deg):
    assume(abs(neck_deg + trunk_deg) <= 80.0)
    metrics = measure(skeleton(neck_deg, trunk_deg, yaw_deg))
    assert metrics.neck_inclination_deg == pytest.approx(neck_deg + trunk_deg, abs=ANGLE_TOL_DEG)
    assert metrics.trunk_inclination_deg == pytest.approx(trunk_deg, abs=ANGLE_TOL_DEG)


@FAST
@given(necks, trunks, yaws)
def test_3d_angles_match_built_angles_from_any_yaw(neck_deg, trunk_deg, yaw_deg):
    assume(abs(neck_deg + trunk_deg) <= 80.0)
    metrics = measure(skeleton(neck_deg, trunk_deg, yaw_deg))
    expected_neck = neck_deg + trunk_deg
    assert metrics.neck_inclination_3d_deg == pytest.approx(expected_neck, abs=ANGLE_TOL_DEG)
    assert metrics.trunk_inclination_3d_deg == pytest.approx(trunk_deg, abs=ANGLE_TOL_DEG)


# --- View ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("yaw_deg", "view"),
    [
        (0.0, View.FRONTAL),
        (15.0, View.FRONTAL),
        (45.0, View.OBLIQUE),
        (-45.0, View.OBLIQUE),
        (75.0, View.SIDE),
        (90.0, View.SIDE),
        (-90.0, View.SIDE),
    ],
)
def test_view_follows_body_yaw(yaw_deg, view):
    metrics = measure(skeleton(neck_deg=10, yaw_deg=yaw_deg))
    assert metrics.view is view
    assert metrics.body_yaw_deg == pytest.approx(abs(yaw_deg), abs=ANGLE_TOL_DEG)
    assert 0.5 <= metrics.view_confidence <= 1.0


@pytest.mark.parametrize("yaw_deg", [0.0, 45.0, 90.0])
def test_view_is_most_confident_far_from_a_boundary(yaw_deg):
    assert measure(skeleton(yaw_deg=yaw_deg)).view_confidence == pytest.approx(1.0)


@FAST
@given(yaws)
def test_body_yaw_and_view_agree_over_all_yaws(yaw_deg):
    metrics = measure(skeleton(yaw_deg=yaw_deg))
    assert metrics.body_yaw_deg == pytest.approx(abs(yaw_deg), abs=ANGLE_TOL_DEG)
    assert 0.5 <= metrics.view_confidence <= 1.0
    if abs(yaw_deg) < 29.0:
        assert metrics.view is View.FRONTAL
    elif 31.0 < abs(yaw_deg) < 59.0:
        assert metrics.view is View.OBLIQUE
    elif abs(yaw_deg) > 61.0:
        assert metrics.view is View.SIDE
    assert metrics.shoulder_width_ratio == pytest.approx(abs(math.cos(math.radians(yaw_deg))))


def test_frontal_view_has_3d_but_no_2d_side_inclinations():
    metrics = measure(skeleton(neck_deg=25, trunk_deg=10, yaw_deg=0))
    assert metrics.view is View.FRONTAL
    assert metrics.neck_inclination_deg is None
    assert metrics.trunk_inclination_deg is None
    assert metrics.neck_inclination_3d_deg == pytest.approx(35.0, abs=ANGLE_TOL_DEG)
    assert metrics.trunk_inclination_3d_deg == pytest.approx(10.0, abs=ANGLE_TOL_DEG)
    # Without a 2D neck angle the craniovertebral angle comes from the 3D one.
    assert metrics.craniovertebral_deg == pytest.approx(55.0, abs=ANGLE_TOL_DEG)


@pytest.mark.parametrize(("yaw_deg", "side"), [(90.0, "right"), (-90.0, "left"), (40.0, "right")])
def test_near_side_is_the_side_nearer_the_camera(yaw_deg, side):
    assert measure(skeleton(yaw_deg=yaw_deg)).near_side == side


# --- Ratios -----------------------------------------------------------------------------


def test_head_forward_ratio_grows_with_neck_angle():
    ratios = [
        measure(skeleton(neck_deg=a, yaw_deg=90)).head_forward_ratio for a in (-20, 0, 20, 40)
    ]
    assert ratios == sorted(ratios)
    assert len(set(ratios)) == len(ratios)
    expected = EAR_ABOVE_SHOULDERS_M * math.sin(math.radians(40)) / SHOULDER_WIDTH_M
    assert ratios[-1] == pytest.approx(expected, rel=1e-6)
    assert ratios[1] == pytest.approx(0.0, abs=1e-9)


def test_head_height_ratio_shrinks_as_the_head_drops_forward_in_frontal_view():
    angles = (0.0, 15.0, 30.0, 45.0)
    ratios = [measure(skeleton(neck_deg=a, yaw_deg=0)).head_height_ratio for a in angles]
    assert all(later < earlier for earlier, later in itertools.pairwise(ratios))
    for angle, ratio in zip(angles, ratios, strict=True):
        expected = EAR_ABOVE_SHOULDERS_M * math.cos(math.radians(angle)) / SHOULDER_WIDTH_M
        assert ratio == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("yaw_deg", [0.0, 45.0, 90.0, -90.0])
@pytest.mark.parametrize("px_per_m", [300.0, 600.0])
def test_body_scale_is_the_square_on_shoulder_width_from_any_view(yaw_deg, px_per_m):
    metrics = measure(skeleton(neck_deg=20, trunk_deg=10, yaw_deg=yaw_deg, px_per_m=px_per_m))
    assert metrics.body_scale_px == pytest.approx(px_per_m * SHOULDER_WIDTH_M, rel=1e-6)


def test_torso_height_ratio_is_the_projected_trunk_over_body_scale():
    metrics = measure(skeleton(trunk_deg=30, yaw_deg=90))
    expected = SHOULDER_HEIGHT_M * math.cos(math.radians(30)) / SHOULDER_WIDTH_M
    assert metrics.torso_height_ratio == pytest.approx(expected, rel=1e-6)


# --- Invariants: moving, rescaling and mirroring the picture -----------------------------


# Where the shoulders sit in the picture: the one metric that is about position.
POSITION_METRICS = ("shoulder_level_ratio",)
SHAPE_METRICS = tuple(name for name in METRIC_NAMES if name not in POSITION_METRICS)


@FAST
@given(postures(), st.floats(-200.0, 200.0), st.floats(-100.0, 100.0))
def test_moving_the_person_in_the_image_changes_nothing_but_their_level(params, du, dv):
    pose = skeleton(**params)
    before, after = measure(pose), measure(translate(pose, du, dv))
    assert_same_metrics(before, after, SHAPE_METRICS)
    # Sinking in the picture by dv pixels raises the level by dv over the body scale.
    assert before.body_scale_px is not None
    assert after.shoulder_level_ratio == pytest.approx(
        before.shoulder_level_ratio + dv / before.body_scale_px, abs=1e-6
    )


@pytest.mark.parametrize("factor", [0.5, 0.8, 1.25])
def test_the_shoulder_level_holds_when_the_person_nears_or_leaves_the_camera(factor):
    """Under perspective a point's offset from the picture's centre and the body's
    size both scale as 1/distance: their ratio does not move."""
    pose = skeleton(yaw_deg=0.0)
    width, height = pose.image_size
    centre = np.array([width / 2, height / 2])
    pixels = (pose.image_xy * [width, height] - centre) * factor + centre
    nearer = dataclasses.replace(pose, image_xy=pixels / [width, height])
    level = measure(pose).shoulder_level_ratio
    assert level is not None and level != 0
    assert measure(nearer).shoulder_level_ratio == pytest.approx(level, rel=1e-6)


@FAST
@given(postures(), st.integers(4, 64))
def test_rescaling_image_and_person_changes_no_ratio_or_angle(params, sixteenths):
    # 1280x720 times n/16 is a whole number of pixels, so the geometry stays exactly similar.
    factor = sixteenths / 16
    pose = skeleton(**params)
    original, scaled = measure(pose), measure(rescale(pose, factor))
    assert_same_metrics(original, scaled, SCALE_FREE_FIELDS)
    assert scaled.body_scale_px == pytest.approx(original.body_scale_px * factor, rel=1e-6)


@FAST
@given(postures())
def test_mirror_keeps_inclinations_ratios_and_view(params):
    pose = skeleton(**params)
    original, flipped = measure(pose), measure(mirror(pose))
    unsigned = tuple(name for name in METRIC_NAMES if name not in LINE_ANGLE_FIELDS)
    assert_same_metrics(original, flipped, unsigned)
    assert flipped.view is original.view
    for name in LINE_ANGLE_FIELDS:
        want, got = getattr(original, name), getattr(flipped, name)
        assert line_angle_difference(got, -want) < 1e-6, (name, want, got)


@FAST
@given(turned_postures())
def test_mirror_swaps_near_side(params):
    pose = skeleton(**params)
    original, flipped = measure(pose), measure(mirror(pose))
    assert {original.near_side, flipped.near_side} == {"left", "right"}


@FAST
@given(turned_postures())
def test_swapped_side_labels_change_only_sided_metrics(params):
    """Models sometimes mix up left and right; "forward" comes from the nose, not the labels.

    Tilt and roll are body-referenced (positive = the person's left lower), so
    swapping the labels negates them; nothing else may change.
    """
    pose = skeleton(**params)
    original, swapped = measure(pose), measure(swap_sides(pose))
    unsigned = tuple(name for name in METRIC_NAMES if name not in LINE_ANGLE_FIELDS)
    assert_same_metrics(original, swapped, unsigned)
    for name in LINE_ANGLE_FIELDS:
        want, got = getattr(original, name), getattr(swapped, name)
        assert got == pytest.approx(-want, abs=1e-6), (name, want, got)
    assert {original.near_side, swapped.near_side} == {"left", "right"}


def test_mirror_negates_a_known_shoulder_tilt():
    pose = skeleton(trunk_roll_deg=8, head_roll_deg=4)
    flipped = measure(mirror(pose))
    assert flipped.shoulder_tilt_deg == pytest.approx(-8.0, abs=1e-6)
    assert flipped.head_roll_deg == pytest.approx(-12.0, abs=1e-6)


@pytest.mark.parametrize(("yaw_deg", "from_image"), [(0.0, True), (45.0, False)])
def test_shoulder_tilt_facing_the_camera_comes_from_the_picture(yaw_deg, from_image):
    """Facing the camera the image line is the steadier measure; turned away, the
    picture foreshortens the shoulders and the 3D landmarks decide."""
    pose = skeleton(yaw_deg=yaw_deg, trunk_roll_deg=5)
    world = pose.world_xyz.copy()
    world[Landmark.LEFT_SHOULDER, 1] += 0.05  # the 3D estimate disagrees: ~+8 deg more
    tilt = measure(dataclasses.replace(pose, world_xyz=world)).shoulder_tilt_deg
    assert (tilt == pytest.approx(5.0, abs=0.5)) is from_image, tilt
    # Whichever side of the picture the person's left is on (a rear view, a mirror):
    assert measure(mirror(pose)).shoulder_tilt_deg == pytest.approx(-5.0, abs=0.5)


@pytest.mark.parametrize("yaw_deg", [90.0, 50.0])
def test_non_square_images_measure_pixel_geometry(yaw_deg):
    """The same pixels in a landscape and a portrait frame measure the same angles."""
    landscape = skeleton(30, 15, yaw_deg, image_size=(1920, 1080), hip_px=(700.0, 900.0))
    portrait = skeleton(30, 15, yaw_deg, image_size=(1080, 1920), hip_px=(700.0, 900.0))
    wide, tall = measure(landscape), measure(portrait)
    assert_same_metrics(wide, tall, SHAPE_METRICS)  # the picture's centre moved
    assert wide.trunk_inclination_3d_deg == pytest.approx(15.0, abs=ANGLE_TOL_DEG)
    if yaw_deg == 90.0:
        assert wide.neck_inclination_deg == pytest.approx(45.0, abs=ANGLE_TOL_DEG)
        assert tall.trunk_inclination_deg == pytest.approx(15.0, abs=ANGLE_TOL_DEG)


# --- Shoulder tilt and head roll -------------------------------------------------------


@pytest.mark.parametrize("roll_deg", [-10.0, -3.0, 5.0, 12.0])
def test_shoulder_tilt_is_positive_when_the_persons_left_shoulder_is_lower(roll_deg):
    pose = skeleton(trunk_roll_deg=roll_deg)
    left_lower = pose.pixels(Landmark.LEFT_SHOULDER)[1] > pose.pixels(Landmark.RIGHT_SHOULDER)[1]
    assert left_lower == (roll_deg > 0)
    metrics = measure(pose)
    assert metrics.shoulder_tilt_deg == pytest.approx(roll_deg, abs=1e-6)
    # The head rides on the trunk, so the eyes tilt with the shoulders.
    assert metrics.head_roll_deg == pytest.approx(roll_deg, abs=1e-6)


@pytest.mark.parametrize("roll_deg", [-15.0, 7.0])
def test_head_roll_is_positive_when_the_persons_left_eye_is_lower(roll_deg):
    pose = skeleton(head_roll_deg=roll_deg)
    left_lower = pose.pixels(Landmark.LEFT_EYE)[1] > pose.pixels(Landmark.RIGHT_EYE)[1]
    assert left_lower == (roll_deg > 0)
    metrics = measure(pose)
    assert metrics.head_roll_deg == pytest.approx(roll_deg, abs=1e-6)
    assert metrics.shoulder_tilt_deg == pytest.approx(0.0, abs=1e-6)


@FAST
@given(rolls, rolls)
def test_frontal_tilts_match_built_rolls(trunk_roll_deg, head_roll_deg):
    metrics = measure(skeleton(trunk_roll_deg=trunk_roll_deg, head_roll_deg=head_roll_deg))
    assert metrics.shoulder_tilt_deg == pytest.approx(trunk_roll_deg, abs=1e-6)
    assert metrics.head_roll_deg == pytest.approx(trunk_roll_deg + head_roll_deg, abs=1e-6)


# --- Missing landmarks ----------------------------------------------------------------


def test_hidden_hips_drop_trunk_metrics_but_keep_the_neck():
    pose = skeleton(neck_deg=20, trunk_deg=10, yaw_deg=90, visibility={i: 0.0 for i in HIPS})
    metrics = measure(pose)
    for name in TRUNK_FIELDS:
        assert getattr(metrics, name) is None, name
    assert metrics.neck_inclination_deg == pytest.approx(30.0, abs=ANGLE_TOL_DEG)
    assert metrics.neck_inclination_3d_deg == pytest.approx(30.0, abs=ANGLE_TOL_DEG)
    assert metrics.craniovertebral_deg == pytest.approx(60.0, abs=ANGLE_TOL_DEG)


def test_hips_below_the_image_drop_trunk_metrics():
    width, height = 1280, 720
    pose = skeleton(neck_deg=20, trunk_deg=10, yaw_deg=90, hip_px=(640.0, 1.1 * height))
    assert pose.image_xy[Landmark.LEFT_HIP, 1] > 1.0
    metrics = measure(pose)
    for name in TRUNK_FIELDS:
        assert getattr(metrics, name) is None, name
    assert metrics.neck_inclination_deg == pytest.approx(30.0, abs=ANGLE_TOL_DEG)
    assert metrics.neck_inclination_3d_deg == pytest.approx(30.0, abs=ANGLE_TOL_DEG)
    # Just over the edge is still within the margin for hips the model really saw.
    edge = measure(skeleton(trunk_deg=10, yaw_deg=90, hip_px=(width / 2, 1.01 * height)))
    assert edge.trunk_inclination_deg == pytest.approx(10.0, abs=ANGLE_TOL_DEG)


@pytest.mark.parametrize("shoulder", [Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER])
def test_a_hidden_shoulder_means_no_metrics(shoulder):
    assert compute_metrics(skeleton(yaw_deg=90, visibility={shoulder: 0.2})) is None


def test_no_pose_means_no_metrics():
    empty = PoseResult.empty((640, 480))
    assert compute_metrics(empty) is None
    assert PostureMetrics.from_pose(empty) is None


def test_visibility_threshold_is_inclusive_and_adjustable():
    pose = skeleton(yaw_deg=90, visibility={Landmark.LEFT_SHOULDER: 0.5})
    assert compute_metrics(pose) is not None
    assert compute_metrics(pose, visibility_threshold=0.6) is None


def test_hidden_ears_drop_head_height_and_neck():
    metrics = measure(skeleton(neck_deg=20, yaw_deg=0, visibility={i: 0.1 for i in EARS}))
    assert metrics.head_height_ratio is None
    assert metrics.neck_inclination_3d_deg is None
    assert metrics.craniovertebral_deg is None
    assert metrics.shoulder_tilt_deg == pytest.approx(0.0, abs=1e-9)


def test_near_side_is_the_only_visible_side():
    # World depth says "right", but only the left ear and shoulder are seen.
    pose = skeleton(neck_deg=30, yaw_deg=90, visibility={Landmark.RIGHT_EAR: 0.1})
    metrics = measure(pose)
    assert metrics.near_side == "left"
    assert metrics.neck_inclination_deg == pytest.approx(30.0, abs=ANGLE_TOL_DEG)


def test_key_visibility_is_the_weakest_key_point():
    pose = skeleton(visibility={Landmark.RIGHT_SHOULDER: 0.7, Landmark.LEFT_EAR: 0.6})
    # Shoulders and the better-seen ear (right ear, 1.0) are the key points.
    assert measure(pose).key_visibility == pytest.approx(0.7)


@pytest.mark.parametrize(("yaw_deg", "view"), [(0.0, View.FRONTAL), (45.0, View.OBLIQUE)])
def test_without_world_landmarks_the_view_comes_from_image_depth(yaw_deg, view):
    metrics = measure(without_world(skeleton(neck_deg=20, yaw_deg=yaw_deg)))
    assert metrics.view is view
    assert metrics.body_yaw_deg == pytest.approx(yaw_deg, abs=ANGLE_TOL_DEG)
    for name in WORLD_FIELDS:
        assert getattr(metrics, name) is None, name


def test_without_world_landmarks_2d_side_metrics_still_work():
    metrics = measure(without_world(skeleton(neck_deg=30, trunk_deg=10, yaw_deg=90)))
    assert metrics.view is View.SIDE
    assert metrics.body_yaw_deg == pytest.approx(90.0, abs=ANGLE_TOL_DEG)
    for name in WORLD_FIELDS:
        assert getattr(metrics, name) is None, name
    assert metrics.neck_inclination_deg == pytest.approx(40.0, abs=ANGLE_TOL_DEG)
    assert metrics.trunk_inclination_deg == pytest.approx(10.0, abs=ANGLE_TOL_DEG)
    assert metrics.craniovertebral_deg == pytest.approx(50.0, abs=ANGLE_TOL_DEG)
    assert metrics.head_size_frac is not None


def test_hidden_world_hips_drop_only_the_3d_trunk():
    pose = skeleton(trunk_deg=15, yaw_deg=90)
    world = pose.world_xyz.copy()
    world[list(HIPS)] = np.nan
    metrics = measure(dataclasses.replace(pose, world_xyz=world))
    assert metrics.trunk_inclination_3d_deg is None
    assert metrics.trunk_inclination_deg == pytest.approx(15.0, abs=ANGLE_TOL_DEG)
    assert metrics.neck_inclination_3d_deg == pytest.approx(15.0, abs=ANGLE_TOL_DEG)


def test_with_visibility_matches_building_with_visibility():
    built = skeleton(yaw_deg=90, visibility={Landmark.NOSE: 0.3})
    patched = with_visibility(skeleton(yaw_deg=90), {Landmark.NOSE: 0.3})
    assert patched.visibility == pytest.approx(built.visibility)
    # Without the nose "forward" is unknown, so the 2D side angles are not guessed.
    assert measure(patched).neck_inclination_deg is None


# --- PostureMetrics as a value ----------------------------------------------------------


@pytest.fixture
def side_metrics() -> PostureMetrics:
    return measure(skeleton(neck_deg=30, trunk_deg=10, yaw_deg=90))


@pytest.mark.parametrize("name", METRIC_NAMES)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_metrics_are_rejected(side_metrics, name, bad):
    with pytest.raises(ValueError, match=name):
        dataclasses.replace(side_metrics, **{name: bad})


@pytest.mark.parametrize(
    "change",
    [
        {"view_confidence": -0.01},
        {"view_confidence": 1.01},
        {"body_yaw_deg": 90.5},
        {"body_yaw_deg": -1.0},
        {"near_side": "front"},
        {"near_side": "Left"},
    ],
)
def test_out_of_range_fields_are_rejected(side_metrics, change):
    with pytest.raises(ValueError, match=next(iter(change))):
        dataclasses.replace(side_metrics, **change)


def test_metrics_are_frozen(side_metrics):
    with pytest.raises(dataclasses.FrozenInstanceError):
        side_metrics.neck_inclination_deg = 0.0  # type: ignore[misc]


def test_as_dict_is_json_ready(side_metrics):
    values = side_metrics.as_dict()
    assert set(values) == {field.name for field in dataclasses.fields(PostureMetrics)}
    decoded = json.loads(json.dumps(values, allow_nan=False))
    assert decoded["view"] == "side"
    assert type(values["view"]) is str
    assert decoded["near_side"] == "right"
    assert decoded["neck_inclination_deg"] == pytest.approx(40.0, abs=1e-4)
    assert decoded["craniovertebral_deg"] == pytest.approx(50.0, abs=1e-4)


def test_as_dict_keeps_missing_metrics_as_null():
    metrics = measure(skeleton(visibility={i: 0.0 for i in HIPS}))
    decoded = json.loads(json.dumps(metrics.as_dict()))
    assert decoded["view"] == "frontal"
    assert decoded["trunk_inclination_3d_deg"] is None
    assert decoded["neck_inclination_deg"] is None


@pytest.mark.parametrize("yaw_deg", [45.0, 35.0])
def test_near_side_without_world_landmarks_comes_from_image_depth(yaw_deg):
    """Regression: with equal visibility the far side was picked and the 2D neck flipped sign."""
    upright = measure(without_world(skeleton(0, 0, yaw_deg)))
    bent = measure(without_world(skeleton(30, 0, yaw_deg)))
    assert upright.near_side == bent.near_side == "right"
    assert bent.neck_inclination_deg > upright.neck_inclination_deg + 15
