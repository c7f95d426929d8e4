"""Start at login: the XDG entry written, read back, run and removed for real on Linux
(through the installed `posture` script), and the macOS and Windows writers checked on
their output. Each writer quotes its command and reads it back unchanged."""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posture.autostart import (
    LAUNCH_AGENT_LABEL,
    AutostartError,
    LaunchAgent,
    RunValue,
    XdgAutostart,
    autostart_for,
    desktop_exec,
    parse_desktop_exec,
    posture_command,
    posture_script,
    split_windows_command,
)
from tests.test_cli import run

SCRIPT = Path(sys.executable).parent / "posture"
needs_script = pytest.mark.skipif(
    not SCRIPT.is_file(), reason=f"no installed posture script at {SCRIPT} (pip install .)"
)
linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the XDG autostart entry is Linux's"
)


# -- the Exec line -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "line"),
    [
        (["/usr/bin/posture", "tray"], "/usr/bin/posture tray"),
        (
            ["/home/a b/.venv/bin/posture", "monitor"],
            '"/home/a b/.venv/bin/posture" monitor',
        ),
        (["/opt/p$x/posture", "50%"], '"/opt/p\\\\$x/posture" 50%%'),
        (["C:\\posture", 'say "hi"'], '"C:\\\\\\\\posture" "say \\\\"hi\\\\""'),
        (["/bin/posture", ""], '/bin/posture ""'),
    ],
)
def test_the_exec_line_quotes_as_the_desktop_entry_spec_says(command: list[str], line: str) -> None:
    assert desktop_exec(command) == line
    assert parse_desktop_exec(line) == command


@given(st.lists(st.text(st.characters(min_codepoint=0x20, exclude_characters="\x7f")), min_size=1))
def test_any_command_survives_the_exec_line(command: list[str]) -> None:
    assert parse_desktop_exec(desktop_exec(command)) == command


def test_a_control_character_cannot_go_into_an_exec_line() -> None:
    with pytest.raises(AutostartError, match="control character"):
        desktop_exec(["/bin/posture", "a\nb"])


# -- Linux, for real ----------------------------------------------------------------------------


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path)}


def _posture(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        cwd=tmp_path,
        timeout=120,
    )


@needs_script
@linux_only
def test_enable_writes_an_entry_whose_command_runs_and_disable_removes_it(tmp_path: Path) -> None:
    enabled = _posture(["autostart", "enable", "monitor", "--profile", "desk"], tmp_path)
    assert enabled.returncode == 0, enabled.stderr
    entry = tmp_path / "config" / "autostart" / "posture.desktop"
    assert str(entry) in enabled.stdout
    keys = dict(line.split("=", 1) for line in entry.read_text().splitlines() if "=" in line)
    assert keys["Type"] == "Application" and keys["Terminal"] == "false"
    command = parse_desktop_exec(keys["Exec"])
    assert command == [str(SCRIPT), "monitor", "--profile", "desk"]
    assert f"runs: {SCRIPT} monitor --profile desk" in enabled.stdout

    # The command the entry names runs (its --help, so no camera is opened).
    named = subprocess.run(
        [*command, "--help"], capture_output=True, text=True, env=_env(tmp_path), timeout=120
    )
    assert named.returncode == 0, named.stderr
    assert named.stdout.startswith("Usage: posture monitor")

    status = _posture(["autostart", "status"], tmp_path)
    assert status.returncode == 0, status.stderr
    assert f"the program exists: {SCRIPT}" in status.stdout

    disabled = _posture(["autostart", "disable"], tmp_path)
    assert disabled.returncode == 0 and not entry.exists()
    assert "no longer starts at login" in disabled.stdout
    after = _posture(["autostart", "status"], tmp_path)
    assert after.returncode == 0 and "does not start at login" in after.stdout
    again = _posture(["autostart", "disable"], tmp_path)
    assert again.returncode == 0 and "was not set to start at login" in again.stdout


@linux_only
def test_status_of_an_entry_whose_program_is_gone_says_how_to_repair_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    gone = tmp_path / "old venv" / "bin" / "posture"
    XdgAutostart().enable([str(gone), "tray"])
    code, out, err = run(["autostart", "status"], capsys)
    assert code == 1
    assert f"runs: '{gone}' tray" in out
    assert err.startswith(f"posture: error: the login entry runs {gone}, which does not exist")
    assert "autostart enable` to repair it" in err


@linux_only
def test_an_entry_switched_off_in_the_desktop_settings_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    path = XdgAutostart().enable([sys.executable, "-m", "posture", "tray"]).location
    with open(path, "a", encoding="utf-8") as entry:
        entry.write("Hidden=true\n")
    code, out, _ = run(["autostart", "status"], capsys)
    assert code == 0 and "switched off in your desktop's start-up settings" in out


@linux_only
@pytest.mark.parametrize("has_qt", [True, False], ids=["PySide6", "no PySide6"])
def test_enable_alone_starts_the_tray_where_its_library_is_installed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    has_qt: bool,
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    if has_qt:
        pytest.importorskip("PySide6", reason='the tray extra is not installed (".[tray]")')
    else:
        monkeypatch.setitem(sys.modules, "PySide6", None)  # as if not installed
    code, out, err = run(["autostart", "enable"], capsys)
    assert code == 0, err
    entry = (tmp_path / "autostart" / "posture.desktop").read_text()
    (exec_line,) = [line for line in entry.splitlines() if line.startswith("Exec=")]
    assert parse_desktop_exec(exec_line.removeprefix("Exec="))[-1] == (
        "tray" if has_qt else "monitor"
    )
    # The command named is one this posture has.
    code, out, err = run(["tray" if has_qt else "monitor", "--help"], capsys)
    assert code == 0 and out.startswith("Usage: posture "), err


def test_only_a_long_running_command_can_start_at_login(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["autostart", "enable", "report", "--week"], capsys)
    assert code == 2
    assert "'report' is not a command to run at login: use " in err
    assert "monitor; see " in err and len(err.strip().splitlines()) == 1


@linux_only
def test_an_unwritable_autostart_folder_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "config"
    blocker.write_text("a file where a folder should be")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(blocker))
    code, out, err = run(["autostart", "enable", "monitor"], capsys)
    assert code == 2 and out == ""
    assert err.startswith(f"posture: error: cannot write {blocker / 'autostart'}/posture.desktop")
    assert err.count("\n") == 1


def test_a_relative_xdg_config_home_is_ignored_as_the_spec_says(tmp_path: Path) -> None:
    xdg = XdgAutostart({"XDG_CONFIG_HOME": "relative/config"}, home=tmp_path)
    assert xdg.path == tmp_path / ".config" / "autostart" / "posture.desktop"


# -- the command ---------------------------------------------------------------------------------


def test_the_command_is_the_running_script_else_the_installed_one_else_python(
    tmp_path: Path,
) -> None:
    running, installed = tmp_path / "run" / "posture", tmp_path / "bin" / "posture"
    for script in (running, installed):
        script.parent.mkdir()
        script.write_text("#!/bin/sh\n")
    assert posture_script(str(running), str(installed.parent), windows=False) == running
    assert posture_script("/usr/bin/pytest", str(installed.parent), windows=False) == installed
    assert posture_script("/usr/bin/pytest", str(tmp_path / "none"), windows=False) is None
    assert posture_command(["tray"], script=installed) == [str(installed), "tray"]


def test_without_a_script_the_command_is_this_python_with_the_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("posture.autostart.posture_script", lambda: None)
    assert posture_command(["monitor"]) == [
        os.path.abspath(sys.executable),
        "-m",
        "posture",
        "monitor",
    ]


@pytest.mark.parametrize(
    ("platform", "kind"),
    [("linux", XdgAutostart), ("freebsd14", XdgAutostart), ("darwin", LaunchAgent)],
)
def test_each_platform_gets_its_own_mechanism(platform: str, kind: type, tmp_path: Path) -> None:
    assert isinstance(autostart_for(platform, {}, tmp_path), kind)


def test_an_unknown_platform_is_refused() -> None:
    with pytest.raises(AutostartError, match="not supported on 'emscripten'"):
        autostart_for("emscripten")


# -- macOS: the LaunchAgent ----------------------------------------------------------------------

MAC_COMMAND = ["/Users/a b/.venv/bin/posture", "tray"]


def test_the_launch_agent_runs_the_command_at_login_in_the_gui_session(tmp_path: Path) -> None:
    agent = LaunchAgent(home=tmp_path)
    entry = agent.enable(MAC_COMMAND)
    path = tmp_path / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"
    assert entry.location == str(path)
    assert plistlib.loads(path.read_bytes()) == {
        "Label": LAUNCH_AGENT_LABEL,
        "ProgramArguments": MAC_COMMAND,
        "RunAtLoad": True,
        "LimitLoadToSessionType": "Aqua",
        "ProcessType": "Interactive",
    }
    status = agent.status()
    assert status is not None and list(status.command) == MAC_COMMAND and status.enabled
    assert agent.disable() == status and not path.exists() and agent.status() is None


def test_a_damaged_launch_agent_is_named_with_the_fix(tmp_path: Path) -> None:
    agent = LaunchAgent(home=tmp_path)
    agent.path.parent.mkdir(parents=True)
    agent.path.write_text("<plist><dict><key>Label")
    with pytest.raises(AutostartError, match=r"is not a readable LaunchAgent .*enable"):
        agent.status()


# -- Windows: the Run value ----------------------------------------------------------------------


class DictRegistry:
    """The Run key as a dict: what `winreg` would hold."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        self.values[name] = value

    def delete(self, name: str) -> None:
        del self.values[name]


def test_the_run_value_is_the_quoted_command_line() -> None:
    registry = DictRegistry()
    run_value = RunValue(registry)
    command = ["C:\\Users\\A B\\venv\\Scripts\\posture.exe", "monitor", "--profile", 'my "desk"']
    entry = run_value.enable(command)
    assert registry.values == {
        "posture": '"C:\\Users\\A B\\venv\\Scripts\\posture.exe" monitor --profile "my \\"desk\\""'
    }
    assert entry.location.endswith("\\CurrentVersion\\Run\\posture")
    status = run_value.status()
    assert status is not None and list(status.command) == command
    assert run_value.disable() == status and registry.values == {}
    assert run_value.status() is None and run_value.disable() is None


@given(st.lists(st.text(st.characters(exclude_characters="\x00")), min_size=1))
def test_any_command_survives_the_windows_command_line(command: list[str]) -> None:
    assert split_windows_command(subprocess.list2cmdline(command)) == command
