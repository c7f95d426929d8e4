"""`posture analyze`: measure (and optionally judge) every frame of a file or folder."""

from __future__ import annotations

import json
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from posture.analysis import SETTLE_REPEATS, FrameAnalysis, analyze_frames, estimator_for
from posture.cli.common import (
    SourceSpec,
    cell,
    command_name,
    load_profile,
    progress_bar,
    stderr,
    stdout,
)
from posture.scoring import (
    VIEW_MISMATCH_SHARE,
    Scorer,
    VerdictSmoother,
    across_side_line,
    view_advice,
)
from posture.sources import open_source
from posture.vocabulary import View

# Metric columns of the table, most useful first: a summary for people (--json has
# every metric). Where the terminal is too narrow, the last ones are left out, and
# the table says so, rather than cutting a digit.
TABLE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    # (record key, header, format)
    ("neck_inclination_deg", "neck°", "{:.1f}"),
    ("trunk_inclination_deg", "trunk°", "{:.1f}"),
    ("head_height_ratio", "head h", "{:.2f}"),
    ("neck_inclination_3d_deg", "neck3D°", "{:.1f}"),
    ("head_forward_ratio", "head fwd", "{:.2f}"),
)


class Judge:
    """Adds verdicts to records: per frame, plus a smoothed one for streams."""

    def __init__(self, scorer: Scorer, smooth: bool) -> None:
        self.scorer = scorer
        self.smoother = VerdictSmoother() if smooth else None
        # Frames with a pose, and those seen across the side line from the profile's view.
        self.posed = self.across = 0

    def add_verdict(self, row: FrameAnalysis, record: dict[str, Any]) -> None:
        """Judge `row` into `record` in place, counting the frames seen from the
        other side on the way, for `view_warning` at the end."""
        profile = self.scorer.profile
        if row.metrics is not None and profile is not None:
            self.posed += 1
            self.across += across_side_line(row.metrics.view, profile.view)
        assessment = self.scorer.assess(row.metrics, row.person_present)
        record.update(assessment.as_dict())
        if self.smoother is not None:
            smoothed = self.smoother.update(assessment, row.t_ms)
            record["smoothed"] = {"verdict": smoothed.verdict.value, "score": smoothed.score}

    def view_warning(self) -> str | None:
        """Advice when most frames are seen from the other side than the profile's."""
        profile = self.scorer.profile
        if profile is None or not self.posed or self.across < VIEW_MISMATCH_SHARE * self.posed:
            return None
        seen = View.FRONTAL if profile.view is View.SIDE else View.SIDE
        return view_advice(seen, profile.view, profile.name)


def _scorer(profile_name: str | None, uncalibrated: bool) -> tuple[Scorer | None, str | None]:
    """The scorer the options ask for, and a note for the user about it."""
    if profile_name is not None and uncalibrated:
        raise click.UsageError("choose either --profile NAME or --uncalibrated, not both")
    if profile_name is not None:
        profile = load_profile(profile_name)
        return Scorer(
            profile
        ), f"judged against profile {profile.name!r} ({profile.view.value} view)"
    if uncalibrated:
        return Scorer(), (
            "judged against the population default profile (not calibrated to you: "
            f"run `{command_name()} calibrate` for verdicts that fit you)"
        )
    return None, None


def _verdict_cells(verdict: dict[str, Any] | None) -> list[str]:
    if verdict is None:
        return []
    return [verdict["verdict"], cell(verdict["score"], "{}")]


def _table(records: list[dict[str, Any]], title: str, console: Console) -> tuple[Table, list[str]]:
    """The table, and the headers of the metric columns left out to fit the console.

    A judged frame shows its own verdict and score ("this frame"); a video also
    the smoothed verdict and score the monitor would show ("smoothed"), side by
    side, so the raw angles are never read against a verdict they do not make.
    Metric columns that do not fit are left out, last first, rather than cut.
    """
    named = any("name" in r for r in records)
    judged = bool(records) and "verdict" in records[0]
    smoothed = judged and "smoothed" in records[0]
    rows: list[list[str]] = []
    for record in records:
        label = record.get("name") or f"{record['t_ms'] / 1000:.1f}"
        view = record["view"] or ("partial" if record["pose"] else "no pose")
        verdicts = _verdict_cells(record if judged else None)
        verdicts += _verdict_cells(record.get("smoothed") if smoothed else None)
        metrics = [cell(record.get(key), fmt) for key, _, fmt in TABLE_COLUMNS]
        rows.append([label, *verdicts, view, *metrics])
    headers = ["frame" if named else "t (s)"]
    headers += ["this frame", "score"] if judged else []
    headers += ["smoothed", "score"] if smoothed else []
    headers.append("view")
    fixed = len(headers)
    headers += [header for _, header, _ in TABLE_COLUMNS]
    keep = len(headers)
    while True:
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        for index, header in enumerate(headers[:keep]):
            # A file name may fold onto a second line; numbers and verdicts never do.
            folds = index == 0 and named
            table.add_column(
                header,
                justify="left" if folds or (0 < index < fixed and header != "score") else "right",
                no_wrap=not folds,
                min_width=min(24, max(len(r[0]) for r in rows)) if folds and rows else None,
            )
        for row in rows:
            table.add_row(*row[:keep])
        natural = Measurement.get(console, console.options.update_width(1_000_000), table)
        if keep == fixed or natural.maximum <= console.width:
            return table, headers[keep:]
        keep -= 1


@click.command()
@click.argument("path", metavar="PATH", type=SourceSpec())
@click.option("--json", "as_json", is_flag=True, help="Print JSON Lines (one object per frame).")
@click.option(
    "--every",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Analyse every Nth frame of a video or folder (skipped frames are not analysed).",
)
@click.option(
    "--max-side",
    type=click.IntRange(min=64),
    default=640,
    show_default=True,
    help="Downscale frames so the longest side is at most this many pixels before inference.",
)
@click.option(
    "--profile",
    "profile_name",
    metavar="NAME",
    help="Judge each frame against this calibrated profile.",
)
@click.option(
    "--uncalibrated",
    is_flag=True,
    help="Judge each frame against the population default profile instead.",
)
def analyze(
    path: str,
    as_json: bool,
    every: int,
    max_side: int,
    profile_name: str | None,
    uncalibrated: bool,
) -> None:
    """Measure posture in an image, a folder of images or a video.

    PATH is an image (.jpg, .png, ...), a folder of images or a video file
    (.mp4, .avi, .mov, ...). Prints one row per frame: a table, or with --json
    one JSON object per line with t_ms, pose, view and every metric (null when
    the landmarks it needs are not visible). Angles are in degrees, positive
    means leaning forward; ratios are relative to the shoulder width.

    With --profile NAME (or --uncalibrated) every row also gets a verdict
    (good, slouch, forward-head, reclined, lateral-lean, too-close,
    person-no-pose, no-person), the reasons and a 0-100 score; for videos a
    smoothed verdict too, as the monitor would report it.
    """
    scorer, note = _scorer(profile_name, uncalibrated)
    records: list[dict[str, Any]] = []
    with open_source(path, stride=every) as source:
        judge = Judge(scorer, smooth=source.is_stream) if scorer else None
        with estimator_for(source, max_side_px=max_side) as estimator:
            show_bar = source.kind == "video" or (source.frame_count or 0) > 20
            with progress_bar(source.frame_count, "analysing", show_bar) as ticker:
                settle = SETTLE_REPEATS if every > 1 else 0
                for row in analyze_frames(source, estimator, settle=settle):
                    record = row.as_dict()
                    if judge is not None:
                        judge.add_verdict(row, record)
                    if as_json:
                        click.echo(json.dumps(record))
                    else:
                        records.append(record)
                    ticker.advance()
        description = source.description
    warning = judge.view_warning() if judge is not None else None
    if warning:
        stderr().print(f"Note: {warning} (`{command_name()} calibrate --source ...`).")
    if as_json:
        return
    console = stdout()
    table, left_out = _table(records, f"posture analyze: {description}", console)
    console.print(table)
    found = sum(1 for r in records if r["view"] is not None)
    console.print(f"{found} of {len(records)} frames with a usable pose.")
    if left_out:
        console.print(
            f"Left out to fit {console.width} columns: {', '.join(left_out)} "
            "(a wider terminal shows them; --json has every metric)."
        )
    if note:
        console.print(note)
