"""`posture evaluate`: accuracy on labelled images, by a fixed protocol.

The protocol (fixed so that numbers stay comparable across versions):

- A labels CSV has the columns `path` (relative to the CSV's folder), `source`,
  `view`, `coarse_label` (good / bad / other; anything else is an error, not a
  silently unscored row) and `label`.
- Scored rows: `coarse_label` good or bad, except labels starting with
  "borderline", "neck extension" or "neutral". Other rows are listed, not scored.
- Calibrated mode: each row is judged against a profile calibrated from the
  *other* good rows of its source (leave-one-out); a row with no other good row
  in its source is not scored in this mode.
- Uncalibrated mode: a population profile derived, as the bundled one is
  (`calibration.population`), from the good rows of every *other* source
  (leave-one-source-out), so that no row is judged by a population that
  includes its own source (with `evaluate(..., scorer)`, that scorer instead).
- A prediction is "bad" when the verdict is any bad posture, including
  person-no-pose; no-person counts as not bad.
- Reported per view group (frontal-webcam, side, other) and pooled: n, rows
  without a pose, recall on bad, specificity on good, balanced accuracy.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from calibration.gates import CalibrationSample
from calibration.population import derive_population, with_every_view
from calibration.profile import Profile
from calibration.protocol import calibrate
from posture.errors import CalibrationError, EvaluationError
from posture.metrics import PostureMetrics, compute_metrics
from posture.pose import PoseEstimator
from posture.presence import PresenceTracker, brightness
from posture.scoring import Assessment, Scorer

REQUIRED_COLUMNS = ("path", "source", "view", "coarse_label", "label")
COARSE_LABELS = ("good", "bad", "other")
UNSCORED_PREFIXES = ("borderline", "neck extension", "neutral")
VIEW_GROUPS = ("frontal-webcam", "side", "other")
MODES = ("calibrated", "uncalibrated")
MODELS_NOTE = (
    "Calibrated: leave-one-out profile from the other good images of the same source. "
    "Uncalibrated: population profile from the other sources (leave-one-source-out)."
)


@dataclass(frozen=True)
class LabelRow:
    """One labelled image."""

    path: Path
    relative_path: str
    source: str
    view: str
    coarse_label: str
    label: str

    @property
    def scored(self) -> bool:
        """Good or bad, and not one of the labels (borderline, neck extension,
        neutral) that careful people disagree on: those are listed, not counted."""
        if self.coarse_label not in ("good", "bad"):
            return False
        return not self.label.strip().lower().startswith(UNSCORED_PREFIXES)

    @property
    def view_group(self) -> str:
        """The view, or "other" for any the protocol does not report on its own."""
        return self.view if self.view in VIEW_GROUPS else "other"


@dataclass(frozen=True)
class MeasuredRow:
    """A labelled image after the pose model and the metrics (the image is gone)."""

    row: LabelRow
    metrics: PostureMetrics | None
    person_present: bool
    person_count: int
    brightness: float

    def calibration_sample(self) -> CalibrationSample:
        """This image as one calibration frame, for the leave-one-out profiles."""
        return CalibrationSample(self.metrics, self.person_count, self.brightness)


def read_labels(csv_path: Path) -> list[LabelRow]:
    """Parse a labels CSV; a missing file or column is an `EvaluationError`."""
    if not csv_path.is_file():
        raise EvaluationError(f"no labels file at {str(csv_path)!r}")
    try:
        # utf-8-sig: a spreadsheet's byte-order mark is not part of the first column's name.
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise EvaluationError(
                    f"labels file {str(csv_path)!r} lacks column(s) {', '.join(missing)}: "
                    f"it needs {', '.join(REQUIRED_COLUMNS)}"
                )
            records = list(reader)
    except (UnicodeDecodeError, csv.Error) as error:
        raise EvaluationError(
            f"labels file {str(csv_path)!r} is not a readable CSV: {error}"
        ) from None
    if not records:
        raise EvaluationError(f"labels file {str(csv_path)!r} has no rows")
    folder = csv_path.parent
    rows = []
    # Line 1 is the header: the first record is on line 2.
    for line, record in enumerate(records, start=2):
        coarse = (record["coarse_label"] or "").strip().lower()
        if coarse not in COARSE_LABELS:
            # A misspelled label would silently leave the row unscored.
            raise EvaluationError(
                f"labels file {str(csv_path)!r}, line {line}: coarse_label {coarse!r} is not "
                f"one of {', '.join(COARSE_LABELS)}: fix the label"
            )
        rows.append(
            LabelRow(
                path=folder / record["path"],
                relative_path=record["path"],
                source=record["source"],
                view=record["view"],
                coarse_label=coarse,
                label=record["label"],
            )
        )
    return rows


def measure_rows(
    rows: Sequence[LabelRow],
    advance: Callable[[], None] = lambda: None,
    alter: Callable[[np.ndarray], np.ndarray] | None = None,
) -> list[MeasuredRow]:
    """Run the model once per image (IMAGE mode, up to two people for the crowd gate).

    `alter` changes each image before it is measured (robustness checks:
    `benchmarks/accuracy_variants.py`).
    """
    measured = []
    with PoseEstimator(mode="image", num_poses=2) as estimator:
        for row in rows:
            image = _read_image(row.path)
            if alter is not None:
                image = alter(image)
            pose = estimator.estimate_image(image)
            metrics = compute_metrics(pose)
            present = PresenceTracker().person_present(0, metrics, pose, image)
            measured.append(
                MeasuredRow(row, metrics, present, pose.person_count, brightness(image))
            )
            advance()
    return measured


def _read_image(path: Path) -> np.ndarray:
    if not path.is_file():
        raise EvaluationError(f"labelled image {str(path)!r} is missing: fix the labels file")
    image = cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise EvaluationError(f"labelled image {str(path)!r} cannot be decoded")
    return image


def leave_one_out_profile(target: MeasuredRow, measured: Iterable[MeasuredRow]) -> Profile | None:
    """A profile from the other good rows of the target's source; None if there are none."""
    goods = [
        m
        for m in measured
        if m is not target
        and m.row.source == target.row.source
        and m.row.coarse_label == "good"
        and m.row.scored
        and m.metrics is not None
    ]
    if not goods:
        return None
    try:
        # Different photos of upright people, not a live session: the movement and
        # upright gates are for live calibration, the baseline rule is the same.
        return calibrate(
            [m.calibration_sample() for m in goods],
            name="evaluation",
            source=f"leave-one-out: {len(goods)} good rows of {target.row.source}",
            gates=False,
        )
    except CalibrationError:
        return None


@dataclass
class Stats:
    """Counts of one mode and view group."""

    n: int = 0
    no_pose: int = 0
    bad: int = 0
    bad_caught: int = 0
    good: int = 0
    good_passed: int = 0

    def add(self, truth_bad: bool, predicted_bad: bool, has_pose: bool) -> None:
        """Count one judged image; one without a pose still counts, judged as it was."""
        self.n += 1
        self.no_pose += 0 if has_pose else 1
        if truth_bad:
            self.bad += 1
            self.bad_caught += predicted_bad
        else:
            self.good += 1
            self.good_passed += not predicted_bad

    @property
    def recall(self) -> float | None:
        """Share of the bad images called bad; None without any bad image."""
        return self.bad_caught / self.bad if self.bad else None

    @property
    def specificity(self) -> float | None:
        """Share of the good images let pass; None without any good image."""
        return self.good_passed / self.good if self.good else None

    @property
    def balanced_accuracy(self) -> float | None:
        """The mean of recall and specificity, so that a set with more bad than good
        images cannot flatter a scorer that calls everything bad; None unless both
        are known."""
        parts = [p for p in (self.recall, self.specificity) if p is not None]
        return sum(parts) / len(parts) if len(parts) == 2 else None

    def as_dict(self) -> dict[str, Any]:
        """For the JSON report, shares to four decimals: the dev set has far fewer
        than 10,000 images, so more digits would be noise."""

        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            "n": self.n,
            "no_pose": self.no_pose,
            "bad": self.bad,
            "good": self.good,
            "recall_bad": rounded(self.recall),
            "specificity_good": rounded(self.specificity),
            "balanced_accuracy": rounded(self.balanced_accuracy),
        }


@dataclass
class Evaluation:
    """Results per mode and view group, plus each row's verdicts."""

    stats: dict[str, dict[str, Stats]] = field(default_factory=dict)
    predictions: list[dict[str, Any]] = field(default_factory=list)
    unscored: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The JSON report, naming its protocol so that saved numbers stay comparable."""
        return {
            "protocol": (
                "calibrated: leave-one-out per source; uncalibrated: leave-one-source-out "
                "population"
            ),
            "modes": {
                mode: {group: s.as_dict() for group, s in groups.items()}
                for mode, groups in self.stats.items()
            },
            "unscored_rows": self.unscored,
            "rows": self.predictions,
        }


def leave_one_source_out(measured: Sequence[MeasuredRow]) -> Callable[[str], Scorer | None]:
    """A population scorer per source, derived from the other sources' good rows;
    None where they are too few to make a population (the row is not scored)."""
    samples = population_samples(measured)
    scorers: dict[str, Scorer | None] = {}

    def scorer_for(source: str) -> Scorer | None:
        if source not in scorers:
            profiles = derive_population([(s, m) for s, m in samples if s != source])
            scorers[source] = Scorer(defaults=with_every_view(profiles)) if profiles else None
        return scorers[source]

    return scorer_for


def evaluate(measured: Sequence[MeasuredRow], scorer: Scorer | None = None) -> Evaluation:
    """Apply the protocol to measured rows (`scorer`: one uncalibrated scorer for
    every row instead of the leave-one-source-out populations)."""
    population = leave_one_source_out(measured) if scorer is None else (lambda _: scorer)
    result = Evaluation(
        stats={mode: {group: Stats() for group in (*VIEW_GROUPS, "pooled")} for mode in MODES}
    )
    for item in measured:
        if not item.row.scored:
            result.unscored += 1
            continue
        truth_bad = item.row.coarse_label == "bad"
        record: dict[str, Any] = {
            "path": item.row.relative_path,
            "label": item.row.coarse_label,
            "view": item.row.view_group,
            "pose": item.metrics is not None,
        }
        profile = leave_one_out_profile(item, measured)
        others = population(item.row.source)
        verdicts: dict[str, Assessment | None] = {
            "calibrated": Scorer(profile).assess(item.metrics, item.person_present)
            if profile
            else None,
            "uncalibrated": others.assess(item.metrics, item.person_present) if others else None,
        }
        for mode, assessment in verdicts.items():
            record[mode] = None if assessment is None else assessment.verdict.value
            if assessment is None:
                continue
            for group in (item.row.view_group, "pooled"):
                result.stats[mode][group].add(
                    truth_bad, assessment.verdict.is_bad, item.metrics is not None
                )
        result.predictions.append(record)
    return result


def population_samples(measured: Iterable[MeasuredRow]) -> list[tuple[str, PostureMetrics]]:
    """(source, metrics) of every scored good row with a pose: the population's input."""
    return [
        (m.row.source, m.metrics)
        for m in measured
        if m.row.scored and m.row.coarse_label == "good" and m.metrics is not None
    ]
