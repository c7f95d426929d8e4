"""How `posture evaluate`'s figures move when the images or one setting change.

    python benchmarks/accuracy_variants.py                      # ../shared/data/dev, all variants
    python benchmarks/accuracy_variants.py LABELS.csv --alter mirror half --k 2.5 3

Each row is the fixed evaluation protocol (`posture.evaluate`) on one variant:

- `--alter`: every image is altered before it is measured (mirrored, half size,
  half as bright, JPEG quality 30), and the protocol runs as on the originals
  (uncalibrated rows are judged by populations derived from the other sources'
  altered good images). Shows how much of the accuracy is the model's luck on
  particular pixels.
- `--k`: the calibration tolerance in robust sigmas (`calibration.baseline.SPREAD_K`,
  3 in the product) for calibrated mode, on the unaltered images.

Balanced accuracy, calibrated / uncalibrated. It prints numbers and asserts nothing.
The labelled images are read from where the labels file is; nothing is written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import calibration.baseline as baseline  # noqa: E402
from posture.evaluate import MeasuredRow, evaluate, measure_rows, read_labels  # noqa: E402

ALTERATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": lambda image: image,
    "mirror": lambda image: cv2.flip(image, 1),
    "half": lambda image: cv2.resize(
        image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA
    ),
    "dark": lambda image: (image * 0.5).astype(np.uint8),
    "jpeg": lambda image: cv2.imdecode(
        cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 30])[1], cv2.IMREAD_COLOR
    ),
}
GROUPS = ("frontal-webcam", "side", "other", "pooled")


def figures(measured: list[MeasuredRow]) -> dict[str, dict[str, float | None]]:
    modes = evaluate(measured).as_dict()["modes"]
    return {
        mode: {group: stats["balanced_accuracy"] for group, stats in groups.items()}
        for mode, groups in modes.items()
    }


def row(name: str, result: dict[str, dict[str, float | None]]) -> str:
    def pair(group: str) -> str:
        return " / ".join(
            "-" if (v := result[m][group]) is None else f"{v:.3f}"
            for m in ("calibrated", "uncalibrated")
        )

    return f"| {name} | " + " | ".join(pair(group) for group in GROUPS) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "labels",
        nargs="?",
        type=Path,
        default=REPO.parent / "shared" / "data" / "dev" / "labels.csv",
    )
    parser.add_argument("--alter", nargs="*", choices=list(ALTERATIONS), default=list(ALTERATIONS))
    parser.add_argument("--k", nargs="*", type=float, default=[])
    args = parser.parse_args()
    rows = read_labels(args.labels)
    print("| variant | " + " | ".join(GROUPS) + " |")
    print("|---|" + "---|" * len(GROUPS))
    plain: list[MeasuredRow] | None = None
    for name in args.alter:
        measured = measure_rows(rows, alter=ALTERATIONS[name])
        plain = measured if name == "none" else plain
        print(row(f"images: {name}", figures(measured)), flush=True)
    if args.k:
        plain = plain or measure_rows(rows)
        shipped = baseline.SPREAD_K
        try:
            for k in args.k:
                baseline.SPREAD_K = k  # read at calibration time; restored below
                result = figures(plain)
                result["uncalibrated"] = dict.fromkeys(GROUPS)  # K is a calibration setting
                print(row(f"tolerance K = {k:g}", result), flush=True)
        finally:
            baseline.SPREAD_K = shipped


if __name__ == "__main__":
    main()
