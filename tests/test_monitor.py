"""The monitor loop: end to end on the sample session, camera faults, signals, sampling."""

from __future__ import annotations

import io
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from posture import sources
from posture.cli.monitor import listen_for_keys
from posture.control import Controls, Snooze, State
from posture.history import MinuteRow
from posture.monitor import Monitor, MonitorSettings, MonitorSummary, Status, open_throttled
from posture.nudges import NudgePolicy
from posture.records import Break, Episode, Nudge, Sample, SessionInfo
from posture.scoring import Scorer
from posture.sources import CameraSource
from posture.store import HistoryStore
from posture.vocabulary import Verdict
from tests.conftest import REPO, SESSION_VIDEO
from tests.fakes import (
    SLOUCHED,
    UPRIGHT,
    Clocks,
    Estimators,
    Recording,
    SceneCamera,
    profile_of,
)

FAST_POLICY = NudgePolicy(
    sustained_bad_s=3, good_to_end_s=2, cooldown_s=8, away_after_s=3, break_min_s=5
)
FAST_REPLAY = MonitorSettings(speed=0, policy=FAST_POLICY)


def replay_monitor(recording: Recording, profile=None, **options) -> Monitor:
    """The monitor replaying a fake recording as fast as it goes, on the fake pose model."""
    options.setdefault("estimator", Estimators())
    options.setdefault("settings", FAST_REPLAY)
    return Monitor(lambda: recording, Scorer(profile or profile_of()), **options)


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
    line = Status(5.0, Verdict.GOOD, 97, 65.0, session_score=80, snoozed=False, day_score=75).line()
    assert line == "good           for  1m05s  now  97  today 75  session 80"
    assert "now  --" in Status(1.0, Verdict.NO_PERSON, None, 1.0, None, True).line()


def test_a_lost_camera_is_a_gap_stamped_at_the_times_it_happened(monkeypatch, caplog):
    """The real camera path (CameraSource over a stand-in cv2.VideoCapture): the camera
    delivers for 10 s, is gone for 48 s (reopening fails), then comes back."""
    clocks = Clocks()
    unplugged = (clocks.monotonic() + 10, clocks.monotonic() + 58)

    def gone(_t_s=None):
        return unplugged[0] <= clocks.monotonic() < unplugged[1]

    cameras = []

    def capture(index):
        cameras.append(SceneCamera(clocks, lambda t: UPRIGHT, fails=gone))
        cameras[-1].released = gone()  # unplugged: it does not even open
        return cameras[-1]

    def status(state):
        if state.now_s >= 80:
            controls.stop()

    monkeypatch.setattr(sources.cv2, "VideoCapture", capture)
    controls = Controls(sleep=clocks.sleep)
    recorder = RecordingRecorder()
    started = clocks.now()
    summary = Monitor(
        lambda: CameraSource(0, clock=clocks.monotonic),
        Scorer(profile_of()),
        estimator=Estimators(),
        recorder=recorder,
        settings=MonitorSettings(policy=FAST_POLICY),
        status=status,
        controls=controls,
        clock=clocks.monotonic,
        now=clocks.now,
    ).run()
    offsets = [((s.at - started).total_seconds(), s.duration_s) for s in recorder.samples]
    before = [t for t, _ in offsets if t <= 10]
    after = [(t, d) for t, d in offsets if t > 10]
    # The last sample before the loss, the first after: 48 s of reopening apart, in
    # wall-clock time, and the first one after stands for no time at all.
    assert after[0][0] - before[-1] >= 48 and after[0][0] <= before[-1] + 52
    assert after[0][1] == 0.0
    assert sum(d for _, d in offsets) == pytest.approx(80 - (after[0][0] - before[-1]), abs=2.5)
    assert summary.camera_gaps_s == [pytest.approx(after[0][0] - before[-1])]
    # Away that long is a break, from the last sample seen to the first one after.
    assert [(b.start, b.end) for b in recorder.breaks] == [
        (started + timedelta(seconds=before[-1]), started + timedelta(seconds=after[0][0]))
    ]
    # The session ends when it ended, not 48 s early.
    assert recorder.ended == clocks.now() and summary.duration_s >= 80
    assert len(cameras) >= 3 and all(c.released for c in cameras)
    assert sum("stopped delivering frames" in r.message for r in caplog.records) == 1


def test_a_camera_that_never_opens_is_the_users_error():
    def opener():
        raise sources.SourceError("cannot open camera 7: check that it is connected")

    with pytest.raises(sources.SourceError, match="cannot open camera 7"):
        Monitor(opener, Scorer(profile_of()), estimator=Estimators()).run()


def test_stop_ends_the_loop_and_still_flushes():
    controls = Controls()
    recorder = RecordingRecorder()
    estimators = Estimators()
    runner = replay_monitor(
        Recording([UPRIGHT] * 1000),
        estimator=estimators,
        recorder=recorder,
        controls=controls,
        status=lambda status: controls.stop() if status.now_s >= 2 else None,
    )
    summary = runner.run()
    assert summary.samples == 5  # 0, 0.5, ... 2.0 s
    assert recorder.flushes >= 1 and recorder.ended is not None
    assert [e.mode for e in estimators.made] == ["video"] and estimators.made[0].closed
    assert controls.snapshot.state is State.STOPPED


def posture_process(*args: str, home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "POSTURE_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "posture", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def read_until(stream, text: str, timeout_s: float = 60.0) -> list[str]:
    """Lines of `stream` up to the first holding `text` (read on a thread: never hangs)."""
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        for line in stream:
            lines.append(line)
            if text in line:
                found.set()
                return

    threading.Thread(target=read, daemon=True).start()
    assert found.wait(timeout_s), f"{text!r} never came: {lines}"
    return lines


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signals_stop_the_monitor_flush_and_close_the_session(sig, tmp_path):
    replay = ["-v", "monitor", "--source", str(SESSION_VIDEO), "--record", "--quiet"]
    process = posture_process(*replay, home=tmp_path)
    early = read_until(process.stderr, "first verdict")  # judging: the session is open
    time.sleep(1.5)  # a few seconds of the replay, unflushed (it flushes once a minute)
    process.send_signal(sig)
    out, err = process.communicate(timeout=60)
    err = "".join(early) + err
    assert process.returncode == 0, err
    assert "Session:" in out and "Nudges:" in out
    assert "Traceback" not in err
    now = datetime.now().astimezone()
    with HistoryStore(tmp_path / "history.sqlite3") as history:
        (session,) = history.sessions(now - timedelta(days=1), now)
        minutes = history.minutes(session.started_at, now)
    assert session.ended_at is not None  # closed, not left open
    assert (session.source, session.source_kind) == (str(SESSION_VIDEO), "video")
    assert sum(m.present_s for m in minutes) >= 1.0  # the unflushed minute was kept


@pytest.mark.parametrize("delay_s", [0.0, 0.15, 0.3, 0.5, 0.8, 1.2])
def test_a_ctrl_c_at_any_moment_of_start_up_is_never_a_traceback(delay_s, tmp_path):
    process = posture_process("monitor", "--source", str(SESSION_VIDEO), home=tmp_path)
    time.sleep(delay_s)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert "Traceback" not in err
    # Killed before Python set up its own handler, interrupted while loading (130), or
    # stopped by the monitor with its summary (0).
    outcomes = ((-signal.SIGINT, False), (130, False), (0, True))
    assert (process.returncode, "Session:" in out) in outcomes, err
    if process.returncode == 130:
        assert err.strip().splitlines()[-1] == "posture: interrupted"


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
    from posture.cli.monitor import DEMO_MARKER
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
    assert (home / DEMO_MARKER).is_file()
    code, _, err2 = run(["demo", "--video", str(SESSION_VIDEO), "--home", str(home)], capsys)
    assert code == 0, err2  # an old demo folder is emptied and reused


def real_data_folder(folder: Path) -> Path:
    (folder / "profiles").mkdir(parents=True)
    (folder / "profiles" / "default.json").write_text("{}")
    (folder / "history.sqlite3").write_bytes(b"years of sitting")
    return folder


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda tmp: real_data_folder(tmp / "posture"), "was not made by the demo"),
        (lambda tmp: (tmp / "thesis.tex").write_text("years of work") and tmp, "not made by"),
        (lambda tmp: (tmp / "notes.txt").write_text("a file") and tmp / "notes.txt", "folder"),
    ],
    ids=["a real data folder", "someone's papers", "a file"],
)
def test_demo_refuses_a_home_it_did_not_make_in_one_line(tmp_path, capsys, make, why):
    from tests.test_cli import run

    home = make(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code, out, err = run(["demo", "--video", str(SESSION_VIDEO), "--home", str(home)], capsys)
    assert code == 2 and out == ""
    assert err.startswith(f"posture: error: --home '{home}' ") and why in err
    assert err.rstrip().endswith("pass --home with a new or empty folder")
    assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing touched


def test_demo_refuses_a_symlink_even_to_its_own_folder(tmp_path, capsys):
    from posture.cli.monitor import DEMO_MARKER
    from tests.test_cli import run

    made = tmp_path / "demo"
    made.mkdir()
    (made / DEMO_MARKER).write_text("")
    (made / "history.sqlite3").write_text("")
    link = tmp_path / "link"
    link.symlink_to(made)
    code, _, err = run(["demo", "--video", str(SESSION_VIDEO), "--home", str(link)], capsys)
    assert code == 2 and "is a symbolic link" in err
    assert (made / "history.sqlite3").exists() and link.is_symlink()


def test_demo_takes_an_empty_folder_and_marks_it_as_its_own(tmp_path):
    from posture.cli.monitor import DEMO_MARKER, _fresh_demo_home

    empty = tmp_path / "empty"
    empty.mkdir()
    _fresh_demo_home(empty)
    previous = os.umask(0o022)  # the usual one: parents made by mkdir would be 0755
    try:
        _fresh_demo_home(tmp_path / "new" / "demo")
    finally:
        os.umask(previous)
    for home in (empty, tmp_path / "new" / "demo"):
        assert [p.name for p in home.iterdir()] == [DEMO_MARKER]
    for made in (tmp_path / "new", tmp_path / "new" / "demo"):
        assert made.stat().st_mode & 0o777 == 0o700, made
    assert (tmp_path / "new" / "demo" / DEMO_MARKER).stat().st_mode & 0o777 == 0o600
    (empty / "history.sqlite3").write_text("from an earlier demo")
    _fresh_demo_home(empty)  # its own: emptied
    assert [p.name for p in empty.iterdir()] == [DEMO_MARKER]


def test_a_recorded_replay_reports_the_day_so_far_and_an_unrecorded_one_writes_nothing(
    capsys, _isolated_home
):
    from tests.test_cli import run

    replay = ["monitor", "--source", str(REPO / "samples" / "upright"), "--speed", "0"]
    code, out, err = run(replay, capsys)
    assert code == 0, err
    assert "Posture score: 100 / 100" in out and "Today so far" not in out
    assert not (_isolated_home / "history.sqlite3").exists()  # a replay is not recorded
    assert "add --record to keep it" in err  # and the user is told so
    for _ in range(2):
        code, out, err = run([*replay, "--record"], capsys)
        assert code == 0, err
        assert "--record" not in err
    assert "Today so far, with earlier sessions: 100 / 100" in out
    code, out, err = run([*replay, "--record", "--no-history"], capsys)
    assert code == 2 and "--record and --no-history contradict each other" in err
    code, _, err = run(["data", "export", str(_isolated_home / "export.json")], capsys)
    assert code == 0, err
    tables = json.loads((_isolated_home / "export.json").read_text())["tables"]
    assert [s["source"] for s in tables["sessions"]] == [str(REPO / "samples" / "upright")] * 2
    assert all(s["ended_at"] is not None for s in tables["sessions"])
    # Filed in the past: nothing recorded lies in the future.
    now = datetime.now().astimezone()
    stamps = [s["ended_at"] for s in tables["sessions"]] + [
        m["minute_start"] for m in tables["minutes"]
    ]
    assert stamps and all(datetime.fromisoformat(stamp) <= now for stamp in stamps)


def test_a_profile_from_the_other_side_of_the_camera_is_pointed_out(caplog):
    def run_with(profile):
        runner = replay_monitor(Recording([UPRIGHT] * 40), profile, profile_name=profile.name)
        with caplog.at_level("WARNING", logger="posture"):
            return runner.run()

    assert run_with(profile_of()).view_advice is None  # calibrated side-on, seen side-on
    summary = run_with(profile_of(yaw_deg=0, name="laptop"))
    assert summary.view_advice is not None
    assert "from the side" in summary.view_advice and "'laptop'" in summary.view_advice
    assert [r.getMessage() for r in caplog.records] == [summary.view_advice]


# --- commands from other threads: pause, resume, snooze, stop --------------------------------


def camera_monitor(monkeypatch, scene, clocks, controls, **options):
    """The monitor on a fake camera (cv2.VideoCapture stand-in) and fake clocks."""
    cameras = []

    def capture(index):
        cameras.append(SceneCamera(clocks, scene))
        return cameras[-1]

    monkeypatch.setattr(sources.cv2, "VideoCapture", capture)
    runner = Monitor(
        lambda: CameraSource(0, clock=clocks.monotonic),
        Scorer(profile_of()),
        estimator=Estimators(),
        controls=controls,
        clock=clocks.monotonic,
        now=clocks.now,
        **options,
    )
    return runner, cameras


def test_a_pause_frees_the_camera_until_resumed(monkeypatch):
    clocks = Clocks()
    paused_at = []

    def sleep(seconds):
        clocks.sleep(seconds)
        if paused_at and clocks.monotonic() - paused_at[0] >= 300:
            controls.resume()  # five minutes later, from "another thread"

    controls = Controls(sleep=sleep)
    snapshots = []
    controls.subscribe(snapshots.append)
    judged = []

    def status(state):
        judged.append(clocks.monotonic())
        if state.now_s >= 6 and not paused_at:
            paused_at.append(clocks.monotonic())
            controls.pause(reason="screen locked")
        if len(judged) >= 12 and paused_at:
            controls.stop()

    recorder = RecordingRecorder()
    runner, cameras = camera_monitor(
        monkeypatch,
        lambda t: UPRIGHT,
        clocks,
        controls,
        status=status,
        recorder=recorder,
        settings=MonitorSettings(policy=FAST_POLICY),
    )
    runner.run()
    assert len(cameras) == 2  # reopened after the pause
    assert cameras[0].released and cameras[1].released
    pause = next(s for s in snapshots if s.state is State.PAUSED)
    assert pause.reason == "screen locked" and pause.paused_until is None
    after = [t for t in judged if t > paused_at[0]]
    assert after and after[0] - paused_at[0] >= 300  # nothing judged while paused
    assert [s.state for s in snapshots][-1] is State.STOPPED
    # Paused for five minutes (the screen locked): a break, never presence.
    (pause_break,) = recorder.breaks
    assert pause_break.end - pause_break.start >= timedelta(seconds=300)
    present = sum(s.duration_s for s in recorder.samples)
    assert present == pytest.approx(runner.summary.duration_s - 300, abs=3)
    assert ("paused", pytest.approx(300, abs=3)) in runner.summary.gaps


def test_a_timed_pause_ends_by_itself_and_says_until_when(monkeypatch):
    clocks = Clocks()
    controls = Controls(sleep=clocks.sleep)
    snapshots = []
    controls.subscribe(snapshots.append)
    judged = []

    def status(state):
        judged.append(clocks.monotonic())
        if len(judged) == 3:
            controls.pause(1.5, reason="meeting")
        if state.now_s >= 120:
            controls.stop()

    runner, cameras = camera_monitor(
        monkeypatch, lambda t: UPRIGHT, clocks, controls, status=status
    )
    started = clocks.now()
    runner.run()
    pause = next(s for s in snapshots if s.state is State.PAUSED)
    assert pause.reason == "meeting"
    assert pause.paused_until == pause.at + timedelta(minutes=1.5)
    after = snapshots[snapshots.index(pause) + 1 :]
    assert (after[0].state, after[0].reason) == (State.STARTING, "resuming")
    assert after[0].at == pause.paused_until  # told at once, before the camera reopens
    assert after[1].state is State.GOOD
    gap = max(b - a for a, b in itertools.pairwise(judged))
    assert 90 <= gap <= 93
    # The loop's time went on through the pause: stopped at 120 s of session.
    assert len(cameras) == 2 and clocks.now() - started < timedelta(seconds=125)


def test_a_snooze_from_another_thread_holds_nudges_back_for_its_minutes():
    controls = Controls()
    controls.snooze(0.5)  # 30 s of the recording's time
    recorder = RecordingRecorder()
    # A minute of slouching.
    replay_monitor(Recording([SLOUCHED] * 120), recorder=recorder, controls=controls).run()
    start = recorder.sessions[0].started_at
    offsets = [(n.at - start).total_seconds() for n in recorder.nudges]
    assert offsets and min(offsets) >= 30  # none while snoozed, from 3 s on without it
    assert len(offsets) == 4  # then every 8 s cooldown: 30, 38, 46, 54


def test_a_paused_replay_keeps_its_place():
    controls = Controls()
    recording = Recording([UPRIGHT] * 20)
    snapshots = []
    controls.subscribe(snapshots.append)

    def status(state):
        if state.now_s == 2.0:
            controls.pause()
            threading.Timer(0.05, controls.resume).start()

    summary = replay_monitor(recording, controls=controls, status=status).run()
    assert recording.yielded == list(range(20))  # each frame once: not restarted
    assert summary.samples == 20
    assert State.PAUSED in [s.state for s in snapshots]


def test_the_terminal_keys_snooze_and_quit_through_the_controls(monkeypatch):
    master, slave = os.openpty()
    with os.fdopen(slave, "r") as terminal, Controls() as controls:
        monkeypatch.setattr(sys, "stdin", terminal)
        console = Console(file=io.StringIO())
        listen_for_keys(controls, 25, console)
        os.write(master, b"\n")
        assert controls.wait(5) and controls.take_commands() == [Snooze(25)]
        os.write(master, b"q\n")
        assert controls.wait(5) and controls.stopped
    os.close(master)
    assert "Nudges snoozed for 25 minutes." in console.file.getvalue()


# --- time: wall-clock stamps read when they happen ------------------------------------------


@pytest.mark.parametrize("snoozed_on_waking", [False, True], ids=["", "a command read it"])
def test_a_night_of_suspend_is_a_break_and_the_morning_is_filed_in_the_morning(
    monkeypatch, snoozed_on_waking
):
    clocks = Clocks(datetime(2026, 11, 24, 18, 0).astimezone())
    controls = Controls(sleep=clocks.sleep)
    recorder = RecordingRecorder()
    slept = []

    def status(state):
        if state.now_s >= 20 and not slept:
            slept.append(clocks.now())
            clocks.jump_wall(14 * 3600)  # the lid closes; the monotonic clock stops
            if snoozed_on_waking:  # taken before the next frame: it reads the clocks first
                controls.snooze(5)
        if len(recorder.samples) >= 20:
            controls.stop()

    runner, _ = camera_monitor(
        monkeypatch,
        lambda t: SLOUCHED,
        clocks,
        controls,
        status=status,
        recorder=recorder,
        settings=MonitorSettings(policy=NudgePolicy()),
    )
    summary = runner.run()
    evening = [s for s in recorder.samples if s.at.hour == 18]
    morning = [s for s in recorder.samples if s.at.day == 25]
    assert evening and morning and len(evening) + len(morning) == len(recorder.samples)
    assert morning[0].at >= slept[0] + timedelta(hours=14)
    assert morning[0].duration_s == 0.0  # the night is not presence
    assert sum(s.duration_s for s in recorder.samples) < 60
    (night,) = recorder.breaks
    assert night.end - night.start >= timedelta(hours=14)
    # The evening's slouch ended when the lid closed, not the next morning.
    assert all(e.end <= slept[0] for e in recorder.episodes if e.start < slept[0])
    assert summary.gaps == [("clock", pytest.approx(14 * 3600, abs=3))]
    assert recorder.ended == clocks.now() and recorder.ended.day == 25


def replay_stamps(second: int) -> tuple[list[Sample], list[Nudge], datetime]:
    clocks = Clocks(datetime(2026, 11, 24, 9, 30, second).astimezone())
    recorder = RecordingRecorder()
    codes = [UPRIGHT] * 20 + [SLOUCHED] * 40 + [UPRIGHT] * 20
    replay_monitor(Recording(codes), recorder=recorder, now=clocks.now).run()
    return recorder.samples, recorder.nudges, clocks.now()


def test_a_replay_is_filed_in_the_past_the_same_whichever_second_it_starts():
    early, early_nudges, now = replay_stamps(1)
    late, late_nudges, _ = replay_stamps(58)
    assert early == late and early_nudges == late_nudges  # the same minutes, the same score
    assert early[0].at == datetime(2026, 11, 24, 9, 29).astimezone()  # 40 s long: one minute
    assert max(s.at for s in early) <= now
    assert early_nudges and all(n.at <= now for n in early_nudges)


HUNG_CAMERA_MONITOR = """
import sys, threading
from posture import sources

class HungCamera:
    def isOpened(self):
        return True

    def set(self, prop, value):
        return True

    def grab(self):
        print("grab blocks", file=sys.stderr, flush=True)
        threading.Event().wait()

    def release(self):
        pass

sources.cv2.VideoCapture = lambda index: HungCamera()
from posture.__main__ import main
sys.argv = ["posture", "-v", "monitor", "--source", "0", "--quiet"]
main()
"""


HUNG_OPEN_MONITOR = """
import sys, threading
from posture import sources

def hung_open(index):
    print("open blocks", file=sys.stderr, flush=True)
    threading.Event().wait()

sources.cv2.VideoCapture = hung_open
from posture.__main__ import main
sys.argv = ["posture", "monitor", "--source", "0", "--quiet"]
main()
"""


def sigterm_while_hung(script: str, hung: str, home: Path) -> tuple[int, float, str, str]:
    """Runs `script` (a monitor on a camera that hangs), sends SIGTERM 0.3 s after it
    printed `hung`: its exit status, seconds from the signal to its end, and output."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "POSTURE_HOME": str(home)}
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    early = read_until(process.stderr, hung)
    time.sleep(0.3)  # well inside the hung call
    signalled = time.monotonic()
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    return process.returncode, time.monotonic() - signalled, out, "".join(early) + err


def test_sigterm_stops_a_monitor_whose_camera_hangs_in_its_open_within_2_s(tmp_path):
    code, stopped_in_s, out, err = sigterm_while_hung(HUNG_OPEN_MONITOR, "open blocks", tmp_path)
    assert code == 0, err
    assert stopped_in_s < 2.0, stopped_in_s
    assert "Traceback" not in err and "error" not in err, err
    assert out.startswith("Session: 0 s"), out


def test_sigterm_stops_a_monitor_whose_camera_hangs_within_2_s(tmp_path):
    code, stopped_in_s, out, err = sigterm_while_hung(HUNG_CAMERA_MONITOR, "grab blocks", tmp_path)
    assert code == 0, err
    assert stopped_in_s < 2.0, stopped_in_s
    assert "Session:" in out and "Traceback" not in err
    now = datetime.now().astimezone()
    with HistoryStore(tmp_path / "history.sqlite3") as history:
        (session,) = history.sessions(now - timedelta(days=1), now)
    assert session.ended_at is not None
    assert (session.source, session.source_kind) == ("0", "camera")  # not the word "0"
