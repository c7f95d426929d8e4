"""The monitor loop: end to end on the sample session, camera faults, signals, sampling."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta

import numpy as np
import pytest

from posture import monitor as monitor_module
from posture import sources
from posture.history import MinuteRow
from posture.monitor import Monitor, MonitorSettings, MonitorSummary, Status, open_throttled
from posture.nudges import NudgePolicy
from posture.records import Break, Episode, Nudge, Sample, SessionInfo
from posture.scoring import Scorer
from posture.sources import CameraLostError, CameraSource, Frame, SourceBase
from posture.vocabulary import Verdict
from tests.conftest import REPO, SESSION_VIDEO

FAST_POLICY = NudgePolicy(
    sustained_bad_s=3, good_to_end_s=2, cooldown_s=8, away_after_s=3, break_min_s=5
)
TRUTH = json.loads((SESSION_VIDEO.parent / "session.json").read_text())


class RecordingRecorder:
    """Keeps everything the monitor writes, to check it."""

    def __init__(self) -> None:
        self.sessions: list[SessionInfo] = []
        self.samples: list[Sample] = []
        self.episodes: list[Episode] = []
        self.nudges: list[Nudge] = []
        self.breaks: list[Break] = []
        self.flushes = 0
        self.ended: datetime | None = None

    def begin_session(self, info):
        self.sessions.append(info)

    def add_sample(self, sample):
        self.samples.append(sample)

    def add_episode(self, episode):
        self.episodes.append(episode)

    def add_nudge(self, nudge):
        self.nudges.append(nudge)

    def add_break(self, interval):
        self.breaks.append(interval)

    def flush(self):
        self.flushes += 1

    def end_session(self, ended_at):
        self.ended = ended_at


@pytest.fixture(scope="module")
def session_run(session_profile):
    recorder, shown = RecordingRecorder(), []
    runner = Monitor(
        lambda: open_throttled(str(SESSION_VIDEO), 2.0),
        Scorer(session_profile),
        notify=shown.append,
        recorder=recorder,
        settings=MonitorSettings(speed=0, policy=FAST_POLICY, flush_every_s=10),
        source_name="session",
        profile_name="session",
    )
    return runner.run(), recorder, shown


def segment_at(t_s: float) -> str:
    return next(s["label"] for s in TRUTH["segments"] if s["start_ms"] <= t_s * 1000 < s["end_ms"])


def test_nudges_come_in_the_slouched_and_reclined_parts_only(session_run):
    _, _, shown = session_run
    parts = [segment_at(event.at_s) for event in shown]
    assert "slouched" in parts and "reclined" in parts
    assert "upright" not in parts


def test_slouch_is_caught_within_seconds_of_its_onset(session_run):
    """First non-good smoothed sample after the slouched segment starts (10 s)."""
    _, recorder, _ = session_run
    start = recorder.sessions[0].started_at
    onset = next(
        (s.at - start).total_seconds()
        for s in recorder.samples
        if (s.at - start).total_seconds() >= 10 and s.verdict is not Verdict.GOOD
    )
    assert onset - 10 <= 4.0


def test_the_history_gets_every_sample_flushes_and_the_session_end(session_run):
    summary, recorder, shown = session_run
    assert len(recorder.sessions) == 1 and recorder.sessions[0].profile == "session"
    assert summary.samples == len(recorder.samples) >= 70  # ~2 per second over 40 s
    total = sum(s.duration_s for s in recorder.samples)
    assert total == pytest.approx(40, abs=1.0)
    assert recorder.flushes >= 4  # every 10 s of session time, and at the end
    assert recorder.ended is not None and recorder.ended > recorder.sessions[0].started_at
    assert [n.message for n in recorder.nudges] == [e.message for e in shown]
    assert {e.verdict for e in recorder.episodes} >= {Verdict.RECLINED}
    assert all(s.score is not None for s in recorder.samples)


def test_todays_score_adds_the_days_earlier_sessions_to_this_one():
    nine = datetime(2026, 11, 24, 9, 0).astimezone()
    earlier = [
        MinuteRow(nine - timedelta(days=1), {Verdict.GOOD: 60.0}),  # yesterday: not today
        MinuteRow(nine, {Verdict.SLOUCH: 60.0}),  # just past threshold: half credit
    ]
    summary = MonitorSummary(nine + timedelta(hours=1), earlier_today=earlier)
    assert summary.score is None and summary.day_score == 50
    summary.add(Sample(nine + timedelta(hours=1, minutes=1), 60.0, Verdict.GOOD, 100))
    assert summary.score == 100 and summary.day_score == 75
    # Past midnight the status line moves on to the new day.
    summary.add(Sample(nine + timedelta(hours=15, minutes=1), 60.0, Verdict.SLOUCH, 70))
    assert summary.day_score == 50
    line = Status(5.0, Verdict.GOOD, 97, 5.0, session_score=80, snoozed=False, day_score=75).line()
    assert "today 75" in line and "session 80" in line


class FlakySource(SourceBase):
    """Blank frames, then a lost camera, per a script: a stand-in for a USB camera."""

    kind = "video"
    is_stream = True
    frame_count = None

    def __init__(self, frames: int, then_lose: bool, start_ms: int = 0) -> None:
        self.description = "flaky"
        self.frames, self.then_lose, self.start_ms = frames, then_lose, start_ms

    def __iter__(self):
        for i in range(self.frames):
            yield Frame(np.zeros((120, 160, 3), np.uint8), self.start_ms + i * 500, i)
        if self.then_lose:
            raise CameraLostError(
                "camera 0 stopped delivering frames after 4 frames: check the cable"
            )

    def close(self) -> None:
        pass


def test_a_lost_camera_is_reported_retried_and_resumed(monkeypatch, caplog):
    monkeypatch.setattr(monitor_module, "RETRY_DELAYS_S", (0.01,))
    script = iter(["frames-then-lose", "still-gone", "frames"])

    def opener():
        step = next(script)
        if step == "still-gone":
            raise sources.SourceError("cannot open camera 0")
        return FlakySource(4, then_lose=step == "frames-then-lose")

    runner = Monitor(opener, Scorer(), settings=MonitorSettings(speed=0))
    summary = runner.run()
    assert summary.samples == 8  # 4 before the loss, 4 after
    assert len(summary.camera_gaps_s) == 2
    assert sum("stopped delivering frames" in r.message for r in caplog.records) == 1


def test_a_camera_that_never_opens_is_the_users_error():
    def opener():
        raise sources.SourceError("cannot open camera 7: check that it is connected")

    with pytest.raises(sources.SourceError, match="cannot open camera 7"):
        Monitor(opener, Scorer()).run()


def test_stop_ends_the_loop_and_still_flushes():
    stop = threading.Event()
    recorder = RecordingRecorder()
    runner = Monitor(
        lambda: FlakySource(1000, then_lose=False),
        Scorer(),
        recorder=recorder,
        settings=MonitorSettings(speed=0),
        stop=stop,
        status=lambda status: stop.set() if status.now_s >= 2 else None,
    )
    summary = runner.run()
    assert summary.samples < 10
    assert recorder.flushes >= 1 and recorder.ended is not None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_the_monitor_with_a_summary_and_exit_0(sig):
    env = {**os.environ, "PYTHONPATH": str(REPO), "POSTURE_HOME": os.environ["POSTURE_HOME"]}
    process = subprocess.Popen(
        [sys.executable, "-m", "posture", "monitor", "--source", str(SESSION_VIDEO), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    time.sleep(6)  # model loaded, a few seconds of real-time replay
    process.send_signal(sig)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "Session:" in out and "Nudges:" in out
    assert "Traceback" not in err


class StaleThenFreshCamera:
    """grab() returns at once for buffered (stale) frames and waits for a fresh one."""

    def __init__(self, clock: list[float], stale: int) -> None:
        self.clock, self.stale, self.grabs, self.retrieves = clock, stale, 0, 0

    def isOpened(self):
        return True

    def set(self, prop, value):
        return True

    def grab(self):
        self.grabs += 1
        if self.stale:
            self.stale -= 1
        else:
            self.clock[0] += 0.03  # waited for the sensor
        return True

    def retrieve(self):
        self.retrieves += 1
        return True, np.zeros((48, 64, 3), np.uint8)

    def release(self):
        pass


def test_camera_sampling_skips_stale_frames_and_decodes_only_samples(monkeypatch):
    now = [100.0]
    camera = StaleThenFreshCamera(now, stale=3)
    monkeypatch.setattr(sources.cv2, "VideoCapture", lambda index: camera)
    source = CameraSource(0, clock=lambda: now[0])

    def wait(seconds):
        now[0] += seconds
        camera.stale = 3  # frames pile up in the driver's buffer while we sleep

    frames = []
    for frame in source.sampled(0.5, wait=wait):
        frames.append(frame)
        if len(frames) == 4:
            break
    assert camera.retrieves == 4  # only the samples are decoded
    assert camera.grabs == 4 * 4  # three stale frames skipped before each fresh one
    gaps = [b.t_ms - a.t_ms for a, b in itertools.pairwise(frames)]
    assert all(450 <= gap <= 560 for gap in gaps), gaps


def test_demo_nudges_in_the_bad_parts_and_ends_with_the_day_report(tmp_path, capsys):
    from tests.test_cli import run

    home = tmp_path / "demo"
    code, out, err = run(["demo", "--video", str(SESSION_VIDEO), "--home", str(home)], capsys)
    assert code == 0, err
    nudge_times = [
        float(line.split("s]")[0].strip("[ ")) for line in out.splitlines() if line.startswith("[")
    ]
    assert nudge_times and all(segment_at(t) in ("slouched", "reclined") for t in nudge_times)
    assert "Posture on " in out and "Habit tips" in out and "not medical advice" in out
    assert (home / "history.sqlite3").is_file() and (home / "profiles" / "demo.json").is_file()
    code, _, err2 = run(["demo", "--video", str(SESSION_VIDEO), "--home", str(home)], capsys)
    assert code == 0, err2  # an old demo folder is emptied and reused


def test_demo_refuses_to_empty_a_folder_it_did_not_make(tmp_path, capsys):
    from tests.test_cli import run

    (tmp_path / "thesis.tex").write_text("years of work")
    code, _, err = run(["demo", "--video", str(SESSION_VIDEO), "--home", str(tmp_path)], capsys)
    assert code == 2 and "not an old demo folder" in err
    assert (tmp_path / "thesis.tex").exists()


def test_a_second_run_of_the_day_reports_the_day_so_far(capsys):
    from tests.test_cli import run

    replay = ["monitor", "--source", str(REPO / "samples" / "upright"), "--speed", "0"]
    code, out, err = run(replay, capsys)
    assert code == 0, err
    assert "Posture score: 100 / 100" in out and "Today so far" not in out
    code, out, err = run(replay, capsys)
    assert code == 0, err
    assert "Today so far, with earlier sessions: 100 / 100" in out
    code, out, err = run([*replay, "--no-history"], capsys)
    assert code == 0 and "Today so far" not in out


def test_a_profile_from_the_other_side_of_the_camera_is_pointed_out(session_run, caplog):
    from calibration.gates import CalibrationSample
    from calibration.protocol import calibrate
    from posture.analysis import calibration_frames
    from posture.sources import open_source

    summary, _, _ = session_run
    assert summary.view_advice is None  # calibrated side-on, monitored side-on
    with open_source(REPO / "samples" / "frontal" / "man-selfie.jpg") as source:
        samples = [
            CalibrationSample(r.metrics, r.person_count, r.brightness)
            for r in calibration_frames(source)
        ]
    frontal = calibrate(samples, name="laptop", source="test")
    runner = Monitor(
        lambda: open_throttled(str(SESSION_VIDEO), 2.0),
        Scorer(frontal),
        settings=MonitorSettings(speed=0, policy=FAST_POLICY),
        profile_name="laptop",
    )
    with caplog.at_level("WARNING", logger="posture"):
        summary = runner.run()
    assert summary.view_advice is not None
    assert "from the side" in summary.view_advice and "'laptop'" in summary.view_advice
    assert [r.getMessage() for r in caplog.records] == [summary.view_advice]
