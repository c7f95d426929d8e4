"""`posture tray`: the monitor under a tray icon, and what the menu's Recalibrate and
Open-report items do from the command line's side.

    summary = run_with_tray(controls, run_monitor, default_actions(controls, "0", None), say)

`run_monitor` is the monitor's loop (it returns when the monitor stops); `controls` the
`Controls` that loop obeys. The loop runs on a worker thread and the tray on this one,
since Qt wants the main thread; where no tray can be shown the loop runs without one,
after saying why.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click

from posture.autostart import posture_command
from posture.cli.common import stderr
from posture.cli.monitor import (
    MonitorOptions,
    monitor_options,
    run_monitor,
    saved_judge,
    stop_on_signals,
)
from posture.cli.report import open_history, today
from posture.control import Controllable, Controls, say_once_watching
from posture.history import summarize
from posture.monitor import MonitorSummary
from posture.paths import data_dir, private_folder
from posture.report import write_html
from posture.tray import Calibrated, TrayActions, require_library, run_tray, tray_unavailable

R = TypeVar("R")

# A camera calibration counts down, records 10 s and saves; past this it hangs.
CALIBRATION_TIMEOUT_S = 180.0
ERROR_PREFIX = "posture: error: "


def run_with_tray(
    controls: Controllable,
    run_monitor: Callable[[], R],
    actions: TrayActions,
    say: Callable[[str], None],
) -> R:
    """Runs the monitor with a tray icon (or without, saying why) and returns its result.

    Raises `TrayError` (with the install hint) before anything runs when PySide6 is
    not installed. Why there is no icon is said once the monitor watches, so that a
    monitor that cannot start says only why.

    Quit in the menu, Ctrl+C or SIGTERM stop the monitor; the monitor stopping by
    itself (or failing) closes the tray. An error of the monitor's is raised here,
    on the caller's thread, as if there were no tray.
    """
    require_library()  # before the monitor starts: without the tray, nothing runs
    reason = tray_unavailable()
    if reason is not None:
        say_once_watching(controls, say, f"No tray icon: {reason}. The monitor runs without one.")
        return run_monitor()
    outcome: list[R] = []
    failure: list[BaseException] = []
    finished = threading.Event()

    def monitor() -> None:
        try:
            outcome.append(run_monitor())
        except BaseException as error:  # handed to the caller's thread below
            failure.append(error)
        finally:
            finished.set()

    thread = threading.Thread(target=monitor, name="posture-monitor", daemon=True)
    with stop_on_signals(controls):
        thread.start()
        run_tray(controls, actions, say, finished)
        controls.stop()  # the tray was closed: end the loop too
        while thread.is_alive():  # joined in slices, so that signal handlers run here
            thread.join(0.2)
    if failure:
        raise failure[0]
    return outcome[0]


def default_actions(
    controls: Controllable, source_spec: str, profile_name: str | None
) -> TrayActions:
    """Recalibrate with `posture calibrate` on the monitor's camera and profile, then have
    the monitor judge against the profile just saved; the report of today as a page in
    the data folder."""
    words = ["calibrate", "--source", source_spec]
    if profile_name:
        words += ["--profile", profile_name]
    command = posture_command(words)

    def recalibrate() -> Calibrated:
        result = calibrate_with(command)
        if result.ok:
            # Sent before the tray resumes the monitor: judged against it from the
            # first frame after the pause.
            controls.reload_profile(lambda: saved_judge(profile_name))
        return result

    return TrayActions(recalibrate, write_today_report)


def calibrate_with(command: Sequence[str], timeout_s: float = CALIBRATION_TIMEOUT_S) -> Calibrated:
    """Runs a calibration command and sums up its outcome in one line."""
    try:
        done = subprocess.run(
            list(command),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return Calibrated(False, f"calibration did not finish within {timeout_s:g} s")
    except OSError as error:
        return Calibrated(False, f"cannot run {command[0]}: {error.strerror or error}")
    if done.returncode == 0:
        saved = [line for line in done.stdout.splitlines() if " profile " in line]
        return Calibrated(True, (saved or ["Calibrated."])[-1].strip().rstrip(":") + ".")
    errors = [line for line in done.stderr.splitlines() if line.startswith(ERROR_PREFIX)]
    if errors:
        return Calibrated(False, errors[-1].removeprefix(ERROR_PREFIX))
    return Calibrated(False, f"calibration failed (exit status {done.returncode})")


def write_today_report(folder: Path | None = None, day: date | None = None) -> Path:
    """Today's report as one self-contained page, `reports/YYYY-MM-DD.html` in the data folder."""
    day = today() if day is None else day
    folder = data_dir() / "reports" if folder is None else folder
    private_folder(folder)  # health data: 0700, like every folder posture makes
    with open_history(create=False) as store:
        summary = summarize(day, day, store.days(day, day))
    path = folder / f"{day.isoformat()}.html"
    write_html(summary, path)
    return path


@click.command()
@monitor_options
def tray(**options: Any) -> None:
    """The monitor with an icon in the system tray (needs `posture[tray]`).

    Monitors exactly as `posture monitor` does, with the same options, and shows
    its state as a coloured dot: green good, orange slouching, a grey ring away,
    blue with two bars paused, a purple ring when another program has the camera,
    red for a camera problem. The icon's menu pauses for 15, 30 or 60 minutes,
    resumes, recalibrates (the monitor lets the camera go meanwhile, then judges
    against the new profile), opens today's report and quits. Where there is no
    display the monitor runs on without an icon, and says so; where there is a
    display but no tray yet, the icon comes when a tray does.
    """
    require_library()  # before anything starts: without the library, nothing runs
    chosen = MonitorOptions(**options)
    err = stderr()

    def under_tray(controls: Controls, run: Callable[[], MonitorSummary]) -> MonitorSummary:
        actions = default_actions(controls, chosen.source_spec, chosen.profile_name)
        return run_with_tray(controls, run, actions, lambda text: err.print(text, markup=False))

    run_monitor(chosen, under_tray)
