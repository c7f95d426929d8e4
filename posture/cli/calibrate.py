"""`posture calibrate` and `posture profile list|show|delete`."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from datetime import datetime

import click
from rich.table import Table

from calibration.gates import CalibrationSample
from calibration.profile import DEFAULT_PROFILE_NAME, Profile
from calibration.protocol import calibrate as build_profile
from posture.analysis import FrameAnalysis, calibration_frames
from posture.cli.common import (
    LONGEST_VIDEO_S,
    FiniteFloatRange,
    command_name,
    profile_store,
    progress_bar,
    source_option,
    stderr,
    stdout,
)
from posture.errors import MovementError, ProfileError
from posture.pose import DEFAULT_MODEL
from posture.sources import Frame, FrameSource, SourceBase, open_source
from posture.stale import placement_of, setup_of
from posture.store import HistoryStore
from posture.vocabulary import View

COUNTDOWN_S = 3
# The metrics shown to people after calibrating (the profile holds them all).
# (metric, label, unit, views where it is judged)
SUMMARY_METRICS = (
    ("neck_inclination_deg", "neck inclination (side)", "°", (View.SIDE,)),
    ("neck_inclination_3d_deg", "neck inclination (3D)", "°", (View.FRONTAL, View.OBLIQUE)),
    ("trunk_inclination_deg", "trunk inclination", "°", tuple(View)),
    ("head_height_ratio", "head height", "", (View.FRONTAL, View.OBLIQUE)),
    ("head_forward_ratio", "head forward", "", tuple(View)),
    ("head_size_frac", "head size in picture", "", (View.FRONTAL, View.OBLIQUE)),
    ("shoulder_tilt_deg", "shoulder tilt", "°", (View.FRONTAL, View.OBLIQUE)),
)


def _seconds_to_ms(value: float | None) -> int | None:
    return None if value is None else round(value * 1000)


def _camera_frames(source: FrameSource, seconds: float) -> Iterator[FrameAnalysis]:
    """Count down, then yield analysed camera frames for `seconds`."""
    console = stderr()
    for remaining in range(COUNTDOWN_S, 0, -1):
        console.print(f"Sit upright, shoulders back, eyes on the screen... {remaining}")
        time.sleep(1)
    console.print(f"Hold still for {seconds:g} s.")
    with progress_bar(round(seconds * 10), "calibrating") as ticker:
        shown = 0
        for row in calibration_frames(source):
            if row.t_ms > seconds * 1000:
                return
            yield row
            due = min(round(row.t_ms / 100), round(seconds * 10))
            ticker.advance(due - shown)
            shown = due


class _Sized(SourceBase):
    """`source`'s frames as they are, noting their size (the profile records it)."""

    def __init__(self, source: FrameSource) -> None:
        self.source = source
        self.kind, self.description = source.kind, source.description
        self.is_stream, self.live = source.is_stream, source.live
        self.frame_count, self.duration_ms = source.frame_count, source.duration_ms
        self.size: tuple[int, int] | None = None

    def __iter__(self) -> Iterator[Frame]:
        for frame in self.source:
            self.size = frame.size
            yield frame


def _file_frames(source: FrameSource) -> Iterator[FrameAnalysis]:
    with progress_bar(source.frame_count, "calibrating") as ticker:
        for row in calibration_frames(source):
            yield row
            ticker.advance()


def _summary(profile: Profile) -> Table:
    table = Table(title=f"Your upright baseline ({profile.view.value} view)", title_justify="left")
    table.add_column("metric")
    table.add_column("baseline", justify="right")
    table.add_column("tolerance", justify="right")
    for key, label, unit, views in SUMMARY_METRICS:
        base = profile.baseline(key)
        if base is None or profile.view not in views:
            continue
        digits = 1 if unit else 2
        table.add_row(
            label, f"{base.median:.{digits}f}{unit}", f"±{base.tolerance:.{digits}f}{unit}"
        )
    return table


@click.command()
@source_option("A camera index, a video, an image or a folder of images of you sitting upright.")
@click.option(
    "--seconds",
    type=FiniteFloatRange(min=1, max=120),
    default=10,
    show_default=True,
    help="How long to record from a camera (files use every frame).",
)
@click.option(
    "--start",
    type=FiniteFloatRange(min=0, max=LONGEST_VIDEO_S),
    help="Video only: start at this second.",
)
@click.option(
    "--end",
    type=FiniteFloatRange(min=0, max=LONGEST_VIDEO_S),
    help="Video only: stop at this second.",
)
@click.option(
    "--profile",
    "name",
    default=DEFAULT_PROFILE_NAME,
    show_default=True,
    metavar="NAME",
    help="Name to save the profile under (calibrating again replaces it).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Keep a baseline even if it does not look upright (the profile records it).",
)
def calibrate(
    source_spec: str,
    seconds: float,
    start: float | None,
    end: float | None,
    name: str,
    force: bool,
) -> None:
    """Learn your upright seated posture and save it as a profile.

    Sit upright, shoulders back, facing your screen as you do when working.
    From a camera the tool counts down, then records for --seconds; from a
    video, an image or a folder it uses every frame (or --start/--end of a
    video). Frames are measured and dropped: only numbers are saved.

    Calibration is refused, with what to change, when it is too dark, no one
    or more than one person is in view, head or shoulders are hard to see, you
    moved too much, or the posture does not look upright for people seen from
    that side (leaning far back, slouching, head far forward). --force keeps
    such a baseline anyway, and the profile records that it was forced.
    """
    store = profile_store()
    store.path(name)  # validate the name before recording anything
    with open_source(
        source_spec, start_ms=_seconds_to_ms(start), end_ms=_seconds_to_ms(end)
    ) as source:
        sized = _Sized(source)
        camera = source.kind == "camera"
        rows = list(_camera_frames(sized, seconds) if camera else _file_frames(sized))
        samples = [CalibrationSample(r.metrics, r.person_count, r.brightness) for r in rows]
        description = source.description
        device = getattr(source, "device_name", None)
    try:
        profile = build_profile(
            samples, name=name, source=description, model=DEFAULT_MODEL, force=force
        )
    except MovementError as error:
        if not (sized.kind == "video" and start is None and end is None):
            raise
        # Most likely a recording that changes posture, not a person who fidgeted.
        raise MovementError(
            f"{error}; from a video, give the part where you sit upright with --start and "
            "--end (seconds)"
        ) from None
    # The camera set-up, so that the monitor can tell when it moved (posture.stale).
    setup = setup_of(
        (placement_of(row.pose, row.metrics) for row in rows),
        source=description,
        size=sized.size,
        camera=device,
    )
    profile = dataclasses.replace(profile, setup=setup)
    replaced = store.exists(name)
    path = store.save(profile)
    with HistoryStore() as history:
        history.record_calibration(
            datetime.now().astimezone(), profile.name, profile.view.value, profile.frame_count
        )
    console = stdout()
    console.print(_summary(profile))
    action = "Replaced" if replaced else "Saved"
    console.print(
        f"{action} profile {name!r} from {profile.frame_count} of {len(samples)} frames "
        f"({profile.view.value} view):"
    )
    console.print(f"  {path}", soft_wrap=True)
    if profile.forced:
        stderr().print(
            "Note: kept with --force although it does not look upright; verdicts are judged "
            f"against it. Calibrate again sitting tall when you can (`{command_name()} "
            "calibrate`)."
        )


@click.group()
def profile() -> None:
    """List, show or delete calibration profiles."""


@profile.command("list")
def list_profiles() -> None:
    """List the saved profiles."""
    store = profile_store()
    names = store.names()
    if not names:
        stdout().print(f"No profiles yet: run `{command_name()} calibrate` to create one.")
        return
    table = Table(title=f"Profiles in {store.folder}", title_justify="left")
    for column in ("name", "view", "frames", "created", "source"):
        table.add_column(column)
    for name in names:
        try:
            item = store.load(name)
        except ProfileError as error:
            # One bad file must not hide the others; say what is wrong with it.
            table.add_row(name, "?", "?", "?", f"unreadable: {error}")
            continue
        table.add_row(
            item.name, item.view.value, str(item.frame_count), item.created_at, item.source
        )
    stdout().print(table)


@profile.command("show")
@click.argument("name", default=DEFAULT_PROFILE_NAME)
@click.option("--json", "as_json", is_flag=True, help="Print the profile file's JSON.")
def show_profile(name: str, as_json: bool) -> None:
    """Show a profile's baselines and tolerances (default: 'default')."""
    item = profile_store().load(name)
    if as_json:
        click.echo(json.dumps(item.to_json(), indent=2))
        return
    table = Table(
        title=f"Profile {item.name!r}: {item.view.value} view, {item.frame_count} frames, "
        f"created {item.created_at}, from {item.source}",
        title_justify="left",
    )
    for column in ("metric", "baseline", "spread (MAD)", "tolerance"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for metric, base in item.metrics.items():
        table.add_row(metric, f"{base.median:.3f}", f"{base.mad:.3f}", f"{base.tolerance:.3f}")
    stdout().print(table)


@profile.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_profile(name: str, yes: bool) -> None:
    """Delete a profile."""
    store = profile_store()
    if not store.exists(name):
        store.delete(name)  # raises the one-line "no profile named ..." error
    if not yes:
        click.confirm(f"Delete profile {name!r}?", abort=True, err=True)
    path = store.delete(name)
    stdout().print(f"Deleted profile {name!r} ({path}).")
