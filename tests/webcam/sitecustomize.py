"""A webcam for tests that run posture in processes of their own.

With this folder on PYTHONPATH and POSTURE_FAKE_CAMERA naming a picture, every Python
process started so (posture, and the `posture calibrate` a tray starts) sees
`cv2.VideoCapture(N)` as a camera that shows that picture 15 times a second, with a
one-frame driver buffer as a real one has. POSTURE_FAKE_CAMERA_LOG names a file that
gets a line per open ("open N") and per release ("release"), so a test can tell when
the camera is held. Without POSTURE_FAKE_CAMERA nothing changes.
"""

from __future__ import annotations

import os
import time

FPS = 15.0


def _install(picture: str, log: str | None) -> None:
    import cv2

    image = cv2.imread(picture)
    if image is None:
        raise RuntimeError(f"POSTURE_FAKE_CAMERA: cannot read {picture!r}")

    def note(line: str) -> None:
        if log:
            with open(log, "a", encoding="utf-8") as out:
                out.write(line + "\n")

    class Webcam:
        def __init__(self, index: int, *args: object) -> None:
            self.opened_at = time.monotonic()
            self.taken = -1  # the last frame number grabbed
            self.released = False
            note(f"open {index}")

        def isOpened(self) -> bool:
            return not self.released

        def set(self, prop: int, value: float) -> bool:
            return True

        def get(self, prop: int) -> float:
            return 0.0

        def grab(self) -> bool:
            if self.released:
                return False
            arrived = int((time.monotonic() - self.opened_at) * FPS)
            if arrived <= self.taken:  # nothing buffered: wait for the sensor
                time.sleep(self.opened_at + (self.taken + 1) / FPS - time.monotonic())
                arrived = self.taken + 1
            self.taken = arrived
            return True

        def retrieve(self, buffer: object = None) -> tuple[bool, object]:
            return (not self.released), image.copy()

        def read(self, buffer: object = None) -> tuple[bool, object]:
            if not self.grab():
                return False, None
            return self.retrieve()

        def release(self) -> None:
            if not self.released:
                self.released = True
                note("release")

    cv2.VideoCapture = Webcam


if os.environ.get("POSTURE_FAKE_CAMERA"):
    _install(os.environ["POSTURE_FAKE_CAMERA"], os.environ.get("POSTURE_FAKE_CAMERA_LOG"))
