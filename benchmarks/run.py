"""Measure posture's cost side by side with the naive loop, in one run.

    python benchmarks/run.py            # full: about 20 minutes (a 10-minute monitor run)
    python benchmarks/run.py --quick    # under a minute, for routine checks
    python benchmarks/run.py --write    # full, and write the results into docs/performance.md
    python benchmarks/run.py --sharing  # only the camera-sharing comparison (about 14 min)

Every measured thing runs in its own process (`benchmarks/worker.py`), one at a time, on a
simulated camera (`benchmarks/camera.py`: the bundled sample session at 640x480, 30 fps,
real wall-clock time), so CPU time and memory are each process's own and the figures
mean the same on any machine. It prints numbers; it asserts nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from camera import FrameStore  # noqa: E402

DOC = REPO / "docs" / "performance.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
VIDEO_FPS = 10.0  # samples/session.mp4


@dataclass(frozen=True)
class Plan:
    """How long each part runs."""

    monitor_s: float
    naive_s: float
    warmup_s: float
    startup_runs: int
    overhead_frames: int
    overhead_pause_s: float  # idle time before each frame, as in the monitor
    levers_s: float  # 0: no lever runs
    scene_offset_s: float  # where in the session the camera starts


QUICK = Plan(
    monitor_s=20,
    naive_s=6,
    warmup_s=8,
    startup_runs=1,
    overhead_frames=15,
    overhead_pause_s=0.1,
    levers_s=0,
    scene_offset_s=6,
)
FULL = Plan(
    monitor_s=600,
    naive_s=120,
    warmup_s=60,
    startup_runs=5,
    overhead_frames=120,
    overhead_pause_s=0.25,
    levers_s=160,
    scene_offset_s=0,
)
LEVERS = {
    "fixed 2 fps (before: every sample judged, no bursts)": {"settled_fps": None},
    "adaptive, settled 1 fps": {"settled_fps": 1.0},
    "adaptive, no tracking burst": {"burst_frames": 0},
}


class Bench:
    def __init__(self, python: str, store: FrameStore, home: Path, log) -> None:
        self.python, self.store, self.log = python, store, log
        self.env = {
            **os.environ,
            "POSTURE_HOME": str(home),
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        }
        self.outdir = Path(tempfile.mkdtemp(prefix="posture-bench-out-"))
        self.count = 0

    def worker(self, kind: str, *options: str) -> dict:
        self.count += 1
        out = self.outdir / f"{self.count}-{kind}.json"
        spawned = time.monotonic()
        command = [
            self.python,
            str(HERE / "worker.py"),
            kind,
            "--out",
            str(out),
            "--spawned-at",
            repr(spawned),
            *self.store.as_args(),
            *options,
        ]
        finished = subprocess.run(
            command, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        exited = time.monotonic()
        if finished.returncode != 0 or not out.exists():
            raise SystemExit(f"worker {kind} failed:\n{finished.stderr[-3000:]}")
        result = json.loads(out.read_text())
        result.update(spawned_at=spawned, exited_at=exited)
        return result

    def bare_startup(self) -> float:
        out = self.outdir / "bare.json"
        spawned = time.monotonic()
        subprocess.run(
            [self.python, str(HERE / "bare_landmarker.py"), str(out)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
        )
        return json.loads(out.read_text())["ready_at"] - spawned


# -- summaries ----------------------------------------------------------------------------


def steady(result: dict) -> dict:
    """CPU and wall time from the first verdict (or landmarker result) to the stop."""
    wall = result["stop_at"] - result["first_verdict_at"]
    cpu = result["cpu_at_stop_s"] - result["cpu_at_first_s"]
    whole_wall = result["exited_at"] - result["spawned_at"]
    rss = [mib for _, mib in result["rss_samples"]]
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "cpu_per_min_s": cpu / wall * 60,
        "core_pct": cpu / wall * 100,
        "whole_cpu_s": result["cpu_total_s"],
        "whole_wall_s": whole_wall,
        "user_s": result["cpu_user_s"],
        "sys_s": result["cpu_sys_s"],
        "peak_rss_mib": max(rss),
        "maxrss_mib": result["ru_maxrss_mib"],
        "shmem_mib": result["rss_end"].get("RssShmem", 0) / 1024,
        "threads": result["threads"],
        "startup_s": result["first_verdict_at"] - result["spawned_at"],
    }


def memory_growth(result: dict, warmup_s: float) -> dict:
    """Own RSS (without the frame store) after warm-up versus at the end of the run."""
    start = result["first_verdict_at"] - result["spawned_at"]
    samples = [(t, mib) for t, mib in result["rss_samples"]]
    end_t = samples[-1][0]
    window = min(warmup_s, max(1.0, (end_t - start - warmup_s) / 2))
    after_warmup = [m for t, m in samples if start + warmup_s <= t < start + warmup_s + window]
    at_end = [m for t, m in samples if t >= end_t - window]
    first = statistics.mean(after_warmup) if after_warmup else samples[0][1]
    last = statistics.mean(at_end)
    return {
        "after_warmup_mib": first,
        "end_mib": last,
        "growth_mib": last - first,
        "max_mib": max(m for _, m in samples),
        "window_s": window,
        "minutes": (end_t - start) / 60,
    }


def delays(values: list[float]) -> str:
    if not values:
        return "n/a"
    return (
        f"median {statistics.median(values):.1f} s, max {max(values):.1f} s ({len(values)} onsets)"
    )


def monitor_summary(result: dict) -> dict:
    summary = steady(result)
    minutes = summary["wall_s"] / 60
    summary.update(
        frames_per_s=(result.get("frames_analysed") or 0) / summary["wall_s"],
        judged_per_s=result["verdicts"] / summary["wall_s"],
        bursts_per_min=(result.get("bursts") or 0) / minutes,
        slouch=result.get("slouch_delays_s", []),
        recovery=result.get("recovery_delays_s", []),
    )
    return summary


# -- the run ------------------------------------------------------------------------------


def measure(bench: Bench, plan: Plan, models: list[str]) -> dict:
    log = bench.log
    results: dict = {}
    log("calibrating a profile on the simulated camera's upright opening")
    results["calibration"] = bench.worker("calibrate")

    log(f"monitor, default settings, {plan.monitor_s:g} s")
    monitor = bench.worker(
        "monitor", "--seconds", str(plan.monitor_s), "--scene-offset", str(plan.scene_offset_s)
    )
    results["monitor"] = monitor_summary(monitor)
    results["memory"] = memory_growth(monitor, plan.warmup_s)
    log(f"naive loop, {plan.naive_s:g} s")
    naive = bench.worker(
        "naive", "--seconds", str(plan.naive_s), "--scene-offset", str(plan.scene_offset_s)
    )
    results["naive"] = steady(naive)
    results["naive"]["fps"] = naive["frames"] / results["naive"]["wall_s"]

    results["levers"] = {}
    if plan.levers_s:
        for name, settings in LEVERS.items():
            log(f"lever: {name}, {plan.levers_s:g} s")
            run = bench.worker(
                "monitor", "--seconds", str(plan.levers_s), "--settings", json.dumps(settings)
            )
            results["levers"][name] = monitor_summary(run)

    log(f"start-up, {plan.startup_runs} run(s) each")
    monitor_starts, bare_starts = [], []
    for _ in range(plan.startup_runs):
        run = bench.worker("monitor", "--seconds", "0")
        monitor_starts.append(run["first_verdict_at"] - run["spawned_at"])
        results.setdefault("startup_marks", []).append(
            {
                key: run[key] - run["spawned_at"]
                for key in (
                    "worker_started_at",
                    "cli_imported_at",
                    "camera_opened_at",
                    "estimator_started_at",
                    "estimator_ready_at",
                    "first_verdict_at",
                )
                if run.get(key)
            }
        )
        bare_starts.append(bench.bare_startup())
    plain_starts = []
    if plan.levers_s:
        log(f"lever: start-up importing all of MediaPipe, {plan.startup_runs} run(s)")
        for _ in range(plan.startup_runs):
            run = bench.worker("monitor", "--seconds", "0", "--plain-import")
            plain_starts.append(run["first_verdict_at"] - run["spawned_at"])
    results["startup"] = {
        "plain_import_s": statistics.median(plain_starts) if plain_starts else None,
        "monitor_s": statistics.median(monitor_starts),
        "bare_s": statistics.median(bare_starts),
        "monitor_runs": monitor_starts,
        "bare_runs": bare_starts,
    }

    log(f"per-frame overhead, {plan.overhead_frames} frames")
    results["overhead"] = bench.worker(
        "overhead", "--count", str(plan.overhead_frames), "--pause", str(plan.overhead_pause_s)
    )

    results["analyze"] = {}
    for every in (1, 10):
        log(f"posture analyze --every {every}, and the landmarker alone")
        analysis = bench.worker("analyze", "--every", str(every))
        alone = bench.worker("alone", "--every", str(every))
        results["analyze"][every] = {"analysis": analysis, "alone": alone}
        if plan.levers_s:
            log(f"lever: posture analyze --every {every} decoding inline")
            inline = bench.worker("analyze", "--every", str(every), "--prefetch", "0")
            results["analyze"][every]["inline"] = inline

    if models:
        models = [str(REPO / "posture" / "models" / "pose_landmarker_lite.task"), *models]
        log(f"models: {', '.join(Path(m).stem for m in models)}")
        results["models"] = bench.worker(
            "models", "--count", "20" if plan.monitor_s < 60 else "60", "--models", *models
        )["models"]
    return results


# Capture bursts: each reopening of the device modelled as this long asleep (a real
# webcam takes 0.3-1 s to open and start streaming; the simulated one opens at once).
BURST_OPEN_S = (0.3,)
SETTLED_STRETCH = 6.0  # the session's four 10 s postures, each held for a minute


def measure_sharing(bench: Bench, seconds: float, naive_s: float) -> dict:
    """Camera sharing against today's continuous capture and the naive loop: CPU per
    monitored minute, slouch delay, how much of the time the device is held and how
    often opened; and with the watch on, how fast the camera goes to a second process
    that opens it (and comes back once it is closed)."""
    log = bench.log
    results: dict = {"seconds": seconds}
    log("calibrating a profile on the simulated camera's upright opening")
    bench.worker("calibrate")
    log(f"naive loop, {naive_s:g} s")
    naive = bench.worker("naive", "--seconds", str(naive_s))
    results["naive"] = steady(naive)
    results["naive"]["fps"] = naive["frames"] / results["naive"]["wall_s"]
    runs = {
        "continuous (before: the camera held all the time)": (),
        "shared (inotify watch, camera held until wanted)": ("--share",),
        **{
            f"bursts (device closed between samples, reopening {open_s:g} s)": (
                "--burst-open-s",
                str(open_s),
            )
            for open_s in BURST_OPEN_S
        },
        # A calmer sitter: the same postures, each held a minute (the session slowed 6x).
        f"continuous, each posture held {SETTLED_STRETCH * 10:g} s": (
            "--scene-stretch",
            str(SETTLED_STRETCH),
        ),
        f"shared, each posture held {SETTLED_STRETCH * 10:g} s": (
            "--share",
            "--scene-stretch",
            str(SETTLED_STRETCH),
        ),
    }
    results["runs"] = {}
    for name, options in runs.items():
        log(f"monitor, {name}, {seconds:g} s")
        run = bench.worker("monitor", "--seconds", str(seconds), *options)
        summary = monitor_summary(run)
        summary.update(
            held_share=run["camera_held_s"] / (run["ended_at"] - run["camera_open_ranges"][0][0]),
            opens_per_min=run["camera_opens"] / summary["wall_s"] * 60,
        )
        results["runs"][name] = summary
    log("monitor, shared, a second process takes the camera for 10 s after 15 s")
    taken = bench.worker(
        "monitor", "--seconds", "40", "--share", "--take-at", "15", "--take-for", "10"
    )
    results["handover"] = {
        key: taken.get(key)
        for key in ("handed_over_s", "taken_back_s", "share_scans", "camera_opens", "watching")
    }
    return results


def sharing_report(results: dict) -> str:
    naive = results["naive"]
    lines = [
        f"Camera sharing (each mode a separate {results['seconds']:g} s monitor run on the "
        "simulated camera; naive loop "
        f"{naive['cpu_per_min_s']:.2f} s CPU per minute, {naive['fps']:.1f} fps):",
        "",
        "| mode | CPU / min | vs naive | slouch detected | back to good | device held | "
        "opened / min |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, row in results["runs"].items():
        lines.append(
            f"| {name} | {row['cpu_per_min_s']:.2f} s | "
            f"1/{naive['cpu_per_min_s'] / row['cpu_per_min_s']:.1f} | {delays(row['slouch'])} | "
            f"{delays(row['recovery'])} | {row['held_share'] * 100:.0f} % | "
            f"{row['opens_per_min']:.1f} |"
        )
    hand = results["handover"]

    def ms(value: float | None) -> str:
        return "never" if value is None else f"{value * 1000:.0f} ms"

    lines += [
        "",
        f"A second process opening the device (shared mode, watch "
        f"{'on' if hand['watching'] else 'OFF'}): camera released {ms(hand['handed_over_s'])} "
        f"after its open(); opened again {ms(hand['taken_back_s'])} after it closed; "
        f"{hand['share_scans']} /proc scans in the run.",
    ]
    return "\n".join(lines)


# -- the report ---------------------------------------------------------------------------


def analysis_fps(analysis: dict) -> float:
    return analysis["frames"] / (analysis["end_wall"] - analysis["first_request_wall"])


def ok(flag: bool) -> str:
    return "met" if flag else "**not met**"


def report(results: dict, plan: Plan, machine: dict, quick: bool) -> str:
    mon, naive, mem = results["monitor"], results["naive"], results["memory"]
    ratio = naive["cpu_per_min_s"] / mon["cpu_per_min_s"]
    first_slouch = mon["slouch"]
    slouch_ok = bool(first_slouch) and max(first_slouch) <= 3.0
    start = results["startup"]
    start_ratio = start["monitor_s"] / start["bare_s"]
    over = results["overhead"]
    pipe_ms = over["pipeline"]["cpu_s"] / over["pipeline"]["frames"] * 1000
    alone_ms = over["alone"]["cpu_s"] / over["alone"]["frames"] * 1000
    pipe_wall = over["pipeline"]["wall_s"] / over["pipeline"]["frames"] * 1000
    alone_wall = over["alone"]["wall_s"] / over["alone"]["frames"] * 1000
    lines = [
        f"Run: `python benchmarks/run.py{' --quick' if quick else ''}` "
        f"on {machine['when']}, {machine['minutes']:.0f} min. "
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['ram_gib']:.0f} GiB, "
        f"no GPU; {machine['os']}; Python {machine['python']}, MediaPipe {machine['mediapipe']}, "
        f"OpenCV {machine['opencv']}.",
        "",
        "| # | figure | posture | reference | ratio | target | |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| 1 | CPU per monitored minute (steady state, all threads) | "
        f"{mon['cpu_per_min_s']:.2f} s ({mon['core_pct']:.2f} % of a core) | naive loop "
        f"{naive['cpu_per_min_s']:.2f} s ({naive['core_pct']:.1f} % of a core, "
        f"{naive['fps']:.1f} fps) | 1/{ratio:.1f} | ≤ 1/20 | {ok(ratio >= 20)} |",
        f"| 1 | slouch detected (first non-good verdict after the 10 s onset) | "
        f"{delays(first_slouch)} | naive: every frame | | ≤ 3 s | {ok(slouch_ok)} |",
        f"| 1 | back to good (first good verdict after the 20 s onset) | "
        f"{delays(mon['recovery'])} | | | | |",
        f"| 1 | peak RSS (own; the simulated camera's frames excluded) | "
        f"{mon['peak_rss_mib']:.0f} MiB | naive {naive['peak_rss_mib']:.0f} MiB | "
        f"{mon['peak_rss_mib'] / naive['peak_rss_mib']:.2f} | | |",
        f"| 1 | frames analysed / judged per second | {mon['frames_per_s']:.2f} / "
        f"{mon['judged_per_s']:.2f} | naive {naive['fps']:.1f} | "
        f"1/{naive['fps'] / mon['frames_per_s']:.1f} | near 1 | |",
        f"| 2 | CPU per analysed frame, end to end | {pipe_ms:.2f} ms (wall {pipe_wall:.2f}) | "
        f"landmarker alone {alone_ms:.2f} ms (wall {alone_wall:.2f}) | "
        f"+{(pipe_ms / alone_ms - 1) * 100:.1f} % | ≤ +10 % | {ok(pipe_ms / alone_ms <= 1.10)} |",
    ]
    for every, pair in sorted(results["analyze"].items(), key=lambda kv: int(kv[0])):
        analysis, alone = pair["analysis"], pair["alone"]
        elapsed = analysis["end_wall"] - analysis["first_request_wall"]
        fps = analysis["frames"] / elapsed
        alone_fps = alone["frames"] / alone["wall_s"]
        realtime = analysis["frames"] * int(every) / VIDEO_FPS / elapsed
        whole = analysis["exited_at"] - analysis["spawned_at"]
        whole_rt = 400 / VIDEO_FPS / whole
        which = "frame" if int(every) == 1 else f"{every}th frame"
        lines.append(
            f"| 3 | `posture analyze` 360x640 video, every {which} "
            f"| {fps:.1f} fps, {realtime:.1f}x real time (whole command {whole:.1f} s, "
            f"{whole_rt:.1f}x) | landmarker alone {alone_fps:.1f} fps | "
            f"{fps / alone_fps:.2f} | ≥ 0.90 | {ok(fps / alone_fps >= 0.90)} |"
        )
    lines += [
        f"| 4 | start-up: process start to first verdict | {start['monitor_s']:.2f} s | "
        f"bare script to loaded landmarker {start['bare_s']:.2f} s | {start_ratio:.2f}x | "
        f"≤ 1.3x | {ok(start_ratio <= 1.3)} |",
        f"| 5 | RSS growth after warm-up ({mem['minutes']:.1f} min run, own RSS "
        f"{mem['after_warmup_mib']:.1f} → {mem['end_mib']:.1f} MiB) | "
        f"{mem['growth_mib']:+.1f} MiB | | | ≤ 5 MB | {ok(mem['growth_mib'] <= 5 / 1.048576)} |",
    ]
    if results["levers"]:
        lines += [
            "",
            "Levers (each a separate monitor run on the same camera, "
            f"{plan.levers_s:g} s; the default is the first row):",
            "",
            "| settings | CPU / min | % of a core | vs naive | frames / s | slouch detected | "
            "back to good |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        rows = {"**default** (adaptive: settled 0.5 fps, 5-frame bursts)": mon, **results["levers"]}
        for name, row in rows.items():
            lines.append(
                f"| {name} | {row['cpu_per_min_s']:.2f} s | {row['core_pct']:.2f} % | "
                f"1/{naive['cpu_per_min_s'] / row['cpu_per_min_s']:.1f} | "
                f"{row['frames_per_s']:.2f} | {delays(row['slouch'])} | "
                f"{delays(row['recovery'])} |"
            )
    extra = []
    if start.get("plain_import_s"):
        extra.append(
            f"| start-up, importing all of MediaPipe (before) | {start['plain_import_s']:.2f} s "
            f"→ {start['monitor_s']:.2f} s with the deferred import | "
            f"{start['plain_import_s'] / start['bare_s']:.2f}x → {start_ratio:.2f}x the bare "
            "script |"
        )
    for every, pair in sorted(results["analyze"].items(), key=lambda kv: int(kv[0])):
        if "inline" in pair:
            before, after = analysis_fps(pair["inline"]), analysis_fps(pair["analysis"])
            alone_fps = pair["alone"]["frames"] / pair["alone"]["wall_s"]
            extra.append(
                f"| `posture analyze --every {every}`, decoding in the caller's thread (before) "
                f"| {before:.1f} fps → {after:.1f} fps decoding ahead | "
                f"{before / alone_fps:.2f} → {after / alone_fps:.2f} of the landmarker alone |"
            )
    if extra:
        lines += ["", "| other lever | before → after | ratio |", "| --- | --- | --- |", *extra]
    if results.get("models"):
        lines += [
            "",
            "Pose models (VIDEO mode, one 640x480 camera frame every ~0.2 s, landmarker alone):",
            "",
            "| model | size | CPU / frame | wall / frame | "
            "monitor CPU / min at the default's frame rate | poses found |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for name, row in results["models"].items():
            per_min = row["cpu_ms"] / 1000 * mon["frames_per_s"] * 60
            lines.append(
                f"| {name} | {row['size_mb']:.1f} MB | {row['cpu_ms']:.1f} ms | "
                f"{row['wall_ms']:.1f} ms | ≈ {per_min:.2f} s | "
                f"{row['poses']}/{row['frames']} |"
            )
    marks = results.get("startup_marks") or []
    if marks:

        def med(key: str) -> str:
            values = [m[key] for m in marks if key in m]
            return f"{statistics.median(values):.2f}" if values else "?"

        lines += [
            "",
            f"Start-up, median seconds after process start: harness running "
            f"{med('worker_started_at')}, `posture.cli` imported "
            f"{med('cli_imported_at')}, camera open {med('camera_opened_at')}, "
            f"landmarker loading {med('estimator_started_at')} → ready "
            f"{med('estimator_ready_at')}, first verdict {med('first_verdict_at')}.",
        ]
    stage = over.get("stages")
    if stage:
        total = sum(v for v in stage.values())
        lines += [
            "",
            "Where an analysed frame's CPU goes (monitor pipeline, one frame a "
            "second, per-stage process CPU):",
            "",
            "| stage | ms | share |",
            "| --- | --- | --- |",
        ]
        lines += [f"| {name} | {ms:.2f} | {ms / total * 100:.0f} % |" for name, ms in stage.items()]
    lines += [
        "",
        f"Details: monitor whole process {mon['whole_cpu_s']:.1f} s CPU "
        f"(user {mon['user_s']:.1f}, sys {mon['sys_s']:.1f}) over "
        f"{mon['whole_wall_s']:.0f} s wall, {mon['threads']} threads; naive "
        f"{naive['whole_cpu_s']:.1f} s CPU over {naive['whole_wall_s']:.0f} s wall, "
        f"{naive['threads']} threads. ru_maxrss (with the mapped frames): monitor "
        f"{mon['maxrss_mib']:.0f} MiB, naive {naive['maxrss_mib']:.0f} MiB. Bursts: "
        f"{mon['bursts_per_min']:.1f} per minute.",
    ]
    return "\n".join(lines)


def describe_machine(python: str) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    versions = subprocess.run(
        [
            python,
            "-c",
            "import sys, cv2, mediapipe; print(sys.version.split()[0], "
            "mediapipe.__version__, cv2.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": ram,
        "os": f"{platform.system()} {platform.release()}",
        "python": versions[0],
        "mediapipe": versions[1],
        "opencv": versions[2],
        "when": time.strftime("%Y-%m-%d"),
    }


def write_doc(text: str) -> None:
    block = f"{BEGIN}\n{text}\n{END}"
    if DOC.exists() and BEGIN in DOC.read_text():
        current = DOC.read_text()
        head, _, rest = current.partition(BEGIN)
        _, _, tail = rest.partition(END)
        DOC.write_text(head + block + tail)
    else:
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(f"# Performance\n\n{block}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="under a minute, shorter runs")
    parser.add_argument(
        "--write", action="store_true", help=f"write the results into {DOC.relative_to(REPO)}"
    )
    parser.add_argument(
        "--models",
        nargs="*",
        default=[],
        metavar="TASK",
        help="other .task pose models (full, heavy) to measure too",
    )
    parser.add_argument("--json", metavar="PATH", help="also save the raw results here")
    parser.add_argument(
        "--sharing",
        action="store_true",
        help="only the camera-sharing comparison (with --quick: 40 s runs)",
    )
    parser.add_argument(
        "--levers", action="store_true", help="with --quick: the lever runs too, 20 s each"
    )
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.quick and args.levers:
        plan = dataclasses.replace(plan, levers_s=20.0)
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    python = sys.executable
    machine = describe_machine(python)
    store = FrameStore.build()
    home = Path(tempfile.mkdtemp(prefix="posture-bench-home-"))
    bench = Bench(python, store, home, log)
    try:
        if args.sharing:
            seconds, naive_s = (40.0, 6.0) if args.quick else (160.0, 30.0)
            results = {"sharing": measure_sharing(bench, seconds, naive_s)}
        else:
            results = measure(bench, plan, args.models)
    finally:
        store.remove()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(bench.outdir, ignore_errors=True)
    machine["minutes"] = (time.monotonic() - started) / 60
    if args.sharing:
        print(sharing_report(results["sharing"]))
        if args.json:
            Path(args.json).write_text(json.dumps(results, default=str, indent=1))
        log("done")
        return
    text = report(results, plan, machine, args.quick)
    print(text)
    log("done")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"machine": machine, "results": results}, default=str, indent=1)
        )
    if args.write:
        write_doc(text)
        log(f"wrote {DOC.relative_to(REPO)}")


if __name__ == "__main__":
    main()
