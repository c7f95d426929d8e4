"""`--preview`: drawing (pure), the clear error without a display, and a real window
under a virtual display (Xvfb) where it is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from posture.landmarks import PoseResult
from posture.preview import PreviewError, PreviewWindow, draw
from posture.scoring import Assessment
from posture.vocabulary import Verdict
from tests.conftest import REPO, UPRIGHT_PHOTO
from tests.skeletons import skeleton


def test_draw_marks_the_skeleton_and_verdict_on_a_copy():
    image = np.zeros((480, 640, 3), np.uint8)
    pose = skeleton(0, 0, 0, image_size=(640, 480))
    drawn = draw(image, pose, Assessment(Verdict.SLOUCH, 30))
    assert image.max() == 0  # the frame itself is untouched
    assert drawn.shape == image.shape
    assert (drawn[..., 2] > 150).sum() > 500  # red lines and label for a bad verdict
    good = draw(image, pose, Assessment(Verdict.GOOD, 95))
    assert (good[..., 1] > 150).sum() > 500  # green for a good one


def test_draw_without_a_pose_still_labels_the_frame():
    drawn = draw(
        np.zeros((240, 320, 3), np.uint8),
        PoseResult.empty((320, 240)),
        Assessment(Verdict.NO_PERSON, None),
    )
    assert drawn.any()


def test_no_display_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(PreviewError, match="needs a graphical display"):
        PreviewWindow()


def test_monitor_preview_without_display_exits_with_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run(
        [sys.executable, "-m", "posture", "monitor", "--source", str(UPRIGHT_PHOTO), "--preview"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1
    assert "posture: error: --preview needs a graphical display" in result.stderr


@pytest.mark.skipif(
    shutil.which("xvfb-run") is None, reason="xvfb-run not installed (Debian package xvfb)"
)
def test_monitor_preview_opens_a_real_window_under_xvfb():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [
            "xvfb-run",
            "-a",
            # -a looks for a free display from -n up, and two runs looking from the same
            # number at once can both pick it: start each test process somewhere else
            # (500-899, clear of the tray test's 100-499).
            "-n",
            str(500 + os.getpid() % 400),
            sys.executable,
            "-m",
            "posture",
            "monitor",
            "--source",
            str(UPRIGHT_PHOTO.parent),
            "--preview",
            "--quiet",
            "--speed",
            "0",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert "Session:" in result.stdout
