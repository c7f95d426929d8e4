"""The real tray over a stand-in monitor, in a process of its own, for the X11 tray test.

    python -m tests.tray_harness REPORT_FOLDER

runs `posture.cli.tray.run_with_tray` (the composition `posture tray` uses)
with the recording stand-in of `Controls` (tests/fake_controls.py) and a "monitor"
that waits until it is stopped. The test drives it as a person would, through the
icon's menu on a real X server, and reads what happened on stdout, one JSON object
a line: {"call": [...]} for every command the tray gave the monitor, {"say": text},
{"report": path} when the page was written, {"exit": result} at the end. It writes
to stdin `state NAME [REASON]` to publish a new monitor state.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from posture.cli.tray import run_with_tray
from posture.control import State
from posture.tray import Calibrated, TrayActions
from tests.fake_controls import RecordingControls

_print_lock = threading.Lock()


def emit(**record: Any) -> None:
    with _print_lock:
        print(json.dumps(record), flush=True)


class PrintingControls(RecordingControls):
    def _record(self, *call: Any) -> None:
        super()._record(*call)
        emit(call=list(call))


def main(report_folder: Path) -> None:
    controls = PrintingControls(State.GOOD, today_score=82)

    def monitor() -> str:
        while controls.snapshot.state is not State.STOPPED:
            time.sleep(0.05)
        return "monitor stopped"

    def recalibrate() -> Calibrated:
        time.sleep(0.3)  # a calibration takes a while; the tray must not freeze meanwhile
        return Calibrated(True, "Saved profile 'default' from 20 of 20 frames (front view).")

    def write_report() -> Path:
        path = report_folder / "today.html"
        path.write_text("<html><body>Today's score: 82</body></html>", encoding="utf-8")
        emit(report=str(path))
        return path

    def read_commands() -> None:
        for line in sys.stdin:
            words = line.split(maxsplit=2)
            if words and words[0] == "state":
                reason = words[2].strip() if len(words) > 2 else ""
                controls.publish(State(words[1].replace("-", " ")), reason=reason)

    threading.Thread(target=read_commands, daemon=True).start()
    result = run_with_tray(
        controls, monitor, TrayActions(recalibrate, write_report), lambda text: emit(say=text)
    )
    emit(exit=result)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
