"""The monitor's settings, and where each one came from.

Four layers, the first that sets a value wins (STYLE 11):

1. a command-line flag (`load_config(flags=...)`: only the flags the user gave);
2. an environment variable, one per setting: `POSTURE_FPS`, `POSTURE_COOLDOWN`, ...;
3. the user's TOML file, `config.toml` in the platform's user config directory
   (`~/.config/posture/config.toml` on Linux), or wherever `POSTURE_CONFIG` points;
4. the defaults of `MonitorConfig`, each explained where it is defined.

In the file and the environment, durations are written in natural units: a number
of seconds, or a string such as "30s", "90 s", "1.5min", "5min", "1h" or "1h30min".

    [monitor]
    fps = 2
    sustained_bad = "30s"
    cooldown = "5min"
    notifier = "desktop"

A missing file is fine (defaults). A bad file, an unknown setting or a bad value is
a `ConfigError` naming the file or variable, the setting, the bad value and the fix.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import re
import sys
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import platformdirs

from posture.errors import ConfigError, refusal
from posture.notify import NOTIFIER_CHOICES
from posture.nudges import NudgePolicy

if sys.version_info >= (3, 11):
    import tomllib
else:  # the standard library has no TOML reader before 3.11
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

ENV_CONFIG = "POSTURE_CONFIG"
SECTION = "monitor"
# Frames analysed per second, however it is set (flag, environment, file, or
# `MonitorSettings` in code): the one home of these limits. At least one frame every
# 10 s, so a change is still seen within the smoother's window of a few frames; at
# most 30, a webcam's own rate (a faster request would analyse the same frame twice).
MIN_FPS, MAX_FPS = 0.1, 30.0

_POLICY_DEFAULTS = NudgePolicy()
POLICY_FIELDS = tuple(field.name for field in dataclasses.fields(NudgePolicy))


@dataclass(frozen=True)
class MonitorConfig:
    """Everything `posture monitor` can be told, in the units its field names say."""

    # A posture does not change 30 times a second: 2 samples/s catch a slouch within
    # seconds at a fraction of the cost of analysing every frame.
    fps: float = 2.0
    # "auto": desktop notifications inside a desktop session, the terminal elsewhere
    # (`posture.notify.make_notifier` decides, in one place).
    notifier: str = "auto"
    # How long one keypress pauses nudges: a meeting, a call, a stretch of focused work.
    snooze_minutes: float = 30.0
    # The nudge policy: the defaults, and why, are in `posture.nudges`.
    sustained_bad_s: float = _POLICY_DEFAULTS.sustained_bad_s
    good_to_end_s: float = _POLICY_DEFAULTS.good_to_end_s
    cooldown_s: float = _POLICY_DEFAULTS.cooldown_s
    away_after_s: float = _POLICY_DEFAULTS.away_after_s
    break_min_s: float = _POLICY_DEFAULTS.break_min_s
    break_due_s: float = _POLICY_DEFAULTS.break_due_s
    break_repeat_s: float = _POLICY_DEFAULTS.break_repeat_s

    def __post_init__(self) -> None:
        for setting in SETTINGS:
            value = getattr(self, setting.field)
            problem = setting.problem(value)
            if problem is not None:
                raise ConfigError(f"{setting.field} = {value!r} {problem}")
        problem = _break_problem(self.break_min_s, self.away_after_s)
        if problem is not None:
            raise ConfigError(problem)

    def policy(self) -> NudgePolicy:
        """The nudge policy these settings describe."""
        return NudgePolicy(**{name: getattr(self, name) for name in POLICY_FIELDS})


def _break_problem(break_min_s: float, away_after_s: float) -> str | None:
    if break_min_s >= away_after_s:
        return None
    return (
        f"break_min ({format_duration(break_min_s)}) must be at least away_after "
        f"({format_duration(away_after_s)}): an absence counts as a break only once you "
        "are away; raise break_min or lower away_after"
    )


# -- durations ------------------------------------------------------------------------------

SECONDS_PER_UNIT = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600.0),
}
_TERM = re.compile(
    r"\s*(?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)\s*(?P<unit>[a-z]+)?\s*", re.IGNORECASE
)
DURATION_HINT = 'write a number of seconds or a string such as "30s", "5min" or "1.5h"'


def parse_duration(text: str) -> float:
    """Seconds in "30", "30s", "90 s", "1.5min", "5 minutes", "1h" or "1h30min".

    A bare number is seconds. Raises ValueError (with the fix) for anything else.
    """
    if text.strip().startswith("-"):
        raise ValueError(f"is negative: {DURATION_HINT}, 0 or more")
    total, terms, position = 0.0, [], 0
    while position < len(text):
        match = _TERM.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(f"is not a duration: {DURATION_HINT}")
        terms.append(match)
        position = match.end()
    if not terms:
        raise ValueError(f"is empty: {DURATION_HINT}")
    for match in terms:
        unit = (match["unit"] or "").lower()
        if not unit and len(terms) > 1:
            raise ValueError(f"has a number without a unit: {DURATION_HINT}")
        if unit and unit not in SECONDS_PER_UNIT:
            raise ValueError(f"has an unknown unit {unit!r}: use s, min or h")
        total += float(match["number"]) * SECONDS_PER_UNIT.get(unit, 1.0)
    if not math.isfinite(total):
        raise ValueError(f"is too long: {DURATION_HINT}")
    return total


def format_duration(seconds: float) -> str:
    """The shortest natural spelling that `parse_duration` reads back exactly."""
    seconds = float(seconds)
    for unit, size in (("h", 3600.0), ("min", 60.0)):
        count = seconds / size
        if seconds >= size and count.is_integer() and count * size == seconds:
            return f"{_number(count)}{unit}"
    return f"{_number(seconds)}s"


def _number(value: float) -> str:
    """2.0 as "2", 0.25 as "0.25": the shortest text that reads back as the same float."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


# -- the settings ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One setting: its field, its name in the file, environment and flags, and its checks."""

    field: str  # the MonitorConfig attribute
    key: str  # its name in [monitor]; POSTURE_<KEY> and --<key> derive from it
    kind: Literal["duration", "rate", "choice"]
    help: str
    seconds_per_unit: float = 1.0  # durations: the field's unit (60 for minutes)
    positive: bool = False  # durations: 0 is not allowed

    @property
    def env(self) -> str:
        """The environment variable that sets it: POSTURE_<KEY>."""
        return "POSTURE_" + self.key.upper()

    @property
    def flag(self) -> str:
        """The command-line flag that sets it, as error messages name it."""
        return "--" + self.key.replace("_", "-")

    def parse(self, raw: object) -> object:
        """The field's value from a TOML value, an environment string or a flag value.

        Numbers are taken as seconds for durations; `from_flag` handles flag numbers.
        Raises ValueError whose text completes "<where> <value> ...".
        """
        if self.kind == "choice":
            return _parse_choice(raw)
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise ValueError(f"is not a {_KIND_NOUN[self.kind]}: {self.fix()}")
        if self.kind == "rate":
            return _parse_rate(raw)
        seconds = parse_duration(raw) if isinstance(raw, str) else float(raw)
        return seconds / self.seconds_per_unit

    def from_flag(self, raw: object) -> object:
        """Flags give numbers in the field's own unit (minutes for snooze_minutes)."""
        if self.kind == "duration" and isinstance(raw, int | float) and not isinstance(raw, bool):
            return self.parse(raw * self.seconds_per_unit)
        return self.parse(raw)

    def problem(self, value: object) -> str | None:
        """What is wrong with a field value, with the fix; None if it is fine."""
        if self.kind == "choice":
            return None if value in NOTIFIER_CHOICES else f"is not a notifier: {self.fix()}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"is not a {_KIND_NOUN[self.kind]}: {self.fix()}"
        if not math.isfinite(value):
            return f"is not finite: {self.fix()}"
        if self.kind == "rate" and not MIN_FPS <= value <= MAX_FPS:
            return f"is out of range: {self.fix()}"
        if self.kind == "duration" and value < 0:
            return f"is negative: {self.fix()}"
        if self.kind == "duration" and self.positive and value == 0:
            return f"is zero: {self.fix()}"
        return None

    def fix(self) -> str:
        """What to write instead of a bad value, for the end of an error message."""
        if self.kind == "choice":
            return "choose one of " + ", ".join(NOTIFIER_CHOICES)
        if self.kind == "rate":
            return f"write a number of frames per second from {MIN_FPS:g} to {MAX_FPS:g}, e.g. 2"
        least = "longer than 0" if self.positive else "0 or more"
        return f"{DURATION_HINT}, {least}"

    def display(self, value: object) -> str:
        """The value as a person writes it: "5min", "2", "auto"."""
        if self.kind == "duration" and isinstance(value, int | float):
            return format_duration(value * self.seconds_per_unit)
        if self.kind == "rate" and isinstance(value, int | float):
            return _number(float(value))
        return str(value)

    def toml(self, value: object) -> str:
        """The value as a TOML right-hand side: durations as strings, the rate as a number."""
        return self.display(value) if self.kind == "rate" else json.dumps(self.display(value))


_KIND_NOUN = {"duration": "duration", "rate": "number", "choice": "notifier"}


def _parse_choice(raw: object) -> str:
    choice = raw.strip().lower() if isinstance(raw, str) else None
    if choice in NOTIFIER_CHOICES:
        return choice
    guess = difflib.get_close_matches(str(choice or raw), NOTIFIER_CHOICES, n=1)
    hint = f"did you mean {guess[0]!r}? " if guess else ""
    raise ValueError(f"is not a notifier: {hint}choose one of {', '.join(NOTIFIER_CHOICES)}")


def _parse_rate(raw: float | str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"is not a number: {SETTINGS_BY_NAME['fps'].fix()}") from None


SETTINGS = (
    Setting("fps", "fps", "rate", "Frames analysed per second."),
    Setting(
        "notifier",
        "notifier",
        "choice",
        "Where reminders go: auto (desktop notifications in a desktop session, else the "
        "terminal), desktop, terminal or none.",
    ),
    Setting(
        "snooze_minutes",
        "snooze",
        "duration",
        "How long a keypress (Enter) in the monitor pauses nudges.",
        seconds_per_unit=60.0,
        positive=True,
    ),
    Setting(
        "sustained_bad_s", "sustained_bad", "duration", "Bad posture this long brings a nudge."
    ),
    Setting(
        "good_to_end_s",
        "good_to_end",
        "duration",
        "Good posture held this long ends a bad-posture episode.",
    ),
    Setting("cooldown_s", "cooldown", "duration", "Least time between two nudges of a kind."),
    Setting(
        "away_after_s", "away_after", "duration", "Nobody in view this long is away: no nudges."
    ),
    Setting(
        "break_min_s",
        "break_min",
        "duration",
        "An absence this long counts as a movement break (at least away_after).",
    ),
    Setting("break_due_s", "break_due", "duration", "Sitting this long brings a break nudge."),
    Setting(
        "break_repeat_s", "break_repeat", "duration", "Then it repeats this often until a break."
    ),
)
SETTINGS_BY_NAME = {name: s for s in SETTINGS for name in (s.field, s.key)}
SETTINGS_BY_FIELD = {s.field: s for s in SETTINGS}
KEYS = tuple(setting.key for setting in SETTINGS)

# -- the file --------------------------------------------------------------------------------


def config_path(environ: Mapping[str, str] = os.environ) -> Path:
    """The config file: `POSTURE_CONFIG`, else config.toml in the user config directory."""
    override = environ.get(ENV_CONFIG)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_config_dir("posture", appauthor=False)) / "config.toml"


def _read_toml(path: Path) -> dict[str, Any] | None:
    """The parsed file, or None when there is none."""
    where = f"config file {path}"
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise _a_folder(path) from None
    except OSError as error:
        raise ConfigError(
            f"{where} cannot be read ({error.strerror}): fix its permissions, "
            f"or point {ENV_CONFIG} at another file"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where} is not UTF-8 text: save it as UTF-8") from None
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(
            f"{where} is not valid TOML ({error}): fix that line, "
            "or delete the file to use the defaults"
        ) from None
    return data


def _a_folder(path: Path) -> ConfigError:
    return ConfigError(f"config file {path} is a folder: point {ENV_CONFIG} at a file")


def _did_you_mean(name: str, known: tuple[str, ...]) -> str:
    # Field names (cooldown_s) are a likely slip for keys (cooldown): match them too.
    setting = SETTINGS_BY_NAME.get(name)
    guesses = [setting.key] if setting else difflib.get_close_matches(name, known, n=1)
    return f"did you mean {guesses[0]!r}? " if guesses else ""


def _file_section(data: dict[str, Any], where: str) -> dict[str, Any]:
    for name in data:
        if name == SECTION:
            continue
        if name in SETTINGS_BY_NAME:
            raise ConfigError(
                f"{where}: {name} is outside [{SECTION}]: put it on a line below [{SECTION}]"
            )
        raise ConfigError(
            f"{where}: unknown section [{name}]: {_did_you_mean(name, (SECTION,))}"
            f"the settings go under [{SECTION}]"
        )
    section = data.get(SECTION, {})
    if not isinstance(section, dict):
        raise ConfigError(
            f"{where}: {SECTION} = {_toml_repr(section)} is not a section: "
            f"write [{SECTION}] on a line of its own, with the settings below it"
        )
    return section


def _toml_repr(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)


# -- the layers ------------------------------------------------------------------------------

# field -> (value, where it came from). Values are checked by `Setting.problem` as they
# enter a layer, so they are typed loosely here.
Layer = dict[str, tuple[Any, str]]


def _from_file(path: Path) -> Layer:
    data = _read_toml(path)
    if data is None:
        return {}
    where = f"config file {path}"
    layer: Layer = {}
    for key, raw in _file_section(data, where).items():
        setting = SETTINGS_BY_NAME.get(key)
        if setting is None or key != setting.key:
            raise ConfigError(
                f"{where}: unknown setting {key!r} in [{SECTION}]: {_did_you_mean(key, KEYS)}"
                f"known settings: {', '.join(KEYS)}"
            )
        shown = f"{where}: [{SECTION}] {key} = {_toml_repr(raw)}"
        layer[setting.field] = (_checked(setting, setting.parse, raw, shown), where)
    return layer


def _from_environ(environ: Mapping[str, str]) -> Layer:
    layer: Layer = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env, "")
        # Empty counts as unset, so `POSTURE_FPS= posture monitor` undoes an export.
        if not raw.strip():
            continue
        shown = f"environment {setting.env}={json.dumps(raw)}"
        value = _checked(setting, setting.parse, raw, shown)
        layer[setting.field] = (value, f"environment {setting.env}")
    return layer


def _from_flags(flags: Mapping[str, object]) -> Layer:
    layer: Layer = {}
    for name, raw in flags.items():
        if raw is None:  # click's value for an option the user did not give
            continue
        setting = SETTINGS_BY_FIELD.get(name)
        if setting is None:  # a programming error in the CLI, not the user's
            raise ValueError(f"load_config got a flag for unknown field {name!r}")
        shown = f"flag {setting.flag} {_toml_repr(raw)}"
        value = _checked(setting, setting.from_flag, raw, shown)
        layer[setting.field] = (value, f"flag {setting.flag}")
    return layer


def _checked(
    setting: Setting, parse: Callable[[object], object], raw: object, shown: str
) -> object:
    """Parse and check one raw value. `shown` names where it came from and what it was,
    so that the error reads e.g. `environment POSTURE_FPS="0" is out of range: ...`."""
    try:
        value = parse(raw)
    except ValueError as error:
        raise ConfigError(f"{shown} {error}") from None
    problem = setting.problem(value)
    if problem is not None:
        raise ConfigError(f"{shown} {problem}")
    return value


def load_config(
    flags: Mapping[str, object] | None = None, environ: Mapping[str, str] = os.environ
) -> tuple[MonitorConfig, dict[str, str]]:
    """The effective settings and, per field, where each came from.

    `flags` maps MonitorConfig field names to the values of the flags the user gave
    (None values are skipped): numbers in the field's unit (`cooldown_s`: seconds,
    `snooze_minutes`: minutes), or strings as in the environment ("5min").
    Sources read "default", "config file <path>", "environment POSTURE_X" or "flag --x".
    """
    values: dict[str, Any] = {}
    sources = {setting.field: "default" for setting in SETTINGS}
    layers = (_from_file(config_path(environ)), _from_environ(environ), _from_flags(flags or {}))
    for layer in layers:  # lowest precedence first: later layers overwrite
        for field, (value, source) in layer.items():
            values[field] = value
            sources[field] = source
    defaults = MonitorConfig()
    problem = _break_problem(
        values.get("break_min_s", defaults.break_min_s),
        values.get("away_after_s", defaults.away_after_s),
    )
    if problem is not None:
        raise ConfigError(
            f"{problem} (break_min from {sources['break_min_s']}, "
            f"away_after from {sources['away_after_s']})"
        )
    return MonitorConfig(**values), sources


# -- a starting file -------------------------------------------------------------------------


def default_config_text() -> str:
    """A config.toml with every setting commented out at its default, and what it does.

    Commented out, so that the file changes nothing until the user edits a line, and a
    default improved by a later version still reaches users who never touched it.
    """
    defaults = MonitorConfig()
    lines = [
        "# posture configuration. Uncomment a line to change a setting.",
        "# Precedence: command-line flag > environment variable (POSTURE_<NAME>) > this file"
        " > default.",
        '# Durations: a number of seconds, or a string such as "30s", "5min", "1.5h".',
        "# `posture config show` prints the values in effect and where each came from.",
        "",
        f"[{SECTION}]",
    ]
    for setting in SETTINGS:
        lines += [f"# {line}" for line in textwrap.wrap(setting.help, 86)]
        value = getattr(defaults, setting.field)
        lines += [f"# {setting.key} = {setting.toml(value)}", ""]
    return "\n".join(lines)


def write_default_config(path: Path) -> None:
    """Write `default_config_text()` to a new file; never overwrite one.

    A place that cannot hold the file (a read-only folder, a file where a folder
    should be) is a `ConfigError` that says why and points at `POSTURE_CONFIG`.
    """
    elsewhere = f"point {ENV_CONFIG} at a file in a folder you can write"
    if path.is_dir():
        raise _a_folder(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(refusal(path.parent, error, elsewhere, action="create")) from None
    try:
        with path.open("x", encoding="utf-8") as file:
            file.write(default_config_text())
    except FileExistsError:
        raise ConfigError(
            f"config file {path} already exists: edit it, or delete it to start afresh"
        ) from None
    except OSError as error:
        raise ConfigError(refusal(path, error, elsewhere)) from None
