"""Calibration on the bundled photos, through the real command and the real model:
an upright photo is accepted, a slouched or reclined one refused with what to
change, and two people in the picture are refused."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from tests.conftest import SAMPLES
from tests.test_cli import run

UPRIGHT_PHOTOS = [
    *sorted((SAMPLES / "upright").glob("*.jpg")),
    SAMPLES / "neck" / "Good-Posture.png",
]


@pytest.mark.parametrize("photo", UPRIGHT_PHOTOS, ids=lambda p: p.name)
def test_upright_photos_calibrate(photo, capsys):
    code, out, err = run(["calibrate", "--source", str(photo), "--profile", "p"], capsys)
    assert code == 0, err
    assert "Saved profile 'p'" in out
    code, out, _ = run(["profile", "show", "p", "--json"], capsys)
    assert json.loads(out)["forced"] is False


@pytest.mark.parametrize(
    ("photo", "says"),
    [
        ("slouched/hunchback_hf.jpg", "slouching forward"),
        ("slouched/hunchback.jpg", "slouching forward"),
        ("reclined/recline_hf.jpg", "leaning far back: sit tall"),
        ("reclined/recline.jpg", "leaning far back: sit tall"),
    ],
)
def test_slouched_and_reclined_photos_are_refused_with_what_to_change(photo, says, capsys):
    code, out, err = run(["calibrate", "--source", str(SAMPLES / photo)], capsys)
    assert code == 1
    assert err.startswith("posture: error: this does not look like upright sitting: ")
    assert says in err and "--force" in err
    assert len(err.strip().splitlines()) == 1
    assert "Saved" not in out
    code, out, _ = run(["profile", "list"], capsys)
    assert "No profiles yet" in out


def test_force_keeps_a_refused_photo_and_the_profile_records_it(capsys):
    photo = SAMPLES / "slouched" / "hunchback_hf.jpg"
    code, _, err = run(["calibrate", "--source", str(photo), "--force"], capsys)
    assert code == 0
    assert "kept with --force" in err
    _, out, _ = run(["profile", "show", "--json"], capsys)
    assert json.loads(out)["forced"] is True


def test_two_people_side_by_side_are_refused(tmp_path, capsys):
    # MediaPipe asked for two people finds one here; the second search finds the other.
    left = cv2.imread(str(SAMPLES / "upright" / "straight_hf.jpg"))
    right = cv2.imread(str(SAMPLES / "upright" / "straight_flip.jpg"))
    height = 480
    pair = np.hstack(
        [cv2.resize(i, (round(i.shape[1] * height / i.shape[0]), height)) for i in (left, right)]
    )
    photo = tmp_path / "two.png"
    cv2.imwrite(str(photo), pair)
    code, _, err = run(["calibrate", "--source", str(photo)], capsys)
    assert code == 1
    assert "more than one person in view" in err and "calibrate alone" in err
