"""The command line: the only place that knows about arguments and exit codes.

Exit codes: 0 success; 1 a posture error (bad profile, bad data); 2 bad
arguments or an unreadable source; 3 the bundled model is broken; 130 Ctrl+C.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from posture import __version__
from posture.errors import PostureError

log = logging.getLogger("posture")

# Shown in tables where a metric cannot be measured (its landmarks are not visible).
MISSING = "-"

TABLE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    # (record key, header, format): a summary for people; --json has every metric.
    ("neck_inclination_deg", "neck°", "{:.1f}"),
    ("neck_inclination_3d_deg", "neck3D°", "{:.1f}"),
    ("trunk_inclination_deg", "trunk°", "{:.1f}"),
    ("head_forward_ratio", "head fwd", "{:.2f}"),
    ("head_height_ratio", "head h", "{:.2f}"),
)


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="posture: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="posture")
@click.option("-v", "--verbose", is_flag=True, help="Log what happens, for troubleshooting.")
def cli(verbose: bool) -> None:
    """A local, private posture coach.

    Measures thoracic slouch and neck angle from a webcam, a video or photos
    with MediaPipe's pose model. Frames stay in memory: nothing is written or
    sent anywhere.
    """
    _configure_logging(verbose)


@contextmanager
def _progress(total: int | None, description: str, enabled: bool) -> Iterator[Any]:
    """A progress bar on stderr, only when stderr is a terminal."""
    if not enabled or total is None or not sys.stderr.isatty():
        yield None
        return
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=_stderr(),
        transient=True,
    )
    with progress:
        yield (progress, progress.add_task(description, total=total))


def _cell(value: Any, fmt: str) -> str:
    return MISSING if value is None else fmt.format(value)


def _table(records: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title, title_justify="left", pad_edge=False)
    named = any("name" in r for r in records)
    longest = max((len(r.get("name") or "") for r in records), default=0)
    table.add_column(
        "frame" if named else "t (s)",
        justify="left" if named else "right",
        no_wrap=True,
        min_width=min(longest, 40),
    )
    table.add_column("view")
    for _, header, _ in TABLE_COLUMNS:
        table.add_column(header, justify="right", no_wrap=True, min_width=len(header))
    for record in records:
        label = record.get("name") or f"{record['t_ms'] / 1000:.1f}"
        if record["metrics_ok"]:
            view = record["view"]
        else:
            view = "partial pose" if record["pose"] else "no pose"
        cells = [_cell(record.get(key), fmt) for key, _, fmt in TABLE_COLUMNS]
        table.add_row(label, view, *cells)
    return table


@cli.command()
@click.argument("path", metavar="PATH")
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
def analyze(path: str, as_json: bool, every: int, max_side: int) -> None:
    """Measure posture in an image, a folder of images or a video.

    PATH is an image (.jpg, .png, ...), a folder of images or a video file
    (.mp4, .avi, .mov, ...). Prints one row per frame: a table, or with --json
    one JSON object per line with t_ms, pose, view and every metric (null when
    the landmarks it needs are not visible). Angles are in degrees, positive
    means leaning forward; ratios are relative to the shoulder width.
    """
    from posture.analysis import analyze_frames, estimator_for
    from posture.sources import open_source

    records: list[dict[str, Any]] = []
    with open_source(path, stride=every) as source:
        with estimator_for(source, max_side_px=max_side) as estimator:
            show_bar = source.kind == "video" or (source.frame_count or 0) > 20
            with _progress(source.frame_count, "analysing", show_bar) as bar:
                for row in analyze_frames(source, estimator):
                    record = row.as_dict()
                    if as_json:
                        click.echo(json.dumps(record))
                    else:
                        record["metrics_ok"] = row.metrics is not None
                        records.append(record)
                    if bar is not None:
                        bar[0].advance(bar[1])
            description = source.description
    if not as_json:
        Console(highlight=False).print(_table(records, f"posture analyze: {description}"))
        found = sum(1 for r in records if r["metrics_ok"])
        click.echo(f"{found} of {len(records)} frames with a usable pose.")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: turns domain errors into one-line messages."""
    try:
        cli.main(args=argv, prog_name="posture", standalone_mode=False)
    except click.exceptions.Abort:
        _stderr().print("posture: interrupted")
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        _stderr().print("posture: interrupted")
        sys.exit(130)
    except PostureError as error:
        click.echo(f"posture: error: {error}", err=True)
        sys.exit(error.exit_code)
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error for the user.
        sys.stderr.close()
        sys.exit(0)


if __name__ == "__main__":
    main()
