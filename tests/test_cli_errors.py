"""Every bad input is one line on stderr, `posture: error: ...`, with the exit code the
README documents: click's own usage errors, every kind of domain error, numbers that
are not numbers, odd paths and dates, and places posture cannot write. All through
the real entry point, `posture.cli.main`."""

from __future__ import annotations

import dataclasses
import errno
from pathlib import Path

import click
import pytest

from posture.cli import cli
from posture.cli.common import FiniteFloatRange, ReplaySpeed
from posture.cli.exits import EXIT_BUG, describe
from posture.cli.report import FIRST_DAY, LAST_DAY
from posture.errors import (
    CalibrationError,
    ConfigError,
    EvaluationError,
    ModelError,
    NotifierError,
    PostureError,
    ProfileError,
    SourceError,
    StorageError,
    refusal,
)
from posture.sources import CameraLostError
from posture.store import HistoryError
from tests.cli_runner import Outcome, assert_one_error_line, run_posture

REPO = Path(__file__).resolve().parent.parent
UPRIGHT_PHOTO = REPO / "samples" / "upright" / "straight_hf.jpg"


def _read_only_folder() -> Path | None:
    """A real place that refuses to hold a new folder even for root (Linux's sysfs)."""
    probe = Path("/sys/posture-test-probe")
    if not probe.parent.is_dir():
        return None
    try:
        probe.mkdir()
    except OSError:
        return probe
    probe.rmdir()
    return None


READ_ONLY = _read_only_folder()
needs_read_only_place = pytest.mark.skipif(
    READ_ONLY is None, reason="no file system here refuses a new folder (Linux's /sys does)"
)


# -- click's own usage errors ------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (
            ["monitor", "--sped", "2"],
            ["no such option '--sped' (did you mean '--speed'?)", "see 'posture monitor --help'"],
        ),
        (["analyze"], ["missing argument 'PATH'", "see 'posture analyze --help'"]),
        (
            ["report", "--format", "xml"],
            ["invalid value for '--format': 'xml' is not one of", "see 'posture report --help'"],
        ),
        (["analyze", "a.jpg", "--every", "two"], ["'--every'", "'two' is not a valid integer"]),
        (["pain", "add"], ["missing option '--level'", "see 'posture pain add --help'"]),
        (["analyze", "a.jpg", "b.jpg"], ["unexpected extra argument (b.jpg)"]),
        (["frobnicate"], ["no such command 'frobnicate'", "see 'posture --help'"]),
        (["config", "edit"], ["no such command 'edit'", "see 'posture config --help'"]),
        (["monitor", "--fps"], ["option '--fps' requires an argument"]),
        (["report", "--date", "2024-01-01", "--from", "2024-01-01"], ["not both"]),
    ],
)
def test_usage_errors_are_one_line_that_says_where_to_read_more(
    args: list[str], fragments: list[str]
) -> None:
    line = assert_one_error_line(run_posture(args), 2, *fragments)
    assert "Usage:" not in line and "Try '" not in line


@pytest.mark.parametrize("args", [[], ["config"], ["profile"]])
def test_a_command_group_alone_prints_its_help(args: list[str]) -> None:
    outcome = run_posture(args)
    assert outcome.code == 0 and outcome.err == ""
    assert outcome.out.startswith(f"Usage: posture {' '.join(args)}".rstrip() + " [OPTIONS]")


# -- one table of exit codes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ProfileError("no profile named 'x'"), 1),
        (CalibrationError("too dark to calibrate"), 1),
        (EvaluationError("labels file lacks column path"), 1),
        (HistoryError("history database is damaged"), 1),
        (StorageError("cannot write '/x'"), 1),
        (PostureError("anything a user can fix"), 1),
        (SourceError("no such file or folder: 'x'"), 2),
        (CameraLostError("camera 0 stopped sending frames"), 2),
        (ConfigError("fps = 0 is out of range"), 2),
        (NotifierError("unknown notifier 'popup'"), 2),
        (ModelError("pose model is corrupt"), 3),
        (click.UsageError("use either --date/--week or --from/--to"), 2),
        (click.BadParameter("'x' is not a date"), 2),
        (click.ClickException("something click refused"), 1),
        (PermissionError(errno.EACCES, "Permission denied", "/data/history.sqlite3"), 1),
        (OSError(errno.ENOSPC, "No space left on device"), 1),
        (KeyboardInterrupt(), 130),
        (click.Abort(), 130),
        (OSError(errno.EBADF, "Bad file descriptor"), EXIT_BUG),
        (RuntimeError("something impossible"), EXIT_BUG),
    ],
)
def test_every_kind_of_error_has_its_documented_exit_code(error: BaseException, code: int) -> None:
    got, line = describe(error)
    assert got == code
    assert "\n" not in line
    if code == 130:
        assert line == "posture: interrupted"
    elif code == EXIT_BUG:
        assert line.startswith("posture: internal error: ") and "a bug" in line
    else:
        assert line.startswith("posture: error: ")


def test_the_domain_errors_carry_no_exit_code() -> None:
    """Only the CLI knows exit codes (STYLE 13): no error class may bring its own."""

    def kinds(base: type[BaseException]) -> list[type[BaseException]]:
        return [base, *(k for sub in base.__subclasses__() for k in kinds(sub))]

    found = kinds(PostureError)
    assert {SourceError, ConfigError, NotifierError, HistoryError} <= set(found)
    assert [kind for kind in found if "exit_code" in vars(kind)] == []


def test_a_broken_model_installation_exits_3(monkeypatch: pytest.MonkeyPatch) -> None:
    from posture import pose

    damaged = dataclasses.replace(pose.MODELS["lite"], sha256="0" * 64)
    monkeypatch.setitem(pose.MODELS, "lite", damaged)
    outcome = run_posture(["analyze", str(UPRIGHT_PHOTO)])
    assert_one_error_line(outcome, 3, "is corrupt", "reinstall posture")


def test_terminal_escapes_in_an_input_are_shown_not_obeyed() -> None:
    source = "\x1b]0;owned\x07cam\x1b[2J\nnext line"
    outcome = run_posture(["analyze", source])
    assert_one_error_line(outcome, 2, r"\x1b]0;owned\x07cam\x1b[2J next line")
    assert "\x1b" not in outcome.err and "\x07" not in outcome.err


# -- numbers that are not numbers --------------------------------------------------------


def _float_options() -> list[tuple[list[str], click.Option]]:
    """Every option of every command that takes a float, found in the real click tree."""
    found: list[tuple[list[str], click.Option]] = []

    def walk(command: click.Command, path: list[str]) -> None:
        if isinstance(command, click.Group):
            context = click.Context(command)
            for name in command.list_commands(context):
                sub = command.get_command(context, name)
                assert sub is not None
                walk(sub, [*path, name])
        for param in command.params:
            if isinstance(param, click.Option) and isinstance(param.type, click.FloatRange):
                found.append((path, param))

    walk(cli, [])
    return found


FLOAT_OPTIONS = _float_options()


def test_every_float_option_is_a_finite_range() -> None:
    names = {f"{' '.join(path)} {option.opts[0]}" for path, option in FLOAT_OPTIONS}
    assert {"monitor --speed", "monitor --snooze", "calibrate --seconds", "demo --speed"} <= names
    assert all(isinstance(option.type, FiniteFloatRange) for _, option in FLOAT_OPTIONS)


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e999"])
@pytest.mark.parametrize(
    ("path", "option"),
    FLOAT_OPTIONS,
    ids=[f"{' '.join(p)} {o.opts[0]}" for p, o in FLOAT_OPTIONS],
)
def test_nan_and_infinity_are_refused_by_every_float_option(
    path: list[str], option: click.Option, value: str
) -> None:
    outcome = run_posture([*path, option.opts[0], value])
    option_type = option.type
    assert isinstance(option_type, FiniteFloatRange)
    allowed = option_type.allowed()
    assert_one_error_line(
        outcome,
        2,
        f"invalid value for '{option.opts[0]}': {value} is not a finite number: use {allowed};",
    )


@pytest.mark.parametrize("command", ["monitor", "demo"])
@pytest.mark.parametrize("speed", ["1e-9", "0.05", "-1", "101"])
def test_replay_speeds_that_cannot_be_meant_are_refused_with_the_range(
    command: str, speed: str
) -> None:
    outcome = run_posture([command, "--speed", speed])
    assert_one_error_line(outcome, 2, "'--speed'", "0 (as fast as possible) or 0.1 to 100")


def test_the_replay_speed_range_itself() -> None:
    speed = ReplaySpeed()
    assert [speed.convert(text, None, None) for text in ("0", "0.1", "1", "100")] == [
        0.0,
        0.1,
        1.0,
        100.0,
    ]
    with pytest.raises(click.BadParameter, match="too slow to mean"):
        speed.convert("0.099", None, None)


# -- odd sources, paths and dates --------------------------------------------------------


@pytest.mark.parametrize("source", ["²", "٣"])
def test_a_camera_index_is_written_with_the_digits_0_to_9(source: str) -> None:
    outcome = run_posture(["monitor", "--source", source, "--no-history"])
    assert_one_error_line(outcome, 2, "'--source'", "not a camera index", "digits 0-9")


@pytest.mark.parametrize(
    "args",
    [
        ["monitor", "--source", ""],
        ["calibrate", "--source", ""],
        ["analyze", ""],
        ["report", "--chart", ""],
        ["report", "--html", ""],
        ["data", "export", ""],
        ["evaluate", ""],
        ["evaluate", "labels.csv", "--write-population", ""],
        ["demo", "--video", ""],
        ["demo", "--home", ""],
    ],
)
def test_an_empty_path_is_refused_not_taken_for_the_current_folder(args: list[str]) -> None:
    assert_one_error_line(run_posture(args), 2, "empty")


DATE_OPTIONS = [
    ["report", "--date"],
    ["report", "--from"],
    ["report", "--from", "2024-01-01", "--to"],
    ["data", "delete", "--yes", "--before"],
    ["pain", "list", "--from"],
    ["pain", "list", "--to"],
]


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1969-12-31", "1970-12-31"])
@pytest.mark.parametrize("args", DATE_OPTIONS, ids=[" ".join(a) for a in DATE_OPTIONS])
def test_dates_a_history_cannot_hold_are_refused_with_the_range(args: list[str], day: str) -> None:
    outcome = run_posture([*args, day])
    span = f"{FIRST_DAY} to {LAST_DAY}"
    assert_one_error_line(outcome, 2, f"'{day}' is out of range", span)


@pytest.mark.parametrize("day", [str(FIRST_DAY), str(LAST_DAY)])
@pytest.mark.parametrize("week", [[], ["--week"]])
def test_the_first_and_last_days_a_history_can_hold_report_nothing_recorded(
    day: str, week: list[str]
) -> None:
    outcome = run_posture(["report", "--date", day, *week])
    assert outcome.code == 0, outcome
    assert "No posture recorded" in outcome.out


# -- places posture cannot write ---------------------------------------------------------


def test_config_init_creates_the_folders_it_needs(tmp_path: Path) -> None:
    target = tmp_path / "not" / "yet" / "config.toml"
    outcome = run_posture_with(["config", "init"], POSTURE_CONFIG=target)
    assert outcome.code == 0, outcome
    assert target.is_file()


def test_config_init_where_a_file_is_in_the_way(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    outcome = run_posture_with(["config", "init"], POSTURE_CONFIG=blocker / "config.toml")
    assert_one_error_line(outcome, 2, f"cannot create '{blocker}'", "a file is in the way")


def test_config_init_onto_a_folder(tmp_path: Path) -> None:
    outcome = run_posture_with(["config", "init"], POSTURE_CONFIG=tmp_path)
    assert_one_error_line(outcome, 2, f"config file {tmp_path} is a folder", "POSTURE_CONFIG")


@needs_read_only_place
def test_config_init_in_a_place_that_cannot_be_written() -> None:
    assert READ_ONLY is not None
    outcome = run_posture_with(["config", "init"], POSTURE_CONFIG=READ_ONLY / "config.toml")
    assert_one_error_line(outcome, 2, f"cannot create '{READ_ONLY}'", "POSTURE_CONFIG")


def test_a_read_only_file_system_is_not_answered_with_chmod() -> None:
    error = OSError(errno.EROFS, "Read-only file system", "/media/cd/posture")
    line = refusal("/media/cd/posture", error, "set POSTURE_HOME to a folder you can write")
    assert line == (
        "cannot write '/media/cd/posture': the file system is read-only: "
        "set POSTURE_HOME to a folder you can write"
    )


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            OSError(errno.ENOSPC, "No space left on device"),
            "posture: error: the disk is full: free some space, or choose another place",
        ),
        (
            NotADirectoryError(errno.ENOTDIR, "Not a directory", "/srv/file/posture"),
            "posture: error: cannot use '/srv/file/posture': part of that path is a file, "
            "not a folder: move that file away, or choose another place",
        ),
    ],
)
def test_what_the_file_system_refused_is_said_with_the_way_out(error: OSError, line: str) -> None:
    assert describe(error) == (1, line)


def _homes(tmp_path: Path) -> dict[str, Path]:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    homes = {"file": blocker, "inside-a-file": blocker / "posture"}
    if READ_ONLY is not None:
        homes["cannot-create"] = READ_ONLY
        homes["cannot-write-into"] = READ_ONLY.parent
    return homes


WRITERS = [
    ["calibrate", "--source", str(UPRIGHT_PHOTO)],
    ["pain", "add", "--level", "3"],
]
READERS = [
    ["report"],
    ["pain", "list"],
    ["profile", "list"],
    ["profile", "show"],
    ["data", "delete", "--yes"],
]


@pytest.mark.parametrize("args", WRITERS, ids=[" ".join(a[:2]) for a in WRITERS])
def test_a_data_folder_that_cannot_be_written_is_one_line_naming_it(
    args: list[str], tmp_path: Path
) -> None:
    for kind, home in _homes(tmp_path).items():
        outcome = run_posture_with(args, POSTURE_HOME=home)
        line = assert_one_error_line(outcome, 1, str(home))
        assert "internal error" not in line, kind


@pytest.mark.parametrize("args", READERS, ids=[" ".join(a) for a in READERS])
def test_reading_commands_in_a_data_folder_that_cannot_be_written(
    args: list[str], tmp_path: Path
) -> None:
    """Reading needs no write access: they answer, or fail in one line (never exit 70)."""
    for home in _homes(tmp_path).values():
        assert_clean(run_posture_with(args, POSTURE_HOME=home))


def test_monitor_in_a_data_folder_that_cannot_be_written(tmp_path: Path) -> None:
    """It fails in one line naming the folder (or the camera, if that is tried first).

    Without a profile (none can be in such a folder) the monitor would say it learns
    one from the session, but only once it watches someone: the failure is alone.
    """
    for home in _homes(tmp_path).values():
        outcome = run_posture_with(["monitor", "--source", "99", "--quiet"], POSTURE_HOME=home)
        assert outcome.code in (1, 2), outcome
        [line] = outcome.err_lines
        assert line.startswith("posture: error: "), outcome
        assert str(home) in line or "camera 99" in line, line


def test_monitor_on_a_camera_that_does_not_exist_fails_in_one_line() -> None:
    calibrated = run_posture(["calibrate", "--source", str(UPRIGHT_PHOTO)])
    assert calibrated.code == 0, calibrated
    outcome = run_posture(["monitor", "--source", "99", "--quiet", "--no-history"])
    assert_one_error_line(outcome, 2, "cannot open camera 99")


@needs_read_only_place
@pytest.mark.parametrize(
    "args",
    [
        ["report", "--html", "OUT/report.html"],
        ["report", "--chart", "OUT/chart.png"],
        ["data", "export", "OUT/export.json"],
        ["data", "export", "OUT/export"],
    ],
)
def test_an_output_file_that_cannot_be_written_is_one_line(args: list[str]) -> None:
    assert READ_ONLY is not None
    where = str(READ_ONLY.parent)
    outcome = run_posture([arg.replace("OUT", where) for arg in args])
    line = assert_one_error_line(outcome, outcome.code, where)
    assert outcome.code in (1, 2), line


# -- helpers -------------------------------------------------------------------------------


def run_posture_with(args: list[str], **environ: Path) -> Outcome:
    """`run_posture` with environment variables set for this run only."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environ.items():
            patch.setenv(name, str(value))
        return run_posture(args)


def assert_clean(outcome: Outcome) -> None:
    """Success, or a documented failure in one line; never an internal error."""
    if outcome.code == 0:
        return
    assert outcome.code in (1, 2, 3), outcome
    assert len(outcome.err_lines) == 1 and outcome.err.startswith("posture: error: "), outcome


@pytest.mark.parametrize("option", ["--feels", "--note"])
def test_pain_words_in_bytes_that_are_not_utf8_are_refused(option: str) -> None:
    """A Latin-1 terminal's "café" reaches Python as "caf\\udce9": no database stores it."""
    outcome = run_posture(["pain", "add", "--level", "3", option, "caf\udce9"])
    assert_one_error_line(outcome, 2, f"'{option}'", "not UTF-8 text")
