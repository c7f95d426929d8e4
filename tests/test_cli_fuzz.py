"""Property-based fuzzing of every command's options, through the real entry point.

Argument lists are generated from each command's real click parameters (their names,
types, choices and ranges), with odd values: empty, huge, negative, nan, inf, unicode,
terminal escapes, undecodable bytes, paths that are files, folders, missing, inside a
file or unwritable; in data folders and config files that are fine, missing, a file,
or unwritable. Each list runs through `posture.cli.main` in-process and must end as
the README promises: exit 0, or a documented exit code with one `posture: error:`
line on stderr; never 70 (internal error), never a traceback.

Out of reach: a real camera (sources are files, folders or camera 99, which does not
exist), long runs (media are a few tiny frames; `demo` always gets a tiny --video and
a --home inside the test's folder), a display and a desktop bus (unset).
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import click
import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posture.cli import cli
from posture.cli.common import NamedPath, ReplaySpeed, SourceSpec
from posture.cli.report import DateType
from tests.cli_runner import Outcome, run_posture

REPO = Path(__file__).resolve().parent.parent
UPRIGHT_PHOTO = REPO / "samples" / "upright" / "straight_hf.jpg"

# About 20 s on a 2-core machine; every run is counted and the total printed.
EXAMPLES = 1500
DOCUMENTED_FAILURES = {1, 2, 3}
INTERRUPTED = 130  # only a confirmation prompt that reads end-of-file

# Odd text: control characters (but NUL, which no argv can hold), unicode, escapes.
ODD_TEXT = st.one_of(
    st.text(st.characters(exclude_characters="\x00"), max_size=12),
    st.sampled_from(
        [
            "",
            " ",
            "-",
            "--",
            "../evil",
            "\x1b[2J\x1b]0;owned\x07",
            "line\nbreak",
            "caf\udce9",  # an undecodable byte, as Python hands it from a Linux argv
            "名前",
            "x" * 300,
        ]
    ),
)
ODD_NUMBERS = [
    "",
    "nan",
    "-nan",
    "inf",
    "-inf",
    "1e999",
    "-1e999",
    "1e-9",
    "-0",
    "0x10",
    "1_000",
    " 3 ",
    "٣",
    "1.5",
    "99999999999999999999",
]
ODD_DATES = [
    "today",
    "Yesterday",
    "",
    "2024-02-30",
    "2024-1-1",
    "20240101",
    "9999-12-31",
    "0001-01-01",
    "1969-12-31",
    "1971-01-01",
    "9998-12-31",
]
# Camera indices that cannot open a real camera: 99 exists nowhere, the rest are refused.
SAFE_CAMERAS = ["99", "100", "99999999999999999999", "²", "-1"]


@dataclass
class Stage:
    """The files and folders the generated arguments point at, made once."""

    root: Path
    template_home: Path
    paths: dict[str, Path] = field(default_factory=dict)


def _tiny_video(path: Path, frames: int = 3) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 30, (64, 48))
    for index in range(frames):
        writer.write(np.full((48, 64, 3), 60 + 40 * index, np.uint8))
    writer.release()
    return path


def _grey_image(path: Path) -> Path:
    cv2.imwrite(str(path), np.full((48, 64, 3), 128, np.uint8))
    return path


def _stage(root: Path) -> Stage:
    """Media, labels and odd files; and a data folder with a profile and a history."""
    files = root / "files"
    (files / "images").mkdir(parents=True)
    (files / "empty-folder").mkdir()
    stage = Stage(root, root / "template-home")
    paths = stage.paths
    paths["image"] = _grey_image(files / "grey.png")
    _grey_image(files / "images" / "a.png")
    _grey_image(files / "images" / "b.jpg")
    paths["images"] = files / "images"
    paths["video"] = _tiny_video(files / "tiny.mp4")
    paths["empty-folder"] = files / "empty-folder"
    paths["text"] = files / "notes.txt"
    paths["text"].write_text("not media\n")
    paths["empty-video"] = files / "empty.mp4"
    paths["empty-video"].write_bytes(b"")
    paths["broken-image"] = files / "broken.jpg"
    paths["broken-image"].write_bytes(b"\xff\xd8 not really a jpeg")
    paths["labels"] = files / "labels.csv"
    paths["labels"].write_text(
        "path,source,view,coarse_label,label\n"
        "images/a.png,fuzz,side,good,upright\n"
        "images/b.jpg,fuzz,side,bad,slouch\n"
    )
    paths["bad-labels"] = files / "bad-labels.csv"
    paths["bad-labels"].write_text("a,b\n1,2\n")
    paths["missing"] = files / "missing.png"
    paths["missing-folder"] = files / "no" / "such" / "folder"
    paths["inside-a-file"] = paths["text"] / "inside.png"
    paths["too-long"] = files / ("n" * 300 + ".png")
    paths["escapes"] = files / "\x1b[31mred.png"
    paths["link"] = files / "link"
    paths["link"].symlink_to(files / "empty-folder")
    if Path("/sys").is_dir():
        paths["read-only"] = Path("/sys/posture-fuzz/out.png")
    return stage


def _seed_home(stage: Stage) -> None:
    """A data folder with a calibrated profile, a recorded session and a pain note."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POSTURE_HOME", str(stage.template_home))
        for args in (
            ["calibrate", "--source", str(UPRIGHT_PHOTO)],
            ["pain", "add", "--level", "4", "--note", "after lunch"],
            ["monitor", "--source", str(stage.paths["video"]), "--speed", "0", "--quiet"],
        ):
            outcome = run_posture(args)
            assert outcome.code == 0, (args, outcome)


# -- values for each kind of parameter -----------------------------------------------------
# Each parameter gets a usable value or an odd one, about half and half, so that runs
# also get past the argument checks into the commands themselves.


def _path_values(stage: Stage, example: Path) -> st.SearchStrategy[str]:
    """Paths to read or write: staged files, and new names in this example's folder."""
    fresh = [
        example / "new.png",
        example / "new.html",
        example / "new.json",
        example / "new-folder",
        example / "new.csv",
    ]
    return st.sampled_from([str(p) for p in (*fresh, *stage.paths.values())])


def _source_values(stage: Stage, example: Path) -> st.SearchStrategy[str]:
    usable = [str(stage.paths[k]) for k in ("video", "image", "images")]
    return st.one_of(
        st.sampled_from(usable),
        _path_values(stage, example),
        st.sampled_from(SAFE_CAMERAS),
    )


def _number_values(param: click.Parameter) -> st.SearchStrategy[str]:
    kind = param.type
    low, high, near = 0.0, 10.0, list[float]()
    if isinstance(kind, click.IntRange | click.FloatRange):
        low = kind.min if kind.min is not None else low
        high = kind.max if kind.max is not None else low + 10
        near = [v + d for v in (kind.min, kind.max) if v is not None for d in (-1, 0, 1)]
    if isinstance(kind, ReplaySpeed):  # usable, and never a slow replay of the tiny video
        usable: st.SearchStrategy[str] = st.sampled_from(["0", "1", "4", "100"])
    elif isinstance(kind, click.types.IntParamType):
        usable = st.integers(int(low), int(min(high, low + 20))).map(str)
    else:
        usable = st.floats(low, min(high, low + 60)).map(repr)
    if isinstance(kind, click.types.IntParamType):
        odd: st.SearchStrategy[str] = st.integers(-(10**6), 10**30).map(str)
        near_text = [str(int(value)) for value in near]
    else:
        odd = st.floats(allow_nan=True, allow_infinity=True).map(repr)
        near_text = [repr(float(value)) for value in near]
    return st.one_of(usable, odd, st.sampled_from(near_text + ODD_NUMBERS))


def _value_for(param: click.Parameter, stage: Stage, example: Path) -> st.SearchStrategy[str]:
    kind = param.type
    if isinstance(kind, SourceSpec):
        return _source_values(stage, example)
    if isinstance(kind, NamedPath | click.Path):
        return _path_values(stage, example)
    if isinstance(kind, DateType):
        recent = st.dates(date(2020, 1, 1), date(2030, 12, 31))
        return st.one_of(recent.map(str), st.dates().map(str), st.sampled_from(ODD_DATES))
    if isinstance(kind, click.Choice):
        choices = [str(choice) for choice in kind.choices]
        return st.one_of(st.sampled_from(choices), st.sampled_from(["", "JSON", choices[0][:-1]]))
    if isinstance(kind, click.types.IntParamType | click.types.FloatParamType):
        return _number_values(param)
    usable_text = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1)
    return st.one_of(st.sampled_from(["default", "nobody"]), usable_text, ODD_TEXT)


# Options that must always be given, so that no run opens a camera or the user's folders.
FORCED: dict[tuple[str, ...], tuple[str, ...]] = {
    ("monitor",): ("--source",),
    ("calibrate",): ("--source",),
    ("demo",): ("--video", "--home"),
}
# ... and the values they are drawn from, where the generic ones would reach too far.
FORCED_VALUES: dict[str, Callable[[Stage, Path], list[str]]] = {
    "--video": lambda stage, _: [
        str(stage.paths[k]) for k in ("video", "empty-video", "text", "image", "missing")
    ],
    # Not a symlink yet: `demo --home LINK` is an internal error that helper "mon"
    # fixes (issue #12); add stage.paths["link"] here once that is merged.
    "--home": lambda stage, example: [
        str(example / "demo"),
        str(stage.paths["empty-folder"]),
        str(stage.paths["text"]),
        str(stage.paths["inside-a-file"]),
    ],
}
EXTRAS = ["--bogus", "stray-argument", "--help", "-h"]


def _commands() -> list[tuple[tuple[str, ...], click.Command]]:
    """Every leaf command of the real click tree, with the words that reach it."""
    found: list[tuple[tuple[str, ...], click.Command]] = []

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        if isinstance(command, click.Group):
            context = click.Context(command)
            for name in command.list_commands(context):
                sub = command.get_command(context, name)
                assert sub is not None
                walk(sub, (*path, name))
        else:
            found.append((path, command))

    walk(cli, ())
    return found


COMMANDS = _commands()


def _argument_list(
    draw: Callable[[st.SearchStrategy[Any]], Any],
    path: tuple[str, ...],
    command: click.Command,
    stage: Stage,
    example: Path,
) -> list[str]:
    words = list(path)
    forced = FORCED.get(path, ())
    for param in command.params:
        if isinstance(param, click.Option):
            name = param.opts[0]
            if name in ("--help", "-h"):
                continue
            if name not in forced and draw(st.integers(0, 2)) > 0:  # a third of them
                continue
            if param.is_flag:
                words.append(name)
                continue
            maker = FORCED_VALUES.get(name)
            if maker is not None:
                values = st.sampled_from(maker(stage, example))
            else:
                values = _value_for(param, stage, example)
            words += [name, draw(values)]
        elif draw(st.integers(0, 9)) > 0:  # an argument, left out now and then
            words.append(draw(_value_for(param, stage, example)))
    if draw(st.integers(0, 19)) == 0:
        words.append(draw(st.sampled_from(EXTRAS)))
    if path == ("profile", "delete") and "--yes" not in words and draw(st.booleans()):
        words.append("--yes")
    return (["--verbose"] if draw(st.integers(0, 9)) == 0 else []) + words


@st.composite
def _environment(draw: st.DrawFn, stage: Stage, example: Path) -> dict[str, Path]:
    """A data folder and a config file: usually fine, sometimes not usable at all."""
    homes = {
        "seeded": example / "home",
        "missing": example / "not" / "yet",
        "a-file": stage.paths["text"],
        "inside-a-file": stage.paths["inside-a-file"],
    }
    if "read-only" in stage.paths:
        homes["read-only"] = stage.paths["read-only"].parent
    configs = {
        "missing": example / "config.toml",
        "a-folder": stage.paths["empty-folder"],
        "not-toml": stage.paths["text"],
        "bad-value": stage.root / "bad-value.toml",
        "inside-a-file": stage.paths["inside-a-file"],
    }
    # Fine three times in four, so that the commands get to work.
    home = draw(st.sampled_from([homes["seeded"]] * 9 + list(homes.values())))
    config = draw(st.sampled_from([configs["missing"]] * 12 + list(configs.values())))
    return {"POSTURE_HOME": home, "POSTURE_CONFIG": config}


# -- what every run must satisfy -----------------------------------------------------------


def check(args: list[str], outcome: Outcome) -> None:
    """Exit 0, or a documented code with one `posture: error:` line; never a bug."""
    shown = f"posture {' '.join(map(repr, args))}\n{outcome.err}"
    assert "Traceback" not in outcome.err and "internal error" not in outcome.err, shown
    if outcome.code == 0:
        assert "posture: error" not in outcome.err, shown
        return
    if outcome.code == INTERRUPTED:  # `profile delete` asking for confirmation
        assert "delete" in args and outcome.err.endswith("posture: interrupted\n"), shown
        return
    assert outcome.code in DOCUMENTED_FAILURES, shown
    lines = outcome.err_lines
    assert len(lines) == 1 and lines[0].startswith("posture: error: "), shown


def test_every_command_line_ends_as_documented(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path_factory.mktemp("fuzz")
    stage = _stage(root)
    (root / "bad-value.toml").write_text("[monitor]\nfps = 1000\n")
    _seed_home(stage)
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(root))  # a `~` in a generated path stays in here
    monkeypatch.chdir(root)
    codes: Counter[int] = Counter()
    commands: Counter[tuple[str, ...]] = Counter()
    attempts: list[None] = []
    started = time.perf_counter()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def run_one(data: st.DataObject) -> None:
        attempts.append(None)
        example = root / f"example-{len(attempts)}"
        example.mkdir()
        shutil.copytree(stage.template_home, example / "home")
        path, command = data.draw(st.sampled_from(COMMANDS), label="command")
        args = _argument_list(data.draw, path, command, stage, example)
        data.draw(st.just(args), label="args")
        environ = data.draw(_environment(stage, example), label="environment")
        with pytest.MonkeyPatch.context() as patch:
            for name, value in environ.items():
                patch.setenv(name, str(value))
            outcome = run_posture(args)
        codes[outcome.code] += 1
        commands[path] += 1
        check(args, outcome)

    run_one()
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(
            f"\nfuzzed {sum(codes.values())} command lines in {elapsed:.1f} s: "
            f"exit codes {dict(sorted(codes.items()))}, {len(commands)} commands"
        )
    never = {path for path, _ in COMMANDS} - set(commands)
    assert not never, f"never ran: {never}"
