"""Helpers shared by the commands: consoles, progress bars, profile loading."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from posture.paths import profiles_dir

if TYPE_CHECKING:  # imported when used: `posture report` needs no calibration (NumPy)
    from calibration.profile import Profile, ProfileStore

F = TypeVar("F", bound=Callable[..., Any])

# Shown in tables where a value cannot be measured (its landmarks are not visible).
MISSING = "-"


def stdout() -> Console:
    return Console(highlight=False)


def stderr() -> Console:
    return Console(stderr=True, highlight=False)


class Ticker:
    """Advances a progress bar, or does nothing when there is none."""

    def __init__(self, progress: Progress | None = None, task: TaskID | None = None) -> None:
        self._progress, self._task = progress, task

    def advance(self, steps: int = 1) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, steps)


@contextmanager
def progress_bar(total: int | None, description: str, enabled: bool = True) -> Iterator[Ticker]:
    """A transient progress bar on stderr, only when stderr is a terminal."""
    if not enabled or total is None or not sys.stderr.isatty():
        yield Ticker()
        return
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=stderr(),
        transient=True,
    )
    with progress:
        yield Ticker(progress, progress.add_task(description, total=total))


def source_option(help_text: str) -> Callable[[F], F]:
    """`--source CAMERA|FILE|FOLDER`, camera 0 by default: the same for every command."""
    return click.option(
        "--source",
        "source_spec",
        default="0",
        show_default=True,
        metavar="CAMERA|FILE|FOLDER",
        help=help_text,
    )


def cell(value: object, fmt: str) -> str:
    return MISSING if value is None else fmt.format(value)


def profile_store() -> ProfileStore:
    from calibration.profile import ProfileStore

    return ProfileStore(profiles_dir())


def load_profile(name: str) -> Profile:
    return profile_store().load(name)


def command_name(argv0: str | None = None) -> str:
    """How to type `posture` again, for hints like "now run posture report".

    After the README's quick start the script is `.venv/bin/posture`, which is
    not on PATH: the hint then names the path the user ran it by (relative to
    the current folder when it is below it), so it works when pasted.
    """
    script = Path(sys.argv[0] if argv0 is None else argv0)
    if script.name != "posture":
        return "posture"  # `python -m posture` or an embedding program
    on_path = shutil.which("posture")
    if on_path and Path(on_path).resolve() == script.resolve():
        return "posture"
    absolute = Path(os.path.abspath(script))
    try:
        relative = absolute.relative_to(Path.cwd())
    except ValueError:  # not below the current folder
        return str(absolute)
    # A shell runs a bare name from PATH only: `./posture` for the current folder.
    return str(relative) if len(relative.parts) > 1 else f".{os.sep}{relative}"
