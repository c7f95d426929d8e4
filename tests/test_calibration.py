"""Calibration on hand-built metrics: baselines, quality gates, the protocol, profiles.

No MediaPipe here: every frame is a `PostureMetrics` built by `metrics()`, so the
numbers (and therefore every median, MAD and tolerance) are known in advance.
Margins and gate limits are read from the modules, so retuning them does not
break the tests; the rules that use them must still hold.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calibration.baseline import (
    BASELINE_METRICS,
    MAD_TO_SIGMA,
    MARGINS,
    SPREAD_K,
    Margin,
    MetricBaseline,
    baseline_of,
    build_baseline,
    tolerance_for,
)
from calibration.gates import (
    MAX_CROWD_FRACTION,
    MAX_MOVEMENT_SIGMA,
    MIN_BRIGHTNESS,
    MIN_FRAMES_FOR_MOVEMENT,
    MIN_KEY_VISIBILITY,
    CalibrationSample,
    accepted_frames,
    check_still,
)
from calibration.population import (
    POPULATION_NAME,
    derive_population,
    population_profiles,
    population_to_json,
)
from calibration.profile import SCHEMA_VERSION, Profile, ProfileStore, check_name
from calibration.protocol import calibrate, dominant_view
from calibration.upright import UPRIGHT_BOUNDS, check_upright, upright_problems
from posture.errors import CalibrationError, MovementError, ProfileError
from posture.metrics import PostureMetrics
from posture.paths import profiles_dir
from posture.vocabulary import View
from tests.skeletons import hand_metrics

FAST = settings(max_examples=60, deadline=None)

# An upright person seen from the side, every baseline metric measured.
UPRIGHT: dict[str, float] = {
    "neck_inclination_deg": 10.0,
    "neck_inclination_3d_deg": 12.0,
    "trunk_inclination_deg": 2.0,
    "trunk_inclination_3d_deg": 1.0,
    "head_height_ratio": 0.6,
    "head_size_frac": 0.15,
    "shoulder_tilt_deg": 0.5,
}


def metrics(view: View = View.SIDE, **values: Any) -> PostureMetrics:
    return hand_metrics(view, **values)


def upright(view: View = View.SIDE, **changes: Any) -> PostureMetrics:
    return metrics(view, **{**UPRIGHT, **changes})


def sample(
    frame: PostureMetrics | None, person_count: int | None = None, brightness: float = 120.0
) -> CalibrationSample:
    if person_count is None:
        person_count = 0 if frame is None else 1
    return CalibrationSample(metrics=frame, person_count=person_count, brightness=brightness)


def still_samples(
    count: int = 10, view: View = View.SIDE, **changes: Any
) -> list[CalibrationSample]:
    return [sample(upright(view, **changes)) for _ in range(count)]


def spread_tolerance(mad: float) -> float:
    return SPREAD_K * MAD_TO_SIGMA * mad


# --- Baseline: median, MAD and tolerance ----------------------------------------------


def test_baseline_is_median_and_mad_of_known_numbers():
    found = baseline_of("neck_inclination_deg", [14.0, 10.0, 18.0, 12.0, 16.0])
    assert found is not None
    assert found.median == 14.0
    assert found.mad == 2.0  # |deviations| 4, 2, 0, 2, 4
    assert found.count == 5


def test_baseline_of_an_even_count_averages_the_middle_pair():
    found = baseline_of("neck_inclination_deg", [10.0, 12.0, 14.0, 20.0])
    assert found is not None
    assert found.median == 13.0
    assert found.mad == 2.0  # |deviations| 3, 1, 1, 7 -> median 2


@pytest.mark.parametrize("values", [[10.0], [10.0, 10.0, 10.0]])
def test_no_spread_gives_the_minimum_tolerance(values):
    found = baseline_of("neck_inclination_deg", values)
    assert found is not None
    assert found.mad == 0.0
    assert found.tolerance == MARGINS["neck_inclination_deg"].minimum


def test_a_small_spread_is_lifted_to_the_minimum_tolerance():
    found = baseline_of("neck_inclination_deg", [9.0, 10.0, 11.0])
    assert found is not None
    assert spread_tolerance(found.mad) < MARGINS["neck_inclination_deg"].minimum
    assert found.tolerance == MARGINS["neck_inclination_deg"].minimum


def test_a_moderate_spread_sets_the_tolerance_at_three_sigma():
    margin = MARGINS["neck_inclination_deg"]
    # Pick a MAD whose three-sigma lies half-way between the margins.
    mad = (margin.minimum + margin.maximum) / 2.0 / (SPREAD_K * MAD_TO_SIGMA)
    found = baseline_of("neck_inclination_deg", [20.0 - 2 * mad, 20.0 - mad, 20.0, 20.0 + mad])
    assert found is not None
    assert found.median == pytest.approx(20.0 - mad / 2.0)
    assert found.mad == pytest.approx(mad)
    assert margin.minimum < found.tolerance < margin.maximum
    assert found.tolerance == pytest.approx((margin.minimum + margin.maximum) / 2.0)


def test_a_wide_spread_is_capped_at_the_maximum_tolerance():
    found = baseline_of("neck_inclination_deg", [0.0, 10.0, 20.0, 30.0, 40.0])
    assert found is not None
    assert found.mad == 10.0
    assert spread_tolerance(10.0) > MARGINS["neck_inclination_deg"].maximum
    assert found.tolerance == MARGINS["neck_inclination_deg"].maximum


def test_relative_margins_are_fractions_of_the_median():
    margin = MARGINS["head_size_frac"]
    assert margin.relative
    single = baseline_of("head_size_frac", [0.2])
    assert single is not None
    assert single.tolerance == pytest.approx(margin.minimum * 0.2)

    # MAD 0.01: three sigma is 0.0445, between 0.2 * min and 0.2 * max margins.
    middle = baseline_of("head_size_frac", [0.18, 0.19, 0.2, 0.21, 0.22])
    assert middle is not None
    assert middle.median == pytest.approx(0.2)
    assert middle.mad == pytest.approx(0.01)
    assert margin.minimum * 0.2 < spread_tolerance(0.01) < margin.maximum * 0.2
    assert middle.tolerance == pytest.approx(spread_tolerance(0.01))

    wide = baseline_of("head_size_frac", [0.1, 0.15, 0.2, 0.25, 0.3])
    assert wide is not None
    assert wide.tolerance == pytest.approx(margin.maximum * 0.2)


def test_relative_tolerance_scales_with_the_baseline_but_absolute_does_not():
    small = baseline_of("head_size_frac", [0.1])
    large = baseline_of("head_size_frac", [0.4])
    assert small is not None and large is not None
    assert large.tolerance == pytest.approx(4 * small.tolerance)
    assert tolerance_for("neck_inclination_deg", 5.0, 0.0) == tolerance_for(
        "neck_inclination_deg", 40.0, 0.0
    )


def test_relative_tolerance_of_a_zero_baseline_stays_positive():
    assert tolerance_for("head_size_frac", 0.0, 0.0) == MARGINS["head_size_frac"].minimum


@given(values=st.lists(st.floats(-90.0, 90.0), min_size=1, max_size=40))
@FAST
def test_tolerance_always_lies_within_the_margins(values):
    for metric in ("neck_inclination_deg", "shoulder_tilt_deg", "head_height_ratio"):
        found = baseline_of(metric, values)
        assert found is not None
        assert MARGINS[metric].minimum <= found.tolerance <= MARGINS[metric].maximum
        assert found.count == len(values)


def test_none_and_non_finite_values_are_ignored():
    found = baseline_of("neck_inclination_deg", [10.0, None, math.nan, 12.0, math.inf, 14.0])
    assert found is not None
    assert (found.median, found.mad, found.count) == (12.0, 2.0, 3)


@pytest.mark.parametrize("values", [[], [None, None], [math.nan]])
def test_no_usable_values_give_no_baseline(values):
    assert baseline_of("neck_inclination_deg", values) is None


def test_build_baseline_skips_metrics_never_measured():
    frames = [
        metrics(neck_inclination_deg=10.0, head_height_ratio=0.6, craniovertebral_deg=80.0),
        metrics(neck_inclination_deg=12.0, head_height_ratio=None, body_scale_px=300.0),
        metrics(neck_inclination_deg=14.0, head_height_ratio=0.62),
    ]
    baselines = build_baseline(frames)
    # craniovertebral_deg and body_scale_px are measured but are not baseline metrics.
    assert set(baselines) == {"neck_inclination_deg", "head_height_ratio"}
    assert baselines["neck_inclination_deg"].median == 12.0
    assert baselines["neck_inclination_deg"].count == 3
    assert baselines["head_height_ratio"].median == pytest.approx(0.61)
    assert baselines["head_height_ratio"].count == 2


def test_build_baseline_of_no_frames_is_empty():
    assert build_baseline([]) == {}


def test_every_baseline_metric_has_a_margin_and_is_a_metric_field():
    assert set(BASELINE_METRICS) == set(MARGINS)
    assert set(BASELINE_METRICS) <= set(PostureMetrics.__dataclass_fields__)


def test_metric_baseline_as_dict_rounds_to_six_places():
    base = MetricBaseline(median=1.23456789, mad=0.0, tolerance=8.0, count=3)
    assert base.as_dict() == {"median": 1.234568, "mad": 0.0, "tolerance": 8.0, "count": 3}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"median": math.nan}, "median must be finite, got nan"),
        ({"mad": math.inf}, "mad must be finite, got inf"),
        ({"tolerance": -math.inf}, "tolerance must be finite, got -inf"),
        ({"mad": -0.1}, "invalid baseline: mad=-0.1 tolerance=8.0 count=5"),
        ({"tolerance": 0.0}, "invalid baseline: mad=1.0 tolerance=0.0 count=5"),
        ({"tolerance": -2.0}, "invalid baseline: mad=1.0 tolerance=-2.0 count=5"),
        ({"count": 0}, "invalid baseline: mad=1.0 tolerance=8.0 count=0"),
    ],
)
def test_invalid_metric_baseline_is_refused(fields, message):
    values = {"median": 10.0, "mad": 1.0, "tolerance": 8.0, "count": 5, **fields}
    with pytest.raises(ValueError, match=re.escape(message)):
        MetricBaseline(**values)


@pytest.mark.parametrize(
    ("minimum", "maximum", "message"),
    [
        (0.0, 1.0, "need 0 < minimum <= maximum, got 0.0, 1.0"),
        (-1.0, 1.0, "need 0 < minimum <= maximum, got -1.0, 1.0"),
        (2.0, 1.0, "need 0 < minimum <= maximum, got 2.0, 1.0"),
    ],
)
def test_invalid_margin_is_refused(minimum, maximum, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Margin(minimum, maximum)


def test_equal_margins_are_allowed():
    assert Margin(1.0, 1.0).maximum == 1.0


# --- Gates: refuse a calibration that would teach the wrong baseline -----------------


def test_usable_frames_pass_and_only_they_are_returned():
    blurred = upright(key_visibility=MIN_KEY_VISIBILITY / 2)
    samples = [*still_samples(7), sample(None), sample(None), sample(blurred)]
    frames = accepted_frames(samples)
    assert len(frames) == 7
    assert blurred not in frames
    assert all(f.key_visibility >= MIN_KEY_VISIBILITY for f in frames)
    assert frames == [s.metrics for s in samples[:7]]


def test_no_frames_are_refused():
    with pytest.raises(CalibrationError, match="no frames to calibrate from: check the source"):
        accepted_frames([])


def test_too_dark_is_refused_with_the_brightness():
    samples = [sample(upright(), brightness=20.0) for _ in range(6)]
    expected = f"too dark to calibrate (brightness 20 of 255, need {MIN_BRIGHTNESS:.0f})"
    with pytest.raises(CalibrationError, match=re.escape(expected)) as caught:
        accepted_frames(samples)
    assert "turn on a light" in str(caught.value)


def test_brightness_is_the_median_so_one_dark_frame_does_not_refuse():
    samples = [*still_samples(5), sample(upright(), brightness=0.0)]
    assert len(accepted_frames(samples)) == 6


def test_no_person_at_all_is_refused():
    with pytest.raises(CalibrationError, match=re.escape("no person found in 4 frames")) as caught:
        accepted_frames([sample(None) for _ in range(4)])
    assert "head and both shoulders in the picture" in str(caught.value)


def test_a_pose_in_too_few_frames_is_refused():
    # A person seen (person_count 1) whose pose was lost in 6 of 10 frames.
    samples = [*still_samples(4), *(sample(None, person_count=1) for _ in range(6))]
    with pytest.raises(
        CalibrationError, match=re.escape("a pose was found in only 4 of 10 frames")
    ) as caught:
        accepted_frames(samples)
    assert "keep still" in str(caught.value)


def test_a_pose_in_half_the_frames_is_enough():
    samples = [*still_samples(5), *(sample(None) for _ in range(5))]
    assert len(accepted_frames(samples)) == 5


def test_more_than_one_person_is_refused():
    crowded = int(MAX_CROWD_FRACTION * 10) + 1
    samples = [
        *(sample(upright(), person_count=2) for _ in range(crowded)),
        *still_samples(10 - crowded),
    ]
    expected = f"more than one person in view in {crowded} of 10 frames"
    with pytest.raises(CalibrationError, match=re.escape(expected)) as caught:
        accepted_frames(samples)
    assert "calibrate alone" in str(caught.value)


def test_a_passer_by_in_few_frames_is_tolerated():
    allowed = int(MAX_CROWD_FRACTION * 10)
    samples = [
        *(sample(upright(), person_count=2) for _ in range(allowed)),
        *still_samples(10 - allowed),
    ]
    assert len(accepted_frames(samples)) == 10


def test_low_key_visibility_is_refused():
    dim = MIN_KEY_VISIBILITY - 0.2
    samples = [*still_samples(3), *(sample(upright(key_visibility=dim)) for _ in range(7))]
    expected = "head and shoulders clearly visible in only 3 of 10 frames with a pose (need 60%)"
    with pytest.raises(CalibrationError, match=re.escape(expected)) as caught:
        accepted_frames(samples)
    assert "light on your face" in str(caught.value)


def test_visibility_refusal_counts_frames_not_a_median():
    """Regression: half the frames clear and half dim printed a passing-looking median."""
    dim = MIN_KEY_VISIBILITY - 0.2
    samples = [*still_samples(5), *(sample(upright(key_visibility=dim)) for _ in range(5))]
    with pytest.raises(CalibrationError, match=re.escape("only 5 of 10 frames")):
        accepted_frames(samples)


def test_too_much_movement_is_refused_with_the_spread():
    necks = [0.0, 10.0, 20.0, 30.0, 40.0]  # MAD 10
    samples = [sample(upright(neck_inclination_deg=n)) for n in necks]
    sigma = MAD_TO_SIGMA * 10.0
    bound = MAX_MOVEMENT_SIGMA["neck_inclination_deg"]
    assert sigma > bound
    expected = f"(neck_inclination_deg varied by {sigma:.2f}, limit {bound})"
    with pytest.raises(CalibrationError, match=re.escape(expected)) as caught:
        accepted_frames(samples)
    assert "too much movement while calibrating" in str(caught.value)


def test_movement_of_the_head_height_is_refused_too():
    heights = [0.4, 0.5, 0.6, 0.7, 0.8]  # MAD 0.1
    frames = [upright(head_height_ratio=h) for h in heights]
    with pytest.raises(CalibrationError, match=re.escape("head_height_ratio varied by 0.15")):
        check_still(frames)


def test_jitter_below_the_bound_is_still():
    necks = [9.0, 10.0, 11.0, 10.0, 9.5, 10.5]
    frames = [upright(neck_inclination_deg=n) for n in necks]
    check_still(frames)
    assert accepted_frames([sample(f) for f in frames]) == frames


def test_one_odd_frame_is_not_movement():
    necks = [10.0, 10.0, 10.0, 10.0, 10.0, 80.0]
    frames = [upright(neck_inclination_deg=n) for n in necks]
    check_still(frames)
    assert accepted_frames([sample(f) for f in frames]) == frames


def test_a_second_posture_in_a_good_part_of_the_frames_is_refused_though_the_spread_is_small():
    """Still upright for 11 frames, then still slouched for 9: the median and its
    deviation stay with the upright majority, so the spread looks like jitter."""
    necks = [10.0] * 11 + [35.0] * 9
    frames = [upright(neck_inclination_deg=n) for n in necks]
    with pytest.raises(MovementError) as caught:
        check_still(frames)
    assert str(caught.value) == (
        "your posture changed while calibrating (neck_inclination_deg: 9 of 20 frames more "
        "than 15 deg from the median): sit upright and still for the whole calibration"
    )
    # A quarter of the frames elsewhere is still one posture, with a few odd moments.
    check_still([upright(neck_inclination_deg=n) for n in [10.0] * 15 + [35.0] * 5])


def test_fewer_frames_than_the_movement_minimum_skip_the_movement_gate():
    necks = [0.0, 20.0, 40.0, 60.0][: MIN_FRAMES_FOR_MOVEMENT - 1]
    frames = [upright(neck_inclination_deg=n) for n in necks]
    check_still(frames)
    assert accepted_frames([sample(f) for f in frames]) == frames


def test_a_single_still_calibrates():
    profile = calibrate([sample(upright())], name="photo", source="image upright.jpg")
    assert profile.frame_count == 1
    neck = profile.metrics["neck_inclination_deg"]
    assert (neck.median, neck.mad, neck.count) == (10.0, 0.0, 1)
    assert neck.tolerance == MARGINS["neck_inclination_deg"].minimum


@pytest.mark.parametrize(
    ("person_count", "brightness", "message"),
    [
        (-1, 100.0, "person_count must be >= 0, got -1"),
        (1, -1.0, "brightness must be in [0, 255], got -1.0"),
        (1, 256.0, "brightness must be in [0, 255], got 256.0"),
    ],
)
def test_invalid_calibration_sample_is_refused(person_count, brightness, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        CalibrationSample(metrics=None, person_count=person_count, brightness=brightness)


def test_upright_baselines_pass_at_every_bound():
    for view, bounds in UPRIGHT_BOUNDS.items():
        for bound in bounds:
            for edge in (bound.low, bound.high):
                if edge is not None:
                    assert upright_problems(view, {bound.metric: edge}) == [], (view, bound)
                    check_upright(view, {bound.metric: edge})
        assert upright_problems(view, {}) == []
        check_upright(view, {})


@pytest.mark.parametrize(
    ("view", "baseline", "says"),
    [
        (View.SIDE, {"trunk_inclination_deg": -35.0}, "leaning far back: sit tall"),
        (View.SIDE, {"trunk_inclination_deg": 30.0}, "slouching forward"),
        (View.SIDE, {"neck_inclination_deg": 42.0}, "head seems far forward"),
        (View.SIDE, {"neck_inclination_deg": -30.0}, "tipped far back"),
        (View.OBLIQUE, {"trunk_inclination_3d_deg": -35.0}, "leaning far back"),
        (View.FRONTAL, {"neck_inclination_3d_deg": 45.0}, "head seems far forward"),
        (View.FRONTAL, {"head_height_ratio": 0.3}, "sunk between your shoulders"),
    ],
)
def test_a_baseline_outside_upright_says_what_to_change(view, baseline, says):
    with pytest.raises(CalibrationError) as caught:
        check_upright(view, baseline)
    message = str(caught.value)
    assert says in message and "try again" in message
    metric, value = next(iter(baseline.items()))
    assert f"{metric} is {value:.0f}" in message or f"{metric} is {value:.2f}" in message
    assert message.endswith("or pass --force to keep it as your baseline")


def test_a_metric_judged_in_another_view_does_not_refuse():
    # The frontal bounds do not judge the 2D side-view trunk angle.
    assert upright_problems(View.FRONTAL, {"trunk_inclination_deg": 60.0}) == []


# --- Protocol: gated frames -> baseline -> profile ------------------------------------


def test_calibrate_builds_a_profile_of_the_upright_frames():
    necks = [9.0, 10.0, 11.0, 10.0, 10.0, 12.0, 8.0]
    samples = [sample(upright(neck_inclination_deg=n)) for n in necks] + [sample(None)]
    profile = calibrate(samples, name="desk", source="camera 0", model="full")
    assert profile.name == "desk"
    assert profile.view is View.SIDE
    assert profile.source == "camera 0"
    assert profile.model == "full"
    assert profile.frame_count == 7
    assert not profile.population_default
    assert set(profile.metrics) == set(UPRIGHT)
    assert profile.metrics["neck_inclination_deg"].median == 10.0
    assert profile.metrics["neck_inclination_deg"].count == 7
    assert profile.metrics["head_height_ratio"].median == pytest.approx(0.6)


def test_calibrate_takes_the_view_most_frames_agree_on():
    samples = [
        *still_samples(2, View.FRONTAL),
        *still_samples(3, View.OBLIQUE),
        *still_samples(1, View.SIDE),
    ]
    assert calibrate(samples, name="p", source="s").view is View.OBLIQUE


@pytest.mark.parametrize(
    ("views", "expected"),
    [
        ((View.FRONTAL, View.SIDE), View.FRONTAL),
        ((View.SIDE, View.FRONTAL), View.FRONTAL),
        ((View.SIDE, View.OBLIQUE), View.OBLIQUE),
        ((View.OBLIQUE, View.FRONTAL), View.FRONTAL),
    ],
)
def test_view_ties_go_to_the_more_frontal_view(views, expected):
    frames = [upright(view) for view in views for _ in range(2)]
    assert dominant_view(frames) is expected
    profile = calibrate([sample(f) for f in frames], name="p", source="s")
    assert profile.view is expected


def test_calibrate_refuses_a_non_upright_baseline():
    samples = still_samples(6, trunk_inclination_deg=45.0)
    with pytest.raises(CalibrationError, match=r"slouching forward.*--force"):
        calibrate(samples, name="p", source="s")


def test_force_keeps_a_non_upright_baseline_and_the_profile_says_so():
    samples = still_samples(6, trunk_inclination_deg=45.0)
    profile = calibrate(samples, name="p", source="s", force=True)
    assert profile.metrics["trunk_inclination_deg"].median == 45.0
    assert profile.forced
    assert Profile.from_json(profile.to_json()).forced
    upright_profile = calibrate(still_samples(6), name="p", source="s", force=True)
    assert not upright_profile.forced


def test_force_does_not_skip_the_quality_gates():
    samples = [sample(upright(), brightness=5.0) for _ in range(4)]
    with pytest.raises(CalibrationError, match="too dark"):
        calibrate(samples, name="p", source="s", force=True)


def test_without_gates_dark_crowded_and_leaning_frames_calibrate():
    samples = [
        sample(upright(trunk_inclination_deg=45.0), person_count=3, brightness=1.0),
        sample(None, person_count=0, brightness=1.0),
        sample(upright(trunk_inclination_deg=45.0, key_visibility=0.1), brightness=1.0),
    ]
    profile = calibrate(samples, name="labelled", source="dev set", gates=False)
    assert profile.frame_count == 2
    assert profile.metrics["trunk_inclination_deg"].median == 45.0


def test_without_gates_zero_usable_frames_are_still_refused():
    samples = [sample(None, person_count=1), sample(None)]
    with pytest.raises(CalibrationError, match="no frame with a usable pose to calibrate from"):
        calibrate(samples, name="p", source="s", gates=False)


def test_calibrate_refuses_an_invalid_profile_name():
    with pytest.raises(ProfileError, match=re.escape("invalid profile name '../evil'")):
        calibrate(still_samples(3), name="../evil", source="s")


# --- Profiles: JSON and the store -----------------------------------------------------


def make_profile(name: str = "desk", view: View = View.SIDE) -> Profile:
    return Profile(
        name=name,
        view=view,
        metrics={
            "neck_inclination_deg": MetricBaseline(10.5, 1.25, 8.0, 40),
            "head_size_frac": MetricBaseline(0.15, 0.005, 0.03, 38),
        },
        source="camera 0",
        model="lite",
        frame_count=40,
        created_at="2026-11-24T09:30:00+00:00",
    )


@pytest.fixture
def store(tmp_path: Path) -> ProfileStore:
    return ProfileStore(tmp_path / "profiles")


def write_profile_file(store: ProfileStore, name: str, content: Any) -> Path:
    store.folder.mkdir(parents=True, exist_ok=True)
    path = store.folder / f"{name}.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), "utf-8")
    return path


def valid_json(**changes: Any) -> dict[str, Any]:
    return {**make_profile("bad").to_json(), **changes}


def test_profile_json_round_trip_is_equal():
    profile = make_profile()
    data = profile.to_json()
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["view"] == "side"
    assert Profile.from_json(json.loads(json.dumps(data))) == profile


def test_profile_stamps_its_creation_time():
    profile = Profile(name="p", view=View.FRONTAL, metrics=make_profile().metrics)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", profile.created_at)


def test_profile_validation():
    with pytest.raises(ValueError, match="frame_count must be >= 0, got -1"):
        Profile(name="p", view=View.SIDE, metrics=make_profile().metrics, frame_count=-1)
    with pytest.raises(ValueError, match="a profile needs at least one metric baseline"):
        Profile(name="p", view=View.SIDE, metrics={})


def test_store_save_load_names_exists_delete(store: ProfileStore):
    assert store.names() == []  # the folder does not exist yet
    assert not store.exists("desk")
    path = store.save(make_profile("desk"))
    store.save(make_profile("couch", View.FRONTAL))
    assert path == store.folder / "desk.json"
    assert store.names() == ["couch", "desk"]
    assert store.exists("desk")
    assert store.load("desk") == make_profile("desk")
    assert store.load("couch").view is View.FRONTAL
    assert store.delete("desk") == path
    assert not path.exists()
    assert store.names() == ["couch"]


def test_save_replaces_an_existing_profile(store: ProfileStore):
    store.save(make_profile("desk"))
    changed = Profile(
        name="desk", view=View.FRONTAL, metrics={"shoulder_tilt_deg": MetricBaseline(1, 0, 6, 3)}
    )
    store.save(changed)
    assert store.load("desk") == changed


def test_profiles_default_to_the_data_directory(_isolated_home: Path):
    assert profiles_dir() == _isolated_home / "profiles"
    ProfileStore(profiles_dir()).save(make_profile())
    assert (_isolated_home / "profiles" / "desk.json").is_file()


def test_atomic_save_leaves_no_temp_files(store: ProfileStore):
    store.save(make_profile("desk"))
    store.save(make_profile("desk"))
    assert sorted(p.name for p in store.folder.iterdir()) == ["desk.json"]


def test_a_failed_save_keeps_the_old_profile_and_no_temp_file(
    store: ProfileStore, monkeypatch: pytest.MonkeyPatch
):
    store.save(make_profile("desk"))
    before = (store.folder / "desk.json").read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    # A full disk is the user's to fix: one line saying so, not an internal error.
    with pytest.raises(ProfileError, match=r"cannot save profile 'desk': the disk .* is full"):
        store.save(make_profile("desk", View.FRONTAL))
    assert (store.folder / "desk.json").read_bytes() == before
    assert sorted(p.name for p in store.folder.iterdir()) == ["desk.json"]


def test_names_ignore_files_that_are_not_profiles(store: ProfileStore):
    store.save(make_profile("desk"))
    (store.folder / ".tmp-abc.json").write_text("{}")
    (store.folder / "notes.txt").write_text("hello")
    assert store.names() == ["desk"]


BAD_NAMES = ["../evil", "", "a/b", "x.json", ".hidden", "-dash", "a b", "a" * 65]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_invalid_profile_names_are_refused(name: str, store: ProfileStore):
    message = f"invalid profile name {name!r}"
    for attempt in (check_name, store.path, store.load, store.exists, store.delete):
        with pytest.raises(ProfileError, match=re.escape(message)):
            attempt(name)
    with pytest.raises(ProfileError, match=re.escape(message)):
        make_profile().renamed(name)
    assert not store.folder.exists(), "nothing may be written for a bad name"


@pytest.mark.parametrize("name", ["default", "a", "Work-2.desk_left", "9" * 64])
def test_valid_profile_names(name: str):
    assert check_name(name) == name
    assert make_profile().renamed(name).name == name


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        ("{not json", "not JSON"),
        ("", "not JSON"),
        (valid_json(metrics=[1, 2]), "AttributeError"),
        ({k: v for k, v in valid_json().items() if k != "metrics"}, "KeyError: 'metrics'"),
        (
            valid_json(metrics={"neck_inclination_deg": {"mad": 1, "tolerance": 8, "count": 5}}),
            "KeyError: 'median'",
        ),
        (
            valid_json(
                metrics={
                    "neck_inclination_deg": {"median": 10, "mad": 1, "tolerance": -8, "count": 5}
                }
            ),
            "tolerance=-8.0",
        ),
        (
            valid_json(
                metrics={
                    "neck_inclination_deg": {"median": "x", "mad": 1, "tolerance": 8, "count": 5}
                }
            ),
            "ValueError",
        ),
        (valid_json(metrics={}), "at least one metric baseline"),
        (valid_json(view="top"), "'top' is not a valid View"),
        ({k: v for k, v in valid_json().items() if k != "name"}, "KeyError: 'name'"),
    ],
    ids=[
        "not-json",
        "empty-file",
        "metrics-is-a-list",
        "missing-metrics",
        "entry-missing-median",
        "negative-tolerance",
        "median-not-a-number",
        "no-metrics",
        "unknown-view",
        "missing-name",
    ],
)
def test_corrupt_profiles_are_a_clear_error(store: ProfileStore, content: Any, detail: str):
    path = write_profile_file(store, "bad", content)
    with pytest.raises(ProfileError) as caught:
        store.load("bad")
    message = str(caught.value)
    assert str(path) in message
    assert "corrupt" in message
    assert detail in message
    assert "calibrate again" in message


@pytest.mark.parametrize("content", [[1, 2], "a string", 42, None])
def test_json_that_is_not_an_object_is_not_a_profile(store: ProfileStore, content: Any):
    path = write_profile_file(store, "bad", json.dumps(content))
    with pytest.raises(ProfileError) as caught:
        store.load("bad")
    message = str(caught.value)
    assert str(path) in message
    assert "is corrupt" in message and "not a posture profile" in message
    assert "calibrate again" in message


def test_unreadable_bytes_are_a_clear_error(store: ProfileStore):
    store.folder.mkdir(parents=True)
    (store.folder / "bad.json").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(ProfileError, match="cannot read profile"):
        store.load("bad")


def test_a_newer_schema_version_asks_to_upgrade(store: ProfileStore):
    write_profile_file(store, "future", valid_json(schema_version=SCHEMA_VERSION + 1))
    with pytest.raises(ProfileError) as caught:
        store.load("future")
    message = str(caught.value)
    assert f"schema version {SCHEMA_VERSION + 1}, newer than this posture understands" in message
    assert "upgrade posture" in message


@pytest.mark.parametrize("version", [None, "1", 1.0])
def test_a_missing_schema_version_is_not_a_profile(store: ProfileStore, version: Any):
    data = valid_json(schema_version=version)
    if version is None:
        del data["schema_version"]
    write_profile_file(store, "other", data)
    with pytest.raises(ProfileError, match="has no schema_version: not a posture profile"):
        store.load("other")


def test_loading_an_unknown_name_says_how_to_create_it(store: ProfileStore):
    with pytest.raises(ProfileError) as caught:
        store.load("work")
    message = str(caught.value)
    assert "no profile named 'work' (profiles: none yet)" in message
    assert "create it with `posture calibrate --profile work`" in message

    store.save(make_profile("desk"))
    with pytest.raises(ProfileError, match=r"\(profiles: desk\)"):
        store.load("work")


def test_deleting_a_missing_profile_is_an_error(store: ProfileStore):
    with pytest.raises(ProfileError, match="no profile named 'ghost' to delete"):
        store.delete("ghost")


# --- Population defaults --------------------------------------------------------------


def test_bundled_population_has_every_view():
    profiles = population_profiles()
    assert set(profiles) == set(View)
    for view, profile in profiles.items():
        assert profile.view is view
        assert profile.population_default
        assert profile.name == POPULATION_NAME
        assert profile.metrics


def test_bundled_population_tolerances_follow_the_current_margins():
    # A stale population.json (derived with other margins) would judge uncalibrated
    # users by different rules than calibrated ones: a population's tolerance is the
    # widest a personal one can be.
    for view, profile in population_profiles().items():
        for metric, base in profile.metrics.items():
            expected = tolerance_for(metric, base.median, math.inf)
            assert base.tolerance == pytest.approx(expected, abs=1e-5), (view, metric)


def test_a_population_judges_with_the_widest_tolerance_and_no_framing_metric():
    # Three sources that agree closely: their spread says nothing about a fourth person.
    samples = [
        (source, side_frame(10.0 + offset, head_size_frac=0.05 + offset / 100))
        for source, offset in (("a", 0.0), ("b", 0.5), ("c", 1.0))
    ]
    side = derive_population(samples)[View.SIDE].metrics
    assert side["neck_inclination_deg"].mad == 0.5
    assert side["neck_inclination_deg"].tolerance == MARGINS["neck_inclination_deg"].maximum
    # The head's share of the picture depends on the lens and the distance: left out.
    assert "head_size_frac" not in side
    assert "head_size_frac" not in {m for p in population_profiles().values() for m in p.metrics}


def side_frame(neck: float | None, **values: Any) -> PostureMetrics:
    return metrics(View.SIDE, neck_inclination_deg=neck, **values)


def test_each_source_gets_one_vote():
    samples = [
        *(("many-photos", side_frame(10.0)) for _ in range(10)),
        ("second", side_frame(20.0)),
        ("third", side_frame(30.0)),
    ]
    all_frames = sorted(m.neck_inclination_deg for _, m in samples if m.neck_inclination_deg)
    per_frame = baseline_of("neck_inclination_deg", all_frames)
    assert per_frame is not None and per_frame.median == 10.0  # what one vote per source avoids

    profiles = derive_population(samples)
    assert set(profiles) == {View.SIDE}
    side = profiles[View.SIDE]
    neck = side.metrics["neck_inclination_deg"]
    assert neck.median == 20.0  # the median of the source medians 10, 20, 30
    assert neck.mad == 10.0
    assert neck.count == 3
    assert neck.tolerance == MARGINS["neck_inclination_deg"].maximum
    assert side.frame_count == 12
    assert side.source == "population: 3 sources of upright people"
    assert side.population_default
    assert side.name == POPULATION_NAME


def test_population_groups_by_view_and_needs_more_than_one_source():
    samples = [
        ("a", side_frame(10.0, head_height_ratio=0.5)),
        ("a", side_frame(14.0)),
        ("b", side_frame(20.0, head_height_ratio=0.6)),
        ("c", side_frame(None, head_height_ratio=0.7)),
        ("a", metrics(View.FRONTAL, neck_inclination_3d_deg=15.0)),
        ("b", metrics(View.FRONTAL, neck_inclination_3d_deg=25.0, head_height_ratio=0.5)),
    ]
    profiles = derive_population(samples)
    assert set(profiles) == {View.SIDE, View.FRONTAL}
    side = profiles[View.SIDE].metrics
    assert side["neck_inclination_deg"].median == 16.0  # median of a's 12 and b's 20
    assert side["neck_inclination_deg"].count == 2  # source c never measured the neck
    assert side["head_height_ratio"].count == 3
    frontal = profiles[View.FRONTAL].metrics
    assert frontal["neck_inclination_3d_deg"].median == 20.0
    # Seen in one source only: one camera set-up must not stand for everybody.
    assert "head_height_ratio" not in frontal
    assert profiles[View.FRONTAL].frame_count == 2


def test_population_skips_a_view_seen_in_a_single_source():
    profiles = derive_population([("a", side_frame(10.0)), ("a", side_frame(12.0))])
    assert profiles == {}


def test_population_json_round_trips_through_profile_json():
    samples = [
        # Binary-exact values: the JSON keeps six decimals, so these survive unchanged.
        ("a", side_frame(10.0, head_size_frac=0.125)),
        ("b", side_frame(20.0, head_size_frac=0.25)),
        ("c", side_frame(30.0, head_size_frac=0.375)),
        ("a", metrics(View.FRONTAL, shoulder_tilt_deg=2.0)),
        ("b", metrics(View.FRONTAL, shoulder_tilt_deg=4.0)),
    ]
    profiles = derive_population(samples)
    assert "head_size_frac" not in profiles[View.SIDE].metrics
    data = json.loads(population_to_json(profiles))
    assert list(data) == ["frontal", "side"]
    for view, profile in profiles.items():
        assert Profile.from_json(data[view.value]) == profile
