"""The provisional baseline the monitor learns without a calibration, on hand-built
metrics and a hand-written population, so every number is known in advance."""

from __future__ import annotations

import pytest

from calibration.baseline import MARGINS, MetricBaseline
from calibration.profile import Profile
from calibration.upright import UPRIGHT_BOUNDS
from posture.provisional import LearningScorer, LearningSettings, _inside_upright
from posture.scoring import Scorer
from posture.vocabulary import Verdict, View
from tests.skeletons import hand_metrics, skeleton

# A population that sits at neck 12 deg with the widest tolerance, 15 deg.
POPULATION = Scorer(
    defaults={
        view: Profile(
            name="population-default",
            view=View.SIDE,
            metrics={
                "neck_inclination_deg": MetricBaseline(12.0, 5.0, 15.0, 4),
                "trunk_inclination_deg": MetricBaseline(0.0, 4.0, 15.0, 4),
            },
            population_default=True,
        )
        for view in View
    }
)
SETTINGS = LearningSettings(learn_s=60.0, refit_s=120.0)


def side(neck: float, trunk: float = 0.0):
    return hand_metrics(View.SIDE, neck_inclination_deg=neck, trunk_inclination_deg=trunk)


def feed(scorer: LearningScorer, frames, start_ms: int = 0, step_ms: int = 1000):
    return [
        scorer.assess(frame, True, t_ms=start_ms + i * step_ms) for i, frame in enumerate(frames)
    ]


def test_it_judges_by_the_population_until_it_has_learned_a_minute():
    scorer = LearningScorer(POPULATION, SETTINGS)
    assert scorer.note() == "learning your posture: 60 s of upright sitting to go"
    # This person sits tall at neck 5 deg; a forward head at 20 deg is within the
    # population's tolerance (12 +- 15), so the population does not see it.
    assert scorer.assess(side(20.0), True, t_ms=0).verdict is Verdict.GOOD
    feed(scorer, [side(5.0)] * 30, start_ms=1000)
    assert scorer.learning and scorer.remaining_s == pytest.approx(31.0)
    feed(scorer, [side(5.0)] * 40, start_ms=31000)
    assert not scorer.learning
    assert scorer.learned_at_ms == 61000  # the frame that completed 60 s of learning
    assert scorer.note() == "judged against a baseline learned from this session"
    judged = scorer.assess(side(20.0), True, t_ms=72000)
    assert judged.verdict is Verdict.FORWARD_HEAD
    assert judged.reasons[0].baseline == 5.0
    assert judged.reasons[0].threshold == 5.0 + MARGINS["neck_inclination_deg"].minimum
    assert scorer.profile is None  # never taken for a calibrated profile


def test_moving_or_bad_frames_are_not_learned():
    scorer = LearningScorer(POPULATION, SETTINGS)
    # Neck jumping 8 deg between frames: never settled.
    feed(scorer, [side(5.0 + 8.0 * (i % 2)) for i in range(200)])
    assert scorer.learning and scorer.remaining_s == 60.0
    # Slumped far past the population's threshold: bad, not learned.
    feed(scorer, [side(40.0, trunk=30.0)] * 200, start_ms=300_000)
    assert scorer.learning and scorer.remaining_s == 60.0


def test_a_gap_between_frames_counts_for_at_most_max_step():
    scorer = LearningScorer(POPULATION, SETTINGS)
    feed(scorer, [side(5.0)] * 20, step_ms=60_000)  # a frame a minute
    assert scorer.remaining_s == pytest.approx(60.0 - 19 * SETTINGS.max_step_s)


def test_a_learned_baseline_stays_inside_upright_for_the_view():
    trunk = next(b for b in UPRIGHT_BOUNDS[View.SIDE] if b.metric == "trunk_inclination_deg")
    learned = Profile(
        name="provisional",
        view=View.SIDE,
        metrics={
            "trunk_inclination_deg": MetricBaseline(35.0, 2.0, 10.0, 50),
            "neck_inclination_deg": MetricBaseline(10.0, 1.0, 10.0, 50),
        },
    )
    kept = _inside_upright(View.SIDE, learned)
    assert kept.metrics["trunk_inclination_deg"].median == trunk.high
    assert kept.metrics["trunk_inclination_deg"].tolerance == 10.0
    assert kept.metrics["neck_inclination_deg"] == learned.metrics["neck_inclination_deg"]


@pytest.mark.parametrize(
    ("field", "value"), [("learn_s", 0.0), ("refit_s", float("nan")), ("max_frames", 5)]
)
def test_settings_are_validated(field, value):
    with pytest.raises(ValueError, match=field):
        LearningSettings(**{field: value})


def test_the_monitor_without_a_profile_learns_then_catches_a_slouch_the_population_misses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The real monitor on a camera (fake VideoCapture, clocks and pose model): upright
    for 100 s, then a mild slouch (upper body 12 deg forward) that the population's
    wide tolerance lets through and the baseline learned from the session does not."""
    from posture import sources
    from posture.control import Controls
    from posture.monitor import Monitor
    from posture.sources import CameraSource
    from tests import fakes
    from tests.fakes import UPRIGHT, Clocks, Estimators, SceneCamera

    mild = 5
    monkeypatch.setitem(fakes.POSES, mild, lambda: skeleton(trunk_deg=12, yaw_deg=90))
    clocks = Clocks()
    monkeypatch.setattr(
        sources.cv2,
        "VideoCapture",
        lambda index: SceneCamera(clocks, lambda t_s: UPRIGHT if t_s < 100 else mild),
    )
    controls = Controls(sleep=clocks.sleep)
    seen: list[tuple[float, Verdict, str | None]] = []

    def status(state):
        seen.append((state.now_s, state.verdict, state.note))
        if state.now_s >= 130:
            controls.stop()

    population = Scorer()  # the bundled population profile
    assert population.assess(fakes._pose_metrics(mild)).verdict is Verdict.GOOD
    runner = Monitor(
        lambda: CameraSource(0, clock=clocks.monotonic),
        LearningScorer(population),
        estimator=Estimators(),
        status=status,
        controls=controls,
        clock=clocks.monotonic,
        now=clocks.now,
    )
    summary = runner.run()
    notes = [note for _, _, note in seen]
    assert notes[0] is not None and notes[0].startswith("learning your posture")
    assert notes[-1] == "judged against a baseline learned from this session"
    learned_at = next(t for t, _, note in seen if note and note.startswith("judged"))
    assert learned_at <= 100  # about a minute of settled upright frames, sampled slowly
    assert all(verdict is Verdict.GOOD for t, verdict, _ in seen if t < 100)
    # Leaning the whole upper body forward moves the neck line too: either verdict.
    assert [v for t, v, _ in seen if t >= 105] and all(
        verdict in (Verdict.SLOUCH, Verdict.FORWARD_HEAD) for t, verdict, _ in seen if t >= 105
    )
    assert summary.judged_note == "judged against a baseline learned from this session"


def test_an_uncalibrated_monitor_says_it_is_learning_once_it_watches(capsys):
    """Through the command: the notice comes after the source opened (once), and the
    summary says the 40 s session was too short to learn a baseline from."""
    from tests.conftest import SESSION_VIDEO
    from tests.test_cli import run

    code, out, err = run(
        ["monitor", "--source", str(SESSION_VIDEO), "--speed", "0", "--quiet"], capsys
    )
    assert code == 0, err
    words = " ".join(err.split())
    assert words.count("No calibration yet: learning your upright posture") == 1
    summary = " ".join(out.split())
    assert "Learning your posture:" in summary and "s of upright sitting to go" in summary
    assert "calibrate` fits you from the start" in summary
