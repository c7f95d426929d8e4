"""Start at login, with each platform's own mechanism, naming the exact command it runs.

- Linux and other freedesktop systems: an XDG autostart entry,
  `$XDG_CONFIG_HOME/autostart/posture.desktop` (`~/.config/autostart`). Every desktop
  (GNOME, KDE, Xfce, ...) starts these in the graphical session, with its display and
  D-Bus, which the tray and the screen-lock watcher need; on systemd desktops
  `systemd-xdg-autostart-generator` turns it into a unit ordered after the session.
  A plain systemd user unit would start outside that session unless each desktop
  reached `graphical-session.target`, which not all do.
- macOS: a LaunchAgent, `~/Library/LaunchAgents/local.posture.plist`, loaded at login
  in the GUI session only (`LimitLoadToSessionType = Aqua`).
- Windows: a value `posture` under `HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run`.

The command is the absolute path of the installed `posture` script (or this Python
with `-m posture`) and its arguments, so a login does not depend on PATH:

    entry = autostart_for().enable(posture_command(["tray"]))
    print(entry.location, entry.command)
"""

from __future__ import annotations

import importlib
import os
import plistlib
import shlex
import subprocess
import sys
import sysconfig
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from posture.errors import AutostartError

LAUNCH_AGENT_LABEL = "local.posture"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE = "posture"
DESKTOP_FILE = "posture.desktop"


@dataclass(frozen=True)
class Entry:
    """What starts posture at login: the mechanism, where it lives, the command it runs."""

    mechanism: str
    location: str
    command: tuple[str, ...]
    # False when the desktop's own settings switched the entry off (Hidden=true, ...).
    enabled: bool = True

    @property
    def program(self) -> str:
        """The program the entry runs (its first word); "" when it runs nothing."""
        return self.command[0] if self.command else ""

    def program_exists(self) -> bool:
        """Whether the program is an absolute path to an executable file: False once
        posture was moved or uninstalled, and the entry would fail at login."""
        path = Path(self.program)
        return path.is_absolute() and path.is_file() and os.access(path, os.X_OK)


class Autostart(Protocol):
    """One platform's mechanism. `disable` and `status` return None when there is no entry."""

    @property
    def mechanism(self) -> str:
        """What kind of entry it is, in words for messages ("LaunchAgent")."""

    @property
    def location(self) -> str:
        """Where the entry lives (a file or a registry value), whether it exists or not."""

    def enable(self, command: Sequence[str]) -> Entry:
        """Writes the entry that runs `command` at login, replacing any; raises
        `AutostartError` when it cannot be written."""

    def disable(self) -> Entry | None:
        """Removes the entry and returns what it was."""

    def status(self) -> Entry | None:
        """The entry as it is now, read back from where it lives."""


# -- the command ------------------------------------------------------------------------------


def posture_script(
    argv0: str | None = None, scripts_dir: str | None = None, windows: bool | None = None
) -> Path | None:
    """The installed `posture` script, as an absolute path: the one running, else the one
    installed beside this Python; None when neither exists (run from a source tree)."""
    windows = sys.platform == "win32" if windows is None else windows
    name = "posture.exe" if windows else "posture"
    running = Path(sys.argv[0] if argv0 is None else argv0)
    scripts = Path(sysconfig.get_path("scripts") if scripts_dir is None else scripts_dir)
    for candidate in (running, scripts / name):
        if candidate.name == name and candidate.is_file():
            return Path(os.path.abspath(candidate))
    return None


def posture_command(args: Sequence[str], script: Path | None = None) -> list[str]:
    """The exact command to start `posture ARGS` at login."""
    script = posture_script() if script is None else script
    if script is not None:
        return [str(script), *args]
    return [os.path.abspath(sys.executable), "-m", "posture", *args]


def shell_words(command: Sequence[str]) -> str:
    """The command as a person would type it in a POSIX shell."""
    return shlex.join(command)


# -- Linux: an XDG autostart entry ------------------------------------------------------------

# Characters that make the Desktop Entry spec require an argument to be quoted.
_EXEC_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")
# Inside double quotes these four take a backslash.
_EXEC_QUOTED_ESCAPES = set('"`$\\')


def desktop_exec(command: Sequence[str]) -> str:
    """An `Exec=` value that runs exactly `command` (Desktop Entry spec, "The Exec key").

    Arguments with reserved characters are double-quoted with `"`, backquote, `$`
    and backslash escaped; `%` is doubled (field codes); then the value as a whole
    is a string, whose own escaping doubles every backslash once more.
    """
    words = []
    for argument in command:
        if any(ord(character) < 0x20 or character == "\x7f" for character in argument):
            raise AutostartError(f"cannot start {argument!r} at login: it has a control character")
        if argument and not set(argument) & _EXEC_RESERVED:
            word = argument
        else:
            escaped = "".join(f"\\{c}" if c in _EXEC_QUOTED_ESCAPES else c for c in argument)
            word = f'"{escaped}"'
        words.append(word.replace("%", "%%"))
    return " ".join(words).replace("\\", "\\\\")


def parse_desktop_exec(value: str) -> list[str]:
    """The command an `Exec=` value runs: the inverse of `desktop_exec`."""
    words: list[str] = []
    word: list[str] = []
    in_word = quoted = False
    characters = iter(_unescape_desktop_string(value))
    for character in characters:
        if quoted:
            if character == "\\":
                word.append(next(characters, "\\"))
            elif character == '"':
                quoted = False
            else:
                word.append(character)
        elif character == " ":
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
        elif character == '"':
            quoted = in_word = True
        else:
            word.append(character)
            in_word = True
    if in_word:
        words.append("".join(word))
    return [w.replace("%%", "%") for w in words]


_STRING_ESCAPES = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def _unescape_desktop_string(value: str) -> str:
    out: list[str] = []
    characters = iter(value)
    for character in characters:
        if character == "\\":
            following = next(characters, "")
            out.append(_STRING_ESCAPES.get(following, "\\" + following))
        else:
            out.append(character)
    return "".join(out)


def desktop_entry(command: Sequence[str]) -> str:
    """The text of an XDG autostart file that runs `command` in the graphical session;
    `AutostartError` if an argument has a control character (see `desktop_exec`)."""
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=posture\n"
        "Comment=Posture coach: watches how you sit and reminds you, privately\n"
        f"Exec={desktop_exec(command)}\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def _desktop_keys(text: str) -> dict[str, str]:
    """The keys of the [Desktop Entry] group (other groups and comments skipped)."""
    keys: dict[str, str] = {}
    group = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1]
        elif group == "Desktop Entry" and "=" in line:
            key, value = line.split("=", 1)
            keys[key.strip()] = value.strip()
    return keys


class _FileEntry:
    """A mechanism that is one file: written whole, read back, removed."""

    mechanism = ""
    path: Path

    @property
    def location(self) -> str:
        return str(self.path)

    def enable(self, command: Sequence[str]) -> Entry:
        _write(self.path, self._render(command))
        return Entry(self.mechanism, self.location, tuple(command))

    def disable(self) -> Entry | None:
        entry = self.status()
        _remove(self.path)
        return entry

    def status(self) -> Entry | None:
        data = _read(self.path)
        return None if data is None else self._parse(data)

    def _render(self, command: Sequence[str]) -> bytes:
        raise NotImplementedError

    def _parse(self, data: bytes) -> Entry:
        raise NotImplementedError


class XdgAutostart(_FileEntry):
    """`posture.desktop` in `$XDG_CONFIG_HOME/autostart` (`~/.config/autostart` when it is
    unset or relative). The entry counts as disabled when the desktop's settings hid it."""

    mechanism = "XDG autostart entry"

    def __init__(self, environ: Mapping[str, str] | None = None, home: Path | None = None):
        environ = os.environ if environ is None else environ
        config = environ.get("XDG_CONFIG_HOME", "")
        # The spec: a relative XDG_CONFIG_HOME is invalid and must be ignored.
        base = Path(config) if os.path.isabs(config) else (home or Path.home()) / ".config"
        self.path = base / "autostart" / DESKTOP_FILE

    def _render(self, command: Sequence[str]) -> bytes:
        return desktop_entry(command).encode("utf-8")

    def _parse(self, data: bytes) -> Entry:
        keys = _desktop_keys(data.decode("utf-8", errors="replace"))
        command = tuple(parse_desktop_exec(keys.get("Exec", "")))
        enabled = (
            keys.get("Hidden", "false").lower() != "true"
            and keys.get("X-GNOME-Autostart-enabled", "true").lower() != "false"
        )
        return Entry(self.mechanism, self.location, command, enabled)


# -- macOS: a LaunchAgent ----------------------------------------------------------------------


def launch_agent(command: Sequence[str]) -> bytes:
    """The plist of a LaunchAgent that runs `command` at login, in the GUI session only."""
    agent: dict[str, Any] = {
        "Label": LAUNCH_AGENT_LABEL,
        "ProgramArguments": list(command),
        "RunAtLoad": True,
        # The tray needs the window server: never start in an SSH or background session.
        "LimitLoadToSessionType": "Aqua",
        "ProcessType": "Interactive",
    }
    return plistlib.dumps(agent)


class LaunchAgent(_FileEntry):
    """`~/Library/LaunchAgents/local.posture.plist`. The entry counts as disabled when its
    `Disabled` key is set; a damaged plist is an `AutostartError` that says how to fix it."""

    mechanism = "LaunchAgent"

    def __init__(self, home: Path | None = None) -> None:
        base = (home or Path.home()) / "Library" / "LaunchAgents"
        self.path = base / f"{LAUNCH_AGENT_LABEL}.plist"

    def _render(self, command: Sequence[str]) -> bytes:
        return launch_agent(command)

    def _parse(self, data: bytes) -> Entry:
        try:
            agent = plistlib.loads(data)
            command = tuple(str(word) for word in agent.get("ProgramArguments", []))
            enabled = not agent.get("Disabled", False)
        except Exception as error:  # plistlib raises several kinds for a damaged file
            raise AutostartError(
                f"{self.location} is not a readable LaunchAgent ({error}): "
                "run `posture autostart enable` to write it again"
            ) from None
        return Entry(self.mechanism, self.location, command, enabled)


# -- Windows: a Run registry value ---------------------------------------------------------------


class Registry(Protocol):
    """The string values of one registry key: `winreg` in use, a dict in tests."""

    def get(self, name: str) -> str | None:
        """The value `name`, or None when it (or the key) does not exist."""

    def set(self, name: str, value: str) -> None:
        """Writes `name` as a string value, creating the key if needed; OSError on failure."""

    def delete(self, name: str) -> None:
        """Removes `name`; nothing happens when it (or the key) does not exist."""


def _winreg() -> Any:
    # Imported by name: type checkers elsewhere than on Windows see an empty module.
    return importlib.import_module("winreg")


class RunRegistry:
    """HKEY_CURRENT_USER's Run key through `winreg` (Windows only)."""

    def get(self, name: str) -> str | None:
        """The value, or None when it or the Run key is missing; other OSErrors propagate."""
        winreg = _winreg()
        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
                value, _kind = winreg.QueryValueEx(key, name)
        except FileNotFoundError:
            return None
        return str(value)

    def set(self, name: str, value: str) -> None:
        """Writes a REG_SZ value, creating the Run key if needed; OSError on failure."""
        winreg = _winreg()
        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            winreg.SetValueEx(key, name, 0, winreg.REG_SZ, value)

    def delete(self, name: str) -> None:
        """Removes the value; a missing value or Run key is not an error."""
        winreg = _winreg()
        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
                winreg.DeleteValue(key, name)
        except FileNotFoundError:
            pass


def split_windows_command(line: str) -> list[str]:
    """Split a command line as Windows programs do (the inverse of `list2cmdline`)."""
    words: list[str] = []
    word: list[str] = []
    in_word = quoted = False
    index = 0
    while index < len(line):
        character = line[index]
        if character == "\\":
            run = 0
            while index < len(line) and line[index] == "\\":
                run, index = run + 1, index + 1
            if index < len(line) and line[index] == '"':
                # 2n backslashes before a quote are n; 2n+1 are n and a literal quote.
                word.append("\\" * (run // 2))
                if run % 2:
                    word.append('"')
                    index += 1
            else:
                word.append("\\" * run)
            in_word = True
            continue
        if character == '"':
            quoted = not quoted
            in_word = True
        elif character in " \t" and not quoted:
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
        else:
            word.append(character)
            in_word = True
        index += 1
    if in_word:
        words.append("".join(word))
    return words


class RunValue:
    """The `posture` value under HKCU's Run key, holding the command as one Windows
    command line. `registry` is `winreg` by default, a fake in tests."""

    mechanism = "Run registry value"

    def __init__(self, registry: Registry | None = None) -> None:
        self.registry: Registry = RunRegistry() if registry is None else registry
        self.location = f"HKEY_CURRENT_USER\\{RUN_KEY}\\{RUN_VALUE}"

    def enable(self, command: Sequence[str]) -> Entry:
        """Writes the value (quoted with `list2cmdline`), replacing any; a registry
        error is an `AutostartError`."""
        try:
            self.registry.set(RUN_VALUE, subprocess.list2cmdline(list(command)))
        except OSError as error:
            raise AutostartError(f"cannot write {self.location}: {error}") from None
        return Entry(self.mechanism, self.location, tuple(command))

    def disable(self) -> Entry | None:
        """Removes the value and returns what it was; None, touching nothing, when unset."""
        entry = self.status()
        if entry is not None:
            self.registry.delete(RUN_VALUE)
        return entry

    def status(self) -> Entry | None:
        """The value split back into the command it runs, or None when unset."""
        value = self.registry.get(RUN_VALUE)
        if value is None:
            return None
        return Entry(self.mechanism, self.location, tuple(split_windows_command(value)))


# -- choosing, and the files ---------------------------------------------------------------------


def autostart_for(
    platform: str | None = None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    registry: Registry | None = None,
) -> Autostart:
    """The mechanism of this platform (or of `platform`, for tests)."""
    platform = sys.platform if platform is None else platform
    if platform == "win32":
        return RunValue(registry)
    if platform == "darwin":
        return LaunchAgent(home)
    if platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return XdgAutostart(environ, home)
    raise AutostartError(f"starting at login is not supported on {platform!r}")


def _write(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)  # a login never sees half a file
    except OSError as error:
        raise AutostartError(f"cannot write {path}: {error.strerror or error}") from None


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise AutostartError(f"cannot read {path}: {error.strerror or error}") from None


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as error:
        raise AutostartError(f"cannot remove {path}: {error.strerror or error}") from None
