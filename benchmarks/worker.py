"""One measured process per call: `python benchmarks/worker.py KIND [options]`.

`benchmarks/run.py` starts these, one at a time, so that CPU time (`getrusage`, every
thread of the process) and memory are each process's own. Each writes one JSON object
to `--out`. Kinds:

- `calibrate`: a "default" profile in `$POSTURE_HOME` from the session's upright opening,
  as the user's own `posture calibrate` would make it (setup, not measured).
- `monitor`: the real `posture monitor --source 0 --quiet` (through `posture.cli.main`)
  on the simulated camera, stopped by SIGINT like Ctrl+C. `--share` watches a temp file
  standing for /dev/video0 (which the simulated camera holds open, as a driver does),
  and `--take-at S` has a second process open it S seconds after the first verdict and
  hold it `--take-for` seconds, as a video call would; `--burst-open-s S` replaces the
  camera by capture bursts (the device closed whenever the next sample is 1 s or more
  away, each reopening modelled as S seconds asleep plus `BURST_WARMUP` frames for the
  auto-exposure).
- `naive`: what open-source peers do: the landmarker on every camera frame.
- `overhead`: the monitor's per-sample pipeline versus the landmarker alone, same frames.
- `analyze`: `posture analyze VIDEO --json --every N` in-process, timed from its first
  frame; `alone`: the landmarker alone on the same video's frames, pre-decoded.
- `models`: per-frame cost of other pose models (full, heavy) given as .task files.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

from camera import CameraFactory, FrameStore  # noqa: E402

LITE_MODEL = REPO / "posture" / "models" / "pose_landmarker_lite.task"
SESSION_VIDEO = REPO / "samples" / "session.mp4"
SLOUCH_ONSET_S = 10.0  # samples/session.json: upright 0-10 s, slouched 10-20 s
RECOVERY_ONSET_S = 20.0  # upright again 20-30 s
SESSION_S = 40.0
# Capture bursts (`--burst-open-s`): frames grabbed and dropped after each reopening,
# while a webcam's auto-exposure settles; the device is closed when the next sample
# is this far away.
BURST_WARMUP = 5
BURST_RELEASE_S = 1.0
TAKE = (
    "import sys, time; opened = time.monotonic(); f = open(sys.argv[1], 'rb'); "
    "print(opened, flush=True); time.sleep(float(sys.argv[2]))"
)


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_kib() -> dict[str, int]:
    """This process's resident memory by kind, from /proc (KiB)."""
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                fields[key] = int(value.split()[0])
    return fields


def own_rss_mib() -> float:
    """Resident memory without the simulated camera's frame store (shared memory)."""
    fields = rss_kib()
    return (fields.get("RssAnon", 0) + fields.get("RssFile", 0)) / 1024


class RssSampler(threading.Thread):
    """Samples `own_rss_mib()` every `interval_s` (a /proc read: microseconds)."""

    def __init__(self, interval_s: float = 1.0) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.interval_s = interval_s
        self.samples: list[tuple[float, float]] = []
        self.done = threading.Event()
        self.started_at = time.monotonic()

    def run(self) -> None:
        while not self.done.wait(self.interval_s):
            self.samples.append((time.monotonic() - self.started_at, own_rss_mib()))

    def stop(self) -> list[tuple[float, float]]:
        self.done.set()
        self.samples.append((time.monotonic() - self.started_at, own_rss_mib()))
        return self.samples


def block_network() -> None:
    """What `posture`'s main() does first; the other workers do it too, to compare alike."""
    from posture.netguard import block_network as block

    block()


def finish(args: argparse.Namespace, result: dict) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result.update(
        cpu_total_s=usage.ru_utime + usage.ru_stime,
        cpu_user_s=usage.ru_utime,
        cpu_sys_s=usage.ru_stime,
        ru_maxrss_mib=usage.ru_maxrss / 1024,
        rss_end=rss_kib(),
        threads=len(os.listdir("/proc/self/task")),
    )
    Path(args.out).write_text(json.dumps(result))


# -- setup --------------------------------------------------------------------------------


def calibrate_profile(args: argparse.Namespace) -> None:
    """The user's calibration: the first 9.5 s (upright) of the camera's view."""
    from calibration.gates import CalibrationSample
    from calibration.profile import DEFAULT_PROFILE_NAME
    from calibration.protocol import calibrate
    from posture.cli.common import profile_store
    from posture.metrics import compute_metrics
    from posture.pose import PoseEstimator
    from posture.presence import brightness

    frames = FrameStore(Path(args.frames), args.frame_count, args.video_fps).open()
    samples = []
    with PoseEstimator(mode="video") as estimator:
        for index in range(int(9.5 * args.video_fps)):
            image = frames[index].copy()
            pose = estimator.estimate_image(image, round(index * 1000 / args.video_fps))
            samples.append(
                CalibrationSample(compute_metrics(pose), pose.person_count, brightness(image))
            )
    profile = calibrate(samples, name=DEFAULT_PROFILE_NAME, source="simulated camera 0-9.5 s")
    profile_store().save(profile)
    finish(args, {"frames": len(samples), "view": profile.view.value})


# -- 1, 4, 5: the monitor and the naive loop on the simulated camera -----------------------


def onset_delays(
    transitions: list[tuple[float, str, float | None]],
    camera_opened_at: float,
    scene_offset_s: float,
    onset_s: float,
    want_bad: bool,
    stretch: float = 1.0,
) -> list[float]:
    """Seconds from each loop's `onset_s` (on the wall clock) to the first smoothed verdict
    that follows it: non-good for a slouch onset, good for a recovery (`stretch`: the
    camera's scene stretch, session seconds to wall seconds)."""
    loop_s = SESSION_S * stretch
    delays = []
    if not transitions:
        return delays
    end = transitions[-1][0]
    loop = 0
    while True:
        onset = camera_opened_at + (onset_s - scene_offset_s) * stretch + loop * loop_s
        loop += 1
        if onset > end:
            return delays
        before = [v for t, v, _ in transitions if t < onset]
        if not before or (before[-1] != "good") is want_bad:
            continue  # not in the opposite state at the onset: nothing to detect
        after = next(
            (t for t, v, _ in transitions if t >= onset and (v != "good") is want_bad), None
        )
        if after is not None and after - onset < loop_s / 4:
            delays.append(after - onset)


def run_monitor(args: argparse.Namespace) -> None:
    marks: dict[str, float] = {"worker_started_at": time.monotonic()}
    sampler = RssSampler()
    sampler.start()
    device = None
    if args.share or args.burst_open_s is not None:
        handle, name = tempfile.mkstemp(prefix="posture-bench-video")
        os.close(handle)
        device = Path(name)
    factory = CameraFactory(
        args,
        scene_offset_s=args.scene_offset,
        device=device,
        open_s=args.burst_open_s or 0.0,
        scene_stretch=args.scene_stretch,
    ).install()
    from posture import monitor as monitor_module

    # `posture.cli.monitor` is also the name of the click command in `posture.cli`.
    cli_monitor = importlib.import_module("posture.cli.monitor")

    if args.settings:
        # A variant of the defaults (the benchmark's levers): only the CLI's own
        # MonitorSettings(...) call is changed, the loop is the real one.
        extra = json.loads(args.settings)
        real_settings = monitor_module.MonitorSettings
        cli_monitor.MonitorSettings = lambda **kw: real_settings(**{**kw, **extra})

    transitions: list[tuple[float, str, float | None]] = []
    counts = {"verdicts": 0}
    first = threading.Event()
    from posture import pose as pose_module

    real_init = pose_module.PoseEstimator.__init__

    def timed_init(self, *a, **kw):
        marks.setdefault("estimator_started_at", time.monotonic())
        real_init(self, *a, **kw)
        marks.setdefault("estimator_ready_at", time.monotonic())

    pose_module.PoseEstimator.__init__ = timed_init
    shares: list = []
    started: list[bool] = []
    if args.share:
        from posture.camera_share import CameraShare

        def share_device(index, wake):
            shares.append(CameraShare([device], on_change=wake))
            started.append(shares[-1].start())
            return shares[-1]

        monitor_module.Monitor.__init__.__kwdefaults__["camera_share"] = share_device
    else:  # no share (the simulated camera has no device node; a real one would)
        monitor_module.Monitor.__init__.__kwdefaults__["camera_share"] = lambda index, wake: None
    bursts = None
    if args.burst_open_s is not None:
        bursts = BurstCamera()
        cli_monitor.open_throttled = lambda spec, fps, give_up=None: bursts
    if args.plain_import:  # the lever off: import all of MediaPipe, as before
        pose_module.DEFERRED_MODULES = ()
    original = monitor_module.Monitor._report_status

    def report_status(self, now_s, smoothed):
        now = time.monotonic()
        marks["monitor"] = self
        counts["verdicts"] += 1
        if not first.is_set():
            marks.update(
                first_verdict_at=now, cpu_at_first_s=cpu_s(), rss_at_first_mib=own_rss_mib()
            )
            first.set()
        verdict = smoothed.verdict.value
        if not transitions or transitions[-1][1] != verdict:
            camera = factory.camera
            transitions.append((now, verdict, camera.last_scene_s if camera else None))
        original(self, now_s, smoothed)

    monitor_module.Monitor._report_status = report_status
    trace: list[tuple] = []
    if args.trace:
        real_update = monitor_module.AdaptiveRate.update

        def traced_update(self, latest, smoothed):
            real_update(self, latest, smoothed)
            camera = factory.camera
            trace.append(
                (
                    round(time.monotonic(), 3),
                    round(camera.last_scene_s, 2),
                    latest.verdict.value,
                    smoothed and smoothed.value,
                    self.burst_left,
                    self.settled,
                )
            )

        monitor_module.AdaptiveRate.update = traced_update

    taken: dict[str, float] = {}

    def take_camera() -> None:
        first.wait(timeout=120)
        time.sleep(args.take_at)
        child = subprocess.Popen(
            [sys.executable, "-c", TAKE, str(device), str(args.take_for)],
            stdout=subprocess.PIPE,
            text=True,
        )
        taken["opened_at"] = float(child.stdout.readline())
        child.wait()
        taken["closed_at"] = time.monotonic()

    if args.take_at:
        threading.Thread(target=take_camera, daemon=True).start()

    def stop_later() -> None:
        first.wait(timeout=120)  # no verdict at all: stop anyway, the result will say so
        time.sleep(args.seconds)
        marks.update(stop_at=time.monotonic(), cpu_at_stop_s=cpu_s())
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=stop_later, daemon=True).start()
    from posture.cli import main

    marks["cli_imported_at"] = time.monotonic()

    argv = ["monitor", "--source", "0", "--quiet"]
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        try:
            main(argv)
        except SystemExit as exit_:
            marks["exit"] = exit_.code
    marks["ended_at"] = time.monotonic()
    runner = marks.pop("monitor", None)
    marks["frames_analysed"] = getattr(runner, "frames_analysed", None)
    marks["bursts"] = getattr(getattr(runner, "rate", None), "bursts", None)
    camera = factory.camera
    opened = [c.opened_at for c in factory.cameras]
    released = [c.released_at or marks["ended_at"] for c in factory.cameras]
    held_s = sum(end - start for start, end in zip(opened, released, strict=True))
    handed = [
        c.released_at - taken["opened_at"]
        for c in factory.cameras
        if "opened_at" in taken and c.released_at and c.released_at >= taken["opened_at"]
    ]
    reopened = [t for t in opened if "closed_at" in taken and t >= taken["closed_at"]]
    result = {
        **marks,
        "camera_opens": len(factory.cameras),
        "camera_held_s": held_s,
        "camera_open_ranges": list(zip(opened, released, strict=True)),
        "handed_over_s": handed[0] if handed else None,
        "taken_back_s": reopened[0] - taken["closed_at"] if reopened else None,
        "share_scans": sum(share.scans for share in shares),
        "watching": any(started),
        "spawned_at": args.spawned_at,
        "verdicts": counts["verdicts"],
        "transitions": transitions,
        "rss_samples": sampler.stop(),
        "grabs": camera.grabs if camera else 0,
        "retrieves": camera.retrieves if camera else 0,
        "camera_opened_at": camera.opened_at if camera else None,
        "scene_offset_s": args.scene_offset,
        "trace": trace,
    }
    if camera is not None and transitions:
        for name, onset, want_bad in (
            ("slouch_delays_s", SLOUCH_ONSET_S, True),
            ("recovery_delays_s", RECOVERY_ONSET_S, False),
        ):
            result[name] = onset_delays(
                transitions,
                factory.cameras[0].opened_at,
                args.scene_offset,
                onset,
                want_bad,
                args.scene_stretch,
            )
    if device is not None:
        device.unlink(missing_ok=True)
    finish(args, result)


class BurstCamera:
    """Capture in bursts: a camera source that opens the device for each sample (or run
    of close samples) and closes it whenever the next sample is BURST_RELEASE_S or more
    away, dropping BURST_WARMUP frames after each opening. A benchmark lever only: the
    alternative to handing the camera over on demand (posture.camera_share)."""

    kind, description, is_stream, live = "camera", "camera 0 (bursts)", True, True
    frame_count = duration_ms = None

    def __init__(self) -> None:
        self.opens = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        pass

    def close(self) -> None:
        pass

    def paced(self, pace):
        from posture.sources import CameraSource

        camera = frames = None
        next_due = time.monotonic()
        try:
            while True:
                delay = next_due - time.monotonic()
                if camera is not None and delay >= BURST_RELEASE_S:
                    frames.close()
                    camera.close()
                    camera = frames = None
                if delay > 0 and pace.wait(delay):
                    return
                if camera is None:
                    camera = CameraSource(0)
                    self.opens += 1
                    for _ in range(BURST_WARMUP):  # the auto-exposure settles
                        camera._capture.grab()
                    frames = camera.sampled(0.0, wait=pace.wait, reuse_buffer=True)
                due = next_due
                frame = next(frames, None)
                if frame is None:
                    return
                yield frame
                next_due = max(due + pace.next_interval_s(), time.monotonic())
        finally:
            if frames is not None:
                frames.close()
            if camera is not None:
                camera.close()


def run_naive(args: argparse.Namespace) -> None:
    """The landmarker on every frame of the camera, as peers do: read, convert, detect."""
    block_network()
    sampler = RssSampler()
    sampler.start()
    import cv2
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    factory = CameraFactory(args, scene_offset_s=args.scene_offset).install()
    options = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(LITE_MODEL)),
        running_mode=vision.RunningMode.VIDEO,
    )
    landmarker = vision.PoseLandmarker.create_from_options(options)
    capture = cv2.VideoCapture(0)
    marks: dict[str, float] = {}
    frames = poses = 0
    deadline = None
    while True:
        ok, image = capture.read()
        if not ok:
            break
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        t_ms = int(time.monotonic() * 1000)
        result = landmarker.detect_for_video(
            mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), t_ms
        )
        frames += 1
        poses += bool(result.pose_landmarks)
        now = time.monotonic()
        if deadline is None:
            marks.update(
                first_verdict_at=now, cpu_at_first_s=cpu_s(), rss_at_first_mib=own_rss_mib()
            )
            deadline = now + args.seconds
            frames = poses = 0
        elif now >= deadline:
            marks.update(stop_at=now, cpu_at_stop_s=cpu_s())
            break
    landmarker.close()
    camera = factory.camera
    finish(
        args,
        {
            **marks,
            "spawned_at": args.spawned_at,
            "frames": frames,
            "poses": poses,
            "rss_samples": sampler.stop(),
            "grabs": camera.grabs,
            "retrieves": camera.retrieves,
        },
    )


# -- 2: per-frame overhead -------------------------------------------------------------------


def run_overhead(args: argparse.Namespace) -> None:
    """The monitor's per-sample work (camera retrieve, downscale, convert, pose, metrics,
    presence, scoring, smoothing, nudges, history) through the real `Monitor`, versus
    the landmarker alone (a prepared RGB image in, MediaPipe's result out), on the same
    frames, one per second of the session, interleaved frame by frame, with a pause
    before each as the monitor has (an idle process's caches are cold). One landmarker
    each, both tracking from their first frame; the first few frames are not counted."""
    block_network()
    import cv2
    import mediapipe as mp
    import numpy as np
    from mediapipe.tasks.python import BaseOptions, vision

    from calibration.profile import DEFAULT_PROFILE_NAME
    from posture.cli.common import profile_store
    from posture.metrics import compute_metrics
    from posture.monitor import Monitor, MonitorSettings
    from posture.pose import PoseEstimator, downscale, pose_from_mediapipe
    from posture.presence import PresenceTracker
    from posture.scoring import Scorer, VerdictSmoother
    from posture.sources import Frame, SourceBase

    store = FrameStore(Path(args.frames), args.frame_count, args.video_fps)
    frames = store.open()
    step = max(1, round(args.video_fps))  # one frame per second of the session
    picks = [(i * step) % store.count for i in range(args.count)]
    rgb = {i: cv2.cvtColor(frames[i], cv2.COLOR_BGR2RGB) for i in set(picks)}
    scorer = Scorer(profile_store().load(DEFAULT_PROFILE_NAME))
    clock_ms = [0]
    pause_s = args.pause

    options = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(LITE_MODEL)),
        running_mode=vision.RunningMode.VIDEO,
    )
    landmarker = vision.PoseLandmarker.create_from_options(options)
    pipeline = {"wall_s": 0.0, "cpu_s": 0.0, "frames": 0}
    alone = {"wall_s": 0.0, "cpu_s": 0.0, "frames": 0}
    warmup = min(5, len(picks) // 4)  # both start tracking from scratch: not counted

    class Interleaved(SourceBase):
        """Each frame goes to the landmarker alone, then, after another pause, to the
        monitor as the camera source gives it (copied into one reused buffer, as
        `CameraSource.sampled(reuse_buffer=True)` does). The monitor's clock runs from
        a frame's yield to its request for the next one."""

        kind, description, is_stream = "video", "frame store", True

        def __iter__(self):
            mark = None
            buffer = np.empty_like(frames[0])
            for number, index in enumerate(picks):
                counted = number > warmup
                if mark is not None and number - 1 > warmup:
                    pipeline["wall_s"] += time.perf_counter() - mark[0]
                    pipeline["cpu_s"] += cpu_s() - mark[1]
                    pipeline["frames"] += 1
                time.sleep(pause_s)
                wall, cpu = time.perf_counter(), cpu_s()
                clock_ms[0] += 1000
                landmarker.detect_for_video(
                    mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb[index]), clock_ms[0]
                )
                if counted:
                    alone["wall_s"] += time.perf_counter() - wall
                    alone["cpu_s"] += cpu_s() - cpu
                    alone["frames"] += 1
                time.sleep(pause_s)
                mark = (time.perf_counter(), cpu_s())
                np.copyto(buffer, frames[index])
                yield Frame(buffer, clock_ms[0], index)
            if mark is not None:
                pipeline["wall_s"] += time.perf_counter() - mark[0]
                pipeline["cpu_s"] += cpu_s() - mark[1]
                pipeline["frames"] += 1

    # The model loads before the source is iterated.
    Monitor(Interleaved, scorer, settings=MonitorSettings(speed=0)).run()
    landmarker.close()

    # Where the time goes: the same stages by hand, timed one by one.
    stages: dict[str, float] = {}
    presence, smoother = PresenceTracker(), VerdictSmoother()
    buffer = np.empty_like(frames[0])
    with PoseEstimator(mode="video") as estimator:
        raw = estimator._landmarker
        for index in picks:
            time.sleep(pause_s)
            clock_ms[0] += 1000
            marks = [cpu_s()]
            image = np.copyto(buffer, frames[index]) or buffer
            marks.append(cpu_s())
            small = downscale(image, estimator.max_side_px)
            converted = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
            marks.append(cpu_s())
            mp_image = mp.Image(image_format=mp.ImageFormat.SRGB, data=converted)
            marks.append(cpu_s())
            result = raw.detect_for_video(mp_image, clock_ms[0])
            marks.append(cpu_s())
            pose = pose_from_mediapipe(result, small.shape[1::-1])
            marks.append(cpu_s())
            metrics = compute_metrics(pose)
            marks.append(cpu_s())
            present = presence.person_present(clock_ms[0], metrics, pose, image)
            smoother.update(scorer.assess(metrics, present), clock_ms[0])
            marks.append(cpu_s())
            names = (
                "camera retrieve (into one buffer)",
                "downscale + BGR→RGB",
                "mp.Image",
                "landmarker (detect_for_video)",
                "landmarks → PoseResult",
                "metrics",
                "presence, scoring, smoothing",
            )
            for name, before, after in zip(names, marks, marks[1:], strict=False):
                stages[name] = stages.get(name, 0.0) + (after - before) * 1000 / len(picks)
    finish(args, {"pipeline": pipeline, "alone": alone, "stages": stages, "pause_s": pause_s})


# -- 3: offline analysis -----------------------------------------------------------------


def run_analyze(args: argparse.Namespace) -> None:
    cli_analyze = importlib.import_module("posture.cli.analyze")

    real = cli_analyze.analyze_frames
    marks: dict[str, float] = {}
    counts = {"frames": 0}

    def timed(source, estimator, **options):
        marks.update(first_request_wall=time.perf_counter(), first_request_cpu=cpu_s())
        for row in real(source, estimator, **options):
            counts["frames"] += 1
            yield row
        marks.update(end_wall=time.perf_counter(), end_cpu=cpu_s())

    cli_analyze.analyze_frames = timed
    from posture.sources import VideoFileSource

    VideoFileSource.__init__.__kwdefaults__["prefetch"] = args.prefetch
    from posture.cli import main

    argv = ["analyze", str(SESSION_VIDEO), "--json", "--every", str(args.every)]
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        try:
            main(argv)
        except SystemExit as exit_:
            marks["exit"] = exit_.code
    finish(args, {**marks, **counts, "every": args.every, "prefetch": args.prefetch})


def run_alone(args: argparse.Namespace) -> None:
    """The landmarker alone on the session video's frames (360x640, as `analyze` feeds
    them), decoded and converted to RGB before timing; VIDEO mode, back to back."""
    block_network()
    import cv2
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    capture = cv2.VideoCapture(str(SESSION_VIDEO))
    images = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        images.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    capture.release()
    chosen = images[:: args.every]
    options = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(args.model or LITE_MODEL)),
        running_mode=vision.RunningMode.VIDEO,
    )
    landmarker = vision.PoseLandmarker.create_from_options(options)
    wall, cpu = time.perf_counter(), cpu_s()
    for number, rgb in enumerate(chosen):
        landmarker.detect_for_video(
            mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), number * 100 * args.every
        )
    result = {
        "wall_s": time.perf_counter() - wall,
        "cpu_s": cpu_s() - cpu,
        "frames": len(chosen),
        "every": args.every,
        "size": list(images[0].shape[1::-1]),
    }
    landmarker.close()
    finish(args, result)


def run_models(args: argparse.Namespace) -> None:
    """Per-frame cost of each .task model on the simulated camera's frames, sampled as
    the monitor samples them (about one a second, a pause between)."""
    block_network()
    import cv2
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    frames = FrameStore(Path(args.frames), args.frame_count, args.video_fps).open()
    step = max(1, round(args.video_fps))
    picks = [(i * step) % args.frame_count for i in range(args.count)]
    results = {}
    for path in args.models:
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=path),
            running_mode=vision.RunningMode.VIDEO,
        )
        landmarker = vision.PoseLandmarker.create_from_options(options)
        wall = cpu = 0.0
        found = 0
        for number, index in enumerate(picks):
            rgb = cv2.cvtColor(frames[index], cv2.COLOR_BGR2RGB)
            w0, c0 = time.perf_counter(), cpu_s()
            result = landmarker.detect_for_video(
                mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), (number + 1) * 1000
            )
            wall += time.perf_counter() - w0
            cpu += cpu_s() - c0
            found += bool(result.pose_landmarks)
            time.sleep(0.2)
        landmarker.close()
        results[Path(path).stem] = {
            "wall_ms": wall / len(picks) * 1000,
            "cpu_ms": cpu / len(picks) * 1000,
            "frames": len(picks),
            "poses": found,
            "size_mb": Path(path).stat().st_size / 1e6,
        }
    finish(args, {"models": results})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "kind", choices=["calibrate", "monitor", "naive", "overhead", "analyze", "alone", "models"]
    )
    parser.add_argument("--out", required=True)
    parser.add_argument("--frames")
    parser.add_argument("--frame-count", type=int)
    parser.add_argument("--video-fps", type=float)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--scene-offset", type=float, default=0.0)
    parser.add_argument("--scene-stretch", type=float, default=1.0)
    parser.add_argument("--spawned-at", type=float, default=0.0)
    parser.add_argument("--settings", help="JSON: MonitorSettings fields to change")
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--pause", type=float, default=0.25)
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--plain-import", action="store_true")
    parser.add_argument("--share", action="store_true")
    parser.add_argument("--take-at", type=float, default=0.0)
    parser.add_argument("--take-for", type=float, default=10.0)
    parser.add_argument("--burst-open-s", type=float)
    parser.add_argument("--prefetch", type=int, default=2)
    parser.add_argument("--model")
    parser.add_argument("--models", nargs="*", default=[])
    args = parser.parse_args()
    {
        "calibrate": calibrate_profile,
        "monitor": run_monitor,
        "naive": run_naive,
        "overhead": run_overhead,
        "analyze": run_analyze,
        "alone": run_alone,
        "models": run_models,
    }[args.kind](args)


if __name__ == "__main__":
    main()
