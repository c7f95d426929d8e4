"""Shared fixtures: paths to the bundled samples and the optional ../shared data."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from calibration.profile import Profile

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
SHARED = REPO.parent / "shared"
DEV_LABELS = SHARED / "data" / "dev" / "labels.csv"

UPRIGHT_PHOTO = SAMPLES / "upright" / "straight_hf.jpg"
SLOUCHED_PHOTO = SAMPLES / "slouched" / "hunchback_hf.jpg"
RECLINED_PHOTO = SAMPLES / "reclined" / "recline_hf.jpg"
SESSION_VIDEO = SAMPLES / "session.mp4"

needs_shared = pytest.mark.skipif(
    not DEV_LABELS.is_file(),
    reason=f"labelled dev data not found at {DEV_LABELS} (it lives in ../shared beside the repo)",
)


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Point the data directory at a temp dir so no test touches a real profile or history."""
    home = tmp_path_factory.mktemp("posture-home")
    monkeypatch.setenv("POSTURE_HOME", str(home))
    # Nor the user's real config file.
    monkeypatch.setenv("POSTURE_CONFIG", str(home / "config.toml"))
    return home


@pytest.fixture(autouse=True)
def _no_network_block_in_the_test_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process CLI runs must not seccomp the pytest process itself: the block is
    irreversible and its subprocesses would inherit it. `test_netguard.py` and the
    subprocess CLI tests check the real block."""
    monkeypatch.setattr("posture.cli.block_network", lambda: False)


@pytest.fixture(scope="session")
def session_profile() -> Profile:
    """A profile calibrated on the sample session's upright opening (0-9.5 s)."""
    from calibration.gates import CalibrationSample
    from calibration.protocol import calibrate
    from posture.analysis import calibration_frames
    from posture.sources import open_source

    with open_source(SESSION_VIDEO, end_ms=9500) as source:
        samples = [
            CalibrationSample(r.metrics, r.person_count, r.brightness)
            for r in calibration_frames(source)
        ]
    return calibrate(samples, name="session", source="test")
