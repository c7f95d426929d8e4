"""Configuration: precedence (flag > environment > file > default), durations in natural
units, every error message, and `posture config show|path|init`."""

from __future__ import annotations

import dataclasses
import math
import re
import sys
from pathlib import Path

import platformdirs
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from posture.cli.config import config
from posture.cli.exits import exit_code
from posture.config import (
    ENV_CONFIG,
    POLICY_FIELDS,
    SETTINGS,
    ConfigError,
    MonitorConfig,
    config_path,
    default_config_text,
    format_duration,
    load_config,
    parse_duration,
)
from posture.errors import PostureError
from posture.nudges import NudgePolicy


@pytest.fixture(autouse=True)
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """POSTURE_CONFIG at a temp file (not created), and none of the developer's settings."""
    path = tmp_path / "config" / "config.toml"
    monkeypatch.setenv(ENV_CONFIG, str(path))
    for setting in SETTINGS:
        monkeypatch.delenv(setting.env, raising=False)
    return path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def error_of(config_file: Path, text: str) -> str:
    write(config_file, text)
    with pytest.raises(ConfigError) as caught:
        load_config()
    return str(caught.value)


# -- defaults --------------------------------------------------------------------------------


def test_every_field_is_a_setting_and_the_policy_defaults_are_the_policys_own() -> None:
    # One setting per field, in any order: `posture config` lists SETTINGS' own order.
    assert sorted(s.field for s in SETTINGS) == sorted(
        f.name for f in dataclasses.fields(MonitorConfig)
    )
    assert MonitorConfig().policy() == NudgePolicy()
    assert set(POLICY_FIELDS) <= {s.field for s in SETTINGS}


def test_without_a_file_everything_is_a_default(config_file: Path) -> None:
    settings, sources = load_config()
    assert settings == MonitorConfig()
    assert set(sources.values()) == {"default"}
    assert not config_file.exists()


def test_the_policy_carries_the_configured_durations() -> None:
    settings = MonitorConfig(cooldown_s=60.0, break_due_s=1800.0)
    assert settings.policy() == NudgePolicy(cooldown_s=60.0, break_due_s=1800.0)


# -- precedence ------------------------------------------------------------------------------

# field: (file line, its value), (environment text, its value), (flag value, its value)
LAYERS = {
    "fps": (("fps = 3", 3.0), ("4.5", 4.5), (6.0, 6.0)),
    "notifier": (('notifier = "terminal"', "terminal"), ("None", "none"), ("desktop", "desktop")),
    "cooldown_s": (('cooldown = "10min"', 600.0), ("1h", 3600.0), ("90s", 90.0)),
    "snooze_minutes": (('snooze = "45 min"', 45.0), ("600", 10.0), (5, 5.0)),
    "break_due_s": (("break_due = 3000", 3000.0), ("1.5h", 5400.0), (1200, 1200.0)),
    "sustained_bad_s": (('sustained_bad = "1min"', 60.0), ("20 s", 20.0), ("2min", 120.0)),
}


@pytest.mark.parametrize("field", LAYERS)
@pytest.mark.parametrize(
    ("in_file", "in_env", "in_flag", "winner"),
    [
        (True, False, False, "file"),
        (True, True, False, "env"),
        (False, True, True, "flag"),
        (True, True, True, "flag"),
        (True, False, True, "flag"),
    ],
)
def test_flag_beats_environment_beats_file_beats_default(
    config_file: Path, field: str, in_file: bool, in_env: bool, in_flag: bool, winner: str
) -> None:
    (line, file_value), (env_text, env_value), (flag, flag_value) = LAYERS[field]
    setting = next(s for s in SETTINGS if s.field == field)
    write(config_file, f"[monitor]\n{line if in_file else ''}\n")
    environ = {ENV_CONFIG: str(config_file), **({setting.env: env_text} if in_env else {})}
    flags = {field: flag} if in_flag else {}
    settings, sources = load_config(flags, environ)
    expected = {"file": file_value, "env": env_value, "flag": flag_value}[winner]
    assert getattr(settings, field) == expected
    assert (
        sources[field]
        == {
            "file": f"config file {config_file}",
            "env": f"environment {setting.env}",
            "flag": f"flag {setting.flag}",
        }[winner]
    )
    others = {name: source for name, source in sources.items() if name != field}
    assert set(others.values()) == {"default"}


def test_layers_mix_field_by_field(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(config_file, '[monitor]\nfps = 1\ncooldown = "2min"\nbreak_due = "30min"\n')
    monkeypatch.setenv("POSTURE_COOLDOWN", "3min")
    settings, sources = load_config({"fps": 5.0, "notifier": None})
    assert (settings.fps, settings.cooldown_s, settings.break_due_s) == (5.0, 180.0, 1800.0)
    assert settings.notifier == "auto"
    assert sources == {
        "fps": "flag --fps",
        "notifier": "default",
        "snooze_minutes": "default",
        "sustained_bad_s": "default",
        "good_to_end_s": "default",
        "cooldown_s": "environment POSTURE_COOLDOWN",
        "away_after_s": "default",
        "break_min_s": "default",
        "break_due_s": f"config file {config_file}",
        "break_repeat_s": "default",
    }


def test_an_empty_environment_variable_counts_as_unset(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(config_file, "[monitor]\nfps = 3\n")
    monkeypatch.setenv("POSTURE_FPS", " ")
    settings, sources = load_config()
    assert settings.fps == 3.0 and sources["fps"] == f"config file {config_file}"


def test_flags_take_numbers_in_the_fields_unit_or_strings_with_units() -> None:
    settings, _ = load_config({"snooze_minutes": 10, "cooldown_s": "5min", "away_after_s": 20})
    assert (settings.snooze_minutes, settings.cooldown_s, settings.away_after_s) == (
        10.0,
        300.0,
        20.0,
    )


def test_a_flag_for_an_unknown_field_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown field 'cooldown'"):
        load_config({"cooldown": 5})


def test_posture_config_points_at_the_file(tmp_path: Path) -> None:
    elsewhere = write(tmp_path / "mine.toml", "[monitor]\nbreak_repeat = '20min'\n")
    settings, sources = load_config(environ={ENV_CONFIG: str(elsewhere)})
    assert settings.break_repeat_s == 1200.0
    assert sources["break_repeat_s"] == f"config file {elsewhere}"


def test_the_default_file_is_in_the_user_config_directory() -> None:
    expected = Path(platformdirs.user_config_dir("posture", appauthor=False)) / "config.toml"
    assert config_path({}) == expected
    assert config_path({ENV_CONFIG: ""}) == expected
    assert config_path({ENV_CONFIG: "~/posture.toml"}) == Path.home() / "posture.toml"


def test_an_empty_file_or_section_is_all_defaults(config_file: Path) -> None:
    for text in ("", "# nothing yet\n", "[monitor]\n"):
        write(config_file, text)
        assert load_config()[0] == MonitorConfig()


# -- durations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30", 30.0),
        ("30s", 30.0),
        ("90 s", 90.0),
        ("1.5min", 90.0),
        ("5min", 300.0),
        ("5 MIN", 300.0),
        ("5m", 300.0),
        ("2 minutes", 120.0),
        ("1h", 3600.0),
        ("1 hour", 3600.0),
        (".5h", 1800.0),
        ("1h30min", 5400.0),
        ("1h 30min 15s", 5415.0),
        (" 45 sec ", 45.0),
        ("0", 0.0),
    ],
)
def test_durations_in_natural_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "is empty"),
        ("soon", "is not a duration"),
        ("-5s", "is negative"),
        ("1h30", "has a number without a unit"),
        ("5 parsecs", "has an unknown unit 'parsecs': use s, min or h"),
        ("1e999h", "is too long"),
        ("5min!", "is not a duration"),
    ],
)
def test_what_is_not_a_duration(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=re.escape(complaint)):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0s"),
        (30.0, "30s"),
        (90.0, "90s"),
        (300.0, "5min"),
        (2700.0, "45min"),
        (3600.0, "1h"),
        (5400.0, "90min"),
        (7200.0, "2h"),
        (0.25, "0.25s"),
        (12.5, "12.5s"),
    ],
)
def test_durations_are_shown_in_the_largest_whole_unit(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False))
def test_a_shown_duration_reads_back_exactly(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(
    st.integers(min_value=0, max_value=10**6),
    st.sampled_from([("s", 1), ("sec", 1), ("min", 60), ("minutes", 60), ("h", 3600)]),
    st.sampled_from(["", " ", "  "]),
    st.booleans(),
)
def test_a_count_and_a_unit_read_as_count_times_the_unit(
    count: int, unit: tuple[str, int], space: str, upper: bool
) -> None:
    name, size = unit
    text = f"{count}{space}{name.upper() if upper else name}"
    assert parse_duration(text) == count * size


# -- errors: the file ------------------------------------------------------------------------


def test_bad_toml_names_the_file_and_the_line(config_file: Path) -> None:
    message = error_of(config_file, "[monitor]\nfps = \n")
    assert message.startswith(f"config file {config_file} is not valid TOML (")
    assert "line 2" in message
    assert message.endswith("): fix that line, or delete the file to use the defaults")


def test_a_file_that_is_not_utf8(config_file: Path) -> None:
    config_file.parent.mkdir(parents=True)
    config_file.write_bytes(b"[monitor]\nnotifier = '\xff'\n")
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert str(caught.value) == f"config file {config_file} is not UTF-8 text: save it as UTF-8"


def test_a_folder_instead_of_a_file(config_file: Path) -> None:
    config_file.mkdir(parents=True)
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert str(caught.value) == (
        f"config file {config_file} is a folder: point POSTURE_CONFIG at a file"
    )


def test_an_unreadable_file(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(config_file, "[monitor]\n")

    def refuse(self: Path) -> bytes:  # chmod 000 would not stop root
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert str(caught.value) == (
        f"config file {config_file} cannot be read (Permission denied): fix its permissions, "
        "or point POSTURE_CONFIG at another file"
    )


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        (
            "[monitor]\ncooldwn = '5min'\n",
            "unknown setting 'cooldwn' in [monitor]: did you mean 'cooldown'? known settings: "
            "fps, notifier, snooze, sustained_bad, good_to_end, cooldown, away_after, "
            "break_min, break_due, break_repeat",
        ),
        (
            "[monitor]\ncooldown_s = 300\n",
            "unknown setting 'cooldown_s' in [monitor]: did you mean 'cooldown'? known",
        ),
        ("[monitor]\ncolour = 'red'\n", "unknown setting 'colour' in [monitor]: known settings"),
        ("fps = 2\n", "fps is outside [monitor]: put it on a line below [monitor]"),
        (
            "[monitr]\nfps = 2\n",
            "unknown section [monitr]: did you mean 'monitor'? the settings go under [monitor]",
        ),
        (
            "[display]\n",
            "unknown section [display]: the settings go under [monitor]",
        ),
        (
            "monitor = 3\n",
            "monitor = 3 is not a section: write [monitor] on a line of its own, "
            "with the settings below it",
        ),
    ],
)
def test_unknown_names_in_the_file(config_file: Path, text: str, complaint: str) -> None:
    message = error_of(config_file, text)
    assert message.startswith(f"config file {config_file}: {complaint}")


DURATION_FIX = 'write a number of seconds or a string such as "30s", "5min" or "1.5h"'
FPS_FIX = "write a number of frames per second from 0.1 to 30, e.g. 2"
NOTIFIER_FIX = "choose one of auto, desktop, terminal, none"


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ('fps = "fast"', f'fps = "fast" is not a number: {FPS_FIX}'),
        ("fps = 0", f"fps = 0 is out of range: {FPS_FIX}"),
        ("fps = 60", f"fps = 60 is out of range: {FPS_FIX}"),
        ("fps = true", f"fps = true is not a number: {FPS_FIX}"),
        ("fps = nan", f"fps = nan is not finite: {FPS_FIX}"),
        ('cooldown = "5 mins please"', f"is not a duration: {DURATION_FIX}"),
        ("cooldown = -1", f"cooldown = -1 is negative: {DURATION_FIX}, 0 or more"),
        ('cooldown = "-1min"', f'cooldown = "-1min" is negative: {DURATION_FIX}, 0 or more'),
        ("cooldown = inf", f"cooldown = inf is not finite: {DURATION_FIX}, 0 or more"),
        ("cooldown = [5]", f"cooldown = [5] is not a duration: {DURATION_FIX}, 0 or more"),
        ("cooldown = 00:05:00", f"is not a duration: {DURATION_FIX}, 0 or more"),
        ('snooze = "0s"', f'snooze = "0s" is zero: {DURATION_FIX}, longer than 0'),
        (
            'notifier = "desktp"',
            f"notifier = \"desktp\" is not a notifier: did you mean 'desktop'? {NOTIFIER_FIX}",
        ),
        ("notifier = 3", f"notifier = 3 is not a notifier: {NOTIFIER_FIX}"),
    ],
)
def test_bad_values_in_the_file(config_file: Path, line: str, complaint: str) -> None:
    message = error_of(config_file, f"[monitor]\n{line}\n")
    assert message.startswith(f"config file {config_file}: [monitor] ")
    assert complaint in message


# -- errors: environment and flags -----------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("POSTURE_FPS", "fast", f'environment POSTURE_FPS="fast" is not a number: {FPS_FIX}'),
        ("POSTURE_FPS", "0.01", f'environment POSTURE_FPS="0.01" is out of range: {FPS_FIX}'),
        (
            "POSTURE_COOLDOWN",
            "5 fortnights",
            "environment POSTURE_COOLDOWN=\"5 fortnights\" has an unknown unit 'fortnights': "
            "use s, min or h",
        ),
        (
            "POSTURE_NOTIFIER",
            "popup",
            f'environment POSTURE_NOTIFIER="popup" is not a notifier: {NOTIFIER_FIX}',
        ),
        (
            "POSTURE_BREAK_DUE",
            "-45min",
            f'environment POSTURE_BREAK_DUE="-45min" is negative: {DURATION_FIX}, 0 or more',
        ),
    ],
)
def test_bad_environment_values(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"fps": 0.0}, f"flag --fps 0.0 is out of range: {FPS_FIX}"),
        ({"cooldown_s": "later"}, f'flag --cooldown "later" is not a duration: {DURATION_FIX}'),
        ({"snooze_minutes": 0}, f"flag --snooze 0 is zero: {DURATION_FIX}, longer than 0"),
        ({"notifier": "Desktops"}, 'flag --notifier "Desktops" is not a notifier: did you'),
    ],
)
def test_bad_flag_values(flags: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(flags)
    assert str(caught.value).startswith(message)


def test_a_break_shorter_than_away_names_both_sources(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(config_file, '[monitor]\nbreak_min = "1min"\n')
    monkeypatch.setenv("POSTURE_AWAY_AFTER", "2min")
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert str(caught.value) == (
        "break_min (1min) must be at least away_after (2min): an absence counts as a break "
        "only once you are away; raise break_min or lower away_after "
        f"(break_min from config file {config_file}, away_after from environment "
        "POSTURE_AWAY_AFTER)"
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"fps": 0.0}, f"fps = 0.0 is out of range: {FPS_FIX}"),
        ({"notifier": "popup"}, f"notifier = 'popup' is not a notifier: {NOTIFIER_FIX}"),
        ({"cooldown_s": math.nan}, f"cooldown_s = nan is not finite: {DURATION_FIX}"),
        ({"break_due_s": "45min"}, f"break_due_s = '45min' is not a duration: {DURATION_FIX}"),
        ({"break_min_s": 5.0}, "break_min (5s) must be at least away_after (10s)"),
    ],
)
def test_a_monitor_config_is_validated(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        MonitorConfig(**fields)  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)


def test_config_errors_are_posture_errors_with_exit_code_2() -> None:
    error = ConfigError("fps = 0 is out of range")
    assert isinstance(error, PostureError) and exit_code(error) == 2


# -- the command line ------------------------------------------------------------------------


def run(*args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(config, list(args))
    return result.exit_code, result.output, result.exception


def table_rows(output: str) -> dict[str, list[str]]:
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if len(cells) == 3:
            rows[cells[0]] = cells[1:]
    return rows


def test_show_prints_defaults_and_that_there_is_no_file(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    code, output, _ = run("show")
    assert code == 0
    assert f"Config file: {config_file} (not found: defaults apply)" in output
    rows = table_rows(output)
    assert rows["fps"] == ["2", "default"]
    assert rows["notifier"] == ["auto", "default"]
    assert rows["snooze"] == ["30min", "default"]
    assert rows["sustained_bad"] == ["30s", "default"]
    assert rows["cooldown"] == ["5min", "default"]
    assert rows["break_due"] == ["45min", "default"]
    assert list(rows) == [s.key for s in SETTINGS]
    assert "Reminders: auto -> terminal (" in output


def test_show_says_where_each_value_came_from(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(config_file, '[monitor]\nfps = 1.5\nnotifier = "none"\ncooldown = "10min"\n')
    monkeypatch.setenv("POSTURE_COOLDOWN", "1h")
    code, output, _ = run("show")
    assert code == 0
    assert f"Config file: {config_file} (exists)" in output
    rows = table_rows(output)
    assert rows["fps"] == ["1.5", "config file"]
    assert rows["notifier"] == ["none", "config file"]
    assert rows["cooldown"] == ["1h", "environment POSTURE_COOLDOWN"]
    assert rows["away_after"] == ["10s", "default"]
    assert "Reminders: none" in output


def test_show_with_a_broken_file_raises_the_one_line_error(config_file: Path) -> None:
    write(config_file, "[monitor]\nfsp = 2\n")
    code, _, error = run("show")
    assert code == 1 and isinstance(error, ConfigError)
    assert "unknown setting 'fsp' in [monitor]: did you mean 'fps'?" in str(error)


def test_path_prints_the_file(config_file: Path) -> None:
    assert run("path")[:2] == (0, f"{config_file}\n")


def test_init_writes_a_commented_file_of_defaults_and_never_overwrites(config_file: Path) -> None:
    code, output, _ = run("init")
    assert code == 0 and f"Wrote {config_file}" in output
    text = config_file.read_text(encoding="utf-8")
    assert text == default_config_text()
    assert load_config()[0] == MonitorConfig()  # all commented out: changes nothing
    config_file.write_text(text + "# my edit\n", encoding="utf-8")
    code, _, error = run("init")
    assert isinstance(error, ConfigError) and str(error) == (
        f"config file {config_file} already exists: edit it, or delete it to start afresh"
    )
    assert config_file.read_text(encoding="utf-8").endswith("# my edit\n")


def test_every_line_of_the_starting_file_uncommented_gives_the_defaults(
    config_file: Path,
) -> None:
    keys = tuple(s.key for s in SETTINGS)
    uncommented = [
        line.removeprefix("# ") if line.removeprefix("# ").startswith(keys) else line
        for line in default_config_text().splitlines()
    ]
    write(config_file, "\n".join(uncommented))
    settings, sources = load_config()
    assert settings == MonitorConfig()
    assert set(sources.values()) == {f"config file {config_file}"}


def test_show_warns_when_desktop_is_chosen_but_impossible(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POSTURE_NOTIFIER", "desktop")
    monkeypatch.setitem(sys.modules, "desktop_notifier", None)  # as if not installed
    code, output, _ = run("show")
    assert code == 0
    assert table_rows(output)["notifier"] == ["desktop", "environment POSTURE_NOTIFIER"]
    assert (
        "Reminders: desktop, but not possible here: the desktop-notifier library is not "
        'installed (pip install "posture[notify]")\n'
    ) in output
