"""`posture evaluate`: the protocol on a labels file made from the bundled samples,
its error paths, and the accuracy baseline on ../shared (skipped without it)."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from posture.errors import EvaluationError
from posture.evaluate import evaluate, measure_rows, read_labels
from tests.conftest import DEV_LABELS, REPO, SAMPLES, needs_shared

COLUMNS = ["path", "source", "view", "coarse_label", "label"]
# Three side-view "sources", so that each has two others to make a population from.
SAMPLE_ROWS = [
    ("upright/straight_hf.jpg", "A", "side", "good", "good (upright)"),
    ("upright/straight_flip.jpg", "A", "side", "good", "good (upright)"),
    ("upright/straight_hf_flip.jpg", "D", "side", "good", "good (upright)"),
    ("slouched/hunchback_hf.jpg", "A", "side", "bad", "bad-slouch"),
    ("slouched/hunchback.jpg", "D", "side", "bad", "bad-slouch"),
    ("reclined/recline_hf.jpg", "A", "side", "bad", "bad-reclined"),
    ("reclined/recline.jpg", "D", "side", "bad", "bad-reclined"),
    ("neck/Good-Posture.png", "B", "side", "good", "good (upright neck)"),
    ("neck/Bad-Posture.png", "B", "side", "bad", "bad-forward-head"),
    ("frontal/man-selfie.jpg", "C", "frontal", "other", "neutral upright portrait"),
]


def write_labels(folder: Path, rows, columns=COLUMNS) -> Path:
    path = folder / "labels.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([os.path.relpath(SAMPLES / row[0], folder), *row[1:]])
    return path


@pytest.fixture(scope="module")
def sample_evaluation(tmp_path_factory):
    labels = write_labels(tmp_path_factory.mktemp("labels"), SAMPLE_ROWS)
    return evaluate(measure_rows(read_labels(labels))).as_dict()


def test_protocol_scores_good_and_bad_rows_only(sample_evaluation):
    assert sample_evaluation["unscored_rows"] == 1  # the "other" selfie
    pooled = sample_evaluation["modes"]["uncalibrated"]["pooled"]
    assert (pooled["n"], pooled["bad"], pooled["good"]) == (9, 5, 4)
    # Sources B and D have a single good row each: it cannot be calibrated leave-one-out.
    calibrated = sample_evaluation["modes"]["calibrated"]["pooled"]
    assert (calibrated["n"], calibrated["good"]) == (7, 2)
    assert sample_evaluation["modes"]["calibrated"]["frontal-webcam"]["n"] == 0


def test_calibrated_verdicts_on_the_samples_are_right(sample_evaluation):
    calibrated = sample_evaluation["modes"]["calibrated"]["side"]
    assert calibrated["recall_bad"] == 1.0
    assert calibrated["specificity_good"] == 1.0
    verdicts = {row["path"].split("/")[-1]: row["calibrated"] for row in sample_evaluation["rows"]}
    assert verdicts["recline_hf.jpg"] == "reclined"
    assert verdicts["hunchback_hf.jpg"] in ("slouch", "forward-head")
    assert verdicts["Good-Posture.png"] is None  # not scored in calibrated mode


def test_uncalibrated_rows_are_judged_without_their_own_source(tmp_path):
    from calibration.population import derive_population, with_every_view
    from posture.evaluate import population_samples
    from posture.scoring import Scorer

    measured = measure_rows(read_labels(write_labels(tmp_path, SAMPLE_ROWS)))
    result = evaluate(measured).as_dict()
    others = [(s, m) for s, m in population_samples(measured) if s != "B"]
    scorer = Scorer(defaults=with_every_view(derive_population(others)))
    for item, row in zip([m for m in measured if m.row.scored], result["rows"], strict=True):
        if item.row.source == "B":
            expected = scorer.assess(item.metrics, item.person_present).verdict.value
            assert row["uncalibrated"] == expected
    # With the other sources too few to make a population, a row is not scored.
    alone = measure_rows(read_labels(write_labels(tmp_path, [SAMPLE_ROWS[0], SAMPLE_ROWS[3]])))
    assert evaluate(alone).as_dict()["modes"]["uncalibrated"]["pooled"]["n"] == 0


def test_cli_prints_table_and_json(tmp_path, capsys):
    from tests.test_cli import run

    labels = write_labels(tmp_path, SAMPLE_ROWS[:4])
    code, out, err = run(["evaluate", str(labels)], capsys)
    assert code == 0, err
    assert "calibrated" in out and "uncalibrated" in out and "bal." in out
    code, out, _ = run(["evaluate", str(labels), "--json", "--details"], capsys)
    result = json.loads(out)
    assert set(result["modes"]) == {"calibrated", "uncalibrated"}
    assert set(result["modes"]["calibrated"]) == {"frontal-webcam", "side", "other", "pooled"}
    assert len(result["rows"]) == 4


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no labels file"),
        ("path,source\nx.jpg,A\n", "lacks column(s) view, coarse_label, label"),
        (",".join(COLUMNS) + "\n", "has no rows"),
        (",".join(COLUMNS) + "\nmissing.jpg,A,side,good,good\n", "missing.jpg' is missing"),
        (b"\xff\xfe\x00bad", "not a readable CSV"),
        (
            ",".join(COLUMNS) + "\nx.jpg,A,side,godo,good\n",
            "line 2: coarse_label 'godo' is not one of good, bad, other",
        ),
    ],
)
def test_bad_labels_files_are_clear_errors(tmp_path, content, message, capsys):
    from tests.test_cli import run

    labels = tmp_path / "labels.csv"
    if isinstance(content, bytes):
        labels.write_bytes(content)
    elif content is not None:
        labels.write_text(content, encoding="utf-8")
    code, _, err = run(["evaluate", str(labels)], capsys)
    assert code == 1
    assert message in err and err.startswith("posture: error:")
    with pytest.raises(EvaluationError):
        measure_rows(read_labels(labels))


def test_a_bad_later_path_fails_before_anything_is_measured_or_written(tmp_path, capsys):
    """Found by the CLI fuzz: the first labels file was measured and its population
    written, then the second path failed, leaving two lines and a file behind."""
    from tests.test_cli import run

    labels = write_labels(tmp_path, SAMPLE_ROWS[:4])
    population = tmp_path / "population.json"
    code, out, err = run(
        ["evaluate", str(labels), "--write-population", str(population), "missing.csv"], capsys
    )
    assert code == 1
    assert err.splitlines() == ["posture: error: no labels file at 'missing.csv'"]
    assert out == "" and not population.exists()


@needs_shared
def test_accuracy_on_the_dev_set_does_not_drop_below_the_recorded_baseline():
    """docs/accuracy.json records `posture evaluate` on ../shared/data/dev; never worse."""
    recorded = json.loads((REPO / "docs" / "accuracy.json").read_text())["balanced_accuracy"]
    measured = evaluate(measure_rows(read_labels(DEV_LABELS))).as_dict()["modes"]
    for mode, groups in recorded.items():
        for group, figure in groups.items():
            got = measured[mode][group]["balanced_accuracy"]
            assert got is not None and got >= figure - 1e-4, (mode, group, got, figure)


def test_a_byte_order_mark_before_the_header_is_not_an_error(tmp_path):
    labels = write_labels(tmp_path, SAMPLE_ROWS[:2])
    labels.write_bytes(b"\xef\xbb\xbf" + labels.read_bytes())
    rows = read_labels(labels)
    assert [r.coarse_label for r in rows] == ["good", "good"]
    assert rows[0].relative_path.endswith("straight_hf.jpg")


def test_images_can_be_altered_before_they_are_measured(tmp_path):
    """The robustness check (benchmarks/accuracy_variants.py) measures altered copies."""
    import numpy as np

    from calibration.population import derive_population, with_every_view
    from posture.evaluate import population_samples
    from posture.vocabulary import View

    # Upright side views from two sources: a population needs more than one.
    rows = read_labels(write_labels(tmp_path, [*SAMPLE_ROWS[:3], SAMPLE_ROWS[7]]))
    mirrored = measure_rows(rows, alter=lambda image: image[:, ::-1].copy())
    assert all(m.metrics is not None for m in mirrored)
    blanked = measure_rows(rows, alter=np.zeros_like)
    assert all(m.metrics is None for m in blanked)
    # Side views only: the other views borrow the side profile.
    profiles = with_every_view(derive_population(population_samples(mirrored)))
    assert set(profiles) == set(View)
    assert profiles[View.FRONTAL] is profiles[View.SIDE]
