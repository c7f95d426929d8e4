"""A calibration that no longer fits: another camera, a moved camera, a tilted lid.

Skeletons of known geometry, moved as a moved camera moves them (translated, scaled:
`tests/skeletons.py`) or bent as a slouch bends them, through the real metrics, the
real check and the real monitor on a fake camera, clocks and pose model.
"""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest

from calibration.profile import Profile, ProfileStore, Setup
from posture import sources
from posture.control import Controls, Snapshot, State
from posture.errors import ProfileError
from posture.metrics import compute_metrics
from posture.monitor import NOT_JUDGING, Monitor, MonitorSettings
from posture.nudges import NudgePolicy
from posture.scoring import Scorer
from posture.sources import CameraSource
from posture.stale import MOVED, SetupCheck, checkable, placement_of, setup_of
from posture.vocabulary import Verdict
from tests import fakes
from tests.fakes import IMAGE_SHAPE, Clocks, Estimators, SceneCamera, profile_of
from tests.skeletons import rescale, skeleton, translate
from tests.test_monitor import RecordingRecorder

FRAME_SIZE = (IMAGE_SHAPE[1], IMAGE_SHAPE[0])  # what the fake camera's pictures measure
UPRIGHT = skeleton(yaw_deg=0)  # facing the camera, as a laptop's camera sees you
SHOULDER_PX = 216.0  # its body scale: the shoulder width square-on, in pixels


def frontal_profile(camera: str | None = "Integrated Camera") -> Profile:
    """A frontal profile calibrated with camera 0, the set-up recorded."""
    setup = setup_of(
        [placement_of(UPRIGHT, compute_metrics(UPRIGHT))],
        source="camera 0",
        size=FRAME_SIZE,
        camera=camera,
    )
    return dataclasses.replace(profile_of(yaw_deg=0), setup=setup)


def moved(pose) -> bool | None:
    check = SetupCheck(frontal_profile(), camera="Integrated Camera", live=True)
    return check.moved(FRAME_SIZE, pose, compute_metrics(pose))


# --- the profile records its set-up -----------------------------------------------------------


def test_the_set_up_is_saved_and_older_profiles_still_load(tmp_path):
    store = ProfileStore(tmp_path)
    profile = frontal_profile()
    store.save(profile)
    again = store.load(profile.name)
    assert again.setup == Setup("camera 0", "Integrated Camera", 64, 48, 0.5, 0.383333, 0.16875)
    # A profile written before the set-up was recorded: loads, and is not checked.
    data = json.loads(store.path(profile.name).read_text())
    del data["setup"]
    older = Profile.from_json(data)
    assert older.setup is None and older.metrics == again.metrics
    assert not checkable(older.setup, live=True, source="camera 0")
    data["setup"] = {"source": "camera 0", "width": "wide"}
    with pytest.raises(ProfileError, match="corrupt"):
        Profile.from_json(data)


def test_only_a_like_source_is_checked_against_the_set_up():
    setup = frontal_profile().setup
    assert checkable(setup, live=True, source="camera 1")
    assert not checkable(setup, live=False, source="video session.mp4")
    from_video = dataclasses.replace(setup, source="video session.mp4")
    assert checkable(from_video, live=False, source="video session.mp4")
    assert not checkable(from_video, live=True, source="camera 0")  # photos say nothing


# --- what a moved camera does to the body, and what a slouch does --------------------------------


@pytest.mark.parametrize(
    ("pose", "expected"),
    [
        (UPRIGHT, False),
        (translate(UPRIGHT, 0, 0.05 * SHOULDER_PX), False),  # the model's jitter
        (translate(UPRIGHT, 0, 0.3 * SHOULDER_PX), True),  # the lid tilted back ~6 deg
        (translate(UPRIGHT, 0, -0.3 * SHOULDER_PX), True),  # ...or forward
        (translate(UPRIGHT, 0.7 * SHOULDER_PX, 0), True),  # the camera turned aside
        (rescale(UPRIGHT, 1.4), False),  # another resolution: same picture, scaled
        (skeleton(yaw_deg=0, px_per_m=600 * 1.4), True),  # the screen 30 cm nearer
        (skeleton(yaw_deg=0, px_per_m=600 / 1.4), True),  # the chair pushed back
        # A slouch moves the shoulders too, but it bends the body: never "moved".
        (skeleton(yaw_deg=0, trunk_deg=15, neck_deg=10), None),
        (translate(skeleton(yaw_deg=0, trunk_deg=15), 0, 0.3 * SHOULDER_PX), None),
        (skeleton(yaw_deg=0, neck_deg=25), None),  # head forward
    ],
    ids=[
        "in place",
        "jitter",
        "lid back",
        "lid forward",
        "turned",
        "rescaled",
        "nearer",
        "further",
        "slouch",
        "slouch, lid back",
        "head forward",
    ],
)
def test_a_moved_camera_moves_the_body_a_slouch_bends_it(pose, expected):
    assert moved(pose) is expected


def test_no_pose_says_nothing():
    assert moved(fakes.POSES[fakes.NO_SHOULDERS]()) is None


# --- through the monitor ------------------------------------------------------------------------

TILTED, SLUMPED, BACK = 30, 31, 32
SET_UP_POSES = {
    TILTED: lambda: translate(UPRIGHT, 0, 0.35 * SHOULDER_PX),  # the lid tilted back
    SLUMPED: lambda: skeleton(yaw_deg=0, trunk_deg=18, neck_deg=12),
    BACK: lambda: UPRIGHT,
}


def camera_monitor(monkeypatch, stretches, judge, clocks, *, device="Integrated Camera", **options):
    """The real monitor on a fake camera showing `stretches` [(from_s, pose code)] on
    `clocks`, judged by `judge`; `options` go to `Monitor` (controls, status, recorder...).
    The set-up poses stay in `fakes.POSES` until `monkeypatch` is undone."""
    for code, pose in SET_UP_POSES.items():
        monkeypatch.setitem(fakes.POSES, code, pose)
    fakes._pose.cache_clear()
    start_s = clocks.monotonic()

    def scene(t_s: float) -> int:
        return [code for start, code in stretches if start <= t_s][-1]

    def capture(index: int) -> SceneCamera:
        # The scene's seconds count from the start of the run: a camera opened again
        # (after a pause) shows what the scene shows by then, not its beginning.
        opened_s = clocks.monotonic() - start_s
        return SceneCamera(clocks, lambda t_s: scene(opened_s + t_s))

    monkeypatch.setattr(sources.cv2, "VideoCapture", capture)
    monkeypatch.setattr(sources, "camera_device_name", lambda index: device)
    # A fake camera has no device node: never watch the machine's real /dev/video0.
    options.setdefault("camera_share", lambda index, wake: None)
    return Monitor(
        lambda: CameraSource(0, clock=clocks.monotonic),
        judge,
        estimator=Estimators(),
        clock=clocks.monotonic,
        now=clocks.now,
        **options,
    )


def run_camera(
    monkeypatch, stretches, profile, *, until_s, device="Integrated Camera", policy=None
):
    """The real monitor on a fake camera showing `stretches` [(from_s, pose code)]:
    its summary, snapshots, (loop s, status line)s, recorder and nudges."""
    clocks = Clocks()
    controls = Controls(sleep=clocks.sleep)
    snapshots: list[Snapshot] = []
    lines: list[tuple[float, str]] = []
    controls.subscribe(snapshots.append)

    def status(state):
        lines.append((state.now_s, state.line()))
        if state.now_s >= until_s:
            controls.stop()

    recorder, nudges = RecordingRecorder(), []
    summary = camera_monitor(
        monkeypatch,
        stretches,
        Scorer(profile),
        clocks,
        device=device,
        recorder=recorder,
        notify=nudges.append,
        settings=MonitorSettings(policy=policy or NudgePolicy()),
        status=status,
        controls=controls,
    ).run()
    fakes._pose.cache_clear()
    return summary, snapshots, lines, recorder, nudges


def test_a_tilted_lid_pauses_the_judging_and_asks_for_a_recalibration(monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="posture.monitor")
    _summary, snapshots, lines, recorder, nudges = run_camera(
        monkeypatch,
        [(0, fakes.FACING), (30, TILTED), (120, BACK)],
        frontal_profile(),
        until_s=160,
    )
    assert nudges == []  # never a stream of slouch verdicts that nudges
    stale = [s for s in snapshots if s.reason == MOVED]
    assert stale and all(s.state is State.CAMERA_PROBLEM and s.verdict is None for s in stale)
    said = [(t, line) for t, line in lines if MOVED in line]
    assert said[0][0] <= 30 + 25 and said[-1][0] <= 120 + 12
    assert all(line.startswith(NOT_JUDGING) and "now  --" in line for _, line in said)
    assert [r.getMessage() for r in caplog.records].count(MOVED) == 1  # said once
    # Judging waits: nothing is recorded for the stale stretch; then judged again.
    start = recorder.sessions[0].started_at
    recorded = [(s.at - start).total_seconds() for s in recorder.samples]
    stale_from, stale_to = said[0][0], said[-1][0]
    assert not [t for t in recorded if stale_from <= t <= stale_to]
    assert any(t > stale_to for t in recorded) and snapshots[-2].state is State.GOOD
    # Until it was noticed, the tilt read as a whole-body drop: that is what it guards.
    before = [s.verdict for s in recorder.samples if 35 <= (s.at - start).total_seconds() < 50]
    assert Verdict.SLOUCH in before


def test_a_run_that_starts_with_nobody_there_or_a_slouch_is_checked_once_someone_sits(
    monkeypatch,
):
    """Regression: frames that say nothing about the set-up from the very start (nobody
    there, a slouch) crashed the check, and the monitor with it ("zip() argument 2 is
    longer than argument 1"), on its first frame."""
    check = SetupCheck(frontal_profile(), camera="Integrated Camera", live=True)
    slouch = skeleton(yaw_deg=0, trunk_deg=15, neck_deg=10)
    assert check.update(0.0, FRAME_SIZE, slouch, compute_metrics(slouch)) is None
    assert check.reason is None
    _, snapshots, _lines, recorder, _nudges = run_camera(
        monkeypatch,
        [(0, fakes.NOBODY), (20, SLUMPED), (40, fakes.FACING), (60, TILTED)],
        frontal_profile(),
        until_s=120,
    )
    states = [s.state for s in snapshots]
    assert State.AWAY in states and State.GOOD in states and states[-1] is State.STOPPED
    assert any(s.reason == MOVED for s in snapshots)  # and the check works from then on
    assert Verdict.SLOUCH in {s.verdict for s in recorder.samples}


def test_a_slouch_held_long_is_still_a_slouch(monkeypatch):
    _, snapshots, lines, _recorder, nudges = run_camera(
        monkeypatch, [(0, fakes.FACING), (20, SLUMPED)], frontal_profile(), until_s=90
    )
    assert all(s.reason != MOVED for s in snapshots)
    # Nudged after 30 s, as ever (the slump leans the neck most, from the front).
    assert [n.kind for n in nudges] == ["posture"] and nudges[0].verdict.is_bad
    assert not any(NOT_JUDGING in line for _, line in lines)


def test_another_camera_is_noticed_at_once(monkeypatch):
    _, snapshots, _lines, recorder, nudges = run_camera(
        monkeypatch, [(0, fakes.FACING)], frontal_profile(), until_s=10, device="USB Camera"
    )
    reason = (
        "another camera (USB Camera) than calibrated (Integrated Camera): recalibrate with this one"
    )
    judged = [s for s in snapshots if s.state not in (State.STARTING, State.STOPPED)]
    assert judged and all(s.reason == reason for s in judged)
    assert recorder.samples == [] and nudges == []


def test_a_profile_without_a_set_up_is_judged_as_before(monkeypatch):
    _, snapshots, _, recorder, _ = run_camera(
        monkeypatch, [(0, fakes.FACING), (10, TILTED)], profile_of(yaw_deg=0), until_s=60
    )
    assert all(s.reason != MOVED for s in snapshots)
    assert Verdict.SLOUCH in {s.verdict for s in recorder.samples}


def test_calibrate_records_the_set_up_it_was_taken_in():
    from posture.cli.common import profile_store
    from tests.cli_runner import run_posture
    from tests.conftest import UPRIGHT_PHOTO

    outcome = run_posture(["calibrate", "--source", str(UPRIGHT_PHOTO), "--profile", "desk"])
    assert outcome.code == 0, outcome
    setup = profile_store().load("desk").setup
    assert setup is not None and setup.source == f"image {UPRIGHT_PHOTO}"
    assert (setup.width, setup.height) == (720, 1280) and setup.camera is None
    assert 0 < setup.shoulder_x < 1 and 0 < setup.shoulder_y < 1 and 0 < setup.body_scale < 1
