"""Running the real `posture` in a process of its own, on the webcam of sitecustomize.py.

process = start_posture(["monitor", "--source", "0"], webcam_env(os.environ, home, log))
lines = Lines(process.stderr)
lines.wait_for("first verdict")
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PICTURE = REPO / "samples" / "upright" / "straight_hf.jpg"  # a person sitting upright


def webcam_env(base: Mapping[str, str], home: Path, log: Path) -> dict[str, str]:
    """`base` with camera N showing PICTURE, opens and releases written to `log`, and the
    data folder `home`."""
    return {
        **base,
        "PYTHONPATH": f"{HERE}:{REPO}",
        "POSTURE_FAKE_CAMERA": str(PICTURE),
        "POSTURE_FAKE_CAMERA_LOG": str(log),
        "POSTURE_HOME": str(home),
        "POSTURE_CONFIG": str(home / "config.toml"),
    }


def start_posture(args: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "posture", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env),
    )


def camera_events(log: Path) -> list[str]:
    """ "open N" and "release", in order, so far."""
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


class Lines:
    """A stream's lines, read on a thread of its own (never blocking the test)."""

    def __init__(self, stream: IO[str] | None) -> None:
        assert stream is not None
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    @property
    def text(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def wait_for(self, text: str, timeout_s: float = 60.0) -> str:
        """The first line holding `text`, once it came (AssertionError if it does not)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                found = [line for line in self.lines if text in line]
            if found:
                return found[0]
            time.sleep(0.02)
        raise AssertionError(f"{text!r} never came:\n{self.text}")

    def rest(self, timeout_s: float = 10.0) -> str:
        """Everything, once the stream has ended."""
        self._thread.join(timeout_s)
        return self.text
