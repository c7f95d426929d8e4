"""Helpers shared by the commands: consoles, progress bars, profile loading."""

from __future__ import annotations

import math
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
    """A console on stdout for results (no syntax highlighting of numbers and paths)."""
    return Console(highlight=False)


def stderr() -> Console:
    """A console on stderr for notices, progress and the status line."""
    return Console(stderr=True, highlight=False)


class Ticker:
    """Advances a progress bar, or does nothing when there is none."""

    def __init__(self, progress: Progress | None = None, task: TaskID | None = None) -> None:
        self._progress, self._task = progress, task

    def advance(self, steps: int = 1) -> None:
        """Move the bar on by `steps` (frames, or tenths of a second)."""
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


class FiniteFloatRange(click.FloatRange):
    """A number option that refuses nan and infinity as well as values out of range.

    Python's float() reads "nan" and "inf", and a nan passes every range check
    (it compares false with everything), so click.FloatRange alone lets them in.
    """

    name = "number"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        """The number, finite checked first: the range check that follows lets a nan by."""
        number: float = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value} is not a finite number: use {self.allowed()}", param, ctx)
        checked: float = super().convert(number, param, ctx)
        return checked

    def _describe_range(self) -> str:  # what click shows in the help
        return self.allowed()

    def allowed(self) -> str:
        """The allowed values in words ("0.1 to 30"), for the help and the errors."""
        if self.min is not None and self.max is not None:
            return f"{self.min:g} to {self.max:g}"
        if self.min is not None:
            return f"{self.min:g} or more"
        return f"{self.max:g} or less"


# The latest second a --start or --end can name: a day. Recordings are shorter, and
# the limit keeps a typo like 1e300 from overflowing into milliseconds.
LONGEST_VIDEO_S = 24 * 3600.0

# A replay slower than a tenth of real time is a typo (1e-9 would take years),
# and beyond 100 times real time 0 ("as fast as possible") says it better.
MIN_REPLAY_SPEED, MAX_REPLAY_SPEED = 0.1, 100.0


class ReplaySpeed(FiniteFloatRange):
    """How fast a recording replays: 0 (as fast as possible) or 0.1 to 100 times real time."""

    name = "speed"

    def __init__(self) -> None:
        super().__init__(min=0, max=MAX_REPLAY_SPEED)

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        """The speed; one between 0 and the slowest real speed is refused by name,
        since the range (0 to 100) alone would let 1e-9 replay for years."""
        speed = super().convert(value, param, ctx)
        if 0 < speed < MIN_REPLAY_SPEED:
            self.fail(
                f"{value} is too slow to mean: use {self.allowed()} (1 = real time)",
                param,
                ctx,
            )
        return speed

    def allowed(self) -> str:
        """0, or the range of real replay speeds."""
        return f"0 (as fast as possible) or {MIN_REPLAY_SPEED:g} to {MAX_REPLAY_SPEED:g}"


class SourceSpec(click.ParamType[str]):
    """A camera index (digits 0-9), a file or a folder: what `open_source` reads."""

    name = "source"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        """The text as typed, for `open_source`; only what it would misread is refused."""
        text = str(value)
        if not text:  # Path("") is the current folder: never what was meant
            self.fail("an empty value is not a camera, file or folder: name one", param, ctx)
        bare = text.strip()
        # "²" or "٣" pass str.isdigit() but are not a camera index int() can read.
        if bare.isdigit() and not bare.isascii() and not Path(text).expanduser().exists():
            self.fail(
                f"{text!r} is not a camera index: write it with the digits 0-9 (e.g. 0), "
                "or give a file or folder",
                param,
                ctx,
            )
        return text


class UserText(click.ParamType[str]):
    """Free text to keep (a note), refused when the terminal sent bytes that are not UTF-8.

    Python hands such bytes over as lone surrogates ("caf\\udce9" for a Latin-1
    "café"), which no UTF-8 file or database can store.
    """

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        """The text, refused here so the error names the option rather than the store."""
        text = str(value)
        if any(0xD800 <= ord(char) <= 0xDFFF for char in text):
            self.fail(
                f"{text!r} holds bytes that are not UTF-8 text: set your terminal to UTF-8 "
                "and type it again",
                param,
                ctx,
            )
        return text


class NamedPath(click.Path[Path]):
    """A file or folder (a `Path`), never the empty string: that is the current folder."""

    def __init__(self, *, file_okay: bool = True, dir_okay: bool = True) -> None:
        super().__init__(file_okay=file_okay, dir_okay=dir_okay, path_type=Path)

    def convert(
        self,
        value: str | os.PathLike[str],
        param: click.Parameter | None,
        ctx: click.Context | None,
    ) -> Path:
        """The path; click.Path itself would take "" for the current folder."""
        if not os.fspath(value):
            self.fail("an empty name is not a file or folder: name one", param, ctx)
        return super().convert(value, param, ctx)


def source_option(help_text: str) -> Callable[[F], F]:
    """`--source CAMERA|FILE|FOLDER`, camera 0 by default: the same for every command."""
    return click.option(
        "--source",
        "source_spec",
        type=SourceSpec(),
        default="0",
        show_default=True,
        metavar="CAMERA|FILE|FOLDER",
        help=help_text,
    )


def cell(value: object, fmt: str) -> str:
    """A table cell: `value` formatted, or `MISSING` when it could not be measured."""
    return MISSING if value is None else fmt.format(value)


def profile_store() -> ProfileStore:
    """The user's profiles, in the data directory."""
    from calibration.profile import ProfileStore

    return ProfileStore(profiles_dir())


def load_profile(name: str) -> Profile:
    """The user's profile `name` (a `ProfileError` naming the fix when there is none)."""
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
