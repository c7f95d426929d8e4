"""`posture evaluate`: accuracy on labelled images and videos, by the fixed protocols."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.table import Table

from calibration.population import derive_population, population_to_json
from posture.cli.common import NamedPath, cell, progress_bar, stderr, stdout
from posture.errors import EvaluationError
from posture.evaluate import (
    MODELS_NOTE,
    VIEW_GROUPS,
    LabelRow,
    evaluate,
    measure_rows,
    population_samples,
    read_labels,
)
from posture.evaluate_video import (
    VIDEO_PROTOCOL,
    LabelledClip,
    evaluate_clips,
    expected_frames,
    find_clips,
    is_video_labels,
)

NOT_SCORED = "(not scored)"
STATS_HEADERS = ("n", "no\npose", "recall\nbad", "spec.\ngood", "bal.\nacc.")


def _stats_cells(stats: dict[str, Any]) -> list[str]:
    return [
        str(stats["n"]),
        str(stats["no_pose"]),
        cell(stats["recall_bad"], "{:.3f}"),
        cell(stats["specificity_good"], "{:.3f}"),
        cell(stats["balanced_accuracy"], "{:.3f}"),
    ]


def _new_table(title: str, headers: tuple[str, ...], left: int) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for number, column in enumerate(headers):
        table.add_column(column, justify="left" if number < left else "right", no_wrap=True)
    return table


def _results_table(result: dict[str, Any]) -> Table:
    table = _new_table("posture evaluate: images", ("mode", "view", *STATS_HEADERS), left=2)
    for mode, groups in result["modes"].items():
        for group in (*VIEW_GROUPS, "pooled"):
            table.add_row(mode, group, *_stats_cells(groups[group]))
        table.add_section()
    return table


VIDEO_TITLES = {
    "calibrated": "calibrated on each clip's first good segment",
    "uncalibrated": "uncalibrated: the baseline the monitor learns from the session",
}


def _video_tables(result: dict[str, Any]) -> list[Table]:
    """One table per mode; a clip's raw and smoothed verdicts on two rows. Fits 80
    columns (one space between columns) with clip names up to 14 characters; a longer
    name folds, numbers never do."""
    tables = []
    for mode, clips in result["modes"].items():
        headers = ("clip", "verdict", *STATS_HEADERS, "segments\nright", "worst\nsettle")
        table = _new_table(f"posture evaluate, videos: {VIDEO_TITLES[mode]}", headers, left=2)
        table.collapse_padding = True
        table.columns[0].no_wrap = False
        table.columns[0].overflow = "fold"
        for name, clip in clips.items():
            segments = f"{clip['segments_right']}/{len(clip['segments'])}"
            settle = cell(clip["worst_settle_s"], "{:.1f} s")
            table.add_row(name, "raw", *_stats_cells(clip["raw"]), segments, settle)
            table.add_row("", "smoothed", *_stats_cells(clip["smoothed"]), "", "")
        tables.append(table)
    return tables


def _evaluate_images(
    rows: list[LabelRow], write_population: Path | None, details: bool
) -> tuple[dict[str, Any], list[Any]]:
    with progress_bar(len(rows), "measuring images") as ticker:
        measured = measure_rows(rows, ticker.advance)
    if write_population is not None:
        profiles = derive_population(population_samples(measured))
        write_population.write_text(population_to_json(profiles), encoding="utf-8")
        stderr().print(
            f"Wrote the population profile ({len(profiles)} views) to {write_population}"
        )
    result = evaluate(measured).as_dict()
    renderables: list[Any] = [_results_table(result)]
    renderables.append(
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
        renderables.append(detail)
    else:
        result.pop("rows")
    return result, renderables


def _evaluate_videos(
    clips: list[LabelledClip], every: int, details: bool
) -> tuple[dict[str, Any], list[Any]]:
    with progress_bar(expected_frames(clips, every), "analysing videos") as ticker:
        evaluation = evaluate_clips(clips, every, ticker.advance)
    result = evaluation.as_dict(details)
    renderables: list[Any] = [*_video_tables(result), f"Videos: {VIDEO_PROTOCOL}."]
    for mode, named in result["modes"].items():
        for name, clip in named.items():
            renderables.extend(_clip_notes(mode, name, clip))
    return result, renderables


def _clip_notes(mode: str, name: str, clip: dict[str, Any]) -> list[str]:
    """What a person reading the table should know about one clip in one mode."""
    notes = []
    if clip["calibration_refused"]:
        notes.append(
            f"Calibration on {name}'s first good segment was refused "
            f"({clip['calibration_refused']}); evaluated as if forced."
        )
    if mode == "uncalibrated":
        learned = clip["learned_after_s"]
        notes.append(
            f"{name}, uncalibrated: learned a baseline after {learned:g} s of session "
            f"({clip['passes']} passes of the clip); the last pass is scored."
            if learned is not None
            else f"{name}, uncalibrated: no baseline learned in {clip['passes']} passes; "
            "the last pass is scored against the population."
        )
    for segment in clip["segments"]:
        if not segment["right"]:
            notes.append(
                f"{name}, {mode}: the {segment['label']} segment {segment['start']:g}-"
                f"{segment['end']:g} s ({segment['kind'] or 'no kind'}) never settled on its "
                f"label (raw right in {segment['raw_right']} of {segment['frames']} frames)."
            )
    return notes


@click.command()
@click.argument("paths", nargs=-1, required=True, type=NamedPath())
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object.")
@click.option(
    "--details",
    is_flag=True,
    help="Also list every scored image (and, with --json, every video frame) with its verdicts.",
)
@click.option(
    "--every",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Videos: analyse every Nth frame, as `posture analyze --every N` does.",
)
@click.option(
    "--write-population",
    type=NamedPath(dir_okay=False),
    metavar="PATH",
    help="Derive the population default profile from the good images and write it here.",
)
def evaluate_command(
    paths: tuple[Path, ...],
    as_json: bool,
    details: bool,
    every: int,
    write_population: Path | None,
) -> None:
    """Measure accuracy on labelled images and videos.

    Each PATH is a labels CSV of images, a NAME.labels.json beside its video
    NAME.mp4, or a folder of such labelled videos.

    Images (CSV columns path, source, view, coarse_label, label): each good or
    bad image is judged against a profile calibrated from the other good images
    of its source (leave-one-out), and against a population profile derived
    from the other sources only (leave-one-source-out).

    Videos (segments with start, end in seconds and label good or bad): the
    clip is calibrated on its first good segment and analysed whole as the
    monitor would, and also without a profile. Every frame in a segment is
    scored raw; the smoothed verdict from 2 s into each segment.

    Prints recall on bad, specificity on good and balanced accuracy. The
    protocols are in docs/accuracy.md.
    """
    # Every input read first: a bad last path must not cost minutes of measuring, nor
    # leave a population file written and a "Wrote ..." line before its error.
    videos: dict[str, list[LabelledClip]] = {}
    images: dict[str, list[LabelRow]] = {}
    for path in paths:
        key = str(path)
        if key in videos or key in images:
            raise EvaluationError(f"{key!r} is given twice")
        if is_video_labels(path):
            videos[key] = find_clips(path)
        else:
            images[key] = read_labels(path / "labels.csv" if path.is_dir() else path)
    results: dict[str, Any] = {}
    renderables: list[Any] = []
    for key in map(str, paths):
        if key in videos:
            results[key], parts = _evaluate_videos(videos[key], every, details)
        else:
            results[key], parts = _evaluate_images(images[key], write_population, details)
        renderables.extend(parts)
    if as_json:
        only = next(iter(results.values())) if len(results) == 1 else results
        click.echo(json.dumps(only, indent=2))
        return
    console = stdout()
    for part in renderables:
        console.print(part)
