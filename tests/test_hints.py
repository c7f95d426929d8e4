"""Hints about the picture: found per frame, said once, cleared when the problem ends."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from posture.control import State
from posture.hints import (
    COVERED,
    DARK,
    SHOULDERS,
    Hints,
    HintSettings,
    picture_problem,
)
from posture.landmarks import PoseResult
from posture.metrics import compute_metrics
from tests import fakes
from tests.conftest import UPRIGHT_PHOTO
from tests.fakes import NO_SHOULDERS, UPRIGHT, profile_of
from tests.test_monitor import FAST_POLICY
from tests.test_stale import run_camera

NO_POSE = PoseResult.empty((640, 480))


def test_a_covered_lens_a_dark_room_and_lost_shoulders_are_told_apart():
    photo = cv2.imread(str(UPRIGHT_PHOTO))
    rng = np.random.default_rng(0)
    black = np.clip(rng.normal(6, 2, photo.shape), 0, 255).astype(np.uint8)  # sensor noise
    dim = (photo * 0.12).astype(np.uint8)  # the same room with the light off
    assert picture_problem(photo, NO_POSE, None) is None
    assert picture_problem(black, NO_POSE, None) == COVERED
    assert picture_problem(dim, NO_POSE, None) == DARK
    # A finger over the lens in daylight: bright, but no detail.
    assert picture_problem(np.full_like(photo, 180), NO_POSE, None) == COVERED
    # Someone there whose shoulders the model cannot place.
    no_shoulders = fakes.POSES[NO_SHOULDERS]()
    assert compute_metrics(no_shoulders) is None
    assert picture_problem(photo, no_shoulders, None) == SHOULDERS
    upright = fakes.POSES[UPRIGHT]()
    assert picture_problem(photo, upright, compute_metrics(upright)) is None


def feed(hints: Hints, frames: list[tuple[float, str | None]]) -> list[tuple[float, str]]:
    return [(t, said) for t, problem in frames if (said := hints.update(t, problem)) is not None]


def every(step_s: float, start_s: float, end_s: float, problem: str | None):
    return [(start_s + i * step_s, problem) for i in range(round((end_s - start_s) / step_s))]


def test_a_hint_starts_after_5_s_is_said_once_and_ends_3_s_after_the_problem():
    frames = (
        every(0.5, 0, 10, None)
        + every(0.5, 10, 13, COVERED)  # a hand over the lens: too short
        + every(0.5, 13, 20, None)
        + every(2.0, 20, 40, DARK)  # sampled slowly while settled
        + every(0.5, 40, 50, None)
    )
    assert feed(Hints(), frames) == [(26.0, DARK), (41.0, "")]


def test_one_good_frame_does_not_restart_the_wait_and_the_worst_problem_leads():
    frames = [
        *every(1.0, 0, 3, SHOULDERS),
        (3.0, None),  # the model got it right once
        *every(1.0, 4, 8, SHOULDERS),
        *every(1.0, 8, 20, COVERED),  # then the lens is covered too
        *every(1.0, 20, 30, None),
    ]
    assert feed(Hints(), frames) == [(5.0, SHOULDERS), (8.0, COVERED), (22.0, "")]


@pytest.mark.parametrize("field", ["start_s", "clear_s"])
@pytest.mark.parametrize("value", [0, -1, float("nan")])
def test_bad_hint_settings_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        HintSettings(**{field: value})


def test_the_monitor_says_each_hint_once_and_clears_it(monkeypatch, caplog):
    """The real monitor on a fake camera and clocks: upright, then the lens covered for
    40 s, upright, the room dark, upright, the shoulders out of the picture, upright."""
    stretches = [
        (0, UPRIGHT),
        (20, fakes.COVERED),
        (60, UPRIGHT),
        (80, fakes.DARK),
        (120, UPRIGHT),
        (140, NO_SHOULDERS),
        (180, UPRIGHT),
    ]

    caplog.set_level(logging.INFO, logger="posture.monitor")
    _, snapshots, lines, recorder, _ = run_camera(
        monkeypatch, stretches, profile_of(), until_s=200, policy=FAST_POLICY
    )
    started = recorder.sessions[0].started_at
    said = [r.getMessage() for r in caplog.records if r.getMessage() in (COVERED, DARK, SHOULDERS)]
    assert said == [COVERED, DARK, SHOULDERS]  # each once, never per frame
    for hint, start, end in ((COVERED, 20, 60), (DARK, 80, 120), (SHOULDERS, 140, 180)):
        shown = [t for t, line in lines if hint in line]
        assert shown and start + 5 <= shown[0] <= start + 9 and shown[-1] <= end + 4
        assert any(line.startswith("camera problem ") for t, line in lines if hint in line)
        problems = [s for s in snapshots if s.reason == hint]
        unseen = [s for s in problems if s.verdict in ("no-person", "person-no-pose")]
        assert unseen and all(s.state is State.CAMERA_PROBLEM for s in unseen)
        # Said until 3 s without the problem have passed: judged again meanwhile.
        tail = [(s.at - started).total_seconds() for s in problems if s not in unseen]
        assert all(end <= t <= end + 4 for t in tail)
    # Cleared: back to judging, with nothing left in the reason or the line.
    assert snapshots[-2].state is State.GOOD and snapshots[-2].reason == ""
    assert lines[-1][1].startswith("good ") and "(" not in lines[-1][1]
