"""The monitor under a tray icon: the composition the `--tray` wiring calls, and what the
menu's Recalibrate and Open-report items do from the command line's side.

    summary = run_with_tray(controls, run_monitor, default_actions("0", None), say)

`run_monitor` is the monitor's loop (it returns when the monitor stops); `controls` the
`Controls` that loop obeys. The loop runs on a worker thread and the tray on this one,
since Qt wants the main thread; where no tray can be shown the loop runs without one,
after saying why.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import TypeVar

from posture.autostart import posture_command
from posture.cli.report import open_history, today
from posture.controllable import Controllable
from posture.history import summarize
from posture.paths import data_dir
from posture.report import write_html
from posture.tray import Calibrated, TrayActions, require_library, run_tray

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
    not installed.

    Quit in the menu, Ctrl+C or SIGTERM stop the monitor; the monitor stopping by
    itself (or failing) closes the tray. An error of the monitor's is raised here,
    on the caller's thread, as if there were no tray.
    """
    require_library()  # before the monitor starts: without the tray, nothing runs
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
    with _stop_on_signals(controls):
        thread.start()
        reason = run_tray(controls, actions, say, finished)
        if reason is not None:
            say(f"No tray icon: {reason}. The monitor runs without one.")
        else:
            controls.stop()  # the tray was closed: end the loop too
        while thread.is_alive():  # joined in slices, so that signal handlers run here
            thread.join(0.2)
    if failure:
        raise failure[0]
    return outcome[0]


@contextlib.contextmanager
def _stop_on_signals(controls: Controllable) -> Iterator[None]:
    """Ctrl+C and SIGTERM stop the monitor, which then ends with its summary."""
    previous = {}
    for number in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not the main thread
            previous[number] = signal.signal(number, lambda *_: controls.stop())
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def default_actions(source_spec: str, profile_name: str | None) -> TrayActions:
    """Recalibrate with `posture calibrate` on the monitor's camera and profile; the report
    of today as a page in the data folder."""
    words = ["calibrate", "--source", source_spec]
    if profile_name:
        words += ["--profile", profile_name]
    command = posture_command(words)
    return TrayActions(lambda: calibrate_with(command), write_today_report)


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
    folder.mkdir(parents=True, exist_ok=True)
    with open_history(create=False) as store:
        summary = summarize(day, day, store.days(day, day))
    path = folder / f"{day.isoformat()}.html"
    write_html(summary, path)
    return path
