"""Scoring on hand-built metrics and profiles, and the smoother on fake time.

Every profile here is written out by hand, so each deviation is a known number
of tolerances: the neck baseline 10 deg with tolerance 8 puts the threshold at
18 deg, and 27 deg is (27 - 10) / 8 = 2.125 tolerances out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calibration.baseline import MetricBaseline
from calibration.population import population_profiles
from calibration.profile import Profile
from posture.metrics import PostureMetrics
from posture.scoring import (
    PERSON_NO_POSE_SCORE,
    Assessment,
    Reason,
    Scorer,
    SmootherSettings,
    Term,
    VerdictSmoother,
    score_from_excess,
)
from posture.vocabulary import Verdict, View
from tests.skeletons import hand_metrics

FAST = settings(max_examples=200, deadline=None)


def metrics(view: View = View.SIDE, **values: Any) -> PostureMetrics:
    return hand_metrics(view, **values)


# Side view: neck threshold 10 + 8 = 18 deg (3D: 12 + 6), trunk 0 +- 8 deg.
SIDE_BASELINES = {
    "neck_inclination_deg": MetricBaseline(10.0, 1.0, 8.0, 5),
    "neck_inclination_3d_deg": MetricBaseline(12.0, 1.0, 6.0, 5),
    "trunk_inclination_deg": MetricBaseline(0.0, 1.0, 8.0, 5),
    "trunk_inclination_3d_deg": MetricBaseline(0.0, 1.0, 8.0, 5),
    "shoulder_tilt_deg": MetricBaseline(0.0, 1.0, 6.0, 5),
    "head_size_frac": MetricBaseline(0.05, 0.002, 0.01, 5),
}
# Frontal view: 3D neck 10 +- 10 deg, head height 0.6 +- 0.1, tilt 0 +- 6 deg, head
# size 0.15 +- 0.03 of the image diagonal, torso height 1.0 +- 0.1.
FRONTAL_BASELINES = {
    "neck_inclination_3d_deg": MetricBaseline(10.0, 1.0, 10.0, 5),
    "head_height_ratio": MetricBaseline(0.6, 0.01, 0.1, 5),
    "trunk_inclination_3d_deg": MetricBaseline(0.0, 1.0, 8.0, 5),
    "torso_height_ratio": MetricBaseline(1.0, 0.01, 0.1, 5),
    "shoulder_tilt_deg": MetricBaseline(0.0, 1.0, 6.0, 5),
    "head_size_frac": MetricBaseline(0.15, 0.005, 0.03, 5),
}
SIDE_PROFILE = Profile(name="t", view=View.SIDE, metrics=SIDE_BASELINES)
FRONTAL_PROFILE = Profile(name="f", view=View.FRONTAL, metrics=FRONTAL_BASELINES)


def at_baseline(profile: Profile, view: View | None = None, **changes: Any) -> PostureMetrics:
    """A frame measuring exactly the profile's baselines, except `changes`."""
    values: dict[str, Any] = {name: base.median for name, base in profile.metrics.items()}
    return metrics(view or profile.view, **{**values, **changes})


def side(**changes: Any) -> Assessment:
    return Scorer(SIDE_PROFILE).assess(at_baseline(SIDE_PROFILE, **changes))


def frontal(**changes: Any) -> Assessment:
    return Scorer(FRONTAL_PROFILE).assess(at_baseline(FRONTAL_PROFILE, **changes))


def only_reason(assessment: Assessment) -> Reason:
    assert len(assessment.reasons) == 1, assessment.reasons
    return assessment.reasons[0]


# --- Scorer: one frame against a profile ----------------------------------------------


@pytest.mark.parametrize("profile", [SIDE_PROFILE, FRONTAL_PROFILE], ids=["side", "frontal"])
def test_the_baseline_itself_is_good_with_full_score(profile: Profile):
    result = Scorer(profile).assess(at_baseline(profile))
    assert result.verdict is Verdict.GOOD
    assert result.score == 100
    assert result.reasons == ()
    assert not result.uses_default_profile
    assert not result.verdict.is_bad


def test_side_neck_past_threshold_is_forward_head():
    result = side(neck_inclination_deg=27.0)
    assert result.verdict is Verdict.FORWARD_HEAD
    assert result.verdict.is_bad
    reason = only_reason(result)
    assert reason.verdict is Verdict.FORWARD_HEAD
    assert reason.metric == "neck_inclination_deg"
    assert (reason.value, reason.baseline, reason.threshold) == (27.0, 10.0, 18.0)
    assert reason.excess == pytest.approx(2.125)
    assert reason.excess > 1
    assert result.score == score_from_excess(2.125) == 36
    assert "neck_inclination_deg 27.00 is 9.00 past its threshold 18.00" in reason.describe()


def test_a_neck_inside_its_tolerance_is_good_with_a_reduced_score():
    result = side(neck_inclination_deg=14.0)  # half-way: excess 0.5
    assert result.verdict is Verdict.GOOD
    assert result.score == 85
    assert result.reasons == ()


def test_exactly_at_the_threshold_is_still_good():
    result = side(neck_inclination_deg=18.0)
    assert result.verdict is Verdict.GOOD
    assert result.score == 70


def test_a_neck_bent_back_is_not_forward_head():
    result = side(neck_inclination_deg=-20.0)
    assert result.verdict is Verdict.GOOD
    assert result.score == 100


def test_trunk_forward_is_a_slouch():
    result = side(trunk_inclination_deg=20.0)
    assert result.verdict is Verdict.SLOUCH
    reason = only_reason(result)
    assert reason.metric == "trunk_inclination_deg"
    assert reason.threshold == 8.0
    assert reason.excess == pytest.approx(2.5)


def test_trunk_back_is_reclined():
    result = side(trunk_inclination_deg=-20.0)
    assert result.verdict is Verdict.RECLINED
    reason = only_reason(result)
    assert reason.metric == "trunk_inclination_deg"
    assert reason.threshold == -8.0
    assert reason.excess == pytest.approx(2.5)


SINKING_PROFILE = Profile(
    name="desk-camera",
    view=View.FRONTAL,
    metrics={**FRONTAL_BASELINES, "shoulder_level_ratio": MetricBaseline(0.6, 0.01, 0.1, 5)},
)


def test_head_and_shoulders_sinking_together_is_a_slouch_from_the_front():
    """The neck cues barely move while the whole upper body drops in the picture."""
    scorer = Scorer(SINKING_PROFILE)
    sunk = scorer.assess(at_baseline(SINKING_PROFILE, shoulder_level_ratio=0.8))
    assert sunk.verdict is Verdict.SLOUCH
    assert sunk.reasons[0].metric == "shoulder_level_ratio"
    assert sunk.reasons[0].excess == pytest.approx(2.0)
    # Half-way on the level and half-way on the 3D neck angle add up to a slouch...
    both = at_baseline(SINKING_PROFILE, shoulder_level_ratio=0.66, neck_inclination_3d_deg=16.0)
    assert scorer.assess(both).verdict is Verdict.SLOUCH
    # ...either alone does not, and rising in the picture (leaning in) is no slouch.
    level_only = at_baseline(SINKING_PROFILE, shoulder_level_ratio=0.66)
    assert scorer.assess(level_only).verdict is Verdict.GOOD
    risen = scorer.assess(at_baseline(SINKING_PROFILE, shoulder_level_ratio=0.2))
    assert risen.verdict is Verdict.GOOD
    # Seen from the side the rule does not apply.
    side_view = at_baseline(SINKING_PROFILE, View.SIDE, shoulder_level_ratio=0.9)
    assert scorer.assess(side_view).verdict is not Verdict.SLOUCH


RECLINED_PROFILE = Profile(
    name="backrest",
    view=View.SIDE,
    metrics={**SIDE_BASELINES, "trunk_inclination_deg": MetricBaseline(-20.0, 1.0, 8.0, 5)},
)


def test_sitting_taller_than_a_reclined_baseline_is_never_a_slouch():
    """Calibrated leaning back on the backrest (trunk -20 deg): sitting tall (0 deg)
    is 2.5 tolerances forward of that baseline, but forward lean is measured from
    the more upright of the baseline and the trunk vertical."""
    scorer = Scorer(RECLINED_PROFILE)
    tall = scorer.assess(at_baseline(RECLINED_PROFILE, trunk_inclination_deg=0.0))
    assert tall.verdict is Verdict.GOOD and tall.score == 100
    # A real slouch is still one, measured from upright: 20 deg is 2.5 tolerances.
    slouch = scorer.assess(at_baseline(RECLINED_PROFILE, trunk_inclination_deg=20.0))
    assert slouch.verdict is Verdict.SLOUCH
    assert only_reason(slouch).baseline == 0.0
    assert only_reason(slouch).excess == pytest.approx(2.5)


def test_reclined_is_still_measured_from_the_baseline():
    scorer = Scorer(RECLINED_PROFILE)
    assert scorer.assess(at_baseline(RECLINED_PROFILE)).verdict is Verdict.GOOD
    further = scorer.assess(at_baseline(RECLINED_PROFILE, trunk_inclination_deg=-30.0))
    assert further.verdict is Verdict.RECLINED
    assert only_reason(further).baseline == -20.0
    assert only_reason(further).threshold == -28.0


def test_a_forward_baseline_is_its_own_anchor():
    # A baseline already forward of vertical is the more upright of the two for
    # that person: forward lean is measured from it, as before.
    assert side(trunk_inclination_deg=7.0).verdict is Verdict.GOOD
    leaning = Profile(
        name="forward",
        view=View.SIDE,
        metrics={**SIDE_BASELINES, "trunk_inclination_deg": MetricBaseline(5.0, 1.0, 8.0, 5)},
    )
    result = Scorer(leaning).assess(at_baseline(leaning, trunk_inclination_deg=17.0))
    assert result.verdict is Verdict.SLOUCH
    assert only_reason(result).excess == pytest.approx(1.5)


def test_the_worst_rule_wins_when_two_fire():
    # Neck 2.125 tolerances out, trunk 3.0: the slouch is worse.
    result = side(neck_inclination_deg=27.0, trunk_inclination_deg=24.0)
    assert result.verdict is Verdict.SLOUCH
    assert result.score == score_from_excess(3.0) == 10
    assert any(r.metric == "trunk_inclination_deg" for r in result.reasons)
    # ...and the other way round.
    result = side(neck_inclination_deg=42.0, trunk_inclination_deg=16.0)
    assert result.verdict is Verdict.FORWARD_HEAD
    assert result.score == score_from_excess(4.0) == 0


def test_without_the_2d_neck_the_3d_neck_is_the_fallback():
    result = side(neck_inclination_deg=None, neck_inclination_3d_deg=24.0)
    assert result.verdict is Verdict.FORWARD_HEAD
    reason = only_reason(result)
    assert reason.metric == "neck_inclination_3d_deg"
    assert reason.threshold == 18.0  # 12 + 6
    assert reason.excess == pytest.approx(2.0)


def test_the_fallback_is_used_when_the_profile_lacks_the_main_metric():
    baselines = {k: v for k, v in SIDE_BASELINES.items() if k != "neck_inclination_deg"}
    profile = Profile(name="t", view=View.SIDE, metrics=baselines)
    frame = at_baseline(SIDE_PROFILE, neck_inclination_deg=50.0, neck_inclination_3d_deg=24.0)
    reason = only_reason(Scorer(profile).assess(frame))
    assert reason.metric == "neck_inclination_3d_deg"


def test_the_fallback_is_ignored_while_the_main_metric_is_measured():
    # The 3D neck is far out, but the 2D neck (the main term) is at its baseline.
    result = side(neck_inclination_3d_deg=60.0)
    assert result.verdict is Verdict.GOOD
    assert result.score == 100


def test_trunk_falls_back_to_3d_too():
    result = side(trunk_inclination_deg=None, trunk_inclination_3d_deg=-24.0)
    assert result.verdict is Verdict.RECLINED
    assert only_reason(result).metric == "trunk_inclination_3d_deg"


def test_a_frame_with_no_scorable_metric_is_good():
    result = Scorer(SIDE_PROFILE).assess(metrics(View.SIDE))
    assert result.verdict is Verdict.GOOD
    assert result.score == 100


def test_frontal_forward_head_needs_both_cues_together():
    # Each cue 0.6 of the way to its threshold: 10 + 6 deg, and 0.6 - 0.06.
    both = frontal(neck_inclination_3d_deg=16.0, head_height_ratio=0.54)
    assert both.verdict is Verdict.FORWARD_HEAD
    assert {r.metric for r in both.reasons} == {"neck_inclination_3d_deg", "head_height_ratio"}
    for reason in both.reasons:
        assert reason.excess == pytest.approx(0.6)
    by_metric = {r.metric: r for r in both.reasons}
    assert by_metric["neck_inclination_3d_deg"].threshold == 20.0
    assert by_metric["head_height_ratio"].threshold == pytest.approx(0.5)
    assert both.score == score_from_excess(1.2) == 64

    neck_alone = frontal(neck_inclination_3d_deg=16.0)
    head_alone = frontal(head_height_ratio=0.54)
    for alone in (neck_alone, head_alone):
        assert alone.verdict is Verdict.GOOD
        assert alone.score == score_from_excess(0.6) == 82


def test_frontal_forward_head_ignores_the_2d_side_neck():
    # The 2D neck is a side-view measure; in a frontal view only the 3D pair counts.
    frame = at_baseline(FRONTAL_PROFILE, neck_inclination_deg=80.0)
    profile = Profile(
        name="f",
        view=View.FRONTAL,
        metrics={**FRONTAL_BASELINES, "neck_inclination_deg": MetricBaseline(10, 1, 8, 5)},
    )
    assert Scorer(profile).assess(frame).verdict is Verdict.GOOD


@pytest.mark.parametrize("tilt", [15.0, -15.0])
def test_lateral_lean_fires_either_way_in_a_frontal_view(tilt: float):
    result = frontal(shoulder_tilt_deg=tilt)
    assert result.verdict is Verdict.LATERAL_LEAN
    reason = only_reason(result)
    assert reason.metric == "shoulder_tilt_deg"
    assert reason.excess == pytest.approx(2.5)
    assert reason.threshold == (6.0 if tilt > 0 else -6.0)


def test_lateral_lean_never_fires_in_a_side_view():
    assert side(shoulder_tilt_deg=40.0).verdict is Verdict.GOOD
    # A frontal-calibrated profile does not judge it on a side frame either.
    frame = at_baseline(FRONTAL_PROFILE, View.SIDE, shoulder_tilt_deg=40.0)
    assert Scorer(FRONTAL_PROFILE).assess(frame).verdict is Verdict.GOOD


def test_a_rule_outside_the_profiles_view_is_skipped():
    frame = at_baseline(SIDE_PROFILE, View.FRONTAL, shoulder_tilt_deg=40.0)
    assert Scorer(SIDE_PROFILE).assess(frame).verdict is Verdict.GOOD
    # The same frame against a frontal profile is a lean: the skip is the profile's view.
    frame = at_baseline(FRONTAL_PROFILE, View.FRONTAL, shoulder_tilt_deg=40.0)
    assert Scorer(FRONTAL_PROFILE).assess(frame).verdict is Verdict.LATERAL_LEAN


def test_too_close_uses_the_head_size():
    result = frontal(head_size_frac=0.21)  # 0.15 + 2 * 0.03
    assert result.verdict is Verdict.TOO_CLOSE
    reason = only_reason(result)
    assert reason.metric == "head_size_frac"
    assert reason.threshold == pytest.approx(0.18)
    assert reason.excess == pytest.approx(2.0)
    assert frontal(head_size_frac=0.10).verdict is Verdict.GOOD  # further away is fine


def test_too_close_is_not_judged_from_the_side():
    assert side(head_size_frac=0.5).verdict is Verdict.GOOD


def test_a_short_torso_from_the_front_is_a_slouch():
    result = frontal(torso_height_ratio=0.75)
    assert result.verdict is Verdict.SLOUCH
    assert only_reason(result).metric == "torso_height_ratio"


# --- Without metrics ------------------------------------------------------------------


def test_nobody_there_has_no_score():
    result = Scorer(SIDE_PROFILE).assess(None, person_present=False)
    assert result.verdict is Verdict.NO_PERSON
    assert result.score is None
    assert result.reasons == ()
    assert not Verdict.NO_PERSON.is_bad


def test_a_person_without_a_pose_scores_as_a_lean_in():
    result = Scorer(SIDE_PROFILE).assess(None, person_present=True)
    assert result.verdict is Verdict.PERSON_NO_POSE
    assert result.score == PERSON_NO_POSE_SCORE == 40
    assert result.verdict.is_bad


@pytest.mark.parametrize("verdict", list(Verdict))
def test_only_good_and_nobody_are_not_bad(verdict: Verdict):
    assert verdict.is_bad == (verdict not in (Verdict.GOOD, Verdict.NO_PERSON))


# --- Score ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("excess", "score"),
    [(-3.0, 100), (0.0, 100), (0.5, 85), (1.0, 70), (1.5, 55), (2.0, 40), (3.0, 10)],
)
def test_score_from_excess_known_points(excess: float, score: int):
    assert score_from_excess(excess) == score


@pytest.mark.parametrize("excess", [10 / 3, 4.0, 50.0, 1e6])
def test_score_is_floored_at_zero(excess: float):
    assert score_from_excess(excess) == 0


@given(first=st.floats(-10.0, 20.0), second=st.floats(-10.0, 20.0))
@FAST
def test_score_falls_monotonically_with_excess(first: float, second: float):
    low, high = sorted((first, second))
    assert 0 <= score_from_excess(high) <= score_from_excess(low) <= 100


# --- Default profile ------------------------------------------------------------------


@pytest.mark.parametrize("view", list(View))
def test_without_a_profile_the_population_defaults_judge(view: View):
    scorer = Scorer()
    default = population_profiles()[view]
    assert scorer.profile_for(view) is default
    assert default.population_default
    result = scorer.assess(at_baseline(default))
    assert result.verdict is Verdict.GOOD
    assert result.score == 100
    assert result.uses_default_profile
    assert result.as_dict()["default_profile"] is True


def test_without_a_profile_even_no_person_is_marked_default():
    assert Scorer().assess(None).uses_default_profile


def test_a_calibrated_profile_judges_every_view():
    scorer = Scorer(SIDE_PROFILE)
    for view in View:
        assert scorer.profile_for(view) is SIDE_PROFILE


def test_explicit_defaults_are_used_per_view():
    scorer = Scorer(defaults={View.FRONTAL: FRONTAL_PROFILE, View.SIDE: SIDE_PROFILE})
    assert scorer.profile_for(View.FRONTAL) is FRONTAL_PROFILE
    assert scorer.assess(at_baseline(SIDE_PROFILE, neck_inclination_deg=27.0)).verdict is (
        Verdict.FORWARD_HEAD
    )


# --- Assessment and Term validation ---------------------------------------------------


@pytest.mark.parametrize(
    ("verdict", "score", "message"),
    [
        (Verdict.GOOD, 101, "score must be in [0, 100], got 101"),
        (Verdict.SLOUCH, -1, "score must be in [0, 100], got -1"),
        (Verdict.NO_PERSON, 50, "nobody there: no score"),
        (Verdict.NO_PERSON, 0, "nobody there: no score"),
    ],
)
def test_invalid_assessment_is_refused(verdict: Verdict, score: int, message: str):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Assessment(verdict, score)


def test_assessment_as_dict_is_json_ready():
    result = side(neck_inclination_deg=27.0)
    data = json.loads(json.dumps(result.as_dict()))
    assert data == {
        "verdict": "forward-head",
        "score": 36,
        "reasons": [
            {
                "verdict": "forward-head",
                "metric": "neck_inclination_deg",
                "value": 27.0,
                "baseline": 10.0,
                "threshold": 18.0,
                "excess": 2.125,
            }
        ],
        "default_profile": False,
        "neck_excess": 2.125,
        "trunk_excess": data["trunk_excess"],
    }
    # The trunk sits at its baseline: 0 tolerances out, either way.
    assert data["trunk_excess"] == pytest.approx(0.0, abs=1e-9)
    nobody = Assessment(Verdict.NO_PERSON, None)
    assert json.loads(json.dumps(nobody.as_dict()))["score"] is None


def test_term_direction_is_validated():
    with pytest.raises(ValueError, match="direction must be -1, 0 or 1, got 2"):
        Term("neck_inclination_deg", 2)


# --- Smoother -------------------------------------------------------------------------


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self, start_s: float = 1000.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


GOOD = Assessment(Verdict.GOOD, 100)
SLOUCH = Assessment(Verdict.SLOUCH, 30)
NOBODY = Assessment(Verdict.NO_PERSON, None)
FRAME_MS = 100
# Spelled out so a change of the defaults does not change these tests' arithmetic.
SETTINGS = SmootherSettings(window_ms=3000, switch_share=0.6, min_hold_ms=1500)


def feed(
    smoother: VerdictSmoother, stream: Iterable[Assessment], start_ms: int = 0
) -> list[tuple[int, Assessment]]:
    """Update once per frame, FRAME_MS apart, with explicit timestamps."""
    return [
        (start_ms + i * FRAME_MS, smoother.update(a, t_ms=start_ms + i * FRAME_MS))
        for i, a in enumerate(stream)
    ]


def feed_clock(
    smoother: VerdictSmoother, clock: FakeClock, stream: Iterable[Assessment]
) -> list[Assessment]:
    """Update once per frame on the fake clock, advancing it FRAME_MS after each."""
    out = []
    for assessment in stream:
        out.append(smoother.update(assessment))
        clock.advance(FRAME_MS / 1000)
    return out


def test_defaults_are_the_documented_ones():
    assert SmootherSettings() == SmootherSettings(
        window_ms=2000, switch_share=0.6, min_hold_ms=1000
    )


def test_nothing_smoothed_yet_has_no_verdict():
    assert VerdictSmoother(SETTINGS).verdict is None


def test_a_single_odd_frame_never_changes_the_verdict():
    stream = [GOOD] * 100
    stream[50] = SLOUCH
    smoother = VerdictSmoother(SETTINGS)
    outputs = feed(smoother, stream)
    assert {out.verdict for _, out in outputs} == {Verdict.GOOD}
    assert {out.score for _, out in outputs} == {100}  # the median ignores it too
    assert smoother.verdict is Verdict.GOOD


def test_a_single_odd_frame_never_changes_the_verdict_on_the_fake_clock():
    clock = FakeClock()
    stream = [GOOD] * 60 + [SLOUCH] + [GOOD] * 60
    outputs = feed_clock(VerdictSmoother(SETTINGS, clock=clock), clock, stream)
    assert {out.verdict for out in outputs} == {Verdict.GOOD}


def test_a_sustained_change_switches_once_it_has_sixty_percent_of_the_window():
    smoother = VerdictSmoother(SETTINGS)
    feed(smoother, [GOOD] * 100)  # 0 .. 9900 ms
    outputs = feed(smoother, [SLOUCH] * 30, start_ms=10_000)
    # The 3 s window holds 30 frames; SLOUCH needs 18 of them: its 18th frame, at 11700.
    switched = [t for t, out in outputs if out.verdict is Verdict.SLOUCH]
    assert switched[0] == 10_000 + 17 * FRAME_MS
    assert all(out.verdict is Verdict.GOOD for t, out in outputs if t < switched[0])
    assert switched == [t for t, _ in outputs if t >= switched[0]]
    assert smoother.verdict is Verdict.SLOUCH


def test_a_sustained_change_switches_on_the_fake_clock_too():
    clock = FakeClock(start_s=50.0)
    smoother = VerdictSmoother(SETTINGS, clock=clock)
    feed_clock(smoother, clock, [GOOD] * 100)
    outputs = feed_clock(smoother, clock, [SLOUCH] * 30)
    verdicts = [out.verdict for out in outputs]
    assert verdicts == [Verdict.GOOD] * 17 + [Verdict.SLOUCH] * 13


def test_the_current_verdict_must_hold_before_it_can_change():
    settings = SmootherSettings(window_ms=1000, switch_share=0.6, min_hold_ms=1500)
    smoother = VerdictSmoother(settings)
    feed(smoother, [GOOD] * 50)  # 0 .. 4900 ms
    slouch = feed(smoother, [SLOUCH] * 6, start_ms=5000)
    assert slouch[-1][1].verdict is Verdict.SLOUCH  # 6 of 10 at 5500 ms
    switch_ms = slouch[-1][0]
    back = feed(smoother, [GOOD] * 20, start_ms=switch_ms + FRAME_MS)
    # GOOD has the votes from 6100 ms (6 of 10), but SLOUCH must hold 1.5 s first.
    for t, out in back:
        expected = Verdict.SLOUCH if t - switch_ms < 1500 else Verdict.GOOD
        assert out.verdict is expected, t


def test_a_quick_change_right_after_the_start_waits_for_the_hold():
    smoother = VerdictSmoother(SETTINGS)
    outputs = feed(smoother, [GOOD] + [SLOUCH] * 20)
    first_slouch = next(t for t, out in outputs if out.verdict is Verdict.SLOUCH)
    assert first_slouch == SETTINGS.min_hold_ms


@pytest.mark.parametrize("steady_first", [0, 40])
def test_alternating_verdicts_never_flicker(steady_first: int):
    stream = [GOOD] * steady_first + [GOOD, SLOUCH] * 100
    outputs = feed(VerdictSmoother(SETTINGS), stream)
    assert {out.verdict for _, out in outputs} == {Verdict.GOOD}


def test_alternating_verdicts_never_flicker_on_the_fake_clock():
    clock = FakeClock()
    outputs = feed_clock(VerdictSmoother(SETTINGS, clock=clock), clock, [SLOUCH, GOOD] * 100)
    assert {out.verdict for out in outputs} == {Verdict.SLOUCH}


def test_the_smoothed_score_is_the_median_of_the_windows_scores():
    smoother = VerdictSmoother(SETTINGS)
    scores = [100, 90, 80, 40, 95]
    for i, score in enumerate(scores):
        out = smoother.update(Assessment(Verdict.GOOD, score), t_ms=i * FRAME_MS)
    assert out.score == 90
    assert out.verdict is Verdict.GOOD


def test_the_median_only_covers_the_window():
    smoother = VerdictSmoother(SETTINGS)
    for t_ms, score in [(0, 10), (1000, 90), (2000, 80), (3000, 70)]:
        out = smoother.update(Assessment(Verdict.GOOD, score), t_ms=t_ms)
    # The window is (0, 3000] ms: the frame at 0 has just left it.
    assert out.score == 80


def test_the_smoothed_reasons_are_the_latest_of_the_current_verdict():
    reason = Reason(Verdict.SLOUCH, "trunk_inclination_deg", 20.0, 0.0, 8.0, 2.5)
    slouch = Assessment(Verdict.SLOUCH, 25, (reason,))
    smoother = VerdictSmoother(SETTINGS)
    outputs = feed(smoother, [slouch] * 5 + [GOOD])
    assert outputs[-1][1].verdict is Verdict.SLOUCH
    assert outputs[-1][1].reasons == (reason,)


def test_a_run_of_nobody_becomes_no_person_without_a_score():
    smoother = VerdictSmoother(SETTINGS)
    feed(smoother, [GOOD] * 30)
    outputs = feed(smoother, [NOBODY] * 40, start_ms=3000)
    first_away = next(t for t, out in outputs if out.verdict is Verdict.NO_PERSON)
    for t, out in outputs:
        if t < first_away:
            assert (out.verdict, out.score) == (Verdict.GOOD, 100)
        else:
            assert (out.verdict, out.score, out.reasons) == (Verdict.NO_PERSON, None, ())
    assert smoother.verdict is Verdict.NO_PERSON


def test_starting_with_nobody_is_no_person():
    out = VerdictSmoother(SETTINGS).update(NOBODY, t_ms=0)
    assert (out.verdict, out.score) == (Verdict.NO_PERSON, None)


def test_the_default_profile_flag_passes_through():
    flagged = Assessment(Verdict.GOOD, 100, uses_default_profile=True)
    assert VerdictSmoother(SETTINGS).update(flagged, t_ms=0).uses_default_profile


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"window_ms": 0}, "window_ms must be positive and min_hold_ms non-negative"),
        ({"window_ms": -100}, "window_ms must be positive and min_hold_ms non-negative"),
        ({"min_hold_ms": -1}, "window_ms must be positive and min_hold_ms non-negative"),
        ({"switch_share": 0.4}, r"switch_share must be in \[0.5, 1\], got 0.4"),
        ({"switch_share": 1.1}, r"switch_share must be in \[0.5, 1\], got 1.1"),
    ],
)
def test_invalid_smoother_settings_are_refused(fields: dict[str, Any], message: str):
    with pytest.raises(ValueError, match=message):
        SmootherSettings(**fields)


def test_boundary_smoother_settings_are_allowed():
    assert SmootherSettings(window_ms=1, switch_share=0.5, min_hold_ms=0).window_ms == 1
    assert SmootherSettings(switch_share=1.0).switch_share == 1.0


# --- regressions -----------------------------------------------------------------------------


@pytest.mark.parametrize("excess", [float("inf"), float("nan"), 1e300])
def test_an_absurd_excess_scores_zero_instead_of_crashing(excess: float):
    assert score_from_excess(excess) == 0


def test_every_rule_past_threshold_is_a_reason_the_deciding_one_first():
    result = side(neck_inclination_deg=27.0, trunk_inclination_deg=24.0)
    metrics_named = [r.metric for r in result.reasons]
    assert metrics_named == ["trunk_inclination_deg", "neck_inclination_deg"]


def test_time_going_backwards_restarts_the_smoother():
    """A looping video or a new file must not freeze the verdict for a whole window."""
    smoother = VerdictSmoother(SETTINGS)
    feed(smoother, [SLOUCH] * 100)
    assert smoother.verdict is Verdict.SLOUCH
    out = smoother.update(GOOD, t_ms=0)
    assert out.verdict is Verdict.GOOD and smoother.verdict is Verdict.GOOD


def test_the_smoothed_score_agrees_with_the_smoothed_verdict():
    smoother = VerdictSmoother(SETTINGS)
    outputs = feed(smoother, [GOOD] * 100 + [SLOUCH] * 15)
    last = outputs[-1][1]
    assert last.verdict is Verdict.GOOD and last.score == 100


def test_view_check_speaks_once_when_the_camera_moves_across_the_side_line():
    from posture.scoring import ViewCheck

    check = ViewCheck(View.FRONTAL, window=10, share=0.8)
    # Oblique frames share the frontal rules: no reason to recalibrate.
    assert [check.update(View.OBLIQUE) for _ in range(20)] == [None] * 20
    # Side-on frames: only once they fill 80 % of a full window, and only once.
    said = [check.update(View.SIDE) for _ in range(30)]
    assert said.index(View.SIDE) == 7 and said.count(View.SIDE) == 1
    assert "from the side" in check.advice("desk") and "'desk'" in check.advice("desk")
    assert "calibrated from the front" in check.advice("desk")
    # Back in front of the camera, then side-on again: said again.
    for _ in range(10):
        check.update(View.FRONTAL)
    assert check.mismatch is None
    assert View.SIDE in [check.update(View.SIDE) for _ in range(10)]
    # A mixed stream (60 % side) is not a set-up change.
    mixed = ViewCheck(View.FRONTAL, window=10, share=0.8)
    assert not any(mixed.update(View.SIDE if i % 5 < 3 else View.FRONTAL) for i in range(50))
    with pytest.raises(ValueError):
        ViewCheck(View.SIDE, window=0)
