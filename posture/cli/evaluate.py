"""`posture evaluate`: accuracy on a labelled image set, by the fixed protocol."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich import box
from rich.table import Table

from calibration.population import derive_population, population_to_json
from posture.cli.common import NamedPath, cell, progress_bar, stderr, stdout
from posture.evaluate import (
    MODELS_NOTE,
    VIEW_GROUPS,
    evaluate,
    measure_rows,
    population_samples,
    read_labels,
)

NOT_SCORED = "(not scored)"


def _results_table(result: dict) -> Table:
    table = Table(title="posture evaluate", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("mode", "view", "n", "no\npose", "recall\nbad", "spec.\ngood", "bal.\nacc."):
        left = column in ("mode", "view")
        table.add_column(column, justify="left" if left else "right", no_wrap=True)
    for mode, groups in result["modes"].items():
        for group in (*VIEW_GROUPS, "pooled"):
            stats = groups[group]
            table.add_row(
                mode,
                group,
                str(stats["n"]),
                str(stats["no_pose"]),
                cell(stats["recall_bad"], "{:.3f}"),
                cell(stats["specificity_good"], "{:.3f}"),
                cell(stats["balanced_accuracy"], "{:.3f}"),
            )
        table.add_section()
    return table


@click.command()
@click.argument("labels", type=NamedPath())
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object.")
@click.option("--details", is_flag=True, help="Also list every scored image with its verdicts.")
@click.option(
    "--write-population",
    type=NamedPath(dir_okay=False),
    metavar="PATH",
    help="Derive the population default profile from the good images and write it here.",
)
def evaluate_command(
    labels: Path, as_json: bool, details: bool, write_population: Path | None
) -> None:
    """Measure accuracy on a labelled image set (a labels CSV).

    LABELS is a CSV with the columns path (relative to the CSV), source, view,
    coarse_label (good/bad/other) and label. Each good or bad image is judged
    twice: against a profile calibrated from the other good images of its
    source (leave-one-out), and against the population default profile.
    Prints recall on bad, specificity on good and balanced accuracy per view
    (frontal-webcam, side, other) and pooled.
    """
    rows = read_labels(labels)
    with progress_bar(len(rows), "measuring") as ticker:
        measured = measure_rows(rows, ticker.advance)
    if write_population is not None:
        profiles = derive_population(population_samples(measured))
        write_population.write_text(population_to_json(profiles), encoding="utf-8")
        stderr().print(
            f"Wrote the population profile ({len(profiles)} views) to {write_population}"
        )
    result = evaluate(measured).as_dict()
    if as_json:
        if not details:
            result.pop("rows")
        click.echo(json.dumps(result, indent=2))
        return
    console = stdout()
    console.print(_results_table(result))
    console.print(
        f"{result['unscored_rows']} rows listed but not scored (borderline, neck extension, "
        f"neutral or other). {MODELS_NOTE}"
    )
    if details:
        detail = Table(title="Scored images", title_justify="left")
        for column in ("image", "label", "view", "calibrated", "uncalibrated"):
            detail.add_column(column)
        for row in result["rows"]:
            detail.add_row(
                row["path"],
                row["label"],
                row["view"],
                row["calibrated"] or NOT_SCORED,
                row["uncalibrated"],
            )
        console.print(detail)
